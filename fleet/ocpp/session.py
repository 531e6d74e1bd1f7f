"""The OCPP-J RPC session: a sans-IO state machine for one end of one connection.

It does no I/O, imports no async library and reads no clock: the application
feeds it the text frames it receives and the current time, and gets back events
(:mod:`fleet.ocpp.events`), the text frames to send (:meth:`Session.data_to_send`)
and the time of its next deadline (:meth:`Session.next_deadline`).

What it guarantees:

* every outgoing CALL gets a UUIDv4 message id unless the caller supplies one;
* at most one CALL of ours is outstanding at a time, as OCPP-J requires; later
  calls wait in order and go out as soon as the previous one is answered;
* answers are matched to the pending CALL of this session only, decoded and
  validated with the action's response type, and returned with the caller's tag;
* a CALL that is not answered within its timeout fails with ``CallTimeout``; a
  reply that arrives later is dropped with a logged warning and counted in
  ``late_replies`` only (the call already failed as a timeout: it is no violation);
* every bad input is turned into the CALLERROR that its OCPP version prescribes
  (or, for a bad response, into a failure of the call it answers); no input makes
  the session raise;
* where the version has them (OCPP-J 2.1), SEND messages go out at once, never wait
  for the CALL in flight and are never answered, and a received one becomes a
  :class:`SendReceived` (a bad one is dropped, unanswered); a CALLRESULT of the peer
  that we cannot process (invalid payload) fails our call *and* is reported back
  with a CALLRESULTERROR; a received CALLRESULTERROR becomes a
  :class:`ResultErrorReceived`. On a version without them (1.6, 2.0.1) message types
  5 and 6 are unknown types, answered as the version prescribes.

Everything version-specific comes from the session's
:class:`~fleet.ocpp.versions.ProtocolVersion`, as data: the payload codec, the
message types it accepts (any other is answered as unsupported), and its CALLERROR
vocabulary. Inside, errors are meanings (:class:`~fleet.ocpp.errors.ErrorCode`): a
CALLERROR we send is spelled as the version spells that meaning (OCPP 1.6 writes
``FormationViolation`` for FormatViolation, and answers a meaning it has no code for
with the code its table falls back to); a CALLERROR we receive is read back into a
meaning (``RemoteCallError.code``), or kept as the peer's string if the version has
no such code.

Typical use::

    session = Session(role="station")
    message_id = session.call(HeartbeatRequest(), now)
    websocket.send(*session.data_to_send())
    for event in session.receive_frame(text, now):
        match event:
            case CallReceived(): session.reply(event.message_id, handle(event.request))
            case ResultReceived(): ...
"""

from __future__ import annotations

import collections
import logging
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Final

import msgspec

from .errors import (
    CallFailure,
    CallTimeout,
    ConnectionLost,
    ErrorCode,
    InvalidResponse,
    LocalProtocolError,
    OcppError,
    RemoteCallError,
    classify_validation_error,
)
from .events import (
    CallFailed,
    CallReceived,
    Event,
    ProtocolViolation,
    ResultErrorReceived,
    ResultReceived,
    SendReceived,
)
from .frames import (
    FRAME_TYPES,
    MAX_MESSAGE_ID_LENGTH,
    UNKNOWN_MESSAGE_ID,
    Call,
    CallError,
    CallResult,
    CallResultError,
    MessageType,
    Send,
    diagnose,
)
from .versions import V201, ProtocolVersion, Role

__all__ = ["DEFAULT_CALL_TIMEOUT", "Role", "Session", "SessionStatistics"]

logger = logging.getLogger("fleet.ocpp")

#: Seconds a CALL waits for its answer unless told otherwise (the reference's figure).
DEFAULT_CALL_TIMEOUT: Final = 10.0
#: How many expired message ids are remembered to tell a late reply from a stray one.
_EXPIRED_MEMORY: Final = 256
#: OCPP-J limits a CALLERROR's description to 255 characters.
_MAX_DESCRIPTION: Final = 255

#: The message types this session knows how to handle: all of OCPP-J 2.1's.
_HANDLED_MESSAGE_TYPES: Final = frozenset(FRAME_TYPES)
#: Message types never answered: responses, and OCPP-J 2.1's CALLRESULTERROR and SEND.
_NEVER_ANSWERED: Final = frozenset(
    {MessageType.CALLRESULT, MessageType.CALLERROR, MessageType.CALLRESULTERROR, MessageType.SEND}
)

