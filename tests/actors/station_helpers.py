"""A small, test-controlled CSMS for the station tests (no dependency on the CSMS actor).

Built from ``fleet.net.transport.serve_ocpp`` + ``OcppConnection`` + ``Session``: it
records every request the stations send (station id, message id, action,
payload), answers with per-action handlers the test may replace, and lets the
test call stations, close their connections and refuse new ones.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
import trio

from fleet.actors.station.v201.handlers import STATION_INITIATED
from fleet.net.connection import CallContext, OcppConnection
from fleet.net.transport import serve_ocpp
from fleet.ocpp import Session, v201


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class Received:
    station_id: str
    message_id: str
    action: str
    request: Any


def minimal(tp: Any) -> Any:
    """A minimal valid value of a message type (required fields only)."""
    return _value(msgspec.inspect.type_info(tp))


def _value(info: Any) -> Any:
    if isinstance(info, msgspec.inspect.StructType):
        kwargs = {f.name: _value(f.type) for f in info.fields if f.required}
        return info.cls(**kwargs)
    if isinstance(info, msgspec.inspect.UnionType):
        for t in info.types:
            if not isinstance(t, msgspec.inspect.NoneType):
                return _value(t)
    if isinstance(info, msgspec.inspect.EnumType):
        return next(iter(info.cls))
    if isinstance(info, msgspec.inspect.ListType):
        return [_value(info.item_type) for _ in range(max(info.min_length or 0, 1))]
    if isinstance(info, msgspec.inspect.StrType):
        return "x" * max(info.min_length or 0, 1)
    if isinstance(info, msgspec.inspect.IntType):
        if info.ge is not None:
            return info.ge
        if info.gt is not None:
            return info.gt + 1
        return 1
    if isinstance(info, msgspec.inspect.FloatType):
        if info.ge is not None:
            return float(info.ge)
        if info.gt is not None:
            return float(info.gt) + 1.0
        return 0.0
    if isinstance(info, msgspec.inspect.BoolType):
        return False
    if isinstance(info, msgspec.inspect.DateTimeType):
        return now()
    if isinstance(info, (msgspec.inspect.AnyType, msgspec.inspect.DictType)):
        return {}
    raise TypeError(f"no minimal value for {info!r}")


def default_response(action: str, request: Any, csms: TestCsms) -> Any:
    response_type = v201.ACTIONS[action][1]
    if action == "BootNotification":
        status = csms.boot_status() if callable(csms.boot_status) else csms.boot_status
        return v201.BootNotificationResponse(current_time=now(), interval=csms.interval, status=status)
    if action == "Heartbeat":
        return v201.HeartbeatResponse(current_time=now())
    if action == "Authorize":
        status = v201.AuthorizationStatus.INVALID if request.id_token.id_token in csms.invalid_tokens \
            else v201.AuthorizationStatus.ACCEPTED
        return v201.AuthorizeResponse(id_token_info=v201.IdTokenInfo(status=status))
    return minimal(response_type)


class TestCsms:
    """The test CSMS. Start it with ``async with open_test_csms() as csms`` and use ``csms.url``.

    Attributes:
        handlers: action -> ``handler(station_id, request)`` replacing the default answer.
        boot_status: the BootNotification status (or a callable returning it).
        interval: the BootNotification interval.
        invalid_tokens: id tokens Authorize answers Invalid.
        passwords: station id -> password; when set, Basic auth is required.
        refuse: refuse every connection (HTTP 401) while true.
    """

    __test__ = False

    def __init__(self, *, passwords: dict[str, str] | None = None) -> None:
        self.handlers: dict[str, Callable[[str, Any], Any]] = {}
        self.boot_status: Any = v201.RegistrationStatus.ACCEPTED
        self.interval = 300
        self.invalid_tokens: set[str] = set()
        self.passwords = passwords
        self.refuse = False
        self.received: list[Received] = []
        self.connections: dict[str, OcppConnection] = {}
        self.connects: list[str] = []
        self.refused: list[tuple[int, str]] = []
        self.url = ""
        self._changed = trio.Event()

    # ------------------------------------------------------------- serving

    def _password_of(self, station_id: str) -> str | None:
        if self.refuse:
            return None
        if self.passwords is None:
            return None
        return self.passwords.get(station_id)

    def _auth_required(self) -> bool:
        return self.refuse or self.passwords is not None

    async def _on_station(self, accepted: Any) -> None:
        station_id = accepted.station_id
        session = Session(accepted.version, role="csms")
        handlers = {action: self._make_handler(action) for action in STATION_INITIATED}
        conn = OcppConnection(accepted.websocket, session, station_id, handlers=handlers)
        self.connections[station_id] = conn
        self.connects.append(station_id)
        self._notify()
        try:
            await conn.serve()
        finally:
            if self.connections.get(station_id) is conn:
                del self.connections[station_id]
            self._notify()

    def _make_handler(self, action: str) -> Callable[[Any, CallContext], Any]:
        def handle(request: Any, context: CallContext) -> Any:
            self.received.append(Received(context.station_id, context.message_id, action, request))
            self._notify()
            custom = self.handlers.get(action)
            if custom is not None:
                return custom(context.station_id, request)
            return default_response(action, request, self)

        return handle

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # ----------------------------------------------------------------- queries

    def requests(self, action: str | None = None, station_id: str | None = None) -> list[Any]:
        return [
            r.request
            for r in self.received
            if (action is None or r.action == action) and (station_id is None or r.station_id == station_id)
        ]

    def actions(self) -> list[str]:
        return [r.action for r in self.received]

    async def wait_for(
        self,
        action: str,
        predicate: Callable[[Any], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[Any]:
        """The first ``count`` requests of ``action`` (matching ``predicate``), waiting for them."""
        with trio.fail_after(timeout):
            while True:
                found = [r for r in self.requests(action) if predicate is None or predicate(r)]
                if len(found) >= count:
                    return found[:count]
                await self._changed.wait()

    async def wait_connected(self, station_id: str, *, connects: int = 1, timeout: float = 10.0) -> OcppConnection:
        with trio.fail_after(timeout):
            while True:
                conn = self.connections.get(station_id)
                if conn is not None and self.connects.count(station_id) >= connects:
                    return conn
                await self._changed.wait()

    async def call(self, station_id: str, request: Any, **kwargs: Any) -> Any:
        conn = await self.wait_connected(station_id)
        return await conn.call(request, **kwargs)

    async def close_station(self, station_id: str, code: int = 1000, reason: str = "bye") -> None:
        conn = self.connections.get(station_id)
        if conn is not None:
            await conn.aclose(code, reason)


@asynccontextmanager
async def open_test_csms(*, passwords: dict[str, str] | None = None) -> AsyncIterator[TestCsms]:
    csms = TestCsms(passwords=passwords)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(
            lambda task_status: serve_ocpp(
                csms._on_station,
                "127.0.0.1",
                0,
                path="/ocpp",
                password_of=csms._password_of,
                auth_required=csms._auth_required,
                on_refused=lambda status, who: csms.refused.append((status, who)),
                task_status=task_status,
            )
        )
        csms.url = f"ws://127.0.0.1:{port}/ocpp"
        try:
            yield csms
        finally:
            nursery.cancel_scope.cancel()


def enum_value(value: Any) -> str:
    return value.value if isinstance(value, enum.Enum) else str(value)


__all__ = ["Received", "TestCsms", "default_response", "enum_value", "minimal", "now", "open_test_csms"]
