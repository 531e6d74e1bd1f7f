"""Errors of the OCPP-J RPC layer, each carrying the CALLERROR code it maps to.

:class:`ErrorCode` is fleet's one vocabulary of error *meanings*, whatever the
version: the session and the handlers raise and report these. How a version spells
a meaning on the wire (and which codes it may send at all) is that version's
:class:`~fleet.ocpp.error_codes.ErrorCodes` table; the session spells a meaning on
the way out and reads the peer's code back into a meaning on the way in.

Two families, as in h11: :class:`RemoteProtocolError` when the peer broke the
protocol (the session answers it with a CALLERROR where an answer is due), and
:class:`LocalProtocolError` when our own side tried to send something invalid
(raised to the caller, nothing is sent). The outcome of a CALL we made that did
not end in a CALLRESULT is one of the :class:`CallFailure` subclasses.
"""

from __future__ import annotations

import enum
import re
from typing import Any

__all__ = [
    "CallFailure",
    "CallTimeout",
    "ConnectionLost",
    "ErrorCode",
    "InvalidResponse",
    "LocalProtocolError",
    "OcppError",
    "RemoteCallError",
    "RemoteProtocolError",
    "classify_validation_error",
]


class ErrorCode(enum.StrEnum):
    """The meanings of CALLERROR codes, named and valued as OCPP-J 2.0.1 spells them (part 4, section 4.3).

    A version that spells a meaning differently, or lacks it, says so in its
    :class:`~fleet.ocpp.error_codes.ErrorCodes`; OCPP 2.0.1's table is the identity.
    """

    #: Payload for Action is syntactically incorrect.
    FORMAT_VIOLATION = "FormatViolation"
    #: Any other error not covered by the more specific codes.
    GENERIC_ERROR = "GenericError"
    #: An internal error occurred and the receiver was not able to process the Action.
    INTERNAL_ERROR = "InternalError"
    #: A message with a Message Type Number that is not supported by this implementation.
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    #: Requested Action is not known by the receiver.
    NOT_IMPLEMENTED = "NotImplemented"
    #: Requested Action is recognized but not supported by the receiver.
    NOT_SUPPORTED = "NotSupported"
    #: At least one field violates occurrence constraints (missing required field, array size).
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    #: At least one field contains an invalid value (range, length, enum, format).
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    #: Payload for Action is not conform the PDU structure.
    PROTOCOL_ERROR = "ProtocolError"
    #: Content of the call is not a valid RPC request, e.g. the MessageId could not be read.
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"
    #: During the processing of the Action a security issue occurred.
    SECURITY_ERROR = "SecurityError"
    #: At least one field violates data type constraints (e.g. a string where an integer is due).
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"


class OcppError(Exception):
    """Base of every OCPP-J error; ``code`` is the CALLERROR meaning it stands for.

    ``code`` is an :class:`ErrorCode`, or a plain string for a code outside fleet's
    vocabulary (a peer's unknown code, or an application's own).
    """

    def __init__(
        self,
        code: ErrorCode | str,
        description: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {description}" if description else str(code))
        self.code = code
        self.description = description
        self.details: dict[str, Any] = details if details is not None else {}


class RemoteProtocolError(OcppError):
    """The peer sent something the protocol forbids; ``code`` is what we answer with."""


class LocalProtocolError(OcppError):
    """We were asked to send something the protocol forbids (e.g. an invalid payload)."""


class CallFailure(OcppError):
    """A CALL we made ended without a valid CALLRESULT."""


class RemoteCallError(CallFailure):
    """The peer answered our CALL with a CALLERROR.

    ``code`` is the meaning of the peer's code as its version reads it (a 1.6 peer's
    ``FormationViolation`` is ``ErrorCode.FORMAT_VIOLATION``), or the peer's string
    unchanged if the version has no such code.
    """


class InvalidResponse(CallFailure):
    """The peer's CALLRESULT did not validate against the action's response type."""


class CallTimeout(CallFailure):
    """No answer arrived before the call timeout."""

    def __init__(self, description: str = "no response before the call timeout") -> None:
        super().__init__(ErrorCode.GENERIC_ERROR, description)


class ConnectionLost(CallFailure):
    """The connection closed while the call was pending or queued."""

    def __init__(self, description: str = "connection lost before a response arrived") -> None:
        super().__init__(ErrorCode.GENERIC_ERROR, description)


# msgspec.ValidationError messages -> the OCPP-J code that names the same fault.
_OCCURRENCE = re.compile(r"missing required field|Expected `array` of length|Expected `object` of length")
_PROPERTY = re.compile(
    r"Invalid enum value|of length [<>]=|` [<>]=? ?-?\d|Invalid RFC3339|with a timezone|"
    r"Number out of range|matching regex|Expected `(?:int|float)` (?:>|<|that is a multiple)|Invalid value"
)
_TYPE = re.compile(r"^Expected `[^`]+`, got `")
_FORMAT = re.compile(r"unknown field")


def classify_validation_error(message: str) -> ErrorCode:
    """Map a ``msgspec.ValidationError`` message to the CALLERROR code for it.

    Missing required fields and array sizes are occurrence faults; values out of
    range, too long, not in the enumeration or not a valid date-time are property
    faults; a value of the wrong JSON type is a type fault; an unknown field makes
    the payload syntactically wrong for its action (FormatViolation).
    """
    if _OCCURRENCE.search(message):
        return ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION
    if _TYPE.search(message):
        return ErrorCode.TYPE_CONSTRAINT_VIOLATION
    if _FORMAT.search(message):
        return ErrorCode.FORMAT_VIOLATION
    if _PROPERTY.search(message):
        return ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    return ErrorCode.FORMAT_VIOLATION
