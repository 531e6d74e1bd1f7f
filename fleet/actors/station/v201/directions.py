"""Which role initiates which OCPP 2.0.1 action (the direction tables of :data:`fleet.ocpp.V201`), and the malformed
traffic of each direction (:func:`fleet.malformed.directions`).

The one place the station package (and chaos) read the tables from.
"""

from __future__ import annotations

from typing import Final

from ....malformed import Direction, directions
from ....ocpp import V201

__all__ = ["CSMS_INITIATED", "STATION_INITIATED", "TO_CSMS", "TO_STATION"]

#: Actions the CSMS sends to a station (DataTransfer goes both ways): the version's data.
CSMS_INITIATED = V201.initiated_by_csms
#: Actions a station sends to the CSMS.
STATION_INITIATED = V201.initiated_by_station

_TRAFFIC = directions(V201)
#: Malformed traffic towards a CSMS (the receiver takes station-initiated requests).
TO_CSMS: Final[Direction] = _TRAFFIC[0]
#: Malformed traffic towards a station.
TO_STATION: Final[Direction] = _TRAFFIC[1]
