"""The OCPP-J 2.0.1 RPC framework as data (part 4 of the specification, hand-written).

``MESSAGE_TYPES``: CALL (2), CALLRESULT (3) and CALLERROR (4); any other message
type number is answered MessageTypeNotSupported.

``ERROR_CODES``: the twelve CALLERROR codes of section 4.3. fleet's meanings
(:class:`~fleet.ocpp.errors.ErrorCode`) are named after them, so each is spelled as
itself and none needs a fallback.
"""

from typing import Final

from ..error_codes import ErrorCodes
from ..errors import ErrorCode
from ..frames import BASIC_MESSAGE_TYPES

__all__ = ["ERROR_CODES", "MESSAGE_TYPES"]

#: The message type numbers OCPP-J 2.0.1 allows.
MESSAGE_TYPES: Final = BASIC_MESSAGE_TYPES

#: The CALLERROR codes of OCPP-J 2.0.1.
ERROR_CODES: Final = ErrorCodes.of({code: code.value for code in ErrorCode})
