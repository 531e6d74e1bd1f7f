"""Round-trip latency per OCPP action: count, rate, p50, p99 and the p99 trend."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ...control.messages import FleetSnapshot
from ..model import History, sparkline

__all__ = ["LatencyTable"]


class LatencyTable(Static):
    """One row per action and direction, busiest first."""

    def show(self, snapshot: FleetSnapshot, history: History) -> None:
        table = Table(expand=True, box=None, header_style="bold", pad_edge=False)
        for title, justify in (("action", "left"), ("dir", "left"), ("count", "right"), ("/s", "right"),
                               ("p50 ms", "right"), ("p99 ms", "right"), ("err", "right"), ("p50 trend", "left"),
                               ("p99 trend", "left")):
            table.add_column(title, justify=justify)  # type: ignore[arg-type]
        for a in sorted(snapshot.actions, key=lambda a: (-a.rate, -a.count, a.action)):
            key = f"{a.direction}:{a.action}"
            table.add_row(
                Text(a.action), a.direction, f"{a.count:,}", f"{a.rate:,.1f}",
                f"{a.p50_ms:,.1f}" if a.count else "-", f"{a.p99_ms:,.1f}" if a.count else "-",
                Text(f"{a.errors:,}", style="red") if a.errors else "",
                Text(sparkline(history.p50.get(key, ()), 16), style="green"),
                Text(sparkline(history.p99.get(key, ()), 16), style="yellow"),
            )
        if not snapshot.actions:
            table.add_row("(no calls yet)", "", "", "", "", "", "", "", "")
        self.update(table)
