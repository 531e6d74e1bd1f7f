"""The dashboard, driven with Textual's Pilot against a real control server.

Each test runs the Textual app on asyncio and, in the same thread, a trio guest run
that hosts the control server and what it drives: the real CSMS actor and real stations
(:class:`fleet.actors.station.Station`, a profile without automatic sessions) speaking
OCPP-J, or a synthetic backend of 20,000 rows for the table.

Screens are checked through their text (rebuilt from the SVG screenshot), and the
key actions through what reached the CSMS (its records of each station). With FLEET_UPDATE_SCREENSHOTS=1 the
SVGs of the main screens are written to docs/screenshots/ (for the README).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import html
import inspect
import os
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
from waiting import wait_until, wait_until_on_pilot

from fleet.actors.csms import Csms, open_csms
from fleet.actors.station import Station, load_profile
from fleet.cli import build_parser
from fleet.control import (
    ControlClient,
    ControlConnectionError,
    ControlRequestError,
    LocalBackend,
    serve_control,
)
from fleet.control.messages import COMMANDS, SendResult, StationRow
from fleet.metrics import Metrics
from fleet.ocpp import V201, VERSIONS_BY_NAME, ProtocolVersion
from fleet.profiles import ConnectorProfile, EvseProfile, SessionGenerator, StationProfile
from fleet.run.fleetfile import shipped_profiles_dir
from fleet.tui import FleetDashboard
from fleet.tui.app import ROWS_AT_FULL_RATE, rows_interval
from fleet.tui.model import (
    StationTableModel,
    TableRow,
    Verdict,
    payload_skeleton,
    validate_payload,
    version_named,
)
from fleet.tui.screens import CommandForm, ComposerScreen, CsmsScreen, StationScreen, StationsScreen
from fleet.tui.widgets import FrameLog, StationsTable

ROOT = Path(__file__).parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE_SCREENSHOTS = os.environ.get("FLEET_UPDATE_SCREENSHOTS") == "1"


# ------------------------------------------------------------------ harness


@dataclass
class Env:
    """The trio side of a test, readable from the asyncio side (same thread)."""

    url: str = ""
    stations: dict[str, Any] = field(default_factory=dict)
    csms: Csms | None = None
    backend: LocalBackend | None = None


class SyntheticBackend(LocalBackend):
    """A backend whose stations are fixed rows (for the 20,000-row table)."""

    def __init__(self, rows: list[StationRow]) -> None:
        super().__init__({})
        self.rows = rows

    def _all_rows(self) -> list[StationRow]:
        return self.rows


#: The real stations' profile: one EVSE with two connectors, no automatic sessions, a quick reboot.
MANUAL = StationProfile(name="manual", sessions=SessionGenerator(enabled=False), reboot_delay=0.1,
                        evses=[EvseProfile(connectors=[ConnectorProfile(), ConnectorProfile()])])

STATE_CYCLE = ("available", "charging", "faulted", "offline", "booting")
PROFILES = ("ac-7kw", "ac-22kw", "dc-150kw")
VERSION_CYCLE = ("2.0.1", "1.6", "2.1", "2.0.1")


def synthetic_rows(n: int) -> list[StationRow]:
    rows = []
    for i in range(n):
        state = STATE_CYCLE[i % 5]
        charging = state == "charging"
        rows.append(StationRow(
            id=f"CS{i:05d}",
            profile=PROFILES[i % 3],
            state=state,
            connectors=["Occupied" if charging else "Available", "Faulted" if state == "faulted" else "Available"],
            power_w=float((i * 37) % 22000) if charging else 0.0,
            energy_wh=float(i % 50000) if charging else 0.0,
            soc=float(i % 100) if charging else None,
            tx_id=f"tx-{i:05d}" if charging else None,
            last_error="Timeout: no response before the call timeout" if i % 10 == 3 else "",
            calls=i % 997,
            errors=1 if i % 10 == 3 else 0,
            reconnects=i % 7,
            ocpp_version=VERSION_CYCLE[i % 4],
        ))
    return rows


def run_dashboard_test(
    body: Callable[[FleetDashboard, Any, Env], Awaitable[None]],
    *,
    stations: int = 3,
    synthetic: int = 0,
    auth: dict[str, str] | None = None,
    size: tuple[int, int] = (150, 45),
    token: str | None = None,
) -> None:
    """Run ``body(app, pilot, env)`` with the trio side hosted in guest mode."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        done: asyncio.Future[Any] = loop.create_future()
        env = Env()
        control: dict[str, Any] = {}

        async def trio_side() -> None:
            stop = trio.Event()
            control["token"] = trio.lowlevel.current_trio_token()
            control["stop"] = stop
            async with trio.open_nursery() as nursery:
                if synthetic:
                    backend: LocalBackend = SyntheticBackend(synthetic_rows(synthetic))
                    env.backend = backend
                    server = await nursery.start(serve_control, backend)
                    env.url = server.url
                    ready.set_result(None)
                    await stop.wait()
                    nursery.cancel_scope.cancel()
                    return
                metrics = Metrics()
                async with open_csms(port=0, auth=auth) as csms:
                    env.csms = csms

                    async def spawn(profile: str, ids: list[str], connect: bool) -> dict[str, Any]:
                        path = Path(profile) if Path(profile).is_absolute() else (
                            shipped_profiles_dir() / f"{profile.removesuffix('.toml')}.toml")
                        if not path.is_file():
                            raise LookupError(f"no profile {profile!r}")
                        kind = msgspec.structs.replace(load_profile(path), sessions=SessionGenerator(enabled=False))
                        made = {}
                        for sid in ids:
                            station = Station(sid, csms.url, profile=kind, observer=metrics, auto_connect=connect)
                            await nursery.start(station.run)
                            made[sid] = station
                        return made

                    for i in range(1, stations + 1):
                        sid = f"CS{i:03d}"
                        station = Station(sid, csms.url, profile=MANUAL, password=(auth or {}).get(sid),
                                          observer=metrics, seed=i)
                        await nursery.start(station.run)
                        env.stations[sid] = station
                    await wait_until(lambda: all(s.state == "available" for s in env.stations.values()), timeout=10)
                    backend = LocalBackend(env.stations, csms, metrics=metrics, spawn=spawn,
                                           phase=lambda: "running")
                    env.backend = backend
                    server = await nursery.start(functools.partial(serve_control, backend, token=token))
                    env.url = server.url
                    ready.set_result(None)
                    await stop.wait()
                    for station in list(backend.stations.values()):
                        await station.shutdown()
                nursery.cancel_scope.cancel()

        trio.lowlevel.start_guest_run(
            trio_side,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            done_callback=done.set_result,
            host_uses_signal_set_wakeup_fd=True,
        )
        try:
            await asyncio.wait_for(asyncio.shield(ready), 20)
            app = FleetDashboard(env.url, token, poll_interval=0.2)
            async with app.run_test(size=size, notifications=True) as pilot:
                await wait_until_on_pilot(lambda: app.model.snapshot is not None, pilot)
                await body(app, pilot, env)
        finally:
            if "token" in control:
                control["token"].run_sync_soon(control["stop"].set)
            outcome = await asyncio.wait_for(done, 20)
        outcome.unwrap()

    asyncio.run(main())


