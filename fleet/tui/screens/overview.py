"""The overview: stations by state, throughput, latency per action, errors."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header

from ..model import DashboardModel
from ..widgets import ErrorsPanel, KeyBar, LatencyTable, StateCounts, StatusLine, Throughput

__all__ = ["OverviewScreen"]


class OverviewScreen(Screen[None]):
    """The fleet at a glance (refreshed at each snapshot)."""

    NEEDS_ROWS = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="overview"):
            states = StateCounts("waiting for the first snapshot…", id="states")
            states.border_title = "stations by state"
            yield states
            throughput = Throughput(id="throughput")
            throughput.border_title = "throughput"
            yield throughput
            with Horizontal(id="overview-bottom"):
                latency = LatencyTable(id="latency")
                latency.border_title = "latency per action"
                yield latency
                errors = ErrorsPanel(id="errors")
                errors.border_title = "errors by code"
                yield errors
        yield StatusLine(id="status")
        yield KeyBar()

    def refresh_model(self, model: DashboardModel) -> None:
        self.query_one(StatusLine).show(model.status)
        snapshot = model.snapshot
        if snapshot is None:
            return
        width = max(10, self.size.width - 30)
        self.query_one(StateCounts).show(snapshot.states, snapshot.total, width=width)
        self.query_one(Throughput).show(snapshot, model.history, width=width)
        self.query_one(LatencyTable).show(snapshot, model.history)
        self.query_one(ErrorsPanel).show(snapshot)
