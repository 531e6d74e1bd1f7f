"""The OCPP versions fleet speaks: everything version-specific, as data.

Each version is a package beside ``fleet.ocpp.v201`` with the same shape
(``ACTIONS``, ``ACTION_OF``, ``request_decoder``, ``response_decoder``,
``ENCODER``, ``INITIATED_BY_STATION``, ``INITIATED_BY_CSMS``, ``MESSAGE_TYPES``,
``ERROR_CODES``); this module wraps each in a :class:`ProtocolVersion` and
registers it:

* :data:`VERSIONS`: by the subprotocol name of the OCPP-J handshake (``ocpp2.0.1``;
  later ``ocpp2.1``, ``ocpp1.6``), in order of preference: a CSMS selects the first
  one a station offers (:func:`select_subprotocol`);
* :data:`VERSIONS_BY_NAME`: by the version as people write it (``"2.0.1"``), as a
  station profile's ``ocpp_version`` names it; a station offers exactly its
  version's subprotocol.

:data:`VERSIONS` lists what stations and the CSMS speak (a version joins it with its
station and CSMS dialects). :data:`PROTOCOLS` lists every version the protocol core
can encode, decode and run a session for, by name: also :data:`V16` (OCPP 1.6J)
and :data:`V21` (OCPP 2.1, with OCPP-J 2.1's SEND and CALLRESULTERROR), whose
dialects are still to come.

The session reads all it needs from its version: the codec, the frames it accepts
(``message_types``), how it spells its CALLERROR codes (``error_codes``); nothing in
the core branches on a version's name. Adding a version is one package and one line
in :data:`VERSIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any, Literal

import msgspec

from . import v16, v21, v201
from .error_codes import ErrorCodes
from .frames import BASIC_MESSAGE_TYPES, frame_decoder

__all__ = [
    "PROTOCOLS",
    "V16",
    "V21",
    "V201",
    "VERSIONS",
    "VERSIONS_BY_NAME",
    "ProtocolVersion",
    "Role",
    "select_subprotocol",
]

#: The two ends of an OCPP connection.
Role = Literal["station", "csms"]


@dataclass(frozen=True, slots=True)
class ProtocolVersion:
    """One OCPP version: its names, its codec, its RPC framework and who sends what.

    Attributes:
        name: the version as people write it, e.g. ``"2.0.1"``.
        subprotocol: the websocket subprotocol that selects it, e.g. ``"ocpp2.0.1"``.
        actions: action name -> (request Struct type, response Struct type).
        action_of: request or response Struct type -> action name.
        request_decoder: action name -> the (cached) decoder of its request payload.
        response_decoder: action name -> the (cached) decoder of its response payload.
        encoder: the encoder for every payload of this version.
        initiated_by_station: the actions a charging station sends.
        initiated_by_csms: the actions the CSMS sends (every action is in one of the
            two sets; an action both send, like DataTransfer, is in both).
        message_types: the OCPP-J message type numbers it allows (2, 3 and 4 in
            every version); a frame of any other type is answered as unsupported.
        error_codes: its CALLERROR codes and how it spells each meaning.
        send_actions: the unconfirmed messages (OCPP-J 2.1 SEND, never answered):
            action name -> payload type, decoded by ``request_decoder``; none
            before 2.1. The direction tables cover them too.
        frame_decoder: the decoder of exactly the frames of ``message_types``
            (derived, not given).

    Raises:
        ValueError: the direction tables do not cover exactly the actions, or the
            message types lack one of 2, 3 and 4 or name one no frame exists for.
    """

    name: str
    subprotocol: str
    actions: Mapping[str, tuple[type[Any], type[Any]]]
    action_of: Mapping[type[Any], str]
    request_decoder: Callable[[str], msgspec.json.Decoder[Any]]
    response_decoder: Callable[[str], msgspec.json.Decoder[Any]]
    encoder: msgspec.json.Encoder
    initiated_by_station: frozenset[str]
    initiated_by_csms: frozenset[str]
    message_types: frozenset[int]
    error_codes: ErrorCodes
    send_actions: Mapping[str, type[Any]] = field(default_factory=lambda: MappingProxyType({}))
    frame_decoder: msgspec.json.Decoder[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        initiated = self.initiated_by_station | self.initiated_by_csms
        known = set(self.actions) | set(self.send_actions)
        if initiated != known or set(self.actions) & set(self.send_actions):
            stray = sorted(initiated - known)
            unsent = sorted(known - initiated)
            raise ValueError(f"OCPP {self.name}: direction tables name unknown actions {stray} or miss {unsent}")
        if not self.message_types >= BASIC_MESSAGE_TYPES:
            raise ValueError(f"OCPP {self.name}: message types {sorted(self.message_types)} lack CALL, CALLRESULT or CALLERROR")
        object.__setattr__(self, "frame_decoder", frame_decoder(self.message_types))

    def initiated_by(self, role: Role) -> frozenset[str]:
        """The actions ``role`` sends (its peer receives them)."""
        return self.initiated_by_station if role == "station" else self.initiated_by_csms


def _of_package(
    name: str, package: ModuleType, send_actions: Mapping[str, type[Any]] = MappingProxyType({})
) -> ProtocolVersion:
    """The :class:`ProtocolVersion` of a generated version package (every one has the same
    shape: ``ACTIONS``, ``ACTION_OF``, the decoders, ``ENCODER``, the direction tables,
    ``MESSAGE_TYPES``, ``ERROR_CODES``) and of its SEND messages, if it has any."""
    return ProtocolVersion(
        name=name,
        subprotocol=f"ocpp{name}",
        actions=package.ACTIONS,
        action_of=package.ACTION_OF,
        request_decoder=package.request_decoder,
        response_decoder=package.response_decoder,
        encoder=package.ENCODER,
        initiated_by_station=package.INITIATED_BY_STATION,
        initiated_by_csms=package.INITIATED_BY_CSMS,
        message_types=package.MESSAGE_TYPES,
        error_codes=package.ERROR_CODES,
        send_actions=send_actions,
    )


V16 = _of_package("1.6", v16)
V201 = _of_package("2.0.1", v201)
V21 = _of_package("2.1", v21, v21.SEND_ACTIONS)

#: Every version the protocol core speaks (codec and session), by name, oldest first;
#: a superset of :data:`VERSIONS_BY_NAME`.
PROTOCOLS: Mapping[str, ProtocolVersion] = MappingProxyType({v.name: v for v in (V16, V201, V21)})

#: Every supported version, by websocket subprotocol, in order of preference.
VERSIONS: Mapping[str, ProtocolVersion] = MappingProxyType({v.subprotocol: v for v in (V21, V201, V16)})

#: Every supported version, by name (``"2.0.1"``), in the same order.
VERSIONS_BY_NAME: Mapping[str, ProtocolVersion] = MappingProxyType({v.name: v for v in VERSIONS.values()})


def select_subprotocol(offered: list[str] | tuple[str, ...]) -> ProtocolVersion | None:
    """The first of our versions (in our order of preference) the client offered, or ``None``."""
    for subprotocol, version in VERSIONS.items():
        if subprotocol in offered:
            return version
    return None
