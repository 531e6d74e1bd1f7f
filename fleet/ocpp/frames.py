"""OCPP-J frames: the JSON arrays that carry every OCPP message over the websocket.

``[2, messageId, action, payload]`` is a :class:`Call`, ``[3, messageId, payload]``
a :class:`CallResult`, ``[4, messageId, errorCode, errorDescription, errorDetails]``
a :class:`CallError`; OCPP-J 2.1 adds ``[5, messageId, errorCode, errorDescription,
errorDetails]``, a :class:`CallResultError`, and ``[6, messageId, action, payload]``,
a :class:`Send`. Each is an ``array_like`` msgspec Struct tagged with its message
type number, so one reused decoder reads any frame in a single pass and leaves the
payload as :class:`msgspec.Raw` for the action's own typed decoder.

Which message types a connection accepts is its version's data
(``ProtocolVersion.message_types``): :func:`frame_decoder` builds the decoder of
exactly those frames, and :func:`diagnose` calls any other type number unsupported.
:func:`decode_frame` is the decoder of the types every version has (2, 3 and 4).

Well-formed frames take the fast path. Anything else goes through
:func:`diagnose`, which says exactly what is wrong and which CALLERROR answers it
(as a meaning; the session spells it as the version does).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Annotated, Any, Final, Union

import msgspec

from .errors import ErrorCode

__all__ = [
    "BASIC_MESSAGE_TYPES",
    "FRAME_TYPES",
    "MAX_MESSAGE_ID_LENGTH",
    "UNKNOWN_MESSAGE_ID",
    "Call",
    "CallError",
    "CallResult",
    "CallResultError",
    "Frame",
    "FrameDiagnosis",
    "MessageType",
    "Send",
    "decode_frame",
    "diagnose",
    "encode_frame",
    "frame_decoder",
]

#: OCPP-J limits message ids to 36 characters (a UUID in text form).
MAX_MESSAGE_ID_LENGTH: Final = 36
#: The message id used in a CALLERROR when the offending frame's id cannot be read.
UNKNOWN_MESSAGE_ID: Final = "-1"

MessageId = Annotated[str, msgspec.Meta(max_length=MAX_MESSAGE_ID_LENGTH)]
EMPTY_OBJECT: Final = msgspec.Raw(b"{}")


class MessageType(enum.IntEnum):
    """The message type numbers of OCPP-J (the first element of every frame)."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    #: OCPP-J 2.1: the receiver of a CALLRESULT could not process it.
    CALLRESULTERROR = 5
    #: OCPP-J 2.1: an unconfirmed message, never answered.
    SEND = 6


class Call(msgspec.Struct, array_like=True, tag=2, frozen=True, gc=False):
    """A request: ``[2, message_id, action, payload]``."""

    message_id: MessageId
    action: str
    payload: msgspec.Raw


class CallResult(msgspec.Struct, array_like=True, tag=3, frozen=True, gc=False):
    """A successful response: ``[3, message_id, payload]``."""

    message_id: MessageId
    payload: msgspec.Raw


class CallError(msgspec.Struct, array_like=True, tag=4, frozen=True, gc=False):
    """An error response: ``[4, message_id, error_code, error_description, error_details]``."""

    message_id: MessageId
    error_code: str
    error_description: str = ""
    error_details: msgspec.Raw = EMPTY_OBJECT


class CallResultError(msgspec.Struct, array_like=True, tag=5, frozen=True, gc=False):
    """OCPP-J 2.1: our CALLRESULT could not be processed: ``[5, message_id, error_code, error_description, error_details]``."""

    message_id: MessageId
    error_code: str
    error_description: str = ""
    error_details: msgspec.Raw = EMPTY_OBJECT


class Send(msgspec.Struct, array_like=True, tag=6, frozen=True, gc=False):
    """OCPP-J 2.1: an unconfirmed message: ``[6, message_id, action, payload]``."""

    message_id: MessageId
    action: str
    payload: msgspec.Raw


Frame = Call | CallResult | CallError | CallResultError | Send

#: Message type number -> the frame Struct of that type.
FRAME_TYPES: Final[Mapping[int, type[Frame]]] = MappingProxyType({
    MessageType.CALL: Call,
    MessageType.CALLRESULT: CallResult,
    MessageType.CALLERROR: CallError,
    MessageType.CALLRESULTERROR: CallResultError,
    MessageType.SEND: Send,
})
#: The message types every OCPP-J version has (and the only ones OCPP-J 1.6 and 2.0.1 have).
BASIC_MESSAGE_TYPES: Final = frozenset({MessageType.CALL, MessageType.CALLRESULT, MessageType.CALLERROR})


