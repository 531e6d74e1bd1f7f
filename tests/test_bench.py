"""``fleet bench``: the closed-loop load benchmark, its peer and its matrix, in tiny real runs.

Every run here starts real processes (stations and CSMS) on 127.0.0.1 and stops by
itself; timings are printed by the benchmark but never asserted on.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
from pathlib import Path

import pytest

# pytest puts tests/ on sys.path for a test file at its top level, and tests/fleet/ (a
# directory without __init__.py) would then be imported as a namespace package "fleet"
# in place of the real one: the project root goes first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleet.benchmarks import matrix
from fleet.benchmarks.load import CaseResult, SourcePorts, split
from fleet.cli import main as fleet
from fleet.exit_codes import USAGE

HAVE_PEER = all(importlib.util.find_spec(name) for name in ("ocpp", "websockets", "jsonschema"))


def test_a_tiny_closed_loop_prints_and_writes_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = fleet(["bench", "--stations", "20", "--duration", "1.5", "--workers", "2", "--call", "TransactionEvent",
                  "--warmup", "0.5", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    for label in ("calls/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "connect+boot s", "RSS MB", "peak RSS (VmHWM)"):
        assert label in printed
    document = json.loads(out.read_text())
    [row] = document["rows"]
    assert row["implementation"] == "fleet" and row["call"] == "TransactionEvent"
    assert row["stations"] == row["booted"] == 20
    assert row["calls"] > 0 and row["calls_per_s"] > 0
    assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
    assert row["errors"] == {}
    assert row["connect_boot_s"] > 0
    assert set(row["rss_mb"]) == {"csms/0", "stations/0", "stations/1"}
    assert all(mb > 0 for mb in row["rss_mb"].values())
    assert row["total_rss_mb"] == pytest.approx(sum(row["rss_mb"].values()), abs=0.5)
    # The CSMS received every call the stations completed, and more (boots, Started, calls outside the window).
    assert row["csms_received"]["BootNotification"] == 20
    assert row["csms_received"]["TransactionEvent"] >= row["calls"]
    assert document["config"]["csms"] == "built-in"


@pytest.mark.skipif(not HAVE_PEER, reason="the ocpp package (dev extras) is not installed")
def test_the_ocpp_peer_runs_beside_fleet_and_the_ratio_is_printed(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = fleet(["bench", "--stations", "10", "--duration", "1", "--workers", "1", "--warmup", "0.5",
                  "--peer", "ocpp", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "fleet/ocpp: calls/s" in printed
    document = json.loads(out.read_text())
    fleet_row, peer_row = document["rows"]
    assert (fleet_row["implementation"], peer_row["implementation"]) == ("fleet", "ocpp")
    for row in (fleet_row, peer_row):
        assert row["booted"] == 10 and row["calls"] > 0 and row["errors"] == {}
        assert row["csms_received"]["Heartbeat"] >= row["calls"]
    assert "csms/0" in peer_row["rss_mb"] and peer_row["notes"]
    assert document["ratio_fleet_to_ocpp"]["calls_per_s"] == pytest.approx(
        fleet_row["calls_per_s"] / peer_row["calls_per_s"], rel=1e-2)


def test_bad_settings_are_refused_before_any_process_starts(capsys: pytest.CaptureFixture[str]) -> None:
    assert fleet(["bench", "--stations", "10", "--call", "Reset"]) == USAGE
    assert "unknown call 'Reset'" in capsys.readouterr().err
    # One process holds at most 19,000 websockets (20,000 open files).
    assert fleet(["bench", "--stations", "40000", "--workers", "1", "--csms-workers", "3"]) == USAGE
    assert "station processes (--workers)" in capsys.readouterr().err
    assert fleet(["bench", "--stations", "40000", "--workers", "3", "--csms-workers", "1"]) == USAGE
    assert "CSMS processes (--csms-workers)" in capsys.readouterr().err


def test_stations_are_split_evenly_over_the_processes() -> None:
    assert split(10, 3) == [(0, 4), (4, 3), (7, 3)]
    assert split(2, 4) == [(0, 1), (1, 1)]
    assert sum(n for _, n in split(20_000, 2)) == 20_000


def test_source_ports_skip_a_port_in_use_and_stay_in_their_slice() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        ports = SourcePorts(port, port + 50)
        with socket.socket() as sock:
            ports.bind(sock)
            bound = sock.getsockname()[1]
        assert port < bound < port + 50
        assert ports.next == bound + 1
    assert SourcePorts.parse(None) is None
    parsed = SourcePorts.parse("40000-40010")
    assert parsed is not None and (parsed.next, parsed.high) == (40000, 40010)


def _row(implementation: str, stations: int, call: str, calls_per_s: float, p99: float, rss: float) -> CaseResult:
    return CaseResult(implementation, stations, call, 2, 1, "built-in", booted=stations, calls_per_s=calls_per_s,
                      p50_ms=p99 / 2, p99_ms=p99, connect_boot_s=0.5, total_rss_mb=rss)


def test_the_matrix_table_has_the_readme_columns_and_the_ratios() -> None:
    table = matrix.markdown_table([
        _row("fleet", 1000, "Heartbeat", 8000, 200, 170),
        _row("ocpp", 1000, "Heartbeat", 4000, 400, 270),
        _row("fleet", 20000, "Heartbeat", 4500, 7000, 1370),
    ])
    lines = table.splitlines()
    assert lines[0] == ("| implementation | stations | call | calls/s | p50 ms | p99 ms | connect+boot s "
                        "| total RSS MB |")
    assert "| fleet | 1,000 | Heartbeat | 8,000 | 100 | 200 | 0.50 | 170 |" in lines
    assert "| `ocpp` package | 1,000 | Heartbeat | 4,000 | 200 | 400 | 0.50 | 270 |" in lines
    assert "| 1,000 | Heartbeat | 2.0x | 2.0x | 0.63 |" in lines
    assert not any(line.startswith("| 20,000 | Heartbeat |") for line in lines)  # no peer at 20,000


def test_a_one_case_matrix_runs_and_prints_its_table(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matrix, "CASES", (("fleet", 10, "Heartbeat"),))
    out = tmp_path / "matrix.json"
    assert matrix.run_matrix(json_path=str(out), machine="test", seconds=1.0) == 0
    printed = capsys.readouterr().out
    assert "| fleet | 10 | Heartbeat |" in printed
    [row] = json.loads(out.read_text())["rows"]
    assert row["calls"] > 0 and row["booted"] == 10


def test_the_codec_benchmark_runs_without_its_baseline_and_says_what_it_skipped(tmp_path: Path) -> None:
    """As after a plain install: jsonschema cannot be imported (a None in sys.modules)."""
    import subprocess

    out = tmp_path / "codec.json"
    script = ("import sys; sys.modules['jsonschema'] = None\n"
              "from fleet.cli import main\n"
              f"sys.exit(main(['bench', '--codec', '--seconds', '0.15', '--json', {str(out)!r}]))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=str(Path(__file__).resolve().parents[1]))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "skipped: the json + jsonschema baseline needs jsonschema" in result.stdout, result.stdout
    assert "pip install 'fleet[bench]'" in result.stdout
    document = json.loads(out.read_text())
    assert document["skipped"].startswith("the json + jsonschema baseline")
    for row in document["rows"]:
        assert row["fleet_decode_per_s"] > 0 and row["jsonschema_decode_per_s"] is None


def test_the_bench_extra_declares_what_the_baselines_import() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    names = {requirement.split("=")[0].split(">")[0].strip() for requirement in project["optional-dependencies"]["bench"]}
    assert {"jsonschema", "ocpp", "websockets"} <= names
