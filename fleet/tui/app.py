"""The dashboard app: composes the screens, keeps the control connection, routes data to screens.

Data flow: one worker pulls a snapshot twice a second (with the station rows only
while the stations table is shown) into the plain :class:`~fleet.tui.model.DashboardModel`
and tells the visible screen to redraw from it; another hands subscription events
to the screen that asked for them (a direct call, not a Textual message per frame).
Commands go out through :meth:`FleetDashboard.control`.

Garbage collection: the dashboard decodes a snapshot of 20,000 stations twice a second,
and Textual leaves cyclic garbage behind every frame and every screen it closes. With
the default thresholds the collector's full passes over everything the app holds took
50-100 ms. So once start-up is over, what it built goes to the permanent generation
(``gc.freeze()``) and the thresholds (:data:`GC_THRESHOLDS`) keep collections small: a
young-generation pass of a few ms about every second, a middle one of about 20 ms every
few seconds, full ones rarely. Rows are decoded as :class:`~fleet.tui.model.TableRow`,
which the collector does not track. Both settings are undone when the app ends.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Any, ClassVar

from textual.app import App, ScreenStackError
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen

from ..control.client import ControlClient, ControlConnectionError, ControlRequestError
from ..control.messages import ControlEvent, FleetSnapshot
from .command_palette import OrderedCommandPalette
from .model import DashboardModel, TableSnapshot
from .palette import ControlCommands
from .screens import (
    CommandForm,
    ComposerScreen,
    CsmsScreen,
    HelpScreen,
    OverviewScreen,
    ResultScreen,
    RunSummaryScreen,
    StationScreen,
    StationsScreen,
)
from .screens.form import command_fields
from .screens.help import key_help

__all__ = ["GC_THRESHOLDS", "ROWS_AT_FULL_RATE", "FleetDashboard", "rows_interval", "run_dashboard"]

#: The collector's thresholds while the dashboard runs (see the module's docstring).
GC_THRESHOLDS = (10_000, 10, 100)

#: Stations whose rows are pulled at every poll; above it, rows come less often (in proportion),
#: while the counts and metrics still come at every poll. Decoding and sorting 20,000 rows holds
#: the loop about 23 ms (measured with ``fleet bench --tui``); at 2 Hz that is 5% of the time in
#: chunks a key press waits behind.
ROWS_AT_FULL_RATE = 10_000

#: Seconds an error's notification stays (its reason is worth the time to read it).
ERROR_TIMEOUT = 12.0

#: Commands whose result is worth a window when run from the palette.
_READ_COMMANDS = frozenset({"info", "snapshot", "station", "csms_connections", "csms_pending", "get_auth_list",
                            "get_auth_cs", "send", "csms_send", "add_stations", "remove_stations",
                            "disconnect", "partition", "restart_csms", "set_boot_status"})


def rows_interval(poll_interval: float, stations: int) -> float:
    """Seconds between two pulls of the stations' rows (see :data:`ROWS_AT_FULL_RATE`)."""
    return poll_interval * max(1.0, stations / ROWS_AT_FULL_RATE)


