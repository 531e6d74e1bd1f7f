"""The OCPP versions fleet speaks, selected by websocket subprotocol.

Each version is a package beside ``fleet.ocpp.v201`` with the same shape
(``ACTIONS``, ``ACTION_OF``, ``request_decoder``, ``response_decoder``,
``ENCODER``); this module wraps each in a :class:`ProtocolVersion` and keys them by
the subprotocol name of the OCPP-J handshake (``ocpp2.0.1``; later ``ocpp2.1``,
``ocpp1.6``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import msgspec

from . import v201

__all__ = ["V201", "VERSIONS", "ProtocolVersion", "select_subprotocol"]


@dataclass(frozen=True, slots=True)
class ProtocolVersion:
    """One OCPP version: its names and its typed codec.

    Attributes:
        name: the version as people write it, e.g. ``"2.0.1"``.
        subprotocol: the websocket subprotocol that selects it, e.g. ``"ocpp2.0.1"``.
        actions: action name -> (request Struct type, response Struct type).
        action_of: request or response Struct type -> action name.
        request_decoder: action name -> the (cached) decoder of its request payload.
        response_decoder: action name -> the (cached) decoder of its response payload.
        encoder: the encoder for every payload of this version.
    """

    name: str
    subprotocol: str
    actions: Mapping[str, tuple[type[Any], type[Any]]]
    action_of: Mapping[type[Any], str]
    request_decoder: Callable[[str], msgspec.json.Decoder[Any]]
    response_decoder: Callable[[str], msgspec.json.Decoder[Any]]
    encoder: msgspec.json.Encoder


V201 = ProtocolVersion(
    name="2.0.1",
    subprotocol="ocpp2.0.1",
    actions=v201.ACTIONS,
    action_of=v201.ACTION_OF,
    request_decoder=v201.request_decoder,
    response_decoder=v201.response_decoder,
    encoder=v201.ENCODER,
)

#: Every supported version, by websocket subprotocol, in order of preference.
VERSIONS: Mapping[str, ProtocolVersion] = MappingProxyType({V201.subprotocol: V201})


def select_subprotocol(offered: list[str] | tuple[str, ...]) -> ProtocolVersion | None:
    """The first of our versions (in our order of preference) the client offered, or ``None``."""
    for subprotocol, version in VERSIONS.items():
        if subprotocol in offered:
            return version
    return None
