"""The 2.1 station's answers to every CSMS-initiated action: the 2.0.1 handlers (which
build their answers from the dialect's 2.1 payload types), and a fixed answer the
specification allows to each action 2.1 adds whose feature the station does not
simulate (yet, or on this station): Rejected, NotSupported or NoTariff.

V2X (:mod:`.v2x`: NotifyAllowedEnergyTransfer, and SetChargingProfile's setpoint check),
DER control (:mod:`.der`), tariffs (:mod:`.tariff_handlers`), periodic event streams
(:mod:`.event_stream_handlers`) and dynamic and priority charging
(:mod:`.dynamic_charging_handlers`), battery swapping (:mod:`.battery_swap`) and web
payment (:mod:`.web_payment`) are simulated on a station whose profile switches them on
(an EVSE's ``bidirectional``, ``[der]``, ``[local_cost]``, ``[event_streams]``,
``[dynamic_charging]``, ``[battery_swap]``, ``[web_payment]``); elsewhere the fixed
answers stand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ....ocpp.v21 import (
    AdjustPeriodicEventStreamResponse,
    AFRRSignalResponse,
    ChangeTransactionTariffResponse,
    ChargingProfileStatus,
    ClearDERControlResponse,
    ClearTariffsResponse,
    ClearTariffsResult,
    DERControlStatus,
    GenericStatus,
    GetDERControlResponse,
    GetPeriodicEventStreamResponse,
    GetTariffsResponse,
    NotifyAllowedEnergyTransferResponse,
    NotifyAllowedEnergyTransferStatus,
    NotifyWebPaymentStartedResponse,
    PriorityChargingStatus,
    RequestBatterySwapResponse,
    SetDefaultTariffResponse,
    SetDERControlResponse,
    StatusInfo,
    TariffChangeStatus,
    TariffClearStatus,
    TariffGetStatus,
    TariffSetStatus,
    UpdateDynamicScheduleResponse,
    UsePriorityChargingResponse,
)
from ..v201.handlers import HANDLERS as V201_HANDLERS
from ..v201.handlers import Handler
from .afrr import afrr_signal
from .battery_swap import battery_swap_on, request_battery_swap
from .der import clear_der_control, get_der_control, set_der_control
from .directions import CSMS_INITIATED
from .dynamic_charging_handlers import DYNAMIC_CHARGING_HANDLERS, dynamic_charging_on
from .event_stream_handlers import EVENT_STREAM_HANDLERS, MONITORING_HANDLERS, event_streams_on
from .tariff_handlers import TARIFF_HANDLERS, local_cost_on
from .v2x import notify_allowed_energy_transfer, set_charging_profile
from .web_payment import notify_web_payment_started, web_payment_on

if TYPE_CHECKING:
    from ..v201.dialect import V201Dialect
    from .dialect import V21Dialect

__all__ = ["HANDLERS", "NOT_SIMULATED"]

_NOT_SIMULATED_INFO: Final = StatusInfo(reason_code="UnsupportedRequest", additional_info="not simulated")


#: The fixed answers to the 2.1 actions whose feature is not simulated (yet).
NOT_SIMULATED: Final[Mapping[str, Any]] = MappingProxyType({
    "AFRRSignal": AFRRSignalResponse(status=GenericStatus.REJECTED, status_info=_NOT_SIMULATED_INFO),
    "AdjustPeriodicEventStream": AdjustPeriodicEventStreamResponse(status=GenericStatus.REJECTED, status_info=_NOT_SIMULATED_INFO),
    "ChangeTransactionTariff": ChangeTransactionTariffResponse(status=TariffChangeStatus.REJECTED, status_info=_NOT_SIMULATED_INFO),
    "ClearDERControl": ClearDERControlResponse(status=DERControlStatus.NOT_SUPPORTED, status_info=_NOT_SIMULATED_INFO),
    "ClearTariffs": ClearTariffsResponse(clear_tariffs_result=[ClearTariffsResult(status=TariffClearStatus.NO_TARIFF)]),
    "GetDERControl": GetDERControlResponse(status=DERControlStatus.NOT_SUPPORTED, status_info=_NOT_SIMULATED_INFO),
    "GetPeriodicEventStream": GetPeriodicEventStreamResponse(),
    "GetTariffs": GetTariffsResponse(status=TariffGetStatus.NO_TARIFF),
    "NotifyAllowedEnergyTransfer": NotifyAllowedEnergyTransferResponse(
        status=NotifyAllowedEnergyTransferStatus.REJECTED, status_info=_NOT_SIMULATED_INFO
    ),
    "NotifyWebPaymentStarted": NotifyWebPaymentStartedResponse(),
    "RequestBatterySwap": RequestBatterySwapResponse(status=GenericStatus.REJECTED, status_info=_NOT_SIMULATED_INFO),
    "SetDERControl": SetDERControlResponse(status=DERControlStatus.NOT_SUPPORTED, status_info=_NOT_SIMULATED_INFO),
    "SetDefaultTariff": SetDefaultTariffResponse(status=TariffSetStatus.REJECTED, status_info=_NOT_SIMULATED_INFO),
    "UpdateDynamicSchedule": UpdateDynamicScheduleResponse(status=ChargingProfileStatus.REJECTED, status_info=_NOT_SIMULATED_INFO),
    "UsePriorityCharging": UsePriorityChargingResponse(status=PriorityChargingStatus.NO_PROFILE, status_info=_NOT_SIMULATED_INFO),
})


def _fixed(response: Any) -> Handler:
    def answer(dialect: V201Dialect, request: Any) -> Any:
        return response

    return answer


def _switched(handler: Callable[[Any, Any], Any], action: str, on: Callable[[V21Dialect], bool]) -> Handler:
    """``handler`` where the profile switches its feature on (``on(dialect)``), the fixed answer elsewhere."""
    fixed = NOT_SIMULATED[action]

    def answer(dialect: Any, request: Any) -> Any:
        return handler(dialect, request) if on(dialect) else fixed

    return answer


def _v2x_on(dialect: V21Dialect) -> bool:
    return dialect.v2x is not None


def _der_on(dialect: V21Dialect) -> bool:
    return dialect.der is not None


#: CSMS-initiated action -> default handler ``(dialect, request) -> response``.
HANDLERS: Final[Mapping[str, Handler]] = MappingProxyType(
    dict(V201_HANDLERS) | {action: _fixed(response) for action, response in NOT_SIMULATED.items()}
    | {action: _switched(handler, action, local_cost_on) for action, handler in TARIFF_HANDLERS.items()}
    | {action: _switched(handler, action, event_streams_on) for action, handler in EVENT_STREAM_HANDLERS.items()}
    | {action: _switched(handler, action, dynamic_charging_on) for action, handler in DYNAMIC_CHARGING_HANDLERS.items()}
    | dict(MONITORING_HANDLERS) | {
        "SetChargingProfile": set_charging_profile,
        "NotifyAllowedEnergyTransfer": _switched(notify_allowed_energy_transfer, "NotifyAllowedEnergyTransfer",
                                                 _v2x_on),
        "SetDERControl": _switched(set_der_control, "SetDERControl", _der_on),
        "GetDERControl": _switched(get_der_control, "GetDERControl", _der_on),
        "ClearDERControl": _switched(clear_der_control, "ClearDERControl", _der_on),
        "AFRRSignal": _switched(afrr_signal, "AFRRSignal", _v2x_on),
        "RequestBatterySwap": _switched(request_battery_swap, "RequestBatterySwap", battery_swap_on),
        "NotifyWebPaymentStarted": _switched(notify_web_payment_started, "NotifyWebPaymentStarted", web_payment_on),
    }
)

assert set(HANDLERS) == CSMS_INITIATED, "every CSMS-initiated 2.1 action has a default handler"
