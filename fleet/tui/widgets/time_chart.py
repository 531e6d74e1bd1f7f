"""A figure and its chart over time: Textual's ``Sparkline``, as wide and as tall as the box.

Textual's own widget, not a plotting library: the overview redraws its charts at every poll
(2 Hz) on the loop that also answers the keys, and a Sparkline of 130 x 20 cells draws in
about 5 ms where a plotext chart of that size took 20-70 ms on the same machine (measured
for this choice). The chart starts at zero (a 0 leads the series): the height of a bar is
its value against the window's maximum, which the figures line states.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

__all__ = ["TimeChart"]


class TimeChart(Vertical):
    """Figures on top (:meth:`show`'s ``figures``), the series under them filling the rest of the box."""

    def compose(self) -> ComposeResult:
        yield Static("", classes="chart-figures")
        yield Sparkline([], classes="chart-line")

    def show(self, figures: RenderableType, values: Sequence[float]) -> None:
        self.query_one(".chart-figures", Static).update(figures)
        self.query_one(".chart-line", Sparkline).data = [0.0, *values]
