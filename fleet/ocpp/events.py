"""Events a :class:`~fleet.ocpp.session.Session` hands to the application.

Each is a small frozen Struct, documented field by field. Do not subclass them.
Times are the values of the clock the application feeds the session (seconds,
monotonic); ``tag`` is the opaque object the caller attached to its CALL.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .errors import CallFailure, ErrorCode

__all__ = [
    "CallFailed",
    "CallReceived",
    "Event",
    "ProtocolViolation",
    "ResultErrorReceived",
    "ResultReceived",
    "SendReceived",
]


class CallReceived(msgspec.Struct, frozen=True, gc=False):
    """The peer sent a valid CALL; answer it with ``Session.reply`` or ``Session.reply_error``.

    Attributes:
        message_id: the CALL's message id, to be reused in the answer.
        action: the action name, e.g. ``"BootNotification"``.
        request: the payload, decoded and validated into the action's request Struct.
        received_at: when the frame was received.
    """

    message_id: str
    action: str
    request: Any
    received_at: float


class ResultReceived(msgspec.Struct, frozen=True, gc=False):
    """The peer answered one of our CALLs with a valid CALLRESULT.

    Attributes:
        message_id: the id of our CALL.
        action: the action of our CALL.
        response: the payload, decoded and validated into the action's response Struct.
        tag: the opaque tag given to ``Session.call``.
        sent_at: when our CALL was handed to the transport.
        received_at: when the answer arrived; ``received_at - sent_at`` is the round trip.
    """

    message_id: str
    action: str
    response: Any
    tag: Any
    sent_at: float
    received_at: float


class CallFailed(msgspec.Struct, frozen=True, gc=False):
    """One of our CALLs ended without a valid CALLRESULT.

    Attributes:
        message_id: the id of our CALL.
        action: the action of our CALL.
        error: why: ``RemoteCallError`` (the peer sent a CALLERROR), ``InvalidResponse``
            (the CALLRESULT did not validate), ``CallTimeout`` or ``ConnectionLost``;
            ``error.code`` (a meaning, read with the version's codes, or the peer's own
            string if the version has no such code) and ``error.description`` carry the details.
        tag: the opaque tag given to ``Session.call``.
        sent_at: when our CALL was handed to the transport (``None`` if it never was).
        failed_at: when the failure was noticed.
    """

    message_id: str
    action: str
    error: CallFailure
    tag: Any
    sent_at: float | None
    failed_at: float


class ProtocolViolation(msgspec.Struct, frozen=True, gc=False):
    """The peer sent something invalid; the session answered it or dropped it.

    Reported so applications can count and log faults; nothing needs to be done.

    Attributes:
        code: the meaning of the fault (the same whatever the version; the CALLERROR
            sent back carries the version's spelling of it).
        description: what was wrong.
        message_id: the offending frame's id, when it could be read.
        answered: whether a CALLERROR was sent back (responses are never answered).
        received_at: when the frame arrived.
    """

    code: ErrorCode
    description: str
    message_id: str | None
    answered: bool
    received_at: float


class SendReceived(msgspec.Struct, frozen=True, gc=False):
    """OCPP-J 2.1: the peer sent a valid SEND, an unconfirmed message; it is never answered.

    Attributes:
        message_id: the SEND's message id.
        action: the action name, e.g. ``"NotifyPeriodicEventStream"``.
        message: the payload, decoded and validated into the action's Struct.
        received_at: when the frame was received.
    """

    message_id: str
    action: str
    message: Any
    received_at: float


class ResultErrorReceived(msgspec.Struct, frozen=True, gc=False):
    """OCPP-J 2.1: the peer could not process our CALLRESULT (a CALLRESULTERROR); nothing is answered.

    Attributes:
        message_id: the id of the peer's CALL whose CALLRESULT we sent.
        code: the peer's code, read as a meaning (:class:`ErrorCode`) where the
            version has it, else the peer's string unchanged.
        description: the peer's description.
        details: the peer's error details (a JSON object).
        received_at: when the frame was received.
    """

    message_id: str
    code: ErrorCode | str
    description: str
    details: dict[str, Any]
    received_at: float


Event = CallReceived | ResultReceived | CallFailed | ProtocolViolation | SendReceived | ResultErrorReceived
