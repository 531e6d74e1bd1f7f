"""The overview: stations by state, charts of calls/s and failed/s, latency per action with its trends, errors."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header

from ..model import DashboardModel
from ..widgets import ErrorsPanel, KeyBar, LatencyTable, StateCounts, StatusLine, Throughput
from ..widgets.latency_table import NARROW
from ..widgets.throughput import FailedCalls

__all__ = ["OverviewScreen"]


class OverviewScreen(Screen[None]):
    """The fleet at a glance (refreshed at each snapshot); the charts take the height left over."""

    NEEDS_ROWS = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="overview"):
            states = StateCounts("waiting for the first snapshot…", id="states")
            states.border_title = "stations by state"
            yield states
            with Horizontal(id="overview-charts"):
                throughput = Throughput(id="throughput")
                throughput.border_title = "throughput: calls/s"
                yield throughput
                with Vertical(id="overview-failures"):
                    failed = FailedCalls(id="failed")
                    failed.border_title = "failed calls/s"
                    yield failed
                    errors = ErrorsPanel(id="errors")
                    errors.border_title = "errors by code"
                    yield errors
            latency = LatencyTable(id="latency")
            latency.border_title = "latency per action (p50/p99 of the run so far; trends from 0)"
            yield latency
        yield StatusLine(id="status")
        yield KeyBar()

    def refresh_model(self, model: DashboardModel) -> None:
        self.query_one(StatusLine).show(model.status)
        snapshot = model.snapshot
        if snapshot is None:
            return
        width = max(10, self.size.width - 6)
        self.query_one(StateCounts).show(snapshot.states, snapshot.total, width=width, phase=snapshot.phase,
                                         csms_connected=snapshot.csms_connected)
        self.query_one(Throughput).show_model(snapshot, model.history, narrow=self.size.width < NARROW)
        self.query_one(FailedCalls).show_model(snapshot, model.history)
        self.query_one(LatencyTable).show(snapshot, model.history, width=self.size.width)
        self.query_one(ErrorsPanel).show(snapshot)
