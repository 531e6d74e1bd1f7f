"""1.6 charging profiles on the station's profile store.

The rules of stacking and combining profiles are the same in OCPP 1.6 (3.13) and 2.0.1
(K): per purpose the highest stackLevel wins, TxProfile over TxDefaultProfile, capped by
the charge point's maximum; schedules Absolute, Relative or Recurring. So the 1.6
station keeps its profiles in :class:`~fleet.actors.station.v201.smart_charging.ProfileStore`
and this module translates at its edge: a 1.6 ``ChargingProfile`` on a connector becomes
the store's profile on that connector's EVSE (connector 0: the station), its one
schedule the store's only schedule, ``ChargePointMaxProfile`` the station maximum, its
integer transactionId the transaction's id as text; a composite schedule comes back as a
1.6 ``ChargingSchedule``.
"""

from __future__ import annotations

from typing import Final

import msgspec
from msgspec import UNSET

from ....ocpp import v201
from ....ocpp.v16 import (
    ChargingProfile,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    ChargingSchedulePeriod,
)
from ..v201.smart_charging import ProfileStore

__all__ = ["clear_criteria", "from_composite", "rebind", "store_unit", "to_store"]

_PURPOSES: Final = {
    ChargingProfilePurpose.CHARGE_POINT_MAX_PROFILE: v201.ChargingProfilePurpose.CHARGING_STATION_MAX_PROFILE,
    ChargingProfilePurpose.TX_DEFAULT_PROFILE: v201.ChargingProfilePurpose.TX_DEFAULT_PROFILE,
    ChargingProfilePurpose.TX_PROFILE: v201.ChargingProfilePurpose.TX_PROFILE,
}


def to_store(profile: ChargingProfile) -> v201.ChargingProfile:
    """``profile`` as the profile store keeps it."""
    schedule = profile.charging_schedule
    periods = [
        v201.ChargingSchedulePeriod(start_period=p.start_period, limit=p.limit, number_phases=p.number_phases)
        for p in schedule.charging_schedule_period
    ]
    return v201.ChargingProfile(
        id=profile.charging_profile_id,
        stack_level=profile.stack_level,
        charging_profile_purpose=_PURPOSES[profile.charging_profile_purpose],
        charging_profile_kind=v201.ChargingProfileKind(profile.charging_profile_kind),
        charging_schedule=[v201.ChargingSchedule(
            id=profile.charging_profile_id,
            charging_rate_unit=v201.ChargingRateUnit(schedule.charging_rate_unit),
            charging_schedule_period=periods,
            start_schedule=schedule.start_schedule,
            duration=schedule.duration,
            min_charging_rate=schedule.min_charging_rate,
        )],
        recurrency_kind=v201.RecurrencyKind(profile.recurrency_kind) if profile.recurrency_kind is not UNSET else UNSET,
        valid_from=profile.valid_from,
        valid_to=profile.valid_to,
        transaction_id=str(profile.transaction_id) if profile.transaction_id is not UNSET else UNSET,
    )


def clear_criteria(evse_id: int | None, purpose: ChargingProfilePurpose | None,
                   stack_level: int | None) -> v201.ClearChargingProfile:
    """ClearChargingProfile's criteria as the profile store reads them."""
    return v201.ClearChargingProfile(
        evse_id=evse_id if evse_id is not None else UNSET,
        charging_profile_purpose=_PURPOSES[purpose] if purpose is not None else UNSET,
        stack_level=stack_level if stack_level is not None else UNSET,
    )


def from_composite(schedule: v201.CompositeSchedule) -> ChargingSchedule:
    """The store's composite schedule as a 1.6 ChargingSchedule."""
    return ChargingSchedule(
        charging_rate_unit=ChargingRateUnit(schedule.charging_rate_unit),
        charging_schedule_period=[ChargingSchedulePeriod(start_period=p.start_period, limit=p.limit)
                                  for p in schedule.charging_schedule_period],
        duration=schedule.duration,
        start_schedule=schedule.schedule_start,
    )


def store_unit(unit: ChargingRateUnit) -> v201.ChargingRateUnit:
    """A 1.6 charging rate unit as the profile store names it."""
    return v201.ChargingRateUnit(unit)


def rebind(store: ProfileStore, old: str, new: str) -> None:
    """The transaction ``old`` (a local key) is now called ``new`` (the CSMS's id): its
    TxProfiles follow."""
    for item in store.items:
        if item.profile.transaction_id == old:
            item.profile = msgspec.structs.replace(item.profile, transaction_id=new)
