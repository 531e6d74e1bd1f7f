"""The CSMS actor: serves OCPP stations, answers them, remembers what they sent.

Stations connect at ``ws(s)://host:port/<path>/<stationId>``; each accepted
connection runs one :class:`~fleet.net.connection.OcppConnection` with its own
:class:`~fleet.ocpp.Session`, so replies are correlated per connection and never
cross between stations. Each connection speaks the dialect
(:mod:`fleet.actors.csms.dialect`) of the OCPP version negotiated in its handshake
(OCPP 2.0.1, :mod:`fleet.actors.csms.v201`, or 1.6, :mod:`fleet.actors.csms.v16`);
stations of every version the CSMS speaks share one port. Every CALL a station sends is counted and recorded in the
station's version-free record (:mod:`fleet.actors.csms.records`, by the dialect's
recorders) and answered by a handler: the dialect's default ones or yours (:meth:`Csms.on`).

Use::

    async with open_csms(port=0, boot_status="Accepted") as csms:
        print("stations connect to", csms.url)

        @csms.on("Authorize")
        def authorize(request, ctx):
            return csms.default_handler("Authorize")(request, ctx)

        async with csms.subscribe() as events:
            async for event in events:
                if isinstance(event, Connected):
                    reply = await csms.call(event.station_id, ResetRequest(type=Reset.IMMEDIATE))

**Ownership.** The CSMS owns its state: records are changed only by its own tasks
(the connection tasks that handle each CALL, inside the CSMS's nursery). Its
public methods are called from the trio run that runs the CSMS (never from
another thread). The synchronous ones (setters such as :meth:`Csms.set_auth_list`,
and the readers) take effect at once: trio runs one task at a time and they do
not yield, so they never see or leave a half-done change. The readers return
snapshots (frozen Structs, copied containers), never live state. The
asynchronous ones (:meth:`Csms.call`, :meth:`Csms.disconnect`) wait for the
network.

**Speed.** Per CALL the CSMS does two dictionary updates and, for the messages
it records, a few attribute writes; it logs nothing per message and builds
events only while someone subscribes.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import msgspec
import trio

from ...faults import abort_websocket
from ...net.connection import CallLimits, ConnectionObserver, FloodCounters, Handler, OcppConnection
from ...net.events import Connected, Disconnected, FleetEvent
from ...net.hub import EventHub
from ...net.ocpp_log import OcppLog
from ...net.transport import DEFAULT_MAX_MESSAGE_SIZE, Accepted, serve_ocpp
from ...ocpp import CallFailure, ConnectionLost, ErrorCode, LocalProtocolError, ResultReceived, Session
from .auth import IdTokenEntry, TokenStatus, parse_auth_list, parse_id_tokens
from .connection_log import ConnectionLog
from .dialect import AnswerRecorder, CsmsDialect
from .dialects import DIALECTS, dialects_by_version
from .policy import (
    DEFAULT_BOOT_RETRY_INTERVAL,
    DEFAULT_HEARTBEAT_INTERVAL,
    CsmsPolicy,
    Registration,
    check_interval,
)
from .records import StationRecord, StationState
from .silence_watch import SilenceWatch

__all__ = [
    "ConnectionInfo",
    "Csms",
    "CsmsStatistics",
    "PendingRequest",
    "StationNotConnected",
    "open_csms",
]

logger = logging.getLogger("fleet.csms")

#: Seconds a replaced connection gets to close before the new one goes ahead anyway.
REPLACE_TIMEOUT = 5.0
#: Seconds between flushes of the raw OCPP log.
LOG_FLUSH_INTERVAL = 1.0
#: Default seconds a connection may stay silent after its handshake before it is closed.
IDLE_TIMEOUT = 60.0
#: Seconds between attempts to listen again after a restart, while the port cannot be bound.
RESTART_RETRY_INTERVAL = 0.5
#: ``fleet csms``'s flood limits (the Python API sets none unless asked): CALLs per second
#: per connection, and refused CALLs before a 1008 close.
DEFAULT_MAX_CALL_RATE = 200.0
DEFAULT_FLOOD_CLOSE_AFTER = 100


class StationNotConnected(ConnectionLost):
    """A CALL was addressed to a station that is not connected.

    Attributes:
        station_id: the station.
    """

    def __init__(self, station_id: str) -> None:
        super().__init__(f"station {station_id!r} is not connected")
        self.station_id = station_id


class ConnectionInfo(msgspec.Struct, frozen=True):
    """One connected station.

    Attributes:
        station_id: the station.
        ocpp_version: the negotiated OCPP version, e.g. ``"2.0.1"``.
        remote: the peer's address.
        connected_at: when the connection was accepted (wall clock).
    """

    station_id: str
    ocpp_version: str
    remote: str
    connected_at: float


class PendingRequest(msgspec.Struct, frozen=True):
    """A CALL of the CSMS in flight or queued (OCPP-J allows one in flight per station).

    Attributes:
        station_id: the station it goes to.
        message_id: its message id.
        action: its action.
        tag: the caller's tag.
    """

    station_id: str
    message_id: str
    action: str
    tag: Any = None


class CsmsStatistics(msgspec.Struct, frozen=True):
    """A snapshot of the CSMS's counters.

    Attributes:
        url: where stations connect (``None`` when not listening).
        stations: stations known (ever connected since the CSMS was made).
        connected: stations connected now.
        connections: connections accepted in total.
        replaced: connections closed because the same station connected again.
        refused: refused handshakes by HTTP status (``"400"``: no common subprotocol;
            ``"403"``: a client certificate whose CN is not the station id, security
            profile 3; ``"tls"``: failed TLS handshakes, e.g. no or an untrusted client
            certificate; ``"partition"``: connections dropped while :meth:`Csms.partition`
            cuts the station off).
        messages: CALLs received from stations, by action.
        transactions_started: transactions with a ``Started`` event.
        transactions_ended: transactions with an ``Ended`` event.
        transactions_active: transactions seen and not ended.
        calls_sent: CALLs the CSMS made to stations.
        calls_failed: of those, the ones that failed (CALLERROR, invalid, timeout, lost).
        violations: invalid frames received from stations.
        events_dropped: events a slow subscriber missed.
        restarts: restarts so far (:meth:`Csms.restart`).
        flood: what the flood policy did (see ``max_call_rate``): ``pipelined`` CALLs
            (sent before the answer to the previous one), CALLs refused for the rate
            (``refused_rate``) or for too many in flight (``refused_pending``), and
            connections ``closed`` with 1008.
    """

    url: str | None
    stations: int
    connected: int
    connections: int
    replaced: int
    refused: dict[str, int]
    messages: dict[str, int]
    transactions_started: int
    transactions_ended: int
    transactions_active: int
    calls_sent: int
    calls_failed: int
    violations: int
    events_dropped: int
    restarts: int = 0
    flood: dict[str, int] = {}


class _Link:
    """One accepted connection of a station."""

    __slots__ = ("conn", "connected_at", "done", "remote", "version")

    def __init__(self, conn: OcppConnection, version: str, remote: str, connected_at: float) -> None:
        self.conn = conn
        self.version = version
        self.remote = remote
        self.connected_at = connected_at
        self.done = trio.Event()


class _Observer:
    """Counts violations and failed calls; forwards everything to the user's observer."""

    def __init__(self, forward: ConnectionObserver | None) -> None:
        self.forward = forward
        self.violations = 0
        self.calls_failed = 0

    def call_completed(self, action: str, outgoing: bool, latency: float) -> None:
        if self.forward is not None:
            self.forward.call_completed(action, outgoing, latency)

    def call_failed(self, action: str, error: CallFailure) -> None:
        self.calls_failed += 1
        if self.forward is not None:
            self.forward.call_failed(action, error)

    def violation(self, code: str) -> None:
        self.violations += 1
        if self.forward is not None:
            self.forward.violation(code)

    def flood(self, kind: str) -> None:
        """The flood policy acted (counted by the CSMS); tell a metrics collector (its ``count``)."""
        count = getattr(self.forward, "count", None)
        if count is not None:
            count(f"flood_{kind}")


