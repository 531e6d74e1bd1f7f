"""Application-level events that actors publish to their subscribers.

These are what a user of the Python API, the control API or the dashboard sees:
a station connecting or going away, and every OCPP request and response with the
station, direction, version, message id and action (the reference's ``msg.ocpp``).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = ["Connected", "Direction", "Disconnected", "FleetEvent", "MessageKind", "OcppMessage"]

#: ``"in"`` for frames received by the actor publishing the event, ``"out"`` for frames it sent.
Direction = Literal["in", "out"]
MessageKind = Literal["request", "response", "error"]


class Connected(msgspec.Struct, frozen=True, tag=True):
    """A station's websocket is up.

    Attributes:
        station_id: the station.
        ocpp_version: the negotiated version, e.g. ``"2.0.1"``.
        at: wall-clock time (seconds since the epoch).
    """

    station_id: str
    ocpp_version: str
    at: float


class Disconnected(msgspec.Struct, frozen=True, tag=True):
    """A station's websocket is gone.

    Attributes:
        station_id: the station.
        reason: why, as far as is known (close code and reason, or the error).
        at: wall-clock time (seconds since the epoch).
    """

    station_id: str
    reason: str
    at: float


class OcppMessage(msgspec.Struct, frozen=True, tag=True):
    """One OCPP request, response or error that crossed a connection.

    Attributes:
        station_id: the station at the other end (or this station, for a station actor).
        direction: ``"in"`` (received by the publisher) or ``"out"`` (sent by it).
        kind: ``"request"`` (CALL), ``"response"`` (CALLRESULT) or ``"error"`` (CALLERROR).
        ocpp_version: e.g. ``"2.0.1"``.
        message_id: the OCPP message id.
        action: the action of the request (for answers, the action they answer).
        payload: the decoded payload Struct (requests and responses), or for errors a
            dict with ``code``, ``description``, ``details`` and ``callerror`` (whether the
            peer answered with a CALLERROR, rather than a timeout or a lost connection).
        tag: the opaque tag the caller attached to its request, on the answer to it.
        at: wall-clock time (seconds since the epoch).
    """

    station_id: str
    direction: Direction
    kind: MessageKind
    ocpp_version: str
    message_id: str
    action: str
    payload: Any
    tag: Any = None
    at: float = 0.0

    @property
    def topic(self) -> str:
        """``<stationId>/Request`` or ``<stationId>/Response``, as the reference names them."""
        return f"{self.station_id}/{'Request' if self.kind == 'request' else 'Response'}"


FleetEvent = Connected | Disconnected | OcppMessage
