"""OCPP 2.1 dynamic charging profiles and priority charging on one station (use cases K28,
K21): :class:`DynamicCharging`, made by the 2.1 dialect when the profile switches it on
(``[dynamic_charging] enabled``).

Charging profiles live in the station's profile store (2.0.1's
:class:`~fleet.actors.station.v201.smart_charging.ProfileStore`, which takes 2.1's kinds
and purposes); a profile of kind Dynamic holds its limit in the first period of its
schedule, which starts at once:

* UpdateDynamicSchedule (and the answer to the station's PullDynamicScheduleUpdate) puts
  the values it gives into that period and sets ``dynUpdateTime`` (K28.FR.06, FR.08-09);
  the new limit applies at once;
* a Dynamic profile with a ``dynUpdateInterval`` makes the station ask for an update
  (PullDynamicScheduleUpdate) that many seconds after its last update (K28.FR.10);
* UsePriorityCharging activates, for a running transaction, the PriorityCharging profile
  installed on its EVSE or on EVSE 0 in place of its TxProfile / TxDefaultProfile
  (ChargingStationMaxProfile and external constraints still apply; K21.FR.03-04), and
  deactivates it (FR.06-07); the station confirms each change with NotifyPriorityCharging
  (FR.05, FR.08). Priority ends with the transaction.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import msgspec
from msgspec import UNSET

from ....ocpp.v21 import (
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingScheduleUpdate,
    NotifyPriorityChargingRequest,
    PullDynamicScheduleUpdateRequest,
)
from ..hardware import EvseState
from ..v201.smart_charging import Installed, ProfileStore

if TYPE_CHECKING:
    from .dialect import V21Dialect

__all__ = ["DynamicCharging"]

#: The purposes a PriorityCharging profile leaves in force (K21.FR.04).
_KEPT: Final = (ChargingProfilePurpose.CHARGING_STATION_MAX_PROFILE,
                ChargingProfilePurpose.CHARGING_STATION_EXTERNAL_CONSTRAINTS)


class DynamicCharging:
    """Dynamic profiles and priority charging of one station (see the module's description).

    Args:
        dialect: the station's 2.1 dialect.
    """

    def __init__(self, dialect: V21Dialect) -> None:
        self.dialect = dialect
        #: the transactions charging with priority
        self.priority: set[str] = set()
        self._pulling: set[int] = set()

    # ------------------------------------------------------------------ dynamic profiles

    def _installed(self, profile_id: int) -> Installed | None:
        return next((i for i in self.dialect.charging_profiles.items if i.profile.id == profile_id), None)

    def update(self, profile_id: int, update: ChargingScheduleUpdate) -> str | None:
        """Apply ``update`` to the Dynamic profile ``profile_id``; None, or why not
        (``UnknownProfile``, ``InvalidProfile``: not of kind Dynamic)."""
        item = self._installed(profile_id)
        if item is None:
            return "UnknownProfile"
        profile: Any = item.profile  # (a 2.1 ChargingProfile in the 2.0.1 store)
        if profile.charging_profile_kind != ChargingProfileKind.DYNAMIC:
            return "InvalidProfile"
        # (each field of an update is the same field of a ChargingSchedulePeriod)
        changes = {name: value for name, value in msgspec.structs.asdict(update).items()
                   if value is not UNSET and name != "custom_data"}
        schedule = profile.charging_schedule[0]
        period = msgspec.structs.replace(schedule.charging_schedule_period[0], **changes)
        schedule = msgspec.structs.replace(
            schedule, charging_schedule_period=[period, *schedule.charging_schedule_period[1:]]
        )
        item.profile = msgspec.structs.replace(
            profile, charging_schedule=[schedule, *profile.charging_schedule[1:]],
            dyn_update_time=self.dialect.station.clock(),
        )
        self.dialect.station.defer(self.dialect.limits_changed)
        return None

    def profiles_changed(self) -> None:
        """Charging profiles changed: (re)arm the pull of each Dynamic profile with a ``dynUpdateInterval``."""
        now = self.dialect.station.clock()
        wanted: set[int] = set()
        for item in self.dialect.charging_profiles.items:
            profile: Any = item.profile
            interval = profile.dyn_update_interval
            if profile.charging_profile_kind != ChargingProfileKind.DYNAMIC or interval is UNSET or interval <= 0:
                continue
            wanted.add(profile.id)
            last = profile.dyn_update_time if profile.dyn_update_time is not UNSET else item.installed_at
            wait = max(0.0, interval - (now - _aware(last)).total_seconds())
            self.dialect.station.protocol_timer(("dyn-pull", profile.id), wait, self._puller(profile.id))
        for profile_id in self._pulling - wanted:
            self.dialect.station.cancel_timer(("dyn-pull", profile_id))
        self._pulling = wanted

    def _puller(self, profile_id: int) -> Callable[[], None]:
        return lambda: self._pull(profile_id)

    def _pull(self, profile_id: int) -> None:
        item = self._installed(profile_id)
        if item is None:
            return

        def answered(result: Any) -> None:
            if not isinstance(result, Exception) and result.status == "Accepted" and result.schedule_update is not UNSET:
                self.update(profile_id, result.schedule_update)
            else:
                self.profiles_changed()  # (no update: ask again an interval later)

        # the next pull is armed once this one's update is applied (dynUpdateTime moves on)
        self.dialect.station.send(PullDynamicScheduleUpdateRequest(charging_profile_id=profile_id),
                                  on_result=answered)
        item.profile = msgspec.structs.replace(item.profile, dyn_update_time=self.dialect.station.clock())

    # ------------------------------------------------------------------ priority charging

    def use_priority(self, transaction_id: str, activate: bool) -> tuple[str, str | None]:
        """UsePriorityCharging: the status (``Accepted``, ``Rejected``, ``NoProfile``) and a reason code."""
        evse = next((e for e in self.dialect.station.evses if e.tx is not None and e.tx.id == transaction_id), None)
        if evse is None:
            return "Rejected", "TxNotFound"
        if not activate:
            if transaction_id in self.priority:
                self.priority.discard(transaction_id)
                self._changed(evse, transaction_id, False)
            return "Accepted", None
        if not self._priority_profiles(evse.id):
            return "NoProfile", "NotFound"
        if transaction_id not in self.priority:
            self.priority.add(transaction_id)
            self._changed(evse, transaction_id, True)
        return "Accepted", None

    def _priority_profiles(self, evse_id: int) -> list[Installed]:
        priority: Any = ChargingProfilePurpose.PRIORITY_CHARGING
        return [i for i in self.dialect.charging_profiles.items
                if i.evse_id in (0, evse_id) and i.profile.charging_profile_purpose == priority]

    def _changed(self, evse: EvseState, transaction_id: str, activated: bool) -> None:
        self.dialect.station.send(NotifyPriorityChargingRequest(transaction_id=transaction_id, activated=activated),
                                  followup=True)
        self.dialect.station.defer(lambda: self.dialect.update_evse(evse, rate_change=True))

    def priority_limit(self, evse: EvseState) -> tuple[bool, float | None]:
        """Whether the transaction on ``evse`` charges with priority, and then its limit (W; None: none)."""
        tx = evse.tx
        if tx is None or tx.id not in self.priority:
            return False, None
        view = ProfileStore()
        view.items = [
            Installed(i.evse_id, msgspec.structs.replace(
                i.profile, charging_profile_purpose=ChargingProfilePurpose.TX_DEFAULT_PROFILE), i.installed_at)
            for i in self._priority_profiles(evse.id)
        ] + [i for i in self.dialect.charging_profiles.items if str(i.profile.charging_profile_purpose) in _KEPT]
        sharing = sum(1 for e in self.dialect.station.evses if e.tx is not None) or 1
        return True, view.limit_w(evse.id, self.dialect.station.clock(), voltage=evse.voltage, phases=evse.phases,
                                  transaction_id=tx.id, transaction_start=tx.started_wall, evse_share=sharing)

    def transaction_ended(self, transaction_id: str) -> None:
        self.priority.discard(transaction_id)


def _aware(moment: datetime.datetime) -> datetime.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)
