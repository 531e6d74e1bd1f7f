"""OCPP 2.0.1: typed payloads of all 64 actions and their codec.

Everything version-specific lives in this package; ``fleet.ocpp.versions`` selects it
by the websocket subprotocol ``ocpp2.0.1``. Future versions (``fleet.ocpp.v21``,
``fleet.ocpp.v16``) are sibling packages with the same shape:

``ACTIONS: Mapping[str, tuple[type[Struct], type[Struct]]]``
    Action name -> (request type, response type), read-only, e.g.
    ``ACTIONS["BootNotification"] == (BootNotificationRequest, BootNotificationResponse)``.
``ACTION_OF: Mapping[type[Struct], str]``
    Request or response type -> its action name.
``request_decoder(action: str) -> msgspec.json.Decoder[Struct]``
``response_decoder(action: str) -> msgspec.json.Decoder[Struct]``
    The decoder of an action's request / response payload (the 3rd / 4th element of
    an OCPP-J CALL / the 3rd of a CALLRESULT), built on first use and cached.
    ``decode(buf)`` returns the payload Struct or raises ``msgspec.ValidationError``
    (schema violation, with the JSON path) or ``msgspec.DecodeError`` (bad JSON).
    An unknown action raises ``KeyError``.
``ENCODER: msgspec.json.Encoder``
    Encodes any payload (or a whole frame containing one) to JSON bytes.
``INITIATED_BY_STATION`` / ``INITIATED_BY_CSMS: frozenset[str]``
    The actions each role sends (hand-written from part 2, in :mod:`.directions`).
``MESSAGE_TYPES: frozenset[int]`` / ``ERROR_CODES: ErrorCodes``
    The OCPP-J message types the version allows and its CALLERROR codes (hand-written
    from part 4, in :mod:`.rpc_framework`).

The payload types themselves (``BootNotificationRequest``, ``ChargingStation``,
``BootReason``, ...) are generated into :mod:`.messages`; see its docstring for the
conventions. ``customData`` values are :class:`~fleet.ocpp.customdata.CustomData`,
whose extra vendor properties survive a decode/encode round trip because the
decoders and the encoder here carry the hooks of :mod:`fleet.ocpp.customdata`.
Always use them rather than bare ``msgspec.json.decode`` / ``encode``.

Example::

    from fleet.ocpp import v201

    request = v201.request_decoder("BootNotification").decode(payload_json)
    reply = v201.BootNotificationResponse(
        current_time=now, interval=300, status=v201.RegistrationStatus.ACCEPTED
    )
    reply_json = v201.ENCODER.encode(reply)
"""

from typing import Final

from ..customdata import CustomData, dec_hook, enc_hook
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
    "CustomData",
    "request_decoder",
    "response_decoder",
]
__all__ += messages.__all__

#: The codec of every OCPP 2.0.1 payload (its encoder and decoders know how to write and read ``CustomData``).
_CODEC: Final = PayloadCodec(ACTIONS, dec_hook=dec_hook, enc_hook=enc_hook)
#: Request or response payload type -> its action name.
ACTION_OF: Final = _CODEC.action_of
#: The encoder of every OCPP 2.0.1 payload.
ENCODER: Final = _CODEC.encoder
#: ``request_decoder(action)``: the (cached) decoder of ``action``'s request payload; ``KeyError`` if unknown.
request_decoder: Final = _CODEC.request_decoder
#: ``response_decoder(action)``: the (cached) decoder of ``action``'s response payload; ``KeyError`` if unknown.
response_decoder: Final = _CODEC.response_decoder
