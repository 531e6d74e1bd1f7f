"""Which OCPP 1.6 actions each side initiates, as the CSMS sees them.

The direction table itself is data on the protocol version (:data:`fleet.ocpp.V16`);
the rest of :mod:`fleet.actors.csms.v16` imports these two sets from here.
"""

from __future__ import annotations

from typing import Final

from ....ocpp import V16

__all__ = ["CSMS_ACTIONS", "STATION_ACTIONS"]

#: The OCPP 1.6 messages a charge point sends (the CSMS receives them): 10 of the
#: Core and Firmware Management profiles, 4 of the Security Extension.
STATION_ACTIONS: Final = V16.initiated_by_station
#: The OCPP 1.6 messages the CSMS sends (DataTransfer goes both ways).
CSMS_ACTIONS: Final = V16.initiated_by_csms
