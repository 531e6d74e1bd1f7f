"""Calls per second over time, with the totals and fleet's own load."""

from __future__ import annotations

from rich.text import Text

from ...control.messages import FleetSnapshot
from ..model import History, span_text
from .time_chart import TimeChart

__all__ = ["STALE_AFTER", "FailedCalls", "Throughput"]

#: Figures older than this (seconds) show their age: a busy worker reported late.
STALE_AFTER = 3.0


class Throughput(TimeChart):
    """calls/s now, the window's peak, the totals; the chart of calls/s under them."""

    def show_model(self, snapshot: FleetSnapshot, history: History, *, narrow: bool = False) -> None:
        """``narrow``: fleet's own load in one short line, so the chart keeps some height at 80x24."""
        text = Text()
        text.append(f"{'calls/s':<9}", style="bold")
        text.append(f"{snapshot.calls_per_s:>10,.1f}", style="bold cyan")
        peak = max(history.calls_per_s, default=0.0)
        text.append(f"   peak {peak:,.1f} in {span_text(history.span_s)}", style="cyan")
        if snapshot.figures_age_s >= STALE_AFTER:
            text.append(f"  figures {snapshot.figures_age_s:,.0f} s old", style="bold yellow")
        text.append(
            f"\nanswered {snapshot.completed:,}   failed {snapshot.failed:,}   reconnects {snapshot.reconnects:,}"
        )
        if snapshot.execution:
            (_append_execution_short if narrow else _append_execution)(text, snapshot.execution)
        self.show(text, history.calls_per_s)


class FailedCalls(TimeChart):
    """failed calls/s now and the window's peak; their chart under them."""

    def show_model(self, snapshot: FleetSnapshot, history: History) -> None:
        now = history.failed[-1] if history.failed else 0.0
        peak = max(history.failed, default=0.0)
        text = Text()
        text.append(f"{'failed/s':<9}", style="bold")
        text.append(f"{now:>8,.1f}", style="bold red" if now else "bold")
        text.append(f"   peak {peak:,.1f}", style="red" if peak else "")
        self.show(text, history.failed)


def _append_execution_short(text: Text, roles: dict[str, dict[str, float]]) -> None:
    """Fleet's own CPU per role on one line, then the saturated roles by name."""
    from ...run.execution import ROLES, saturated

    text.append("\nfleet CPU", style="bold")
    hot = []
    for role in ROLES:
        figures = roles.get(role)
        if figures is None:
            continue
        text.append(f" {role} {figures.get('cpu', 0.0):.0f}%")
        if saturated({"loop_lag_p99_ms": figures.get("lag_p99_ms", 0.0), "cpu_peak": figures.get("cpu", 0.0)}):
            hot.append(role)
    if hot:
        text.append(f" SATURATED: {', '.join(hot)}", style="bold red reverse")


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
