"""The one registry of control commands: each command Struct bound to exactly one typed handler.

A command is carried out where its route says:

* :class:`OnStation`: by a station, through its :class:`~fleet.control.handles.StationHandle`
  (the backend that holds ``command.station_id`` runs the handler; ``fleet run``'s
  supervisor forwards the command to the worker that owns the station, and the
  worker runs it through this same registry);
* :class:`OnCsms`: by a CSMS, through its :class:`~fleet.control.handles.CsmsHandle`
  (``combine`` says how ``fleet run`` joins the answers of its CSMS processes);
* :class:`OnBackend`: by the backend itself (commands about the whole fleet: the
  snapshot, adding stations, fault injection over many stations, ...), through the
  typed methods of :class:`~fleet.control.backend.ControlBackend`.

``subscribe`` and ``unsubscribe`` belong to a client's connection, not to a backend:
the server serves them (:data:`CONNECTION_COMMANDS`). Every other command of
:data:`~fleet.control.messages.Command` has a route; the registry checks it when it
is built. Adding a command: its Struct in :mod:`fleet.control.messages`, its handler
here, one ``REGISTRY.station(...)`` / ``.csms(...)`` / ``.backend(...)`` line.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, Protocol, TypeVar, cast, get_args

import msgspec

from ..ocpp import (
    VERSIONS_BY_NAME,
    CallFailure,
    CallTimeout,
    ConnectionLost,
    InvalidResponse,
    LocalProtocolError,
    ProtocolVersion,
    RemoteCallError,
)
from . import messages as m
from .errors import ControlError
from .messages import (
    Ack,
    AuthCs,
    AuthList,
    CallErrorInfo,
    Command,
    ConnectionRow,
    CsmsConnectionsResult,
    CsmsPendingResult,
    ErrorCode,
    PendingRow,
    SendResult,
    encode,
)

if TYPE_CHECKING:
    from .backend import ControlBackend
    from .handles import CsmsHandle, StationHandle

__all__ = [
    "CONNECTION_COMMANDS",
    "DEFAULT_ID_TOKEN",
    "REGISTRY",
    "OnBackend",
    "OnCsms",
    "OnStation",
    "Registry",
    "Route",
    "StationCommand",
    "decode_ocpp_request",
    "jsonable",
]

#: The id token of ``start_transaction`` when the command gives none.
DEFAULT_ID_TOKEN: Final = "FLEETCONTROL"


class StationCommand(Protocol):
    """A command addressed to one station."""

    @property
    def station_id(self) -> str: ...


C = TypeVar("C", bound=msgspec.Struct)
S = TypeVar("S", bound=StationCommand)
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class OnStation:
    """Run by the station ``command.station_id``: ``handler(station, command)``."""

    handler: Callable[[StationHandle, Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class OnCsms(Generic[R]):
    """Run by a CSMS: ``handler(csms, command)``.

    Attributes:
        combine: joins the results of several CSMS processes (a read: the processes
            that answered count); ``None``: every process must carry it out (a write),
            the first result stands for all.
        by_connection: only the process holding the station's connection runs it.
    """

    handler: Callable[[CsmsHandle, Any], Awaitable[R]]
    combine: Callable[[list[R]], R] | None = None
    by_connection: bool = False


@dataclass(frozen=True, slots=True)
class OnBackend:
    """Run by the backend itself: ``handler(backend, command)``; ``needs``: what the
    backend must drive for the command to make sense (else ``info`` leaves it out;
    ``None``: any backend serves it)."""

    handler: Callable[[ControlBackend, Any], Awaitable[Any]]
    needs: Literal["stations", "csms"] | None = None


Route = OnStation | OnCsms[Any] | OnBackend


class Registry:
    """Command Struct type -> its :data:`Route` (filled once, at import)."""

    def __init__(self) -> None:
        self._routes: dict[type[msgspec.Struct], Route] = {}

    def _add(self, command: type[Any], route: Route) -> None:
        if command in self._routes:
            raise ValueError(f"{command.__name__} has a handler already")
        self._routes[command] = route

    def station(self, command: type[S], handler: Callable[[StationHandle, S], Awaitable[object]]) -> None:
        """``command`` is carried out by the station it names."""
        self._add(command, OnStation(handler))

    def csms(
        self,
        command: type[C],
        handler: Callable[[CsmsHandle, C], Awaitable[R]],
        *,
        combine: Callable[[list[R]], R] | None = None,
        by_connection: bool = False,
    ) -> None:
        """``command`` is carried out by the CSMS."""
        self._add(command, OnCsms(handler, combine, by_connection))

    def backend(
        self,
        command: type[C],
        handler: Callable[[ControlBackend, C], Awaitable[object]],
        needs: Literal["stations", "csms"] | None = None,
    ) -> None:
        """``command`` is carried out by the backend (it concerns the whole fleet)."""
        self._add(command, OnBackend(handler, needs))

    def route(self, command: msgspec.Struct) -> Route:
        """The route of ``command``.

        Raises:
            ControlError: ``unsupported`` (no handler: a connection's own command).
        """
        route = self._routes.get(type(command))
        if route is None:
            name = _name(type(command))
            raise ControlError(ErrorCode.UNSUPPORTED, f"this server does not serve {name}")
        return route

    def __iter__(self) -> Iterator[tuple[type[msgspec.Struct], Route]]:
        return iter(self._routes.items())

    def names(self, *, stations: bool, csms: bool) -> list[str]:
        """The commands a server serves (sorted), given whether it drives stations and a CSMS."""
        served = {_name(t) for t in CONNECTION_COMMANDS}
        for command, route in self._routes.items():
            needs: str | None
            if isinstance(route, OnStation):
                needs = "stations"
            elif isinstance(route, OnCsms):
                needs = "csms"
            else:
                needs = route.needs
            if (needs != "stations" or stations) and (needs != "csms" or csms):
                served.add(_name(command))
        return sorted(served)

    async def run(self, backend: ControlBackend, command: Command) -> Any:
        """Carry out ``command`` on ``backend``; its result Struct.

        Raises:
            ControlError: the command cannot be carried out.
        """
        route = self.route(command)
        if isinstance(route, OnStation):
            # registered by station(): a command that names its station
            return await backend.on_station(cast(StationCommand, command), route.handler)
        if isinstance(route, OnCsms):
            return await backend.on_csms(command, route)
        return await route.handler(backend, command)

    def check(self) -> None:
        """Every command has exactly one route, or belongs to the connection."""
        commands = set(get_args(Command))
        missing = commands - set(self._routes) - set(CONNECTION_COMMANDS)
        extra = set(self._routes) - commands
        if missing or extra:
            raise TypeError(f"control commands without a handler: {sorted(map(_name, missing))}; "
                            f"handlers of no command: {sorted(map(_name, extra))}")


def _name(command: type[msgspec.Struct]) -> str:
    """A command's name (its ``type`` tag)."""
    return str(command.__struct_config__.tag)


#: The commands a client's connection serves itself (its subscriptions).
CONNECTION_COMMANDS: Final[tuple[type[msgspec.Struct], ...]] = (m.Subscribe, m.Unsubscribe)


# ---------------------------------------------------------------- OCPP requests


def decode_ocpp_request(version: ProtocolVersion, action: str, payload: Mapping[str, Any]) -> Any:
    """Validate ``payload`` as ``action``'s request in OCPP ``version`` and return the request Struct.

    Raises:
        ControlError: ``unknown_action`` or ``invalid_payload`` (with the JSON path).
    """
    if action not in version.actions:
        raise ControlError(ErrorCode.UNKNOWN_ACTION, f"{action!r} is not an OCPP {version.name} action")
    try:
        return version.request_decoder(action).decode(encode(payload))
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ControlError(ErrorCode.INVALID_PAYLOAD, f"invalid {action} request: {exc}") from None


def jsonable(value: Any) -> Any:
    """``value`` if the control encoder can write it, else its ``repr`` (tags are opaque objects)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    try:
        encode(value)
    except (TypeError, ValueError, OverflowError):
        return repr(value)
    return value


async def _call_outcome(command: m.Send | m.CsmsSend, message_id: str, call: Awaitable[Any]) -> SendResult:
    """The :class:`SendResult` of an OCPP call in flight."""

    def result(outcome: str, response: Any = None, error: CallErrorInfo | None = None) -> SendResult:
        return SendResult(command.station_id, command.action, message_id, outcome, response, error, command.tag)

    def failed(outcome: str, exc: CallFailure) -> SendResult:
        return result(outcome, error=CallErrorInfo(str(exc.code), exc.description or str(exc), exc.details))

    try:
        response = await call
    except RemoteCallError as exc:
        return failed("callerror", exc)
    except InvalidResponse as exc:
        return failed("invalid_response", exc)
    except CallTimeout as exc:
        return failed("timeout", exc)
    except ConnectionLost as exc:
        return failed("connection_lost", exc)
    except LocalProtocolError as exc:
        raise ControlError(ErrorCode.INVALID_PAYLOAD,
                           f"cannot send {command.action}: {exc.description or exc}") from None
    return result("response", response)


# ---------------------------------------------------------------- station handlers


async def _close(station: StationHandle, command: m.Close) -> Ack:
    await station.close()
    return Ack(station_id=command.station_id)


async def _set_retry_backoff(station: StationHandle, command: m.SetRetryBackoff) -> Ack:
    if command.minimum is None and command.repeat is None and command.random_range is None:
        raise ControlError(ErrorCode.BAD_REQUEST, "give at least one of minimum, repeat, random_range")
    await station.set_retry_backoff(command.minimum, command.repeat, command.random_range)
    return Ack(station_id=command.station_id)


async def _plug(station: StationHandle, command: m.Plug) -> Ack:
    await station.plug(command.evse_id, command.connector_id)
    return Ack(station_id=command.station_id)


async def _unplug(station: StationHandle, command: m.Unplug) -> Ack:
    await station.unplug(command.evse_id, command.connector_id)
    return Ack(station_id=command.station_id)


async def _start_transaction(station: StationHandle, command: m.StartTransaction) -> Ack:
    id_token = command.id_token if command.id_token is not None else DEFAULT_ID_TOKEN
    await station.start_transaction(command.evse_id, id_token, connector_id=command.connector_id)
    return Ack(station_id=command.station_id)


async def _stop_transaction(station: StationHandle, command: m.StopTransaction) -> Ack:
    if command.reason is None:
        await station.stop_transaction(command.evse_id)
    else:
        await station.stop_transaction(command.evse_id, command.reason)
    return Ack(station_id=command.station_id)


async def _reset(station: StationHandle, command: m.Reset) -> Ack:
    await station.reset(command.reset_type)
    return Ack(station_id=command.station_id)


async def _send(station: StationHandle, command: m.Send) -> SendResult:
    # the version the station speaks now (of several its profile offers: the one its CSMS selected)
    request = decode_ocpp_request(VERSIONS_BY_NAME[station.ocpp_version], command.action, command.payload)
    message_id = command.message_id or str(uuid.uuid4())
    call = station.call(request, action=command.action, message_id=message_id, tag=command.tag,
                        timeout=command.timeout)
    return await _call_outcome(command, message_id, call)


# ---------------------------------------------------------------- CSMS handlers


async def _csms_connections(csms: CsmsHandle, command: m.CsmsConnections) -> CsmsConnectionsResult:
    return CsmsConnectionsResult([
        ConnectionRow(c.station_id, c.ocpp_version or "", c.remote or "", float(c.connected_at))
        for c in csms.connections()
    ])


def _all_connections(parts: list[CsmsConnectionsResult]) -> CsmsConnectionsResult:
    return CsmsConnectionsResult(sorted((row for part in parts for row in part.connections),
                                        key=attrgetter("connected_at")))


async def _csms_pending(csms: CsmsHandle, command: m.CsmsPending) -> CsmsPendingResult:
    return CsmsPendingResult([
        PendingRow(p.station_id, p.message_id, p.action, jsonable(p.tag))
        for p in csms.pending_requests(command.station_id)
    ])


def _all_pending(parts: list[CsmsPendingResult]) -> CsmsPendingResult:
    return CsmsPendingResult([row for part in parts for row in part.pending])


async def _get_auth_list(csms: CsmsHandle, command: m.GetAuthList) -> AuthList:
    ids = csms.get_auth_list()
    return AuthList(enabled=ids is not None, station_ids=sorted(ids) if ids is not None else [])


def _all_auth_lists(parts: list[AuthList]) -> AuthList:
    return AuthList(enabled=any(p.enabled for p in parts), station_ids=sorted({s for p in parts for s in p.station_ids}))


async def _set_auth_list(csms: CsmsHandle, command: m.SetAuthList) -> Ack:
    csms.set_auth_list(command.auth)
    auth = command.auth
    return Ack(message="auth list off: every station is accepted" if auth is None else f"{len(auth)} stations")


async def _get_auth_cs(csms: CsmsHandle, command: m.GetAuthCs) -> AuthCs:
    enabled = csms.get_auth_list() is not None
    has = csms.get_station_password(command.station_id) is not None
    return AuthCs(command.station_id, has_password=has, auth_enabled=enabled)


def _any_auth_cs(parts: list[AuthCs]) -> AuthCs:
    return AuthCs(parts[0].station_id, has_password=any(p.has_password for p in parts),
                  auth_enabled=any(p.auth_enabled for p in parts))


async def _set_auth_cs(csms: CsmsHandle, command: m.SetAuthCs) -> Ack:
    csms.set_station_password(command.station_id, command.password)
    return Ack(station_id=command.station_id,
               message="password removed" if command.password is None else "password set")


async def _csms_send(csms: CsmsHandle, command: m.CsmsSend) -> SendResult:
    dialect = csms.dialect_of(command.station_id)  # the version its connection negotiated
    if dialect is None:
        raise ControlError(ErrorCode.NOT_CONNECTED, f"station {command.station_id!r} is not connected")
    request = decode_ocpp_request(dialect.version, command.action, command.payload)
    message_id = command.message_id or str(uuid.uuid4())
    call = csms.call(command.station_id, request, action=command.action, message_id=message_id, tag=command.tag,
                     timeout=command.timeout)
    return await _call_outcome(command, message_id, call)


# ---------------------------------------------------------------- backend handlers


async def _info(backend: ControlBackend, command: m.Info) -> Any:
    return await backend.info()


async def _snapshot(backend: ControlBackend, command: m.Snapshot) -> Any:
    return await backend.snapshot(rows=command.rows, offset=command.offset, limit=command.limit)


async def _station(backend: ControlBackend, command: m.Station) -> Any:
    return await backend.station(command.station_id)


async def _connect(backend: ControlBackend, command: m.Connect) -> Any:
    return await backend.connect(command.station_id, url=command.url, password=command.password,
                                 new_station_id=command.new_station_id)


async def _add_stations(backend: ControlBackend, command: m.AddStations) -> Any:
    return await backend.add_stations(command.profile, command.count, prefix=command.prefix, connect=command.connect)


async def _remove_stations(backend: ControlBackend, command: m.RemoveStations) -> Any:
    return await backend.remove_stations(command.station_ids)


async def _disconnect(backend: ControlBackend, command: m.Disconnect) -> Any:
    return await backend.disconnect(command.station_ids, share=command.share, seed=command.seed)


async def _partition(backend: ControlBackend, command: m.Partition) -> Any:
    return await backend.partition(command.duration, command.station_ids, share=command.share, seed=command.seed)


async def _restart_csms(backend: ControlBackend, command: m.RestartCsms) -> Any:
    return await backend.restart_csms(command.downtime)


async def _set_boot_status(backend: ControlBackend, command: m.SetBootStatus) -> Any:
    return await backend.set_boot_status(command.status, command.station_ids)


def _registry() -> Registry:
    registry = Registry()
    registry.backend(m.Info, _info)
    registry.backend(m.Snapshot, _snapshot)
    registry.backend(m.Station, _station)
    registry.backend(m.Connect, _connect, needs="stations")
    registry.station(m.Close, _close)
    registry.station(m.SetRetryBackoff, _set_retry_backoff)
    registry.station(m.Plug, _plug)
    registry.station(m.Unplug, _unplug)
    registry.station(m.StartTransaction, _start_transaction)
    registry.station(m.StopTransaction, _stop_transaction)
    registry.station(m.Reset, _reset)
    registry.backend(m.AddStations, _add_stations, needs="stations")
    registry.backend(m.RemoveStations, _remove_stations, needs="stations")
    registry.station(m.Send, _send)
    registry.csms(m.CsmsConnections, _csms_connections, combine=_all_connections)
    registry.csms(m.CsmsPending, _csms_pending, combine=_all_pending)
    registry.csms(m.GetAuthList, _get_auth_list, combine=_all_auth_lists)
    registry.csms(m.SetAuthList, _set_auth_list)
    registry.csms(m.GetAuthCs, _get_auth_cs, combine=_any_auth_cs)
    registry.csms(m.SetAuthCs, _set_auth_cs)
    registry.csms(m.CsmsSend, _csms_send, by_connection=True)
    registry.backend(m.Disconnect, _disconnect)
    registry.backend(m.Partition, _partition)
    registry.backend(m.RestartCsms, _restart_csms, needs="csms")
    registry.backend(m.SetBootStatus, _set_boot_status, needs="csms")
    registry.check()
    return registry


#: Every control command's route and handler.
REGISTRY: Final = _registry()