def screen_lines(app: FleetDashboard) -> list[str]:
    """The screen as text lines, rebuilt from the SVG screenshot."""
    svg = app.export_screenshot()
    width, height = app.size
    grid = [[" "] * width for _ in range(height)]
    for x, line, text in re.findall(r'<text [^>]*?x="([\d.]+)"[^>]*?clip-path="url\(#[^)]*-line-(\d+)\)">([^<]*)</text>',
                                    svg):
        column = round(float(x) / 12.2)
        row = int(line)
        for offset, char in enumerate(html.unescape(text).replace("\xa0", " ")):
            if 0 <= row < height and 0 <= column + offset < width:
                grid[row][column + offset] = char
    return ["".join(r).rstrip() for r in grid]


def screenshot(app: FleetDashboard, name: str, tmp_path: Path) -> str:
    """Save the SVG (to docs/screenshots/ when updating them) and return the screen text."""
    target = SCREENSHOTS if UPDATE_SCREENSHOTS else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    app.save_screenshot(f"{name}.svg", str(target))
    assert (target / f"{name}.svg").read_text().startswith("<svg")
    return "\n".join(screen_lines(app))


# ------------------------------------------------------------------ screens


def test_overview_shows_states_throughput_latency_and_errors(tmp_path: Path) -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        for _ in range(3):
            assert isinstance(await app.control("send", station_id="CS001", action="Heartbeat", payload={}),
                              SendResult)
        await app.control("plug", station_id="CS002", evse_id=1)
        await app.control("start_transaction", station_id="CS002", evse_id=1)
        await app.control("close", station_id="CS003")
        await wait_until_on_pilot(lambda: app.model.snapshot is not None and app.model.snapshot.states == {
            "available": 1, "charging": 1, "closed": 1}, pilot)
        await wait_until_on_pilot(lambda: len(app.model.history.calls_per_s) >= 4, pilot)
        await wait_until_on_pilot(lambda: any(a.action == "Heartbeat" for a in app.model.snapshot.actions), pilot)  # type: ignore[union-attr]
        await pilot.pause(0.1)
        text = screenshot(app, "overview", tmp_path)
        for expected in ("stations by state", "available 1", "charging 1", "closed 1", "total 3", "throughput",
                         "calls/s", "failed/s", "latency per action", "BootNotification", "Heartbeat",
                         "TransactionEvent", "p99 ms", "p99 trend", "errors by code", "reconnects"):
            assert expected in text, expected

    run_dashboard_test(body)


