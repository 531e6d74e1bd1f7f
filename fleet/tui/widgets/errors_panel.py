"""Failed calls by CALLERROR code, and the other counters."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ...control.messages import FleetSnapshot

__all__ = ["ErrorsPanel"]


class ErrorsPanel(Static):
    """Errors by code (most first), then counters."""

    def show(self, snapshot: FleetSnapshot) -> None:
        table = Table(expand=True, box=None, header_style="bold", pad_edge=False)
        table.add_column("error / counter")
        table.add_column("count", justify="right")
        for code, n in sorted(snapshot.errors.items(), key=lambda kv: (-kv[1], kv[0])):
            table.add_row(Text(code, style="red"), f"{n:,}")
        if not snapshot.errors:
            table.add_row(Text("no errors", style="green"), "")
        table.add_row("reconnects", f"{snapshot.reconnects:,}")
        for name, n in sorted(snapshot.counters.items()):
            if name != "reconnects":
                table.add_row(Text(name), f"{n:,}")
        self.update(table)
