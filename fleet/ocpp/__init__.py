"""fleet's sans-IO OCPP-J core: frames, typed messages and the RPC session.

Imports only the standard library and msgspec; does no I/O.
"""

from .errors import (
    CallFailure,
    CallTimeout,
    ConnectionLost,
    ErrorCode,
    InvalidResponse,
    LocalProtocolError,
    OcppError,
    RemoteCallError,
    RemoteProtocolError,
)
from .events import CallFailed, CallReceived, Event, ProtocolViolation, ResultReceived
from .frames import Call, CallError, CallResult, Frame, decode_frame, encode_frame
from .session import DEFAULT_CALL_TIMEOUT, Role, Session, SessionStatistics
from .versions import V201, VERSIONS, ProtocolVersion, select_subprotocol

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "V201",
    "VERSIONS",
    "Call",
    "CallError",
    "CallFailed",
    "CallFailure",
    "CallReceived",
    "CallResult",
    "CallTimeout",
    "ConnectionLost",
    "ErrorCode",
    "Event",
    "Frame",
    "InvalidResponse",
    "LocalProtocolError",
    "OcppError",
    "ProtocolVersion",
    "ProtocolViolation",
    "RemoteCallError",
    "RemoteProtocolError",
    "ResultReceived",
    "Role",
    "Session",
    "SessionStatistics",
    "decode_frame",
    "encode_frame",
    "select_subprotocol",
]