def test_stations_table_with_20000_rows_filters_and_sorts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        await pilot.press("s")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationsScreen) and len(app.model.table.rows) == 20_000, pilot)
        table = app.screen.query_one(StationsTable)
        model = app.model.table
        render_ms = table.render_lines_timed()
        assert len(model.view) == 20_000 and table.current_id == "CS00000"
        with capsys.disabled():
            print(f"\n[20,000 stations] poll (snapshot request + decode) {app.model.last_poll_ms:.1f} ms, "
                  f"filter+sort {model.last_update_ms:.1f} ms, render of the visible lines {render_ms:.2f} ms")

        lines = screen_lines(app)
        header = next(i for i, line in enumerate(lines) if line.startswith("STATION"))
        assert lines[header + 1].startswith("CS00000") and lines[header + 2].startswith("CS00001")
        assert "STATE" in lines[header] and "LAST ERROR" in lines[header]

        # filter: by state, by profile, by error, by id, combined
        await pilot.press("slash")
        await pilot.press(*"state:faulted")
        await pilot.pause()
        assert len(model.view) == 4_000 and all(r.state == "faulted" for r in model.view)
        await pilot.press("space", *"profile:dc")
        await pilot.pause()
        assert len(model.view) == len([i for i in range(20_000) if i % 5 == 2 and i % 3 == 2])
        app.screen.query_one("#filter").value = "error:timeout"  # type: ignore[attr-defined]
        await pilot.pause()
        assert len(model.view) == 2_000 and all("Timeout" in r.last_error for r in model.view)
        app.screen.query_one("#filter").value = "ocpp:1.6,2.1 state:charging"  # type: ignore[attr-defined]
        await pilot.pause()
        assert len(model.view) == len([i for i in range(20_000) if i % 4 in (1, 2) and i % 5 == 1])
        assert {r.ocpp_version for r in model.view} == {"1.6", "2.1"}
        app.screen.query_one("#filter").value = "CS1999"  # type: ignore[attr-defined]
        await pilot.pause()
        assert [r.id for r in model.view] == [f"CS1999{d}" for d in range(10)]
        await pilot.press("escape")
        await pilot.pause()
        assert len(model.view) == 20_000 and table.has_focus

        # sort: 5 = power ascending, again = descending; < > step through columns; - reverses
        await pilot.press("5")
        powers = [r.power_w for r in model.view]
        assert powers == sorted(powers) and model.sort_key == "power" and not model.reverse
        await pilot.press("5")
        powers = [r.power_w for r in model.view]
        assert powers == sorted(powers, reverse=True) and model.reverse
        await pilot.pause()
        top = model.view[0]
        assert screen_lines(app)[header + 1].startswith(top.id)
        await pilot.press("greater_than_sign")
        assert model.sort_key == "energy"
        await pilot.press("minus")
        assert model.reverse and [r.energy_wh for r in model.view][:3] == sorted(
            (r.energy_wh for r in model.rows), reverse=True)[:3]
        await pilot.press("1")
        assert model.sort_key == "id" and model.view[0].id == "CS00000"

        # the cursor stays on its station across refreshes; a new sort starts at the top
        await pilot.press("down", "down", "down")
        assert table.current_id == "CS00003"
        ticks = app.model.ticks
        await wait_until_on_pilot(lambda: app.model.ticks >= ticks + 2, pilot)
        assert table.current_id == "CS00003"
        await pilot.press("9")  # calls: a new sort shows the top
        assert model.sort_key == "calls" and table.cursor == 0 and table.current_id == model.view[0].id
        await pilot.press("1", "end")
        assert table.current_id == "CS19999"
        await pilot.press("home", "pagedown")
        assert table.cursor > 10
        with capsys.disabled():
            print(f"[20,000 stations] after sorting: filter+sort {model.last_update_ms:.1f} ms, "
                  f"render {table.render_lines_timed():.2f} ms")
        await pilot.press("home")
        await pilot.pause()
        text = screenshot(app, "stations", tmp_path)
        lines = text.splitlines()
        header = next(i for i, line in enumerate(lines) if line.startswith("STATION"))
        table_text = "\n".join(lines[header : header + 12]) + "\n"
        expected = SNAPSHOTS / "stations_table.txt"
        if UPDATE_SCREENSHOTS or not expected.exists():
            expected.parent.mkdir(parents=True, exist_ok=True)
            expected.write_text(table_text, encoding="utf-8")
        assert table_text == expected.read_text(encoding="utf-8")

    run_dashboard_test(body, synthetic=20_000, size=(160, 40))


