"""Calls per second over time, with the totals."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ...control.messages import FleetSnapshot
from ..model import History, sparkline

__all__ = ["STALE_AFTER", "Throughput"]

#: Figures older than this (seconds) show their age: a busy worker reported late.
STALE_AFTER = 3.0


class Throughput(Static):
    """calls/s now and its sparkline; answered and failed calls; reconnects."""

    def show(self, snapshot: FleetSnapshot, history: History, width: int = 60) -> None:
        text = Text()
        text.append(f"{'calls/s':<9}", style="bold")
        text.append(f"{snapshot.calls_per_s:>10,.1f}  ", style="bold cyan")
        text.append(sparkline(history.calls_per_s, width), style="cyan")
        if snapshot.figures_age_s >= STALE_AFTER:
            text.append(f"  figures {snapshot.figures_age_s:,.0f} s old", style="bold yellow")
        failed_now = history.failed[-1] if history.failed else 0.0
        text.append(f"\n{'failed/s':<9}", style="bold")
        text.append(f"{failed_now:>10,.1f}  ", style="bold red" if failed_now else "")
        text.append(sparkline(history.failed, width), style="red")
        text.append(
            f"\nanswered {snapshot.completed:,}   failed {snapshot.failed:,}   reconnects {snapshot.reconnects:,}"
        )
        if snapshot.csms_connected:
            text.append(f"   connected to the CSMS {snapshot.csms_connected:,}")
        if snapshot.phase:
            text.append(f"   phase {snapshot.phase}", style="bold")
        if snapshot.execution:
            _append_execution(text, snapshot.execution)
        self.update(text)


def _append_execution(text: Text, roles: dict[str, dict[str, float]]) -> None:
    """Fleet's own load per role; a saturated role in red (see :mod:`fleet.run.execution`)."""
    from ...run.execution import ROLES, saturated

    text.append(f"\n{'fleet':<9}", style="bold")
    for role in ROLES:
        figures = roles.get(role)
        if figures is None:
            continue
        hot = saturated({"loop_lag_p99_ms": figures.get("lag_p99_ms", 0.0), "cpu_peak": figures.get("cpu", 0.0)})
        text.append(f" {role} CPU {figures.get('cpu', 0.0):.0f}% lag p99 {figures.get('lag_p99_ms', 0.0):,.0f} ms",
                    style="bold red" if hot else "")
        if hot:
            text.append(" SATURATED", style="bold red reverse")
        text.append("  ")
