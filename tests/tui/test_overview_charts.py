"""The overview's charts over time fill the screen at 160x45 and at 80x24; the stations-by-state
bucket of stations not started yet; the connector column's legend. Pilot against real stations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from test_dashboard import Env, run_dashboard_test, screen_lines
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Sparkline
from waiting import wait_until_on_pilot

from fleet.control.messages import SendResult
from fleet.tui import FleetDashboard
from fleet.tui.model import not_started
from fleet.tui.screens import OverviewScreen, StationsScreen
from fleet.tui.widgets import LatencyTable, StateCounts, Throughput
from fleet.tui.widgets.throughput import FailedCalls


@pytest.mark.parametrize("size", [(160, 45), (80, 24)], ids=["160x45", "80x24"])
def test_the_overview_charts_fill_the_screen(size: tuple[int, int], tmp_path: Path) -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        for _ in range(3):
            assert isinstance(await app.control("send", station_id="CS001", action="Heartbeat", payload={}),
                              SendResult)
        await app.control("plug", station_id="CS002", evse_id=1)
        await app.control("start_transaction", station_id="CS002", evse_id=1)
        await wait_until_on_pilot(lambda: len(app.model.history.calls_per_s) >= 6, pilot)
        await wait_until_on_pilot(lambda: any(a.action == "Heartbeat" for a in app.model.snapshot.actions), pilot)  # type: ignore[union-attr]
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        overview = screen.query_one("#overview", VerticalScroll)
        # the boxes take the whole height, no more: nothing left empty, nothing to scroll to
        assert overview.virtual_size.height == overview.size.height and overview.max_scroll_y == 0
        calls = screen.query_one(Throughput).query_one(Sparkline)
        failed = screen.query_one(FailedCalls).query_one(Sparkline)
        width, height = size
        if width >= 160:
            assert calls.size.height >= 15 and calls.size.width >= 90 and failed.size.height >= 8
        else:
            assert calls.size.height >= 1 and calls.size.width >= 40
        # the charts plot the series the model keeps (from zero)
        assert list(calls.data or []) == [0.0, *app.model.history.calls_per_s]
        assert list(failed.data or []) == [0.0, *app.model.history.failed]
        app.save_screenshot(f"overview-{width}x{height}.svg", str(tmp_path))  # (the README's come from a real run)
        text = "\n".join(screen_lines(app))
        for expected in ("stations by state", "throughput: calls/s", "peak", "failed calls/s", "failed/s",
                         "errors by code", "latency per action", "Heartbeat", "p50 trend", "p99 trend", "p99 ms",
                         "? keys"):
            assert expected in text, expected
        latency_header = next(line for line in text.splitlines() if "p99 trend" in line)
        assert ("dir" in latency_header) == (width >= 160)  # narrow: the trends keep the room
        assert screen.query_one(LatencyTable).size.width >= width - 8  # the whole width

    run_dashboard_test(body, stations=3, size=size)


def test_stations_not_started_yet_have_their_own_bucket() -> None:
    assert not_started({"available": 2, "booting": 1}, 10) == 7 and not_started({"available": 3}, 3) == 0

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield StateCounts("")

    async def main() -> None:
        app = One()
        async with app.run_test(size=(100, 10)) as pilot:
            counts = app.query_one(StateCounts)
            counts.show({"available": 2, "booting": 1}, 10, width=50, phase="ramping")
            await pilot.pause()
            text = str(counts.render())
            assert "not started 7" in text and "total 10" in text and "phase ramping" in text
            assert text.splitlines()[1].count("░") == 35  # 7 of 10 of the bar
            counts.show({"available": 10}, 10, width=50)
            await pilot.pause()
            assert "not started" not in str(counts.render())

    asyncio.run(main())


def test_the_stations_screen_explains_the_connector_letters() -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        await pilot.press("s")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationsScreen) and len(app.model.table.rows) == 2,
                                  pilot)
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "CONN, one letter per connector: A available  O occupied  F faulted  U unavailable  R reserved" in text

    run_dashboard_test(body, stations=2)



def test_fleets_own_load_fits_one_line_on_a_narrow_overview() -> None:
    from rich.text import Text

    from fleet.tui.widgets.throughput import _append_execution_short

    text = Text()
    _append_execution_short(text, {"stations": {"cpu": 98.0, "lag_p99_ms": 850.0, "lag_max_ms": 900.0},
                                   "csms": {"cpu": 20.0, "lag_p99_ms": 2.0, "lag_max_ms": 3.0}})
    assert text.plain == "\nfleet CPU stations 98% csms 20% SATURATED: stations"
    quiet = Text()
    _append_execution_short(quiet, {"stations": {"cpu": 20.0, "lag_p99_ms": 3.0, "lag_max_ms": 5.0}})
    assert quiet.plain == "\nfleet CPU stations 20%" and len(text.plain) < 60
