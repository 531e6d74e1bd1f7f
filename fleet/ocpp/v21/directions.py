"""Which role initiates each OCPP 2.1 action (part 2 of the specification, hand-written).

The 64 actions of 2.0.1 keep their direction; the 26 new ones are placed by the use
cases that send them (e.g. "the CSMS sends a SetDefaultTariffRequest to the Charging
Station", "the Charging Station sends a PullDynamicScheduleUpdateRequest to CSMS").
NotifyPeriodicEventStream, the one SEND message, goes from the station to the CSMS.
DataTransfer, the only action both roles send, is in both sets.
"""

from typing import Final

from ..v201.directions import INITIATED_BY_CSMS as _CSMS_201
from ..v201.directions import INITIATED_BY_STATION as _STATION_201

__all__ = ["INITIATED_BY_CSMS", "INITIATED_BY_STATION"]

#: The requests (and SEND messages) a charging station sends to the CSMS.
INITIATED_BY_STATION: Final = _STATION_201 | {
    "BatterySwap", "ClosePeriodicEventStream", "GetCertificateChainStatus", "NotifyDERAlarm", "NotifyDERStartStop",
    "NotifyPeriodicEventStream", "NotifyPriorityCharging", "NotifySettlement", "OpenPeriodicEventStream",
    "PullDynamicScheduleUpdate", "ReportDERControl", "VatNumberValidation",
}  # fmt: skip

#: The requests the CSMS sends to a charging station.
INITIATED_BY_CSMS: Final = _CSMS_201 | {
    "AFRRSignal", "AdjustPeriodicEventStream", "ChangeTransactionTariff", "ClearDERControl", "ClearTariffs",
    "GetDERControl", "GetPeriodicEventStream", "GetTariffs", "NotifyAllowedEnergyTransfer", "NotifyWebPaymentStarted",
    "RequestBatterySwap", "SetDERControl", "SetDefaultTariff", "UpdateDynamicSchedule", "UsePriorityCharging",
}  # fmt: skip
