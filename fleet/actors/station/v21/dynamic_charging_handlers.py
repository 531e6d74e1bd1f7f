"""The 2.1 station's answers to UpdateDynamicSchedule and UsePriorityCharging (use cases
K28, K21), on its :class:`~.dynamic_charging.DynamicCharging`.

Each handler is ``handler(dialect, request) -> response``; they answer only where the
profile switched dynamic charging on (:func:`dynamic_charging_on`; elsewhere the fixed
answers of :data:`.handlers.NOT_SIMULATED` stand).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ....ocpp.v21 import (
    ChargingProfileStatus,
    PriorityChargingStatus,
    StatusInfo,
    UpdateDynamicScheduleRequest,
    UpdateDynamicScheduleResponse,
    UsePriorityChargingRequest,
    UsePriorityChargingResponse,
)

if TYPE_CHECKING:
    from .dialect import V21Dialect
    from .dynamic_charging import DynamicCharging

__all__ = ["DYNAMIC_CHARGING_HANDLERS", "dynamic_charging_on"]


def dynamic_charging_on(dialect: V21Dialect) -> bool:
    """Whether the station's profile switched dynamic and priority charging on."""
    return dialect.dynamic_charging is not None


def _dynamic(dialect: V21Dialect) -> DynamicCharging:
    dynamic = dialect.dynamic_charging
    assert dynamic is not None
    return dynamic


def update_dynamic_schedule(dialect: V21Dialect, request: UpdateDynamicScheduleRequest) -> UpdateDynamicScheduleResponse:
    """K28: the new values of a Dynamic profile, applied at once; Rejected for another profile."""
    refused = _dynamic(dialect).update(request.charging_profile_id, request.schedule_update)
    if refused is None:
        return UpdateDynamicScheduleResponse(status=ChargingProfileStatus.ACCEPTED)
    return UpdateDynamicScheduleResponse(status=ChargingProfileStatus.REJECTED,
                                         status_info=StatusInfo(reason_code=refused))


def use_priority_charging(dialect: V21Dialect, request: UsePriorityChargingRequest) -> UsePriorityChargingResponse:
    """K21: priority charging on (or off) for a running transaction."""
    status, reason = _dynamic(dialect).use_priority(request.transaction_id, request.activate)
    if reason is None:
        return UsePriorityChargingResponse(status=PriorityChargingStatus(status))
    return UsePriorityChargingResponse(status=PriorityChargingStatus(status), status_info=StatusInfo(reason_code=reason))


#: The dynamic and priority charging actions answered where they are on.
DYNAMIC_CHARGING_HANDLERS: Final[Mapping[str, Any]] = MappingProxyType({
    "UpdateDynamicSchedule": update_dynamic_schedule,
    "UsePriorityCharging": use_priority_charging,
})
