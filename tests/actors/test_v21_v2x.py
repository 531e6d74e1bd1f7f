"""OCPP 2.1 bidirectional charging (V2X) over real websockets on 127.0.0.1, against fleet's CSMS.

A V2X vehicle on a bidirectional DC EVSE announces its charging needs (NotifyEVChargingNeeds
with its V2X parameters), follows the operation mode of the transaction's charging profile
(Idle, a central discharge setpoint, ChargingOnly), stops discharging when
NotifyAllowedEnergyTransfer no longer allows a bidirectional mode; its power goes negative
and its export register up, the snapshot shows it, the CSMS records the exported energy
and the nothing-lost audit compares it. The physics without sockets, and the profile check.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import trio
from test_v21 import SPEED, check_2_1_frames, profile, sent_frames
from waiting import wait_until

from fleet.actors.csms import Csms, open_csms
from fleet.actors.station import Station, load_profile, open_station
from fleet.actors.station.hardware import EvseState, Vehicle
from fleet.actors.station.v21.dialect import V21Dialect
from fleet.malformed import random_request
from fleet.net.ocpp_log import OcppLog
from fleet.ocpp import V21, v21
from fleet.profiles import DerSpec, EvseProfile, ProfileError, SampledData, VehicleProfile
from fleet.run.audit import audit_transactions
from fleet.run.csms_worker import csms_records

REPO = Path(__file__).resolve().parents[2]
MEASURANDS = ["Energy.Active.Import.Register", "Energy.Active.Export.Register", "Power.Active.Import", "SoC"]


def v2x_profile(**changes: Any) -> Any:
    """A 2.1 DC station whose EVSE and vehicles can discharge (10 kW at most, down to 20 %)."""
    fields: dict[str, Any] = {
        "evses": [EvseProfile(max_power=50000.0, voltage=400.0, current_type="DC", bidirectional=True,
                              max_discharge_power=20000.0)],
        "vehicle": VehicleProfile(battery_capacity=60000.0, max_power=40000.0, initial_soc=60.0,
                                  bidirectional_share=1.0, max_discharge_power=10000.0, min_soc=20.0),
        "sampled_data": SampledData(tx_updated_interval=10, tx_started_measurands=MEASURANDS,
                                    tx_updated_measurands=MEASURANDS, tx_ended_measurands=MEASURANDS),
        "seq_no": "transaction",
    }
    fields.update(changes)
    return profile(**fields)


def tx_profile(transaction_id: str, period: v21.ChargingSchedulePeriod) -> v21.SetChargingProfileRequest:
    """A TxProfile (id 1: each replaces the last) of one period for the transaction."""
    return v21.SetChargingProfileRequest(evse_id=1, charging_profile=v21.ChargingProfile(
        id=1, stack_level=0, charging_profile_purpose=v21.ChargingProfilePurpose.TX_PROFILE,
        charging_profile_kind=v21.ChargingProfileKind.RELATIVE, transaction_id=transaction_id,
        charging_schedule=[v21.ChargingSchedule(id=1, charging_rate_unit=v21.ChargingRateUnit.W,
                                                charging_schedule_period=[period])]))


# ------------------------------------------------------------------ without sockets


def test_a_discharging_vehicle_gives_energy_to_the_export_register_down_to_its_minimum_soc() -> None:
    evse = EvseState(1, EvseProfile(max_power=50000.0, current_type="DC", voltage=400.0, bidirectional=True,
                                    max_discharge_power=20000.0))
    evse.vehicle = Vehicle(60000.0, 40000.0, 30.0, 10000.0, max_discharge_w=10000.0, min_soc=20.0)
    evse.plugged, evse.authorized = 1, object()
    assert evse.target_power(True) == 40000.0  # no setpoint: charges as allowed (2.0.1's behaviour)
    evse.setpoint_w = -15000.0
    assert evse.target_power(True) == -10000.0  # the vehicle gives 10 kW at most
    evse.discharge_limit_w = 4000.0
    evse.power_w = evse.target_power(True)
    assert evse.power_w == -4000.0 and evse.current_a() == -10.0
    evse.advance(3600.0, 1.0)  # an hour at 4 kW, but only 6 kWh above 20 %
    assert evse.export_wh == pytest.approx(4000.0) and evse.register_wh == 0.0
    assert evse.vehicle.soc == pytest.approx(30.0 - 100.0 * 4000.0 / 60000.0)
    assert evse.seconds_to_full(1.0) == pytest.approx(2000.0 / 4000.0 * 3600.0)
    evse.advance(7200.0, 1.0)
    assert evse.export_wh == pytest.approx(6000.0) and evse.vehicle.soc == pytest.approx(20.0)
    assert evse.target_power(True) == 0.0  # at its minimum: no more
    evse.setpoint_w = 0.0
    assert evse.target_power(True) == 0.0  # Idle
    evse.setpoint_w = 2500.0
    assert evse.target_power(True) == 2500.0  # a positive setpoint charges, capped by the limits
    evse.limit_w = 1000.0
    assert evse.target_power(True) == 1000.0
    one_way = EvseState(1, EvseProfile(max_power=50000.0, current_type="DC"))
    one_way.vehicle, one_way.plugged, one_way.authorized = evse.vehicle, 1, object()
    one_way.setpoint_w = -5000.0
    assert one_way.target_power(True) == 0.0  # not a bidirectional EVSE


def test_a_profile_that_switches_v2x_or_der_on_must_offer_a_version_that_simulates_them(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('ocpp_version = "2.0.1"\n\n[[evses]]\nmax_power = 11000\nbidirectional = true\n')
    with pytest.raises(ProfileError, match=r"p\.toml:5: `\$\.evses\[0\]\.bidirectional`: .*v2x \(2\.1\), got 2\.0\.1"):
        load_profile(path)
    path.write_text('ocpp_version = ["2.1", "2.0.1"]\n\n[[evses]]\nbidirectional = true\n')
    assert load_profile(path).features() == {"v2x": "$.evses[0].bidirectional"}
    path.write_text('ocpp_version = "1.6"\n\n[der]\nenabled = true\n')
    with pytest.raises(ProfileError, match=r"`\$\.der\.enabled`: .*der \(2\.1\), got 1\.6"):
        load_profile(path)
    path.write_text('ocpp_version = "2.0.1"\n\n[vehicle]\nbidirectional_share = 0.3\n')
    with pytest.raises(ProfileError, match=r"`\$\.vehicle\.bidirectional_share`"):
        load_profile(path)
    shipped = load_profile(REPO / "profiles" / "dc-v2x-21.toml")
    assert shipped.features() == {"v2x": "$.evses[0].bidirectional", "der": "$.der.enabled"}
    assert shipped.der == DerSpec(enabled=True, grid_event_interval=7200.0)


def test_audit_compares_the_exported_energy() -> None:
    sent = {"S": {"t": {"seq": [0, 1], "energy": 10.0, "export": 500.0}}}
    assert audit_transactions(sent, {"S": {"t": {"seq": [0, 1], "energy": 10.0, "export": 500.0}}})["ok"]
    for recorded in ({"seq": [0, 1], "energy": 10.0}, {"seq": [0, 1], "energy": 10.0, "export": 400.0}):
        result = audit_transactions(sent, {"S": {"t": recorded}})
        assert not result["ok"] and result["energy_mismatches"] == 1
        assert "exported energy sent 500.0 Wh" in result["problems"][0]


# ------------------------------------------------------------------ over websockets


async def test_a_v2x_session_discharges_to_a_central_setpoint_and_the_csms_records_the_export(tmp_path: Path) -> None:
    log_path = tmp_path / "station.jsonl"
    needs: list[v21.NotifyEVChargingNeedsRequest] = []
    with OcppLog(log_path, flush_every=1) as log:
        async with open_csms(port=0) as csms, open_station(
            "V2X-1", csms.url, profile=v2x_profile(), speed=SPEED, protocol_speed=SPEED, audit=True, ocpp_log=log,
        ) as station:
            csms.on("NotifyEVChargingNeeds", lambda request, ctx: needs.append(request) or
                    v21.NotifyEVChargingNeedsResponse(status=v21.NotifyEVChargingNeedsStatus.ACCEPTED), version="2.1")
            assert isinstance(station.dialect, V21Dialect) and station.dialect.v2x is not None
            with trio.fail_after(10):
                await station.wait_until(lambda s: s.state == "available")
            await station.plug(1)
            await station.start_transaction(1, "V2X-TOKEN")
            with trio.fail_after(10):
                snapshot = await station.wait_until(lambda s: s.evses[0].power_w == 40000.0)
            await wait_until(lambda: needs, timeout=10, what="NotifyEVChargingNeeds")
            tx_id = snapshot.evses[0].transaction_id
            assert tx_id is not None
            charging_needs = needs[0].charging_needs
            assert charging_needs.requested_energy_transfer == "DC_BPT"
            assert charging_needs.available_energy_transfer == ["DC_BPT", "DC"]
            parameters = charging_needs.v2x_charging_parameters
            assert isinstance(parameters, v21.V2XChargingParameters)
            assert (parameters.max_discharge_power, parameters.max_charge_power) == (10000.0, 40000.0)
            assert parameters.ev_min_v2x_energy_request == pytest.approx(-24000.0, abs=500.0)  # 60 % -> 20 % of 60 kWh

            idle = await csms.call("V2X-1", tx_profile(tx_id, v21.ChargingSchedulePeriod(
                start_period=0, operation_mode=v21.OperationMode.IDLE)))
            assert idle.status == "Accepted"
            with trio.fail_after(10):
                snapshot = await station.wait_until(lambda s: s.evses[0].power_w == 0.0)
            assert snapshot.evses[0].charging_state == "SuspendedEVSE"
            outside = await csms.call("V2X-1", tx_profile(tx_id, v21.ChargingSchedulePeriod(
                start_period=0, operation_mode=v21.OperationMode.CENTRAL_SETPOINT, setpoint=-8000.0,
                discharge_limit=-5000.0)))
            assert outside.status == "Rejected" and outside.status_info.reason_code == "InvalidSchedule"  # V2X.05
            discharge = await csms.call("V2X-1", tx_profile(tx_id, v21.ChargingSchedulePeriod(
                start_period=0, operation_mode=v21.OperationMode.CENTRAL_SETPOINT, setpoint=-8000.0,
                discharge_limit=-9000.0, limit=11000.0)))
            assert discharge.status == "Accepted"
            with trio.fail_after(10):
                snapshot = await station.wait_until(lambda s: s.evses[0].power_w == -8000.0)
                snapshot = await station.wait_until(lambda s: s.evses[0].export_wh > 200.0)
            evse = snapshot.evses[0]
            assert evse.charging_state == "Charging" and evse.soc is not None and evse.soc < 60.0
            assert snapshot.state == "charging"  # a transaction transferring energy, the other way

            refused = await csms.call("V2X-1", v21.NotifyAllowedEnergyTransferRequest(
                transaction_id="no-such-transaction", allowed_energy_transfer=[v21.EnergyTransferMode.DC]))
            assert refused.status == "Rejected"
            allowed = await csms.call("V2X-1", v21.NotifyAllowedEnergyTransferRequest(
                transaction_id=tx_id, allowed_energy_transfer=[v21.EnergyTransferMode.DC]))
            assert allowed.status == "Accepted"
            with trio.fail_after(10):  # no bidirectional mode allowed: the setpoint is capped at 0
                await station.wait_until(lambda s: s.evses[0].power_w == 0.0)
            await csms.call("V2X-1", v21.NotifyAllowedEnergyTransferRequest(
                transaction_id=tx_id, allowed_energy_transfer=[v21.EnergyTransferMode.DC_BPT]))
            with trio.fail_after(10):
                await station.wait_until(lambda s: s.evses[0].power_w == -8000.0)
            charge = await csms.call("V2X-1", tx_profile(tx_id, v21.ChargingSchedulePeriod(
                start_period=0, operation_mode=v21.OperationMode.CHARGING_ONLY, limit=5000.0)))
            assert charge.status == "Accepted"
            with trio.fail_after(10):
                await station.wait_until(lambda s: s.evses[0].power_w == 5000.0)

            await station.stop_transaction(1)
            await station.unplug(1)
            await wait_until(lambda: (r := csms.station("V2X-1")) and tx_id in r.transactions
                             and r.transactions[tx_id].ended, timeout=10, what="the Ended event at the CSMS")
            sent = station.transaction_records()
            recorded = csms_records(csms)["transactions"]
            state = csms.station("V2X-1")
    assert state is not None
    transaction = state.transactions[tx_id]
    assert sent[tx_id]["export"] == transaction.export_wh and transaction.export_wh is not None
    assert transaction.export_wh > 200.0
    assert recorded["V2X-1"][tx_id]["export"] == transaction.export_wh
    audit = audit_transactions({"V2X-1": sent}, recorded)
    assert audit["ok"] and audit["checked_transactions"] == 1 and audit["energy_mismatches"] == 0, audit
    frames = sent_frames(log_path)
    assert check_2_1_frames(frames, {}) == []
    powers = [s["value"] for f in frames if f[0] == 2 and f[2] == "TransactionEvent"
              for m in f[3].get("meterValue", []) for s in m["sampledValue"] if s.get("measurand") == "Power.Active.Import"]
    assert any(p < 0 for p in powers), powers  # negative power in the meter values while discharging
    assert "ChargingRateChanged" in {f[3]["triggerReason"] for f in frames if f[0] == 2 and f[2] == "TransactionEvent"}


async def test_a_2_1_station_without_v2x_answers_notify_allowed_energy_transfer_rejected() -> None:
    async with open_csms(port=0) as csms, open_station(
        "NOV2X", csms.url, profile=profile(), speed=SPEED, protocol_speed=SPEED,
    ) as station:
        assert isinstance(station.dialect, V21Dialect) and station.dialect.v2x is None
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.state == "available")
        answer = await csms.call("NOV2X", v21.NotifyAllowedEnergyTransferRequest(
            transaction_id="t", allowed_energy_transfer=[v21.EnergyTransferMode.DC_BPT]))
        assert answer.status == "Rejected" and answer.status_info.reason_code == "UnsupportedRequest"


async def _discharging_at_8_kw(csms: Csms, station: Station, station_id: str) -> str:
    """Plug in, start a transaction and have the CSMS set a central discharge setpoint of 8 kW: its id."""
    with trio.fail_after(10):
        await station.wait_until(lambda s: s.state == "available")
    await station.plug(1)
    await station.start_transaction(1, "V2X-TOKEN")
    with trio.fail_after(10):
        snapshot = await station.wait_until(lambda s: s.evses[0].transaction_id is not None)
    tx_id = snapshot.evses[0].transaction_id
    assert tx_id is not None
    assert (await csms.call(station_id, tx_profile(tx_id, v21.ChargingSchedulePeriod(
        start_period=0, operation_mode=v21.OperationMode.CENTRAL_SETPOINT, setpoint=-8000.0)))).status \
        == "Accepted"
    return tx_id


async def test_a_der_limit_max_discharge_caps_the_discharge_and_a_frequency_mode_follows_its_curve() -> None:
    async with open_csms(port=0) as csms, open_station(
        "V2X-DER", csms.url, profile=v2x_profile(der=DerSpec(enabled=True)), speed=SPEED, protocol_speed=SPEED,
    ) as station:
        tx_id = await _discharging_at_8_kw(csms, station, "V2X-DER")
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.evses[0].power_w == -8000.0)
        limit = v21.LimitMaxDischarge(priority=1, pct_max_discharge_power=25.0)
        assert (await csms.call("V2X-DER", v21.SetDERControlRequest(
            is_default=True, control_id="lmd", control_type=v21.DERControl.LIMIT_MAX_DISCHARGE,
            limit_max_discharge=limit))).status == "Accepted"
        with trio.fail_after(10):  # 25 % of the EVSE's 20 kW
            await station.wait_until(lambda s: s.evses[0].power_w == -5000.0)
        assert (await csms.call("V2X-DER", v21.ClearDERControlRequest(is_default=True))).status == "Accepted"
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.evses[0].power_w == -8000.0)
        curve = [v21.V2XFreqWattPoint(frequency=49.8, power=6000.0), v21.V2XFreqWattPoint(frequency=50.1, power=-3000.0)]
        assert (await csms.call("V2X-DER", tx_profile(tx_id, v21.ChargingSchedulePeriod(
            start_period=0, operation_mode=v21.OperationMode.LOCAL_FREQUENCY, v2x_freq_watt_curve=curve,
            v2x_baseline=-1000.0)))).status == "Accepted"
        with trio.fail_after(10):  # the curve at the simulated 50 Hz (0 W) on the baseline
            await station.wait_until(lambda s: s.evses[0].power_w == -1000.0)


async def test_random_valid_v2x_and_der_requests_never_break_a_discharging_station() -> None:
    """Handler fuzz of what V2X and DER control add, on a station discharging in a transaction:
    every answer a CALLRESULT (never a CALLERROR), and the station keeps running its physics."""
    rng = random.Random(2026)
    actions = ("SetChargingProfile", "NotifyAllowedEnergyTransfer", "SetDERControl", "GetDERControl",
               "ClearDERControl", "GetCompositeSchedule", "ClearChargingProfile")
    async with open_csms(port=0) as csms, open_station(
        "V2X-FUZZ", csms.url, profile=v2x_profile(der=DerSpec(enabled=True)), speed=SPEED, protocol_speed=SPEED,
    ) as station:
        await _discharging_at_8_kw(csms, station, "V2X-FUZZ")
        answered = 0
        for action in actions:
            for _ in range(25):
                await csms.call("V2X-FUZZ", random_request(V21, action, rng, optional=0.5), action=action, timeout=5)
                answered += 1
        assert answered == 25 * len(actions)
        assert station.snapshot().last_error in (None, "authorization rejected on EVSE 1")
        assert station.snapshot().connected and station.snapshot().counters.disconnects == 0
