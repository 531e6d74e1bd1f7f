"""OCPP 2.1 DER control over real websockets on 127.0.0.1, against fleet's CSMS.

SetDERControl, GetDERControl and ClearDERControl on a station whose profile switches DER
control on: stored per station, superseded by priority, reported in ReportDERControl;
NotifyDERStartStop when a scheduled control starts and ends, and NotifyDERAlarm for the
simulated grid events, under trio's MockClock (the controls' times pass at once).
"""

from __future__ import annotations

import datetime
from typing import Any

import trio
import trio.testing
from test_v21 import SPEED, profile
from waiting import wait_until

from fleet.actors.csms import Csms, open_csms
from fleet.actors.station import open_station
from fleet.ocpp import v21
from fleet.profiles import DerSpec


def collect(csms: Csms, action: str, response: Any) -> list[Any]:
    """The requests of ``action`` the CSMS receives from now on (answered with ``response``)."""
    got: list[Any] = []

    def handler(request: Any, ctx: Any) -> Any:
        got.append(request)
        return response

    csms.on(action, handler, version="2.1")
    return got


async def wait_for(items: list[Any], count: int, seconds: float = 10, period: float = 0.01) -> None:
    """Until ``items`` holds ``count`` (MockClock tests look every virtual second: few wake-ups)."""
    await wait_until(lambda: len(items) >= count, timeout=seconds, period=period, what=f"{count} items",
                     show=lambda: items)


def freq_droop(priority: int, start: datetime.datetime | None = None, duration: float | None = None) -> v21.FreqDroop:
    fields: dict[str, Any] = {"priority": priority, "over_freq": 50.2, "under_freq": 49.8, "over_droop": 5.0,
                              "under_droop": 5.0, "response_time": 1.0}
    if start is not None:
        fields["start_time"] = start
    if duration is not None:
        fields["duration"] = duration
    return v21.FreqDroop(**fields)


async def test_der_controls_are_set_reported_superseded_and_cleared() -> None:
    async with open_csms(port=0) as csms, open_station(
        "DER-1", csms.url, profile=profile(der=DerSpec(enabled=True)), speed=SPEED, protocol_speed=SPEED,
    ) as station:
        reports = collect(csms, "ReportDERControl", v21.ReportDERControlResponse())
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.state == "available")
        first = await csms.call("DER-1", v21.SetDERControlRequest(
            is_default=True, control_id="droop-a", control_type=v21.DERControl.FREQ_DROOP, freq_droop=freq_droop(3)))
        assert first.status == "Accepted" and first.superseded_ids is v21.messages.UNSET
        better = await csms.call("DER-1", v21.SetDERControlRequest(
            is_default=True, control_id="droop-b", control_type=v21.DERControl.FREQ_DROOP, freq_droop=freq_droop(1)))
        assert better.status == "Accepted" and better.superseded_ids == ["droop-a"]  # R04.FR.03
        curve = v21.DERCurve(curve_data=[v21.DERCurvePoints(x=0.9, y=40.0), v21.DERCurvePoints(x=1.1, y=-40.0)],
                             priority=2, y_unit=v21.DERUnit.PCT_MAX_VAR)
        assert (await csms.call("DER-1", v21.SetDERControlRequest(
            is_default=True, control_id="voltvar", control_type=v21.DERControl.VOLT_VAR, curve=curve))).status \
            == "Accepted"
        missing = await csms.call("DER-1", v21.SetDERControlRequest(
            is_default=True, control_id="x", control_type=v21.DERControl.FIXED_VAR))
        assert missing.status == "Rejected"

        everything = await csms.call("DER-1", v21.GetDERControlRequest(request_id=7))
        assert everything.status == "Accepted"  # R04.FR.33
        await wait_for(reports, 1)
        report = reports[0]
        assert report.request_id == 7 and report.tbc is v21.messages.UNSET
        assert [(d.id, d.is_default, d.is_superseded) for d in report.freq_droop] == [
            ("droop-a", True, True), ("droop-b", True, False)]
        assert [(c.id, c.curve_type, c.curve.priority) for c in report.curve] == [("voltvar", "VoltVar", 2)]
        by_type = await csms.call("DER-1", v21.GetDERControlRequest(request_id=8,
                                                                    control_type=v21.DERControl.VOLT_VAR))
        assert by_type.status == "Accepted"  # R04.FR.34
        await wait_for(reports, 2)
        assert reports[1].request_id == 8 and reports[1].freq_droop is v21.messages.UNSET
        assert [c.id for c in reports[1].curve] == ["voltvar"]
        none = await csms.call("DER-1", v21.GetDERControlRequest(request_id=9, control_id="nope"))
        assert none.status == "NotFound"  # R04.FR.30

        cleared = await csms.call("DER-1", v21.ClearDERControlRequest(
            is_default=True, control_type=v21.DERControl.FREQ_DROOP))
        assert cleared.status == "Accepted"  # R04.FR.45
        assert (await csms.call("DER-1", v21.ClearDERControlRequest(
            is_default=True, control_type=v21.DERControl.FREQ_DROOP))).status == "NotFound"  # R04.FR.41
        assert (await csms.call("DER-1", v21.ClearDERControlRequest(is_default=False))).status == "NotFound"
        assert (await csms.call("DER-1", v21.GetDERControlRequest(
            request_id=10, control_type=v21.DERControl.FREQ_DROOP))).status == "NotFound"
        assert (await csms.call("DER-1", v21.ClearDERControlRequest(is_default=True))).status == "Accepted"  # FR.44
        assert (await csms.call("DER-1", v21.GetDERControlRequest(request_id=11))).status == "NotFound"
        record = csms.station("DER-1")
        assert record is not None and record.messages.get("ReportDERControl") == 2


