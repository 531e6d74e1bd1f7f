"""OCPP 2.1 dynamic charging profiles and priority charging (use cases K28, K21): a 2.1
station whose profile switches them on, against fleet's CSMS over real websockets on
127.0.0.1. The limits are checked on the power the simulated EVSE delivers.
"""

from __future__ import annotations

from typing import Any

import trio
from waiting import wait_until

from fleet.actors.csms import open_csms
from fleet.actors.station import Station, open_station
from fleet.ocpp import v21
from fleet.profiles import (
    DynamicCharging,
    RetryBackoff,
    Security,
    SessionGenerator,
    StationProfile,
    VehicleProfile,
)

SPEED = 100.0


def dynamic_profile(**changes: Any) -> StationProfile:
    fields: dict[str, Any] = {
        "ocpp_version": "2.1",
        "sessions": SessionGenerator(enabled=False, energy_demand=50000.0),
        "retry_backoff": RetryBackoff(wait_minimum=1, repeat_times=2, random_range=0),
        "ping_interval": 0,
        "security": Security(profile=0, password=None),
        "vehicle": VehicleProfile(battery_capacity=90000.0, max_power=11000.0, initial_soc=10.0),
        "dynamic_charging": DynamicCharging(enabled=True),
    }
    fields.update(changes)
    return StationProfile(**fields)


def charging_profile(profile_id: int, purpose: str, kind: str, limit: float, *, stack_level: int = 1,
                     **extra: Any) -> v21.ChargingProfile:
    return v21.ChargingProfile(
        id=profile_id, stack_level=stack_level, charging_profile_purpose=v21.ChargingProfilePurpose(purpose),
        charging_profile_kind=v21.ChargingProfileKind(kind),
        charging_schedule=[v21.ChargingSchedule(id=profile_id, charging_rate_unit=v21.ChargingRateUnit.W,
                                                charging_schedule_period=[v21.ChargingSchedulePeriod(start_period=0,
                                                                                                     limit=limit)])],
        **extra,
    )


async def power_is(station: Station, watts: float) -> None:
    with trio.fail_after(10):
        await station.wait_until(lambda s: abs(s.evses[0].power_w - watts) < 1)


async def start_charging(station: Station) -> str:
    await station.wait_until(lambda s: s.state == "available")
    await station.plug(1)
    await station.start_transaction(1, "TOKEN-21")
    await station.wait_until(lambda s: s.evses[0].transaction_id is not None)
    tx_id = station.snapshot().evses[0].transaction_id
    assert tx_id is not None
    return tx_id


async def test_update_dynamic_schedule_changes_the_limit_of_a_dynamic_profile_at_once() -> None:
    async with open_csms(port=0) as csms, open_station(
        "DYN-1", csms.url, profile=dynamic_profile(), speed=SPEED, protocol_speed=SPEED,
    ) as station:
        await start_charging(station)
        await power_is(station, 11000)
        for request in (
            v21.SetChargingProfileRequest(evse_id=1, charging_profile=charging_profile(10, "TxDefaultProfile",
                                                                                       "Dynamic", 3000)),
            v21.SetChargingProfileRequest(evse_id=0, charging_profile=charging_profile(11, "ChargingStationMaxProfile",
                                                                                       "Absolute", 9000)),
        ):
            assert (await csms.call("DYN-1", request)).status == "Accepted"
        await power_is(station, 3000)

        async def update(profile_id: int, **values: float) -> str:
            answer = await csms.call("DYN-1", v21.UpdateDynamicScheduleRequest(
                charging_profile_id=profile_id, schedule_update=v21.ChargingScheduleUpdate(**values)))
            return str(answer.status) + (f" {answer.status_info.reason_code}" if answer.status_info else "")

        assert await update(10, limit=5000.0) == "Accepted"
        await power_is(station, 5000)
        assert await update(10, limit=10000.0) == "Accepted"
        await power_is(station, 9000)  # the station maximum still applies
        assert await update(11, limit=1000.0) == "Rejected InvalidProfile"  # not Dynamic
        assert await update(99, limit=1000.0) == "Rejected UnknownProfile"
        installed = await csms.call("DYN-1", v21.GetChargingProfilesRequest(
            request_id=1, charging_profile=v21.ChargingProfileCriterion(charging_profile_id=[10])))
        assert installed.status == "Accepted"


