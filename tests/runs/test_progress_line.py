"""`fleet run`'s progress line: the rate the workers' totals give, and the age of late figures."""

from __future__ import annotations

import pytest

from fleet.commands.run import _Progress
from fleet.run.supervisor import FleetStatus


def test_the_line_prints_the_source_rate_and_says_how_old_late_figures_are(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    progress = _Progress(quiet=False)
    monkeypatch.setattr(progress, "tty", False)
    status = FleetStatus(phase="running", total=10, started=10, states={"available": 10}, completed=1000,
                         calls_per_s=350.0, elapsed=5.0, figures_age_s=0.8)
    progress(status)
    # A worker too busy to report: its totals stay where they were, and so does the rate
    # they gave; the line says how old the figures are instead of printing 0 calls/s.
    late = FleetStatus(phase="running", total=10, started=10, states={"available": 10}, completed=1000,
                       calls_per_s=350.0, elapsed=10.0, figures_age_s=6.2)
    progress(late)
    first, second = capsys.readouterr().out.splitlines()
    assert "| 350 calls/s" in first and "old" not in first
    assert "| 350 calls/s" in second and second.endswith("(figures 6 s old)")