async def test_scheduled_der_controls_notify_their_start_and_stop_and_grid_events_raise_alarms(
    autojump_clock: trio.testing.MockClock,
) -> None:
    der = DerSpec(enabled=True, grid_event_interval=3600.0)
    async with open_csms(port=0) as csms, open_station(
        "DER-2", csms.url, profile=profile(der=der), speed=1.0,
    ) as station:
        started_stopped = collect(csms, "NotifyDERStartStop", v21.NotifyDERStartStopResponse())
        alarms = collect(csms, "NotifyDERAlarm", v21.NotifyDERAlarmResponse())
        with trio.fail_after(60):
            await station.wait_until(lambda s: s.state == "available")
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        slow_start = now + datetime.timedelta(seconds=60)
        set_slow = await csms.call("DER-2", v21.SetDERControlRequest(
            is_default=False, control_id="slow", control_type=v21.DERControl.FREQ_DROOP,
            freq_droop=freq_droop(5, slow_start, 1200.0)))
        assert set_slow.status == "Accepted"
        await wait_for(started_stopped, 1, seconds=120, period=1.0)  # R04.FR.20, at its start time
        assert [(n.control_id, n.started, n.timestamp) for n in started_stopped] == [("slow", True, slow_start)]
        # a better control, while "slow" is active: "slow" runs on until the new one starts (R04.FR.07)
        fast_start = slow_start + datetime.timedelta(seconds=300)
        set_fast = await csms.call("DER-2", v21.SetDERControlRequest(
            is_default=False, control_id="fast", control_type=v21.DERControl.FREQ_DROOP,
            freq_droop=freq_droop(1, fast_start, 120.0)))
        assert set_fast.status == "Accepted" and set_fast.superseded_ids is v21.messages.UNSET
        await wait_for(started_stopped, 3, seconds=600, period=1.0)
        assert [(n.control_id, n.started, n.timestamp, n.superseded_ids) for n in started_stopped[1:]] == [
            ("fast", True, fast_start, ["slow"]),  # R04.FR.21
            ("fast", False, fast_start + datetime.timedelta(seconds=120), v21.messages.UNSET),  # R04.FR.22
        ]
        # the ended control is deleted (R04.FR.10); the superseded one stays until its own end
        assert (await csms.call("DER-2", v21.GetDERControlRequest(request_id=1, control_id="fast"))).status \
            == "NotFound"
        assert (await csms.call("DER-2", v21.GetDERControlRequest(request_id=2, control_id="slow"))).status \
            == "Accepted"
        await wait_for(alarms, 2, seconds=3 * 3600, period=10.0)
        assert [(a.grid_event_fault, a.alarm_ended) for a in alarms[:2]] == [
            ("OverVoltage", v21.messages.UNSET), ("OverVoltage", True)]
        assert alarms[0].control_type == "FreqDroop"
        assert len(started_stopped) == 3  # the superseded "slow" never reports a stop


async def test_a_control_lasting_beyond_the_calendar_is_accepted_and_never_ends() -> None:
    async with open_csms(port=0) as csms, open_station(
        "DER-3", csms.url, profile=profile(der=DerSpec(enabled=True)), speed=SPEED, protocol_speed=SPEED,
    ) as station:
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.state == "available")
        answer = await csms.call("DER-3", v21.SetDERControlRequest(
            is_default=False, control_id="forever", control_type=v21.DERControl.FREQ_DROOP,
            freq_droop=freq_droop(1, duration=1e300)))
        assert answer.status == "Accepted"
        assert (await csms.call("DER-3", v21.GetDERControlRequest(request_id=1))).status == "Accepted"
        assert station.snapshot().connected and station.snapshot().last_error is None
