"""What the CSMS needs of an OCPP version: the :class:`CsmsDialect` protocol.

A dialect is one OCPP version as the CSMS speaks it: the version's codec and
subprotocol, which actions each side initiates, the default answer to each action a
station initiates, and how the CSMS records those messages into its version-free
records (:mod:`fleet.actors.csms.records`). Each version is a package beside
:mod:`fleet.actors.csms.v201` registered once in :mod:`fleet.actors.csms.dialects`;
the CSMS picks the dialect of each connection from its negotiated subprotocol.

:func:`decode_request` turns an action and a JSON-like payload into the typed
request of a CALL the CSMS may send in a dialect (for the control layer, which gets
payloads as JSON).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import msgspec

from ...net.connection import Handler
from ...ocpp import ProtocolVersion
from .policy import CsmsPolicy
from .records import StationState

__all__ = [
    "AnswerRecorder",
    "CsmsDialect",
    "DialectTables",
    "InvalidRequest",
    "Recorder",
    "RequestError",
    "UnknownAction",
    "decode_request",
]

#: Records a station's request into its record.
Recorder = Callable[[StationState, Any], None]
#: Records the CSMS's answer into a station's record: ``record(state, response, request)``
#: (the request too: e.g. a 1.6 transaction is recorded once its answer names it).
AnswerRecorder = Callable[[StationState, Any, Any], None]


class CsmsDialect(Protocol):
    """One OCPP version as the CSMS speaks it."""

    @property
    def version(self) -> ProtocolVersion:
        """The version: its name, its websocket subprotocol, its codec."""
        ...

    @property
    def station_actions(self) -> frozenset[str]:
        """The actions a station initiates (the CSMS answers them)."""
        ...

    @property
    def csms_actions(self) -> frozenset[str]:
        """The actions the CSMS initiates (it may send them to a station)."""
        ...

    @property
    def recorders(self) -> Mapping[str, Recorder]:
        """Action -> ``record(state, request)``, run for each CALL of it before the handler answers."""
        ...

    @property
    def answer_recorders(self) -> Mapping[str, AnswerRecorder]:
        """Action -> ``record(state, response, request)``, run once the handler has answered (sync or async)."""
        ...

    def default_handlers(self, policy: CsmsPolicy) -> dict[str, Handler]:
        """One handler per action of :attr:`station_actions`, answering per ``policy`` (read at each CALL)."""
        ...

    @property
    def call_recorders(self) -> Mapping[str, AnswerRecorder]:
        """Action -> ``record(state, response, request)``, run when a station answers a CALL the CSMS sent."""
        ...


class DialectTables:
    """A :class:`CsmsDialect` made of a version's tables: its direction tables, its recorders
    and the factory of its default handlers. Each version package makes one (``DIALECT``);
    a version that extends another passes the other's tables where they are the same."""

    __slots__ = (
        "_handlers", "answer_recorders", "call_recorders", "csms_actions", "recorders", "station_actions", "version",
    )

    def __init__(
        self,
        version: ProtocolVersion,
        *,
        recorders: Mapping[str, Recorder],
        answer_recorders: Mapping[str, AnswerRecorder],
        handlers: Callable[[CsmsPolicy], dict[str, Handler]],
        call_recorders: Mapping[str, AnswerRecorder] | None = None,
    ) -> None:
        self.version = version
        self.station_actions: frozenset[str] = version.initiated_by_station
        self.csms_actions: frozenset[str] = version.initiated_by_csms
        self.recorders = recorders
        self.answer_recorders = answer_recorders
        self.call_recorders: Mapping[str, AnswerRecorder] = call_recorders or {}
        self._handlers = handlers

    def __repr__(self) -> str:
        return f"<CSMS dialect OCPP {self.version.name}>"

    def default_handlers(self, policy: CsmsPolicy) -> dict[str, Handler]:
        """One handler per action a station initiates, answering per ``policy``."""
        return self._handlers(policy)


class RequestError(ValueError):
    """A CALL the CSMS cannot send in a dialect (see :func:`decode_request`)."""


class UnknownAction(RequestError):
    """The action is not one the CSMS initiates in that version."""


class InvalidRequest(RequestError):
    """The payload is not a valid request of the action (the message gives the JSON path)."""


def decode_request(dialect: CsmsDialect, action: str, payload: Mapping[str, Any]) -> Any:
    """The request Struct of ``action`` in ``dialect``'s version, from its JSON-like ``payload``.

    Raises:
        UnknownAction: the CSMS does not initiate ``action`` in this version.
        InvalidRequest: ``payload`` does not validate.
    """
    if action not in dialect.csms_actions:
        raise UnknownAction(f"{action!r} is not a message the CSMS sends in OCPP {dialect.version.name}")
    try:
        return dialect.version.request_decoder(action).decode(msgspec.json.encode(payload))
    except (msgspec.ValidationError, msgspec.DecodeError, TypeError) as exc:
        raise InvalidRequest(f"invalid {action} request: {exc}") from None
