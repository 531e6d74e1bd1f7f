"""The CSMS: connected stations, the auth list (ids only), pending requests."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header

from ...control.messages import AuthList, CsmsConnectionsResult, CsmsPendingResult
from ..model import DashboardModel
from ..widgets import StatusLine

if TYPE_CHECKING:
    from ..app import FleetDashboard

__all__ = ["CsmsScreen"]


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
            connections: DataTable[Text] = DataTable(id="connections", cursor_type="row")
            connections.border_title = "connected stations"
            yield connections
            with Vertical(id="csms-side"):
                auth: DataTable[Text] = DataTable(id="auth", cursor_type="row")
                auth.border_title = "auth list"
                yield auth
        pending: DataTable[Text] = DataTable(id="pending", cursor_type="row")
        pending.border_title = "pending requests"
        yield pending
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#connections", DataTable).add_columns("station", "OCPP", "remote", "since")
        self.query_one("#auth", DataTable).add_columns("station", "password")
        self.query_one("#pending", DataTable).add_columns("station", "message id", "action", "tag")
        self.query_one("#connections", DataTable).focus()
        self.set_interval(0.5, self._poll)
        self._poll()

    def refresh_model(self, model: DashboardModel) -> None:
        pass  # this screen polls the CSMS commands itself

    def _selected(self) -> str | None:
        table = self.query_one("#connections", DataTable)
        if table.row_count == 0:
            return None
        return str(table.get_row_at(table.cursor_row)[0])

    @work(group="csms-poll")
    async def _poll(self) -> None:
        if self._busy or not self.supported or not self.dashboard.connected:
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
            self.query_one(StatusLine).show("this server runs no CSMS")
            return
        pending = await self.dashboard.control("csms_pending", quiet=True)
        if isinstance(connections, CsmsConnectionsResult):
            self._fill("#connections", [
                (c.station_id, c.ocpp_version, c.remote,
                 datetime.datetime.fromtimestamp(c.connected_at).strftime("%H:%M:%S") if c.connected_at else "")
                for c in connections.connections
            ])
        if isinstance(pending, CsmsPendingResult):
            self._fill("#pending", [(p.station_id, p.message_id, p.action, str(p.tag or "")) for p in pending.pending])
        if self.ticks % 4 == 1:
            auth = await self.dashboard.control("get_auth_list", quiet=True)
            if isinstance(auth, AuthList):
                rows = [(sid, "••••••") for sid in auth.station_ids] if auth.enabled else [("(off)", "any station")]
                self._fill("#auth", rows)
        n = len(connections.connections) if isinstance(connections, CsmsConnectionsResult) else 0
        self.query_one(StatusLine).show(f"{n:,} stations connected · {self.dashboard.model.status}")

    def _fill(self, selector: str, rows: Sequence[tuple[str, ...]]) -> None:
        table: DataTable[Text] = self.query_one(selector, DataTable)
        current = [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
        if current == list(rows):
            return
        cursor = table.cursor_row
        table.clear()
        table.add_rows([tuple(Text(cell) for cell in row) for row in rows])
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def action_open(self) -> None:
        sid = self._selected()
        if sid is not None:
            self.dashboard.open_station(sid, source="csms")

    @on(DataTable.RowSelected, "#connections")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_compose(self) -> None:
        self.dashboard.open_composer(station_id=self._selected(), target="csms", action="GetVariables")

    def action_form(self, command: str) -> None:
        sid = self._selected()
        values = {"station_id": sid} if sid and command != "set_auth_list" else {}
        self.dashboard.open_command_form(command, values)
