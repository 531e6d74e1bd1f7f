"""What a control server drives: the :class:`ControlBackend` protocol and :class:`LocalBackend`.

The server (:mod:`fleet.control.server`) only decodes commands and calls the
backend method of the same name with the command's fields as keyword arguments;
each method returns the result Struct of :mod:`fleet.control.messages` or raises
:class:`ControlError`. Three backends are planned:

* :class:`LocalBackend` (here): station actors and/or a CSMS in this process;
* the supervisor's (``fleet run``), which forwards to its worker processes;
* the CSMS's (``fleet csms``): a :class:`LocalBackend` over the CSMS alone.

:class:`LocalBackend` is written against the public methods of the station and
CSMS actors (``snapshot()``, the mailbox methods, ``call()``, ``subscribe()``,
``connections()``, ...) by duck typing, so it does not depend on their internals.
"""

from __future__ import annotations

import inspect
import math
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any, Protocol

import msgspec
import trio

from .. import __version__
from ..events import Connected, Disconnected, OcppMessage
from ..ocpp import (
    CallTimeout,
    ConnectionLost,
    InvalidResponse,
    LocalProtocolError,
    RemoteCallError,
)
from ..ocpp.v201 import ACTIONS, request_decoder
from .messages import (
    COMMANDS,
    Ack,
    ActionLatency,
    AddStationsResult,
    AuthCs,
    AuthList,
    CallErrorInfo,
    ConnectionRow,
    ConnectorInfo,
    ControlEvent,
    CsmsConnectionsResult,
    CsmsPendingResult,
    ErrorCode,
    EvseInfo,
    FaultResult,
    FleetSnapshot,
    PendingRow,
    RemoveStationsResult,
    SendResult,
    ServerInfo,
    StationDetail,
    StationError,
    StationRow,
    TransactionInfo,
    Variable,
    encode,
)

__all__ = [
    "DEFAULT_ID_TOKEN",
    "ControlBackend",
    "ControlError",
    "EventStream",
    "LocalBackend",
    "RateTracker",
    "control_event",
    "decode_ocpp_request",
    "fault_targets",
    "ocpp_frame",
    "row_from_station_snapshot",
]


class ControlError(Exception):
    """A command cannot be carried out; the server answers with an ``error`` reply.

    Args:
        code: one of :class:`~fleet.control.messages.ErrorCode`.
        message: what went wrong, for people.
        details: anything machine-readable (e.g. the JSON path of a bad field).
    """

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


class EventStream(Protocol):
    """What a subscription yields: :class:`ControlEvent` until the source ends."""

    def __aiter__(self) -> AsyncIterator[ControlEvent]: ...


class ControlBackend(Protocol):
    """One asynchronous method per control command (``subscribe`` is an async context manager).

    Every method raises :class:`ControlError` for a failure the caller should see
    (unknown station: ``not_found``, no CSMS here: ``unsupported``, ...).
    """

    async def info(self) -> ServerInfo: ...

    async def snapshot(self, *, rows: bool = True, offset: int = 0, limit: int | None = None) -> FleetSnapshot: ...

    async def station(self, station_id: str) -> StationDetail: ...

    def subscribe(
        self, station_id: str | None, *, source: str = "auto"
    ) -> AbstractAsyncContextManager[EventStream]: ...

    async def connect(
        self,
        station_id: str,
        *,
        url: str | None = None,
        password: str | None = None,
        new_station_id: str | None = None,
    ) -> Ack: ...

    async def close(self, station_id: str) -> Ack: ...

    async def set_retry_backoff(
        self,
        station_id: str,
        *,
        minimum: int | None = None,
        repeat: int | None = None,
        random_range: int | None = None,
    ) -> Ack: ...

    async def plug(self, station_id: str, *, evse_id: int = 1, connector_id: int = 1) -> Ack: ...

    async def unplug(self, station_id: str, *, evse_id: int = 1, connector_id: int = 1) -> Ack: ...

    async def start_transaction(
        self, station_id: str, *, evse_id: int = 1, connector_id: int = 1, id_token: str | None = None
    ) -> Ack: ...

    async def stop_transaction(self, station_id: str, *, evse_id: int = 1, reason: str | None = None) -> Ack: ...

    async def reset(self, station_id: str, *, reset_type: str = "Immediate") -> Ack: ...

    async def add_stations(
        self, profile: str, count: int = 1, *, prefix: str | None = None, connect: bool = True
    ) -> AddStationsResult: ...

    async def remove_stations(self, station_ids: list[str]) -> RemoveStationsResult: ...

    async def send(
        self,
        station_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        message_id: str | None = None,
        tag: Any = None,
        timeout: float | None = None,
    ) -> SendResult: ...

    async def csms_connections(self) -> CsmsConnectionsResult: ...

    async def csms_pending(self, station_id: str | None = None) -> CsmsPendingResult: ...

    async def get_auth_list(self) -> AuthList: ...

    async def set_auth_list(self, auth: dict[str, str] | None) -> Ack: ...

    async def get_auth_cs(self, station_id: str) -> AuthCs: ...

    async def set_auth_cs(self, station_id: str, password: str | None) -> Ack: ...

    async def csms_send(
        self,
        station_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        message_id: str | None = None,
        tag: Any = None,
        timeout: float | None = None,
    ) -> SendResult: ...

    async def disconnect(
        self, station_ids: list[str] | None = None, *, share: float | None = None, seed: int | None = None
    ) -> FaultResult: ...

    async def partition(
        self, duration: float, station_ids: list[str] | None = None, *, share: float | None = None,
        seed: int | None = None,
    ) -> FaultResult: ...

    async def restart_csms(self, downtime: float = 5.0) -> FaultResult: ...

    async def set_boot_status(self, status: str | None, station_ids: list[str] | None = None) -> FaultResult: ...


# ------------------------------------------------------------------ helpers