def frame_decoder(message_types: Collection[int]) -> msgspec.json.Decoder[Any]:
    """The decoder of exactly the frames of ``message_types``: any other type is a ``DecodeError``.

    Raises:
        ValueError: a message type that is not in :data:`FRAME_TYPES`.
    """
    unknown = set(message_types) - set(FRAME_TYPES)
    if unknown or not message_types:
        raise ValueError(f"no frame type for message type(s) {sorted(unknown)}")
    types = tuple(FRAME_TYPES[number] for number in sorted(message_types))
    return msgspec.json.Decoder(Union[types])  # noqa: UP007  (a union built at run time)


_decoder: Final[msgspec.json.Decoder[Call | CallResult | CallError]] = frame_decoder(BASIC_MESSAGE_TYPES)
_encoder: Final = msgspec.json.Encoder()
_any_decoder: Final = msgspec.json.Decoder()


def decode_frame(data: str | bytes) -> Call | CallResult | CallError:
    """Decode one well-formed CALL, CALLRESULT or CALLERROR; raises ``msgspec.DecodeError`` for anything else.

    The payload stays raw; callers diagnose failures with :func:`diagnose`.
    """
    return _decoder.decode(data)


def encode_frame(frame: Frame) -> bytes:
    """Encode a frame to the JSON text that goes on the wire (as UTF-8 bytes)."""
    return _encoder.encode(frame)


class FrameDiagnosis(msgspec.Struct, frozen=True):
    """What is wrong with a frame that failed the fast path.

    Attributes:
        message_type: the message type number, when one could be read.
        message_id: the message id, when one could be read (else ``None``).
        code: the meaning of the CALLERROR that names the fault (spelled by the session as its version does).
        description: a short human-readable account of the fault.
    """

    message_type: int | None
    message_id: str | None
    code: ErrorCode
    description: str


def _describe(value: Any) -> str:
    return type(value).__name__


_REQUEST_TYPES: Final = frozenset({MessageType.CALL, MessageType.SEND})
_ERROR_TYPES: Final = frozenset({MessageType.CALLERROR, MessageType.CALLRESULTERROR})


def diagnose(data: str | bytes, message_types: Collection[int] = BASIC_MESSAGE_TYPES) -> FrameDiagnosis:
    """Explain why ``data`` is not a well-formed frame (slow path, only for bad input).

    Non-JSON and non-array frames are RPC framework errors with the unknown id
    ``"-1"``; a message type not in ``message_types`` (the version's) is
    MessageTypeNotSupported; a CALL (or SEND) whose payload is not a JSON object is a
    FormatViolation, and so is a CALLRESULT's; any other structural fault of the
    array (wrong length, id not a string or too long, action not a string) is an
    RpcFrameworkError. The codes are meanings: the session spells them as its
    version does.
    """
    rpc = ErrorCode.RPC_FRAMEWORK_ERROR
    try:
        obj = _any_decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return FrameDiagnosis(None, None, rpc, "frame is not valid JSON")
    if not isinstance(obj, list) or not obj:
        return FrameDiagnosis(None, None, rpc, f"frame is not a non-empty JSON array (got {_describe(obj)})")
    message_type = obj[0]
    raw_id = obj[1] if len(obj) > 1 else None
    message_id = raw_id if isinstance(raw_id, str) and len(raw_id) <= MAX_MESSAGE_ID_LENGTH else None
    if not isinstance(message_type, int) or isinstance(message_type, bool):
        return FrameDiagnosis(None, message_id, rpc, "message type is not an integer")
    if message_type not in message_types or message_type not in FRAME_TYPES:
        return FrameDiagnosis(
            message_type,
            message_id,
            ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
            f"message type {message_type} is not supported",
        )
    kind = MessageType(message_type).name
    if message_id is None:
        if isinstance(raw_id, str):
            why = f"message id is longer than {MAX_MESSAGE_ID_LENGTH} characters"
        else:
            why = "message id could not be read"
        return FrameDiagnosis(message_type, None, rpc, why)
    if message_type in _REQUEST_TYPES:
        if len(obj) != 4:
            return FrameDiagnosis(message_type, message_id, rpc, f"a {kind} has 4 elements, got {len(obj)}")
        if not isinstance(obj[2], str):
            return FrameDiagnosis(message_type, message_id, rpc, "action is not a string")
        return FrameDiagnosis(
            message_type,
            message_id,
            ErrorCode.FORMAT_VIOLATION,
            f"payload is not a JSON object (got {_describe(obj[3])})",
        )
    if message_type not in _ERROR_TYPES:  # a CALLRESULT
        if len(obj) != 3:
            return FrameDiagnosis(message_type, message_id, rpc, f"a {kind} has 3 elements, got {len(obj)}")
        return FrameDiagnosis(
            message_type,
            message_id,
            ErrorCode.FORMAT_VIOLATION,
            f"payload is not a JSON object (got {_describe(obj[2])})",
        )
    return FrameDiagnosis(
        message_type, message_id, rpc, f"a {kind} is [{message_type}, id, code, description, details] with strings"
    )
