"""OCPP 2.1: typed payloads of all 90 actions and the SEND message, and their codec.

Same shape as :mod:`fleet.ocpp.v201` (see its docstring): ``ACTIONS``, ``ACTION_OF``,
``request_decoder``, ``response_decoder``, ``ENCODER``, ``INITIATED_BY_STATION``,
``INITIATED_BY_CSMS``, ``MESSAGE_TYPES``, ``ERROR_CODES``; plus

``SEND_ACTIONS: Mapping[str, type[Struct]]``
    The unconfirmed messages (OCPP-J SEND, message type 6, never answered): action
    name -> payload type; only ``NotifyPeriodicEventStream``. Their payloads decode
    with ``request_decoder`` too, and ``ACTION_OF`` knows their types.

``fleet.ocpp.versions`` wraps it as ``V21`` (subprotocol ``ocpp2.1``). The payload
types are generated into :mod:`.messages` from the official 2.1 schemas; they are
2.1's own (2.1 lengthens limits, e.g. idToken 36 -> 255, and changes a few fields),
never 2.0.1's.
"""

from typing import Final

from ..customdata import CustomData, dec_hook, enc_hook
from ..payload_codec import PayloadCodec
from . import messages
from .directions import INITIATED_BY_CSMS, INITIATED_BY_STATION
from .messages import *  # noqa: F403  (the generated payload types; see messages.__all__)
from .messages import ACTIONS, SEND_ACTIONS
from .rpc_framework import ERROR_CODES, MESSAGE_TYPES

__all__ = [
    "ACTIONS",
    "ACTION_OF",
    "ENCODER",
    "ERROR_CODES",
    "INITIATED_BY_CSMS",
    "INITIATED_BY_STATION",
    "MESSAGE_TYPES",
    "SEND_ACTIONS",
    "CustomData",
    "request_decoder",
    "response_decoder",
]
__all__ += messages.__all__

#: The codec of every OCPP 2.1 payload (its encoder and decoders know how to write and read ``CustomData``).
_CODEC: Final = PayloadCodec(ACTIONS, sends=SEND_ACTIONS, dec_hook=dec_hook, enc_hook=enc_hook)
#: Request, response or SEND payload type -> its action name.
ACTION_OF: Final = _CODEC.action_of
#: The encoder of every OCPP 2.1 payload.
ENCODER: Final = _CODEC.encoder
#: ``request_decoder(action)``: the (cached) decoder of ``action``'s request (or SEND) payload; ``KeyError`` if unknown.
request_decoder: Final = _CODEC.request_decoder
#: ``response_decoder(action)``: the (cached) decoder of ``action``'s response payload; ``KeyError`` if unknown.
response_decoder: Final = _CODEC.response_decoder
