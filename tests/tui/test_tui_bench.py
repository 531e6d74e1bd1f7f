"""``fleet bench --tui``: a tiny real run (a fleet of 20 stations in its own processes, the
dashboard in this one for a few seconds). The figures are printed, never asserted on: the
test checks that each exists, is consistent and that every key showed its change."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from fleet.benchmarks.tui import SIZE, TuiResult, render
from fleet.cli import main as fleet


def _ordered(figures: dict[str, float]) -> bool:
    return 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"] <= figures["max_ms"]


def test_a_tiny_dashboard_benchmark_prints_and_writes_every_figure(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tui.json"
    code = fleet(["bench", "--tui", "--stations", "20", "--duration", "4", "--workers", "1", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    for label in ("UI loop lag (every 20 ms)", "keyboard-to-screen", "its CPU time", "snapshot poll (with rows)",
                  "p99 ms", "20 of 20 stations booted", "snapshots/s", "frames/s", "goal p99 < 50 ms"):
        assert label in printed, label

    document = json.loads(out.read_text())
    assert document["config"]["mode"] == "tui" and document["config"]["stations"] == 20
    result = document["result"]
    assert result["stations"] == result["booted"] == 20 and result["rows"] == 20
    assert result["size"] == list(SIZE) and result["seconds"] >= 4
    # the probe fired about every 20 ms through the window
    assert result["lag"]["count"] >= 4 / 0.02 * 0.5 and _ordered(result["lag"])
    # every key of the script showed its change; all kinds of keys were pressed
    assert result["missed_keys"] == []
    assert result["keys"]["count"] == len(result["key_samples"]) >= 10 and _ordered(result["keys"])
    assert {"cursor", "page", "sort", "filter", "focus"} <= set(result["keys_by_kind"])
    assert all(latency > 0 and cpu >= 0 for _, _, latency, cpu in result["key_samples"])
    assert result["keys_cpu"]["count"] == result["keys"]["count"]
    # the dashboard kept pulling snapshots with rows and drawing real frames
    assert result["polls"] > 0 and result["polls_per_s"] > 0 and _ordered(result["poll"])
    assert result["frames"] > 0 and result["frame_kb"] > 0
    assert result["ui_cpu_pct"] > 0 and result["ui_rss_mb"] > 0
    assert result["color_system"]  # truecolor unless Textual was imported before the benchmark set it
    # what was printed is the rendering of what was written
    assert render(msgspec.convert(result, TuiResult)).splitlines()[2] in printed
