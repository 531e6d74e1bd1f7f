"""A small station stand-in for the control-API and dashboard tests.

It has the documented public shape of the station actor (``snapshot()``, the
mailbox methods, ``call()``, ``subscribe()``) and speaks real OCPP-J to a real
CSMS through :class:`fleet.actors.connection.OcppConnection`, so ``send`` and
``csms_send`` cross a real websocket. Every mailbox call is recorded in
``calls`` for the tests to check. Switch these tests to the real
``fleet.actors.station.Station`` once it lands.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
import trio

from fleet.actors.connection import OcppConnection
from fleet.actors.hub import EventHub
from fleet.events import Connected, Disconnected, FleetEvent
from fleet.ocpp import ConnectionLost, Session
from fleet.ocpp.v201 import (
    BootNotificationRequest,
    BootReason,
    ChargingStation,
    ResetResponse,
    ResetStatus,
    TriggerMessageResponse,
    TriggerMessageStatus,
)
from fleet.transport import open_station_websocket


class Connector(msgspec.Struct, frozen=True):
    id: int
    status: str


class Transaction(msgspec.Struct, frozen=True):
    id: str
    power_w: float
    energy_wh: float
    soc: float | None


class Evse(msgspec.Struct, frozen=True):
    id: int
    connectors: tuple[Connector, ...]
    transaction: Transaction | None = None


class Snapshot(msgspec.Struct, frozen=True):
    id: str
    state: str
    evses: tuple[Evse, ...]
    counters: dict[str, int]
    last_error: str | None
    queued_events: int
    profile: str = ""
    url: str | None = None


class StandInStation:
    """A station with one EVSE and one connector, driven by its mailbox methods."""

    def __init__(self, station_id: str, url: str | None = None, *, profile: str = "standin",
                 password: str | None = None, observer: Any = None) -> None:
        self.id = station_id
        self.url = url
        self.profile = profile
        self.password = password
        self.observer = observer
        self.trigger_delay = 0.0
        self.state = "idle"
        self.status = "Available"
        self.tx: Transaction | None = None
        self.last_error: str | None = None
        self.counters = {"calls": 0, "errors": 0, "reconnects": 0}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.backoff = (1.0, 0, 0.0)
        self.variables_store = {"OCPPCommCtrlr.HeartbeatInterval": "60", "SecurityCtrlr.Identity": station_id}
        self._hub: EventHub[FleetEvent] = EventHub()
        self._conn: OcppConnection | None = None
        self._wanted = trio.Event()
        self._scope: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None

    # ---------------------------------------------------------------- reading
    def snapshot(self) -> Snapshot:
        evse = Evse(1, (Connector(1, self.status),), self.tx)
        return Snapshot(self.id, self.state, (evse,), dict(self.counters), self.last_error, 0, self.profile, self.url)

    def variables(self) -> dict[str, str]:
        return dict(self.variables_store)

    def subscribe(self) -> Any:
        return self._hub.subscribe()

    # ---------------------------------------------------------------- mailbox
    async def connect(self, url: str | None = None, password: str | None = None, station_id: str | None = None) -> None:
        self.calls.append(("connect", {"url": url, "password": password, "station_id": station_id}))
        self.url = url or self.url
        self.password = password or self.password
        self.id = station_id or self.id
        if self._nursery is not None and self.url:
            self._nursery.start_soon(self._run_connection)

    async def close(self) -> None:
        self.calls.append(("close", {}))
        await self.shutdown()

    async def shutdown(self) -> None:
        """Close the websocket cleanly (no recording), then stop the connection task."""
        if self._conn is not None:
            with trio.move_on_after(2):
                await self._conn.aclose(1000, "closed")
        if self._scope is not None:
            self._scope.cancel()
        self.state = "closed"

    async def set_retry_backoff(self, minimum: int | None = None, repeat: int | None = None,
                                random_range: int | None = None) -> None:
        self.calls.append(("set_retry_backoff", {"minimum": minimum, "repeat": repeat, "random_range": random_range}))

    async def plug(self, evse_id: int = 1, connector_id: int = 1) -> None:
        self.calls.append(("plug", {"evse_id": evse_id, "connector_id": connector_id}))
        if evse_id != 1:
            raise KeyError(f"no EVSE {evse_id}")
        self.status = "Occupied"

    async def unplug(self, evse_id: int = 1, connector_id: int = 1) -> None:
        self.calls.append(("unplug", {"evse_id": evse_id, "connector_id": connector_id}))
        self.status = "Available"

    async def start_transaction(self, evse_id: int = 1, connector_id: int = 1, id_token: str | None = None) -> None:
        self.calls.append(("start_transaction", {"evse_id": evse_id, "connector_id": connector_id, "id_token": id_token}))
        if self.tx is not None:
            raise RuntimeError("a transaction is already running")
        self.tx = Transaction(f"tx-{self.id}", 7400.0, 1250.0, 42.0)
        self.state = "charging"

    async def stop_transaction(self, evse_id: int = 1, reason: str | None = None) -> None:
        self.calls.append(("stop_transaction", {"evse_id": evse_id, "reason": reason}))
        self.tx = None
        self.state = "available" if self._conn is not None else "idle"

    async def reset(self, type: str = "Immediate") -> None:
        self.calls.append(("reset", {"type": type}))

    async def call(self, request: Any, *, action: str | None = None, message_id: str | None = None,
                   tag: Any = None, timeout: float | None = None) -> Any:
        if self._conn is None or self._conn.closed:
            raise ConnectionLost("not connected")
        self.counters["calls"] += 1
        try:
            return await self._conn.call(request, action=action, message_id=message_id, tag=tag, timeout=timeout)
        except Exception:
            self.counters["errors"] += 1
            raise

    # ---------------------------------------------------------------- running
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    async def _run_connection(self) -> None:
        assert self.url is not None
        self.state = "connecting"
        with trio.CancelScope() as scope:
            self._scope = scope
            try:
                async with open_station_websocket(self.url, self.id, password=self.password) as (ws, version):
                    conn = OcppConnection(
                        ws, Session(version, role="station", call_timeout=5), self.id,
                        handlers={"Reset": self._on_reset, "TriggerMessage": self._on_trigger},
                        hub=self._hub, observer=self.observer,
                    )
                    self._conn = conn
                    if self._hub.active:
                        self._hub.publish(Connected(self.id, version.name, time.time()))
                    async with trio.open_nursery() as nursery:
                        await nursery.start(conn.serve)
                        self.state = "booting"
                        boot = BootNotificationRequest(
                            charging_station=ChargingStation(model="StandIn", vendor_name="fleet-tests"),
                            reason=BootReason.POWER_UP,
                        )
                        await self.call(boot)
                        self.state = "available"
            except Exception as exc:
                self.last_error = str(exc)
                self.state = "offline"
            finally:
                self._conn = None
                if self._hub.active:
                    self._hub.publish(Disconnected(self.id, "closed", time.time()))

    def _on_reset(self, request: Any, ctx: Any) -> Any:
        return ResetResponse(status=ResetStatus.ACCEPTED)

    async def _on_trigger(self, request: Any, ctx: Any) -> Any:
        await trio.sleep(self.trigger_delay)
        return TriggerMessageResponse(status=TriggerMessageStatus.ACCEPTED)