_encoder: Final = msgspec.json.Encoder()
_any_decoder: Final = msgspec.json.Decoder()


class SessionStatistics(msgspec.Struct, frozen=True):
    """A snapshot of a session's counters.

    Attributes:
        calls_sent: CALLs of ours written to the transport.
        calls_received: valid CALLs received from the peer.
        results_received: valid CALLRESULTs matched to our CALLs.
        failures: our CALLs that failed (CALLERROR, invalid result, timeout, connection lost).
        timeouts: of those, the ones that timed out.
        violations: invalid frames received from the peer.
        late_replies: answers to our CALLs that came after the call had timed out (dropped;
            the call is counted once, as a timeout).
        queued: our CALLs waiting for the one in flight.
        in_flight: whether a CALL of ours awaits its answer.
        awaiting_reply: CALLs of the peer not yet answered by the application.
        sends_sent: SEND messages of ours written to the transport (OCPP-J 2.1).
        sends_received: valid SEND messages received from the peer.
        result_errors_sent: CALLRESULTERRORs we sent (peer's CALLRESULTs we could not process).
        result_errors_received: CALLRESULTERRORs received (our CALLRESULTs the peer could not process).
    """

    calls_sent: int
    calls_received: int
    results_received: int
    failures: int
    timeouts: int
    violations: int
    queued: int
    in_flight: bool
    awaiting_reply: int
    late_replies: int = 0
    sends_sent: int = 0
    sends_received: int = 0
    result_errors_sent: int = 0
    result_errors_received: int = 0


class _Pending:
    """One CALL of ours, queued or in flight."""

    __slots__ = ("action", "deadline", "frame", "message_id", "sent_at", "tag", "timeout")

    def __init__(self, message_id: str, action: str, frame: str, tag: Any, timeout: float) -> None:
        self.message_id = message_id
        self.action = action
        self.frame = frame
        self.tag = tag
        self.timeout = timeout
        self.sent_at: float | None = None
        self.deadline = 0.0


def _payload_error_code(message: str) -> ErrorCode:
    # A payload that is not an object at all is syntactically wrong for any action.
    if message.startswith("Expected `object`, got") and " - at `$" not in message:
        return ErrorCode.FORMAT_VIOLATION
    return classify_validation_error(message)


