"""Never a false green (issue 10): a run that could not be carried out fails, and says why.

``fleet run`` subprocesses against 127.0.0.1 only: a refused port, a CSMS answering the
handshake with HTTP 404/401/500 (the built-in CSMS actor, and a tiny HTTP server that
speaks real HTTP), a station worker killed mid-run, thresholds without data.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from fleet.actors.csms import open_csms
from fleet.exit_codes import RUN_FAILED, USAGE
from fleet.metrics import Metrics
from fleet.run.fleetfile import load_fleet
from fleet.run.report import Report, render_summary
from fleet.run.supervisor import FleetStatus, RunOptions, run_fleet
from fleet.run.thresholds import ThresholdError, evaluate, parse_threshold

PLAIN_PROFILE = """
name = "plain"
heartbeat_interval = 60
[[evses]]
max_power = 11000
[sessions]
enabled = false
"""


def write_fleet(tmp_path: Path, count: int, *, duration: float = 1, faults: str = "") -> Path:
    (tmp_path / "plain.toml").write_text(PLAIN_PROFILE + faults)
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        f"[fleet]\nseed = 5\nramp = 200\nduration = {duration}\nspeed = 10\n\n"
        f'[[group]]\nprofile = "plain.toml"\ncount = {count}\nstation_id = "V{{index:04d}}"\n'
    )
    return fleet


async def fleet_run(tmp_path: Path, *args: str, stations: int = 3) -> tuple[int, str, dict[str, Any]]:
    """``fleet run`` of a small fleet: exit status, stdout (+ stderr) and the JSON report."""
    report = tmp_path / "report.json"
    report.unlink(missing_ok=True)
    command = [sys.executable, "-m", "fleet", "run", str(write_fleet(tmp_path, stations)), "--workers", "1",
               "--quiet", "--no-control", "--report", str(report), *args]
    with trio.fail_after(50):
        result = await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False)
    text = result.stdout.decode() + result.stderr.decode()
    return result.returncode, text, json.loads(report.read_text()) if report.exists() else {}


async def test_nothing_listening_fails_the_run_with_the_cause_and_no_threshold_passes(tmp_path: Path) -> None:
    code, out, report = await fleet_run(tmp_path, "--csms", "ws://127.0.0.1:1/ocpp", "--threshold", "p99<200ms",
                                        "--threshold", "errors==0", "--threshold", "Heartbeat.p99<1s")
    assert code == RUN_FAILED, out
    assert "✗ p99<200ms" in out and "no calls in this run" in out
    assert "✗ errors==0" in out
    assert "✗ Heartbeat.p99<1s" in out and "no Heartbeat calls in this run" in out
    assert "✓" not in out.split("PROBLEMS")[0]
    assert "PROBLEMS" in out and "no station came online" in out and "refused" in out
    # THRESHOLDS, then PROBLEMS, then the rest
    assert out.index("THRESHOLDS") < out.index("PROBLEMS") < out.index("CONNECTIONS")
    failures = report["metrics"]["connect_failures"]
    assert set(failures) == {"refused"} and failures["refused"] >= 3
    assert "nothing listens there" in out.split("CONNECTIONS")[1]
    assert report["problems"] and all(t["reason"] for t in report["thresholds"])


async def _serve_http_status(status: int, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """A tiny HTTP server that answers every request (a websocket handshake) with ``status``."""

    async def answer(stream: trio.SocketStream) -> None:
        data = b""
        with trio.move_on_after(5):
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    break
                data += chunk
        body = b"the CSMS broke\n"
        head = (f"HTTP/1.1 {status} Failed\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n").encode()
        with contextlib.suppress(trio.BrokenResourceError):
            await stream.send_all(head + body)
        await stream.aclose()

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(answer, listeners)


@pytest.mark.parametrize("case", ["http_404", "http_401", "http_500"])
async def test_refused_handshakes_are_counted_by_status_with_a_hint(tmp_path: Path, case: str) -> None:
    thresholds = ["--threshold", "handshake_failures==0", "--threshold", "errors==0",
                  "--threshold", f"connect_failures.{case}==0"]
    async with trio.open_nursery() as nursery:
        if case == "http_500":
            port = await nursery.start(_serve_http_status, 500)
            url = f"ws://127.0.0.1:{port}/ocpp"
            code, out, report = await fleet_run(tmp_path, "--csms", url, *thresholds)
        else:
            auth = {"SOMEONE-ELSE": "secret"} if case == "http_401" else None
            async with open_csms(port=0, auth=auth) as csms:
                url = csms.url if case == "http_401" else csms.url.rsplit("/", 1)[0] + "/wrong-path"
                code, out, report = await fleet_run(tmp_path, "--csms", url, *thresholds)
        nursery.cancel_scope.cancel()
    assert code == RUN_FAILED, out
    failures = report["metrics"]["connect_failures"]
    assert set(failures) == {case} and failures[case] >= 3, failures
    assert report["metrics"]["handshake_failures"] == {case[5:]: failures[case]}
    verdicts = {t["expression"]: t["ok"] for t in report["thresholds"]}
    assert verdicts == {"handshake_failures==0": False, "errors==0": False, f"connect_failures.{case}==0": False}
    from fleet.net.transport import connect_failure_hint

    connections = out.split("CONNECTIONS")[1]
    assert case in connections and connect_failure_hint(case) in connections
    assert "no station came online" in out


async def test_a_killed_station_worker_fails_the_run_and_is_named(tmp_path: Path) -> None:
    plan = load_fleet(write_fleet(tmp_path, 20, duration=60))
    killed: list[int] = []

    def kill_worker_1(status: FleetStatus) -> None:
        if killed or status.counters.get("connects", 0) < 20:
            return  # wait until every station of both workers connected
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == os.getpid() and b"fleet.run.worker" in cmdline and cmdline[-3:-1] == [b"--index", b"1"] \
                    and b"stations" in cmdline:
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))

    with trio.fail_after(50):
        report = await run_fleet(plan, RunOptions(workers=2, stop_timeout=10), on_status=kill_worker_1,
                                 status_interval=0.2)
    assert killed, "no station worker 1 found"
    assert report.fleet["workers_without_final_report"] == ["stations/1"]
    [problem] = report.problems
    assert "stations/1" in problem and "SIGKILL" in problem and "10 stations" in problem
    assert "V0001" in problem and "V0019" in problem  # worker 1 ran every other station
    text = render_summary(report)
    assert "PROBLEMS" in text and "stations/1" in text.split("PROBLEMS")[1]


async def test_boots_refused_on_purpose_by_the_fault_plan_do_not_fail_the_run(tmp_path: Path) -> None:
    plan = load_fleet(write_fleet(tmp_path, 12, duration=1.5, faults="[faults]\nboot_rejected_share = 0.5\n"))
    report = await run_fleet(plan, RunOptions(workers=1))
    never = report.fleet["never_online"]
    assert never["by_plan"] > 0 and never["stations"] == never["by_plan"], never
    assert report.problems == []
    assert "kept off on purpose by the fault plan" in render_summary(report)


async def test_stations_cut_off_by_the_fault_plans_partition_do_not_fail_the_run(tmp_path: Path) -> None:
    faults = "[faults]\npartition_share = 1.0\npartition_at = 0\npartition_duration = 600\n"
    plan = load_fleet(write_fleet(tmp_path, 3, duration=1, faults=faults))
    report = await run_fleet(plan, RunOptions(workers=1))
    assert report.metrics.connect_failures.get("partition", 0) >= 3
    assert report.fleet["never_online"]["reasons"] == {"partition_by_plan": 3}
    assert report.problems == []


async def test_stations_the_csms_rejects_fail_the_run(tmp_path: Path) -> None:
    async with open_csms(port=0) as csms:
        csms.set_boot_status("Rejected", "V0001")
        plan = load_fleet(write_fleet(tmp_path, 3, duration=1)).with_overrides(csms=[csms.url])
        report = await run_fleet(plan, RunOptions(workers=1))
    [problem] = report.problems
    assert "1 of 3 stations never came online" in problem and "boot_rejected 1" in problem and "V0001" in problem


def test_fleet_run_refuses_a_threshold_on_an_action_ocpp_does_not_have(tmp_path: Path) -> None:
    import subprocess

    result = subprocess.run([sys.executable, "-m", "fleet", "run", str(write_fleet(tmp_path, 1)), "--no-control",
                             "--threshold", "Hearbeat.p99<1s"], capture_output=True, text=True, timeout=60)
    assert result.returncode == USAGE
    assert "Hearbeat" in result.stderr and "did you mean Heartbeat" in result.stderr


# -- thresholds without data (unit) -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Hearbeat.p99<1s", "Boot.count>1", "Heartbeat.connects<1", "steady.connects<3",
                                  "connect_failures.nonsense==0", "errors.http_401==0", "connect_failures.http_9==0"])
def test_thresholds_on_unknown_actions_and_causes_are_refused(text: str) -> None:
    with pytest.raises(ThresholdError):
        parse_threshold(text)


def test_thresholds_without_data_fail_with_the_reason() -> None:
    metrics = Metrics()
    for ms in (5, 6, 7):
        metrics.call_completed("BootNotification", True, ms / 1000)
    metrics.connect_failed("http_401")
    metrics.connect_failed("refused")
    snapshot = metrics.export()
    checks = ["Heartbeat.p99<1s", "Heartbeat.errors==0", "Heartbeat.count==0", "BootNotification.p99<1s",
              "steady.p99<50ms", "lost==0", "connect_failures==2", "connect_failures.http==1",
              "connect_failures.http_401<1", "handshake_failures==1", "errors==0"]
    results = {r.expression: r for r in evaluate([parse_threshold(c) for c in checks], snapshot, lost=None, settle=10)}
    assert not results["Heartbeat.p99<1s"].ok and results["Heartbeat.p99<1s"].reason == "no Heartbeat calls in this run"
    assert results["Heartbeat.p99<1s"].actual is None
    assert not results["Heartbeat.errors==0"].ok and "no Heartbeat calls" in results["Heartbeat.errors==0"].reason
    assert results["Heartbeat.count==0"].ok  # a count of 0 is a measurement
    assert results["BootNotification.p99<1s"].ok and not results["BootNotification.p99<1s"].reason
    steady = results["steady.p99<50ms"]
    assert not steady.ok and steady.reason == "the run ended before its steady-state window opened (10 s after the ramp)"
    assert not results["lost==0"].ok and "no audit" in results["lost==0"].reason
    assert results["connect_failures==2"].ok and results["connect_failures.http==1"].ok
    assert not results["connect_failures.http_401<1"].ok and results["connect_failures.http_401<1"].actual == 1
    assert results["handshake_failures==1"].ok
    assert results["errors==0"].ok
    report = Report(metrics=snapshot, thresholds=list(results.values()))
    text = render_summary(report)
    assert "✗ Heartbeat.p99<1s" in text and "no Heartbeat calls in this run" in text
    # A report with thresholds that could not be measured is written and read back.
    again = msgspec.json.decode(msgspec.json.encode(report), type=Report)
    assert again.thresholds == report.thresholds


async def test_connect_failure_causes_from_real_connections() -> None:
    from fleet.net.transport import connect_failure_cause, open_station_websocket

    async def cause_of(url: str, **kwargs: Any) -> str:
        try:
            async with open_station_websocket(url, "C1", **kwargs):
                pass
        except Exception as exc:  # (what the station classifies)
            return connect_failure_cause(exc)
        return "connected"

    assert await cause_of("ws://127.0.0.1:1/ocpp") == "refused"
    async with open_csms(port=0) as csms:
        assert await cause_of(csms.url.replace("ws://", "wss://")) == "tls"
        assert await cause_of(csms.url, subprotocols=("ocpp1.5",)) == "subprotocol"
        assert await cause_of(csms.url) == "connected"


def test_the_ramp_bar_counts_failed_connection_attempts(capsys: pytest.CaptureFixture[str]) -> None:
    from fleet.commands.run import _Progress

    progress = _Progress(quiet=False)
    progress.tty = True
    progress(FleetStatus(phase="ramping", total=5, started=5, states={"offline": 5},
                         counters={"connect_failures": 7}))
    assert "failed 7" in capsys.readouterr().out
