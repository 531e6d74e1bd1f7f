"""``fleet bench`` in each OCPP version: 1.6 and 2.1 closed loops beside 2.0.1, fleet and the
``ocpp`` package's module of the same version (``--ocpp-version``, ``--versions``)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from fleet.benchmarks import matrix
from fleet.benchmarks.load import CaseResult
from fleet.cli import main as fleet
from fleet.exit_codes import USAGE

HAVE_PEER = all(importlib.util.find_spec(name) for name in ("ocpp", "websockets", "jsonschema"))


@pytest.mark.parametrize("version", ["1.6", "2.1"])
def test_a_closed_loop_in_another_version_is_answered_in_that_version(
        version: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The stations speak ``version`` (the built-in CSMS counts their 1.6 or 2.1 MeterValues), and,
    with --peer ocpp, the package's own module of that version does the same loop."""
    out = tmp_path / "bench.json"
    peer = ["--peer", "ocpp"] if HAVE_PEER else []
    code = fleet(["bench", "--stations", "8", "--duration", "1", "--workers", "1", "--warmup", "0.5",
                  "--call", "MeterValues", "--ocpp-version", version, *peer, "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"OCPP {version} stations" in printed
    document = json.loads(out.read_text())
    assert document["config"]["ocpp_version"] == version
    assert len(document["rows"]) == (2 if HAVE_PEER else 1)
    for row in document["rows"]:
        assert row["ocpp_version"] == version and row["call"] == "MeterValues"
        assert row["booted"] == 8 and row["calls"] > 0 and row["errors"] == {}, row
        assert row["csms_received"]["BootNotification"] == 8
        assert row["csms_received"]["MeterValues"] >= row["calls"]


def test_a_call_a_version_has_no_loop_for_is_refused_before_any_process_starts(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert fleet(["bench", "--stations", "10", "--call", "TransactionEvent", "--ocpp-version", "1.6"]) == USAGE
    assert "unknown call 'TransactionEvent' in OCPP 1.6; one of Heartbeat, MeterValues" in capsys.readouterr().err


def _row(implementation: str, version: str, calls_per_s: float, p99: float, cpu: float) -> CaseResult:
    return CaseResult(implementation, 100, "Heartbeat", 2, 1, "built-in", booted=100, calls_per_s=calls_per_s,
                      p50_ms=p99 / 2, p99_ms=p99, connect_boot_s=0.5, total_rss_mb=100,
                      cpu_us_per_call={"stations": cpu, "csms": cpu / 2}, ocpp_version=version)


def test_the_versions_table_gives_the_ratios_within_the_run() -> None:
    table = matrix.versions_table([
        _row("fleet", "2.0.1", 8000, 20, 100), _row("ocpp", "2.0.1", 2000, 80, 400),
        _row("fleet", "1.6", 10000, 16, 80), _row("ocpp", "1.6", 4000, 40, 200),
    ])
    lines = table.splitlines()
    assert "| Heartbeat | 1.6 | fleet | 10,000 | 8.0 | 16.0 | 80 | 40 | 0.50 | 100 |" in lines
    # this ÷ other: calls/s, p99, station and CSMS CPU per call, total RSS
    assert "| Heartbeat | 2.0.1 | fleet ÷ `ocpp` | 4.00x | 0.25 | 0.25 | 0.25 | 1.00 |" in lines
    assert "| Heartbeat | 1.6 | fleet ÷ `ocpp` | 2.50x | 0.40 | 0.40 | 0.40 | 1.00 |" in lines
    assert "| Heartbeat | 1.6 | fleet: 1.6 ÷ 2.0.1 | 1.25x | 0.80 | 0.80 | 0.80 | 1.00 |" in lines
    assert "| Heartbeat | 1.6 | ocpp: 1.6 ÷ 2.0.1 | 2.00x | 0.50 | 0.50 | 0.50 | 1.00 |" in lines


def test_a_one_case_versions_run_prints_its_table(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matrix, "VERSION_CASES", (("Heartbeat", "1.6"),))
    out = tmp_path / "versions.json"
    assert matrix.run_versions(stations=6, seconds=1.0, json_path=str(out), machine="test", workers=1) == 0
    printed = capsys.readouterr().out
    assert "| Heartbeat | 1.6 | fleet |" in printed
    rows = json.loads(out.read_text())["rows"]
    assert [row["implementation"] for row in rows] == (["fleet", "ocpp"] if HAVE_PEER else ["fleet"])
    assert all(row["ocpp_version"] == "1.6" and row["calls"] > 0 and row["booted"] == 6 for row in rows)
