"""What the dashboard tells the user: an error's reason, the palette's descriptions, the composer's
verdicts and keys. Pilot against a real control server (the harness of test_dashboard)."""

from __future__ import annotations

from typing import Any

from test_dashboard import Env, run_dashboard_test, screen_lines
from waiting import wait_until_on_pilot

from fleet.control.messages import COMMANDS
from fleet.tui import FleetDashboard
from fleet.tui.one_line import MAX_LENGTH, one_line
from fleet.tui.palette import ControlCommands
from fleet.tui.screens import ComposerScreen, StationsScreen
from fleet.tui.widgets import KeyBar

REASON = "EVSE 1 already has a vehicle on connector 1"


def test_a_refused_action_shows_the_servers_reason() -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        await pilot.press("s")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationsScreen) and len(app.model.table.rows) == 2,
                                  pilot)
        await pilot.press("p")
        await wait_until_on_pilot(lambda: app.command_log and app.command_log[-1][2] == "ok", pilot)
        await pilot.press("p")  # a second vehicle on the same EVSE: refused
        await wait_until_on_pilot(lambda: app.command_log[-1][2] == "bad_request", pilot)
        await wait_until_on_pilot(lambda: any(REASON in n.message for n in app._notifications), pilot)
        note = next(n for n in app._notifications if REASON in n.message)
        assert note.title == "plug CS001: bad_request" and note.severity == "error"
        await pilot.pause(0.2)
        text = " ".join(" ".join(screen_lines(app)).replace("▌", " ").split())
        assert "plug CS001: bad_request" in text and "already has a vehicle" in text

    run_dashboard_test(body, stations=2, size=(100, 30))


def test_the_palette_describes_each_command_in_one_plain_line() -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        hits = [hit async for hit in ControlCommands(app.screen).discover()]
        helps = {str(hit.text): str(hit.help) for hit in hits}
        for command in COMMANDS:
            help_text = helps[f"control: {command}"]
            assert help_text and "\n" not in help_text and len(help_text) <= MAX_LENGTH, command
            for markup in ("``", ":class:", ":func:", "`"):
                assert markup not in help_text, (command, help_text)
        assert helps["control: add_stations"] == "Add count stations from a profile"
        assert helps["control: csms_send"] == "Send any OCPP request as the CSMS to a connected station"

    run_dashboard_test(body, stations=1)


def test_one_line_drops_markup_and_keeps_the_first_clause() -> None:
    assert one_line("Send it; the reply is a :class:`~fleet.control.messages.SendResult`.") == "Send it"
    assert one_line("One station's detail (:class:`StationDetail`).\n\nMore.") == "One station's detail (StationDetail)"
    assert one_line("Unplug (``connector_id``: that one; ``null``: any). Then more.") == (
        "Unplug (connector_id: that one; null: any)")
    assert one_line(None) == "" and one_line("x " * 100).endswith("…")


def test_the_composer_clears_an_old_response_on_a_new_error_and_shows_its_keys() -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        app.open_composer("CS001")
        await wait_until_on_pilot(lambda: isinstance(app.screen, ComposerScreen) and bool(app.screen.query(KeyBar)),
                                  pilot)
        composer = app.screen
        assert isinstance(composer, ComposerScreen)
        bar = composer.query_one(KeyBar)
        await wait_until_on_pilot(lambda: bool(bar.keys), pilot)
        shown = {description: key for key, description, _ in bar.keys}
        assert shown.get("send") == "^s" and shown.get("validate") == "^t" and shown.get("close") == "esc"

        response = composer.query_one("#composer-response")
        await pilot.press("ctrl+s")  # the Heartbeat skeleton: valid, sent, answered
        await wait_until_on_pilot(lambda: composer.result is not None, pilot)
        await wait_until_on_pilot(lambda: "currentTime" in str(response.render()), pilot)

        composer.query_one("#composer-payload").text = "{not json"  # type: ignore[attr-defined]
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "not JSON" in str(composer.query_one("#composer-verdict").render())
        assert str(response.render()) == ""  # the old answer is gone with the new error

    run_dashboard_test(body, stations=1)
