"""OCPP 2.1 aFRR signals (Q08) on a V2X station against fleet's CSMS over real websockets on
127.0.0.1: Rejected (NoSignalWattCurve) without a LocalFrequency period that has a signal-watt
curve, Accepted and applied to the setpoint with one; every frame checked against the official
2.1 schemas."""

from __future__ import annotations

import datetime
from pathlib import Path

import trio
from test_v21 import SPEED, check_2_1_frames, profile, sent_frames
from test_v21_v2x import tx_profile, v2x_profile

from fleet.actors.csms import open_csms
from fleet.actors.station import open_station
from fleet.actors.station.v21.afrr import signal_power
from fleet.net.ocpp_log import OcppLog
from fleet.ocpp import v21


def test_the_signal_watt_curve_is_interpolated_and_flat_beyond_its_ends() -> None:
    curve = [v21.V2XSignalWattPoint(signal=100, power=6000.0), v21.V2XSignalWattPoint(signal=-100, power=-6000.0)]
    assert signal_power(curve, 50) == 3000.0
    assert signal_power(curve, -25) == -1500.0
    assert signal_power(curve, 500) == 6000.0 and signal_power(curve, -500) == -6000.0


async def test_an_afrr_signal_is_refused_without_a_signal_curve_and_applied_with_one(tmp_path: Path) -> None:
    log_path = tmp_path / "afrr.jsonl"
    now = datetime.datetime.now(datetime.UTC)
    with OcppLog(log_path, flush_every=1) as log:
        async with open_csms(port=0) as csms, open_station(
            "AFRR-1", csms.url, profile=v2x_profile(), speed=SPEED, protocol_speed=SPEED, ocpp_log=log,
        ) as station:
            with trio.fail_after(10):
                await station.wait_until(lambda s: s.state == "available")
            refused = await csms.call("AFRR-1", v21.AFRRSignalRequest(timestamp=now, signal=50))
            assert refused.status == "Rejected" and refused.status_info.reason_code == "NoSignalWattCurve"  # Q08.FR.11
            await station.plug(1)
            await station.start_transaction(1, "AFRR-TOKEN")
            with trio.fail_after(10):
                snapshot = await station.wait_until(lambda s: s.evses[0].power_w > 0)
            tx_id = snapshot.evses[0].transaction_id
            assert tx_id is not None
            local = await csms.call("AFRR-1", tx_profile(tx_id, v21.ChargingSchedulePeriod(
                start_period=0, operation_mode=v21.OperationMode.LOCAL_FREQUENCY, v2x_baseline=2000.0,
                v2x_freq_watt_curve=[v21.V2XFreqWattPoint(frequency=49.8, power=5000.0),
                                     v21.V2XFreqWattPoint(frequency=50.2, power=-5000.0)],
                v2x_signal_watt_curve=[v21.V2XSignalWattPoint(signal=-100, power=-6000.0),
                                       v21.V2XSignalWattPoint(signal=100, power=6000.0)])))
            assert local.status == "Accepted"
            with trio.fail_after(10):  # the baseline at the nominal 50 Hz
                await station.wait_until(lambda s: s.evses[0].power_w == 2000.0)
            up = await csms.call("AFRR-1", v21.AFRRSignalRequest(timestamp=now, signal=50))
            assert up.status == "Accepted"
            with trio.fail_after(10):  # Q08.FR.10: +3 kW on top of the setpoint
                await station.wait_until(lambda s: s.evses[0].power_w == 5000.0)
            down = await csms.call("AFRR-1", v21.AFRRSignalRequest(timestamp=now, signal=-100))
            assert down.status == "Accepted"
            with trio.fail_after(10):  # 2 kW - 6 kW: the vehicle discharges
                await station.wait_until(lambda s: s.evses[0].power_w == -4000.0)
    assert check_2_1_frames(sent_frames(log_path), {}) == []


async def test_a_2_1_station_without_v2x_refuses_afrr_signals() -> None:
    async with open_csms(port=0) as csms, open_station("NOAFRR", csms.url, profile=profile(), speed=SPEED) as station:
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.state == "available")
        answer = await csms.call("NOAFRR", v21.AFRRSignalRequest(timestamp=datetime.datetime.now(datetime.UTC),
                                                                 signal=10))
        assert answer.status == "Rejected"
