"""One OCPP-J connection driven by trio: a :class:`~fleet.ocpp.Session` over a websocket.

Both the station actor and the CSMS actor run one :class:`OcppConnection` per
websocket. It owns the session (nothing else touches it), reads frames, writes the
session's output, keeps the session's clock, runs handlers for the peer's CALLs
and resolves the callers awaiting answers to ours.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import trio

from ..ocpp import (
    CallFailed,
    CallFailure,
    CallReceived,
    ConnectionLost,
    ErrorCode,
    LocalProtocolError,
    ProtocolViolation,
    RemoteCallError,
    ResultErrorReceived,
    ResultReceived,
    SendReceived,
    Session,
)
from .alarm_clock import Sleeper
from .events import FleetEvent, OcppMessage
from .hub import EventHub
from .ocpp_log import OcppLog
from .websocket import ConnectionClosed, WebSocket

__all__ = ["UNANSWERED", "CallContext", "CallLimits", "ConnectionObserver", "FloodCounters", "Handler", "OcppConnection",
           "ping_phase"]

logger = logging.getLogger("fleet.connection")

#: What a handler returns to leave the peer's CALL unanswered: nothing is sent back.
UNANSWERED: Any = object()


class CallContext:
    """What a handler knows about the CALL it answers.

    Attributes:
        station_id: the station at the other end (the CSMS side) or this station.
        message_id: the CALL's message id.
        action: the CALL's action.
        connection: the connection it arrived on (to send further requests).
    """

    __slots__ = ("action", "connection", "message_id", "station_id")

    def __init__(self, station_id: str, message_id: str, action: str, connection: OcppConnection) -> None:
        self.station_id = station_id
        self.message_id = message_id
        self.action = action
        self.connection = connection


#: A handler takes the decoded request and its context and returns the response
#: (a response Struct, or a mapping of its payload), directly or as a coroutine.
Handler = Callable[[Any, CallContext], Any]


class ConnectionObserver(Protocol):
    """Receives the figures of a connection (the metrics collector implements it)."""

    def call_completed(self, action: str, outgoing: bool, latency: float) -> None:
        """A CALL got its CALLRESULT after ``latency`` seconds (``outgoing``: we made it)."""

    def call_failed(self, action: str, error: CallFailure) -> None:
        """A CALL of ours failed."""

    def violation(self, code: str) -> None:
        """The peer sent an invalid frame."""


class CallLimits:
    """What a connection tolerates of the peer's CALLs (OCPP-J: one in flight at a time).

    Every CALL is answered, in the order it came. CALLs the peer sent before it had our
    answer to its previous one (*pipelined*) are answered as usual and counted. Beyond
    the limits a CALL is answered at once with a CALLERROR (GenericError) instead of
    being handled (*refused*), and after ``close_after`` refusals the connection is
    closed with 1008 (policy violation).

    Attributes:
        max_call_rate: CALLs per second a connection may send on average (a token
            bucket); ``None``: no limit.
        call_burst: CALLs it may send at once above that rate (the bucket's size).
        close_after: refused CALLs before the connection is closed; ``None``: never.
        max_pending: the peer's CALLs whose (asynchronous) handlers may run at once.
    """

    __slots__ = ("call_burst", "close_after", "max_call_rate", "max_pending")

    def __init__(self, max_call_rate: float | None = None, call_burst: int | None = None,
                 close_after: int | None = None, max_pending: int = 16) -> None:
        if max_call_rate is not None and not max_call_rate > 0:
            raise ValueError(f"max_call_rate: expected CALLs per second > 0, got {max_call_rate}")
        if call_burst is not None and call_burst < 1:
            raise ValueError(f"call_burst: expected at least 1 CALL, got {call_burst}")
        if close_after is not None and close_after < 1:
            raise ValueError(f"close_after: expected at least 1 refused CALL, got {close_after}")
        if max_pending < 1:
            raise ValueError(f"max_pending: expected at least 1 CALL, got {max_pending}")
        self.max_call_rate = max_call_rate
        self.call_burst = call_burst if call_burst is not None else max(1, round(2 * (max_call_rate or 0)))
        self.close_after = close_after
        self.max_pending = max_pending


class FloodCounters:
    """What the flood policy did (see :class:`CallLimits`); may be shared by connections.

    Attributes:
        pipelined: CALLs the peer sent before it had the answer to its previous one.
        refused_rate: CALLs refused for the rate.
        refused_pending: CALLs refused for too many in flight.
        closed: connections closed with 1008 for floods.
    """

    __slots__ = ("closed", "pipelined", "refused_pending", "refused_rate")

    def __init__(self) -> None:
        self.pipelined = 0
        self.refused_rate = 0
        self.refused_pending = 0
        self.closed = 0

    def as_dict(self) -> dict[str, int]:
        return {"pipelined": self.pipelined, "refused_rate": self.refused_rate,
                "refused_pending": self.refused_pending, "closed": self.closed}


_NO_LIMITS = CallLimits()


def ping_phase(station_id: str) -> float:
    """When in its first interval a connection sends its first websocket ping, in (0, 1],
    fixed by the station id: connections opened together (a ramp, a mass reconnect) then
    do not ping in step for the rest of their lives."""
    return (zlib.crc32(station_id.encode()) % 1000 + 1) / 1000


class _Waiter:
    __slots__ = ("outcome", "sleeper", "taken")

    def __init__(self) -> None:
        self.taken = trio.Event()  # the caller has run on after its outcome (or is gone)
        self.outcome: ResultReceived | CallFailed | None = None
        #: the caller's wait while it waits, which ends at the deadline of the CALL in flight
        #: (see OcppConnection._wait_for)
        self.sleeper: Sleeper | None = None


class OcppConnection:
    """Runs a session over a websocket until it closes.

    Args:
        websocket: an open :class:`~fleet.net.websocket.WebSocket`.
        session: the session for it (fresh, owned from now on by this object).
        station_id: the station this connection belongs to.
        handlers: action -> handler for the peer's CALLs; read at each CALL, so the
            owner may change the mapping while the connection runs. A known action
            with no handler is answered NotSupported.
        hub: where to publish :class:`~fleet.net.events.OcppMessage` events.
        ocpp_log: the raw frame log, if enabled.
        observer: the metrics collector, if any.
        handler_timeout: seconds a handler may take before the CALL is answered
            with InternalError.
        ping_interval: seconds between websocket pings (``None``: no pings); a ping
            unanswered for as long closes the connection.
        owner_pings: the owner's clock sends the pings (it calls :meth:`ping_if_due`
            whenever :attr:`ping_at` has passed; a station's main loop does), and so
            does any caller waiting for an answer, instead of a task of the connection
            that sleeps between them.
        limits: what it tolerates of the peer's CALLs (default: no rate limit, 16
            handlers at once); see :class:`CallLimits`.
        flood_counters: where to count what the limits did (default: its own,
            :attr:`flood_counters`).
        on_flood: called with ``"pipelined"``, ``"refused_rate"``, ``"refused_pending"``
            or ``"closed"`` each time (e.g. to feed a metrics counter).
    """

    def __init__(
        self,
        websocket: WebSocket,
        session: Session,
        station_id: str,
        *,
        handlers: Mapping[str, Handler],
        hub: EventHub[FleetEvent] | None = None,
        ocpp_log: OcppLog | None = None,
        observer: ConnectionObserver | None = None,
        handler_timeout: float = 10.0,
        ping_interval: float | None = None,
        limits: CallLimits | None = None,
        flood_counters: FloodCounters | None = None,
        on_flood: Callable[[str], None] | None = None,
        owner_pings: bool = False,
    ) -> None:
        self.websocket = websocket
        self.session = session
        self.station_id = station_id
        self.handlers = handlers
        self.hub = hub
        self.ocpp_log = ocpp_log
        self.observer = observer
        self.handler_timeout = handler_timeout
        self.ping_interval = ping_interval
        self.close_reason = ""
        self._waiters: dict[str, _Waiter] = {}
        self._spare_sleeper: Sleeper | None = None  # a caller's, for the next caller
        self._owner_pings = owner_pings
        #: when the next websocket ping is due (trio time; ``inf``: none), with ``owner_pings``
        self.ping_at = math.inf
        self._ping_payload: bytes | None = None  # the last ping's, with ``owner_pings``
        self._pings_sent = 0
        self._nursery: trio.Nursery | None = None
        self._version = session.version.name
        self.limits = limits or _NO_LIMITS
        self.flood_counters = flood_counters if flood_counters is not None else FloodCounters()
        self._on_flood = on_flood
        inner = getattr(websocket, "websocket", websocket)  # (under a fault-injection wrapper)
        self._reads_of: Any = inner if hasattr(inner, "reads") else None
        self._last_call_read = -1  # the socket read the peer's previous CALL came in
        self._handling = 0  # the peer's CALLs whose asynchronous handlers run now
        self._tokens = float(self.limits.call_burst)
        self._refilled = 0.0
        self._refused = 0
        self._flood_close: str | None = None
        #: OCPP-J 2.1 SENDs received from the peer (handled, never answered)
        self.sends_received = 0
        #: OCPP-J 2.1 CALLRESULTERRORs received: answers of ours the peer could not process
        self.result_errors_received = 0

    # ------------------------------------------------------------------ public

    @property
    def closed(self) -> bool:
        """Whether the connection has ended."""
        return self.session.closed

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> str:
        """Run until the websocket closes; return why it closed.

        Every caller still waiting for an answer then gets ``ConnectionLost``.
        """
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self.ping_interval and self._owner_pings:
                    self.ping_at = trio.current_time() + self.ping_interval * ping_phase(self.station_id)
                elif self.ping_interval:
                    nursery.start_soon(self._keep_alive, self.ping_interval)
                task_status.started()
                await self._read_loop()
                nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            for failure in self.session.connection_lost(trio.current_time()):
                self._on_outcome(failure)
        return self.close_reason

    async def call(
        self,
        request: Any,
        *,
        action: str | None = None,
        message_id: str | None = None,
        tag: Any = None,
        timeout: float | None = None,
    ) -> Any:
        """Send a CALL and return the validated response Struct.

        Raises:
            RemoteCallError: the peer answered with a CALLERROR.
            InvalidResponse: the answer did not validate.
            CallTimeout: no answer within the timeout.
            ConnectionLost: the connection closed first.
            LocalProtocolError: the request itself is invalid (nothing was sent).
        """
        return (await self.call_result(request, action=action, message_id=message_id, tag=tag, timeout=timeout)).response

    async def call_result(
        self,
        request: Any,
        *,
        action: str | None = None,
        message_id: str | None = None,
        tag: Any = None,
        timeout: float | None = None,
    ) -> ResultReceived:
        """Like :meth:`call`, but return the whole :class:`ResultReceived` (id, tag, times)."""
        if self.session.closed:
            await trio.lowlevel.checkpoint()  # so a caller retrying in a loop still yields
            raise ConnectionLost("not connected")
        message_id = self.session.call(
            request, trio.current_time(), action=action, message_id=message_id, tag=tag, timeout=timeout
        )
        waiter = _Waiter()
        self._waiters[message_id] = waiter
        try:
            if self.hub is not None and self.hub.active:
                action_name = action or self.session.version.action_of.get(type(request), "?")
                self._publish("out", "request", message_id, action_name, request, tag)
            await self._flush()
            await self._wait_for(waiter)
        finally:
            waiter.taken.set()  # (also when cancelled: the read loop must not wait for us)
        outcome = waiter.outcome
        if isinstance(outcome, ResultReceived):
            return outcome
        assert outcome is not None
        raise outcome.error

    async def send(self, message: Any, *, action: str | None = None, message_id: str | None = None) -> str:
        """Send an OCPP-J 2.1 SEND (an unconfirmed message: never answered, nothing waits for
        it) at once, and return its message id once it is written.

        Raises:
            LocalProtocolError: the version has no SEND, the message is no SEND action of
                it or does not validate, or the session is closed (nothing was sent).
        """
        message_id = self._queue_send(message, action, message_id)
        await self._flush()
        return message_id

    def send_soon(self, message: Any, *, action: str | None = None, message_id: str | None = None) -> str:
        """Like :meth:`send`, without waiting: the SEND is queued now (in order with every
        other frame) and written by a task of the connection."""
        message_id = self._queue_send(message, action, message_id)
        if self._nursery is not None:
            self._nursery.start_soon(self._flush)
        return message_id

    def _queue_send(self, message: Any, action: str | None, message_id: str | None) -> str:
        message_id = self.session.send(message, trio.current_time(), action=action, message_id=message_id)
        if self.hub is not None and self.hub.active:
            action_name = action or self.session.version.action_of.get(type(message), "?")
            self._publish("out", "request", message_id, action_name, message, None)
        return message_id

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close the websocket (the serve loop then ends)."""
        self.close_reason = self.close_reason or f"closed locally ({code} {reason})".strip()
        await self.websocket.aclose(code, reason or None)

    async def ping_if_due(self, now: float) -> None:
        """With ``owner_pings``: send the websocket ping due at :attr:`ping_at`, if it has
        come, and set the next one an interval later. Its pong is only noted (no task waits
        for it): when the next ping falls due and the last one has had no pong, an interval
        has passed without one, and the connection closes (1011)."""
        if now < self.ping_at:
            return
        interval = self.ping_interval
        if self._nursery is None or not interval or self.session.closed:
            self.ping_at = math.inf
            return
        self.ping_at = now + interval
        websocket = self.websocket
        last = self._ping_payload
        if last is not None and not websocket.ping_answered(last):
            self.ping_at = math.inf
            self._nursery.start_soon(self._close_unanswered)
            return
        self._pings_sent = (self._pings_sent + 1) & 0xFFFFFFFF
        self._ping_payload = payload = self._pings_sent.to_bytes(4, "big")
        with contextlib.suppress(ConnectionClosed):  # (the read loop sees the close and ends the connection)
            await websocket.send_ping(payload)

    async def _close_unanswered(self) -> None:
        self.close_reason = "no answer to websocket ping"
        await self.websocket.aclose(1011, "ping timeout")

    def pending_requests(self) -> list[dict[str, Any]]:
        """Our CALLs in flight or queued: message id, action and tag of each."""
        return [
            {"station_id": self.station_id, "message_id": m, "action": a, "tag": t}
            for m, a, t in self.session.pending_calls()
        ]

    # ----------------------------------------------------------------- internals

    async def _read_loop(self) -> None:
        session = self.session
        websocket = self.websocket
        log = self.ocpp_log
        while True:
            try:
                text = await websocket.get_message()
            except ConnectionClosed as exc:
                reason = exc.reason
                self.close_reason = self.close_reason or (
                    f"{reason.code} {reason.name} {reason.reason or ''}".strip() if reason else "closed"
                )
                return
            if log is not None:
                log.write(self.station_id, "in", text if isinstance(text, str) else text.decode(errors="replace"))
            answered = None
            now = trio.current_time()
            for event in session.receive_frame(text, now):
                if type(event) is CallReceived:
                    self._on_call(event, now)
                elif type(event) is ProtocolViolation:
                    if self.observer is not None:
                        self.observer.violation(str(event.code))
                elif type(event) is SendReceived:
                    self._on_send(event)
                elif type(event) is ResultErrorReceived:
                    self._on_result_error(event)
                else:
                    answered = self._on_outcome(event)  # type: ignore[arg-type]
            self._arm_waiters()
            await self._flush()
            if self._flood_close is not None:
                await self._close_for_flood()  # (what the peer sent after it is not handled)
                return
            if answered is not None:
                # Frames are handled in the order they came: the caller acts on its answer
                # (e.g. a station drops the delivered event from its queue) before the
                # next frame, which may ask about it, is read.
                await answered.taken.wait()

    def _on_call(self, event: CallReceived, now: float) -> None:
        if self._admit(event, now) is False:
            return
        if self.hub is not None and self.hub.active:
            self._publish("in", "request", event.message_id, event.action, event.request, None)
        handler = self.handlers.get(event.action)
        if handler is None:
            self.session.reply_error(event.message_id, ErrorCode.NOT_SUPPORTED, f"{event.action} is not supported here")
            return
        context = CallContext(self.station_id, event.message_id, event.action, self)
        if inspect.iscoroutinefunction(handler) or self._nursery is None:
            assert self._nursery is not None
            self._handling += 1
            self._nursery.start_soon(self._run_async_handler, handler, event, context)
            return
        try:
            response = handler(event.request, context)
        except Exception as exc:
            self._handler_failed(event, exc)
            return
        if inspect.isawaitable(response):
            self._handling += 1
            self._nursery.start_soon(self._await_handler, response, event)
            return
        self._reply(event, response)

    def _on_send(self, event: SendReceived) -> None:
        """OCPP-J 2.1 SEND: run the action's handler for its effect; nothing is answered
        (its return value is dropped, and so is a failure of it, logged)."""
        self.sends_received += 1
        if self.hub is not None and self.hub.active:
            self._publish("in", "request", event.message_id, event.action, event.message, None)
        handler = self.handlers.get(event.action)
        if handler is None:
            return
        context = CallContext(self.station_id, event.message_id, event.action, self)
        try:
            result = handler(event.message, context)
            if inspect.isawaitable(result):
                assert self._nursery is not None
                self._nursery.start_soon(self._await_send_handler, result, event)
        except Exception:
            logger.exception("%s: the handler of SEND %s failed", self.station_id, event.action)

    async def _await_send_handler(self, pending: Awaitable[Any], event: SendReceived) -> None:
        try:
            await pending
        except Exception:
            logger.exception("%s: the handler of SEND %s failed", self.station_id, event.action)

    def _on_result_error(self, event: ResultErrorReceived) -> None:
        """OCPP-J 2.1 CALLRESULTERROR: the peer could not process one of our answers;
        counted and logged, nothing is answered."""
        self.result_errors_received += 1
        logger.warning("%s: the peer could not process our answer to %s: %s %s", self.station_id,
                       event.message_id, event.code, event.description)

    def _admit(self, event: CallReceived, now: float) -> bool:
        """The flood policy (:class:`CallLimits`): count a pipelined CALL; refuse one beyond
        the limits with a CALLERROR (``False``), and mark the connection for closing after
        ``close_after`` refusals."""
        limits = self.limits
        reads = self._reads_of.reads if self._reads_of is not None else -1  # (-1: not known)
        if (reads >= 0 and reads == self._last_call_read) or self._handling:
            # It came in the same read as the previous CALL, or while that one is still
            # being handled: the peer sent it before it had our answer.
            self._count("pipelined")
        self._last_call_read = reads
        refused = None
        rate = limits.max_call_rate
        if rate is not None:
            tokens = min(float(limits.call_burst), self._tokens + (now - self._refilled) * rate)
            self._refilled = now
            if tokens < 1.0:
                refused = "refused_rate"
                description = f"rate limit: more than {rate:g} CALLs per second on this connection"
            else:
                tokens -= 1.0
            self._tokens = tokens
        if refused is None and self._handling >= limits.max_pending:
            refused = "refused_pending"
            description = f"more than {limits.max_pending} CALLs in flight (OCPP-J allows one)"
        if refused is None:
            return True
        self._count(refused)
        self.session.reply_error(event.message_id, ErrorCode.GENERIC_ERROR, description)
        self._refused += 1
        if limits.close_after is not None and self._refused >= limits.close_after and self._flood_close is None:
            self._flood_close = f"policy violation: {self._refused} CALLs refused ({description})"
        return False

    def _count(self, kind: str) -> None:
        counters = self.flood_counters
        setattr(counters, kind, getattr(counters, kind) + 1)
        if self._on_flood is not None:
            self._on_flood(kind)

    @property
    def rate_state(self) -> tuple[float, float]:
        """The rate limit's bucket: (tokens, when last filled), to carry over to the peer's
        next connection (:meth:`resume_rate`), so connecting again does not refill it."""
        return self._tokens, self._refilled

    def resume_rate(self, state: tuple[float, float]) -> None:
        """Start the rate limit's bucket where the peer's previous connection left it."""
        self._tokens, self._refilled = state

    async def _close_for_flood(self) -> None:
        reason, self._flood_close = self._flood_close, None
        if reason is None or self.websocket.closed is not None:
            return
        self._count("closed")
        self.close_reason = reason
        logger.info("%s: closing the connection (1008): %s", self.station_id, reason)
        await self.websocket.aclose(1008, "policy violation: CALL flood")

    async def _run_async_handler(self, handler: Handler, event: CallReceived, context: CallContext) -> None:
        await self._await_handler(handler(event.request, context), event)

    async def _await_handler(self, pending: Awaitable[Any], event: CallReceived) -> None:
        try:
            await self._answer_later(pending, event)
        finally:
            self._handling -= 1

    async def _answer_later(self, pending: Awaitable[Any], event: CallReceived) -> None:
        with trio.move_on_after(self.handler_timeout) as scope:
            try:
                response = await pending
            except Exception as exc:
                self._handler_failed(event, exc)
                await self._flush()
                return
        if scope.cancelled_caught:
            self._reply_error(event, ErrorCode.INTERNAL_ERROR, f"{event.action} handler timed out")
        else:
            self._reply(event, response)
        await self._flush()

    def _reply(self, event: CallReceived, response: Any) -> None:
        if self.session.closed:
            return
        if response is UNANSWERED:
            self.session.leave_unanswered(event.message_id)
            return
        try:
            self.session.reply(event.message_id, response)
        except LocalProtocolError as exc:
            logger.warning("%s: invalid %s response from handler: %s", self.station_id, event.action, exc.description)
            self._reply_error(event, ErrorCode.INTERNAL_ERROR, f"invalid {event.action} response from the handler")
            return
        if self.hub is not None and self.hub.active:
            self._publish("out", "response", event.message_id, event.action, response, None)

    def _reply_error(self, event: CallReceived, code: ErrorCode, description: str) -> None:
        if not self.session.closed and event.message_id in self.session.awaiting_reply():
            self.session.reply_error(event.message_id, code, description)

    def _handler_failed(self, event: CallReceived, exc: Exception) -> None:
        if not isinstance(exc, LocalProtocolError):
            logger.error("%s: %s handler raised %r", self.station_id, event.action, exc)
        if not self.session.closed:
            self.session.reply_exception(event.message_id, exc)

    def _on_outcome(self, event: ResultReceived | CallFailed) -> _Waiter | None:
        """Record the outcome of one of our calls and wake its caller (returned, if any)."""
        observer = self.observer
        if type(event) is ResultReceived:
            if observer is not None:
                observer.call_completed(event.action, True, event.received_at - event.sent_at)
            if self.hub is not None and self.hub.active:
                self._publish("in", "response", event.message_id, event.action, event.response, event.tag)
        else:
            assert type(event) is CallFailed
            if observer is not None:
                observer.call_failed(event.action, event.error)
            if self.hub is not None and self.hub.active:
                error = {"code": str(event.error.code), "description": event.error.description,
                         "details": event.error.details, "callerror": type(event.error) is RemoteCallError}
                self._publish("in", "error", event.message_id, event.action, error, event.tag)
        waiter = self._waiters.pop(event.message_id, None)
        if waiter is not None:
            waiter.outcome = event
            if waiter.sleeper is not None:
                waiter.sleeper.wake()
        return waiter

    def _publish(self, direction: Any, kind: Any, message_id: str, action: str, payload: Any, tag: Any) -> None:
        assert self.hub is not None
        self.hub.publish(
            OcppMessage(self.station_id, direction, kind, self._version, message_id, action, payload, tag, time.time())
        )

    async def _flush(self) -> None:
        frames = self.session.data_to_send()
        if not frames:
            return
        log = self.ocpp_log
        try:
            for frame in frames:
                if log is not None:
                    log.write(self.station_id, "out", frame)
                await self.websocket.send_message(frame)
        except ConnectionClosed:
            pass  # the read loop sees the close and ends the connection

    async def _wait_for(self, waiter: _Waiter) -> None:
        """Wait for the outcome of a CALL of ours, keeping the session's clock meanwhile.

        The session's one deadline is the CALL in flight's (ours, or one before ours in the
        queue): when it passes, that CALL fails and the next queued one goes out. Whoever
        waits for an answer keeps that clock, so it runs whenever someone waits, and no
        task per connection sleeps for it. The read loop moves a wait's end earlier when
        another CALL goes out (:meth:`_arm_waiters`). With ``owner_pings`` a wait also
        sends the ping that falls due meanwhile (the owner's clock may be this caller).
        The wait is a :class:`Sleeper`'s (no cancel scope a call); one caller's is kept for
        the next, as a connection's calls mostly come one after another."""
        session = self.session
        sleeper = self._spare_sleeper or Sleeper()
        self._spare_sleeper = None
        waiter.sleeper = sleeper
        try:
            while waiter.outcome is None:
                deadline = session.next_deadline()
                if deadline is None or deadline > self.ping_at:
                    deadline = self.ping_at
                if await sleeper.wait(deadline) or waiter.outcome is not None:
                    continue
                now = trio.current_time()
                await self.ping_if_due(now)
                events = session.handle_timeouts(now)
                for event in events:
                    self._on_outcome(event)  # type: ignore[arg-type]
                if events:
                    self._arm_waiters()
                    await self._flush()
        finally:
            waiter.sleeper = None
            self._spare_sleeper = sleeper

    def _arm_waiters(self) -> None:
        """A CALL went out (or none is in flight): the waits end no later than its deadline."""
        deadline = self.session.next_deadline()
        if deadline is None:
            return
        for waiter in self._waiters.values():
            sleeper = waiter.sleeper
            if sleeper is not None:
                sleeper.end_by(deadline)

    async def _keep_alive(self, interval: float) -> None:
        delay = interval * ping_phase(self.station_id)
        while True:
            await trio.sleep(delay)
            delay = interval
            if not await self._ping_answered(interval):
                return

    async def _ping_answered(self, timeout: float) -> bool:
        """Ping and wait for the pong; without one in ``timeout`` seconds close the
        connection (1011). Whether the connection is still open."""
        with trio.move_on_after(timeout) as scope:
            try:
                await self.websocket.ping()
            except ConnectionClosed:
                return False
            except (RuntimeError, ValueError):  # a ping with the same payload is already in flight
                return True
        if scope.cancelled_caught:
            self.close_reason = "no answer to websocket ping"
            await self.websocket.aclose(1011, "ping timeout")
            return False
        return True

