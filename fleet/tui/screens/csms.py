"""The CSMS: connected stations, the auth list (ids only), pending requests.

Each list may hold every station of the fleet (20,000 and more), so each is a
:class:`~fleet.tui.widgets.VirtualTable` (only the visible lines are drawn), and
the screen polls only while it is shown.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header

from ...control.messages import AuthList, CsmsConnectionsResult, CsmsPendingResult
from ..model import DashboardModel
from ..widgets import KeyBar, StatusLine, VirtualTable

if TYPE_CHECKING:
    from ..app import FleetDashboard

__all__ = ["CsmsScreen"]


_clocks: dict[int, str] = {}


def _clock(at: float) -> str:
    """``at`` as HH:MM:SS local time (cached by the second: thousands of stations share a few seconds)."""
    if not at:
        return ""
    second = int(at)
    text = _clocks.get(second)
    if text is None:
        if len(_clocks) > 100_000:
            _clocks.clear()
        text = _clocks[second] = datetime.datetime.fromtimestamp(second).strftime("%H:%M:%S")
    return text


class CsmsScreen(Screen[None]):
    """Polled at 2 Hz while shown; ``enter`` opens a connected station's frames."""

    NEEDS_ROWS = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "frames"),
        Binding("n", "compose", "send OCPP…"),
        Binding("A", "form('set_auth_list')", "set auth list"),
        Binding("P", "form('set_auth_cs')", "set password"),
        Binding("g", "form('get_auth_cs')", "has password?", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.ticks = 0
        self.supported = True
        self._busy = False

    @property
    def dashboard(self) -> FleetDashboard:
        return cast("FleetDashboard", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="csms-top"):
            connections = VirtualTable([("station", 20), ("OCPP", 6), ("remote", 22), ("since", 8)], id="connections")
            connections.border_title = "connected stations"
            yield connections
            with Vertical(id="csms-side"):
                auth = VirtualTable([("station", 20), ("password", 8)], id="auth")
                auth.border_title = "auth list"
                yield auth
        pending = VirtualTable([("station", 20), ("message id", 36), ("action", 24), ("tag", 10)], id="pending")
        pending.border_title = "pending requests"
        yield pending
        yield StatusLine(id="status")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#connections", VirtualTable).focus()
        self.set_interval(0.5, self._poll)
        self._poll()

    def on_screen_resume(self) -> None:
        self._poll()  # shown again: fresh lists now, not at the next tick

    def refresh_model(self, model: DashboardModel) -> None:
        pass  # this screen polls the CSMS commands itself (only while it is shown)

    def _selected(self) -> str | None:
        return self.query_one("#connections", VirtualTable).current_key

    @work(group="csms-poll")
    async def _poll(self) -> None:
        if self._busy or not self.supported or not self.dashboard.connected or not self.is_current:
            return
        self._busy = True
        try:
            await self._poll_once()
        finally:
            self._busy = False

    async def _poll_once(self) -> None:
        self.ticks += 1
        connections = await self.dashboard.control("csms_connections", quiet=True)
        if connections is None:
            self.supported = False
            self._status("this server runs no CSMS")
            return
        pending = await self.dashboard.control("csms_pending", quiet=True)
        if isinstance(connections, CsmsConnectionsResult):
            self._fill("#connections", [
                (c.station_id, c.ocpp_version, c.remote, _clock(c.connected_at)) for c in connections.connections
            ])
        if isinstance(pending, CsmsPendingResult):
            self._fill("#pending", [(p.station_id, p.message_id, p.action, str(p.tag or "")) for p in pending.pending])
        if self.ticks % 4 == 1:
            auth = await self.dashboard.control("get_auth_list", quiet=True)
            if isinstance(auth, AuthList):
                rows: list[tuple[str, ...]] = (
                    [(sid, "••••••") for sid in auth.station_ids] if auth.enabled else [("(off)", "any station")])
                self._fill("#auth", rows)
        n = len(connections.connections) if isinstance(connections, CsmsConnectionsResult) else 0
        self._status(f"{n:,} stations connected · {self.dashboard.model.status}")

    # An answer can arrive after the screen's widgets are gone (the screen closed or the app quit while a
    # command was in flight; the screen's own worker is cancelled only after its children are unmounted):
    # the answer is then dropped, so these look the widgets up without requiring them.
    def _fill(self, selector: str, rows: list[tuple[str, ...]]) -> None:
        for table in self.query(selector).results(VirtualTable):
            table.set_rows(rows)

    def _status(self, text: str) -> None:
        for line in self.query(StatusLine):
            line.show(text)

    def action_open(self) -> None:
        sid = self._selected()
        if sid is not None:
            self.dashboard.open_station(sid, source="csms")

    @on(VirtualTable.Selected, "#connections")
    def _row_selected(self, event: VirtualTable.Selected) -> None:
        event.stop()
        self.dashboard.open_station(event.key, source="csms")

    def action_compose(self) -> None:
        self.dashboard.open_composer(station_id=self._selected(), target="csms", action="GetVariables")

    def action_form(self, command: str) -> None:
        sid = self._selected()
        values = {"station_id": sid} if sid and command != "set_auth_list" else {}
        self.dashboard.open_command_form(command, values)