def test_station_screen_shows_detail_and_live_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        await app.control("plug", station_id="CS001", evse_id=1)
        await app.control("start_transaction", station_id="CS001", evse_id=1, id_token="TAG-1")
        await pilot.press("s")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationsScreen) and len(app.model.table.rows) == 3, pilot)
        await pilot.press("enter")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationScreen) and app.screen.subscription is not None, pilot)
        screen = app.screen
        assert isinstance(screen, StationScreen) and screen.station_id == "CS001"
        await wait_until_on_pilot(lambda: screen.detail is not None and screen.detail.row.state == "charging", pilot)
        log = screen.query_one(FrameLog)

        for i in range(3):
            await app.control("send", station_id="CS001", action="Heartbeat", payload={}, message_id=f"hb-{i}")
        await app.control("csms_send", station_id="CS001", action="GetVariables", payload={
            "getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]})
        await wait_until_on_pilot(lambda: len(log.lines) >= 8, pilot)
        await pilot.pause(0.6)
        text = screenshot(app, "station", tmp_path)
        tx_id = screen.detail.row.tx_id  # type: ignore[union-attr]
        assert tx_id
        for expected in ("CS001", "charging", tx_id[:20], "TAG-1", "EVSEs", "1:Occupied", "Device model",
                         "AvailabilityState", "Last errors", "OCPP frames of CS001", '[2,"hb-0","Heartbeat",{}]',
                         "GetVariables", "heartbeats", "transactions started 1"):
            assert expected in text, expected
        variables = {(v.component, v.variable): v.value for v in screen.detail.variables}  # type: ignore[union-attr]
        assert variables[("OCPPCommCtrlr", "HeartbeatInterval")] and variables[("SecurityCtrlr", "Identity")] == "CS001"

        await pilot.press("space")  # pause: new frames are kept but not shown
        shown = len(log._shown)
        await app.control("send", station_id="CS001", action="Heartbeat", payload={}, message_id="hb-paused")
        await wait_until_on_pilot(lambda: any("hb-paused" in line for _, line in log.lines), pilot)
        await pilot.pause(0.3)
        assert len(log._shown) == shown and "hb-paused" not in log.shown_text()
        await pilot.press("space")
        assert "hb-paused" in log.shown_text()

        await pilot.press("slash", *"hb-1", "enter")
        assert log.search == "hb-1"
        assert log.shown_text() and all("hb-1" in line for line in log.shown_text().splitlines())
        await pilot.press("y")
        assert app.clipboard == log.shown_text()
        await pilot.press("w")
        assert screen.saved_to is not None and "hb-1" in screen.saved_to.read_text()
        await pilot.press("escape")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationsScreen), pilot)
        await wait_until_on_pilot(lambda: app.command_log[-1][0] == "unsubscribe" or any(
            c[0] == "unsubscribe" for c in app.command_log), pilot)

    run_dashboard_test(body, stations=3)


def test_station_screen_of_a_1_6_station_shows_its_configuration_keys(tmp_path: Path) -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        added = await app.control("add_stations", profile="ac-wallbox-16", prefix="W16-")
        [station_id] = added.station_ids
        assert env.backend is not None
        station = env.backend.stations[station_id]
        await wait_until_on_pilot(lambda: station.snapshot().state == "available", pilot)
        app.open_station(station_id)
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationScreen) and app.screen.detail is not None,
                                  pilot)
        screen = app.screen
        assert isinstance(screen, StationScreen) and screen.detail is not None
        keys = {v.variable: (v.value, v.readonly) for v in screen.detail.variables}
        assert keys["NumberOfConnectors"] == ("1", True) and "AuthorizationKey" in keys
        await pilot.pause(0.3)
        text = screenshot(app, "station-16", tmp_path)
        for expected in (station_id, "OCPP 1.6", "Configuration keys", "key", "access", "AllowOfflineTxForUnknownId",
                         "ConnectionTimeOut", "read-write"):
            assert expected in text, expected
        assert "Device model" not in text and "OCPPCommCtrlr" not in text

    run_dashboard_test(body, stations=1)


