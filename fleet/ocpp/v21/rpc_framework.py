"""The OCPP-J 2.1 RPC framework as data (part 4 of the specification, hand-written).

``MESSAGE_TYPES``: CALL (2), CALLRESULT (3), CALLERROR (4), and new in 2.1
CALLRESULTERROR (5: the receiver of a CALLRESULT could not process it) and SEND (6:
an unconfirmed message, never answered); any other message type number is
answered MessageTypeNotSupported.

``ERROR_CODES``: the twelve codes of section 4.3, the same as 2.0.1's, each spelled
as itself.
"""

from typing import Final

from ..error_codes import ErrorCodes
from ..errors import ErrorCode
from ..frames import BASIC_MESSAGE_TYPES, MessageType

__all__ = ["ERROR_CODES", "MESSAGE_TYPES"]

#: The message type numbers OCPP-J 2.1 allows.
MESSAGE_TYPES: Final = BASIC_MESSAGE_TYPES | {MessageType.CALLRESULTERROR, MessageType.SEND}

#: The CALLERROR (and CALLRESULTERROR) codes of OCPP-J 2.1.
ERROR_CODES: Final = ErrorCodes.of({code: code.value for code in ErrorCode})
