"""Which role initiates which OCPP 1.6 action (the direction tables of :data:`fleet.ocpp.V16`), and the
malformed traffic of each direction (:func:`fleet.malformed.directions`)."""

from __future__ import annotations

from typing import Final

from ....malformed import Direction, directions
from ....ocpp import V16

__all__ = ["CSMS_INITIATED", "STATION_INITIATED", "TO_CSMS", "TO_STATION"]

#: Actions the CSMS sends to a station (DataTransfer goes both ways).
CSMS_INITIATED = V16.initiated_by_csms
#: Actions a station sends to the CSMS.
STATION_INITIATED = V16.initiated_by_station

_TRAFFIC = directions(V16)
#: Malformed traffic towards a CSMS (the receiver takes station-initiated requests).
TO_CSMS: Final[Direction] = _TRAFFIC[0]
#: Malformed traffic towards a station.
TO_STATION: Final[Direction] = _TRAFFIC[1]
