"""Which OCPP 2.0.1 actions each side initiates, as the CSMS sees them.

The only place the CSMS's 2.0.1 dialect takes the direction table from: the rest of
:mod:`fleet.actors.csms.v201` imports these two sets from here.
"""

from __future__ import annotations

from typing import Final

from ....ocpp.v201 import ACTIONS

__all__ = ["CSMS_ACTIONS", "STATION_ACTIONS"]

#: The OCPP 2.0.1 messages a charging station sends (the CSMS receives them).
STATION_ACTIONS: Final = frozenset(
    {
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "DataTransfer",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "SignCertificate",
        "StatusNotification",
        "TransactionEvent",
    }
)
#: The OCPP 2.0.1 messages the CSMS sends (DataTransfer goes both ways).
CSMS_ACTIONS: Final = frozenset(set(ACTIONS) - STATION_ACTIONS | {"DataTransfer"})
