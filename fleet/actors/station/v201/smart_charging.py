"""Charging profiles and the limits they impose (OCPP 2.0.1 functional block K).

Pure code, no I/O and no clock of its own: every function takes the time it
evaluates at (timezone-aware ``datetime``).

Which limit applies to an EVSE at a time ``t``:

* for each purpose, the valid profile with the highest ``stackLevel`` wins
  (``TxProfile`` only for the transaction it names; an EVSE's own
  ``TxDefaultProfile`` before the station-wide one on EVSE 0);
* ``TxProfile`` replaces ``TxDefaultProfile``;
* the result is capped by ``ChargingStationExternalConstraints`` and by the
  station's ``ChargingStationMaxProfile`` (EVSE 0), which the station shares out
  over its EVSEs.

Schedules start at ``startSchedule`` (Absolute), at the start of the transaction
(Relative) or at the last daily/weekly recurrence of ``startSchedule``
(Recurring); a schedule ends after its ``duration``. Limits in A become W with
the EVSE's voltage and ``numberPhases`` (default: the EVSE's phases).
"""

from __future__ import annotations

import datetime
import itertools
import math
from collections.abc import Iterable

import msgspec
from msgspec import UNSET

from ....ocpp.v201 import (
    ChargingLimitSource,
    ChargingProfile,
    ChargingProfileCriterion,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingProfileStatus,
    ChargingRateUnit,
    ChargingSchedulePeriod,
    ClearChargingProfile,
    CompositeSchedule,
    RecurrencyKind,
)

__all__ = ["Installed", "ProfileStore", "to_watts"]

_DAY = datetime.timedelta(days=1)
_WEEK = datetime.timedelta(days=7)


def to_watts(limit: float, unit: ChargingRateUnit, voltage: float, phases: int) -> float:
    """A schedule limit in W."""
    return limit if unit == ChargingRateUnit.W else limit * voltage * max(phases, 1)


class Installed:
    """A charging profile installed on an EVSE (0 = the whole station)."""

    __slots__ = ("evse_id", "installed_at", "profile")

    def __init__(self, evse_id: int, profile: ChargingProfile, installed_at: datetime.datetime) -> None:
        self.evse_id = evse_id
        self.profile = profile
        self.installed_at = installed_at


class _Window:
    """Where one schedule is active around ``t``: its start and its end (or None)."""

    __slots__ = ("end", "start")

    def __init__(self, start: datetime.datetime, end: datetime.datetime | None) -> None:
        self.start = start
        self.end = end


