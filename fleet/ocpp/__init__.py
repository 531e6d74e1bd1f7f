"""fleet's sans-IO OCPP-J core: frames, typed messages and the RPC session.

Imports only the standard library and msgspec; does no I/O. Version-free: all that
differs between OCPP versions (the codec, the message types allowed, the CALLERROR
codes and their spellings, which role initiates which action) is data on a
:class:`ProtocolVersion`, registered in :data:`VERSIONS` (by subprotocol) and
:data:`VERSIONS_BY_NAME` (and every version the core speaks, stations and CSMS
aside, in :data:`PROTOCOLS`); the generated payload types live in per-version
packages (``fleet.ocpp.v16``, ``fleet.ocpp.v201``, ``fleet.ocpp.v21``).
"""

from .error_codes import ErrorCodes
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
from .events import (
    CallFailed,
    CallReceived,
    Event,
    ProtocolViolation,
    ResultErrorReceived,
    ResultReceived,
    SendReceived,
)
from .frames import Call, CallError, CallResult, Frame, decode_frame, encode_frame
from .session import DEFAULT_CALL_TIMEOUT, Role, Session, SessionStatistics
from .versions import (
    PROTOCOLS,
    V16,
    V21,
    V201,
    VERSIONS,
    VERSIONS_BY_NAME,
    ProtocolVersion,
    select_subprotocol,
)

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "PROTOCOLS",
    "V16",
    "V21",
    "V201",
    "VERSIONS",
    "VERSIONS_BY_NAME",
    "Call",
    "CallError",
    "CallFailed",
    "CallFailure",
    "CallReceived",
    "CallResult",
    "CallTimeout",
    "ConnectionLost",
    "ErrorCode",
    "ErrorCodes",
    "Event",
    "Frame",
    "InvalidResponse",
    "LocalProtocolError",
    "OcppError",
    "ProtocolVersion",
    "ProtocolViolation",
    "RemoteCallError",
    "RemoteProtocolError",
    "ResultErrorReceived",
    "ResultReceived",
    "Role",
    "SendReceived",
    "Session",
    "SessionStatistics",
    "decode_frame",
    "encode_frame",
    "select_subprotocol",
]