#: A 2.1 V2X charger whose vehicles all discharge, with DER control and local cost on.
V2X_COST_DER_PROFILE = """
name = "v2x-cost-der"
ocpp_version = "2.1"
[[evses]]
max_power = 50000
voltage = 400
current_type = "DC"
bidirectional = true
max_discharge_power = 20000
[[evses.connectors]]
type = "cCCS2"
[vehicle]
battery_capacity = 60000
max_power = 40000
initial_soc = 60
bidirectional_share = 1.0
max_discharge_power = 10000
min_soc = 20
[der]
enabled = true
[local_cost]
enabled = true
[local_cost.default_tariff]
id = "T-DASH"
currency = "EUR"
price_kwh = 0.4
fixed_fee = 0.5
tax = 20
"""


def test_station_screen_of_a_2_1_station_shows_discharging_cost_and_der_controls(tmp_path: Path) -> None:
    profile = tmp_path / "v2x-cost-der.toml"
    profile.write_text(V2X_COST_DER_PROFILE, encoding="utf-8")

    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        added = await app.control("add_stations", profile=str(profile), prefix="V21-")
        [station_id] = added.station_ids
        assert env.backend is not None
        station = env.backend.stations[station_id]
        await wait_until_on_pilot(lambda: station.snapshot().state == "available", pilot)
        assert (await app.control("csms_send", station_id=station_id, action="SetDERControl", payload={
            "isDefault": True, "controlId": "lmd-default", "controlType": "LimitMaxDischarge",
            "limitMaxDischarge": {"priority": 1, "pctMaxDischargePower": 80.0}})).response == {"status": "Accepted"}
        await app.control("plug", station_id=station_id, evse_id=1)
        await app.control("start_transaction", station_id=station_id, evse_id=1, id_token="V2X-TOKEN")
        await wait_until_on_pilot(lambda: station.snapshot().evses[0].power_w > 0, pilot)
        tx_id = station.snapshot().evses[0].transaction_id
        assert (await app.control("csms_send", station_id=station_id, action="SetChargingProfile", payload={
            "evseId": 1, "chargingProfile": {
                "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
                "transactionId": tx_id, "chargingSchedule": [{"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [
                    {"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": -8000.0,
                     "dischargeLimit": -9000.0, "limit": 11000.0}]}]}})).response["status"] == "Accepted"
        await wait_until_on_pilot(lambda: station.snapshot().evses[0].power_w == -8000.0, pilot)
        app.open_station(station_id)
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationScreen) and app.screen.detail is not None
                                  and app.screen.detail.evses[0].transaction is not None
                                  and app.screen.detail.evses[0].transaction.power_w < 0, pilot)
        await pilot.pause(0.3)
        text = screenshot(app, "station-21", tmp_path)
        for expected in (station_id, "OCPP 2.1", "V2X", "-8.0", "discharging, exported", "cost", "EUR running",
                         "DER controls", "lmd-default", "LimitMaxDischarge", "default"):
            assert expected in text, expected

        await app.control("stop_transaction", station_id=station_id, evse_id=1)
        screen = app.screen
        assert isinstance(screen, StationScreen)
        await wait_until_on_pilot(lambda: screen.detail is not None and screen.detail.evses[0].cost is not None
                                  and screen.detail.evses[0].cost.final, pilot)
        await pilot.pause(0.3)
        text = screenshot(app, "station-21-ended", tmp_path)
        assert "EUR final" in text and "discharging" not in text and "exported" in text

        # a 2.0.1 station's screen has none of it
        await pilot.press("escape")
        app.open_station("CS001")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationScreen) and app.screen.station_id == "CS001"
                                  and app.screen.detail is not None, pilot)
        await pilot.pause(0.3)
        text = screenshot(app, "station-201", tmp_path)
        assert "CS001" in text
        for absent in ("V2X", "exported", "EUR", "DER controls"):
            assert absent not in text, absent

    run_dashboard_test(body, stations=1)


