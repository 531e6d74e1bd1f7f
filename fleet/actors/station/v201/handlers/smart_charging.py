"""OCPP 2.0.1, block K Smart charging: charging profiles and composite schedules.

Each handler is ``handler(dialect, request) -> response`` (see :mod:`fleet.actors.station.v201.handlers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from .....ocpp.v201 import (
    ChargingLimitSource,
    ChargingProfileStatus,
    ChargingRateUnit,
    ClearChargingProfileRequest,
    ClearChargingProfileResponse,
    ClearChargingProfileStatus,
    GenericStatus,
    GetChargingProfilesRequest,
    GetChargingProfilesResponse,
    GetChargingProfileStatus,
    GetCompositeScheduleRequest,
    GetCompositeScheduleResponse,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
)
from .common import _info, _now

if TYPE_CHECKING:
    from ..dialect import V201Dialect

__all__ = [
    "clear_charging_profile",
    "get_charging_profiles",
    "get_composite_schedule",
    "set_charging_profile",
]


def set_charging_profile(st: V201Dialect, request: SetChargingProfileRequest) -> SetChargingProfileResponse:
    if not st.model.get_bool("SmartChargingCtrlr", "Enabled"):
        return st.messages.SetChargingProfileResponse(status=ChargingProfileStatus.REJECTED, status_info=_info("Disabled"))
    status, reason = st.charging_profiles.install(
        request.evse_id,
        request.charging_profile,
        _now(),
        evse_ids=[e.id for e in st.station.evses],
        transactions={e.id: e.tx.id for e in st.station.evses if e.tx is not None},
        max_stack_level=st.model.get_int("SmartChargingCtrlr", "ProfileStackLevel", default=8),
        max_periods=st.model.get_int("SmartChargingCtrlr", "PeriodsPerSchedule", default=24),
    )
    if status == ChargingProfileStatus.ACCEPTED:
        st.station.defer(st.limits_changed)
        return st.messages.SetChargingProfileResponse(status=status)
    return st.messages.SetChargingProfileResponse(status=status, status_info=_info(reason))


def clear_charging_profile(st: V201Dialect, request: ClearChargingProfileRequest) -> ClearChargingProfileResponse:
    profile_id = request.charging_profile_id if request.charging_profile_id is not UNSET else None
    criteria = request.charging_profile_criteria if request.charging_profile_criteria is not UNSET else None
    if st.charging_profiles.clear(profile_id, criteria):
        st.station.defer(st.limits_changed)
        return st.messages.ClearChargingProfileResponse(status=ClearChargingProfileStatus.ACCEPTED)
    return st.messages.ClearChargingProfileResponse(status=ClearChargingProfileStatus.UNKNOWN)


def get_charging_profiles(st: V201Dialect, request: GetChargingProfilesRequest) -> GetChargingProfilesResponse:
    evse_id = request.evse_id if request.evse_id is not UNSET else None
    found = st.charging_profiles.query(evse_id, request.charging_profile)
    if not found:
        return st.messages.GetChargingProfilesResponse(status=GetChargingProfileStatus.NO_PROFILES)
    groups = sorted(found.items())
    for n, (evse, profiles) in enumerate(groups):
        fields: dict[str, Any] = {"request_id": request.request_id, "charging_limit_source": ChargingLimitSource.CSO,
                                  "charging_profile": profiles, "evse_id": evse}
        if n < len(groups) - 1:
            fields["tbc"] = True
        st.station.send(st.messages.ReportChargingProfilesRequest(**fields), followup=True)
    return st.messages.GetChargingProfilesResponse(status=GetChargingProfileStatus.ACCEPTED)


def get_composite_schedule(st: V201Dialect, request: GetCompositeScheduleRequest) -> GetCompositeScheduleResponse:
    unit = request.charging_rate_unit if request.charging_rate_unit is not UNSET else ChargingRateUnit.W
    if request.evse_id == 0:
        voltage, phases = st.station.evses[0].voltage, st.station.evses[0].phases
        max_power = sum(e.max_power_w for e in st.station.evses)
        tx_id = None
        tx_start = None
    else:
        evse = st.station.evse_by_id(request.evse_id)
        if evse is None:
            return st.messages.GetCompositeScheduleResponse(status=GenericStatus.REJECTED, status_info=_info("UnknownEvse"))
        voltage, phases, max_power = evse.voltage, evse.phases, evse.max_power_w
        tx_id = evse.tx.id if evse.tx is not None else None
        tx_start = evse.tx.started_wall if evse.tx is not None else None
    if request.duration < 0:
        return st.messages.GetCompositeScheduleResponse(status=GenericStatus.REJECTED, status_info=_info("InvalidDuration"))
    schedule = st.charging_profiles.composite(
        request.evse_id, _now().replace(microsecond=0), request.duration, unit, voltage=voltage, phases=phases,
        max_power=max_power, transaction_id=tx_id, transaction_start=tx_start,
        evse_share=sum(1 for e in st.station.evses if e.tx is not None) or 1,
    )
    return st.messages.GetCompositeScheduleResponse(status=GenericStatus.ACCEPTED, schedule=schedule)
