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

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import msgspec

from ..customdata import CustomData, dec_hook, enc_hook
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

#: Request, response or SEND payload type -> its action name.
ACTION_OF: Final[Mapping[type[msgspec.Struct], str]] = MappingProxyType(
    {payload_type: action for action, pair in ACTIONS.items() for payload_type in pair}
    | {payload_type: action for action, payload_type in SEND_ACTIONS.items()}
)

#: The encoder of every OCPP 2.1 payload (knows how to write ``CustomData``).
ENCODER: Final = msgspec.json.Encoder(enc_hook=enc_hook)

#: The payload type a peer sends first for each action: the request, or the SEND message.
_FIRST: Final[Mapping[str, type[msgspec.Struct]]] = {
    action: pair[0] for action, pair in ACTIONS.items()
} | dict(SEND_ACTIONS)
_request_decoders: dict[str, msgspec.json.Decoder[msgspec.Struct]] = {}
_response_decoders: dict[str, msgspec.json.Decoder[msgspec.Struct]] = {}


def request_decoder(action: str) -> msgspec.json.Decoder[msgspec.Struct]:
    """The (cached) decoder of ``action``'s request (or SEND) payload; ``KeyError`` if unknown."""
    decoder = _request_decoders.get(action)
    if decoder is None:
        decoder = msgspec.json.Decoder(_FIRST[action], dec_hook=dec_hook)
        _request_decoders[action] = decoder
    return decoder


def response_decoder(action: str) -> msgspec.json.Decoder[msgspec.Struct]:
    """The (cached) decoder of ``action``'s response payload; ``KeyError`` if unknown (or a SEND action)."""
    decoder = _response_decoders.get(action)
    if decoder is None:
        decoder = msgspec.json.Decoder(ACTIONS[action][1], dec_hook=dec_hook)
        _response_decoders[action] = decoder
    return decoder
