"""Stations by state: one coloured count per state and a proportional bar; during the ramp, the
stations not started yet as a bucket of their own."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..model import STATES, not_started

__all__ = ["NOT_STARTED", "StateCounts"]

#: Rich colours of the states (the table uses the same through fleet.tcss).
STATE_COLORS = {
    "idle": "grey50",
    "connecting": "yellow",
    "booting": "yellow",
    "pending": "dark_orange",
    "rejected": "red",
    "available": "green",
    "charging": "cyan",
    "faulted": "bold red",
    "offline": "grey62",
    "closed": "grey35",
}

#: The bucket of the stations the ramp has not started yet (not a station state).
NOT_STARTED = "not started"
NOT_STARTED_COLOR = "grey23"


class StateCounts(Static):
    """How many stations are in each state."""

    def show(self, states: dict[str, int], total: int, width: int = 60, *, phase: str = "",
             csms_connected: int = 0) -> None:
        text = Text()
        counts = {s: states[s] for s in STATES if s in states} | {s: states[s] for s in sorted(states) if s not in STATES}
        waiting = not_started(states, total)
        if waiting:
            counts[NOT_STARTED] = waiting
        colors = STATE_COLORS | {NOT_STARTED: NOT_STARTED_COLOR}
        for state, n in counts.items():
            text.append(f"{state} ", style=colors.get(state, "") if state != NOT_STARTED else "italic grey62")
            text.append(f"{n:,}", style="bold")
            text.append("   ")
        text.append(f"total {total:,}", style="bold")
        if csms_connected:
            text.append(f"   on the CSMS {csms_connected:,}")
        if phase:
            text.append(f"   phase {phase}", style="bold")
        if total:
            text.append("\n")
            for state, n in counts.items():
                cells = round(n / total * width)
                text.append(("░" if state == NOT_STARTED else "█") * cells, style=colors.get(state, ""))
        self.update(text)
