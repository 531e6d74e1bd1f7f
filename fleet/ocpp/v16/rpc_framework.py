"""The OCPP-J 1.6 RPC framework as data (OCPP-J 1.6 specification, hand-written).

``MESSAGE_TYPES``: CALL (2), CALLRESULT (3) and CALLERROR (4) only.

``ERROR_CODES``: the ten CALLERROR codes of section 4.2.3, spelled as 1.6 spells
them: ``FormationViolation`` and ``OccurenceConstraintViolation`` are typos the
errata sheet (sections 5.1 and 5.2) keeps on purpose, "might break implementations".
The corrected spellings a peer might send anyway are understood on the way in.

1.6 has no RpcFrameworkError and no MessageTypeNotSupported. A frame that is not a
complete RPC message (not JSON, not an array, an unreadable message id, elements
missing) is answered ProtocolError ("payload for action is incomplete"); an unknown
message type number GenericError ("any other error not covered by the previous
ones"). A payload that is not a JSON object, or breaks its schema's structure, is a
FormationViolation as in 2.0.1.
"""

from typing import Final

from ..error_codes import ErrorCodes
from ..errors import ErrorCode
from ..frames import BASIC_MESSAGE_TYPES

__all__ = ["ERROR_CODES", "MESSAGE_TYPES"]

#: The message type numbers OCPP-J 1.6 allows.
MESSAGE_TYPES: Final = BASIC_MESSAGE_TYPES

#: The CALLERROR codes of OCPP-J 1.6.
ERROR_CODES: Final = ErrorCodes.of(
    {
        ErrorCode.NOT_IMPLEMENTED: "NotImplemented",
        ErrorCode.NOT_SUPPORTED: "NotSupported",
        ErrorCode.INTERNAL_ERROR: "InternalError",
        ErrorCode.PROTOCOL_ERROR: "ProtocolError",
        ErrorCode.SECURITY_ERROR: "SecurityError",
        ErrorCode.FORMAT_VIOLATION: "FormationViolation",
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION: "PropertyConstraintViolation",
        ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",
        ErrorCode.TYPE_CONSTRAINT_VIOLATION: "TypeConstraintViolation",
        ErrorCode.GENERIC_ERROR: "GenericError",
    },
    fallback={
        ErrorCode.RPC_FRAMEWORK_ERROR: ErrorCode.PROTOCOL_ERROR,
        ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED: ErrorCode.GENERIC_ERROR,
    },
    aliases={
        "FormatViolation": ErrorCode.FORMAT_VIOLATION,
        "OccurrenceConstraintViolation": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    },
)