def fault_targets(
    command: str, known: Iterable[str], station_ids: list[str] | None, share: float | None, seed: int
) -> list[str]:
    """The stations a fault command hits: ``station_ids`` (each must be ``known``), or a
    seeded ``share`` of the ``known`` ones (:func:`fleet.faults.pick_share`, drawn apart
    for each ``command``).

    Raises:
        ControlError: ``bad_request`` (neither or both given), ``not_found`` (an unknown id).
    """
    from ..faults import pick_share

    if (station_ids is None) == (share is None):
        raise ControlError(ErrorCode.BAD_REQUEST, f"{command}: give station_ids or share (one of them)")
    if station_ids is not None:
        ids = list(dict.fromkeys(station_ids))
        have = known if isinstance(known, (Mapping, set, frozenset)) else set(known)
        unknown = [sid for sid in ids if sid not in have]
        if unknown:
            shown = ", ".join(repr(sid) for sid in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            raise ControlError(ErrorCode.NOT_FOUND, f"{command}: no station {shown}", {"unknown": unknown[:1000]})
        return ids
    return pick_share(known, float(share or 0.0), seed, command)


async def _each(ids: list[str], act: Callable[[str], Awaitable[Any]]) -> int:
    """``act(id)`` for every id at once; how many returned a true value. A station that
    is not running (``conflict``) just does not count; another error is raised once
    every id had its turn."""
    hits = 0
    errors: list[ControlError] = []

    async def one(sid: str) -> None:
        nonlocal hits
        try:
            if await act(sid):
                hits += 1
        except ControlError as exc:
            if exc.code != ErrorCode.CONFLICT:
                errors.append(exc)

    async with trio.open_nursery() as nursery:
        for sid in ids:
            nursery.start_soon(one, sid)
    if errors:
        raise errors[0]
    return hits


def decode_ocpp_request(action: str, payload: Mapping[str, Any]) -> Any:
    """Validate ``payload`` as ``action``'s request and return the request Struct.

    Raises:
        ControlError: ``unknown_action`` or ``invalid_payload`` (with the JSON path).
    """
    if action not in ACTIONS:
        raise ControlError(ErrorCode.UNKNOWN_ACTION, f"{action!r} is not an OCPP 2.0.1 action")
    try:
        return request_decoder(action).decode(encode(payload))
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ControlError(ErrorCode.INVALID_PAYLOAD, f"invalid {action} request: {exc}") from None


def _jsonable(value: Any) -> Any:
    """``value`` if the control encoder can write it, else its ``repr`` (tags are opaque objects)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    try:
        encode(value)
    except (TypeError, ValueError, OverflowError):
        return repr(value)
    return value


def ocpp_frame(event: OcppMessage) -> list[Any]:
    """The OCPP-J frame of an :class:`~fleet.events.OcppMessage` (as a JSON array)."""
    if event.kind == "request":
        return [2, event.message_id, event.action, event.payload]
    if event.kind == "response":
        return [3, event.message_id, event.payload]
    error = event.payload if isinstance(event.payload, Mapping) else {}
    return [4, event.message_id, error.get("code", ""), error.get("description", ""), error.get("details") or {}]


def control_event(event: Any, source: str = "station") -> ControlEvent | None:
    """The :class:`ControlEvent` of a :mod:`fleet.events` event (``None`` for other objects)."""
    if isinstance(event, OcppMessage):
        return ControlEvent(
            station_id=event.station_id,
            kind=event.kind,
            at=event.at or time.time(),
            direction=event.direction,
            source=source,
            action=event.action,
            message_id=event.message_id,
            payload=event.payload,
            tag=_jsonable(event.tag),
            frame=ocpp_frame(event),
            ocpp_version=event.ocpp_version,
        )
    if isinstance(event, Connected):
        return ControlEvent(event.station_id, "connected", event.at, source=source, ocpp_version=event.ocpp_version)
    if isinstance(event, Disconnected):
        return ControlEvent(event.station_id, "disconnected", event.at, source=source, reason=event.reason)
    return None


class _MappedEvents:
    """Async iterator of ControlEvents over a receive channel of fleet events."""

    def __init__(self, receive: Any, source: str) -> None:
        self._receive = receive
        self._source = source

    def __aiter__(self) -> _MappedEvents:
        return self

    async def __anext__(self) -> ControlEvent:
        while True:
            try:
                raw = await self._receive.receive()
            except (trio.EndOfChannel, trio.ClosedResourceError, StopAsyncIteration):
                raise StopAsyncIteration from None
            event = control_event(raw, self._source)
            if event is not None:
                return event


class RateTracker:
    """Per-second rates of running totals, from samples ``(time taken, total)``.

    A rate is the change of a total over about the last ``window`` seconds of its
    samples, divided by the time between them, where the times are those at which the
    totals were *taken* (at their source, e.g. a worker's status): a reader that asks
    more often than the totals change gets the same rate again (never 0 between two
    updates), and a sample that arrives late still counts over the time it covers.
    """

    def __init__(self, window: float = 3.0, min_interval: float = 0.25) -> None:
        self.window = window
        self.min_interval = min_interval
        self._samples: dict[str, deque[tuple[float, float]]] = {}
        self._rates: dict[str, float] = {}

    def rate(self, key: str, total: float, at: float | None = None) -> float:
        """The rate of ``key`` given its ``total`` taken at ``at`` (default: now, ``time.monotonic()``)."""
        at = time.monotonic() if at is None else at
        samples = self._samples.get(key)
        if samples is None or (samples and total < samples[-1][1]):  # new, or the total started anew
            self._samples[key] = deque([(at, total)])
            self._rates[key] = 0.0
            return 0.0
        newest_at = samples[-1][0]
        if at <= newest_at:  # the same figures again (or older ones)
            return self._rates[key]
        while len(samples) > 1 and samples[1][0] <= at - self.window:
            samples.popleft()
        base_at, base_total = samples[0]
        rate = self._rates[key] = (total - base_total) / (at - base_at)
        if at - newest_at >= self.min_interval:
            samples.append((at, total))
        return rate


_MISSING: Any = object()
#: (type, candidate names) -> the first name the type has (None: none; _MAPPING: look up keys).
_RESOLVED: dict[tuple[type, tuple[str, ...]], Any] = {}


_MAPPING: Any = object()


def _resolve(obj: Any, names: tuple[str, ...]) -> Any:
    if isinstance(obj, Mapping):
        name: Any = _MAPPING
    else:
        name = next((n for n in names if getattr(obj, n, _MISSING) is not _MISSING), None)
    if len(_RESOLVED) < 10_000:
        _RESOLVED[(type(obj), names)] = name
    return name


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """The first attribute (or mapping key) of ``names`` that ``obj`` has (resolved once per type)."""
    if obj is None:
        return default
    name = _RESOLVED.get((type(obj), names), _MISSING)
    if name is _MISSING:
        name = _resolve(obj, names)
    if name is None:
        return default
    if name is _MAPPING:
        for key in names:
            if key in obj:
                return obj[key]
        return default
    value = getattr(obj, name, default)
    return default if value is msgspec.UNSET else value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if type(value) is str:
        return value
    message = _get(value, "message", "description", "reason")
    return str(message) if message is not None else str(value)


def _number(value: Any, default: float = 0.0) -> float:
    if type(value) is float:
        return value if math.isfinite(value) else default
    if type(value) is int:
        return float(value)
    try:
        result = float(value)
    except (TypeError, ValueError):
        return default
    return result if math.isfinite(result) else default


def _count(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, (list, tuple, set, dict)):
        return len(value)
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _evses_of(snapshot: Any) -> list[Any]:
    evses = _get(snapshot, "evses", default=None)
    if isinstance(evses, Mapping):
        return list(evses.values())
    return list(evses or [])


def _connectors_of(evse: Any) -> list[Any]:
    connectors = _get(evse, "connectors", default=None)
    if isinstance(connectors, Mapping):
        return list(connectors.values())
    return list(connectors or [])


def _transaction_of(evse: Any) -> Any:
    return _get(evse, "transaction", "tx", default=None)


def _tx_id(evse: Any) -> str | None:
    tx = _transaction_of(evse)
    value = _get(tx, "id", "transaction_id") if tx is not None else _get(evse, "transaction_id", "tx_id")
    return str(value) if value else None


def _evse_figure(evse: Any, *names: str) -> Any:
    tx = _transaction_of(evse)
    value = _get(tx, *names) if tx is not None else None
    return value if value is not None else _get(evse, *names)


def _values(container: Any) -> Any:
    if container is None:
        return ()
    if type(container) is dict or isinstance(container, Mapping):
        return container.values()
    return container


def row_from_station_snapshot(snapshot: Any, profile: str = "") -> StationRow:
    """A :class:`StationRow` from a station actor's snapshot (read by attribute name, defensively).

    Attribute names are resolved once per snapshot type, so a row costs a few
    microseconds; ``LocalBackend`` also reuses the row of an unchanged snapshot.
    """
    evses = _values(_get(snapshot, "evses"))
    connectors: list[str] = []
    power = energy = 0.0
    soc: float | None = None
    tx_id: str | None = None
    any_evse = False
    for evse in evses:
        any_evse = True
        for connector in _values(_get(evse, "connectors")):
            connectors.append(str(_get(connector, "status", default="Unknown")))
        tx = _get(evse, "transaction", "tx")
        source = tx if tx is not None else evse
        power += _number(_get(source, "power_w", "power"))
        energy += _number(_get(source, "energy_wh", "energy"))
        if soc is None:
            value = _get(source, "soc")
            soc = _number(value) if value is not None else None
        if tx_id is None:
            value = _get(tx, "id", "transaction_id") if tx is not None else _get(evse, "transaction_id", "tx_id")
            tx_id = str(value) if value else None
    if not any_evse:
        connectors = [str(_get(c, "status", default="Unknown")) for c in _values(_get(snapshot, "connectors"))]
    power = _number(_get(snapshot, "power_w", default=power), power)
    energy = _number(_get(snapshot, "energy_wh", default=energy), energy)
    top_soc = _get(snapshot, "soc")
    if top_soc is not None:
        soc = _number(top_soc)
    if tx_id is None:
        value = _get(snapshot, "transaction_id", "tx_id")
        tx_id = str(value) if value else None
    counters = _get(snapshot, "counters")
    if counters is None:
        counters = {}
    elif isinstance(counters, msgspec.Struct):
        counters = msgspec.structs.asdict(counters)
    elif not isinstance(counters, Mapping):
        counters = {}
    get = counters.get
    reconnects = get("reconnects")
    if reconnects is None:
        reconnects = max(0, _count(get("connects", 0)) - 1)
    return StationRow(
        id=str(_get(snapshot, "id", "station_id", default="?")),
        profile=str(_get(snapshot, "profile", default=profile) or profile),
        state=str(_get(snapshot, "state", default="idle")),
        connectors=connectors,
        power_w=power,
        energy_wh=energy,
        soc=soc,
        tx_id=tx_id,
        last_error=_text(_get(snapshot, "last_error")),
        calls=_count(get("calls", 0)),  # StationCounters.calls: our CALLs that got an answer or failed
        errors=_count(get("calls_failed", 0)),  # StationCounters.calls_failed: of those, failed
        reconnects=_count(reconnects),
        queued=_count(_get(snapshot, "queued_events", "queued", "queue", default=0)),
    )


def _detail_from_station(station: Any, snapshot: Any, profile: str) -> StationDetail:
    row = row_from_station_snapshot(snapshot, profile)
    evses = []
    for index, evse in enumerate(_evses_of(snapshot), start=1):
        connectors = [
            ConnectorInfo(int(_get(c, "id", "connector_id", default=i)), str(_get(c, "status", default="Unknown")))
            for i, c in enumerate(_connectors_of(evse), start=1)
        ]
        tx_id = _tx_id(evse)
        tx = None
        if tx_id:
            source = _transaction_of(evse)
            if source is None:
                source = evse  # the EVSE snapshot carries its transaction's figures itself
            soc = _evse_figure(evse, "soc")
            started = _get(source, "started_at", "started")
            tx = TransactionInfo(
                id=tx_id,
                power_w=_number(_evse_figure(evse, "power_w", "power")),
                energy_wh=_number(_evse_figure(evse, "energy_wh", "energy")),
                soc=_number(soc) if soc is not None else None,
                id_token=_text(_get(source, "id_token")) or None,
                started_at=str(started) if started is not None else None,
                state=_text(_get(source, "charging_state", "state")) or None,
            )
        evses.append(EvseInfo(int(_get(evse, "id", "evse_id", default=index)), connectors, tx))
    variables = _variables_of(station, snapshot)
    errors_raw = _get(snapshot, "errors", "last_errors", default=None)
    errors: list[StationError] = []
    if isinstance(errors_raw, (list, tuple)):
        errors = [StationError(_text(e), _at(e)) for e in errors_raw]
    elif row.last_error:
        errors = [StationError(row.last_error, _at(_get(snapshot, "last_error")))]
    counters = _get(snapshot, "counters", default={}) or {}
    if isinstance(counters, msgspec.Struct):
        counters = msgspec.structs.asdict(counters)
    extra: dict[str, Any] = {}
    for name in ("ocpp_version", "url", "booted_at", "connected_at", "registration", "backoff", "retry_backoff"):
        value = _get(snapshot, name)
        if value is not None:
            extra[name] = _jsonable(value)
    return StationDetail(
        row=row,
        url=_get(snapshot, "url", "csms_url"),
        ocpp_version=_get(snapshot, "ocpp_version"),
        evses=evses,
        variables=variables,
        errors=errors,
        counters={str(k): _count(v) for k, v in dict(counters).items()},
        extra=extra,
    )


def _at(error: Any) -> float | None:
    value = _get(error, "at", "time", "timestamp")
    return _number(value) if isinstance(value, (int, float)) else None


#: Variables whose values are secrets: shown masked, never sent.
_SECRET_WORDS = ("password", "secret", "privatekey")
MASK = "••••••"


def _masked(variable: str, value: str | None) -> str | None:
    if value and any(word in variable.lower() for word in _SECRET_WORDS):
        return MASK
    return value


def _device_model_variables(station: Any) -> list[Any] | None:
    """ReportData of the station's whole device model, if it has one (``station.model``)."""
    model = getattr(station, "model", None)
    report = getattr(model, "base_report", None)
    if report is None:
        return None
    from ..ocpp.v201 import ReportBase

    try:
        return list(report(ReportBase.FULL_INVENTORY))
    except Exception:  # an actor in the making: no variables rather than no detail
        return None


def _variables_of(station: Any, snapshot: Any) -> list[Variable]:
    source: Any = _get(snapshot, "variables", default=None)
    if source is None:
        getter = getattr(station, "variables", None)
        if callable(getter):
            try:
                source = getter()
            except Exception:  # a stand-in or an older actor: no variables
                source = None
    if source is None:
        report = _device_model_variables(station)
        if report is not None:
            return [_variable_from_report(r) for r in report]
    if not source:
        return []
    out: list[Variable] = []
    items: Iterable[Any] = source.items() if isinstance(source, Mapping) else source
    for item in items:
        if isinstance(item, tuple) and len(item) == 2:  # {"Component.Variable": value} or {(c, v): value}
            name, value = item
            if isinstance(name, tuple):
                component, variable = str(name[0]), str(name[-1])
            else:
                component, _, variable = str(name).rpartition(".")
            text = None if value is None else str(value)
            out.append(Variable(component or "", variable, _masked(variable, text)))
        else:
            value = _get(item, "value")
            evse = _get(item, "evse_id", "evse")
            variable = str(_get(item, "variable", "name", default=""))
            out.append(Variable(
                component=str(_get(item, "component", default="")),
                variable=variable,
                value=_masked(variable, None if value is None else str(value)),
                instance=_get(item, "instance"),
                evse_id=evse if isinstance(evse, int) else None,
            ))
    return out


def _variable_from_report(report: Any) -> Variable:
    component = report.component
    variable = report.variable
    actual = next((a for a in report.variable_attribute if str(_get(a, "type", default="Actual")) == "Actual"),
                  report.variable_attribute[0] if report.variable_attribute else None)
    value = _get(actual, "value") if actual is not None else None
    evse = _get(component, "evse")
    instance = _get(component, "instance")
    name = str(variable.name)
    variable_instance = _get(variable, "instance")
    return Variable(
        component=str(component.name),
        variable=name + (f"[{variable_instance}]" if variable_instance else ""),
        value=_masked(name, None if value is None else str(value)),
        instance=str(instance) if instance else None,
        evse_id=int(_get(evse, "id")) if evse is not None else None,
    )


def _profile_name(station: Any) -> str:
    profile = getattr(station, "profile", None)
    if isinstance(profile, str):
        return profile
    name = getattr(profile, "name", None)
    return str(name) if name else ""


# -------------------------------------------------------- CSMS-side views


def _measure(meter_values: Iterable[Any], measurand: str) -> float | None:
    found: float | None = None
    for meter_value in meter_values or ():
        for sampled in _get(meter_value, "sampled_value", default=()) or ():
            m = _get(sampled, "measurand")
            if m is msgspec.UNSET or m is None:
                m = "Energy.Active.Import.Register"
            phase = _get(sampled, "phase")
            if str(m) == measurand and (phase is None or phase is msgspec.UNSET):
                found = _number(_get(sampled, "value"))
    return found


def _active_transactions(record: Any) -> list[Any]:
    transactions = _get(record, "transactions", default={}) or {}
    return [t for t in transactions.values() if not _get(t, "ended", default=False)]


def _row_from_record(record: Any) -> StationRow:
    """A :class:`StationRow` for a station as the CSMS sees it."""
    active = _active_transactions(record)
    connected = bool(_get(record, "connected", default=False))
    registration = _get(record, "registration_status")
    statuses = [str(_get(c, "status", default="Unknown")) for c in _get(record, "connectors", default=()) or ()]
    if not connected:
        state = "offline"
    elif registration in ("Pending", "Rejected"):
        state = str(registration).lower()
    elif registration is None:
        state = "booting"
    elif active:
        state = "charging"
    elif "Faulted" in statuses:
        state = "faulted"
    else:
        state = "available"
    tx = active[0] if active else None
    meter = _get(tx, "meter_values", default=()) if tx is not None else ()
    boot = _get(record, "boot")
    model = _get(_get(boot, "charging_station"), "model", default="") if boot is not None else ""
    messages = _get(record, "messages", default={}) or {}
    return StationRow(
        id=str(_get(record, "station_id", default="?")),
        profile=str(model or ""),
        state=state,
        connectors=statuses,
        power_w=_measure(meter, "Power.Active.Import") or 0.0,
        energy_wh=_number(_get(tx, "energy_wh")) if tx is not None else 0.0,
        soc=_measure(meter, "SoC"),
        tx_id=str(_get(tx, "transaction_id")) if tx is not None else None,
        last_error="" if connected else str(_get(record, "disconnect_reason", default="") or ""),
        calls=sum(messages.values()),
        reconnects=max(0, _count(_get(record, "connections")) - 1),
    )


def _detail_from_record(record: Any) -> StationDetail:
    row = _row_from_record(record)
    by_evse: dict[int, list[ConnectorInfo]] = {}
    for c in _get(record, "connectors", default=()) or ():
        by_evse.setdefault(int(_get(c, "evse_id", default=1)), []).append(
            ConnectorInfo(int(_get(c, "connector_id", default=1)), str(_get(c, "status", default="Unknown")))
        )
    txs: dict[int, TransactionInfo] = {}
    for tx in _active_transactions(record):
        meter = _get(tx, "meter_values", default=()) or ()
        evse_id = _get(tx, "evse_id") or 1
        started = _get(tx, "started_at")
        txs[int(evse_id)] = TransactionInfo(
            id=str(_get(tx, "transaction_id")),
            power_w=_measure(meter, "Power.Active.Import") or 0.0,
            energy_wh=_number(_get(tx, "energy_wh")),
            soc=_measure(meter, "SoC"),
            id_token=_get(tx, "id_token"),
            started_at=str(started) if started is not None else None,
            state=_get(tx, "charging_state"),
        )
    evses = [EvseInfo(e, by_evse.get(e, []), txs.get(e)) for e in sorted(set(by_evse) | set(txs))]
    boot = _get(record, "boot")
    variables = []
    if boot is not None:
        cs = _get(boot, "charging_station")
        for name in ("model", "vendor_name", "serial_number", "firmware_version"):
            value = _get(cs, name)
            if value is not None and value is not msgspec.UNSET:
                variables.append(Variable("ChargingStation", name, str(value)))
    errors = [StationError(row.last_error, _get(record, "disconnected_at"))] if row.last_error else []
    return StationDetail(
        row=row,
        ocpp_version=_get(record, "ocpp_version"),
        evses=evses,
        variables=variables,
        errors=errors,
        counters={str(k): int(v) for k, v in (_get(record, "messages", default={}) or {}).items()},
        extra={
            "remote": _get(record, "remote"),
            "registration_status": _get(record, "registration_status"),
            "connections": _get(record, "connections"),
            "firmware_status": _get(record, "firmware_status"),
        },
    )


#: The id token of ``start_transaction`` when the command gives none.
DEFAULT_ID_TOKEN = "FLEETCONTROL"


def _parameters(target: Any, name: str) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(getattr(target, name)).parameters
    except (AttributeError, TypeError, ValueError):
        return {}


def _pick(parameters: Mapping[str, Any], *names: str) -> str:
    """The first of ``names`` the method takes (else the first name)."""
    return next((n for n in names if n in parameters), names[0])


async def _invoke(target: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``target.name(*args, **kwargs)`` (keyword arguments it does not take, and
    ``None`` ones, left out) and await the result if it is awaitable."""
    method = getattr(target, name, None)
    if method is None or not callable(method):
        raise ControlError(ErrorCode.UNSUPPORTED, f"{type(target).__name__} has no {name}()")
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        parameters = None
    if parameters is not None and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in parameters}
    try:
        result = method(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
    except ControlError:
        raise
    except LookupError as exc:
        raise ControlError(ErrorCode.NOT_FOUND, str(exc)) from None
    except RuntimeError as exc:
        raise ControlError(ErrorCode.CONFLICT, str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise ControlError(ErrorCode.BAD_REQUEST, str(exc)) from None
    return result


async def _ocpp_call(
    target: Any,
    args: tuple[Any, ...],
    station_id: str,
    action: str,
    payload: Mapping[str, Any],
    message_id: str | None,
    tag: Any,
    timeout: float | None,
) -> SendResult:
    request = decode_ocpp_request(action, payload)
    message_id = message_id or str(uuid.uuid4())

    def result(outcome: str, response: Any = None, error: Exception | None = None) -> SendResult:
        info = None
        if error is not None:
            code = str(getattr(error, "code", type(error).__name__))
            info = CallErrorInfo(code, str(getattr(error, "description", "") or error), getattr(error, "details", {}) or {})
        return SendResult(station_id, action, message_id, outcome, response, info, tag)

    kwargs: dict[str, Any] = {"action": action, "message_id": message_id, "tag": tag}
    if timeout is not None:
        kwargs["timeout"] = timeout
    try:
        response = await target.call(*args, request, **kwargs)
    except RemoteCallError as exc:
        return result("callerror", error=exc)
    except InvalidResponse as exc:
        return result("invalid_response", error=exc)
    except CallTimeout as exc:
        return result("timeout", error=exc)
    except ConnectionLost as exc:
        if type(exc).__name__ == "StationNotConnected":
            raise ControlError(ErrorCode.NOT_CONNECTED, str(exc)) from None
        return result("connection_lost", error=exc)
    except LocalProtocolError as exc:
        raise ControlError(ErrorCode.INVALID_PAYLOAD, f"cannot send {action}: {exc.description or exc}") from None
    if isinstance(response, msgspec.Struct) and hasattr(response, "response") and hasattr(response, "message_id"):
        response = response.response  # a ResultReceived
    return result("response", response)


# ---------------------------------------------------------------- LocalBackend

#: spawn(profile, station_ids, connect) -> the new station actors by id, started.
SpawnStations = Callable[[str, list[str], bool], Awaitable[Mapping[str, Any]]]
#: retire(station_id, station): stop one station for good.
RetireStation = Callable[[str, Any], Awaitable[None]]


class LocalBackend:
    """A :class:`ControlBackend` over actors in this process.

    Args:
        stations: station id -> station actor (a live mapping: stations added or
            removed by the owner show at the next snapshot).
        csms: a CSMS actor, for the CSMS commands and, without stations, the snapshot.
        metrics: the process's :class:`fleet.metrics.Metrics` (latency per action, errors by code).
        profiles: station id -> profile name, where the snapshots do not say.
        spawn: makes and starts stations for ``add_stations``; without it ``add_stations``
            is ``unsupported``.
        retire: stops a station for ``remove_stations`` (default: its ``close()``).
        phase: returns the run's phase for snapshots.
        kind: ``fleet`` or ``csms`` (default: ``csms`` when there is a CSMS and no stations).
        seed: the default seed of the fault commands' ``share`` draws.
    """

    def __init__(
        self,
        stations: MutableMapping[str, Any] | None = None,
        csms: Any | None = None,
        *,
        metrics: Any | None = None,
        profiles: MutableMapping[str, str] | None = None,
        spawn: SpawnStations | None = None,
        retire: RetireStation | None = None,
        phase: Callable[[], str] | None = None,
        kind: str | None = None,
        seed: int = 0,
    ) -> None:
        self.stations: MutableMapping[str, Any] = stations if stations is not None else {}
        self.csms = csms
        self.metrics = metrics
        self.profiles: MutableMapping[str, str] = profiles if profiles is not None else {}
        self.spawn = spawn
        self.retire = retire
        self.phase = phase
        self.kind = kind or ("csms" if csms is not None and stations is None else "fleet")
        self.seed = seed
        self._rates = RateTracker()
        self._stats_cache: tuple[float, list[Any]] = (0.0, [])
        self._row_cache: dict[str, tuple[Any, StationRow]] = {}

    # ----------------------------------------------------------- lookups

    def _station(self, station_id: str) -> Any:
        station = self.stations.get(station_id)
        if station is None:
            raise ControlError(ErrorCode.NOT_FOUND, f"no station {station_id!r}")
        return station

    def _csms(self) -> Any:
        if self.csms is None:
            raise ControlError(ErrorCode.UNSUPPORTED, "this server runs no CSMS")
        return self.csms

    # ----------------------------------------------------------- reading

    async def info(self) -> ServerInfo:
        commands = sorted(COMMANDS)
        if self.csms is None:
            commands = [c for c in commands
                        if not c.startswith("csms_") and "auth" not in c and c not in ("restart_csms", "set_boot_status")]
        if not self.stations and self.kind == "csms":
            commands = [c for c in commands if c not in _STATION_COMMANDS]
        return ServerInfo(self.kind, __version__, commands, len(self.stations), self.csms is not None)

    def _all_rows(self) -> list[StationRow]:
        if self.kind == "csms" and not self.stations:
            records = self.csms.stations() if self.csms is not None else {}
            return [_row_from_record(records[sid]) for sid in sorted(records)]
        profiles = self.profiles
        cache = self._row_cache
        fresh: dict[str, tuple[Any, StationRow]] = {}
        rows = []
        for sid in sorted(self.stations):
            station = self.stations[sid]
            try:
                snap = station.snapshot()
            except Exception as exc:  # a broken actor must not break the dashboard
                rows.append(StationRow(sid, profiles.get(sid, ""), "faulted", last_error=f"snapshot failed: {exc}"))
                continue
            cached = cache.get(sid)
            if cached is not None and cached[0] is snap:  # an unchanged (published, frozen) snapshot
                row = cached[1]
            else:
                row = row_from_station_snapshot(snap, profiles.get(sid) or _profile_name(station))
            fresh[sid] = (snap, row)
            rows.append(row)
        self._row_cache = fresh
        return rows

    def _action_stats(self, now: float) -> tuple[float, list[Any]]:
        """The latency per action (exported at most once a second) and when it was taken."""
        if self.metrics is None:
            return now, []
        cached_at, stats = self._stats_cache
        if now - cached_at >= 1.0:
            stats = self.metrics.export().action_stats()
            self._stats_cache = (now, stats)
            cached_at = now
        return cached_at, stats

    async def snapshot(self, *, rows: bool = True, offset: int = 0, limit: int | None = None) -> FleetSnapshot:
        now = time.monotonic()
        all_rows = self._all_rows()
        states: dict[str, int] = {}
        for row in all_rows:
            states[row.state] = states.get(row.state, 0) + 1
        actions: list[ActionLatency] = []
        errors: dict[str, int] = {}
        counters: dict[str, int] = {}
        completed = failed = 0
        metrics = self.metrics
        if metrics is not None:
            completed, failed = int(metrics.completed), int(metrics.failed)
            counters = {str(k): int(v) for k, v in dict(metrics.counters).items()}
            taken_at, stats = self._action_stats(now)
            for stat in stats:
                err = sum(stat.errors.values())
                for code, n in stat.errors.items():
                    errors[code] = errors.get(code, 0) + n
                actions.append(ActionLatency(
                    stat.action, stat.direction, stat.count,
                    round(self._rates.rate(f"{stat.direction}:{stat.action}", stat.count, taken_at), 2),
                    stat.p50_ms, stat.p99_ms, err,
                ))
        elif self.csms is not None and self.kind == "csms":
            stats = self.csms.statistics()
            completed = sum(stats.messages.values())
            failed = stats.calls_failed
            for action, n in stats.messages.items():
                rate = round(self._rates.rate(f"in:{action}", n, now), 2)
                actions.append(ActionLatency(action, "in", n, rate))
            counters = {"connections": stats.connections, "replaced": stats.replaced,
                        "violations": stats.violations, "calls_sent": stats.calls_sent}
            for status, n in stats.refused.items():
                counters[f"refused_{status}"] = n
        else:
            completed = sum(r.calls - r.errors for r in all_rows)
            failed = sum(r.errors for r in all_rows)
        reconnects = counters.get("reconnects", sum(r.reconnects for r in all_rows))
        csms_connected = len(self.csms.connections()) if self.csms is not None else 0
        page: list[StationRow] | None = None
        if rows:
            page = all_rows[offset:] if limit is None else all_rows[offset : offset + limit]
        return FleetSnapshot(
            at=time.time(),
            kind=self.kind,
            phase=self.phase() if self.phase is not None else "",
            total=len(all_rows),
            states=states,
            calls_per_s=round(self._rates.rate("calls", completed, now), 2),
            failed_per_s=round(self._rates.rate("failed", failed, now), 2),
            completed=completed,
            failed=failed,
            actions=actions,
            errors=errors,
            reconnects=reconnects,
            counters=counters,
            csms_connected=csms_connected,
            rows=page,
        )

    async def station(self, station_id: str) -> StationDetail:
        station = self.stations.get(station_id)
        if station is not None:
            profile = self.profiles.get(station_id) or _profile_name(station)
            return _detail_from_station(station, station.snapshot(), profile)
        if self.csms is not None:
            record = self.csms.station(station_id)
            if record is not None:
                return _detail_from_record(record)
        raise ControlError(ErrorCode.NOT_FOUND, f"no station {station_id!r}")

    @asynccontextmanager
    async def subscribe(self, station_id: str | None, *, source: str = "auto") -> AsyncIterator[EventStream]:
        if station_id is None:
            csms = self._csms() if source != "station" else None
            if csms is None:
                raise ControlError(ErrorCode.BAD_REQUEST, "subscribe to stations one at a time: give station_id")
            async with csms.subscribe() as receive:
                yield _MappedEvents(receive, "csms")
            return
        station = self.stations.get(station_id)
        if source == "station" or (source == "auto" and station is not None):
            station = self._station(station_id)
            async with station.subscribe() as receive:
                yield _MappedEvents(receive, "station")
            return
        csms = self._csms() if source == "csms" else self.csms
        if csms is None:
            raise ControlError(ErrorCode.NOT_FOUND, f"no station {station_id!r}")
        async with csms.subscribe(station_id) as receive:
            yield _MappedEvents(receive, "csms")

    # ----------------------------------------------------------- station commands

    async def connect(
        self,
        station_id: str,
        *,
        url: str | None = None,
        password: str | None = None,
        new_station_id: str | None = None,
    ) -> Ack:
        station = self._station(station_id)
        if new_station_id is not None and new_station_id != station_id and new_station_id in self.stations:
            raise ControlError(ErrorCode.CONFLICT, f"station id {new_station_id!r} is taken")
        await _invoke(station, "connect", url=url, password=password, station_id=new_station_id)
        if new_station_id is not None and new_station_id != station_id:
            self.stations[new_station_id] = self.stations.pop(station_id)
            if station_id in self.profiles:
                self.profiles[new_station_id] = self.profiles.pop(station_id)
            return Ack(station_id=new_station_id, message=f"{station_id} is now {new_station_id}")
        return Ack(station_id=station_id)

    async def close(self, station_id: str) -> Ack:
        await _invoke(self._station(station_id), "close")
        return Ack(station_id=station_id)

    async def set_retry_backoff(
        self,
        station_id: str,
        *,
        minimum: int | None = None,
        repeat: int | None = None,
        random_range: int | None = None,
    ) -> Ack:
        if minimum is None and repeat is None and random_range is None:
            raise ControlError(ErrorCode.BAD_REQUEST, "give at least one of minimum, repeat, random_range")
        station = self._station(station_id)
        names = _parameters(station, "set_retry_backoff")
        await _invoke(station, "set_retry_backoff", **{
            _pick(names, "minimum", "wait_minimum"): minimum,
            _pick(names, "repeat", "repeat_times"): repeat,
            _pick(names, "random_range", "random"): random_range,
        })
        return Ack(station_id=station_id)

    async def plug(self, station_id: str, *, evse_id: int = 1, connector_id: int = 1) -> Ack:
        await _invoke(self._station(station_id), "plug", evse_id=evse_id, connector_id=connector_id)
        return Ack(station_id=station_id)

    async def unplug(self, station_id: str, *, evse_id: int = 1, connector_id: int = 1) -> Ack:
        await _invoke(self._station(station_id), "unplug", evse_id=evse_id, connector_id=connector_id)
        return Ack(station_id=station_id)

    async def start_transaction(
        self, station_id: str, *, evse_id: int = 1, connector_id: int = 1, id_token: str | None = None
    ) -> Ack:
        await _invoke(
            self._station(station_id), "start_transaction", evse_id=evse_id, connector_id=connector_id,
            id_token=id_token if id_token is not None else DEFAULT_ID_TOKEN,
        )
        return Ack(station_id=station_id)

    async def stop_transaction(self, station_id: str, *, evse_id: int = 1, reason: str | None = None) -> Ack:
        await _invoke(self._station(station_id), "stop_transaction", evse_id=evse_id, reason=reason)
        return Ack(station_id=station_id)

    async def reset(self, station_id: str, *, reset_type: str = "Immediate") -> Ack:
        station = self._station(station_id)
        parameters = _parameters(station, "reset")
        name = next((n for n in ("reset_type", "type", "kind", "mode") if n in parameters), None)
        if name is None:
            await _invoke(station, "reset", reset_type)
        else:
            await _invoke(station, "reset", **{name: reset_type})
        return Ack(station_id=station_id)

    async def add_stations(
        self, profile: str, count: int = 1, *, prefix: str | None = None, connect: bool = True
    ) -> AddStationsResult:
        if self.spawn is None:
            raise ControlError(ErrorCode.UNSUPPORTED, "this server cannot add stations")
        stem = prefix if prefix is not None else profile.rsplit("/", 1)[-1].removesuffix(".toml") + "-"
        ids: list[str] = []
        n = 1
        while len(ids) < count:
            candidate = f"{stem}{n:05d}"
            if candidate not in self.stations:
                ids.append(candidate)
            n += 1
        try:
            added = await self.spawn(profile, ids, connect)
        except ControlError:
            raise
        except (LookupError, ValueError, OSError) as exc:
            raise ControlError(ErrorCode.BAD_REQUEST, f"cannot add stations from {profile!r}: {exc}") from None
        for sid, station in added.items():
            self.stations[sid] = station
            self.profiles[sid] = profile
        return AddStationsResult(list(added))

    async def remove_stations(self, station_ids: list[str]) -> RemoveStationsResult:
        removed: list[str] = []
        missing: list[str] = []
        for sid in station_ids:
            station = self.stations.pop(sid, None)
            if station is None:
                missing.append(sid)
                continue
            self.profiles.pop(sid, None)
            removed.append(sid)
            if self.retire is not None:
                await self.retire(sid, station)
            else:
                with suppress(ControlError):
                    await _invoke(station, "close")
        return RemoveStationsResult(removed, missing)

    async def send(
        self,
        station_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        message_id: str | None = None,
        tag: Any = None,
        timeout: float | None = None,
    ) -> SendResult:
        station = self._station(station_id)
        return await _ocpp_call(station, (), station_id, action, payload, message_id, tag, timeout)

    # ----------------------------------------------------------- CSMS commands

    async def csms_connections(self) -> CsmsConnectionsResult:
        rows = [
            ConnectionRow(
                str(_get(c, "station_id", default="?")),
                str(_get(c, "ocpp_version", default="") or ""),
                str(_get(c, "remote", default="") or ""),
                _number(_get(c, "connected_at")),
            )
            for c in self._csms().connections()
        ]
        return CsmsConnectionsResult(rows)

    async def csms_pending(self, station_id: str | None = None) -> CsmsPendingResult:
        csms = self._csms()
        pending = csms.pending_requests(station_id) if station_id is not None else csms.pending_requests()
        return CsmsPendingResult([
            PendingRow(
                str(_get(p, "station_id")), str(_get(p, "message_id")), str(_get(p, "action")), _jsonable(_get(p, "tag"))
            )
            for p in pending
        ])

    async def get_auth_list(self) -> AuthList:
        ids = self._csms().get_auth_list()
        return AuthList(enabled=ids is not None, station_ids=sorted(ids) if ids is not None else [])

    async def set_auth_list(self, auth: dict[str, str] | None) -> Ack:
        await _invoke(self._csms(), "set_auth_list", auth)
        return Ack(message="auth list off: every station is accepted" if auth is None else f"{len(auth)} stations")

    async def get_auth_cs(self, station_id: str) -> AuthCs:
        csms = self._csms()
        ids = csms.get_auth_list()
        getter = getattr(csms, "get_station_password", None)
        has = getter(station_id) is not None if getter is not None else (ids is not None and station_id in ids)
        return AuthCs(station_id, has_password=has, auth_enabled=ids is not None)

    async def set_auth_cs(self, station_id: str, password: str | None) -> Ack:
        await _invoke(self._csms(), "set_station_password", station_id, password)
        return Ack(station_id=station_id, message="password removed" if password is None else "password set")

    async def csms_send(
        self,
        station_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        message_id: str | None = None,
        tag: Any = None,
        timeout: float | None = None,
    ) -> SendResult:
        csms = self._csms()
        return await _ocpp_call(csms, (station_id,), station_id, action, payload, message_id, tag, timeout)

    # ----------------------------------------------------------- fault commands
    #
    # With stations in this process they act in the stations (the link drops at the
    # station's end, a partitioned station cannot connect); a CSMS alone (``fleet csms``)
    # does it from its side (it drops the connections, and a partitioned station's new
    # connections right after their handshake).

    async def disconnect(
        self, station_ids: list[str] | None = None, *, share: float | None = None, seed: int | None = None
    ) -> FaultResult:
        seed = self.seed if seed is None else seed
        if self.stations or self.csms is None:
            ids = fault_targets("disconnect", self.stations, station_ids, share, seed)
            stations = self.stations
            dropped = await _each(ids, lambda sid: _invoke(stations[sid], "drop_connection"))
        else:
            csms = self.csms
            known = self._csms_known(station_ids)
            ids = fault_targets("disconnect", known, station_ids, share, seed)
            dropped = await _each(ids, lambda sid: _invoke(csms, "drop_connection", sid))
        return FaultResult("disconnect", sorted(ids), dropped,
                           message=f"dropped {dropped} links of {len(ids)} stations (the others were not connected)")

    async def partition(
        self, duration: float, station_ids: list[str] | None = None, *, share: float | None = None,
        seed: int | None = None,
    ) -> FaultResult:
        seed = self.seed if seed is None else seed
        if self.stations or self.csms is None:
            ids = fault_targets("partition", self.stations, station_ids, share, seed)
            stations = self.stations
            dropped = await _each(ids, lambda sid: _invoke(stations[sid], "partition", duration))
        else:
            csms = self.csms
            ids = fault_targets("partition", self._csms_known(station_ids), station_ids, share, seed)
            dropped = await _each(ids, lambda sid: _invoke(csms, "partition", sid, duration))
        return FaultResult("partition", sorted(ids), dropped, until=time.time() + duration,
                           message=f"{len(ids)} stations cut off for {duration:g} s ({dropped} links dropped)")

    def _csms_known(self, station_ids: list[str] | None) -> set[str]:
        """Stations a CSMS alone can name: those it ever saw (ids), those connected now (a share)."""
        csms = self._csms()
        if station_ids is not None:
            return set(csms.stations())
        return {str(_get(c, "station_id")) for c in csms.connections()}

    async def restart_csms(self, downtime: float = 5.0) -> FaultResult:
        closed = await _invoke(self._csms(), "restart", downtime)
        return FaultResult("restart_csms", dropped=_count(closed), until=time.time() + downtime,
                           message=f"the CSMS is down ({_count(closed)} connections closed); it listens again "
                                   f"in {downtime:g} s")

    async def set_boot_status(self, status: str | None, station_ids: list[str] | None = None) -> FaultResult:
        csms = self._csms()
        if station_ids is None:
            if status is None:
                raise ControlError(ErrorCode.BAD_REQUEST,
                                   "set_boot_status: the answer for every station cannot be null: give a status "
                                   "(or station_ids, to restore the usual answer for them)")
            await _invoke(csms, "set_boot_status", status)
            return FaultResult("set_boot_status", message=f"every station's boot is answered {status}")
        ids = list(dict.fromkeys(station_ids))
        if self.stations:  # a fleet in this process: its stations, or any the CSMS saw
            fault_targets("set_boot_status", set(self.stations) | set(csms.stations()), ids, None, 0)
        for sid in ids:
            await _invoke(csms, "set_boot_status", status, sid)
        answer = status if status is not None else "the usual answer"
        return FaultResult("set_boot_status", sorted(ids),
                           message=f"{len(ids)} stations get {answer} at their next BootNotification")


_STATION_COMMANDS = frozenset({
    "connect", "close", "set_retry_backoff", "plug", "unplug", "start_transaction", "stop_transaction", "reset",
    "add_stations", "remove_stations", "send",
})
