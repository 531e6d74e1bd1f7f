"""Keys of the dashboard: the help screen (``?``), the key bar that always fits, and typing
faster than the app handles keys (the filter and the command palette keep the keys' order).

Driven with Textual's pilot against a real control server (the harness of test_dashboard)."""

from __future__ import annotations

from typing import Any

import pytest
from test_dashboard import Env, run_dashboard_test, screen_lines
from textual import events
from textual.command import CommandInput
from textual.widgets import Input
from waiting import wait_until_on_pilot

from fleet.tui import FleetDashboard
from fleet.tui.screens import HelpScreen, StationScreen, StationsScreen
from fleet.tui.widgets import KeyBar

#: HOME00001, nine backspaces, HOME01: what scrambled the filter (Textual issue 6605).
BURST = [*"HOME00001", *["backspace"] * 9, *"HOME01", "left", "left", "backspace", "X", "end", "Z"]
TYPED = "HOMX01Z"


def type_in_one_burst(app: FleetDashboard, keys: list[str]) -> None:
    """Queue every key at once, as a terminal delivers keys typed faster than the app reads them
    (``pilot.press`` waits for each key to be handled, which hides the problem)."""
    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else None))


def test_typing_in_one_burst_keeps_the_order_of_the_keys_in_the_filter_and_the_palette() -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        await pilot.press("s")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationsScreen) and len(app.model.table.rows) == 2,
                                  pilot)
        await pilot.press("slash")
        search = app.screen.query_one("#filter", Input)
        assert search.has_focus
        type_in_one_burst(app, BURST)
        await wait_until_on_pilot(lambda: app.model.table.filter_text == TYPED, pilot,
                                  what=f"the filter reading {TYPED!r}")
        assert search.value == TYPED

        await pilot.press("ctrl+p")
        await wait_until_on_pilot(lambda: bool(app.screen.query(CommandInput)), pilot)
        palette_input = app.screen.query_one(CommandInput)
        type_in_one_burst(app, BURST)
        await wait_until_on_pilot(lambda: palette_input.value == TYPED, pilot,
                                  what=f"the palette reading {TYPED!r}")
        await pilot.press("escape")

    run_dashboard_test(body, stations=2)


def _help_lines(app: FleetDashboard) -> list[tuple[str, str, str, bool]]:
    screen = app.screen
    assert isinstance(screen, HelpScreen)
    return screen.keys


def test_help_lists_every_key_of_the_screen_from_its_bindings() -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        await pilot.press("s")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationsScreen) and len(app.model.table.rows) == 2,
                                  pilot)
        stations = app.screen
        expected = {(app.get_key_display(b), b.description) for _, b, _, _ in stations.active_bindings.values()}
        await pilot.press("question_mark")
        await wait_until_on_pilot(lambda: isinstance(app.screen, HelpScreen), pilot)
        lines = _help_lines(app)
        listed = {(key, description.split(": ")[0]) for key, description, _, _ in lines}
        assert expected <= listed  # every binding of the screen, none hand-listed
        described = {description for _, description, _, _ in lines}
        for wanted in ("filter", "sort by PROFILE", "sort by ERR", "reverse",
                       "plug", "start tx", "open", "keys", "quit"):
            assert any(d.startswith(wanted) for d in described), wanted
        assert {"the stations table", "this screen", "everywhere"} <= {where for _, _, where, _ in lines}
        text = "\n".join(screen_lines(app))
        for wanted in ("Keys of", "stations screen", "1-0", "sort by PROFILE", "the stations table"):
            assert wanted in text, wanted
        await pilot.press("escape")
        await wait_until_on_pilot(lambda: app.screen is stations, pilot)

        await pilot.press("enter")  # a station: its own keys
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationScreen), pilot)
        await pilot.press("question_mark")
        await wait_until_on_pilot(lambda: isinstance(app.screen, HelpScreen), pilot)
        described = {description for _, description, _, _ in _help_lines(app)}
        assert {"pause/resume", "copy frames", "save frames", "back", "plug"} <= described
        assert not any(d.startswith("sort by") for d in described)  # not the stations table's
        await pilot.press("question_mark")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationScreen), pilot)

    run_dashboard_test(body, stations=2)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_the_key_bar_of_the_station_screen_is_never_cut_off(size: tuple[int, int]) -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        app.open_station("CS001")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationScreen) and bool(app.screen.query(KeyBar)),
                                  pilot)
        bar = app.screen.query_one(KeyBar)
        await wait_until_on_pilot(lambda: bool(bar.keys), pilot)
        await pilot.pause()
        shown = bar.shown_text
        bottom = screen_lines(app)[-1]
        assert bottom.strip() == shown.strip()
        assert len(shown.rstrip()) <= size[0]
        assert shown.rstrip().endswith("? keys")  # the help key always ends the bar
        # each key shown whole, with its description: the bar is a run of complete entries
        entries = [(k, d) for k, d, _ in bar.keys]
        whole = " ".join(f"{k} {d}" for k, d in entries)
        assert " ".join(shown.split()) in whole or shown.split()[-2:] == ["?", "keys"]
        own = [(k, d) for k, d in entries if d in ("back", "pause/resume", "copy frames", "send OCPP…", "stop tx")]
        if size[0] >= 160:  # room for every key of the station screen itself
            assert all(f"{k} {d}" in " ".join(shown.split()) for k, d in own)
        else:
            assert "esc back" in shown

    run_dashboard_test(body, stations=1, size=size)