class FleetDashboard(App[int]):
    """The terminal dashboard of a fleet or a CSMS, attached to its control API.

    Args:
        control_url: ``ws://host:port/`` of the control API.
        token: its token, if it needs one.
        poll_interval: seconds between snapshots (default 0.5: 2 Hz); the stations' rows, when
            the screen shows them, every ``poll_interval * rows / ROWS_AT_FULL_RATE`` seconds
            above :data:`ROWS_AT_FULL_RATE` stations.
    """

    CSS_PATH = "fleet.tcss"
    TITLE = "fleet"
    COMMANDS = App.COMMANDS | {ControlCommands}
    MODES: ClassVar[dict[str, Any]] = {"overview": OverviewScreen, "stations": StationsScreen, "csms": CsmsScreen}
    DEFAULT_MODE = "overview"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "switch_mode('overview')", "overview"),
        Binding("s", "switch_mode('stations')", "stations"),
        Binding("m", "switch_mode('csms')", "CSMS"),
        Binding("N", "compose", "compose", show=False),
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "keys"),
        Binding("f", "run_summary", "run summary"),  # once the run has ended (see finish_run)
    ]

    #: Textual holds the screen for 50 ms after a switch of screens to hide the transition
    #: (``App.delay_update``); these screens draw in one frame, so the hold would only add
    #: 50 ms to every switch (``fleet bench --tui`` measures keyboard-to-screen latency). Not 0:
    #: a Textual timer of 0 s divides by zero.
    UPDATE_HOLD = 0.001

    def __init__(self, control_url: str, token: str | None = None, *, poll_interval: float = 0.5) -> None:
        super().__init__()
        self.control_url = control_url
        self.token = token
        self.poll_interval = poll_interval
        self.model = DashboardModel()
        self.client: ControlClient | None = None
        self.command_log: deque[tuple[str, dict[str, Any], str]] = deque(maxlen=200)
        self._sinks: dict[str, Callable[[ControlEvent], None]] = {}
        self._gc_thresholds: tuple[int, int, int] | None = None
        self._rows_due = 0.0  # when the rows may be pulled again (perf_counter)
        self._rows_screen: Screen[Any] | None = None  # the screen they were last pulled for
        #: how the run ended and its summary, once it has (see :meth:`finish_run`)
        self.run_end: tuple[str, str] | None = None
        self.sub_title = control_url

    def delay_update(self, delay: float = 0.05) -> None:
        super().delay_update(min(delay, self.UPDATE_HOLD))

    # ------------------------------------------------------------ connection

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    def on_mount(self) -> None:
        self.run_worker(self._keep_connected(), group="connection", exclusive=True)
        self.call_after_refresh(self._start_up)

    # These run from callbacks and a timer set at mount: the app may be shutting down by then (a quick quit, a
    # test's end), its modes already removed; a switch would raise UnknownModeError and the collector would be
    # left frozen after the app: they do nothing once the app no longer runs.
    def _start_up(self) -> None:
        if not self.is_running:
            return
        self._warm_up()
        self.set_timer(0.3, self._settle)

    def _settle(self) -> None:
        if not self.is_running:
            return
        self._warm_up()  # again, now that every screen is mounted: their CSS is brought up to date
        self._tune_gc()

    def _tune_gc(self) -> None:
        if self._gc_thresholds is None:
            self._gc_thresholds = gc.get_threshold()
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)

    def _warm_up(self) -> None:
        """Switch through every mode now (updates are held meanwhile): the first switch to a screen
        then costs what the next ones do, not its composition and a reparse of the CSS."""
        current = self.current_mode
        for mode in self.MODES:
            if mode != current:
                self.switch_mode(mode)
        self.switch_mode(current)

    def on_unmount(self) -> None:
        if self._gc_thresholds is not None:
            gc.unfreeze()
            gc.set_threshold(*self._gc_thresholds)
            self._gc_thresholds = None

    async def _keep_connected(self) -> None:
        delay = 0.5
        while True:
            client = ControlClient(self.control_url, self.token)
            try:
                await client.connect()
            except ControlConnectionError as exc:
                if self.run_end is not None:
                    return
                self.model.status = f"cannot reach {self.control_url}: {exc}"
                self._redraw()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.5
            self.client = client
            self.model.connected = True
            self.model.status = f"connected to {self.control_url}"
            events = asyncio.get_running_loop().create_task(self._route_events(client))
            try:
                while client.connected:
                    started = time.monotonic()
                    await self.poll_once()
                    await asyncio.sleep(max(0.05, self.poll_interval - (time.monotonic() - started)))
            except ControlConnectionError:
                pass
            finally:
                events.cancel()
                self.model.connected = False
                self.model.status = self._ended_status() or f"disconnected from {self.control_url}; reconnecting…"
                await client.close()
                self._redraw()
            if self.run_end is not None:
                return

    async def poll_once(self) -> FleetSnapshot | None:
        """Pull one snapshot into the model and redraw the visible screen."""
        client = self.client
        if client is None:
            return None
        started = time.perf_counter()
        try:
            screen = self._current_screen()
            rows = bool(getattr(screen, "NEEDS_ROWS", False)) and (started >= self._rows_due
                                                                     or screen is not self._rows_screen)
            snapshot = await client.request_as(TableSnapshot, "snapshot", rows=rows)
        except ControlRequestError as exc:
            self.model.status = f"snapshot failed: {exc.message}"
            return None
        self.model.last_poll_ms = (time.perf_counter() - started) * 1000
        if rows:
            self._rows_screen = screen
            self._rows_due = started + rows_interval(self.poll_interval, snapshot.total) - 0.05
        self.model.update(snapshot)
        self._redraw()
        return snapshot  # type: ignore[no-any-return]

    def _current_screen(self) -> Screen[Any] | None:
        try:
            return self.screen
        except ScreenStackError:  # starting up or shutting down
            return None

    def _redraw(self) -> None:
        screen = self._current_screen()
        refresh = getattr(screen, "refresh_model", None)
        if refresh is None or screen is None or not screen.is_mounted:
            return
        with suppress(NoMatches):  # the screen is composing or being torn down: nothing to show yet
            refresh(self.model)

    async def _route_events(self, client: ControlClient) -> None:
        async for event in client.events():
            sink = self._sinks.get(event.station_id)
            if sink is not None:
                sink(event)

    def add_event_sink(self, station_id: str, sink: Callable[[ControlEvent], None]) -> None:
        """Hand ``station_id``'s subscription events to ``sink``."""
        self._sinks[station_id] = sink

    def remove_event_sink(self, station_id: str) -> None:
        self._sinks.pop(station_id, None)

    # ---------------------------------------------------------------- the end

    def finish_run(self, headline: str, summary: str) -> None:
        """The run behind the dashboard has ended: stop polling (and reconnecting), keep the last
        state on screen and show the run's ``summary`` (its verdicts) until the user quits."""
        if self.run_end is not None:
            return
        self.run_end = (headline, summary)
        self.workers.cancel_group(self, "connection")
        self.model.connected = False
        self.model.status = self._ended_status()
        self.model.run_ended = True
        self._redraw()
        self.refresh_bindings()
        self.action_run_summary()

    def _ended_status(self) -> str:
        if self.run_end is None:
            return ""
        return f"{self.run_end[0]} · the last state it showed · f: the run's summary · q: quit"

    def action_run_summary(self) -> None:
        if self.run_end is not None and not isinstance(self._current_screen(), RunSummaryScreen):
            self.push_screen(RunSummaryScreen(*self.run_end))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run_summary":
            return self.run_end is not None  # (the key shows once there is a summary)
        return True

    # --------------------------------------------------------------- commands

    async def control(self, command: str, /, quiet: bool = False, **fields: Any) -> Any:
        """Run a control command; on failure notify (unless ``quiet``) and return ``None``."""
        client = self.client
        if client is None or not client.connected:
            if not quiet:
                self.notify(f"{command}: not connected", severity="error")
            return None
        try:
            result = await client.request(command, **fields)
        except ControlRequestError as exc:
            self.command_log.append((command, fields, exc.code))
            if not quiet:  # the reason first, as the server gave it (plain text: it may hold brackets)
                who = fields.get("station_id") or ""
                self.notify(exc.message or exc.code, title=f"{command} {who}: {exc.code}".replace(" :", ":"),
                            severity="error", timeout=ERROR_TIMEOUT, markup=False)
            return None
        except ControlConnectionError as exc:
            self.command_log.append((command, fields, "disconnected"))
            if not quiet:
                self.notify(f"{command}: {exc}", severity="error")
            return None
        self.command_log.append((command, fields, "ok"))
        return result

    def send_command(self, command: str, /, quiet: bool = False, show_result: bool = False, **fields: Any) -> None:
        """Run a command in the background and notify how it went."""

        async def run() -> None:
            result = await self.control(command, quiet=quiet, **fields)
            if result is None or quiet:
                return
            if show_result:
                self.push_screen(ResultScreen(command, result))
            else:
                who = fields.get("station_id", "")
                self.notify(f"{command} {who}: {getattr(result, 'message', '') or 'done'}")

        self.run_worker(run(), group="commands")

    # ------------------------------------------------------------ navigation

    def open_station(self, station_id: str, source: str = "auto") -> None:
        self.push_screen(StationScreen(station_id, source))

    def open_composer(self, station_id: str | None = None, target: str = "station", action: str = "Heartbeat") -> None:
        version = self.model.table.ocpp_version_of(station_id) if station_id else ""
        self.push_screen(ComposerScreen(station_id, target, action, version))

    def open_command_form(self, command: str, values: dict[str, Any] | None = None) -> None:
        """Ask for ``command``'s fields, then send it."""

        def submitted(fields: dict[str, Any] | None) -> None:
            if fields is None:
                return
            if command == "subscribe" and fields.get("station_id"):
                self.open_station(str(fields["station_id"]), str(fields.get("source", "auto")))
                return
            self.send_command(command, show_result=command in _READ_COMMANDS, **fields)

        self.push_screen(CommandForm(command, values), submitted)

    def run_palette_command(self, command: str) -> None:
        """A command chosen in the palette: ask for its fields if it has any, then send it."""
        current = getattr(self._current_screen(), "current_station_id", None)
        station_id = current() if callable(current) else None
        names = {name for name, *_ in command_fields(command)}
        values: dict[str, Any] = {}
        if station_id and "station_id" in names:
            values["station_id"] = station_id
        if station_id and command in ("remove_stations", "disconnect", "partition", "set_boot_status"):
            values["station_ids"] = [station_id]
        if command == "snapshot":
            values["rows"] = False
        if not names:
            self.send_command(command, show_result=command in _READ_COMMANDS)
        else:
            self.open_command_form(command, values)

    def action_help(self) -> None:
        """List every key of the screen shown (its active bindings)."""
        screen = self._current_screen()
        if screen is None or isinstance(screen, HelpScreen):
            return
        title = type(screen).__name__.removesuffix("Screen").lower() + " screen"
        self.push_screen(HelpScreen(title, key_help(screen)))

    def action_command_palette(self) -> None:
        """Textual's palette, with an input whose editing keys keep their order (Textual issue 6605)."""
        if self.use_command_palette and not OrderedCommandPalette.is_open(self):  # type: ignore[arg-type]
            self.push_screen(OrderedCommandPalette(id="--command-palette"))

    def action_compose(self) -> None:
        current = getattr(self._current_screen(), "current_station_id", None)
        self.open_composer(current() if callable(current) else None)


def run_dashboard(control_url: str, token: str | None = None) -> int:
    """Run the dashboard in the foreground until the user quits; returns the exit status."""
    result = FleetDashboard(control_url, token).run()
    return int(result or 0)
