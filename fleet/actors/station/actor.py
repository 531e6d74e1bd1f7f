"""The charging-station actor: one simulated station, whatever OCPP version it speaks.

A :class:`Station` connects to a CSMS (with retry back-off), boots, heartbeats,
reports its connectors, runs transactions (by hand or with the profile's
automatic transaction generator), answers every CSMS request and keeps its
TransactionEvents while offline. Typical use::

    async with open_station("CS001", "ws://127.0.0.1:9000/ocpp", password="...") as station:
        await station.wait_until(lambda s: s.state == "available")
        await station.plug(1)
        await station.start_transaction(1, "TOKEN-1")
        ...

Design (a fleet runs thousands of these per process):

* one main-loop task per station owns all its state; it sleeps until the next
  timer (heartbeat, meter values, generator, boot retry, reconnect...) or the
  next mailbox message, whichever comes first, and sends the connection's websocket
  pings on time. Each connection adds one task, :class:`~fleet.net.connection.OcppConnection`'s
  reader (and one while a ping waits for its pong).
* station-initiated requests go through one ordered queue, sent one at a time
  (OCPP-J allows one CALL in flight); TransactionEvents are *durable*: they stay
  queued across disconnections and resets and are retried, never reordered;
  after a reconnection the queue drains at the pace of the CSMS's answers.
* what is version-free lives here and beside it: the mailbox, timers, the
  connection's life and back-off (:mod:`.backoff`), boot scheduling, the outbox
  (:mod:`.outbox`), the hardware and its physics (:mod:`.hardware`), the driver
  (:mod:`.driver`), snapshots (:mod:`.snapshots`) and commands (:mod:`.commands`).
  What a version says (how to boot, report status, run transactions, send meter
  values, its configuration model, its answers to the CSMS) is the station's
  *dialect* (:class:`.dialect.Dialect`, picked by the profile's ``ocpp_version``
  from :mod:`.dialects`; 2.0.1: :mod:`.v201`). The dialect acts on the station
  through :class:`.interface.StationCore`.
* CSMS requests are answered by the dialect's synchronous handlers
  (:mod:`.v201.handlers`), overridable per action with :meth:`Station.on`; what
  they start (reports, triggered messages, transactions) runs later in the main loop.
* the outside world talks to the station through its mailbox (the ``async``
  methods) and reads :meth:`Station.snapshot`, a frozen, cached Struct.
"""

from __future__ import annotations

import datetime
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any, Final

import trio

from ...faults import FaultInjector, FaultSpec, abort_websocket
from ...malformed import Direction
from ...net.connection import UNANSWERED, ConnectionObserver, Handler, OcppConnection
from ...net.events import Connected, Disconnected, FleetEvent
from ...net.hub import EventHub
from ...net.ocpp_log import OcppLog
from ...net.transport import ConnectFailure, HandshakeRefused, connect_failure_cause, open_station_websocket
from ...net.websocket import ConnectionClosed, HandshakeError
from ...ocpp import (
    CallFailure,
    CallTimeout,
    ConnectionLost,
    InvalidResponse,
    LocalProtocolError,
    RemoteCallError,
    Session,
)
from ...profiles import StationProfile, draw, station_password
from .backoff import backoff_base, backoff_delay
from .commands import (
    Close,
    Connect,
    Plug,
    ResetStation,
    SetFaulted,
    SetRetryBackoff,
    Shutdown,
    StartTransaction,
    StopTransaction,
    Unplug,
)
from .dialect import Dialect
from .dialects import dialect_factory
from .driver import Driver
from .hardware import EvseState, Vehicle
from .mailbox import Mailbox
from .outbox import OutItem, OutQueue
from .random_stream import StationRandom
from .snapshots import (
    STATES,
    ConnectorSnapshot,
    EvseSnapshot,
    Setting,
    StationCounters,
    StationSnapshot,
    StationState,
)
from .timers import Timers

__all__ = [
    "STATES",
    "ConnectorSnapshot",
    "EvseSnapshot",
    "Station",
    "StationCounters",
    "StationSnapshot",
    "StationState",
    "backoff_base",
    "backoff_delay",
    "open_station",
]

logger = logging.getLogger("fleet.station")

#: Real seconds between answering a CSMS request and acting on it when the action
#: closes the connection (Reset, a new password): time for the answer to leave.
_ACT_AFTER_REPLY: Final = 0.05
#: Real seconds a graceful websocket close may take.
_CLOSE_TIMEOUT: Final = 2.0


# ---------------------------------------------------------------- mailbox


class _Up:
    __slots__ = ("connection", "done", "generation", "scope")

    def __init__(self, generation: int, connection: OcppConnection, scope: trio.CancelScope, done: trio.Event) -> None:
        self.generation = generation
        self.connection = connection
        self.scope = scope
        #: set when the connection task has finished (websocket closed)
        self.done = done


class _Down:
    __slots__ = ("cause", "generation", "reason", "was_connected")

    def __init__(self, generation: int, reason: str, was_connected: bool, cause: str = "") -> None:
        self.generation = generation
        self.reason = reason
        self.was_connected = was_connected
        #: why the attempt failed, when it never connected (see fleet.net.transport.connect_failure_cause)
        self.cause = cause


class _Reply:
    """How a mailbox command went: set ``done`` once applied; ``error`` if it failed."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.error: Exception | None = None


class _Call:
    __slots__ = ("function",)

    def __init__(self, function: Callable[[], None]) -> None:
        self.function = function


_WAKE: Final = object()


class _HandlerMap(Mapping[str, Handler]):
    """The station's handlers: the user's overrides, else its dialect's defaults."""

    __slots__ = ("_station",)

    def __init__(self, station: Station) -> None:
        self._station = station

    def get(self, action: str, default: Any = None) -> Any:
        station = self._station
        if station._registration == REJECTED and station.dialect.silent_while_rejected:
            return _leave_unanswered
        faults = station._faults
        override = station._overrides.get(action)
        if override is not None:
            return faults.wrap_handler(override) if faults is not None else override
        dialect = station.dialect
        function = dialect.handlers.get(action)
        if function is None:
            return default

        def handle(request: Any, context: Any) -> Any:
            try:
                return function(dialect, request)
            finally:
                station.wake()

        return faults.wrap_handler(handle) if faults is not None else handle

    def __getitem__(self, action: str) -> Handler:
        handler = self.get(action)
        if handler is None:
            raise KeyError(action)
        return handler  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(set(self._station.dialect.handlers) | set(self._station._overrides))

    def __len__(self) -> int:
        return len(set(self._station.dialect.handlers) | set(self._station._overrides))


def _leave_unanswered(request: Any, context: Any) -> Any:
    """A CSMS CALL the station must not answer (its dialect's rule while Rejected)."""
    return UNANSWERED


def _check_connector(evse: EvseState, connector_id: int | None) -> None:
    """A command for ``connector_id`` of ``evse`` (``None``: any) is for a connector it has and,
    while a vehicle is plugged in, for the one it is plugged into."""
    if connector_id is None:
        return
    if evse.connector(connector_id) is None:
        raise ValueError(f"EVSE {evse.id} has no connector {connector_id}")
    if evse.plugged is not None and evse.plugged != connector_id:
        raise ValueError(f"EVSE {evse.id} has its vehicle on connector {evse.plugged}, not on {connector_id}")


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _describe_error(exc: BaseException) -> str:
    """A short text for a connection failure (the innermost meaningful error)."""
    if isinstance(exc, trio.TooSlowError):
        return "connection timed out"
    if isinstance(exc, ConnectFailure):  # already says what went wrong and what to do
        return exc.message
    if isinstance(exc, HandshakeError) and exc.__cause__ is not None:
        exc = exc.__cause__
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


# Registration statuses (the BootNotification's answer) and boot reasons, as OCPP spells them.
ACCEPTED: Final = "Accepted"
PENDING: Final = "Pending"
REJECTED: Final = "Rejected"
POWER_UP: Final = "PowerUp"
UNKNOWN: Final = "Unknown"
TRIGGERED: Final = "Triggered"


