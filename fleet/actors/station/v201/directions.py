"""Which role initiates which OCPP 2.0.1 action (the direction tables), and the malformed
traffic of each direction (:func:`fleet.malformed.directions`).

The one place the station package (and chaos) read the tables from.
"""

from __future__ import annotations

from typing import Final

from ....malformed import Direction, directions

__all__ = ["CSMS_INITIATED", "STATION_INITIATED", "TO_CSMS", "TO_STATION"]

#: Actions the CSMS sends to a station (DataTransfer goes both ways).
CSMS_INITIATED = frozenset({
    "CancelReservation", "CertificateSigned", "ChangeAvailability", "ClearCache", "ClearChargingProfile",
    "ClearDisplayMessage", "ClearVariableMonitoring", "CostUpdated", "CustomerInformation", "DataTransfer",
    "DeleteCertificate", "GetBaseReport", "GetChargingProfiles", "GetCompositeSchedule", "GetDisplayMessages",
    "GetInstalledCertificateIds", "GetLocalListVersion", "GetLog", "GetMonitoringReport", "GetReport",
    "GetTransactionStatus", "GetVariables", "InstallCertificate", "PublishFirmware", "RequestStartTransaction",
    "RequestStopTransaction", "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile", "SetDisplayMessage",
    "SetMonitoringBase", "SetMonitoringLevel", "SetNetworkProfile", "SetVariableMonitoring", "SetVariables",
    "TriggerMessage", "UnlockConnector", "UnpublishFirmware", "UpdateFirmware",
})
#: Actions a station sends to the CSMS.
STATION_INITIATED = frozenset({
    "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer", "FirmwareStatusNotification",
    "Get15118EVCertificate", "GetCertificateStatus", "Heartbeat", "LogStatusNotification", "MeterValues",
    "NotifyChargingLimit", "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
    "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
    "PublishFirmwareStatusNotification", "ReportChargingProfiles", "ReservationStatusUpdate",
    "SecurityEventNotification", "SignCertificate", "StatusNotification", "TransactionEvent",
})

_TRAFFIC = directions(CSMS_INITIATED, STATION_INITIATED)
#: Malformed traffic towards a CSMS (the receiver takes station-initiated requests).
TO_CSMS: Final[Direction] = _TRAFFIC[0]
#: Malformed traffic towards a station.
TO_STATION: Final[Direction] = _TRAFFIC[1]
