"""The one station stand-in the control tests still need.

Every control command is tested against real stations (:class:`fleet.actors.station.Station`)
talking to the real built-in CSMS, and its effect is checked on the CSMS side. One case is
out of a real station's reach: the backend turning a ``LookupError`` raised by a station's
command into a ``not_found`` error reply. A real station reports an EVSE it lacks with
``ValueError`` (``bad_request``) and a station that no longer runs with ``RuntimeError``
(``conflict``), both tested with real stations; none of its commands raises ``LookupError``.
"""

from __future__ import annotations


class LookupFailingStation:
    """A station whose ``plug`` fails with ``KeyError`` (a ``LookupError``), as a station
    implementation may for an unknown EVSE."""

    def __init__(self, station_id: str) -> None:
        self.id = station_id

    async def plug(self, evse_id: int = 1, connector_id: int = 1) -> None:
        raise KeyError(f"{self.id} has no EVSE {evse_id}")
