"""Which role initiates each OCPP 1.6 action (hand-written from the specification).

OCPP 1.6 edition 2, section 4 (operations initiated by the charge point) and section
5 (by the central system), and the Security Extension (edition 3) for its eleven
actions. DataTransfer, the only action both roles send, is in both sets.
"""

from typing import Final

__all__ = ["INITIATED_BY_CSMS", "INITIATED_BY_STATION"]

#: The requests a charge point sends to the central system.
INITIATED_BY_STATION: Final = frozenset({
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
    "Heartbeat", "MeterValues", "StartTransaction", "StatusNotification", "StopTransaction",
    # Security Extension
    "LogStatusNotification", "SecurityEventNotification", "SignCertificate", "SignedFirmwareStatusNotification",
})

#: The requests the central system sends to a charge point.
INITIATED_BY_CSMS: Final = frozenset({
    "CancelReservation", "ChangeAvailability", "ChangeConfiguration", "ClearCache", "ClearChargingProfile",
    "DataTransfer", "GetCompositeSchedule", "GetConfiguration", "GetDiagnostics", "GetLocalListVersion",
    "RemoteStartTransaction", "RemoteStopTransaction", "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile",
    "TriggerMessage", "UnlockConnector", "UpdateFirmware",
    # Security Extension
    "CertificateSigned", "DeleteCertificate", "ExtendedTriggerMessage", "GetInstalledCertificateIds", "GetLog",
    "InstallCertificate", "SignedUpdateFirmware",
})
