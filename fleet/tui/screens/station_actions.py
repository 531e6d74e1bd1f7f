"""Keys that drive a station, shared by the stations table and the station screen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from ..app import FleetDashboard

__all__ = ["STATION_BINDINGS", "StationActions"]

STATION_BINDINGS: list[BindingType] = [
    Binding("c", "station('connect')", "connect"),
    Binding("C", "station_form('connect')", "connect…", show=False),
    Binding("x", "station('close')", "close"),
    Binding("p", "station('plug')", "plug"),
    Binding("u", "station('unplug')", "unplug"),
    Binding("t", "station('start_transaction')", "start tx"),
    Binding("T", "station('stop_transaction')", "stop tx"),
    Binding("r", "station('reset')", "reset", show=False),
    Binding("b", "station_form('set_retry_backoff')", "backoff", show=False),
    Binding("a", "station_form('add_stations')", "add", show=False),
    Binding("delete", "station_form('remove_stations')", "remove", show=False),
    Binding("n", "compose", "send OCPP…"),
]


class StationActions:
    """Mixin for screens with a current station (``current_station_id()``); the screen
    lists :data:`STATION_BINDINGS` in its own ``BINDINGS`` (Textual reads bindings
    from widget classes only)."""

    def current_station_id(self) -> str | None:
        raise NotImplementedError

    @property
    def dashboard(self) -> FleetDashboard:
        return cast("FleetDashboard", self.app)  # type: ignore[attr-defined]

    def _values(self, command: str) -> dict[str, Any]:
        sid = self.current_station_id()
        if command == "add_stations":
            return {"count": 1}
        if command == "remove_stations":
            return {"station_ids": [sid]} if sid else {}
        return {"station_id": sid} if sid else {}

    def action_station(self, command: str) -> None:
        sid = self.current_station_id()
        if sid is None:
            self.dashboard.notify("no station selected", severity="warning")
            return
        self.dashboard.send_command(command, station_id=sid)

    def action_station_form(self, command: str) -> None:
        self.dashboard.open_command_form(command, self._values(command))

    def action_compose(self) -> None:
        self.dashboard.open_composer(station_id=self.current_station_id(), target="station")
