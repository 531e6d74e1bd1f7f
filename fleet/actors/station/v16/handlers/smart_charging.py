"""SetChargingProfile, ClearChargingProfile and GetCompositeSchedule (1.6 Smart Charging
profile, 5.16, 5.5, 5.7): the limits apply to the simulated power at once, and so to
the meter values."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from msgspec import UNSET

from .....ocpp import v201
from .....ocpp.v16 import (
    ChargingProfileStatus,
    ChargingRateUnit,
    ClearChargingProfileRequest,
    ClearChargingProfileResponse,
    ClearChargingProfileStatus,
    GetCompositeScheduleRequest,
    GetCompositeScheduleResponse,
    GetCompositeScheduleStatus,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
)
from ..smart_charging import clear_criteria, from_composite, store_unit, to_store

if TYPE_CHECKING:
    from ..dialect import V16Dialect

__all__ = ["clear_charging_profile", "get_composite_schedule", "set_charging_profile"]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _evse_id(st: V16Dialect, connector_id: int) -> int | None:
    """The EVSE a profile on ``connector_id`` goes to (0: the station; None: no such connector)."""
    if connector_id == 0:
        return 0
    target = st.connectors.get(connector_id)
    return target[0].id if target is not None else None


def set_charging_profile(st: V16Dialect, request: SetChargingProfileRequest) -> SetChargingProfileResponse:
    """Accepted, or Rejected (an unknown connector, a TxProfile without its transaction,
    a stack level or schedule the station does not take)."""
    evse_id = _evse_id(st, request.connector_id)
    if evse_id is None:
        return SetChargingProfileResponse(status=ChargingProfileStatus.REJECTED)
    status, _ = st.charging_profiles.install(
        evse_id,
        to_store(request.cs_charging_profiles),
        _now(),
        evse_ids=[e.id for e in st.station.evses],
        transactions={e.id: e.tx.id for e in st.station.evses if e.tx is not None},
        max_stack_level=st.model.get_int("ChargeProfileMaxStackLevel"),
        max_periods=st.model.get_int("ChargingScheduleMaxPeriods"),
    )
    if status != v201.ChargingProfileStatus.ACCEPTED:
        return SetChargingProfileResponse(status=ChargingProfileStatus.REJECTED)
    st.station.defer(st.limits_changed)
    return SetChargingProfileResponse(status=ChargingProfileStatus.ACCEPTED)


def clear_charging_profile(st: V16Dialect, request: ClearChargingProfileRequest) -> ClearChargingProfileResponse:
    """Accepted when a profile matched (by id, or by connector, purpose and stack level), else Unknown."""
    if request.id is not UNSET:
        removed = st.charging_profiles.clear(request.id, None)
    else:
        evse_id = None
        if request.connector_id is not UNSET:
            evse_id = _evse_id(st, request.connector_id)
            if evse_id is None:
                return ClearChargingProfileResponse(status=ClearChargingProfileStatus.UNKNOWN)
        purpose = request.charging_profile_purpose if request.charging_profile_purpose is not UNSET else None
        level = request.stack_level if request.stack_level is not UNSET else None
        removed = st.charging_profiles.clear(None, clear_criteria(evse_id, purpose, level))
    if not removed:
        return ClearChargingProfileResponse(status=ClearChargingProfileStatus.UNKNOWN)
    st.station.defer(st.limits_changed)
    return ClearChargingProfileResponse(status=ClearChargingProfileStatus.ACCEPTED)


def get_composite_schedule(st: V16Dialect, request: GetCompositeScheduleRequest) -> GetCompositeScheduleResponse:
    """The schedule the connector (0: the station) will follow for ``duration`` seconds."""
    evse_id = _evse_id(st, request.connector_id)
    if evse_id is None or request.duration < 0:
        return GetCompositeScheduleResponse(status=GetCompositeScheduleStatus.REJECTED)
    evses = st.station.evses
    if evse_id == 0:
        voltage, phases, max_power = evses[0].voltage, evses[0].phases, sum(e.max_power_w for e in evses)
        tx_id, tx_start = None, None
    else:
        evse = evses[evse_id - 1]
        voltage, phases, max_power = evse.voltage, evse.phases, evse.max_power_w
        tx_id = evse.tx.id if evse.tx is not None else None
        tx_start = evse.tx.started_wall if evse.tx is not None else None
    unit = request.charging_rate_unit if request.charging_rate_unit is not UNSET else ChargingRateUnit.W
    start = _now().replace(microsecond=0)
    composite = st.charging_profiles.composite(
        evse_id, start, request.duration, store_unit(unit), voltage=voltage, phases=phases, max_power=max_power,
        transaction_id=tx_id, transaction_start=tx_start, evse_share=sum(1 for e in evses if e.tx is not None) or 1,
    )
    return GetCompositeScheduleResponse(status=GetCompositeScheduleStatus.ACCEPTED, connector_id=request.connector_id,
                                        schedule_start=start, charging_schedule=from_composite(composite))