async def test_a_dynamic_profile_with_an_update_interval_pulls_its_updates() -> None:
    pulls: list[int] = []
    async with open_csms(port=0) as csms, open_station(
        "DYN-2", csms.url, profile=dynamic_profile(), speed=SPEED, protocol_speed=SPEED,
    ) as station:

        def pull(request: v21.PullDynamicScheduleUpdateRequest, ctx: Any) -> v21.PullDynamicScheduleUpdateResponse:
            pulls.append(request.charging_profile_id)
            return v21.PullDynamicScheduleUpdateResponse(
                status=v21.ChargingProfileStatus.ACCEPTED,
                schedule_update=v21.ChargingScheduleUpdate(limit=4000.0 + 100 * len(pulls)))

        csms.on("PullDynamicScheduleUpdate", pull)
        await start_charging(station)
        profile = charging_profile(20, "TxDefaultProfile", "Dynamic", 2000, dyn_update_interval=60)
        assert (await csms.call("DYN-2", v21.SetChargingProfileRequest(evse_id=1, charging_profile=profile))).status \
            == "Accepted"
        await wait_until(lambda: len(pulls) >= 3, timeout=10, what="three pulls (one every 60 s / 100)")
        assert set(pulls) == {20}
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.evses[0].power_w > 4000)
        cleared = await csms.call("DYN-2", v21.ClearChargingProfileRequest(charging_profile_id=20))
        assert cleared.status == "Accepted"
        await trio.sleep(0.05)  # (the clear reaches the main loop)
        count = len(pulls)
        await trio.sleep(2)  # two intervals: a cleared profile is not pulled any more
        assert len(pulls) <= count + 1


async def test_use_priority_charging_switches_a_transaction_to_the_priority_profile_and_back() -> None:
    async with open_csms(port=0) as csms, open_station(
        "PRIO-1", csms.url, profile=dynamic_profile(), speed=SPEED, protocol_speed=SPEED,
    ) as station:
        tx_id = await start_charging(station)

        async def use(transaction_id: str, activate: bool) -> str:
            answer = await csms.call("PRIO-1", v21.UsePriorityChargingRequest(transaction_id=transaction_id,
                                                                             activate=activate))
            return str(answer.status) + (f" {answer.status_info.reason_code}" if answer.status_info else "")

        assert await use(tx_id, True) == "NoProfile NotFound"  # no PriorityCharging profile yet
        assert await use("no-such-transaction", True) == "Rejected TxNotFound"
        for request in (
            v21.SetChargingProfileRequest(evse_id=1, charging_profile=charging_profile(30, "TxDefaultProfile",
                                                                                       "Absolute", 2000)),
            v21.SetChargingProfileRequest(evse_id=0, charging_profile=charging_profile(31, "PriorityCharging",
                                                                                       "Absolute", 7000)),
        ):
            assert (await csms.call("PRIO-1", request)).status == "Accepted"
        await power_is(station, 2000)
        assert await use(tx_id, True) == "Accepted"
        await power_is(station, 7000)  # the priority profile instead of the TxDefaultProfile
        record = await wait_until(lambda: csms.station("PRIO-1").transactions[tx_id].priority_charging,
                                  what="NotifyPriorityCharging activated")
        assert record is True
        assert await use(tx_id, False) == "Accepted"
        await power_is(station, 2000)
        await wait_until(lambda: csms.station("PRIO-1").transactions[tx_id].priority_charging is False,
                         what="NotifyPriorityCharging deactivated")
        assert csms.station("PRIO-1").messages["NotifyPriorityCharging"] == 2


async def test_a_station_without_dynamic_charging_keeps_the_fixed_answers() -> None:
    async with open_csms(port=0) as csms, open_station(
        "DYN-OFF", csms.url, profile=dynamic_profile(dynamic_charging=DynamicCharging(enabled=False)), speed=SPEED,
        protocol_speed=SPEED,
    ) as station:
        tx_id = await start_charging(station)
        answer = await csms.call("DYN-OFF", v21.UsePriorityChargingRequest(transaction_id=tx_id, activate=True))
        assert answer.status == "NoProfile"
        update = await csms.call("DYN-OFF", v21.UpdateDynamicScheduleRequest(
            charging_profile_id=1, schedule_update=v21.ChargingScheduleUpdate(limit=1.0)))
        assert update.status == "Rejected"
