"""Which OCPP 2.1 actions each side initiates, as the CSMS sees them (data on :data:`fleet.ocpp.V21`)."""

from __future__ import annotations

from typing import Final

from ....ocpp import V21

__all__ = ["CSMS_ACTIONS", "STATION_ACTIONS"]

#: The OCPP 2.1 messages a charging station sends (CALLs, and the SEND NotifyPeriodicEventStream).
STATION_ACTIONS: Final = V21.initiated_by_station
#: The OCPP 2.1 messages the CSMS sends (DataTransfer goes both ways).
CSMS_ACTIONS: Final = V21.initiated_by_csms
