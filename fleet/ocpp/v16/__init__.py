"""OCPP 1.6 (JSON): typed payloads of all 39 actions and their codec.

The 28 actions of the Core, Firmware Management, Local Auth List Management,
Reservation, Smart Charging and Remote Trigger profiles, and the 11 of the Security
Extension. Same shape as :mod:`fleet.ocpp.v201` (see its docstring): ``ACTIONS``,
``ACTION_OF``, ``request_decoder``, ``response_decoder``, ``ENCODER``,
``INITIATED_BY_STATION``, ``INITIATED_BY_CSMS``, ``MESSAGE_TYPES``, ``ERROR_CODES``.
``fleet.ocpp.versions`` wraps it as ``V16`` (subprotocol ``ocpp1.6``).

The payload types are generated into :mod:`.messages` from the official 1.6 JSON
schemas; the 1.6 specification's type names are used for what those schemas nest
inline (``IdTagInfo``, ``MeterValue``, ``SampledValue``, ``ChargingProfile``,
``AuthorizationStatus``, ...). 1.6 has no ``customData``. Its CALLERROR codes are
1.6's own (``FormationViolation``, ``OccurenceConstraintViolation``; see
:mod:`.rpc_framework`).

Example::

    from fleet.ocpp import v16

    request = v16.request_decoder("StartTransaction").decode(payload_json)
    reply = v16.StartTransactionResponse(
        transaction_id=42, id_tag_info=v16.IdTagInfo(status=v16.AuthorizationStatus.ACCEPTED)
    )
    reply_json = v16.ENCODER.encode(reply)
"""

from typing import Final

from ..payload_codec import PayloadCodec
from . import messages
from .directions import INITIATED_BY_CSMS, INITIATED_BY_STATION
from .messages import *  # noqa: F403  (the generated payload types; see messages.__all__)
from .messages import ACTIONS
from .rpc_framework import ERROR_CODES, MESSAGE_TYPES

__all__ = [
    "ACTIONS",
    "ACTION_OF",
    "ENCODER",
    "ERROR_CODES",
    "INITIATED_BY_CSMS",
    "INITIATED_BY_STATION",
    "MESSAGE_TYPES",
    "request_decoder",
    "response_decoder",
]
__all__ += messages.__all__

#: The codec of every OCPP 1.6 payload.
_CODEC: Final = PayloadCodec(ACTIONS)
#: Request or response payload type -> its action name.
ACTION_OF: Final = _CODEC.action_of
#: The encoder of every OCPP 1.6 payload.
ENCODER: Final = _CODEC.encoder
#: ``request_decoder(action)``: the (cached) decoder of ``action``'s request payload; ``KeyError`` if unknown.
request_decoder: Final = _CODEC.request_decoder
#: ``response_decoder(action)``: the (cached) decoder of ``action``'s response payload; ``KeyError`` if unknown.
response_decoder: Final = _CODEC.response_decoder
