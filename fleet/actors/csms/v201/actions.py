"""Which OCPP 2.0.1 actions each side initiates, as the CSMS sees them.

The direction table itself is data on the protocol version (:data:`fleet.ocpp.V201`);
the rest of :mod:`fleet.actors.csms.v201` imports these two sets from here.
"""

from __future__ import annotations

from typing import Final

from ....ocpp import V201

__all__ = ["CSMS_ACTIONS", "STATION_ACTIONS"]

#: The OCPP 2.0.1 messages a charging station sends (the CSMS receives them).
STATION_ACTIONS: Final = V201.initiated_by_station
#: The OCPP 2.0.1 messages the CSMS sends (DataTransfer goes both ways).
CSMS_ACTIONS: Final = V201.initiated_by_csms
