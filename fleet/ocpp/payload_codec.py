"""The codec of one OCPP version's payloads, built from its generated action table.

Every version package (:mod:`fleet.ocpp.v16`, :mod:`fleet.ocpp.v201`,
:mod:`fleet.ocpp.v21`) makes one :class:`PayloadCodec` and exports its parts under
the names the package shape prescribes (``ACTION_OF``, ``ENCODER``,
``request_decoder``, ``response_decoder``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import msgspec

__all__ = ["PayloadCodec"]


class PayloadCodec:
    """Decoders (made once per action, on first use), the encoder and type -> action.

    Args:
        actions: action name -> (request type, response type).
        sends: the version's unconfirmed messages (OCPP-J SEND): action -> payload type;
            they decode with :meth:`request_decoder` and have no response.
        dec_hook, enc_hook: msgspec hooks for types msgspec does not know (``CustomData``).
    """

    def __init__(
        self,
        actions: Mapping[str, tuple[type[msgspec.Struct], type[msgspec.Struct]]],
        *,
        sends: Mapping[str, type[msgspec.Struct]] | None = None,
        dec_hook: Callable[[type, Any], Any] | None = None,
        enc_hook: Callable[[Any], Any] | None = None,
    ) -> None:
        sends = sends or {}
        #: request, response or SEND payload type -> its action name
        self.action_of: Mapping[type[msgspec.Struct], str] = MappingProxyType(
            {payload_type: action for action, pair in actions.items() for payload_type in pair}
            | {payload_type: action for action, payload_type in sends.items()}
        )
        #: the encoder of every payload of the version
        self.encoder = msgspec.json.Encoder(enc_hook=enc_hook)
        first: dict[str, type[msgspec.Struct]] = {action: pair[0] for action, pair in actions.items()}
        first.update(sends)
        answers = {action: pair[1] for action, pair in actions.items()}
        requests: dict[str, msgspec.json.Decoder[msgspec.Struct]] = {}
        responses: dict[str, msgspec.json.Decoder[msgspec.Struct]] = {}

        # Closures rather than methods: looked up once per message, a closure's cells are
        # the cheapest way to its dictionaries.
        def request_decoder(action: str) -> msgspec.json.Decoder[msgspec.Struct]:
            """The (cached) decoder of ``action``'s request (or SEND) payload; ``KeyError`` if unknown."""
            decoder = requests.get(action)
            if decoder is None:
                decoder = requests[action] = msgspec.json.Decoder(first[action], dec_hook=dec_hook)
            return decoder

        def response_decoder(action: str) -> msgspec.json.Decoder[msgspec.Struct]:
            """The (cached) decoder of ``action``'s response payload; ``KeyError`` if unknown (or a SEND)."""
            decoder = responses.get(action)
            if decoder is None:
                decoder = responses[action] = msgspec.json.Decoder(answers[action], dec_hook=dec_hook)
            return decoder

        #: ``request_decoder(action)``
        self.request_decoder: Callable[[str], msgspec.json.Decoder[msgspec.Struct]] = request_decoder
        #: ``response_decoder(action)``
        self.response_decoder: Callable[[str], msgspec.json.Decoder[msgspec.Struct]] = response_decoder