class ProfileStore:
    """The charging profiles of one station."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Installed] = []

    def __len__(self) -> int:
        return len(self.items)

    # ------------------------------------------------------------- changes

    def install(
        self,
        evse_id: int,
        profile: ChargingProfile,
        now: datetime.datetime,
        *,
        evse_ids: Iterable[int],
        transactions: dict[int, str],
        max_stack_level: int = 8,
        max_periods: int = 24,
    ) -> tuple[ChargingProfileStatus, str]:
        """Validate and store a profile (replacing one with the same id).

        Args:
            evse_ids: the station's EVSE ids.
            transactions: EVSE id -> id of its running transaction.

        Returns:
            The status and, when rejected, a reason code.
        """
        purpose = profile.charging_profile_purpose
        if evse_id != 0 and evse_id not in set(evse_ids):
            return ChargingProfileStatus.REJECTED, "UnknownEvse"
        if profile.stack_level > max_stack_level:
            return ChargingProfileStatus.REJECTED, "StackLevelTooHigh"
        if any(len(s.charging_schedule_period) > max_periods for s in profile.charging_schedule):
            return ChargingProfileStatus.REJECTED, "TooManyPeriods"
        if purpose == ChargingProfilePurpose.CHARGING_STATION_MAX_PROFILE and evse_id != 0:
            return ChargingProfileStatus.REJECTED, "MaxProfileNotOnStation"
        if purpose == ChargingProfilePurpose.TX_PROFILE:
            if evse_id == 0:
                return ChargingProfileStatus.REJECTED, "TxProfileOnStation"
            running = transactions.get(evse_id)
            if running is None:
                return ChargingProfileStatus.REJECTED, "NoTransaction"
            if profile.transaction_id is not UNSET and profile.transaction_id != running:
                return ChargingProfileStatus.REJECTED, "UnknownTransaction"
            if profile.transaction_id is UNSET:
                profile = msgspec.structs.replace(profile, transaction_id=running)
        for schedule in profile.charging_schedule:
            periods = schedule.charging_schedule_period
            if not periods or periods[0].start_period != 0:
                return ChargingProfileStatus.REJECTED, "FirstPeriodNotZero"
            if any(b.start_period <= a.start_period for a, b in itertools.pairwise(periods)):
                return ChargingProfileStatus.REJECTED, "PeriodsNotAscending"
        if profile.charging_profile_kind == ChargingProfileKind.RECURRING and profile.recurrency_kind is UNSET:
            return ChargingProfileStatus.REJECTED, "MissingRecurrencyKind"
        for other in self.items:
            if (
                other.profile.id != profile.id
                and other.evse_id == evse_id
                and other.profile.charging_profile_purpose == purpose
                and other.profile.stack_level == profile.stack_level
                and (purpose != ChargingProfilePurpose.TX_PROFILE
                     or other.profile.transaction_id == profile.transaction_id)
            ):
                return ChargingProfileStatus.REJECTED, "DuplicateStackLevel"
        self.items = [i for i in self.items if i.profile.id != profile.id]
        self.items.append(Installed(evse_id, profile, now))
        return ChargingProfileStatus.ACCEPTED, ""

    def clear(self, profile_id: int | None, criteria: ClearChargingProfile | None) -> bool:
        """Remove the profile ``profile_id`` or those matching ``criteria`` (all if neither);
        whether anything was removed."""
        def matches(item: Installed) -> bool:
            if profile_id is not None:
                return item.profile.id == profile_id
            if criteria is None:
                return True
            if criteria.evse_id is not UNSET and item.evse_id != criteria.evse_id:
                return False
            if (criteria.charging_profile_purpose is not UNSET
                    and item.profile.charging_profile_purpose != criteria.charging_profile_purpose):
                return False
            return criteria.stack_level is UNSET or item.profile.stack_level == criteria.stack_level

        kept = [i for i in self.items if not matches(i)]
        removed = len(kept) != len(self.items)
        self.items = kept
        return removed

    def end_transaction(self, transaction_id: str) -> None:
        """Drop the TxProfiles of a transaction that ended."""
        self.items = [
            i for i in self.items
            if not (i.profile.charging_profile_purpose == ChargingProfilePurpose.TX_PROFILE
                    and i.profile.transaction_id == transaction_id)
        ]

    def query(self, evse_id: int | None, criterion: ChargingProfileCriterion) -> dict[int, list[ChargingProfile]]:
        """Profiles for GetChargingProfiles, grouped by EVSE id (all EVSEs if ``evse_id`` is None)."""
        sources = criterion.charging_limit_source
        if sources is not UNSET and ChargingLimitSource.CSO not in sources:
            return {}
        found: dict[int, list[ChargingProfile]] = {}
        for item in self.items:
            profile = item.profile
            if evse_id is not None and item.evse_id != evse_id:
                continue
            if (criterion.charging_profile_purpose is not UNSET
                    and profile.charging_profile_purpose != criterion.charging_profile_purpose):
                continue
            if criterion.stack_level is not UNSET and profile.stack_level != criterion.stack_level:
                continue
            if criterion.charging_profile_id is not UNSET and profile.id not in criterion.charging_profile_id:
                continue
            found.setdefault(item.evse_id, []).append(profile)
        return found

    # ------------------------------------------------------------ evaluation

    def limit_w(
        self,
        evse_id: int,
        t: datetime.datetime,
        *,
        voltage: float,
        phases: int,
        transaction_id: str | None,
        transaction_start: datetime.datetime | None,
        evse_share: int = 1,
    ) -> float | None:
        """The limit on ``evse_id`` at ``t`` in W, or ``None`` if no profile limits it.

        ``evse_share`` is the number of EVSEs the station-wide maximum is shared by.
        """
        if not self.items:
            return None
        limits: list[float] = []
        tx = self._winner(ChargingProfilePurpose.TX_PROFILE, evse_id, t, voltage, phases, transaction_id,
                          transaction_start)
        if tx is None:
            tx = self._winner(ChargingProfilePurpose.TX_DEFAULT_PROFILE, evse_id, t, voltage, phases, transaction_id,
                              transaction_start)
            if tx is None:
                tx = self._winner(ChargingProfilePurpose.TX_DEFAULT_PROFILE, 0, t, voltage, phases, transaction_id,
                                  transaction_start)
        if tx is not None:
            limits.append(tx)
        for purpose, target in (
            (ChargingProfilePurpose.CHARGING_STATION_EXTERNAL_CONSTRAINTS, evse_id),
            (ChargingProfilePurpose.CHARGING_STATION_EXTERNAL_CONSTRAINTS, 0),
        ):
            value = self._winner(purpose, target, t, voltage, phases, transaction_id, transaction_start)
            if value is not None:
                limits.append(value / (evse_share if target == 0 else 1))
        station_max = self._winner(ChargingProfilePurpose.CHARGING_STATION_MAX_PROFILE, 0, t, voltage, phases,
                                   transaction_id, transaction_start)
        if station_max is not None:
            limits.append(station_max / max(evse_share, 1))
        limit = min(limits) if limits else None
        return None if limit == math.inf else limit

    def period_at(
        self,
        evse_id: int,
        t: datetime.datetime,
        *,
        transaction_id: str | None,
        transaction_start: datetime.datetime | None,
    ) -> tuple[ChargingSchedulePeriod, ChargingRateUnit] | None:
        """The schedule period in force on ``evse_id`` at ``t`` of the transaction's winning
        profile (TxProfile, else the EVSE's TxDefaultProfile, else the station's), with its
        schedule's unit; ``None`` if none (what a later version reads more than the limit of:
        2.1's operation mode and setpoint)."""
        for purpose, target in (
            (ChargingProfilePurpose.TX_PROFILE, evse_id),
            (ChargingProfilePurpose.TX_DEFAULT_PROFILE, evse_id),
            (ChargingProfilePurpose.TX_DEFAULT_PROFILE, 0),
        ):
            best_level = -1
            best: tuple[ChargingSchedulePeriod, ChargingRateUnit] | None = None
            for item in self.items:
                profile = item.profile
                if item.evse_id != target or profile.charging_profile_purpose != purpose:
                    continue
                if purpose == ChargingProfilePurpose.TX_PROFILE and profile.transaction_id != transaction_id:
                    continue
                if profile.stack_level <= best_level:
                    continue
                found = self._period_of(item, t, transaction_start)
                if found is not None:
                    best_level = profile.stack_level
                    best = found
            if best is not None:
                return best
        return None

    def next_change(
        self,
        evse_id: int,
        t: datetime.datetime,
        *,
        transaction_id: str | None,
        transaction_start: datetime.datetime | None,
        horizon: datetime.timedelta = _DAY,
    ) -> datetime.datetime | None:
        """The first time after ``t`` (within ``horizon``) at which a relevant schedule changes."""
        best: datetime.datetime | None = None
        for item in self._relevant(evse_id, transaction_id):
            for moment in self._breakpoints(item, t, t + horizon, transaction_start):
                if moment > t and (best is None or moment < best):
                    best = moment
        return best

    def composite(
        self,
        evse_id: int,
        start: datetime.datetime,
        duration: int,
        unit: ChargingRateUnit,
        *,
        voltage: float,
        phases: int,
        max_power: float,
        transaction_id: str | None,
        transaction_start: datetime.datetime | None,
        evse_share: int = 1,
    ) -> CompositeSchedule:
        """The composite schedule of ``evse_id`` from ``start`` for ``duration`` seconds."""
        end = start + datetime.timedelta(seconds=duration)
        moments = {start}
        for item in self._relevant(evse_id, transaction_id):
            moments.update(m for m in self._breakpoints(item, start, end, transaction_start) if start <= m < end)
        periods: list[ChargingSchedulePeriod] = []
        last: float | None = None
        for moment in sorted(moments):
            limit = self.limit_w(evse_id, moment, voltage=voltage, phases=phases, transaction_id=transaction_id,
                                 transaction_start=transaction_start, evse_share=evse_share)
            watts = min(limit, max_power) if limit is not None else max_power
            value = watts if unit == ChargingRateUnit.W else watts / (voltage * max(phases, 1))
            value = round(value, 1)
            if value != last:
                periods.append(ChargingSchedulePeriod(start_period=int((moment - start).total_seconds()), limit=value))
                last = value
        return CompositeSchedule(
            charging_schedule_period=periods,
            evse_id=evse_id,
            duration=duration,
            schedule_start=start,
            charging_rate_unit=unit,
        )

    # ------------------------------------------------------------- internals

    def _relevant(self, evse_id: int, transaction_id: str | None) -> list[Installed]:
        out = []
        for item in self.items:
            if item.evse_id not in (0, evse_id):
                continue
            if (item.profile.charging_profile_purpose == ChargingProfilePurpose.TX_PROFILE
                    and item.profile.transaction_id != transaction_id):
                continue
            out.append(item)
        return out

    def _winner(
        self,
        purpose: ChargingProfilePurpose,
        evse_id: int,
        t: datetime.datetime,
        voltage: float,
        phases: int,
        transaction_id: str | None,
        transaction_start: datetime.datetime | None,
    ) -> float | None:
        best_level = -1
        best: float | None = None
        for item in self.items:
            profile = item.profile
            if item.evse_id != evse_id or profile.charging_profile_purpose != purpose:
                continue
            if purpose == ChargingProfilePurpose.TX_PROFILE and profile.transaction_id != transaction_id:
                continue
            if profile.stack_level <= best_level:
                continue
            limit = self._limit_of(item, t, voltage, phases, transaction_start)
            if limit is not None:
                best_level = profile.stack_level
                best = limit
        return best

    def _window(
        self, item: Installed, schedule_start: datetime.datetime | None, duration: int | None,
        t: datetime.datetime, transaction_start: datetime.datetime | None,
    ) -> _Window | None:
        profile = item.profile
        kind = profile.charging_profile_kind
        if kind == ChargingProfileKind.RELATIVE:
            start = transaction_start
            if start is None:
                return None
        elif kind == ChargingProfileKind.RECURRING:
            anchor = schedule_start or item.installed_at
            period = _WEEK if profile.recurrency_kind == RecurrencyKind.WEEKLY else _DAY
            if t < anchor:
                return None
            start = anchor + period * ((t - anchor) // period)
        else:
            start = schedule_start or item.installed_at
        end = start + datetime.timedelta(seconds=duration) if duration is not None else None
        return _Window(start, end)

    def _limit_of(
        self, item: Installed, t: datetime.datetime, voltage: float, phases: int,
        transaction_start: datetime.datetime | None,
    ) -> float | None:
        found = self._period_of(item, t, transaction_start)
        if found is None:
            return None
        current, unit = found
        if not isinstance(current.limit, int | float):  # (2.1: a period may set no limit, only a setpoint)
            return math.inf
        number_phases = current.number_phases if current.number_phases is not UNSET else phases
        return to_watts(current.limit, unit, voltage, number_phases)

    def _period_of(
        self, item: Installed, t: datetime.datetime, transaction_start: datetime.datetime | None,
    ) -> tuple[ChargingSchedulePeriod, ChargingRateUnit] | None:
        profile = item.profile
        if profile.valid_from is not UNSET and t < profile.valid_from:
            return None
        if profile.valid_to is not UNSET and t >= profile.valid_to:
            return None
        for schedule in profile.charging_schedule:
            schedule_start = schedule.start_schedule if schedule.start_schedule is not UNSET else None
            duration = schedule.duration if schedule.duration is not UNSET else None
            window = self._window(item, schedule_start, duration, t, transaction_start)
            if window is None or t < window.start or (window.end is not None and t >= window.end):
                continue
            offset = (t - window.start).total_seconds()
            current: ChargingSchedulePeriod | None = None
            for period in schedule.charging_schedule_period:
                if period.start_period <= offset:
                    current = period
                else:
                    break
            if current is None:
                continue
            return current, schedule.charging_rate_unit
        return None

    def _breakpoints(
        self, item: Installed, t0: datetime.datetime, t1: datetime.datetime,
        transaction_start: datetime.datetime | None,
    ) -> list[datetime.datetime]:
        profile = item.profile
        out: list[datetime.datetime] = []
        if profile.valid_from is not UNSET:
            out.append(profile.valid_from)
        if profile.valid_to is not UNSET:
            out.append(profile.valid_to)
        for schedule in profile.charging_schedule:
            schedule_start = schedule.start_schedule if schedule.start_schedule is not UNSET else None
            duration = schedule.duration if schedule.duration is not UNSET else None
            probe = t0
            for _ in range(16):  # recurrences inside the horizon, bounded
                window = self._window(item, schedule_start, duration, probe, transaction_start)
                if window is None:
                    if profile.charging_profile_kind == ChargingProfileKind.RECURRING and schedule_start is not None:
                        out.append(schedule_start)
                    break
                for period in schedule.charging_schedule_period:
                    out.append(window.start + datetime.timedelta(seconds=period.start_period))
                if window.end is not None:
                    out.append(window.end)
                if profile.charging_profile_kind != ChargingProfileKind.RECURRING:
                    break
                period_length = _WEEK if profile.recurrency_kind == RecurrencyKind.WEEKLY else _DAY
                probe = window.start + period_length
                out.append(probe)
                if probe >= t1:
                    break
        return [m for m in out if t0 <= m <= t1]