def test_csms_screen_lists_connections_auth_list_and_pending(tmp_path: Path) -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        await pilot.press("m")
        await wait_until_on_pilot(lambda: isinstance(app.screen, CsmsScreen) and app.screen.ticks >= 2, pilot)
        await pilot.pause(0.3)
        station = env.stations["CS002"]
        answer = station.default_handler("TriggerMessage")

        @station.on("TriggerMessage")
        async def slowly(request: Any, ctx: Any) -> Any:  # the CSMS's request stays pending a while
            await trio.sleep(3.0)
            result = answer(request, ctx)
            return await result if inspect.isawaitable(result) else result

        async def slow_trigger() -> None:
            await app.control("csms_send", station_id="CS002", action="TriggerMessage",
                              payload={"requestedMessage": "Heartbeat"}, message_id="trigger-1", tag="waiting")

        task = asyncio.get_running_loop().create_task(slow_trigger())
        await wait_until_on_pilot(lambda: "trigger-1" in "\n".join(screen_lines(app)), pilot)
        text = screenshot(app, "csms", tmp_path)
        for expected in ("connected stations", "CS001", "CS002", "2.0.1", "auth list", "••••••",
                         "pending requests", "TriggerMessage", "waiting"):
            assert expected in text, expected
        assert "pw-CS001-secret" not in text  # passwords never shown
        await pilot.press("enter")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationScreen), pilot)
        assert app.screen.source == "csms"  # type: ignore[attr-defined]
        await pilot.press("escape")
        await task

    run_dashboard_test(body, stations=2, auth={"CS001": "pw-CS001-secret", "CS002": "pw-CS002-secret"})


# ------------------------------------------------------------------ actions


def test_each_action_key_reaches_the_station_as_the_csms_sees_it() -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        await pilot.press("s")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationsScreen) and len(app.model.table.rows) == 3, pilot)
        await pilot.press("down")
        table = app.screen.query_one(StationsTable)
        assert table.current_id == "CS002"
        csms = env.csms
        assert csms is not None

        def record(sid: str = "CS002") -> Any:
            return csms.station(sid)

        def connector() -> str | None:
            return next((c.status for c in record().connectors if (c.evse_id, c.connector_id) == (1, 1)), None)

        def transaction(token: str = "FLEETCONTROL") -> Any:
            return next((t for t in record().transactions.values() if t.id_token == token), None)

        untouched = record("CS001")
        steps: list[tuple[str, Callable[[], bool]]] = [
            ("p", lambda: connector() == "Occupied"),
            ("u", lambda: connector() == "Available"),
            ("p", lambda: connector() == "Occupied"),
            ("t", lambda: transaction() is not None and transaction().started),
            ("T", lambda: transaction().ended and transaction().stopped_reason == "Local"),
            ("u", lambda: connector() == "Available"),
            ("r", lambda: record().connections == 2 and record().connected
                  and record().boot.reason == "LocalReset"),
            ("x", lambda: not csms.is_connected("CS002")),
            ("c", lambda: csms.is_connected("CS002") and record().connections == 3),
        ]
        for key, reached in steps:
            if key == "c":
                await wait_until_on_pilot(lambda: env.stations["CS002"].state in ("closed", "idle", "offline"), pilot)
            await pilot.press(key)
            await wait_until_on_pilot(reached, pilot)
        assert record("CS001") == untouched  # the keys went to the station under the cursor only

        # keys with a form: backoff (read back from the station by the CSMS), add stations, remove
        await wait_until_on_pilot(lambda: env.stations["CS002"].state == "available", pilot)
        await pilot.press("b")
        await wait_until_on_pilot(lambda: isinstance(app.screen, CommandForm), pilot)
        form = app.screen
        assert form.query_one("#field-station_id").value == "CS002"  # type: ignore[attr-defined]
        form.query_one("#field-minimum").value = "2"  # type: ignore[attr-defined]
        form.query_one("#field-repeat").value = "3"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until_on_pilot(lambda: app.command_log[-1][0] == "set_retry_backoff", pilot)
        names = ("RetryBackOffWaitMinimum", "RetryBackOffRepeatTimes")
        reply = await app.control("csms_send", station_id="CS002", action="GetVariables", payload={
            "getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": n}} for n in names]})
        assert [r["attributeValue"] for r in reply.response["getVariableResult"]] == ["2", "3"]

        await pilot.press("a")
        await wait_until_on_pilot(lambda: isinstance(app.screen, CommandForm), pilot)
        app.screen.query_one("#field-profile").value = "dc-fast"  # type: ignore[attr-defined]
        app.screen.query_one("#field-count").value = "2"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until_on_pilot(lambda: csms.is_connected("dc-fast-00001") and csms.is_connected("dc-fast-00002"), pilot)
        assert len(env.backend.stations) == 5  # type: ignore[union-attr]
        await pilot.press("escape")  # the result window

        await wait_until_on_pilot(lambda: isinstance(app.screen, StationsScreen), pilot)
        await pilot.press("delete")
        await wait_until_on_pilot(lambda: isinstance(app.screen, CommandForm), pilot)
        assert app.screen.query_one("#field-station_ids").value == "CS002"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until_on_pilot(lambda: "CS002" not in env.backend.stations, pilot)  # type: ignore[union-attr]
        await wait_until_on_pilot(lambda: not csms.is_connected("CS002"), pilot)

    run_dashboard_test(body)