def new_message_id() -> str:
    """A fresh UUIDv4 message id (RFC 4122 random UUID in text form), as the reference generates them.

    Formatted straight from ``os.urandom``: the same bits as ``str(uuid.uuid4())`` at a
    third of its cost, which shows at thousands of calls per second.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Session:
    """One end of an OCPP-J connection, as a state machine.

    Args:
        version: the OCPP version negotiated for the connection: its codec, the
            message types it accepts and its CALLERROR codes.
        role: which end this is, ``"station"`` or ``"csms"``; informative, kept
            for logs and for applications that serve both.
        call_timeout: seconds our CALLs wait for their answer by default.
        supported_actions: actions the application handles; a valid CALL of any
            other known action is answered NotSupported by the session itself.
            ``None`` hands every known action to the application.
        validate_outgoing: check every payload we send against its type before
            it leaves (a bad one raises :class:`LocalProtocolError`).
        id_factory: makes message ids; UUIDv4 by default.

    Raises:
        ValueError: the version allows a message type this session does not handle.
    """

    def __init__(
        self,
        version: ProtocolVersion = V201,
        *,
        role: Role = "station",
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        supported_actions: Collection[str] | None = None,
        validate_outgoing: bool = True,
        id_factory: Callable[[], str] = new_message_id,
    ) -> None:
        unhandled = version.message_types - _HANDLED_MESSAGE_TYPES
        if unhandled:
            raise ValueError(f"OCPP {version.name}: this session does not handle message types {sorted(unhandled)}")
        self.version = version
        self._decode_frame = version.frame_decoder.decode
        #: whether a CALLRESULT we cannot process is reported back (OCPP-J 2.1)
        self._reports_result_errors = MessageType.CALLRESULTERROR in version.message_types
        self.role = role
        self.call_timeout = call_timeout
        self.supported_actions = frozenset(supported_actions) if supported_actions is not None else None
        self.validate_outgoing = validate_outgoing
        self._id_factory = id_factory
        self._in_flight: _Pending | None = None
        # Both deques are made when first needed: an idle session then costs about 1.5 KB less
        # (thousands of sessions per process).
        self._queue: collections.deque[_Pending] | None = None
        self._expired: collections.deque[str] | None = None
        #: message id -> action of the peer's CALLs the application has not answered yet
        self._awaiting_reply: dict[str, str] = {}
        self._outbox: list[str] = []
        self._closed = False
        self._calls_sent = 0
        self._calls_received = 0
        self._results_received = 0
        self._failures = 0
        self._timeouts = 0
        self._violations = 0
        self._late_replies = 0
        self._sends_sent = 0
        self._sends_received = 0
        self._result_errors_sent = 0
        self._result_errors_received = 0

    # ------------------------------------------------------------------ sending

    def call(
        self,
        request: Any,
        now: float,
        *,
        action: str | None = None,
        message_id: str | None = None,
        tag: Any = None,
        timeout: float | None = None,
    ) -> str:
        """Queue a CALL and return its message id.

        Args:
            request: the request Struct (its type names the action), or a mapping,
                JSON text or bytes of the payload together with ``action``.
            now: the current time.
            action: the action name; required unless ``request`` is a request Struct.
            message_id: our own message id (at most 36 characters) instead of a UUIDv4.
            tag: any object, handed back unchanged with the answer.
            timeout: seconds to wait for the answer, instead of ``call_timeout``.

        Raises:
            LocalProtocolError: the session is closed, the action is unknown, the
                payload does not validate, or the message id is unusable.
        """
        if self._closed:
            raise LocalProtocolError(ErrorCode.GENERIC_ERROR, "the session is closed")
        action, payload = self._encode_payload(request, action, self.version.request_decoder, "request")
        if message_id is None:
            message_id = self._id_factory()
        elif not message_id or len(message_id) > MAX_MESSAGE_ID_LENGTH:
            raise LocalProtocolError(
                ErrorCode.RPC_FRAMEWORK_ERROR, f"message id must be 1 to {MAX_MESSAGE_ID_LENGTH} characters"
            )
        elif self._is_ours(message_id):
            raise LocalProtocolError(ErrorCode.RPC_FRAMEWORK_ERROR, f"message id {message_id!r} is already pending")
        frame = _encoder.encode(Call(message_id, action, msgspec.Raw(payload))).decode()
        pending = _Pending(message_id, action, frame, tag, self.call_timeout if timeout is None else timeout)
        if self._in_flight is None:
            self._transmit(pending, now)
        else:
            if self._queue is None:
                self._queue = collections.deque()
            self._queue.append(pending)
        return message_id

    def send(self, message: Any, now: float, *, action: str | None = None, message_id: str | None = None) -> str:
        """Send a SEND (OCPP-J 2.1's unconfirmed message) at once and return its message id.

        It does not wait for the CALL in flight, is never answered and never times
        out.

        Args:
            message: the message Struct (its type names the action, e.g.
                ``NotifyPeriodicEventStream``), or a mapping, JSON text or bytes of
                the payload together with ``action``.
            now: the current time (unused: nothing waits; kept for symmetry with :meth:`call`).
            action: the action name; required unless ``message`` is a message Struct.
            message_id: our own message id (at most 36 characters) instead of a UUIDv4.

        Raises:
            LocalProtocolError: the session is closed, the version has no SEND, the
                action is no SEND action of the version, the payload does not
                validate, or the message id is unusable.
        """
        if self._closed:
            raise LocalProtocolError(ErrorCode.GENERIC_ERROR, "the session is closed")
        if MessageType.SEND not in self.version.message_types:
            raise LocalProtocolError(ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, f"OCPP {self.version.name} has no SEND")
        action, payload = self._encode_payload(message, action, self.version.request_decoder, "message")
        if message_id is None:
            message_id = self._id_factory()
        elif not message_id or len(message_id) > MAX_MESSAGE_ID_LENGTH:
            raise LocalProtocolError(
                ErrorCode.RPC_FRAMEWORK_ERROR, f"message id must be 1 to {MAX_MESSAGE_ID_LENGTH} characters"
            )
        self._outbox.append(_encoder.encode(Send(message_id, action, msgspec.Raw(payload))).decode())
        self._sends_sent += 1
        return message_id

    def report_result_error(
        self,
        message_id: str,
        code: ErrorCode | str,
        description: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Tell the peer its CALLRESULT to our CALL ``message_id`` could not be processed (CALLRESULTERROR).

        For an application that received a valid :class:`ResultReceived` it cannot act
        on; the session itself reports CALLRESULTs that do not validate. ``code`` is a
        meaning, spelled as the version does.

        Raises:
            LocalProtocolError: the version has no CALLRESULTERROR (before 2.1), or
                the message id is unusable.
        """
        if not self._reports_result_errors:
            raise LocalProtocolError(
                ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, f"OCPP {self.version.name} has no CALLRESULTERROR"
            )
        if not message_id or len(message_id) > MAX_MESSAGE_ID_LENGTH:
            raise LocalProtocolError(
                ErrorCode.RPC_FRAMEWORK_ERROR, f"message id must be 1 to {MAX_MESSAGE_ID_LENGTH} characters"
            )
        self._send_error(message_id, code, description, details, CallResultError)
        self._result_errors_sent += 1

    def reply(self, message_id: str, response: Any) -> None:
        """Answer the peer's CALL ``message_id`` with a CALLRESULT.

        Args:
            message_id: the id of the CALL being answered.
            response: the response Struct, or a mapping, JSON text or bytes of its payload.

        Raises:
            LocalProtocolError: no such CALL awaits an answer, or the payload does
                not validate against the action's response type (nothing is sent;
                the CALL still awaits an answer).
        """
        action = self._awaiting_reply.get(message_id)
        if action is None:
            raise LocalProtocolError(ErrorCode.GENERIC_ERROR, f"no CALL {message_id!r} awaits an answer")
        _, payload = self._encode_payload(response, action, self.version.response_decoder, "response")
        del self._awaiting_reply[message_id]
        self._outbox.append(_encoder.encode(CallResult(message_id, msgspec.Raw(payload))).decode())

    def reply_error(
        self,
        message_id: str,
        code: ErrorCode | str,
        description: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Answer the peer's CALL ``message_id`` with a CALLERROR.

        ``code`` is a meaning, sent as the session's version spells it; a string
        outside fleet's vocabulary goes out as given.

        Raises:
            LocalProtocolError: no such CALL awaits an answer.
        """
        if self._awaiting_reply.pop(message_id, None) is None:
            raise LocalProtocolError(ErrorCode.GENERIC_ERROR, f"no CALL {message_id!r} awaits an answer")
        self._send_error(message_id, code, description, details)

    def leave_unanswered(self, message_id: str) -> None:
        """Forget the peer's CALL ``message_id`` without answering it (a peer that must stay
        silent: an OCPP 1.6 charge point while its boot is Rejected)."""
        self._awaiting_reply.pop(message_id, None)

    def reply_exception(self, message_id: str, exc: BaseException) -> None:
        """Answer the peer's CALL with the CALLERROR for an exception its handler raised.

        An :class:`OcppError` keeps its code and description; anything else becomes
        InternalError with no detail of the exception, so nothing leaks to the peer.
        """
        if isinstance(exc, OcppError) and not isinstance(exc, CallFailure):
            self.reply_error(message_id, exc.code, exc.description, exc.details or None)
        else:
            action = self._awaiting_reply.get(message_id, "the request")
            self.reply_error(message_id, ErrorCode.INTERNAL_ERROR, f"internal error while handling {action}")

    def dispatch(self, event: CallReceived, handler: Callable[[Any], Any]) -> None:
        """Run a synchronous ``handler(request)`` for a received CALL and send its answer.

        The handler's return value becomes the CALLRESULT; an exception, or a
        return value that is not a valid response, becomes the matching CALLERROR.
        """
        try:
            response = handler(event.request)
        except Exception as exc:
            self.reply_exception(event.message_id, exc)
            return
        try:
            self.reply(event.message_id, response)
        except LocalProtocolError:
            self.reply_error(
                event.message_id, ErrorCode.INTERNAL_ERROR, f"invalid {event.action} response from the handler"
            )

    def data_to_send(self) -> list[str]:
        """Take the text frames waiting to be written to the websocket, oldest first."""
        out = self._outbox
        if out:
            self._outbox = []
        return out

    # ---------------------------------------------------------------- receiving

    def receive_frame(self, data: str | bytes, now: float) -> list[Event]:
        """Process one received websocket message; return the events it produced.

        Never raises: invalid input yields a :class:`ProtocolViolation` (and, where
        an answer is due, a CALLERROR in :meth:`data_to_send`).
        """
        if not isinstance(data, str):  # a binary frame: its payloads' strings must be UTF-8 too
            try:
                data = bytes(data).decode("utf-8")
            except UnicodeDecodeError:
                return self._violation(ErrorCode.RPC_FRAMEWORK_ERROR, "frame is not valid UTF-8", None, True, now)
        try:
            frame = self._decode_frame(data)
        except msgspec.DecodeError:
            return self._bad_frame(data, now)
        except UnicodeEncodeError:  # lone surrogates (never from a websocket, which checks UTF-8)
            return self._violation(ErrorCode.RPC_FRAMEWORK_ERROR, "frame is not valid UTF-8", None, True, now)
        if type(frame) is Call:
            return self._on_call(frame, now)
        if type(frame) is CallResult:
            return self._on_result(frame, now)
        if type(frame) is CallError:
            return self._on_error(frame, now)
        if type(frame) is Send:
            return self._on_send(frame, now)
        assert type(frame) is CallResultError
        return self._on_result_error(frame, now)

    # ----------------------------------------------------------------- the clock

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timeouts` must next be called, or ``None`` if nothing waits."""
        pending = self._in_flight
        return pending.deadline if pending is not None else None

    def handle_timeouts(self, now: float) -> list[Event]:
        """Fail the CALL in flight if its deadline has passed; send the next one."""
        events: list[Event] = []
        pending = self._in_flight
        while pending is not None and pending.deadline <= now:
            self._in_flight = None
            if self._expired is None:
                self._expired = collections.deque(maxlen=_EXPIRED_MEMORY)
            self._expired.append(pending.message_id)
            self._timeouts += 1
            events.append(self._failed(pending, CallTimeout(), now))
            self._send_next(now)
            pending = self._in_flight
        return events

    def connection_lost(self, now: float) -> list[CallFailed]:
        """The transport is gone: fail every CALL in flight or queued and close the session."""
        self._closed = True
        pending = [self._in_flight] if self._in_flight is not None else []
        if self._queue:
            pending.extend(self._queue)
            self._queue.clear()
        self._in_flight = None
        self._awaiting_reply.clear()
        self._outbox = []
        return [self._failed(p, ConnectionLost(), now) for p in pending]

    # ------------------------------------------------------------------ queries

    @property
    def closed(self) -> bool:
        """Whether :meth:`connection_lost` was called."""
        return self._closed

    def pending_calls(self) -> list[tuple[str, str, Any]]:
        """Our CALLs in flight or queued, as (message id, action, tag), oldest first."""
        pending: Iterable[_Pending] = self._queue or ()
        if self._in_flight is not None:
            pending = [self._in_flight, *pending]
        return [(p.message_id, p.action, p.tag) for p in pending]

    def awaiting_reply(self) -> dict[str, str]:
        """The peer's CALLs the application has not answered yet: message id -> action."""
        return dict(self._awaiting_reply)

    def statistics(self) -> SessionStatistics:
        """A snapshot of the session's counters."""
        return SessionStatistics(
            calls_sent=self._calls_sent,
            calls_received=self._calls_received,
            results_received=self._results_received,
            failures=self._failures,
            timeouts=self._timeouts,
            violations=self._violations,
            queued=len(self._queue or ()),
            in_flight=self._in_flight is not None,
            awaiting_reply=len(self._awaiting_reply),
            late_replies=self._late_replies,
            sends_sent=self._sends_sent,
            sends_received=self._sends_received,
            result_errors_sent=self._result_errors_sent,
            result_errors_received=self._result_errors_received,
        )

    # ----------------------------------------------------------------- internals

    def _encode_payload(
        self,
        message: Any,
        action: str | None,
        decoder_of: Callable[[str], msgspec.json.Decoder[Any]],
        kind: str,
    ) -> tuple[str, bytes]:
        # kind: "request" or "response" (of a CALL's action), or "message" (of a SEND action)
        known: Mapping[str, Any] = self.version.send_actions if kind == "message" else self.version.actions
        if action is None:
            action = self.version.action_of.get(type(message))
            if action is None or action not in known:
                raise LocalProtocolError(
                    ErrorCode.NOT_IMPLEMENTED,
                    f"{type(message).__name__} is not an OCPP {self.version.name} {kind}; pass action=",
                )
        elif action not in known:
            raise LocalProtocolError(ErrorCode.NOT_IMPLEMENTED, f"unknown OCPP {self.version.name} action {action!r}")
        if isinstance(message, bytes | str):
            payload = message.encode() if isinstance(message, str) else message
            structured = False
        else:
            expected = known[action] if kind == "message" else known[action][0 if kind == "request" else 1]
            structured = type(message) is expected
            if not structured and isinstance(message, msgspec.Struct):
                raise LocalProtocolError(
                    ErrorCode.FORMAT_VIOLATION,
                    f"{type(message).__name__} is not the {action} {kind} ({expected.__name__})",
                )
            try:
                payload = self.version.encoder.encode(message)
            except (TypeError, ValueError) as exc:
                raise LocalProtocolError(ErrorCode.FORMAT_VIOLATION, f"cannot encode {action} {kind}: {exc}") from None
        if self.validate_outgoing or not structured:
            try:
                decoder_of(action).decode(payload)
            except msgspec.ValidationError as exc:
                raise LocalProtocolError(
                    _payload_error_code(str(exc)), f"invalid {action} {kind}: {exc}"
                ) from None
            except msgspec.DecodeError as exc:
                raise LocalProtocolError(
                    ErrorCode.FORMAT_VIOLATION, f"invalid {action} {kind}: {exc}"
                ) from None
        return action, payload

    def _is_ours(self, message_id: str) -> bool:
        if self._in_flight is not None and self._in_flight.message_id == message_id:
            return True
        return any(p.message_id == message_id for p in self._queue or ())

    def _transmit(self, pending: _Pending, now: float) -> None:
        pending.sent_at = now
        pending.deadline = now + pending.timeout
        self._in_flight = pending
        self._outbox.append(pending.frame)
        self._calls_sent += 1

    def _send_next(self, now: float) -> None:
        if self._queue and self._in_flight is None:
            self._transmit(self._queue.popleft(), now)

    def _failed(self, pending: _Pending, error: CallFailure, now: float) -> CallFailed:
        self._failures += 1
        return CallFailed(pending.message_id, pending.action, error, pending.tag, pending.sent_at, now)

    def _send_error(
        self,
        message_id: str,
        code: ErrorCode | str,
        description: str,
        details: dict[str, Any] | None,
        frame_type: type[CallError | CallResultError] = CallError,
    ) -> None:
        frame = frame_type(
            message_id,
            self.version.error_codes.spell(code),
            description[:_MAX_DESCRIPTION],
            msgspec.Raw(_encoder.encode(details or {})),
        )
        self._outbox.append(_encoder.encode(frame).decode())

    def _violation(
        self, code: ErrorCode, description: str, message_id: str | None, answer: bool, now: float
    ) -> list[Event]:
        self._violations += 1
        if answer:
            self._send_error(message_id or UNKNOWN_MESSAGE_ID, code, description, None)
        return [ProtocolViolation(code, description, message_id, answer, now)]

    def _on_call(self, frame: Call, now: float) -> list[Event]:
        action = frame.action
        message_id = frame.message_id
        if action not in self.version.actions:
            return self._violation(
                ErrorCode.NOT_IMPLEMENTED, f"unknown action {action[:64]!r}", message_id, True, now
            )
        supported = self.supported_actions
        if supported is not None and action not in supported:
            return self._violation(
                ErrorCode.NOT_SUPPORTED, f"{action} is not supported here", message_id, True, now
            )
        try:
            request = self.version.request_decoder(action).decode(frame.payload)
        except msgspec.ValidationError as exc:
            message = str(exc)
            return self._violation(_payload_error_code(message), message, message_id, True, now)
        self._calls_received += 1
        self._awaiting_reply[message_id] = action
        return [CallReceived(message_id, action, request, now)]

    def _take_in_flight(self, message_id: str, kind: str, now: float) -> _Pending | list[Event]:
        pending = self._in_flight
        if pending is not None and pending.message_id == message_id:
            self._in_flight = None
            return pending
        if self._expired is not None and message_id in self._expired:
            # The answer to a call that already failed as a timeout: that failure is its only
            # count (a violation too would count one slow answer twice in a run's errors).
            self._expired.remove(message_id)
            self._late_replies += 1
            logger.warning("dropped late %s for message id %r", kind, message_id)
            return []
        logger.debug("dropped unexpected %s for message id %r", kind, message_id)
        return self._violation(
            ErrorCode.GENERIC_ERROR, f"unexpected {kind} for message id {message_id!r} dropped", message_id, False, now
        )

    def _on_result(self, frame: CallResult, now: float) -> list[Event]:
        pending = self._take_in_flight(frame.message_id, "CALLRESULT", now)
        if isinstance(pending, list):
            return pending
        event: Event
        try:
            response = self.version.response_decoder(pending.action).decode(frame.payload)
        except msgspec.ValidationError as exc:
            message = str(exc)
            code = _payload_error_code(message)
            event = self._failed(pending, InvalidResponse(code, f"invalid {pending.action} response: {message}"), now)
            self._result_unprocessable(pending.message_id, code, message)
        else:
            self._results_received += 1
            assert pending.sent_at is not None
            event = ResultReceived(pending.message_id, pending.action, response, pending.tag, pending.sent_at, now)
        self._send_next(now)
        return [event]

    def _result_unprocessable(self, message_id: str, code: ErrorCode, description: str) -> None:
        """Report a CALLRESULT we cannot process with a CALLRESULTERROR, where the version has it."""
        if self._reports_result_errors:
            self._send_error(message_id, code, description, None, CallResultError)
            self._result_errors_sent += 1

    def _on_send(self, frame: Send, now: float) -> list[Event]:
        # A SEND is never answered, even when it is bad: faults are reported, not sent back.
        action = frame.action
        message_id = frame.message_id
        if action not in self.version.send_actions:
            return self._violation(
                ErrorCode.NOT_IMPLEMENTED, f"unknown SEND action {action[:64]!r}", message_id, False, now
            )
        supported = self.supported_actions
        if supported is not None and action not in supported:
            return self._violation(ErrorCode.NOT_SUPPORTED, f"{action} is not supported here", message_id, False, now)
        try:
            message = self.version.request_decoder(action).decode(frame.payload)
        except msgspec.ValidationError as exc:
            text = str(exc)
            return self._violation(_payload_error_code(text), text, message_id, False, now)
        self._sends_received += 1
        return [SendReceived(message_id, action, message, now)]

    def _on_result_error(self, frame: CallResultError, now: float) -> list[Event]:
        try:
            details = _any_decoder.decode(frame.error_details)
        except msgspec.DecodeError:  # pragma: no cover - Raw came from a valid document
            details = {}
        self._result_errors_received += 1
        return [
            ResultErrorReceived(
                frame.message_id,
                self.version.error_codes.read(frame.error_code),
                frame.error_description,
                details if isinstance(details, dict) else {},
                now,
            )
        ]

    def _on_error(self, frame: CallError, now: float) -> list[Event]:
        pending = self._take_in_flight(frame.message_id, "CALLERROR", now)
        if isinstance(pending, list):
            return pending
        try:
            details = _any_decoder.decode(frame.error_details)
        except msgspec.DecodeError:  # pragma: no cover - Raw came from a valid document
            details = {}
        error = RemoteCallError(
            self.version.error_codes.read(frame.error_code),
            frame.error_description,
            details if isinstance(details, dict) else {},
        )
        event = self._failed(pending, error, now)
        self._send_next(now)
        return [event]

    def _bad_frame(self, data: str | bytes, now: float) -> list[Event]:
        diagnosis = diagnose(data, self.version.message_types)
        if diagnosis.message_type in (MessageType.CALLRESULT, MessageType.CALLERROR):
            # Responses are never answered; a broken answer to our CALL fails that call
            # (and a broken CALLRESULT is reported back, where the version can).
            pending = self._in_flight
            if pending is not None and diagnosis.message_id == pending.message_id:
                self._in_flight = None
                self._violations += 1
                event = self._failed(pending, InvalidResponse(diagnosis.code, diagnosis.description), now)
                if diagnosis.message_type == MessageType.CALLRESULT:
                    self._result_unprocessable(pending.message_id, diagnosis.code, diagnosis.description)
                self._send_next(now)
                return [event]
        # (the message types of this version never answered; not kept per session: a frozenset is 216 bytes)
        answer = not (diagnosis.message_type in _NEVER_ANSWERED and diagnosis.message_type in self.version.message_types)
        return self._violation(diagnosis.code, diagnosis.description, diagnosis.message_id, answer, now)