class Station:
    """One simulated charging station (an actor), speaking its profile's OCPP version.

    Args:
        station_id: the station id (appended to the CSMS URL).
        csms_url: ``ws://`` or ``wss://`` URL of the CSMS route.
        password: Basic-auth password; default: the profile's password pattern.
        profile: what kind of station it is and how it behaves.
        ssl_context: TLS for ``wss://`` (CA, client certificate).
        auto_connect: connect at start; otherwise wait for :meth:`connect`.
        ocpp_log: the raw frame log, if any.
        seed: seed of every random choice (``None``: random).
        observer: the metrics collector of its connections.
        speed: simulated seconds per real second of the simulated world: the driver
            and the vehicle (plug-in, idle and session times, energy and SoC, the
            EV connection timeout), fault schedules, firmware and log steps; ``10``
            plays them ten times faster. Protocol timings stay real (see
            ``protocol_speed``), so the load is what real stations would offer.
        protocol_speed: the same for the protocol's timings: reconnect back-off, boot
            retries, the heartbeat interval (as the CSMS set it), meter-value
            intervals, message retry intervals, the reboot time. ``1`` (default):
            real. Call timeouts and websocket pings are always real.
        audit: keep each transaction's seqNos and final energy for the
            nothing-lost audit (:meth:`transaction_records`).
        handler_timeout: seconds an (async) override handler may take.
        faults: fault injection (:class:`~fleet.faults.FaultSpec`); default: the
            profile's ``[faults]`` table. Which faults befall this station, and when,
            is drawn from ``seed``.
        fault_epoch: wall-clock time (``time.time()``) the run started, for the
            run-level fault schedule (a partition at ``partition_at``); default: the
            station's start.
    """

    # Slots, not an instance dict: a worker holds thousands of stations, and a dict of this
    # many attributes is about 1.6 KB per station (tools/station_bytes.py).
    __slots__ = (
        "__weakref__",
        "_attempt",
        "_audit_ids",
        "_boot_due",
        "_boot_reason",
        "_booted_once",
        "_boots",
        "_calls",
        "_calls_failed",
        "_calls_observer",
        "_changed",
        "_closing",
        "_conn",
        "_conn_done",
        "_conn_scope",
        "_connect_failures",
        "_connecting",
        "_connects",
        "_count_connect_failure",
        "_created",
        "_cut_until",
        "_disconnects",
        "_events_dropped",
        "_events_generated",
        "_events_sent",
        "_faults",
        "_generation",
        "_handlers",
        "_heartbeats",
        "_last_error",
        "_mailbox",
        "_nursery",
        "_on_answered_since_due",
        "_on_schedule",
        "_overrides",
        "_pending_station_operative",
        "_reboot_pending",
        "_reboots",
        "_reconnect_at",
        "_reconnect_now",
        "_records",
        "_registration",
        "_rejected_until",
        "_requests_failed",
        "_reset_on_idle",
        "_running",
        "_sent_events",
        "_skew",
        "_snapshot",
        "_started",
        "_state",
        "_station_operative",
        "_stop_deadline",
        "_stopped",
        "_stopping",
        "_subprotocols",
        "_timers",
        "_tx_ended",
        "_tx_started",
        "_want_connection",
        "audit",
        "auto_connect",
        "csms_url",
        "dialect",
        "driver",
        "evses",
        "handler_timeout",
        "hub",
        "last_boot_status",
        "last_connect_failure",
        "observer",
        "ocpp_log",
        "password",
        "profile",
        "protocol_speed",
        "queue",
        "rng",
        "speed",
        "ssl_context",
        "station_id",
    )

    def __init__(
        self,
        station_id: str,
        csms_url: str,
        *,
        password: str | None = None,
        profile: StationProfile | None = None,
        ssl_context: Any = None,
        auto_connect: bool = True,
        ocpp_log: OcppLog | None = None,
        seed: int | None = None,
        observer: ConnectionObserver | None = None,
        speed: float = 1.0,
        protocol_speed: float = 1.0,
        audit: bool = False,
        handler_timeout: float = 10.0,
        faults: FaultSpec | None = None,
        fault_epoch: float | None = None,
    ) -> None:
        if speed <= 0 or protocol_speed <= 0:
            raise ValueError("speed and protocol_speed must be > 0")
        self.station_id = station_id
        self.csms_url = csms_url
        self.profile = profile if profile is not None else StationProfile()
        self.password = password if password is not None else station_password(self.profile, station_id)
        self.ssl_context = ssl_context
        self.auto_connect = auto_connect
        self.ocpp_log = ocpp_log
        self.observer = observer
        #: the observer's count of failed connection attempts by cause, if it keeps one (fleet.metrics.Metrics)
        self._count_connect_failure: Callable[[str], None] | None = getattr(observer, "connect_failed", None)
        # Schedule lag of timer-driven sends, where the observer records it (fleet.metrics.Metrics).
        self._on_schedule: Callable[[float], None] | None = getattr(observer, "scheduled", None)
        self._on_answered_since_due: Callable[[str, float, float], None] | None = getattr(
            observer, "answered_since_due", None)
        #: when it was made (``time.monotonic()``): its first Accepted boot tells the observer how long it took
        self._created = time.monotonic()
        self.speed = speed
        self.protocol_speed = protocol_speed
        self.audit = audit
        self.handler_timeout = handler_timeout
        #: every draw of the station (its vehicles, timings, tokens, reconnection jitter): the same seed, the same draws
        self.rng = StationRandom(seed)
        self.hub: EventHub[FleetEvent] = EventHub()
        spec = faults if faults is not None else self.profile.faults
        self._faults = FaultInjector(spec, seed, fault_epoch) if spec.station_side else None
        self._skew = self._faults.skew if self._faults is not None else None
        self.evses = [
            EvseState(n, evse, register_wh=round(self.rng.uniform(1000.0, 50000.0), 1))
            for n, evse in enumerate(self.profile.evses, start=1)
        ]
        #: the session generator
        self.driver = Driver(self, self.rng)
        self.queue = OutQueue(self.profile.offline_queue_limit)
        #: the OCPP version it speaks: the profile's preferred ``ocpp_version`` until a CSMS
        #: selects another it offers (:meth:`_speak`)
        self.dialect: Dialect = dialect_factory(self.profile.ocpp_versions[0])(self)
        self.queue.sheddable = self.dialect.sheddable
        #: where its calls are counted: the observer's own for its OCPP version, where it counts by version
        self._calls_observer = self._observer_of(self.dialect.version)
        #: the subprotocols it offers, in its order of preference
        self._subprotocols = tuple(version.subprotocol for version in self.profile.protocol_versions)
        self._overrides: dict[str, Handler] = {}
        self._handlers = _HandlerMap(self)
        self._mailbox: Mailbox[tuple[Any, _Reply | None]] = Mailbox()
        self._nursery: trio.Nursery | None = None
        self._started = False
        self._running = False
        self._stopped: trio.Event | None = None  # (made by the first shutdown() that waits for it)
        # connection
        self._state: str = "idle"
        self._want_connection = auto_connect
        self._conn: OcppConnection | None = None
        self._conn_scope: trio.CancelScope | None = None
        self._conn_done: trio.Event | None = None
        self._connecting = False
        self._closing = False
        self._generation = 0
        self._reconnect_at: float | None = None
        self._reconnect_now = False
        self._attempt = 0
        self._stopping = False
        self._stop_deadline = math.inf
        self._cut_until = -math.inf  # partitioned until then (trio time), see partition()
        # registration (the BootNotification status: Accepted, Pending, Rejected)
        self._registration: str | None = None
        #: Rejected: no OCPP message before then (trio time), even over a new connection
        self._rejected_until = -math.inf
        self._boot_reason: str | None = POWER_UP
        self._boot_due = False
        self._booted_once = False
        self._reboot_pending = False
        self._reset_on_idle: str | None = None
        # behaviour
        self._timers = Timers()
        self._station_operative = True
        self._pending_station_operative: bool | None = None
        # counters
        self._connects = self._connect_failures = self._disconnects = 0
        #: the cause of the last failed connection attempt since the last connection (see
        #: fleet.net.transport.connect_failure_cause)
        self.last_connect_failure: str | None = None
        #: the status of the last BootNotification answer (``Accepted``, ``Pending``, ``Rejected``)
        self.last_boot_status: str | None = None
        self._boots = self._reboots = self._heartbeats = 0
        self._tx_started = self._tx_ended = 0
        self._events_generated = self._events_sent = self._events_dropped = 0
        self._requests_failed = 0
        self._calls = self._calls_failed = 0  # counted as its connections' observer
        self._last_error: str | None = None
        self._records: dict[str, dict[str, Any]] = {}
        #: audit: a transaction's local key -> the id its CSMS gave it (OCPP 1.6 binds ids late)
        self._audit_ids: dict[str, str] = {}
        #: (transaction, seqNo) sent at least once (audit; made at the first, most stations have none)
        self._sent_events: set[tuple[str, int]] | None = None
        # snapshot cache
        self._snapshot: StationSnapshot | None = None
        self._changed: trio.Event | None = None

    # ================================================================ public API

    @property
    def state(self) -> str:
        """The station's state (see :data:`STATES`)."""
        return self._state

    @property
    def booted(self) -> bool:
        """Whether the CSMS accepted the station (BootNotification Accepted) at least once."""
        return self._booted_once

    @property
    def ocpp_version(self) -> str:
        """The OCPP version it speaks now: of the versions its profile offers, the one its CSMS
        selected (before the first handshake, its first choice)."""
        return self.dialect.version

    @property
    def connection(self) -> OcppConnection | None:
        """The current connection, if connected."""
        return self._conn

    @property
    def malformed_direction(self) -> Direction:
        """The traffic it sends a CSMS, in its OCPP version (for fault injection)."""
        return self.dialect.to_csms

    @property
    def model(self) -> Any:
        """The configuration model of its OCPP version (2.0.1: the device model,
        :class:`~fleet.actors.station.v201.device_model.DeviceModel`)."""
        return self.dialect.model

    def settings(self) -> list[Setting]:
        """Its configuration model as its dialect lists it (2.0.1: the device model's
        variables; 1.6: the configuration keys)."""
        return self.dialect.settings()

    # The observer of its connections: counts its calls, passes everything on to ``observer``.

    def call_completed(self, action: str, outgoing: bool, latency: float) -> None:
        if outgoing:
            self._calls += 1
            self._snapshot = None  # (the cached snapshot would hide it; nobody waits for a count)
        if self._calls_observer is not None:
            self._calls_observer.call_completed(action, outgoing, latency)

    def call_failed(self, action: str, error: CallFailure) -> None:
        self._calls += 1
        self._calls_failed += 1
        self._snapshot = None
        if self._calls_observer is not None:
            self._calls_observer.call_failed(action, error)

    def violation(self, code: str) -> None:
        if self._calls_observer is not None:
            self._calls_observer.violation(code)

    def _observer_of(self, version: str) -> ConnectionObserver | None:
        """The observer its calls go to: the observer's own for OCPP ``version`` where it
        counts by version (:meth:`fleet.metrics.Metrics.for_version`), else the observer."""
        for_version: Callable[[str], ConnectionObserver] | None = getattr(self.observer, "for_version", None)
        return for_version(version) if for_version is not None else self.observer

    def connection_counts(self) -> tuple[int, int, int]:
        """Connects, failed connection attempts and disconnects so far (cheaper than :meth:`snapshot`)."""
        return self._connects, self._connect_failures, self._disconnects

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the station until :meth:`shutdown` (or cancellation).

        ``task_status.started()`` is called as soon as the station takes commands,
        before it is connected: a station whose CSMS is unreachable must still be
        controllable (``close``, ``connect`` to another URL).
        """
        if self._started:
            raise RuntimeError("a Station runs only once")
        self._started = True
        self._running = True
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                now = trio.current_time()
                for evse in self.evses:
                    evse.last_update = now
                if self._want_connection:
                    self._reconnect_at = now
                if self._faults is not None:
                    self._faults.start(self)
                task_status.started()
                try:
                    await self._loop()
                    await self._close_gracefully()
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            self._running = False
            self._conn = None
            self._set_state("closed")
            self._mailbox.close()
            self._release_waiters()
            if self._stopped is not None:
                self._stopped.set()

    async def connect(self, url: str | None = None, password: str | None = None, station_id: str | None = None) -> None:
        """Connect now (reconnect if connected), optionally with a new URL, password or id."""
        await self._command(Connect(url, password, station_id))

    async def close(self) -> None:
        """Disconnect and stop reconnecting (until :meth:`connect`)."""
        await self._command(Close())

    async def set_retry_backoff(
        self, wait_minimum: int | None = None, repeat_times: int | None = None, random_range: int | None = None
    ) -> None:
        """Change the reconnection back-off values (seconds, doublings, seconds)."""
        await self._command(SetRetryBackoff(wait_minimum, repeat_times, random_range))

    async def plug(self, evse_id: int, connector_id: int = 1) -> None:
        """A vehicle (drawn from the profile) plugs into ``connector_id`` of ``evse_id``."""
        await self._command(Plug(evse_id, connector_id))

    async def unplug(self, evse_id: int, connector_id: int | None = None) -> None:
        """The vehicle on ``evse_id`` unplugs (ends its transaction if TxStopPoint says so);
        with ``connector_id``, from that connector (``ValueError`` if its vehicle is on another)."""
        await self._command(Unplug(evse_id, connector_id))

    async def start_transaction(
        self, evse_id: int, id_token: str, *, token_type: str = "ISO14443", authorize: bool = True,
        connector_id: int | None = None,
    ) -> None:
        """A driver presents ``id_token`` at ``evse_id``: Authorize (unless ``authorize``
        is false or the local list accepts it), then the transaction per TxStartPoint.
        With ``connector_id``, at that connector: it must exist and, if a vehicle is
        plugged in, be the one it is plugged into (else ``ValueError``)."""
        await self._command(StartTransaction(evse_id, id_token, token_type, authorize, connector_id))

    async def stop_transaction(self, evse_id: int, reason: str = "Local") -> None:
        """The driver stops the transaction on ``evse_id`` (stoppedReason ``reason``)."""
        await self._command(StopTransaction(evse_id, reason))

    async def reset(self, type: str = "Immediate", reason: str = "LocalReset") -> None:
        """Reboot the station now (``Immediate``) or when idle (``OnIdle``); it boots with ``reason``."""
        await self._command(ResetStation(type, reason))

    async def set_faulted(self, evse_id: int, connector_id: int = 1, faulted: bool = True) -> None:
        """Mark a connector faulted (StatusNotification Faulted), or clear the fault."""
        await self._command(SetFaulted(evse_id, connector_id, faulted))

    async def shutdown(self, timeout: float = 5.0) -> None:
        """End all transactions, deliver the queue (at most ``timeout`` s), close, stop."""
        if not self._running:
            return
        try:
            self._mailbox.put((Shutdown(timeout), None))
        except trio.ClosedResourceError:
            return
        if self._stopped is None:
            self._stopped = trio.Event()
        await self._stopped.wait()

    async def call(
        self,
        request: Any,
        *,
        action: str | None = None,
        message_id: str | None = None,
        tag: Any = None,
        timeout: float | None = None,
    ) -> Any:
        """Send any request now and return the typed response.

        Raises:
            ConnectionLost: not connected (or the connection went first).
            RemoteCallError, InvalidResponse, CallTimeout, LocalProtocolError: see
                :meth:`OcppConnection.call`.
        """
        conn = self._conn
        if conn is None:
            raise ConnectionLost("not connected")
        return await conn.call(request, action=action, message_id=message_id, tag=tag, timeout=timeout)

    def on(self, action: str) -> Callable[[Handler], Handler]:
        """Decorator: answer ``action`` with ``handler(request, context)`` instead of the default.

        The handler returns the response (Struct or dict), directly or as a coroutine.
        """
        if not self.dialect.knows_action(action):
            raise ValueError(f"unknown OCPP {self.dialect.version} action {action!r}")

        def register(handler: Handler) -> Handler:
            self._overrides[action] = handler
            return handler

        return register

    def remove_handler(self, action: str) -> None:
        """Go back to the default handler of ``action``."""
        self._overrides.pop(action, None)

    def default_handler(self, action: str) -> Handler:
        """The station's own answer to ``action`` as a ``handler(request, context)``, so an
        override can fall back to it (as :meth:`fleet.actors.csms.Csms.default_handler`).

        Raises:
            KeyError: ``action`` is not one the CSMS sends to a station.
        """
        dialect = self.dialect
        function = dialect.handlers[action]

        def handle(request: Any, context: Any) -> Any:
            try:
                return function(dialect, request)
            finally:
                self.wake()

        return handle

    @asynccontextmanager
    async def subscribe(self, **kwargs: Any) -> AsyncIterator[trio.MemoryReceiveChannel[FleetEvent]]:
        """Receive :class:`~fleet.net.events.Connected`, :class:`~fleet.net.events.Disconnected` and
        :class:`~fleet.net.events.OcppMessage` events (see :meth:`EventHub.subscribe`)."""
        async with self.hub.subscribe(**kwargs) as receiver:
            yield receiver

    def snapshot(self) -> StationSnapshot:
        """The station's state now, as a frozen Struct (cached until something changes)."""
        cached = self._snapshot
        if cached is not None:
            return cached
        now = trio.current_time() if self._running else 0.0
        flowing = False
        evses = []
        for evse in self.evses:
            register = evse.register_wh
            export = evse.export_wh
            if evse.power_w > 0 and self._running:
                flowing = True
                extra = evse.power_w * max(0.0, now - evse.last_update) * self.speed / 3600.0
                if evse.vehicle is not None:
                    extra = min(extra, max(0.0, evse.vehicle.demand_wh - evse.vehicle.delivered_wh))
                register += extra
            elif evse.power_w < 0 and self._running:  # discharging (V2X): extra is negative
                flowing = True
                given = -evse.power_w * max(0.0, now - evse.last_update) * self.speed / 3600.0
                if evse.vehicle is not None:
                    given = min(given, evse.vehicle.dischargeable_wh)
                export += given
                extra = -given
            else:
                extra = 0.0
            tx = evse.tx
            soc = None
            if evse.vehicle is not None:
                soc = round(max(0.0, min(100.0, evse.vehicle.soc + 100.0 * extra / evse.vehicle.capacity_wh)), 1)
            evses.append(
                EvseSnapshot(
                    evse_id=evse.id,
                    connectors=tuple(ConnectorSnapshot(c.connector_id, str(c.status), c.type) for c in evse.connectors),
                    operative=evse.operative and self._station_operative,
                    plugged=evse.plugged,
                    transaction_id=tx.id if tx is not None else None,
                    charging_state=str(tx.charging_state) if tx is not None and tx.charging_state else None,
                    id_token=evse.authorized.id_token if evse.authorized is not None else None,
                    power_w=round(evse.power_w, 1),
                    energy_wh=round(register - tx.start_register_wh, 1) if tx is not None else 0.0,
                    register_wh=round(register, 1),
                    soc=soc,
                    limit_w=evse.limit_w,
                    export_wh=round(export, 1),
                    bidirectional=evse.bidirectional,
                    cost=self.dialect.evse_cost(evse),
                )
            )
        snapshot = StationSnapshot(
            station_id=self.station_id,
            state=self._state,
            registration=str(self._registration) if self._registration is not None else None,
            connected=self._conn is not None,
            csms_url=self.csms_url,
            ocpp_version=self.dialect.version,
            evses=tuple(evses),
            queued=len(self.queue),
            queued_events=self.queue.durable_count(),
            counters=StationCounters(
                connects=self._connects,
                connect_failures=self._connect_failures,
                disconnects=self._disconnects,
                boots=self._boots,
                reboots=self._reboots,
                heartbeats=self._heartbeats,
                transactions_started=self._tx_started,
                transactions_ended=self._tx_ended,
                events_generated=self._events_generated,
                events_sent=self._events_sent,
                events_dropped=self._events_dropped + self.queue.dropped,
                requests_failed=self._requests_failed,
                calls=self._calls,
                calls_failed=self._calls_failed,
            ),
            last_error=self._last_error,
            der_controls=self.dialect.der_controls(),
        )
        if not flowing:
            self._snapshot = snapshot
        return snapshot

    async def wait_until(self, predicate: Callable[[StationSnapshot], bool]) -> StationSnapshot:
        """Wait until ``predicate(snapshot)`` holds; return that snapshot (wrap in
        ``trio.fail_after`` for a timeout)."""
        while True:
            snapshot = self.snapshot()
            if predicate(snapshot):
                return snapshot
            if not self._running and self._started:
                raise RuntimeError(f"station {self.station_id} stopped in state {self._state}")
            if self._changed is None:
                self._changed = trio.Event()
            await self._changed.wait()

    def transaction_records(self) -> dict[str, dict[str, Any]]:
        """For the nothing-lost audit (with ``audit=True``): transaction id ->
        ``{"seq": [seqNo, ...], "energy": final register Wh}``, plus ``"resent"``:
        the seqNos sent again (once per extra transmission: the answer was lost with
        the connection, or timed out) and ``"undelivered"``: the seqNos still queued
        (not yet acknowledged by the CSMS), when there are any."""
        undelivered: dict[str, list[int]] = {}
        for item in self.queue:
            if item.transaction_id is not None:
                key = self._audit_ids.get(item.transaction_id, item.transaction_id)
                undelivered.setdefault(key, []).append(item.seq_no)
        records: dict[str, dict[str, Any]] = {}
        for tx, r in self._records.items():
            record: dict[str, Any] = {"seq": list(r["seq"]), "energy": r["energy"]}
            if "export" in r:
                record["export"] = r["export"]
            if r.get("resent"):
                record["resent"] = list(r["resent"])
            if tx in undelivered:
                record["undelivered"] = undelivered[tx]
            records[tx] = record
        return records

    def clock(self) -> datetime.datetime:
        """The station's clock (UTC; off by its clock skew when faults inject one)."""
        skew = self._skew
        return _utcnow() + skew if skew is not None else _utcnow()

    @property
    def faults(self) -> FaultInjector | None:
        """The fault injector, when the station has faults (see :mod:`fleet.faults`)."""
        return self._faults

    def fault_records(self) -> dict[str, Any] | None:
        """What fault injection did to this station and how the CSMS answered its
        malformed frames (see :func:`fleet.faults.merge_fault_records`); ``None``: no faults."""
        return self._faults.records() if self._faults is not None else None

    async def stop_faults(self) -> None:
        """Stop injecting faults (e.g. before a run settles for its audit)."""
        faults = self._faults
        if faults is not None:
            await self._command(_Call(faults.stop))

    async def drop_connection(self, reason: str = "link dropped (fault injection)") -> bool:
        """Drop the connection abruptly, as when a cellular link dies: the TCP connection
        is reset, no websocket close handshake; the station reconnects with its back-off.
        Return whether it was connected."""
        dropped: list[bool] = []
        await self._command(_Call(lambda: dropped.append(self._drop_link(reason))))
        return dropped[0]

    async def partition(self, duration: float) -> bool:
        """Cut the station off the network for ``duration`` real seconds: its connection
        drops (as :meth:`drop_connection`) and every connection attempt fails until the
        time is up; then it reconnects with its back-off. Return whether it was connected."""
        if not (0 < duration < math.inf):
            raise ValueError(f"duration: expected seconds > 0, got {duration}")
        dropped: list[bool] = []

        def cut() -> None:
            self._cut_until = max(self._cut_until, trio.current_time() + duration)
            dropped.append(self._drop_link("network partition (fault injection)"))
            if self._connecting:  # an attempt in flight would get through: start over (it fails)
                self._generation += 1
                self._connecting = False
                self._reconnect_at = trio.current_time()

        await self._command(_Call(cut))
        return dropped[0]

    def _drop_link(self, reason: str) -> bool:
        conn = self._conn
        if conn is None or conn.closed or self._closing:
            return False
        conn.close_reason = conn.close_reason or reason
        self.spawn(abort_websocket, conn.websocket)
        return True

    # ================================================================ main loop

    async def _command(self, command: Any) -> None:
        if not self._running:
            raise RuntimeError(f"station {self.station_id} is not running")
        reply = _Reply()
        try:
            self._mailbox.put((command, reply))
        except trio.ClosedResourceError:
            raise RuntimeError(f"station {self.station_id} is not running") from None
        await reply.done.wait()
        if reply.error is not None:
            raise reply.error

    def _post(self, message: Any) -> None:
        with suppress(trio.ClosedResourceError):
            self._mailbox.put((message, None))

    def wake(self) -> None:
        """Have the main loop look at its queue and timers (after a handler queued something)."""
        self._post(_WAKE)

    def defer(self, function: Callable[[], None]) -> None:
        """Run ``function`` in the main loop (after the current CSMS request is answered)."""
        self._post(_Call(function))

    def spawn(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` as a task of the station (it ends with the station)."""
        if self._nursery is not None:
            self._nursery.start_soon(function, *args)

    async def _loop(self) -> None:
        mailbox = self._mailbox
        while True:
            now = trio.current_time()
            self._fire_timers(now)
            conn = self._conn
            if conn is not None and now >= conn.ping_at:
                await conn.ping_if_due(now)
            if self._stopping and self._may_stop(now):
                return
            self._maybe_connect(now)
            item = self._next_item(now)
            if item is not None:
                await self._transmit(item)
                await trio.lowlevel.checkpoint()
                self._drain_mailbox()
                continue
            message = await mailbox.get_until(self._next_deadline())
            if message is not None:
                self._apply(message)
            self._drain_mailbox()

    def _drain_mailbox(self) -> None:
        mailbox = self._mailbox
        while mailbox:
            self._apply(mailbox.get_nowait())

    def _apply(self, message: tuple[Any, _Reply | None]) -> None:
        command, reply = message
        try:
            self._handle(command)
        except (ValueError, TypeError) as exc:  # a bad command: its caller gets the error
            if reply is not None:
                reply.error = exc
            else:
                logger.error("%s: %r failed: %s", self.station_id, command, exc)
        except Exception as exc:  # a command must never kill the station
            logger.exception("%s: command %r failed", self.station_id, command)
            self._last_error = f"command {type(command).__name__} failed: {exc}"
            self.touch()
            if reply is not None:
                reply.error = exc
        finally:
            if reply is not None:
                reply.done.set()

    def _handle(self, command: Any) -> None:
        if command is _WAKE:
            return
        match command:
            case _Call():
                command.function()
            case _Up():
                self._on_up(command)
            case _Down():
                self._on_down(command)
            case Plug():
                evse = self._evse(command.evse_id)
                self.dialect.plug_vehicle(evse, command.connector_id)
            case Unplug():
                evse = self._evse(command.evse_id)
                _check_connector(evse, command.connector_id)
                self.dialect.unplug_vehicle(evse)
            case StartTransaction():
                evse = self._evse(command.evse_id)
                _check_connector(evse, command.connector_id)
                self.dialect.start_by_driver(evse, command.id_token, command.token_type, command.authorize)
            case StopTransaction():
                evse = self._evse(command.evse_id)
                self.dialect.stop_by_driver(evse, command.reason)
            case ResetStation():
                reason = self.dialect.boot_reason(command.reason)
                if command.type == "OnIdle" and self.any_transaction():
                    self._reset_on_idle = reason
                else:
                    self.reboot(reason)
            case SetFaulted():
                evse = self._evse(command.evse_id)
                connector = evse.connector(command.connector_id)
                if connector is None:
                    raise ValueError(f"EVSE {evse.id} has no connector {command.connector_id}")
                if connector.faulted != command.faulted:
                    connector.faulted = command.faulted
                    self.dialect.fault_changed(evse, connector)
                self.update_state()
            case Connect():
                self._on_connect_command(command)
            case Close():
                self._want_connection = False
                self._reconnect_at = None
                self._close_connection(1000, "closed by command")
                if self._conn is None and not self._connecting:
                    self._set_state("closed")
            case SetRetryBackoff():
                self.dialect.set_retry_backoff(command.wait_minimum, command.repeat_times, command.random_range)
            case Shutdown():
                self._begin_shutdown(command.timeout)
            case _:
                raise TypeError(f"unknown command {command!r}")

    def _evse(self, evse_id: int) -> EvseState:
        if 1 <= evse_id <= len(self.evses):
            return self.evses[evse_id - 1]
        raise ValueError(f"station {self.station_id} has no EVSE {evse_id}")

    def evse_by_id(self, evse_id: int) -> EvseState | None:
        return self.evses[evse_id - 1] if 1 <= evse_id <= len(self.evses) else None

    # ------------------------------------------------------------------ timers

    def set_timer(self, name: Any, delay: float, callback: Callable[[], None]) -> None:
        """Call ``callback`` in the main loop after ``delay`` real seconds (replaces ``name``)."""
        self._timers.set(name, trio.current_time() + max(0.0, delay), callback)

    def sim_timer(self, name: Any, seconds: float, callback: Callable[[], None]) -> None:
        """Like :meth:`set_timer`, ``seconds`` being simulated time (divided by ``speed``)."""
        self.set_timer(name, seconds / self.speed, callback)

    def protocol_timer(self, name: Any, seconds: float, callback: Callable[[], None]) -> None:
        """Like :meth:`set_timer`, ``seconds`` being a protocol timing (divided by
        ``protocol_speed``, real by default)."""
        self.set_timer(name, seconds / self.protocol_speed, callback)

    def cancel_timer(self, name: Any) -> None:
        self._timers.cancel(name)

    def has_timer(self, name: Any) -> bool:
        return name in self._timers

    def _fire_timers(self, now: float) -> None:
        timers = self._timers
        if not timers.entries:
            return
        due = timers.due(now)
        items = self.queue.items
        for name in due:
            entry = timers.pop(name)
            if entry is None:
                continue
            queued = len(items)
            try:
                entry[1]()
            except Exception as exc:
                logger.exception("%s: timer %r failed", self.station_id, name)
                self._last_error = f"timer {name!r} failed: {exc}"
            if len(items) > queued and self._on_schedule is not None:
                self._stamp_due(len(items) - queued, entry[0])

    def _stamp_due(self, added: int, at: float) -> None:
        """The requests a timer just queued were due at ``at`` (for the schedule lag)."""
        for item in reversed(self.queue.items):
            if added <= 0:
                return
            added -= 1
            if not item.due:
                item.due = at

    def _next_deadline(self) -> float:
        deadline = self._timers.next_at(self._stop_deadline)
        if self._reconnect_at is not None and self._want_connection and self._conn is None and not self._connecting:
            deadline = min(deadline, self._reconnect_at)
        conn = self._conn
        if conn is not None:
            held = self.queue.head_wait()
            if held is not None:
                deadline = min(deadline, held)
            if conn.ping_at < deadline:
                deadline = conn.ping_at
        return deadline

    # ------------------------------------------------------------- connection

    def _maybe_connect(self, now: float) -> None:
        if (
            not self._want_connection
            or self._conn is not None
            or self._connecting
            or self._reconnect_at is None
            or now < self._reconnect_at
            or self._stopping
            or self._nursery is None
        ):
            return
        self._reconnect_at = None
        self._generation += 1
        self._connecting = True
        self._set_state("connecting")
        self._nursery.start_soon(
            self._connection_task, self._generation, self.csms_url, self.station_id, self.password
        )

    async def _connection_task(self, generation: int, url: str, station_id: str, password: str | None) -> None:
        scope = trio.CancelScope()
        done = trio.Event()
        try:
            await self._connect_and_serve(generation, url, station_id, password, scope, done)
        finally:
            done.set()

    async def _connect_and_serve(
        self, generation: int, url: str, station_id: str, password: str | None, scope: trio.CancelScope,
        done: trio.Event,
    ) -> None:
        reason = ""
        connected = False
        faults = self._faults
        if (faults is not None and faults.partitioned()) or trio.current_time() < self._cut_until:
            await trio.lowlevel.checkpoint()
            self._post(_Down(generation, "network partition (fault injection): no route to the CSMS", False, "partition"))
            return
        cause = ""
        with scope:
            try:
                async with open_station_websocket(
                    url, station_id, password=password, ssl_context=self.ssl_context,
                    subprotocols=self._subprotocols,
                ) as (websocket, version):
                    if version.name != self.dialect.version:
                        self._speak(version.name)
                    session = Session(version, role="station", call_timeout=float(self.dialect.message_timeout()))
                    ping = self.dialect.ping_interval()
                    conn = OcppConnection(
                        faults.wrap_websocket(websocket) if faults is not None else websocket,
                        session,
                        station_id,
                        handlers=self._handlers,
                        hub=self.hub,
                        ocpp_log=self.ocpp_log,
                        observer=self,
                        handler_timeout=(
                            faults.handler_timeout(self.handler_timeout) if faults is not None else self.handler_timeout
                        ),
                        ping_interval=float(ping) if ping > 0 else None,
                        owner_pings=True,  # (sent by the main loop: no task per station sleeps for them)
                    )
                    connected = True
                    self._post(_Up(generation, conn, scope, done))
                    reason = await conn.serve()
            except HandshakeRefused as exc:
                reason = str(exc)
                cause = connect_failure_cause(exc)
            except (OSError, HandshakeError, trio.TooSlowError, ConnectionClosed) as exc:
                reason = _describe_error(exc)
                cause = connect_failure_cause(exc)
            except Exception as exc:  # a bad URL and the like: report, never crash
                reason = f"{type(exc).__name__}: {exc}"
                cause = "other"
        if scope.cancelled_caught and not reason:
            reason = "closed locally"
            cause = "aborted"
        self._post(_Down(generation, reason or "closed", connected, "" if connected else cause or "other"))

    def _on_up(self, up: _Up) -> None:
        if up.generation != self._generation:
            up.scope.cancel()
            return
        self._conn = up.connection
        self._conn_scope = up.scope
        self._conn_done = up.done
        self._connecting = False
        self._closing = False
        self._attempt = 0
        self._connects += 1
        self.last_connect_failure = None
        self.hub.publish(Connected(self.station_id, up.connection.session.version.name, time.time()))
        quiet = self._rejected_until - trio.current_time()
        if self._registration == REJECTED and quiet > 0:
            # Rejected: no OCPP message until the retry interval is over (OCPP 1.6 4.2, 2.0.1 B03.FR.02)
            self.set_timer("boot", quiet, self._boot_timer)
            self._set_state("rejected")
        elif self._registration != ACCEPTED or self._boot_reason is not None:
            self._boot_due = True
            self._set_state("booting")
        elif self.profile.boot_on_reconnect:
            self._boot_reason = UNKNOWN
            self._boot_due = True
            self._set_state("booting")
        else:
            self._online_again()
            self.update_state()

    def _on_down(self, down: _Down) -> None:
        if down.generation != self._generation:
            return
        was_connected = self._conn is not None
        self._conn = None
        self._conn_scope = None
        self._conn_done = None
        self._connecting = False
        self._closing = False
        self._boot_due = False
        self.cancel_timer("heartbeat")
        self.cancel_timer("boot")
        self.queue.drop_volatile()
        if was_connected:
            self._disconnects += 1
            self.hub.publish(Disconnected(self.station_id, down.reason, time.time()))
        else:
            self._connect_failures += 1
            self.last_connect_failure = down.cause or "other"
            if self._count_connect_failure is not None:
                self._count_connect_failure(self.last_connect_failure)
        if down.reason and not down.reason.startswith("closed locally"):
            self._last_error = down.reason
        now = trio.current_time()
        if self._registration == PENDING or (self._registration == REJECTED and now >= self._rejected_until):
            self._registration = None
        if self._stopping:
            self._reconnect_at = None
        elif self._reboot_pending:
            self._reboot_pending = False
            self._reconnect_at = now + self.profile.reboot_delay / self.protocol_speed
        elif self._reconnect_now:
            self._reconnect_now = False
            self._reconnect_at = now
        elif self._want_connection:
            wait_minimum, repeat_times, random_range = self.dialect.retry_backoff()
            delay = backoff_delay(self._attempt, wait_minimum, repeat_times, random_range, self.rng)
            self._attempt += 1
            self._reconnect_at = now + delay / self.protocol_speed
        else:
            self._reconnect_at = None
        self._set_state("offline" if self._want_connection and not self._stopping else "closed")

    def _on_connect_command(self, command: Connect) -> None:
        self._rejected_until = -math.inf  # (told to connect: it boots at once)
        if command.url is not None:
            self.csms_url = command.url
        if command.password is not None:
            self.password = command.password
            self.dialect.credentials_changed(None, command.password)
        if command.station_id is not None and command.station_id != self.station_id:
            self.station_id = command.station_id
            self.dialect.credentials_changed(command.station_id, None)
            self._boot_reason = self._boot_reason or UNKNOWN
        self._want_connection = True
        self._attempt = 0
        if self._conn is not None or self._connecting:
            self._reconnect_now = True
            self._close_connection(1000, "reconnecting")
        else:
            self._reconnect_at = trio.current_time()
        self.touch()

    def _close_connection(self, code: int = 1000, reason: str = "") -> None:
        conn, scope, done = self._conn, self._conn_scope, self._conn_done
        if conn is not None and scope is not None and done is not None and self._nursery is not None \
                and not self._closing:
            self._closing = True
            self._nursery.start_soon(self._aclose, conn, scope, done, code, reason)
        elif self._connecting:
            # a connection attempt in flight: abandon it
            self._generation += 1
            self._connecting = False
            if self._reconnect_now:
                self._reconnect_now = False
                self._reconnect_at = trio.current_time()
            elif self._reboot_pending:
                self._reboot_pending = False
                self._reconnect_at = trio.current_time() + self.profile.reboot_delay / self.protocol_speed

    @staticmethod
    async def _aclose(
        conn: OcppConnection, scope: trio.CancelScope, done: trio.Event, code: int, reason: str
    ) -> None:
        """Close the websocket and wait for the connection task to finish (not for the
        close handshake: the connection task's exit may end the websocket's reader
        before the CSMS's close frame arrives)."""

        async def close() -> None:
            with suppress(Exception):  # may already be closing
                await conn.aclose(code, reason)

        with trio.move_on_after(_CLOSE_TIMEOUT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(close)
                await done.wait()
                nursery.cancel_scope.cancel()
        scope.cancel()

    async def _close_gracefully(self) -> None:
        conn, scope, done = self._conn, self._conn_scope, self._conn_done
        if conn is not None and scope is not None and done is not None:
            await self._aclose(conn, scope, done, 1000, "station shut down")

    def _speak(self, version: str) -> None:
        """The CSMS selected ``version``, another of those the station offers: a fresh
        dialect of it takes over (the previous one's configuration model and CSMS-set
        data are not carried over)."""
        self.dialect = dialect_factory(version)(self)
        self.queue.sheddable = self.dialect.sheddable
        self._calls_observer = self._observer_of(version)

    def set_call_timeout(self, seconds: float) -> None:
        """The call timeout of the connection (now and for the next ones: the dialect's
        message timeout)."""
        if self._conn is not None:
            self._conn.session.call_timeout = seconds

    def online(self) -> bool:
        """Connected and accepted by the CSMS."""
        return self._conn is not None and self._registration == ACCEPTED

    def connected(self) -> bool:
        return self._conn is not None

    def request_reconnect(self) -> None:
        """Close the connection (after the current answer went out) and reconnect at once
        with the present URL, id and password (e.g. after a new BasicAuthPassword)."""
        def act() -> None:
            if self._conn is not None:
                self._reconnect_now = True
                self._close_connection(1000, "reconnecting with new credentials")

        self.set_timer("reconnect", _ACT_AFTER_REPLY, act)

    # ------------------------------------------------------------------ sending

    def _next_item(self, now: float) -> OutItem | None:
        if self._conn is None or self._closing:
            return None
        if self._boot_due:
            self._boot_due = False
            return OutItem(self.dialect.boot_request(self._boot_reason), followup=True, on_result=self._on_boot_result)
        registration = self._registration
        if registration == ACCEPTED:
            return self.queue.next_ready(now, followups_only=False)
        if registration == PENDING:
            return self.queue.next_ready(now, followups_only=True)
        return None

    async def _transmit(self, item: OutItem) -> None:
        conn = self._conn
        assert conn is not None
        sent = self._note_transmission(item) if self.audit and item.transaction_id is not None else None
        try:
            await self._transmit_item(conn, item)
        finally:
            if sent is not None:
                self._sent_and_done(sent, item)

    async def _transmit_item(self, conn: OcppConnection, item: OutItem) -> None:
        due = item.due
        sent_at = trio.current_time()
        if due and self._on_schedule is not None and not item.attempts and item.not_before == 0.0:
            self._on_schedule(sent_at - due)  # first time out: how late
        try:
            response = await conn.call(item.request)
        except ConnectionLost as exc:
            # The websocket is gone; the connection task reports it (_Down) once it has
            # cleaned up. Until then send nothing more (and do not spin: yield below).
            self._closing = True
            if not item.durable:
                self.queue.remove(item)
                self._failed(item, exc)
        except CallTimeout as exc:
            if item.durable:
                item.not_before = trio.current_time() + self._attempt_interval(1)
                self._last_error = f"{type(item.request).__name__}: no answer (will retry)"
            else:
                self.queue.remove(item)
                self._failed(item, exc)
        except (RemoteCallError, InvalidResponse) as exc:
            if item.transaction_id is not None:
                item.attempts += 1
                attempts = self.dialect.transaction_attempts()
                if item.attempts < max(attempts, 1):
                    item.not_before = trio.current_time() + self._attempt_interval(item.attempts)
                    return
                self._events_dropped += 1
            self.queue.remove(item)
            self._failed(item, exc)
        except LocalProtocolError as exc:
            self.queue.remove(item)
            self._failed(item, exc)
        else:
            self.queue.remove(item)
            if due and self._on_answered_since_due is not None:
                now = trio.current_time()
                self._on_answered_since_due(type(item.request).__name__.removesuffix("Request"), now - due,
                                            now - sent_at)
            if item.transaction_id is not None:
                self._events_sent += 1
            if item.on_result is not None:
                try:
                    item.on_result(response)
                except Exception as exc:
                    logger.exception("%s: handling the answer to %s failed", self.station_id, type(item.request).__name__)
                    self._last_error = f"handling {type(item.request).__name__} answer failed: {exc}"
        self.touch()

    def _note_transmission(self, item: OutItem) -> tuple[str, int]:
        """Audit: remember that this TransactionEvent goes out; a second time is a retransmission."""
        assert item.transaction_id is not None
        sent = (item.transaction_id, item.seq_no)
        if self._sent_events is None:
            self._sent_events = set()
        if sent in self._sent_events:
            record = self._records.get(self._audit_ids.get(item.transaction_id, item.transaction_id))
            if record is not None:
                record.setdefault("resent", []).append(item.seq_no)
        else:
            self._sent_events.add(sent)
        return sent

    def _sent_and_done(self, sent: tuple[str, int], item: OutItem) -> None:
        """Audit: forget a TransactionEvent that left the queue (acknowledged or given up)."""
        items = self.queue.items
        if self._sent_events is not None and not (items and items[0] is item) \
                and not any(queued is item for queued in items):
            self._sent_events.discard(sent)

    def _attempt_interval(self, attempts: int) -> float:
        interval = self.dialect.transaction_attempt_interval()
        return interval * max(attempts, 1) / self.protocol_speed

    def _failed(self, item: OutItem, exc: Exception) -> None:
        if item.transaction_id is None:
            self._requests_failed += 1
        self._last_error = f"{type(item.request).__name__.removesuffix('Request')}: {exc}"
        if item.on_result is not None:
            try:
                item.on_result(exc)
            except Exception:
                logger.exception("%s: handling the failure of %s failed", self.station_id, type(item.request).__name__)

    def send(self, request: Any, *, followup: bool = False, durable: bool = False,
             on_result: Callable[[Any], None] | None = None) -> None:
        """Queue a request of the station (sent in order once accepted; ``followup``: a
        consequence of a CSMS request, also allowed while Pending)."""
        self.queue.append(OutItem(request, followup=followup, durable=durable, on_result=on_result))
        self.wake()
        self.touch()

    def send_unconfirmed(self, message: Any) -> bool:
        """Send an OCPP-J 2.1 SEND (e.g. NotifyPeriodicEventStream) now, never answered,
        never queued for later: whether it went out (not when offline or not accepted)."""
        conn = self._conn
        if conn is None or self._closing or self._registration != ACCEPTED:
            return False
        try:
            conn.send_soon(message)
        except LocalProtocolError as exc:
            self._last_error = f"{type(message).__name__}: {exc}"
            return False
        return True

    # --------------------------------------------------------------------- boot

    def trigger_boot(self) -> None:
        """Send a BootNotification (reason Triggered) now (TriggerMessage while not accepted)."""
        if self._registration != ACCEPTED and self._conn is not None:
            self._boot_reason = TRIGGERED
            self._boot_due = True
            self.cancel_timer("boot")

    def _on_boot_result(self, result: Any) -> None:
        if isinstance(result, Exception):
            if self._conn is not None:
                self.protocol_timer("boot", self.profile.boot_retry_interval, self._boot_timer)
            return
        self._boots += 1
        status, interval = self.dialect.boot_answer(result)
        self._registration = status
        self.last_boot_status = str(status)
        if status == ACCEPTED:
            reason, self._boot_reason = self._boot_reason, None
            first = not self._booted_once
            self._booted_once = True
            if first:
                self._report_first_boot()
            if self._faults is not None:
                self._faults.accepted()
            self.dialect.boot_accepted(reason, interval)
            self.driver.start(self.evses, first)
            self.update_state()
        else:
            delay = interval if interval > 0 else self.profile.boot_retry_interval
            self.protocol_timer("boot", delay, self._boot_timer)
            if status == REJECTED:
                self._rejected_until = trio.current_time() + delay / self.protocol_speed
            self._set_state("pending" if status == PENDING else "rejected")

    def _report_first_boot(self) -> None:
        """Tell the observer, where it records them (:meth:`fleet.metrics.Metrics.booted`), how
        long the station took from its making to its first Accepted boot (looked up once per
        station, not kept: a worker's thousands of stations would each hold it)."""
        booted: Callable[[float], None] | None = getattr(self.observer, "booted", None)
        if booted is not None:
            booted(time.monotonic() - self._created)

    def _boot_timer(self) -> None:
        if self._conn is not None and self._registration != ACCEPTED:
            self._boot_due = True

    def _online_again(self) -> None:
        """After a reconnection without reboot: heartbeat, and report connectors that changed."""
        self.arm_heartbeat()
        self.dialect.report_changed_statuses()

    # --------------------------------------------------------------- heartbeat

    def arm_heartbeat(self) -> None:
        """(Re)start the heartbeat timer at the dialect's interval."""
        interval = self.dialect.heartbeat_interval()
        if interval > 0 and self._conn is not None:
            self.protocol_timer("heartbeat", interval, self._heartbeat)

    def rearm_heartbeat(self) -> None:
        if self.online():
            self.arm_heartbeat()

    def _heartbeat(self) -> None:
        if self.online():
            self.queue.append(OutItem(self.dialect.heartbeat_request(), on_result=self._on_heartbeat))
            self.arm_heartbeat()
            self.touch()

    def _on_heartbeat(self, result: Any) -> None:
        if not isinstance(result, Exception):
            self._heartbeats += 1
            self.touch()

    def send_heartbeat(self, followup: bool = True) -> None:
        self.send(self.dialect.heartbeat_request(), followup=followup, on_result=self._on_heartbeat)

    # ------------------------------------------------------------------ status

    def station_operative(self) -> bool:
        return self._station_operative

    def set_station_operative(self, operative: bool) -> None:
        self._station_operative = operative
        for evse in self.evses:
            self.dialect.update_evse(evse)
        self.update_state()

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.touch()

    def update_state(self) -> None:
        """The state once connected and accepted: available, charging or faulted."""
        if self._conn is None or self._registration != ACCEPTED:
            self.touch()
            return
        if any(c.faulted for e in self.evses for c in e.connectors):
            self._set_state("faulted")
        elif any(e.power_w != 0 for e in self.evses):  # energy flowing either way (a V2X discharge too)
            self._set_state("charging")
        else:
            self._set_state("available")
        self.touch()

    def touch(self) -> None:
        """Something changed: drop the cached snapshot, wake who waits for a change."""
        self._snapshot = None
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()

    def _release_waiters(self) -> None:
        self.touch()

    # ================================================================ transactions

    def any_transaction(self) -> bool:
        return any(e.tx is not None for e in self.evses)

    def new_vehicle(self, demand_wh: float | None = None) -> Vehicle:
        """A vehicle drawn from the profile (capacity, power, state of charge, demand)."""
        v = self.profile.vehicle
        rng = self.rng
        demand = demand_wh if demand_wh is not None else draw(rng, self.profile.sessions.energy_demand)
        vehicle = Vehicle(draw(rng, v.battery_capacity), draw(rng, v.max_power), draw(rng, v.initial_soc), demand)
        if v.bidirectional_share > 0 and rng.random() < v.bidirectional_share:  # (no draw without V2X)
            return Vehicle(vehicle.capacity_wh, vehicle.max_power_w, vehicle.initial_soc, demand,
                           draw(rng, v.max_discharge_power), draw(rng, v.min_soc))
        return vehicle

    def count_transaction_started(self) -> None:
        self._tx_started += 1

    def transaction_ended(self, evse: EvseState) -> None:
        """The dialect ended the transaction on ``evse``: what waited for it happens now
        (an availability change, a reset OnIdle), and the driver leaves after a while."""
        self._tx_ended += 1
        if self._pending_station_operative is not None and not self.any_transaction():
            operative, self._pending_station_operative = self._pending_station_operative, None
            self.defer(lambda: self.set_station_operative(operative))
        if self._reset_on_idle is not None and not self.any_transaction():
            reason_boot, self._reset_on_idle = self._reset_on_idle, None
            self.set_timer("reboot", _ACT_AFTER_REPLY, lambda: self.reboot(reason_boot))
        self.driver.transaction_ended(evse)

    def count_event(self, transaction_id: str, seq_no: int, energy_wh: float | None,
                    export_wh: float | None = None) -> None:
        """The dialect queued a transaction event (for the counters and the audit;
        ``export_wh``: the export register it carried, when it carried one)."""
        self._events_generated += 1
        if self.audit:
            transaction_id = self._audit_ids.get(transaction_id, transaction_id)
            record = self._records.setdefault(transaction_id, {"seq": [], "energy": None})
            record["seq"].append(seq_no)
            if energy_wh is not None:
                record["energy"] = energy_wh
            if export_wh is not None:
                record["export"] = export_wh

    def transaction_named(self, key: str, transaction_id: str) -> None:
        """The CSMS named the transaction the dialect counts as ``key`` (an OCPP 1.6
        StartTransaction was answered): the audit reports it as ``transaction_id``, the
        name the CSMS records it under, from now on."""
        if self.audit:
            self._audit_ids[key] = transaction_id
            record = self._records.pop(key, None)
            if record is not None:
                self._records[transaction_id] = record

    def note_error(self, text: str) -> None:
        """Remember ``text`` as the last error (shown in the snapshot)."""
        self._last_error = text
        self.touch()

    # ------------------------------------------------------------ driver's commands

    def plug_vehicle(self, evse: EvseState, connector_id: int = 1) -> None:
        self.dialect.plug_vehicle(evse, connector_id)

    def unplug_vehicle(self, evse: EvseState) -> None:
        self.dialect.unplug_vehicle(evse)

    def present_token(self, evse: EvseState, id_token: str, token_type: str, *,
                      on_rejected: Callable[[], None] | None = None) -> None:
        self.dialect.driver_presents(evse, id_token, token_type, on_rejected)

    def stop_by_driver(self, evse: EvseState) -> None:
        self.dialect.stop_by_driver(evse)

    @property
    def stopping(self) -> bool:
        """Shutting down."""
        return self._stopping

    # ------------------------------------------------------------------ reboot

    def reboot(self, reason: str) -> None:
        """Simulate a reboot: end transactions, vehicles leave, disconnect, and boot
        again with ``reason`` after the profile's reboot delay (the queue is kept)."""
        dialect = self.dialect
        for evse in self.evses:
            if evse.tx is not None:
                dialect.end_for_reboot(evse, reason)
            evse.plugged = None
            evse.vehicle = None
            evse.authorized = None
            evse.remote_start_id = None
            evse.reservation = None
            evse.atg_phase = "idle"
            evse.power_w = 0.0
            if evse.pending_operative is not None:
                evse.operative, evse.pending_operative = evse.pending_operative, None
            dialect.reset_statuses(evse)
        if self._pending_station_operative is not None:
            self._station_operative, self._pending_station_operative = self._pending_station_operative, None
        self._timers.keep_only(lambda name: name == "fw" or (isinstance(name, tuple) and name[0] == "fault"))
        dialect.rebooted()
        self.driver.running = False
        self._registration = None
        self._boot_reason = reason
        self._reset_on_idle = None
        self._reboots += 1
        self.queue.drop_volatile()
        if self._conn is not None or self._connecting:
            self._reboot_pending = True
            self._close_connection(1000, "rebooting")
        else:
            self._reconnect_at = trio.current_time() + self.profile.reboot_delay / self.protocol_speed
        self._set_state("offline")

    def request_reboot(self, reason: str) -> None:
        """Reboot after the current answer went out."""
        self.set_timer("reboot", _ACT_AFTER_REPLY, lambda: self.reboot(reason))

    def schedule_reset_on_idle(self, reason: str) -> None:
        """Reboot (for ``reason``) once the last transaction ended (Reset OnIdle)."""
        self._reset_on_idle = reason

    def schedule_station_operative(self, operative: bool | None) -> None:
        """Make the station (in)operative once the last transaction ended (``None``: nothing
        pending any more)."""
        self._pending_station_operative = operative

    # ---------------------------------------------------------------- shutdown

    def _begin_shutdown(self, timeout: float) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._stop_deadline = trio.current_time() + max(0.0, timeout)
        self.driver.running = False
        if self._faults is not None:
            self._faults.stop()
        self.driver.stop(self.evses)
        for evse in self.evses:
            if evse.tx is not None:
                self.dialect.stop_for_shutdown(evse)
        self._reconnect_at = None

    def _may_stop(self, now: float) -> bool:
        if now >= self._stop_deadline:
            return True
        if self._conn is None or self._registration != ACCEPTED:
            return True
        return not any(item.durable for item in self.queue)

@asynccontextmanager
async def open_station(station_id: str, csms_url: str, **kwargs: Any) -> AsyncIterator[Station]:
    """Run a :class:`Station` for the duration of the block; shut it down at the end.

    Takes the arguments of :class:`Station`.
    """
    station = Station(station_id, csms_url, **kwargs)
    async with trio.open_nursery() as nursery:
        await nursery.start(station.run)
        try:
            yield station
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(_CLOSE_TIMEOUT + 1):
                await station.shutdown(timeout=1.0)
            nursery.cancel_scope.cancel()
