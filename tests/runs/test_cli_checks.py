"""Never a false green, at the command line: every argument and file is checked before anything
starts (exit 2, one line naming what is wrong, no traceback), ``--report -`` keeps standard
output pure JSON, and ``fleet report`` refuses what does not add up and gates on thresholds."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fleet.exit_codes import OK, RUN_FAILED, THRESHOLDS_FAILED, USAGE

REPO = Path(__file__).resolve().parents[2]

#: Seconds a refused command may take at most: it must not start anything (a started run would
#: take 20 s or more; a started station, forever).
REFUSAL_TIMEOUT = 15


def start(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """``fleet ARGV`` in its own process group (so a run it started is stopped with it)."""
    return subprocess.Popen([sys.executable, "-m", "fleet", *argv], cwd=str(REPO), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, **kwargs)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def fleet(*argv: str, stdin: bytes | None = None, timeout: float = REFUSAL_TIMEOUT) -> subprocess.CompletedProcess[bytes]:
    """Run ``fleet ARGV``; one that is still running after ``timeout`` is stopped and reported as
    exit status -1 (it started something)."""
    process = start(list(argv), stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
    try:
        out, err = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(process)
        return subprocess.CompletedProcess(argv, -1, b"", f"still running after {timeout} s".encode())
    finally:
        stop(process)
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


#: A real sharded run (4 stations, 2 shards) gives the reports the `fleet report` tests use.
RUN = ["run", "--stations", "4", "--duration", "1", "--ramp", "100", "--workers", "1", "--speed", "10",
       "--no-control", "--quiet", "--run-id", "RUN-A"]


@pytest.fixture(scope="module", autouse=True)
def shard_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[subprocess.Popen[bytes]]]]:
    """Shard 0/2 writing its report to standard output (``--report -``), shard 1/2 to a file,
    started side by side when the module's first test starts (they run while the quick tests do)."""
    where = tmp_path_factory.mktemp("shards")
    runs = [start([*RUN, "--shard", "0/2", "--report", "-"], stdin=subprocess.DEVNULL),
            start([*RUN, "--shard", "1/2", "--report", str(where / "s1.json")], stdin=subprocess.DEVNULL)]
    try:
        yield where, runs
    finally:
        for process in runs:
            stop(process)


@pytest.fixture(scope="module")
def shards(shard_runs: tuple[Path, list[subprocess.Popen[bytes]]]) -> dict[str, Any]:
    where, (first, second) = shard_runs
    out0, err0 = first.communicate(timeout=90)
    _, err1 = second.communicate(timeout=90)
    assert first.returncode == OK and second.returncode == OK, (err0.decode(), err1.decode())
    (where / "s0.json").write_bytes(out0)
    return {"dir": where, "stdout": out0, "stderr": err0, "s0": where / "s0.json", "s1": where / "s1.json"}


def assert_refused(result: subprocess.CompletedProcess[bytes], *words: str) -> None:
    err = result.stderr.decode()
    assert result.returncode == USAGE, (result.returncode, err, result.stdout.decode()[-500:])
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err  # one line says what is wrong
    for word in words:
        assert word in err, (word, err)


#: Run as `fleet` processes: the cases of the issue, and those checked after parsing.
BAD_ARGUMENTS = [
    (["run", "--duration", "-10"], ["--duration", ">= 0"]),
    (["run", "--duration", "nan"], ["--duration", "finite"]),
    (["run", "--ramp", "0"], ["--ramp", "> 0"]),
    (["run", "--ramp", "-3"], ["--ramp", "> 0"]),
    (["run", "--speed", "0"], ["--speed", "> 0"]),
    (["run", "--stations", "-5"], ["--stations", ">= 1"]),
    (["run", "--stations", "0"], ["--stations", "nothing to run"]),
    (["run", "--csms", "foo"], ["--csms", "ws://"]),
    (["run", "--csms", "http://127.0.0.1:9000/ocpp"], ["--csms", "ws://"]),
    (["run", "--shard", "3/2"], ["--shard"]),
    (["run", "--shard", "7/8", "--stations", "3"], ["--shard 7/8", "nothing to run"]),
    (["run", "--shard", "2/2"], ["--shard", "count from 0", "1/2"]),
    (["run", "--prometheus", "127.0.0.1:99999"], ["--prometheus"]),
    (["run", "--threshold", "p99<<2"], ["p99<<2"]),
    (["run", "--report", "/nonexistent-dir/sub/r.json"], ["--report", "does not exist"]),
    (["run", "--report", "."], ["--report", "directory"]),
    (["run", "--tui", "--report", "-"], ["--report -", "--tui"]),
    (["run", "no-such-fleet.toml"], ["no-such-fleet.toml"]),
    (["station", "ws://127.0.0.1:1/ocpp", "CS1", "--duration", "-1"], ["--duration", ">= 0"]),
    (["station", "ws://127.0.0.1:1/ocpp", "CS1", "--ocpp-log", "/nonexistent-dir/f.jsonl"], ["--ocpp-log"]),
    (["csms", "--port", "70000"], ["--port", "0..65535"]),
    (["csms", "--ocpp-log", "/nonexistent-dir/f.jsonl"], ["--ocpp-log", "does not exist"]),
    (["report", "show", "no-such-report.json"], ["no-such-report.json"]),
    (["report", "show", "README.md"], ["README.md", "not a fleet report"]),
    (["station", "ws://127.0.0.1:1/ocpp", "CS/1"], ["station id", "'/'"]),
    (["bench", "--json", "/nonexistent-dir/b.json"], ["--json", "does not exist"]),
    (["bench", "--call", "Reset", "--stations", "1"], ["unknown call 'Reset'"]),
    (["bench", "--stations", "40000", "--workers", "1"], ["--workers"]),
    (["bench", "--tui", "--fleet", "no-such-fleet.toml"], ["--fleet", "no-such-fleet.toml"]),
    (["tui", "http://127.0.0.1:7700/"], ["ws://HOST:PORT/"]),
    (["chaos", "--report", "/nonexistent-dir/c.json"], ["--report", "does not exist"]),
]