def test_composer_rejects_an_invalid_payload_and_sends_a_valid_one() -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        await pilot.press("s")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationsScreen) and len(app.model.table.rows) == 2, pilot)
        await pilot.press("n")
        await wait_until_on_pilot(lambda: isinstance(app.screen, ComposerScreen), pilot)
        composer = app.screen
        assert isinstance(composer, ComposerScreen)
        payload = composer.query_one("#composer-payload")
        composer.query_one("#composer-action").value = "Authorize"  # type: ignore[attr-defined]
        await pilot.pause()
        assert '"idToken"' in payload.text  # type: ignore[attr-defined]  # the skeleton of the new action
        sent = len(app.command_log)

        payload.text = '{"idToken": {"idToken": "TAG", "type": "NoSuchType"}}'  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        verdict = str(composer.query_one("#composer-verdict").render())
        assert "invalid Authorize request" in verdict and len(app.command_log) == sent
        payload.text = "{not json"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert "not JSON" in str(composer.query_one("#composer-verdict").render()) and len(app.command_log) == sent

        payload.text = '{"idToken": {"idToken": "TAG-42", "type": "ISO14443"}}'  # type: ignore[attr-defined]
        composer.query_one("#composer-tag").value = '{"ticket": 9}'  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_until_on_pilot(lambda: composer.result is not None, pilot)
        result = composer.result
        assert result is not None and result.outcome == "response" and result.action == "Authorize"
        assert result.response["idTokenInfo"]["status"] == "Accepted" and result.tag == {"ticket": 9}
        assert app.command_log[-1][0] == "send" and app.command_log[-1][1]["station_id"] == "CS001"

        # as the CSMS: a Reset to the station
        composer.query_one("#composer-target").value = "csms"  # type: ignore[attr-defined]
        composer.query_one("#composer-action").value = "Reset"  # type: ignore[attr-defined]
        await pilot.pause()
        composer.result = None
        await pilot.press("ctrl+s")
        await wait_until_on_pilot(lambda: composer.result is not None, pilot)
        reset = composer.result
        assert reset is not None and reset.action == "Reset" and reset.response == {"status": "Accepted"}
        assert app.command_log[-1][0] == "csms_send"
        await pilot.press("escape")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationsScreen), pilot)

    run_dashboard_test(body, stations=2)


def test_command_palette_offers_every_control_command() -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        from fleet.tui.palette import ControlCommands

        provider = ControlCommands(app.screen)
        texts = [hit.text async for hit in provider.discover()]
        assert {f"control: {c}" for c in COMMANDS} <= set(texts) and "compose OCPP request" in texts

        await pilot.press("s")
        await wait_until_on_pilot(lambda: isinstance(app.screen, StationsScreen) and len(app.model.table.rows) == 2, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"control: plug")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until_on_pilot(lambda: isinstance(app.screen, CommandForm), pilot)
        form = app.screen
        assert form.command == "plug"  # type: ignore[attr-defined]
        assert form.query_one("#field-station_id").value == "CS001"  # type: ignore[attr-defined]
        form.query_one("#field-connector_id").value = "2"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until_on_pilot(lambda: any((c.evse_id, c.connector_id, c.status) == (1, 2, "Occupied")
                                 for c in env.csms.station("CS001").connectors), pilot)  # type: ignore[union-attr]

    run_dashboard_test(body, stations=2)


def test_the_asyncio_client_and_the_dashboard_with_a_token() -> None:
    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        assert app.connected and app.model.snapshot is not None  # the dashboard got in with its token
        for wrong in (None, "wrong-token"):
            with pytest.raises(ControlConnectionError, match="401"):
                await ControlClient(env.url, wrong).connect()
        async with ControlClient(env.url, "tok-123") as client:
            assert (await client.request("info")).stations == 2
            with pytest.raises(ControlRequestError) as caught:
                await client.request("station", station_id="nope")
            assert caught.value.code == "not_found"
            await client.request("subscribe", station_id="CS002")
            reply = await client.request("send", station_id="CS002", action="Heartbeat", payload={}, tag="a")
            assert reply.outcome == "response" and reply.tag == "a"
            events = client.events()
            first = await asyncio.wait_for(anext(events), 5)
            second = await asyncio.wait_for(anext(events), 5)
            assert (first.kind, second.kind) == ("request", "response") and second.tag == "a"
        with pytest.raises(ControlConnectionError):
            await client.request("info")

    run_dashboard_test(body, stations=2, token="tok-123")


