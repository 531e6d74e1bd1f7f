"""OCPP-J frames: the JSON arrays that carry every OCPP message over the websocket.

``[2, messageId, action, payload]`` is a :class:`Call`, ``[3, messageId, payload]``
a :class:`CallResult`, ``[4, messageId, errorCode, errorDescription, errorDetails]``
a :class:`CallError`. Each is an ``array_like`` msgspec Struct tagged with its
message type number, so one reused decoder reads any frame in a single pass and
leaves the payload as :class:`msgspec.Raw` for the action's own typed decoder.

Well-formed frames take the fast path. Anything else goes through
:func:`diagnose`, which says exactly what is wrong and which CALLERROR answers it.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec

from .errors import ErrorCode

__all__ = [
    "MAX_MESSAGE_ID_LENGTH",
    "UNKNOWN_MESSAGE_ID",
    "Call",
    "CallError",
    "CallResult",
    "Frame",
    "FrameDiagnosis",
    "decode_frame",
    "diagnose",
    "encode_frame",
]

#: OCPP-J limits message ids to 36 characters (a UUID in text form).
MAX_MESSAGE_ID_LENGTH: Final = 36
#: The message id used in a CALLERROR when the offending frame's id cannot be read.
UNKNOWN_MESSAGE_ID: Final = "-1"

MessageId = Annotated[str, msgspec.Meta(max_length=MAX_MESSAGE_ID_LENGTH)]
EMPTY_OBJECT: Final = msgspec.Raw(b"{}")


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


Frame = Call | CallResult | CallError

_decoder: Final[msgspec.json.Decoder[Frame]] = msgspec.json.Decoder(Frame)
_encoder: Final = msgspec.json.Encoder()
_any_decoder: Final = msgspec.json.Decoder()


def decode_frame(data: str | bytes) -> Frame:
    """Decode one well-formed frame; raises ``msgspec.DecodeError`` for anything else.

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
        code: the CALLERROR code that names the fault.
        description: a short human-readable account of the fault.
    """

    message_type: int | None
    message_id: str | None
    code: ErrorCode
    description: str


def _describe(value: Any) -> str:
    return type(value).__name__


def diagnose(data: str | bytes) -> FrameDiagnosis:
    """Explain why ``data`` is not a well-formed frame (slow path, only for bad input).

    Non-JSON and non-array frames are RPC framework errors with the unknown id
    ``"-1"``; a message type other than 2, 3 or 4 is MessageTypeNotSupported; a CALL
    whose payload is not a JSON object is a FormatViolation; any other structural
    fault of the array (wrong length, id not a string or too long, action not a
    string) is an RpcFrameworkError.
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
    if message_type not in (2, 3, 4):
        return FrameDiagnosis(
            message_type,
            message_id,
            ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
            f"message type {message_type} is not supported",
        )
    if message_id is None:
        if isinstance(raw_id, str):
            why = f"message id is longer than {MAX_MESSAGE_ID_LENGTH} characters"
        else:
            why = "message id could not be read"
        return FrameDiagnosis(message_type, None, rpc, why)
    if message_type == 2:
        if len(obj) != 4:
            return FrameDiagnosis(2, message_id, rpc, f"a CALL has 4 elements, got {len(obj)}")
        if not isinstance(obj[2], str):
            return FrameDiagnosis(2, message_id, rpc, "action is not a string")
        return FrameDiagnosis(
            2, message_id, ErrorCode.FORMAT_VIOLATION, f"payload is not a JSON object (got {_describe(obj[3])})"
        )
    if message_type == 3:
        if len(obj) != 3:
            return FrameDiagnosis(3, message_id, rpc, f"a CALLRESULT has 3 elements, got {len(obj)}")
        return FrameDiagnosis(
            3, message_id, ErrorCode.FORMAT_VIOLATION, f"payload is not a JSON object (got {_describe(obj[2])})"
        )
    return FrameDiagnosis(4, message_id, rpc, "a CALLERROR is [4, id, code, description, details] with strings")