@pytest.fixture(scope="module")
def refusals() -> dict[tuple[str, ...], subprocess.CompletedProcess[bytes]]:
    """Every command of BAD_ARGUMENTS, run a few at a time (each is a short process)."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = pool.map(lambda argv: fleet(*argv), [argv for argv, _ in BAD_ARGUMENTS])
        return {tuple(argv): result for (argv, _), result in zip(BAD_ARGUMENTS, results, strict=True)}


@pytest.mark.parametrize(("argv", "words"), BAD_ARGUMENTS)
def test_a_bad_argument_is_refused_before_anything_starts(
    refusals: dict[tuple[str, ...], subprocess.CompletedProcess[bytes]], argv: list[str], words: list[str]
) -> None:
    assert_refused(refusals[tuple(argv)], *words)


#: Refused while the arguments are parsed (checked in this process: a regression cannot start anything).
BAD_VALUES = [
    (["run", "--csms", "ws://"], ["--csms", "no host"]),
    (["run", "--csms-workers", "0"], ["--csms-workers"]),
    (["run", "--nice", "-5"], ["--nice"]),
    (["run", "--seed", str(2**70)], ["--seed", "64 bits"]),
    (["station", "ws://127.0.0.1:1/ocpp", "CS1", "--speed", "0"], ["--speed", "> 0"]),
    (["station", "ws://", "CS1"], ["no host"]),
    (["csms", "--heartbeat-interval", "0"], ["--heartbeat-interval", ">= 1"]),
    (["csms", "--control-port", "70000"], ["--control-port", "0..65535"]),
    (["csms", "--ocpp-versions", "2.0.1,1.5"], ["--ocpp-versions", "'1.5'", "2.0.1, 1.6"]),
    (["csms", "--ocpp-versions", "1.6,ocpp1.6"], ["--ocpp-versions", "twice"]),
    (["csms", "--ocpp-versions", ","], ["--ocpp-versions", "expected OCPP versions"]),
    (["run", "--control-port", "-1"], ["--control-port", "0..65535"]),
    (["bench", "--stations", "0"], ["--stations", ">= 1"]),
    (["chaos", "--seconds", "-1"], ["--seconds", "> 0"]),
]


@pytest.mark.parametrize(("argv", "words"), BAD_VALUES)
def test_a_bad_value_is_refused_while_parsing(capsys: pytest.CaptureFixture[str], argv: list[str],
                                              words: list[str]) -> None:
    from fleet.cli import build_parser

    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(argv)
    assert refused.value.code == USAGE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)


BAD_FLEETS = [
    ("[fleet]\nramp = inf\n", "", ["$.fleet.ramp", "finite"]),
    ("[fleet]\nspeed = nan\n", "", ["$.fleet.speed"]),
    ("[fleet]\nduration = -1\n", "", ["$.fleet.duration"]),
    ('[fleet]\ncsms = ["ws://"]\n', "", ["$.fleet.csms", "no host"]),
    ('[fleet]\ncsms = ["http://127.0.0.1:9000/ocpp"]\n', "", ["$.fleet.csms", "ws://"]),
    ("[fleet]\n", "[sessions]\nstart_delay = [0, nan]\n", ["$.sessions.start_delay", "finite"]),
    ("[fleet]\n", "[[evses]]\nmax_power = inf\n", ["$.evses[0].max_power", "finite"]),
]


def write_fleet(where: Path, fleet_text: str, profile_text: str, count: int = 2) -> Path:
    (where / "p.toml").write_text('name = "p"\n' + profile_text)
    (where / "fleet.toml").write_text(fleet_text + f'\n[[group]]\nprofile = "p.toml"\ncount = {count}\n')
    return where / "fleet.toml"


@pytest.mark.parametrize(("fleet_text", "profile_text", "words"), BAD_FLEETS)
def test_a_bad_value_in_a_fleet_file_or_profile_is_refused(tmp_path: Path, fleet_text: str, profile_text: str,
                                                           words: list[str]) -> None:
    from fleet.run.fleetfile import FleetError, load_fleet

    with pytest.raises(FleetError) as refused:
        load_fleet(write_fleet(tmp_path, fleet_text, profile_text))
    for word in ["fleet.toml" if not profile_text else "p.toml", *words]:
        assert word in str(refused.value), (word, str(refused.value))


def test_fleet_run_refuses_a_bad_fleet_file_or_one_with_nothing_to_run(tmp_path: Path) -> None:
    fleet_text, profile_text, words = BAD_FLEETS[0]
    (tmp_path / "bad").mkdir()
    assert_refused(fleet("run", str(write_fleet(tmp_path / "bad", fleet_text, profile_text))), "fleet.toml", *words)
    (tmp_path / "empty").mkdir()
    assert_refused(fleet("run", str(write_fleet(tmp_path / "empty", "[fleet]\n", "", count=0))), "nothing to run")


def test_an_override_outside_the_bounds_is_refused_by_the_plan_too() -> None:
    from fleet.run.fleetfile import FleetError, load_fleet

    plan = load_fleet(REPO / "profiles" / "demo-fleet.toml")
    for override in ({"ramp": 0.0}, {"duration": -1.0}, {"speed": float("inf")}, {"csms": ["ws://"]}, {"stations": -1}):
        with pytest.raises(FleetError):
            plan.with_overrides(**override)  # type: ignore[arg-type]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something listens on (127.0.0.1)."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        yield taken.getsockname()[1]


def test_a_port_that_is_taken_is_refused_naming_its_option(busy_port: int) -> None:
    taken = str(busy_port)
    cases = [
        (["csms", "--port", taken], ["--port", taken, "in use"]),
        (["csms", "--port", "0", "--control-port", taken], ["--control-port", taken, "in use"]),
        (["run", "--stations", "1", "--prometheus", f"127.0.0.1:{taken}"], ["--prometheus", taken, "in use"]),
        (["run", "--stations", "1", "--control-port", taken], ["--control-port", taken, "in use"]),
    ]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda argv: fleet(*argv), [argv for argv, _ in cases]))
    for (_, words), result in zip(cases, results, strict=True):
        assert_refused(result, *words)


def test_bench_against_an_unreachable_csms_fails_with_one_line() -> None:
    import socket

    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{free.getsockname()[1]}/ocpp"
    result = fleet("bench", "--csms", url, "--stations", "2", "--duration", "1", "--workers", "1", timeout=90)
    err = result.stderr.decode()
    assert result.returncode == RUN_FAILED, (result.returncode, err)
    assert "Traceback" not in err, err
    assert f"no station could connect to {url}" in err, err


def test_help_lists_the_exit_codes() -> None:
    for argv in (["--help"], ["run", "--help"], ["report", "--help"]):
        out = fleet(*argv).stdout.decode()
        assert "exit codes:" in out, out
        codes = out.split("exit codes:")[1]
        assert all(f"  {code} " in codes for code in (0, 1, 2, 3, 130)), codes
    readme = (REPO / "README.md").read_text()
    assert "### Exit codes" in readme


# ------------------------------------------------------------------ reports of a real sharded run


def test_report_dash_writes_pure_json_to_stdout_and_the_summary_to_stderr(shards: dict[str, Any]) -> None:
    report = json.loads(shards["stdout"])  # nothing but the report on standard output
    assert report["fleet"]["shard"] == [0, 2] and report["fleet"]["run_id"] == "RUN-A"
    assert report["fleet"]["stations"] == 2 and report["metrics"]["histograms"]
    assert "OCPP, whole run" in shards["stderr"].decode()
    assert not (REPO / "-").exists()
    other = json.loads(shards["s1"].read_text())
    assert other["fleet"]["shard"] == [1, 2] and other["fleet"]["run_id"] == "RUN-A"


def test_merge_gates_on_the_merged_totals(shards: dict[str, Any]) -> None:
    s0, s1 = str(shards["s0"]), str(shards["s1"])
    passed = fleet("report", "merge", s0, s1, "--threshold", "BootNotification.count>=4", "--threshold", "errors==0")
    assert passed.returncode == OK, passed.stderr.decode()
    assert "✓ BootNotification.count>=4" in passed.stdout.decode()
    failed = fleet("report", "merge", s0, s1, "--threshold", "BootNotification.count>=5")
    assert failed.returncode == THRESHOLDS_FAILED, failed.stderr.decode()
    assert "✗ BootNotification.count>=5" in failed.stdout.decode()
    assert_refused(fleet("report", "merge", s0, s1, "--threshold", "p99<<1"), "p99<<1")


def test_show_gates_on_thresholds(shards: dict[str, Any], tmp_path: Path) -> None:
    s1 = str(shards["s1"])
    assert fleet("report", "show", s1, "--threshold", "BootNotification.count>=2").returncode == OK
    assert fleet("report", "show", s1, "--threshold", "BootNotification.count>=3").returncode == THRESHOLDS_FAILED
    assert fleet("report", "show", s1).returncode == OK
    # a run that could not be carried out stays failed when shown or merged, whatever its thresholds say
    failed_run = json.loads(shards["s1"].read_text())
    failed_run["problems"] = ["no station came online"]
    (tmp_path / "failed.json").write_text(json.dumps(failed_run))
    shown = fleet("report", "show", str(tmp_path / "failed.json"), "--threshold", "BootNotification.count>=2")
    assert shown.returncode == RUN_FAILED and b"no station came online" in shown.stdout
    assert fleet("report", "merge", str(shards["s0"]), str(tmp_path / "failed.json")).returncode == RUN_FAILED


def test_merge_refuses_the_same_shard_twice(shards: dict[str, Any], tmp_path: Path) -> None:
    s0, s1 = str(shards["s0"]), str(shards["s1"])
    assert_refused(fleet("report", "merge", s0, s1, s0), "s0.json", "twice")
    copy = tmp_path / "copy.json"
    copy.write_bytes(shards["s0"].read_bytes())
    assert_refused(fleet("report", "merge", s0, str(copy)), "copy.json", "same report")
    # shard 0/2 of another run: its stations are shard 0/2's stations again
    other = json.loads(shards["s0"].read_text())
    other["fleet"]["run_id"] = "RUN-B"
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert_refused(fleet("report", "merge", s0, str(tmp_path / "other.json")), "both shard 0/2")
    # slices of two different splits overlap
    other["fleet"]["shard"] = [1, 3]
    (tmp_path / "third.json").write_text(json.dumps(other))
    assert_refused(fleet("report", "merge", s0, str(tmp_path / "third.json")), "different splits")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{}", ["'fleet'", "'metrics'"]),
        ('{"metrics": {}}', ["'fleet'"]),
        ('{"fleet": {"stations": 1}}', ["'metrics'"]),
        ('{"fleet": {}, "metrics": {}}', ["$.fleet", "empty"]),
        ('{"fleet": {"a": 1}, "metrics": {"histograms": {"out:Heartbeat": "garbage"}}}', ["out:Heartbeat"]),
        ("[1, 2]", ["not a JSON object"]),
        ("not json", ["not valid JSON"]),
    ],
)
def test_what_is_not_a_fleet_report_is_refused(text: str, words: list[str]) -> None:
    from fleet.run.report import parse_report

    with pytest.raises(ValueError, match=r"bad\.json: not a fleet report") as refused:
        parse_report(text.encode(), "bad.json")
    for word in words:
        assert word in str(refused.value), (word, str(refused.value))


def test_merge_refuses_what_is_not_a_fleet_report(shards: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert_refused(fleet("report", "merge", str(shards["s1"]), str(bad)), "bad.json", "not a fleet report")
    assert_refused(fleet("report", "show", str(bad)), "bad.json", "not a fleet report")


def test_merge_reads_several_reports_from_stdin_and_writes_json_to_stdout(shards: dict[str, Any]) -> None:
    # as `kubectl logs` of two pods gives them: progress and summary lines around each report
    logs = (b"fleet: 2 stations ...\n" + shards["s0"].read_bytes() + b"THRESHOLDS\n  ok\n"
            + shards["s1"].read_bytes() + b"report written\n")
    result = fleet("report", "merge", "-", "-o", "-", "--threshold", "BootNotification.count>=4", stdin=logs)
    assert result.returncode == OK, result.stderr.decode()
    merged = json.loads(result.stdout)
    assert merged["fleet"]["merged_from"] == 2 and merged["fleet"]["stations"] == 4
    assert sorted(merged["fleet"]["shards"]) == [[0, 2], [1, 2]]
    assert "BootNotification.count>=4" in result.stderr.decode()  # the summary went to standard error
    assert_refused(fleet("report", "merge", "-", stdin=shards["s0"].read_bytes() * 2), "twice")
    assert_refused(fleet("report", "merge", "-", stdin=b"nothing here\n"), "standard input")