# ------------------------------------------------------------------ plain parts


@pytest.mark.parametrize("version", list(VERSIONS_BY_NAME.values()), ids=list(VERSIONS_BY_NAME))
def test_every_action_skeleton_is_a_valid_request(version: ProtocolVersion) -> None:
    for action in version.actions:
        verdict, message, payload = validate_payload(
            action, msgspec.json.encode(payload_skeleton(action, version)).decode(), version)
        assert verdict is Verdict.OK, (action, message)
        assert isinstance(payload, dict)
    assert validate_payload("Nope", "{}", version)[0] is Verdict.UNKNOWN_ACTION
    assert validate_payload("Heartbeat", "[]", version)[0] is Verdict.INVALID


def test_the_composer_takes_the_version_of_the_station_row() -> None:
    assert version_named("2.0.1") is V201
    assert version_named("") is next(iter(VERSIONS_BY_NAME.values()))  # not known yet: the first fleet speaks
    table = StationTableModel()
    table.set_rows([TableRow("CS1", ocpp_version="2.0.1"), TableRow("CS2")])
    assert table.ocpp_version_of("CS1") == "2.0.1" and table.ocpp_version_of("CS2") == ""
    assert table.ocpp_version_of("nobody") == ""


def test_rows_of_large_fleets_are_pulled_less_often() -> None:
    assert rows_interval(0.5, 2_000) == rows_interval(0.5, ROWS_AT_FULL_RATE) == 0.5
    assert rows_interval(0.5, 20_000) == 1.0 and rows_interval(0.5, 40_000) == 2.0


def test_tui_command_line() -> None:
    args = build_parser().parse_args(["tui", "ws://10.0.0.5:7700/", "--token", "t0k"])
    assert (args.url, args.token) == ("ws://10.0.0.5:7700/", "t0k")
    assert build_parser().parse_args(["tui"]).url == "ws://127.0.0.1:7700/"


def test_the_dashboard_never_imports_the_actors() -> None:
    code = ("import sys, fleet.tui, fleet.tui.app, fleet.commands.tui; "
            "print(sorted(m for m in sys.modules if m.startswith('fleet.actors')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_dashboard_says_when_it_cannot_reach_the_server() -> None:
    async def main() -> None:
        app = FleetDashboard("ws://127.0.0.1:9/", poll_interval=0.2)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until_on_pilot(lambda: "cannot reach" in app.model.status, pilot)
            assert "cannot reach ws://127.0.0.1:9/" in "\n".join(screen_lines(app))
            assert await app.control("info") is None

    asyncio.run(main())


def test_a_poll_answer_after_the_screens_widgets_are_gone_is_dropped(tmp_path: Path) -> None:
    """Quitting while a screen's poll is in flight: Textual unmounts the children before it cancels the
    screen's worker, so the answer arrives to a screen without widgets (this failed a CI run with NoMatches)."""

    async def body(app: FleetDashboard, pilot: Any, env: Env) -> None:
        for key, kind in (("m", CsmsScreen), ("s", StationsScreen)):
            await pilot.press(key)
            await wait_until_on_pilot(lambda: isinstance(app.screen, kind), pilot)  # noqa: B023
            if kind is StationsScreen:
                await wait_until_on_pilot(lambda: len(app.model.table.rows) == 2, pilot)
                await pilot.press("enter")
                await wait_until_on_pilot(lambda: isinstance(app.screen, StationScreen), pilot)
            screen = app.screen
            assert isinstance(screen, (CsmsScreen, StationScreen))
            await screen.query("*").remove()  # what the app's shutdown does before it cancels the worker
            await screen._poll_once()  # the answer arrives: dropped, nothing raised
            assert not screen.query("*")
            if kind is StationsScreen:
                await app.pop_screen()  # the station screen was pushed over the stations mode

    run_dashboard_test(body, stations=2)


def test_start_up_callbacks_that_run_during_shutdown_do_nothing() -> None:
    """The warm-up and the collector tuning are a callback and a timer set at mount; when they run while the app
    shuts down (a quick quit; a CI run's test ending), its modes are gone (switching raised UnknownModeError)
    and freezing the collector then would outlive the app."""

    async def main() -> None:
        app = FleetDashboard("ws://127.0.0.1:9/", poll_interval=0.2)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
        assert not app.is_running
        frozen, thresholds = gc.get_freeze_count(), gc.get_threshold()
        app._start_up()  # what a pending callback would do now: nothing, nothing raised
        app._settle()
        assert (gc.get_freeze_count(), gc.get_threshold()) == (frozen, thresholds)

    asyncio.run(main())
