"""DER control of the 2.1 station (OCPP 2.1 functional block R, use cases R04 and R05):
SetDERControl, GetDERControl and ClearDERControl on the controls it stores, the
ReportDERControl answering GetDERControl, NotifyDERStartStop when a scheduled control
starts or ends, NotifyDERAlarm for simulated grid events.

A control is a default (``isDefault``) or a scheduled one (``startTime``, ``duration``).
Priorities (a lower value wins) supersede controls of the same type as R04 says: a new
control supersedes a not yet started one of a higher value at once (R04.FR.03/06), an
active one of a higher value at its own start (R04.FR.07), and is itself superseded by
an active one of a lower value (R04.FR.08). A superseded control is kept, never executed
and never reported as starting; every scheduled control is deleted when its duration has
passed (R04.FR.10). The controls are stored and reported; of the inverter they describe
only LimitMaxDischarge acts on the simulated power (the one in force caps a V2X discharge
at its ``pctMaxDischargePower`` of the EVSE's maximum); a simulated grid event is reported
on the type of the controls in force.

Times: a control's start and end are wall-clock times; the station arms a timer for
each (its trio clock, so a test under MockClock sees them at once), and reports the
control's own start and end times as the timestamps.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Final

from msgspec import UNSET

from ....ocpp.v21 import (
    ClearDERControlRequest,
    ClearDERControlResponse,
    DERControl,
    DERControlStatus,
    DERCurve,
    DERCurveGet,
    EnterServiceGet,
    FixedPF,
    FixedPFGet,
    FixedVar,
    FixedVarGet,
    FreqDroop,
    FreqDroopGet,
    GetDERControlRequest,
    GetDERControlResponse,
    GradientGet,
    GridEventFault,
    LimitMaxDischarge,
    LimitMaxDischargeGet,
    NotifyDERAlarmRequest,
    NotifyDERStartStopRequest,
    ReportDERControlRequest,
    SetDERControlRequest,
    SetDERControlResponse,
    StatusInfo,
)
from ..snapshots import DerControlSnapshot

if TYPE_CHECKING:
    from .dialect import V21Dialect

__all__ = ["DerControls", "StoredControl", "clear_der_control", "get_der_control", "set_der_control"]

#: Controls in one ReportDERControl at most (each of its lists holds 24 at most).
REPORT_CHUNK: Final = 24
#: The grid events a station simulates, in turn.
GRID_EVENTS: Final = (GridEventFault.OVER_VOLTAGE, GridEventFault.UNDER_VOLTAGE, GridEventFault.OVER_FREQUENCY,
                      GridEventFault.UNDER_FREQUENCY)

_CURVE_TYPES: Final = frozenset(DERControl) - {
    DERControl.ENTER_SERVICE, DERControl.FREQ_DROOP, DERControl.FIXED_PF_ABSORB, DERControl.FIXED_PF_INJECT,
    DERControl.FIXED_VAR, DERControl.GRADIENTS, DERControl.LIMIT_MAX_DISCHARGE,
}


def _setting_of(request: SetDERControlRequest) -> Any:
    """The setting a SetDERControl carries for its control type (UNSET if missing)."""
    kind = request.control_type
    if kind in _CURVE_TYPES:
        return request.curve
    if kind == DERControl.ENTER_SERVICE:
        return request.enter_service
    if kind == DERControl.FREQ_DROOP:
        return request.freq_droop
    if kind == DERControl.FIXED_PF_ABSORB:
        return request.fixed_pf_absorb
    if kind == DERControl.FIXED_PF_INJECT:
        return request.fixed_pf_inject
    if kind == DERControl.FIXED_VAR:
        return request.fixed_var
    if kind == DERControl.GRADIENTS:
        return request.gradient
    return request.limit_max_discharge


#: The settings that have a startTime and a duration (EnterService and Gradient have none).
_TIMED: Final = (DERCurve, FixedPF, FixedVar, FreqDroop, LimitMaxDischarge)


class StoredControl:
    """One DER control the CSMS set."""

    __slots__ = ("active", "control_type", "duration", "id", "is_default", "priority", "setting", "start",
                 "superseded", "supersedes")

    def __init__(self, request: SetDERControlRequest, setting: Any, now: datetime.datetime) -> None:
        self.id: str = request.control_id
        self.control_type = DERControl(request.control_type)
        self.is_default: bool = request.is_default
        self.setting = setting
        self.priority: int = setting.priority
        timed = isinstance(setting, _TIMED) and not request.is_default
        start = setting.start_time if timed and setting.start_time is not UNSET else None
        #: when it starts (None: a default; a scheduled control without startTime starts when set)
        self.start: datetime.datetime | None = None if request.is_default else (start or now)
        #: how long it lasts, seconds (None: until cleared)
        self.duration: float | None = setting.duration if timed and setting.duration is not UNSET else None
        self.superseded = False
        self.active = False
        #: active controls of its type that it supersedes when it starts (R04.FR.07)
        self.supersedes: list[StoredControl] = []

    @property
    def end(self) -> datetime.datetime | None:
        """When it ends (None: never by itself)."""
        if self.start is None or self.duration is None:
            return None
        try:
            return self.start + datetime.timedelta(seconds=self.duration)
        except (OverflowError, ValueError):  # beyond the calendar: never
            return None

    def matches(self, is_default: Any, control_type: Any, control_id: Any) -> bool:
        """Whether it is what a Get/ClearDERControl asks for (UNSET matches anything)."""
        return ((is_default is UNSET or self.is_default == is_default)
                and (control_type is UNSET or self.control_type == control_type)
                and (control_id is UNSET or self.id == control_id))


def _report(request_id: int, controls: list[StoredControl], tbc: bool) -> ReportDERControlRequest:
    """One ReportDERControl of ``controls`` (at most :data:`REPORT_CHUNK`)."""
    lists: dict[str, list[Any]] = {}
    for c in controls:
        kind = c.control_type
        if kind in _CURVE_TYPES:
            lists.setdefault("curve", []).append(DERCurveGet(curve=c.setting, id=c.id, curve_type=kind,
                                                             is_default=c.is_default, is_superseded=c.superseded))
        elif kind == DERControl.ENTER_SERVICE:
            lists.setdefault("enter_service", []).append(EnterServiceGet(enter_service=c.setting, id=c.id))
        elif kind == DERControl.FREQ_DROOP:
            lists.setdefault("freq_droop", []).append(FreqDroopGet(freq_droop=c.setting, id=c.id,
                                                                   is_default=c.is_default,
                                                                   is_superseded=c.superseded))
        elif kind in (DERControl.FIXED_PF_ABSORB, DERControl.FIXED_PF_INJECT):
            name = "fixed_pf_absorb" if kind == DERControl.FIXED_PF_ABSORB else "fixed_pf_inject"
            lists.setdefault(name, []).append(FixedPFGet(fixed_pf=c.setting, id=c.id, is_default=c.is_default,
                                                         is_superseded=c.superseded))
        elif kind == DERControl.FIXED_VAR:
            lists.setdefault("fixed_var", []).append(FixedVarGet(fixed_var=c.setting, id=c.id,
                                                                 is_default=c.is_default,
                                                                 is_superseded=c.superseded))
        elif kind == DERControl.GRADIENTS:
            lists.setdefault("gradient", []).append(GradientGet(gradient=c.setting, id=c.id))
        else:
            lists.setdefault("limit_max_discharge", []).append(LimitMaxDischargeGet(
                id=c.id, is_default=c.is_default, is_superseded=c.superseded, limit_max_discharge=c.setting))
    return ReportDERControlRequest(
        request_id=request_id,
        curve=lists.get("curve", UNSET),
        enter_service=lists.get("enter_service", UNSET),
        fixed_pf_absorb=lists.get("fixed_pf_absorb", UNSET),
        fixed_pf_inject=lists.get("fixed_pf_inject", UNSET),
        fixed_var=lists.get("fixed_var", UNSET),
        freq_droop=lists.get("freq_droop", UNSET),
        gradient=lists.get("gradient", UNSET),
        limit_max_discharge=lists.get("limit_max_discharge", UNSET),
        tbc=True if tbc else UNSET,
    )


class DerControls:
    """The DER controls of one 2.1 station whose profile switches DER control on.

    Args:
        dialect: the station's 2.1 dialect.
    """

    __slots__ = ("controls", "dialect", "grid_events")

    def __init__(self, dialect: V21Dialect) -> None:
        self.dialect = dialect
        #: control id -> the control, in the order they were set
        self.controls: dict[str, StoredControl] = {}
        #: simulated grid events so far
        self.grid_events = 0

    # ----------------------------------------------------------------- Set

    def set(self, request: SetDERControlRequest) -> SetDERControlResponse:
        """SetDERControl (R04.FR.02 to .08): store it, supersede per priority, arm its timers."""
        setting = _setting_of(request)
        if setting is UNSET:
            return SetDERControlResponse(status=DERControlStatus.REJECTED,
                                         status_info=StatusInfo(reason_code="MissingControl"))
        now = self.dialect.station.clock()
        self._remove(request.control_id)
        new = StoredControl(request, setting, now)
        superseded: list[str] = []
        for old in self.controls.values():
            if old.control_type != new.control_type or old.is_default != new.is_default or old.superseded:
                continue
            if old.priority > new.priority:
                if old.active:
                    new.supersedes.append(old)  # R04.FR.07: at the start of the new one
                else:
                    old.superseded = True  # R04.FR.03, .06
                    superseded.append(old.id)
            elif old.priority < new.priority and (old.active or new.is_default):
                new.superseded = True  # R04.FR.08
                superseded.append(new.id)
        self.controls[new.id] = new
        self._arm(new, now)
        self._changed(new.control_type)
        return SetDERControlResponse(status=DERControlStatus.ACCEPTED, superseded_ids=superseded[:24] or UNSET)

    def _arm(self, control: StoredControl, now: datetime.datetime) -> None:
        if control.is_default or control.start is None:
            return
        station = self.dialect.station
        delay = max(0.0, (control.start - now).total_seconds())
        station.set_timer(("der-start", control.id), delay, lambda: self._started(control))

    def _started(self, control: StoredControl) -> None:
        if self.controls.get(control.id) is not control:
            return
        station = self.dialect.station
        end = control.end
        if end is not None:
            assert control.start is not None  # (measured from the start: its timer fired then)
            delay = max(0.0, (end - max(control.start, station.clock())).total_seconds())
            station.set_timer(("der-stop", control.id), delay, lambda: self._ended(control))
        if control.superseded:
            return  # R04.FR.09: never executed
        control.active = True
        replaced = [old.id for old in control.supersedes if self.controls.get(old.id) is old and old.active]
        for old in control.supersedes:
            old.superseded = True
            old.active = False
        control.supersedes = []
        assert control.start is not None
        station.send(NotifyDERStartStopRequest(control_id=control.id, started=True, timestamp=control.start,
                                               superseded_ids=replaced[:24] or UNSET))
        self._changed(control.control_type)

    def _ended(self, control: StoredControl) -> None:
        if self.controls.get(control.id) is not control:
            return
        del self.controls[control.id]  # R04.FR.10
        self._changed(control.control_type)
        if control.active:
            end = control.end
            assert end is not None
            self.dialect.station.send(NotifyDERStartStopRequest(control_id=control.id, started=False,
                                                                timestamp=end))

    def _remove(self, control_id: str) -> None:
        removed = self.controls.pop(control_id, None)
        if removed is not None:
            self.dialect.station.cancel_timer(("der-start", control_id))
            self.dialect.station.cancel_timer(("der-stop", control_id))
            self._changed(removed.control_type)

    def _changed(self, control_type: DERControl) -> None:
        self.dialect.station.touch()  # (the snapshot lists the controls)
        if control_type == DERControl.LIMIT_MAX_DISCHARGE:
            self.dialect.station.defer(self.dialect.limits_changed)

    def discharge_share(self) -> float | None:
        """The ``pctMaxDischargePower`` of the LimitMaxDischarge in force (an active scheduled
        one before the default; R04.FR.11), percent; None if none limits."""
        for scheduled in (True, False):
            for c in self.controls.values():
                if (c.control_type == DERControl.LIMIT_MAX_DISCHARGE and not c.superseded
                        and (c.active if scheduled else c.is_default)
                        and c.setting.pct_max_discharge_power is not UNSET):
                    return float(c.setting.pct_max_discharge_power)
        return None

    def snapshot(self) -> tuple[DerControlSnapshot, ...]:
        """The controls held, in the order they were set; ``active``: in force now (a
        started scheduled control, or a default one), not superseded."""
        return tuple(
            DerControlSnapshot(control_id=c.id, control_type=str(c.control_type),
                               active=(c.active or c.is_default) and not c.superseded,
                               is_default=c.is_default, superseded=c.superseded)
            for c in self.controls.values()
        )

    # ----------------------------------------------------------------- Get, Clear

    def get(self, request: GetDERControlRequest) -> GetDERControlResponse:
        """GetDERControl (R04.FR.30 to .36): Accepted and the matching controls reported in
        ReportDERControl messages, or NotFound."""
        found = [c for c in self.controls.values()
                 if c.matches(request.is_default, request.control_type, request.control_id)]
        if not found:
            return GetDERControlResponse(status=DERControlStatus.NOT_FOUND)
        chunks = [found[i:i + REPORT_CHUNK] for i in range(0, len(found), REPORT_CHUNK)]
        for n, chunk in enumerate(chunks):
            self.dialect.station.send(_report(request.request_id, chunk, n < len(chunks) - 1), followup=True)
        return GetDERControlResponse(status=DERControlStatus.ACCEPTED)

    def clear(self, request: ClearDERControlRequest) -> ClearDERControlResponse:
        """ClearDERControl (R04.FR.41 to .45): the matching controls removed, or NotFound."""
        found = [c.id for c in self.controls.values()
                 if c.matches(request.is_default, request.control_type, request.control_id)]
        if not found:
            return ClearDERControlResponse(status=DERControlStatus.NOT_FOUND)
        for control_id in found:
            self._remove(control_id)
        return ClearDERControlResponse(status=DERControlStatus.ACCEPTED)

    # ----------------------------------------------------------------- grid events

    def arm_grid_events(self) -> None:
        """Start the simulated grid events (the profile's ``der.grid_event_interval``; once)."""
        interval = self.dialect.station.profile.der.grid_event_interval
        if interval > 0 and not self.dialect.station.has_timer("der-grid-event"):
            self.dialect.station.sim_timer("der-grid-event", interval, self._grid_event)

    def _grid_event(self) -> None:
        self.grid_event()
        self.arm_grid_events()

    def grid_event(self) -> None:
        """A simulated grid event: a NotifyDERAlarm on the type of the first control in
        force (FreqDroop when none is), alternately an alarm and its end; the faults
        taken in turn from :data:`GRID_EVENTS`."""
        n = self.grid_events
        self.grid_events += 1
        in_force = [c for c in self.controls.values() if not c.superseded and (c.active or c.is_default)]
        kind = in_force[0].control_type if in_force else DERControl.FREQ_DROOP
        station = self.dialect.station
        if not station.online():
            return
        station.send(NotifyDERAlarmRequest(
            control_type=kind, timestamp=station.clock(), grid_event_fault=GRID_EVENTS[(n // 2) % len(GRID_EVENTS)],
            alarm_ended=True if n % 2 else UNSET,
        ))


# ----------------------------------------------------------------- handlers


def _controls(dialect: V21Dialect) -> DerControls:
    der = dialect.der
    assert der is not None
    return der


def set_der_control(dialect: V21Dialect, request: SetDERControlRequest) -> SetDERControlResponse:
    """SetDERControl: see :meth:`DerControls.set`."""
    return _controls(dialect).set(request)


def get_der_control(dialect: V21Dialect, request: GetDERControlRequest) -> GetDERControlResponse:
    """GetDERControl: see :meth:`DerControls.get`."""
    return _controls(dialect).get(request)


def clear_der_control(dialect: V21Dialect, request: ClearDERControlRequest) -> ClearDERControlResponse:
    """ClearDERControl: see :meth:`DerControls.clear`."""
    return _controls(dialect).clear(request)
