"""Round-trip latency per OCPP action: count, rate, p50, p99, and their charts over time.

The percentiles are those the control API's snapshot carries: of the whole run so far (the
workers' histograms, merged), so their trends show how the run's percentiles moved, not the
latency of each moment."""

from __future__ import annotations

from rich.color import Color
from rich.table import Table
from rich.text import Text
from textual.renderables.sparkline import Sparkline
from textual.widgets import Static

from ...control.messages import FleetSnapshot
from ..model import History

__all__ = ["NARROW", "LatencyTable"]

#: Below this width (cells) the table leaves out the direction and count columns: the trends keep room.
NARROW = 110

_P50 = (Color.parse("dark_green"), Color.parse("green1"))
_P99 = (Color.parse("dark_goldenrod"), Color.parse("yellow1"))


def _trend(values: object, colors: tuple[Color, Color]) -> Sparkline[float]:
    """The series as wide as its column (Textual's sparkline renderable; from zero)."""
    return Sparkline([0.0, *values], width=None, min_color=colors[0], max_color=colors[1])  # type: ignore[misc]


class LatencyTable(Static):
    """One row per action and direction, busiest first; the p50 and p99 trends fill the rest of the width."""

    def show(self, snapshot: FleetSnapshot, history: History, width: int = 160) -> None:
        narrow = width < NARROW
        table = Table(expand=True, box=None, header_style="bold", pad_edge=False)
        columns: list[tuple[str, str]] = [("action", "left")]
        if not narrow:
            columns += [("dir", "left"), ("count", "right")]
        columns += [("/s", "right"), ("p50 ms", "right"), ("p99 ms", "right"), ("err", "right")]
        for title, justify in columns:
            table.add_column(title, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        table.add_column("p50 trend", ratio=1, no_wrap=True)
        table.add_column("p99 trend", ratio=1, no_wrap=True)
        for a in sorted(snapshot.actions, key=lambda a: (-a.rate, -a.count, a.action)):
            key = f"{a.direction}:{a.action}"
            cells: list[object] = [Text(a.action if not narrow else f"{a.action}{'' if a.direction == 'out' else ' (in)'}")]
            if not narrow:
                cells += [a.direction, f"{a.count:,}"]
            cells += [
                f"{a.rate:,.1f}", f"{a.p50_ms:,.1f}" if a.count else "-", f"{a.p99_ms:,.1f}" if a.count else "-",
                Text(f"{a.errors:,}", style="red") if a.errors else "",
                _trend(history.p50.get(key, ()), _P50), _trend(history.p99.get(key, ()), _P99),
            ]
            table.add_row(*cells)  # type: ignore[arg-type]
        if not snapshot.actions:
            table.add_row("(no calls yet)", *[""] * (len(columns) + 1))
        self.update(table)