class Csms:
    """An OCPP CSMS serving stations over websockets, each connection in its OCPP version's dialect.

    Run it with ``async with open_csms(...) as csms`` or ``await nursery.start(csms.run)``.
    For fault injection, :meth:`restart` takes it down and up again (keeping its records),
    and :meth:`drop_connection` / :meth:`partition` cut stations off from its side.

    Args:
        host: the address to listen on.
        port: the port (0 picks a free one; read it from :attr:`port`).
        path: the route; stations connect at ``<path>/<stationId>``.
        auth: station id -> password; when given, stations must authenticate with
            HTTP Basic auth (user = station id); ``None`` accepts every station.
        ssl_context: serve ``wss://`` (security profile 2; profile 3 when it
            requires client certificates, see :func:`fleet.net.transport.server_ssl_context`).
        reuse_port: set SO_REUSEPORT, so several processes can serve one port.
        boot_status: registration status given at BootNotification (Accepted,
            Pending or Rejected; see :class:`~fleet.actors.csms.policy.Registration`);
            per station with :meth:`set_boot_status`.
        heartbeat_interval: seconds between heartbeats asked of Accepted stations.
        boot_retry_interval: seconds a Pending or Rejected station waits before booting again.
        id_tokens: the id-token list: token -> status, ``{"status", "group", "expires"}``
            or :class:`~fleet.actors.csms.auth.IdTokenEntry` (see :mod:`fleet.actors.csms.auth`); ``None``: no list.
        unknown_token_status: the answer for a token not in the list (a
            :class:`~fleet.actors.csms.auth.TokenStatus`; default: Accepted without a list,
            Unknown with one).
        data_transfer_vendors: vendor ids whose DataTransfer is Accepted (others:
            UnknownVendorId).
        transaction_ids: ``(first, step)`` of the transaction ids it assigns to stations of a
            version where the CSMS names transactions (OCPP 1.6): ``first``, ``first + step``...;
            several processes serving one fleet count in disjoint sequences.
        call_timeout: seconds the CSMS's own CALLs wait for an answer by default.
        handler_timeout: seconds an asynchronous handler may take before the CALL
            is answered with InternalError.
        ping_interval: seconds between websocket pings to each station (``None``: none).
        max_message_size: larger websocket messages close the connection (1009).
        ocpp_log: path of a raw OCPP log (JSON lines; ``"-"`` for standard output); off by default.
        observer: a :class:`~fleet.net.connection.ConnectionObserver` (e.g.
            :class:`fleet.metrics.Metrics`) given every connection's figures.
        transaction_history: ended transactions kept per station (oldest
            dropped first); ``None`` keeps all of them, for a complete audit.
        idle_timeout: seconds a connection may stay open after its handshake without
            sending a single OCPP message before it is closed (1008); ``None``: no
            limit. (Handshakes themselves must complete within
            :data:`fleet.net.transport.HANDSHAKE_TIMEOUT`.)
        max_call_rate: CALLs per second a station may send on average on one
            connection; beyond it (and a burst of ``call_burst``) a CALL is answered with a
            CALLERROR (GenericError) without being handled. ``None``: no limit. Every
            CALL is answered, in order; see :class:`~fleet.net.connection.CallLimits`.
        call_burst: CALLs a station may send at once above the rate (default: two
            seconds' worth).
        flood_close_after: refused CALLs after which the connection is closed with 1008
            (policy violation); ``None``: never.
        max_pending_calls: a station's CALLs whose asynchronous handlers may run at once;
            more are refused (a station that waits for each answer has one).
        dialects: the OCPP versions it serves, version name -> dialect, in order of
            preference (default: every version it speaks, :data:`fleet.actors.csms.dialects.DIALECTS`);
            a station offering none of their subprotocols is refused.

    Raises:
        ValueError: a bad setting (the message says which); :class:`fleet.actors.csms.auth.AuthFileError`
            (a ``ValueError``) for a malformed ``auth`` or ``id_tokens``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9000,
        path: str = "/ocpp",
        *,
        auth: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        reuse_port: bool = False,
        boot_status: str = Registration.ACCEPTED,
        heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL,
        boot_retry_interval: int = DEFAULT_BOOT_RETRY_INTERVAL,
        id_tokens: Mapping[str, str | Mapping[str, Any] | IdTokenEntry] | None = None,
        unknown_token_status: str | None = None,
        data_transfer_vendors: Collection[str] = (),
        transaction_ids: tuple[int, int] = (1, 1),
        call_timeout: float = 10.0,
        handler_timeout: float = 10.0,
        ping_interval: float | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        ocpp_log: str | None = None,
        observer: ConnectionObserver | None = None,
        transaction_history: int | None = None,
        idle_timeout: float | None = IDLE_TIMEOUT,
        max_call_rate: float | None = None,
        call_burst: int | None = None,
        flood_close_after: int | None = None,
        max_pending_calls: int = 16,
        dialects: Mapping[str, CsmsDialect] = DIALECTS,
    ) -> None:
        self.host = host
        self.path = "/" + path.strip("/") if path.strip("/") else ""
        self.ssl_context = ssl_context
        self.reuse_port = reuse_port
        self.call_timeout = call_timeout
        self.handler_timeout = handler_timeout
        self.ping_interval = ping_interval
        self.max_message_size = max_message_size
        self.ocpp_log_path = ocpp_log
        self.transaction_history = transaction_history
        self.idle_timeout = idle_timeout
        self.limits = CallLimits(max_call_rate, call_burst, flood_close_after, max_pending_calls)
        self._flood = FloodCounters()
        #: station id -> its rate limit's bucket when its last connection ended (limit on only)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._requested_port = port
        self._port: int | None = None
        self._auth: dict[str, str] | None = parse_auth_list(auth, "auth") if auth is not None else None
        self._policy = CsmsPolicy(
            boot_status=boot_status,
            heartbeat_interval=heartbeat_interval,
            boot_retry_interval=boot_retry_interval,
            id_tokens=parse_id_tokens(id_tokens, "id_tokens") if id_tokens is not None else None,
            unknown_token_status=unknown_token_status,
            data_transfer_vendors=data_transfer_vendors,
            transaction_ids=transaction_ids,
        )
        if not dialects:
            raise ValueError("dialects: the CSMS needs at least one OCPP version to speak")
        self._dialects: dict[str, CsmsDialect] = dict(dialects_by_version(*dialects.values()))
        dialects = self._dialects
        #: version -> action -> the default handler / the user's handler
        self._defaults = {name: dialect.default_handlers(self._policy) for name, dialect in dialects.items()}
        self._overrides: dict[str, dict[str, Handler]] = {name: {} for name in dialects}
        #: action -> the default handler of every version at once (see :meth:`default_handler`)
        self._any_version_defaults: dict[str, Handler] = {}
        self._records: dict[str, StationState] = {}
        self._links: dict[str, _Link] = {}
        self._hub: EventHub[FleetEvent] = EventHub()
        self._observer = _Observer(observer)
        self._log: OcppLog | None = None
        self._cancel_scope: trio.CancelScope | None = None
        self._connections = 0
        self._replaced = 0
        self._refused: dict[str, int] = {}
        self._connection_log = ConnectionLog()
        self._calls_sent = 0
        self._messages: dict[str, int] = {}
        #: version -> action -> what its connections call: count, record, answer
        self._dispatch: dict[str, dict[str, Handler]] = {
            name: {action: self._dispatcher(name, action) for action in dialect.station_actions}
            for name, dialect in dialects.items()
        }
        self._serving: trio.CancelScope | None = None
        self._down: trio.Event | None = None
        self._downtime = 0.0
        self._restarts = 0
        self._cut_off: dict[str, float] = {}  # station id -> until (trio time): partitioned
        #: closes the connections that send nothing within ``idle_timeout``
        self._silence = SilenceWatch()

    def __repr__(self) -> str:
        auth = "off" if self._auth is None else f"{len(self._auth)} stations"
        return f"<Csms {self.url if self._port is not None else 'not listening'} connected={len(self._links)} auth={auth}>"

    # ---------------------------------------------------------------- running

    @property
    def port(self) -> int | None:
        """The port it listens on (the real one when asked for port 0); ``None`` when not listening."""
        return self._port

    @property
    def url(self) -> str:
        """``ws(s)://host:port/path``: append ``/<stationId>`` to connect a station."""
        scheme = "wss" if self.ssl_context is not None else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = self._port if self._port is not None else self._requested_port
        return f"{scheme}://{host}:{port}{self.path}"

    @property
    def client_certificates_required(self) -> bool:
        """Security profile 3: stations must present a client certificate (verified against
        the CA of the TLS context), and its CN must be the station id."""
        return self.ssl_context is not None and self.ssl_context.verify_mode == ssl.CERT_REQUIRED

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve stations until cancelled or :meth:`stop`; ``task_status.started(port)`` once listening.

        Raises:
            RuntimeError: it is already running.
            OSError: the address cannot be bound.
        """
        if self._cancel_scope is not None:
            raise RuntimeError("this CSMS is already running")
        log = OcppLog(self.ocpp_log_path) if self.ocpp_log_path else None
        self._log = log
        try:
            with _bind_errors_unwrapped(lambda: self._port is None), trio.CancelScope() as scope:
                self._cancel_scope = scope
                async with trio.open_nursery() as nursery:
                    if log is not None:
                        nursery.start_soon(self._flush_log, log)
                    if self._connection_log.logger.isEnabledFor(logging.INFO):
                        nursery.start_soon(self._connection_log.run)
                    nursery.start_soon(self._silence.run)
                    while True:  # once, plus once more after each restart()
                        with trio.CancelScope() as serving:
                            self._serving = serving
                            try:
                                async with trio.open_nursery() as listener:
                                    await self._listen(listener, task_status)
                            finally:
                                self._serving = None
                        if self._down is not None:
                            self._down.set()
                        await trio.sleep(self._downtime)
        finally:
            self._cancel_scope = None
            self._serving = None
            self._port = None
            self._log = None
            if self._down is not None:
                self._down.set()
            if log is not None:
                log.close()

    async def _listen(self, listener: trio.Nursery, task_status: trio.TaskStatus[int]) -> None:
        """Serve in ``listener``: the first time on the requested port, after a restart on
        the same port again (retrying while it cannot be bound)."""
        serve = functools.partial(
            serve_ocpp,
            self._on_station,
            self.host,
            path=self.path,
            password_of=self._password_of,
            auth_required=self._auth_required,
            ssl_context=self.ssl_context,
            max_message_size=self.max_message_size,
            on_refused=self._on_refused,
            reuse_port=self.reuse_port,
            versions=[dialect.version for dialect in self._dialects.values()],
        )
        if self._port is None:
            self._port = await listener.start(functools.partial(serve, self._requested_port))
            logger.info("listening on %s (auth %s%s)", self.url, "on" if self._auth is not None else "off",
                        ", client certificates with CN = station id" if self.client_certificates_required else "")
            task_status.started(self._port)
            return
        while True:
            try:
                with _bind_errors_unwrapped(lambda: True):
                    await listener.start(functools.partial(serve, self._port))
            except OSError as exc:
                logger.warning("restart: cannot listen on %s yet (%s); retrying", self.url, exc)
                await trio.sleep(RESTART_RETRY_INTERVAL)
                continue
            logger.info("listening again on %s after a restart", self.url)
            return

    async def restart(self, downtime: float = 5.0) -> int:
        """Restart: stop listening and close every connection, then listen again on the
        same port ``downtime`` seconds later (stations reconnect with their back-off).

        Only the listener and the connections go down: what the CSMS recorded, its
        settings and handlers are kept, as in a CSMS whose state lives in a database (so
        an audit still sees every message). Returns once it is down, with the number of
        connections it closed.

        Raises:
            ValueError: a negative or infinite ``downtime``.
            RuntimeError: it is not listening (not running, or restarting already).
        """
        if not (0 <= downtime < math.inf):
            raise ValueError(f"downtime: expected seconds >= 0, got {downtime}")
        serving = self._serving
        if self._cancel_scope is None or serving is None or self._port is None:
            raise RuntimeError("the CSMS is not listening (not running, or restarting already)")
        closed = len(self._links)
        self._downtime = downtime
        self._restarts += 1
        down = self._down = trio.Event()
        serving.cancel()
        await down.wait()
        return closed

    @property
    def listening(self) -> bool:
        """Whether it accepts connections now (not while stopped or down for a restart)."""
        return self._serving is not None and self._port is not None

    async def drop_connection(self, station_id: str, reason: str = "link dropped by the CSMS") -> bool:
        """Drop a station's connection abruptly, as when a link dies: a TCP reset, no
        websocket close handshake. Return whether it was connected."""
        link = self._links.get(station_id)
        if link is None:
            return False
        link.conn.close_reason = link.conn.close_reason or reason
        await abort_websocket(link.conn.websocket)
        return True

    async def partition(self, station_id: str, duration: float) -> bool:
        """Cut a station off for ``duration`` seconds, from the CSMS's side: its connection
        is dropped (:meth:`drop_connection`) and, until the time is up, every new
        connection of it is dropped right after its handshake, before it can send a
        message. Return whether it was connected."""
        if not (0 < duration < math.inf):
            raise ValueError(f"duration: expected seconds > 0, got {duration}")
        until = trio.current_time() + duration
        self._cut_off[station_id] = max(until, self._cut_off.get(station_id, until))
        return await self.drop_connection(station_id, "network partition (fault injection)")

    def stop(self) -> None:
        """Stop serving: every connection is closed and :meth:`run` returns (records are kept)."""
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    # --------------------------------------------------------------- handlers

    def on(self, action: str, handler: Handler | None = None, *, version: str | None = None) -> Any:
        """Answer ``action`` with ``handler(request, ctx)`` instead of the default.

        The handler gets the decoded request Struct and a
        :class:`~fleet.net.connection.CallContext` (``ctx.station_id``,
        ``ctx.message_id``); it returns the response Struct (or a dict of its
        payload), directly or as a coroutine; raising an
        :class:`~fleet.ocpp.OcppError` answers with that CALLERROR, any other
        exception with InternalError. The CSMS still records the message as
        usual. Use as ``csms.on("Authorize", handler)`` or as a decorator,
        ``@csms.on("Authorize")``.

        A handler answers the stations of the OCPP ``version`` given (e.g. ``"2.0.1"``; its
        requests and responses are that version's Structs), by default of every version
        the CSMS speaks whose stations send ``action`` (:attr:`versions`; the request's
        type tells its version; a dict answer suits them all).

        Raises:
            ValueError: ``action`` is not a message stations send (in that version),
                or the CSMS does not speak ``version``.
        """
        versions = self._versions_of(action, version)
        if handler is None:

            def decorator(function: Handler) -> Handler:
                for name in versions:
                    self._overrides[name][action] = function
                return function

            return decorator
        for name in versions:
            self._overrides[name][action] = handler
        return handler

    def restore_default(self, action: str, *, version: str | None = None) -> None:
        """Answer ``action`` with its default handler again (in ``version``, as for :meth:`on`)."""
        for name in self._versions_of(action, version):
            self._overrides[name].pop(action, None)

    def default_handler(self, action: str, *, version: str | None = None) -> Handler:
        """The default handler of ``action`` (to call from an override; ``version`` as for :meth:`on`:
        without one, the default of every version, answering each request in the version of its type).

        Raises:
            ValueError: ``action`` is not a message stations send.
        """
        if version is not None:
            return self._defaults[self._check_action(action, version)][action]
        versions = self._versions_of(action, None)
        if len(versions) == 1:
            return self._defaults[versions[0]][action]
        handler = self._any_version_defaults.get(action)
        if handler is None:
            handler = self._any_version_defaults[action] = self._default_by_request_type(action, versions)
        return handler

    def handler(self, action: str, *, version: str | None = None) -> Handler:
        """The handler answering ``action`` now (the override, else the default; ``version`` as for
        :meth:`on`: without one, the first version's override, else :meth:`default_handler`)."""
        name = self._versions_of(action, version)[0]
        override = self._overrides[name].get(action)
        if override is not None:
            return override
        return self.default_handler(action, version=version)

    @property
    def versions(self) -> list[str]:
        """The OCPP versions it speaks, in order of preference (e.g. ``["2.0.1"]``)."""
        return list(self._dialects)

    def dialect_of(self, station_id: str) -> CsmsDialect | None:
        """The dialect of ``station_id``'s connection (its OCPP version; which CALLs the CSMS
        may send it: see :func:`fleet.actors.csms.dialect.decode_request`); ``None`` when it is
        not connected."""
        link = self._links.get(station_id)
        return self._dialects[link.version] if link is not None else None

    # ------------------------------------------------------------ policy setters

    def set_boot_status(self, status: str | None, station_id: str | None = None) -> None:
        """Set the registration status given at boot: for every station, or for
        ``station_id`` only (``None`` then removes that station's own status)."""
        if station_id is None:
            if status is None:
                raise ValueError("the default boot status cannot be None")
            self._policy.boot_status = Registration(status)
        elif status is None:
            self._policy.boot_status_of.pop(station_id, None)
        else:
            self._policy.boot_status_of[station_id] = Registration(status)

    def set_heartbeat_interval(self, seconds: int) -> None:
        """Set the heartbeat interval given to stations at their next boot."""
        self._policy.heartbeat_interval = check_interval(seconds, "heartbeat_interval")

    def set_id_tokens(
        self, tokens: Mapping[str, str | Mapping[str, Any] | IdTokenEntry] | None, unknown_status: Any = ...
    ) -> None:
        """Replace the id-token list (``None``: no list); optionally also the
        status of unknown tokens (``None``: Accepted without a list, Unknown with one).

        Raises:
            fleet.actors.csms.auth.AuthFileError: a malformed list (nothing changes).
        """
        parsed = parse_id_tokens(tokens, "id_tokens") if tokens is not None else None
        if unknown_status is not ...:
            self._policy.unknown_token_status = TokenStatus(unknown_status) if unknown_status is not None else None
        self._policy.id_tokens = parsed

    def get_id_tokens(self) -> dict[str, IdTokenEntry] | None:
        """A copy of the id-token list (keys case-folded), or ``None``."""
        return dict(self._policy.id_tokens) if self._policy.id_tokens is not None else None

    # -------------------------------------------------------------- auth list

    def get_auth_list(self) -> list[str] | None:
        """The station ids that have a password, sorted; ``None`` when any station is accepted.

        Passwords are secrets and are left out, so the listing is safe to print or
        export; read one with :meth:`get_station_password`.
        """
        return sorted(self._auth) if self._auth is not None else None

    def set_auth_list(self, auth: Mapping[str, str] | None) -> None:
        """Replace the auth list (station id -> password); ``None`` accepts every station.

        Applies to the next handshakes; connected stations stay connected.

        Raises:
            fleet.actors.csms.auth.AuthFileError: a malformed list (nothing changes).
        """
        self._auth = parse_auth_list(auth, "auth list") if auth is not None else None

    def get_station_password(self, station_id: str) -> str | None:
        """The password of ``station_id``, or ``None`` if it has none."""
        return self._auth.get(station_id) if self._auth is not None else None

    def set_station_password(self, station_id: str, password: str | None) -> None:
        """Set (or with ``None`` remove) the password of ``station_id``; applies to its next handshake.

        Raises:
            RuntimeError: authentication is off (no auth list): call :meth:`set_auth_list` first.
            fleet.actors.csms.auth.AuthFileError: an unusable station id or password.
        """
        if self._auth is None:
            raise RuntimeError("authentication is off (no auth list): call set_auth_list({...}) first")
        if password is None:
            self._auth.pop(station_id, None)
        else:
            self._auth.update(parse_auth_list({station_id: password}, "station password"))

    # ------------------------------------------------------------- calls out

    async def call(
        self,
        station_id: str,
        request: Any,
        *,
        action: str | None = None,
        message_id: str | None = None,
        tag: Any = None,
        timeout: float | None = None,
    ) -> Any:
        """Send a CALL to a connected station and return its validated response Struct.

        Args:
            station_id: the station.
            request: the request Struct (e.g. ``ResetRequest(type=Reset.IMMEDIATE)``),
                or a dict of the payload together with ``action``.
            action: the action, when ``request`` is not a Struct.
            message_id: your own message id (default: a UUIDv4).
            tag: any object, given back with the answer (see :meth:`call_result`).
            timeout: seconds to wait instead of ``call_timeout``.

        Raises:
            StationNotConnected: the station is not connected.
            RemoteCallError: the station answered with a CALLERROR.
            InvalidResponse: the answer did not validate.
            CallTimeout: no answer in time.
            ConnectionLost: the connection closed first.
            LocalProtocolError: the request is invalid, or a Struct of another OCPP version than
                the station's connection (nothing was sent).
        """
        result = await self.call_result(
            station_id, request, action=action, message_id=message_id, tag=tag, timeout=timeout
        )
        return result.response

    async def call_result(
        self,
        station_id: str,
        request: Any,
        *,
        action: str | None = None,
        message_id: str | None = None,
        tag: Any = None,
        timeout: float | None = None,
    ) -> ResultReceived:
        """Like :meth:`call`, but return the whole :class:`~fleet.ocpp.ResultReceived`:
        ``message_id``, ``action``, ``response``, ``tag`` and the send/receive times."""
        link = self._links.get(station_id)
        if link is None:
            raise StationNotConnected(station_id)
        if isinstance(request, msgspec.Struct):
            version = link.conn.session.version
            if type(request) not in version.action_of:
                kind = type(request)
                raise LocalProtocolError(
                    ErrorCode.NOT_SUPPORTED,
                    f"station {station_id!r} is connected with OCPP {version.name}, and "
                    f"{kind.__module__}.{kind.__qualname__} is not an OCPP {version.name} message: send "
                    f"that version's request (csms.dialect_of(station_id) tells the version)",
                )
        self._calls_sent += 1
        result = await link.conn.call_result(request, action=action, message_id=message_id, tag=tag, timeout=timeout)
        recorder = self._dialects[link.version].call_recorders.get(result.action)
        state = self._records.get(station_id)
        if recorder is not None and state is not None:
            recorder(state, result.response, request)
        return result

    async def disconnect(self, station_id: str, *, code: int = 1000, reason: str = "closed by the CSMS") -> bool:
        """Close a station's connection; return whether it was connected.

        Its pending CALLs fail with ConnectionLost.
        """
        link = self._links.get(station_id)
        if link is None:
            return False
        with trio.move_on_after(REPLACE_TIMEOUT):
            await link.conn.aclose(code, reason)
            await link.done.wait()
        return True

    # ----------------------------------------------------------------- events

    @asynccontextmanager
    async def subscribe(
        self, station_id: str | None = None, *, buffer: int = 1024
    ) -> AsyncIterator[trio.MemoryReceiveChannel[FleetEvent]]:
        """Receive :mod:`fleet.net.events` (Connected, Disconnected, OcppMessage) while the context is open.

        Args:
            station_id: only this station's events (default: every station's).
            buffer: events kept for a slow reader; beyond it new events are dropped
                (counted in ``statistics().events_dropped``), the CSMS never waits.
        """
        accept: Callable[[FleetEvent], bool] | None = None
        if station_id is not None:

            def accept(event: FleetEvent) -> bool:
                return event.station_id == station_id

        async with self._hub.subscribe(buffer=buffer, accept=accept) as receive:
            yield receive

    # ---------------------------------------------------------------- reading

    def connections(self) -> list[ConnectionInfo]:
        """The connected stations, in order of connection."""
        return [ConnectionInfo(sid, link.version, link.remote, link.connected_at) for sid, link in self._links.items()]

    def is_connected(self, station_id: str) -> bool:
        """Whether ``station_id`` is connected now."""
        return station_id in self._links

    def pending_requests(self, station_id: str | None = None) -> list[PendingRequest]:
        """The CSMS's CALLs in flight or queued, oldest first per station (one station or all)."""
        links = self._links
        if station_id is not None:
            link = links.get(station_id)
            links = {station_id: link} if link is not None else {}
        return [
            PendingRequest(sid, message_id, action, tag)
            for sid, link in links.items()
            for message_id, action, tag in link.conn.session.pending_calls()
        ]

    def station(self, station_id: str) -> StationRecord | None:
        """A snapshot of one station's record, or ``None`` if it never connected."""
        state = self._records.get(station_id)
        return state.snapshot() if state is not None else None

    def stations(self) -> dict[str, StationRecord]:
        """Snapshots of every station's record, by station id."""
        return {sid: state.snapshot() for sid, state in self._records.items()}

    def connected_count(self) -> int:
        """How many stations are connected now."""
        return len(self._links)

    def statistics(self) -> CsmsStatistics:
        """A snapshot of the CSMS's counters (cheap: one pass over the stations, none over messages)."""
        seen = started = ended = 0
        for state in self._records.values():
            seen += state.tx_seen
            started += state.tx_started
            ended += state.tx_ended
        return CsmsStatistics(
            url=self.url if self._port is not None else None,
            stations=len(self._records),
            connected=len(self._links),
            connections=self._connections,
            replaced=self._replaced,
            refused=dict(self._refused),
            messages=dict(sorted(self._messages.items())),
            transactions_started=started,
            transactions_ended=ended,
            transactions_active=seen - ended,
            calls_sent=self._calls_sent,
            calls_failed=self._observer.calls_failed,
            violations=self._observer.violations,
            events_dropped=self._hub.dropped,
            restarts=self._restarts,
            flood=self._flood.as_dict(),
        )

    # -------------------------------------------------------------- internals

    def _versions_of(self, action: str, version: str | None) -> list[str]:
        """``[version]`` after :meth:`_check_action`, or without one every version whose stations
        send ``action``, in order of preference (ValueError if none does)."""
        if version is not None:
            return [self._check_action(action, version)]
        names = [name for name, dialect in self._dialects.items() if action in dialect.station_actions]
        if not names:
            self._check_action(action, None)  # raises, naming what stations send
        return names

    def _default_by_request_type(self, action: str, versions: list[str]) -> Handler:
        """One handler for ``action`` in every version of ``versions``: the default of the
        version whose request type the request has (the first version where they share one)."""
        by_type: dict[type[Any], Handler] = {}
        for name in reversed(versions):
            version = self._dialects[name].version
            request_type = version.actions[action][0] if action in version.actions else version.send_actions[action]
            by_type[request_type] = self._defaults[name][action]
        first = self._defaults[versions[0]][action]

        def default(request: Any, ctx: Any) -> Any:
            return by_type.get(type(request), first)(request, ctx)

        default.__name__ = default.__qualname__ = f"default_{action}"
        return default

    def _check_action(self, action: str, version: str | None) -> str:
        """The name of ``version`` (default: the first), after checking that its stations send ``action``."""
        if version is None:
            version = next(iter(self._dialects))
        dialect = self._dialects.get(version)
        if dialect is None:
            raise ValueError(f"this CSMS does not speak OCPP {version!r}; it speaks {', '.join(self._dialects)}")
        actions = dialect.station_actions
        if action not in actions:
            raise ValueError(
                f"{action!r} is not a message a station sends; the CSMS answers: {', '.join(sorted(actions))}"
            )
        return version

    def _password_of(self, station_id: str) -> str | None:
        auth = self._auth
        return auth.get(station_id) if auth is not None else None

    def _auth_required(self) -> bool:
        return self._auth is not None

    def _on_refused(self, status: int | str, who: str) -> None:
        key = str(status)
        self._refused[key] = self._refused.get(key, 0) + 1
        self._connection_log.refused(status, who)

    def _dispatcher(self, version: str, action: str) -> Handler:
        """The handler ``version``'s connections call for ``action``: count, record, answer."""
        records = self._records
        totals = self._messages
        overrides = self._overrides[version]
        default = self._defaults[version][action]
        dialect = self._dialects[version]
        recorder = dialect.recorders.get(action)
        answered = dialect.answer_recorders.get(action)
        now = time.time

        def dispatch(request: Any, ctx: Any) -> Any:
            state = records[ctx.station_id]
            state.last_seen = now()
            messages = state.messages
            messages[action] = messages.get(action, 0) + 1
            totals[action] = totals.get(action, 0) + 1
            if recorder is not None:
                recorder(state, request)
            response = overrides.get(action, default)(request, ctx)
            if answered is not None:
                if inspect.isawaitable(response):
                    return _record_answer_later(answered, state, request, response)
                answered(state, response, request)
            return response

        dispatch.__name__ = dispatch.__qualname__ = f"dispatch_{action}"
        return dispatch

    async def _on_station(self, accepted: Accepted) -> None:
        station_id = accepted.station_id
        if self._cut_off:
            until = self._cut_off.get(station_id)
            if until is not None:
                if trio.current_time() < until:
                    self._on_refused("partition", station_id)
                    await abort_websocket(accepted.websocket)
                    return
                del self._cut_off[station_id]
        version = accepted.version.name
        dialect = self._dialects[version]
        session = Session(
            accepted.version, role="csms", call_timeout=self.call_timeout, supported_actions=dialect.station_actions
        )
        conn = OcppConnection(
            accepted.websocket,
            session,
            station_id,
            handlers=self._dispatch[version],
            hub=self._hub,
            ocpp_log=self._log,
            observer=self._observer,
            handler_timeout=self.handler_timeout,
            ping_interval=self.ping_interval,
            limits=self.limits,
            flood_counters=self._flood,
            on_flood=self._observer.flood,
        )
        link = _Link(conn, version, accepted.remote, time.time())
        previous = self._links.get(station_id)
        self._links[station_id] = link
        try:
            if previous is not None:
                # The same station again: close the old connection (its pending CALLs
                # fail with ConnectionLost) before this one starts.
                self._replaced += 1
                logger.debug("%s: connected again, closing its previous connection", station_id)
                with trio.move_on_after(REPLACE_TIMEOUT):
                    await previous.conn.aclose(1000, "replaced by a new connection")
                    await previous.done.wait()
                if self._links.get(station_id) is not link:
                    return  # replaced in turn while waiting
            if self.limits.max_call_rate is not None:
                bucket = self._buckets.pop(station_id, None)
                if bucket is not None:  # (a station cannot refill it by connecting again)
                    conn.resume_rate(bucket)
            state = self._records.get(station_id)
            if state is None:
                state = self._records[station_id] = StationState(station_id, self.transaction_history)
            link.connected_at = time.time()
            state.record_connected(link.version, link.remote, link.connected_at)
            self._connections += 1
            self._connection_log.connected(station_id, link.remote, link.version)
            if self._hub.active:
                self._hub.publish(Connected(station_id, link.version, link.connected_at))
            reason = "closed"
            try:
                if self.idle_timeout is not None:
                    self._silence.watch(conn, self.idle_timeout)
                reason = await conn.serve() or reason
            finally:
                at = time.time()
                if self.limits.max_call_rate is not None:
                    self._buckets[station_id] = conn.rate_state
                if self._links.get(station_id) is link:
                    del self._links[station_id]
                    state.record_disconnected(reason, at)
                self._connection_log.disconnected(station_id, reason)
                if self._hub.active:
                    self._hub.publish(Disconnected(station_id, reason, at))
        finally:
            link.done.set()
            if self._links.get(station_id) is link:
                del self._links[station_id]

    async def _flush_log(self, log: OcppLog) -> None:
        while True:
            await trio.sleep(LOG_FLUSH_INTERVAL)
            log.flush()


@contextmanager
def _bind_errors_unwrapped(starting: Callable[[], bool]) -> Iterator[None]:
    """Raise a failure to listen as the bare OSError rather than inside nested ExceptionGroups."""
    try:
        yield
    except BaseExceptionGroup as group:
        leaf: BaseException = group
        while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
            leaf = leaf.exceptions[0]
        if starting() and isinstance(leaf, OSError):
            raise leaf from None
        raise


async def _record_answer_later(
    record: AnswerRecorder, state: StationState, request: Any, pending: Awaitable[Any]
) -> Any:
    response = await pending
    record(state, response, request)
    return response


@asynccontextmanager
async def open_csms(
    host: str = "127.0.0.1", port: int = 9000, path: str = "/ocpp", **settings: Any
) -> AsyncIterator[Csms]:
    """Start a :class:`Csms` (same arguments) and yield it once it listens; stop it on exit.

    Example::

        async with open_csms(port=0, auth={"CS001": "secret"}) as csms:
            ...  # stations connect to f"{csms.url}/CS001"
    """
    csms = Csms(host, port, path, **settings)
    started = False
    with _bind_errors_unwrapped(lambda: not started):
        async with trio.open_nursery() as nursery:
            await nursery.start(csms.run)
            started = True
            try:
                yield csms
            finally:
                csms.stop()

