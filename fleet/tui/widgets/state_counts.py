"""Stations by state: one coloured count per state and a proportional bar."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..model import STATES

__all__ = ["StateCounts"]

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


class StateCounts(Static):
    """How many stations are in each state."""

    def show(self, states: dict[str, int], total: int, width: int = 60) -> None:
        text = Text()
        ordered = [s for s in STATES if s in states] + sorted(s for s in states if s not in STATES)
        for state in ordered:
            text.append(f"{state} ", style=STATE_COLORS.get(state, ""))
            text.append(f"{states[state]:,}", style="bold")
            text.append("   ")
        text.append(f"total {total:,}", style="bold")
        if total:
            text.append("\n")
            for state in ordered:
                cells = round(states[state] / total * width)
                text.append("█" * cells, style=STATE_COLORS.get(state, ""))
        self.update(text)
