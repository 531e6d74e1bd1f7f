"""The station actor over real websockets on 127.0.0.1 (port 0), against a test CSMS.

The CSMS here is ``tests/actors/station_helpers.py`` (serve_ocpp + OcppConnection +
Session with handlers the tests control), so these tests do not depend on the
CSMS actor. Stations run with ``speed`` > 1 so that OCPP intervals in whole
seconds take a fraction of a real second.
"""

from __future__ import annotations

import datetime
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
from station_helpers import TestCsms, minimal, now, open_test_csms
from waiting import wait_state, wait_until

from fleet.actors.station import Station, backoff_base, backoff_delay, open_station
from fleet.actors.station.v201.handlers import CSMS_INITIATED, HANDLERS, STATION_INITIATED
from fleet.net.connection import ping_phase
from fleet.net.events import OcppMessage
from fleet.ocpp import ConnectionLost, v201
from fleet.profiles import (
    ConnectorProfile,
    EvseProfile,
    IdTokenSpec,
    RetryBackoff,
    SampledData,
    Security,
    SessionGenerator,
    StationProfile,
    VehicleProfile,
)

REPO = Path(__file__).resolve().parents[2]
SPEED = 50.0


def quick_profile(**changes: Any) -> StationProfile:
    """A profile for tests: no generator, fast back-off, no pings, 10 s meter values."""
    fields: dict[str, Any] = {
        "sessions": SessionGenerator(enabled=False, energy_demand=100.0),
        "retry_backoff": RetryBackoff(wait_minimum=1, repeat_times=2, random_range=0),
        "ping_interval": 0,
        "reboot_delay": 1.0,
        "sampled_data": SampledData(tx_updated_interval=10),
        "security": Security(profile=0, password=None),
        "vehicle": VehicleProfile(battery_capacity=60000.0, max_power=11000.0, initial_soc=20.0),
        "firmware_step": 1000.0,
    }
    fields.update(changes)
    return StationProfile(**fields)


@pytest.fixture
async def csms() -> Any:
    async with open_test_csms() as server:
        yield server


def events(csms: TestCsms, station_id: str | None = None) -> list[v201.TransactionEventRequest]:
    return csms.requests("TransactionEvent", station_id)


def energy_of(event: v201.TransactionEventRequest) -> float | None:
    for meter in event.meter_value or []:
        for sampled in meter.sampled_value:
            if sampled.measurand == v201.Measurand.ENERGY_ACTIVE_IMPORT_REGISTER:
                return sampled.value
    return None


def power_of(event: v201.TransactionEventRequest) -> float | None:
    for meter in event.meter_value or []:
        for sampled in meter.sampled_value:
            if sampled.measurand == v201.Measurand.POWER_ACTIVE_IMPORT:
                return sampled.value
    return None


def variable(component: str, name: str, *, evse: int | None = None, connector: int | None = None,
             instance: str | None = None) -> tuple[v201.Component, v201.Variable]:
    comp = v201.Component(name=component)
    if evse is not None:
        comp = v201.Component(name=component, evse=v201.EVSE(id=evse, connector_id=connector)
                              if connector is not None else v201.EVSE(id=evse))
    var = v201.Variable(name=name, instance=instance) if instance else v201.Variable(name=name)
    return comp, var


# ------------------------------------------------------------------ back-off


def test_backoff_doubles_up_to_repeat_times_then_stays() -> None:
    assert [backoff_base(k, 2, 2) for k in range(5)] == [2, 4, 8, 8, 8]
    assert [backoff_base(k, 5, 0) for k in range(3)] == [5, 5, 5]
    assert backoff_base(0, 0, 3) == 0
    rng = random.Random(1)
    for attempt in range(6):
        delay = backoff_delay(attempt, 2, 2, 3, rng)
        assert backoff_base(attempt, 2, 2) <= delay <= backoff_base(attempt, 2, 2) + 3
    assert backoff_delay(1, 2, 2, 0, rng) == 4.0


def test_pings_of_stations_connected_together_are_spread_over_the_interval() -> None:
    phases = [ping_phase(f"CS{i:06d}") for i in range(5000)]
    assert all(0 < p <= 1 for p in phases) and ping_phase("CS000001") == phases[1]  # fixed by the id
    per_tenth = [sum(1 for p in phases if k / 10 < p <= (k + 1) / 10) for k in range(10)]
    assert min(per_tenth) > 400 and max(per_tenth) < 600, per_tenth  # about 500 in each tenth


def test_same_seed_same_random_choices() -> None:
    profile = StationProfile()
    a, b = Station("A", "ws://127.0.0.1:1/ocpp", seed=7), Station("A", "ws://127.0.0.1:1/ocpp", seed=7)
    assert a.evses[0].register_wh == b.evses[0].register_wh
    va, vb = a.new_vehicle(), b.new_vehicle()
    assert (va.capacity_wh, va.max_power_w, va.initial_soc, va.demand_wh) == (
        vb.capacity_wh, vb.max_power_w, vb.initial_soc, vb.demand_wh)
    assert [a.driver.pick_token(False).id_token for _ in range(10)] == [b.driver.pick_token(False).id_token for _ in range(10)]
    c = Station("A", "ws://127.0.0.1:1/ocpp", seed=8, profile=profile)
    assert [c.rng.random() for _ in range(3)] != [a.rng.random() for _ in range(3)]


def test_every_action_is_classified_and_every_csms_action_has_a_handler() -> None:
    assert set(v201.ACTIONS) == CSMS_INITIATED | STATION_INITIATED
    assert {"DataTransfer"} == CSMS_INITIATED & STATION_INITIATED
    assert set(HANDLERS) == CSMS_INITIATED


# ----------------------------------------------------------------- boot


async def test_boot_accepted_heartbeats_and_one_status_per_connector(csms: TestCsms) -> None:
    csms.interval = 1
    profile = quick_profile(evses=[EvseProfile(connectors=[ConnectorProfile(), ConnectorProfile()]),
                                   EvseProfile(max_power=22000)])
    assert Station("CS1", csms.url, profile=profile).snapshot().state == "idle"
    async with open_station("CS1", csms.url, profile=profile, speed=20, protocol_speed=20) as station:
        await csms.wait_for("Heartbeat", count=3)
        boot = csms.requests("BootNotification")[0]
        assert boot.reason == v201.BootReason.POWER_UP
        assert boot.charging_station.vendor_name == "fleet"
        assert boot.charging_station.serial_number == "SN-CS1"
        statuses = await csms.wait_for("StatusNotification", count=3)
        assert sorted((s.evse_id, s.connector_id) for s in statuses) == [(1, 1), (1, 2), (2, 1)]
        assert {s.connector_status for s in statuses} == {v201.ConnectorStatus.AVAILABLE}
        assert csms.actions()[0] == "BootNotification"
        await wait_state(station, "available")
        snapshot = station.snapshot()
        assert snapshot.registration == "Accepted" and snapshot.connected
        assert snapshot is station.snapshot()  # cached while nothing changes
        # the heartbeat interval the CSMS gave is the device model's value now
        result = await csms.call("CS1", v201.GetVariablesRequest(get_variable_data=[
            v201.GetVariableData(component=v201.Component(name="OCPPCommCtrlr"),
                                 variable=v201.Variable(name="HeartbeatInterval"))]))
        assert result.get_variable_result[0].attribute_value == "1"
    assert station.snapshot().state == "closed"


async def test_boot_pending_retries_and_answers_csms_meanwhile(csms: TestCsms) -> None:
    answers = iter([v201.RegistrationStatus.PENDING, v201.RegistrationStatus.PENDING])

    def boot(station_id: str, request: Any) -> Any:
        status = next(answers, v201.RegistrationStatus.ACCEPTED)
        return v201.BootNotificationResponse(current_time=now(), interval=2, status=status)

    csms.handlers["BootNotification"] = boot
    async with open_station("CS1", csms.url, profile=quick_profile(), speed=10, protocol_speed=10) as station:
        await wait_state(station, "pending")
        # while Pending the station answers the CSMS, and may send what the CSMS asks for
        reply = await csms.call("CS1", v201.GetVariablesRequest(get_variable_data=[
            v201.GetVariableData(component=v201.Component(name="ChargingStation"),
                                 variable=v201.Variable(name="Model"))]))
        assert reply.get_variable_result[0].attribute_value == "SimAC-11"
        trigger = await csms.call("CS1", v201.TriggerMessageRequest(requested_message=v201.MessageTrigger.BOOT_NOTIFICATION))
        assert trigger.status == v201.TriggerMessageStatus.ACCEPTED
        await csms.wait_for("StatusNotification")
        await wait_state(station, "available")
    actions = csms.actions()
    first_status = actions.index("StatusNotification")
    assert actions[:first_status] == ["BootNotification"] * first_status
    assert first_status >= 3
    reasons = [r.reason for r in csms.requests("BootNotification")]
    assert reasons[0] == v201.BootReason.POWER_UP and v201.BootReason.TRIGGERED in reasons


async def test_boot_rejected_sends_nothing_but_boot(csms: TestCsms) -> None:
    csms.handlers["BootNotification"] = lambda sid, r: v201.BootNotificationResponse(
        current_time=now(), interval=1, status=v201.RegistrationStatus.REJECTED)
    async with open_station("CS1", csms.url, profile=quick_profile(), speed=20, protocol_speed=20) as station:
        await csms.wait_for("BootNotification", count=4)
        await station.plug(1)  # a vehicle arrives: still nothing but BootNotification goes out
        await csms.wait_for("BootNotification", count=6)
        assert station.snapshot().state == "rejected"
    assert set(csms.actions()) == {"BootNotification"}


# ------------------------------------------------------------ transactions


async def test_full_transaction_authorize_started_updated_ended(csms: TestCsms) -> None:
    async with open_station("CS1", csms.url, profile=quick_profile(), speed=SPEED, protocol_speed=SPEED, audit=True) as station:
        await wait_state(station, "available")
        await station.plug(1)
        await station.start_transaction(1, "TOKEN-1")
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.evses[0].charging_state == "SuspendedEV")
        await station.stop_transaction(1)
        await station.unplug(1)
        ended = await csms.wait_for("TransactionEvent", lambda e: e.event_type == "Ended")
        await csms.wait_for("StatusNotification", lambda s: s.connector_status == "Available", count=2)
        # a second transaction: the seqNo goes on
        await station.plug(1)
        await station.start_transaction(1, "TOKEN-1")
        await csms.wait_for("TransactionEvent", lambda e: e.trigger_reason == "Authorized", count=2)
        records = station.transaction_records()

    assert [a.id_token.id_token for a in csms.requests("Authorize")][:2] == ["TOKEN-1", "TOKEN-1"]
    tx_events = events(csms)
    seqs = [e.seq_no for e in tx_events]
    assert seqs == list(range(len(seqs)))
    first_id = tx_events[0].transaction_info.transaction_id
    first = [e for e in tx_events if e.transaction_info.transaction_id == first_id]
    assert first[0].event_type == "Started" and first[0].trigger_reason == "CablePluggedIn"
    assert first[0].transaction_info.charging_state == "EVConnected"
    assert first[0].evse == v201.EVSE(id=1, connector_id=1)
    assert first[0].meter_value[0].sampled_value[0].context == "Transaction.Begin"
    authorized = first[1]
    assert authorized.trigger_reason == "Authorized" and authorized.id_token.id_token == "TOKEN-1"
    assert authorized.transaction_info.charging_state == "Charging"
    periodic = [e for e in first if e.trigger_reason == "MeterValuePeriodic"]
    assert len(periodic) >= 2
    sampled = {s.measurand for s in periodic[0].meter_value[0].sampled_value}
    assert {"Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage", "SoC"} <= sampled
    energies = [energy_of(e) for e in first if energy_of(e) is not None]
    assert energies == sorted(energies) and energies[-1] > energies[0]
    assert any(e.trigger_reason == "ChargingStateChanged" and e.transaction_info.charging_state == "SuspendedEV"
               for e in first)
    last = first[-1]
    assert last is ended[0] or last.event_type == "Ended"
    assert last.event_type == "Ended" and last.trigger_reason == "StopAuthorized"
    assert last.transaction_info.stopped_reason == "Local"
    assert last.meter_value[0].sampled_value[0].context == "Transaction.End"
    assert energy_of(last) == pytest.approx(energies[0] + 100.0, abs=0.2)  # the vehicle's demand
    assert records[first_id]["seq"] == [e.seq_no for e in first]
    assert records[first_id]["energy"] == energy_of(last)
    assert all(e.offline is msgspec.UNSET for e in tx_events)


async def test_remote_start_and_stop(csms: TestCsms) -> None:
    async with open_station("CS1", csms.url, profile=quick_profile(), speed=SPEED, protocol_speed=SPEED) as station:
        await wait_state(station, "available")
        reply = await csms.call("CS1", v201.RequestStartTransactionRequest(
            id_token=v201.IdToken(id_token="REMOTE", type=v201.IdTokenEnum.CENTRAL), remote_start_id=42, evse_id=1))
        assert reply.status == v201.RequestStartStopStatus.ACCEPTED
        started = (await csms.wait_for("TransactionEvent", lambda e: e.event_type == "Started"))[0]
        assert started.trigger_reason == "RemoteStart"
        assert started.transaction_info.remote_start_id == 42
        assert started.id_token.id_token == "REMOTE"
        assert started.transaction_info.charging_state == "Idle"
        await station.plug(1)
        await csms.wait_for("TransactionEvent", lambda e: e.trigger_reason == "CablePluggedIn")
        await csms.wait_for("TransactionEvent", lambda e: e.trigger_reason == "MeterValuePeriodic")
        # a second start on a busy EVSE is refused
        busy = await csms.call("CS1", v201.RequestStartTransactionRequest(
            id_token=v201.IdToken(id_token="OTHER", type=v201.IdTokenEnum.CENTRAL), remote_start_id=43, evse_id=1))
        assert busy.status == v201.RequestStartStopStatus.REJECTED
        tx_id = started.transaction_info.transaction_id
        status = await csms.call("CS1", v201.GetTransactionStatusRequest(transaction_id=tx_id))
        assert status.ongoing_indicator is True
        unknown = await csms.call("CS1", v201.RequestStopTransactionRequest(transaction_id="nope"))
        assert unknown.status == v201.RequestStartStopStatus.REJECTED
        stop = await csms.call("CS1", v201.RequestStopTransactionRequest(transaction_id=tx_id))
        assert stop.status == v201.RequestStartStopStatus.ACCEPTED
        ended = (await csms.wait_for("TransactionEvent", lambda e: e.event_type == "Ended"))[0]
        assert ended.trigger_reason == "RemoteStop" and ended.transaction_info.stopped_reason == "Remote"
        status = await csms.call("CS1", v201.GetTransactionStatusRequest(transaction_id=tx_id))
        assert status.ongoing_indicator is False and status.messages_in_queue is False
    assert csms.requests("Authorize") == []  # AuthorizeRemoteStart is false by default


async def test_invalid_token_is_not_authorized_and_ev_connect_timeout(csms: TestCsms) -> None:
    csms.invalid_tokens.add("BAD")
    profile = quick_profile(variables={"TxCtrlr.EVConnectionTimeOut": 20})
    async with open_station("CS1", csms.url, profile=profile, speed=SPEED, protocol_speed=SPEED) as station:
        await wait_state(station, "available")
        await station.plug(1)
        await station.start_transaction(1, "BAD")
        await csms.wait_for("Authorize")
        await station.unplug(1)
        ended = (await csms.wait_for("TransactionEvent", lambda e: e.event_type == "Ended"))[0]
        assert ended.trigger_reason == "EVCommunicationLost"
        assert ended.transaction_info.stopped_reason == "EVDisconnected"
        # authorized but no cable within EVConnectionTimeOut: the transaction ends with Timeout
        await station.start_transaction(1, "GOOD")
        timeout = await csms.wait_for("TransactionEvent", lambda e: e.event_type == "Ended", count=2)
        assert timeout[1].trigger_reason == "EVConnectTimeout"
        assert timeout[1].transaction_info.stopped_reason == "Timeout"
    assert not any(e.trigger_reason == "Authorized" and e.id_token and e.id_token.id_token == "BAD"
                   for e in events(csms))


# ----------------------------------------------------- connection & offline


async def test_reconnects_after_clean_close_and_close_command_stops_retrying(csms: TestCsms) -> None:
    async with open_station("CS1", csms.url, profile=quick_profile(), speed=20, protocol_speed=20) as station:
        await wait_state(station, "available")
        await csms.close_station("CS1", 1000, "clean close")
        await csms.wait_connected("CS1", connects=2)
        await wait_state(station, "available")
        assert len(csms.requests("BootNotification")) == 1  # a reconnection is not a reboot
        await station.set_retry_backoff(wait_minimum=7, repeat_times=1, random_range=0)
        reply = await csms.call("CS1", v201.GetVariablesRequest(get_variable_data=[
            v201.GetVariableData(component=v201.Component(name="OCPPCommCtrlr"), variable=v201.Variable(name=name))
            for name in ("RetryBackOffWaitMinimum", "RetryBackOffRepeatTimes", "RetryBackOffRandomRange")]))
        assert [r.attribute_value for r in reply.get_variable_result] == ["7", "1", "0"]
        await station.close()
        await wait_state(station, "closed")
        await trio.sleep(0.3)  # time passing is the point: proves a closed station does not reconnect
        assert csms.connects.count("CS1") == 2
        await station.connect()
        await csms.wait_connected("CS1", connects=3)
        await wait_state(station, "available")
        assert station.snapshot().counters.connects == 3


async def test_waits_for_connect_command_when_not_auto_connecting(csms: TestCsms) -> None:
    async with open_station("CS1", "ws://127.0.0.1:9/nowhere", profile=quick_profile(), speed=20, protocol_speed=20,
                            auto_connect=False) as station:
        await trio.sleep(0.1)  # time passing is the point: proves the station does not connect on its own
        assert station.snapshot().state == "idle" and csms.connects == []
        await station.connect(url=csms.url)
        await wait_state(station, "available")


async def test_queued_transaction_events_delivered_in_order_offline(csms: TestCsms) -> None:
    async with open_station("CS1", csms.url, profile=quick_profile(
            sessions=SessionGenerator(enabled=False, energy_demand=5000.0)), speed=SPEED, protocol_speed=SPEED) as station:
        await wait_state(station, "available")
        await station.plug(1)
        await station.start_transaction(1, "TOKEN-1")
        await csms.wait_for("TransactionEvent", lambda e: e.trigger_reason == "Authorized")
        csms.refuse = True  # the CSMS becomes unreachable
        await csms.close_station("CS1")
        await wait_state(station, "offline")
        with trio.fail_after(5):
            await station.wait_until(lambda s: s.queued_events >= 4)
        await station.stop_transaction(1)
        await station.unplug(1)
        assert station.snapshot().queued_events >= 5
        online_count = len(events(csms))
        csms.refuse = False
        ended = await csms.wait_for("TransactionEvent", lambda e: e.event_type == "Ended")
        with trio.fail_after(5):
            await station.wait_until(lambda s: s.queued_events == 0 and s.state == "available")
    assert any(status == 401 for status, _ in csms.refused)
    tx_events = events(csms)
    seqs = [e.seq_no for e in tx_events]
    assert list(dict.fromkeys(seqs)) == list(range(max(seqs) + 1))  # none lost, in order
    assert seqs == sorted(seqs)
    late = tx_events[online_count:]
    assert len(late) >= 5
    assert all(e.offline is True for e in late if e.trigger_reason != "Authorized")
    assert ended[0].transaction_info.stopped_reason == "Local"
    assert len(csms.requests("BootNotification")) == 1


# ------------------------------------------------------------- device model


async def test_get_and_set_variables_statuses(csms: TestCsms) -> None:
    async with open_station("CS1", csms.url, profile=quick_profile(), speed=20, protocol_speed=20) as station:
        await wait_state(station, "available")

        def get(component: str, name: str, attribute: str | None = None, **kw: Any) -> v201.GetVariableData:
            comp, var = variable(component, name, **kw)
            if attribute:
                return v201.GetVariableData(component=comp, variable=var, attribute_type=v201.Attribute(attribute))
            return v201.GetVariableData(component=comp, variable=var)

        reply = await csms.call("CS1", v201.GetVariablesRequest(get_variable_data=[
            get("OCPPCommCtrlr", "HeartbeatInterval"),
            get("NoSuchCtrlr", "HeartbeatInterval"),
            get("OCPPCommCtrlr", "NoSuchVariable"),
            get("OCPPCommCtrlr", "HeartbeatInterval", "Target"),
            get("SecurityCtrlr", "BasicAuthPassword"),
            get("Connector", "ConnectorType", evse=1, connector=1),
            get("EVSE", "Power", "MaxSet", evse=1),
            get("EVSE", "AvailabilityState", evse=2),
            get("OCPPCommCtrlr", "MessageTimeout", instance="Default"),
            get("securityctrlr", "identity"),
        ]))
        statuses = [r.attribute_status for r in reply.get_variable_result]
        assert statuses == ["Accepted", "UnknownComponent", "UnknownVariable", "NotSupportedAttributeType",
                            "Rejected", "Accepted", "Accepted", "UnknownComponent", "Accepted", "Accepted"]
        values = [r.attribute_value for r in reply.get_variable_result]
        assert values[0] == "300" and values[5] == "cType2" and values[6] == "11000.0"
        assert values[8] == "30" and values[9] == "CS1"

        def put(component: str, name: str, value: str, **kw: Any) -> v201.SetVariableData:
            comp, var = variable(component, name, **kw)
            return v201.SetVariableData(attribute_value=value, component=comp, variable=var)

        reply = await csms.call("CS1", v201.SetVariablesRequest(set_variable_data=[
            put("OCPPCommCtrlr", "HeartbeatInterval", "120"),
            put("OCPPCommCtrlr", "HeartbeatInterval", "soon"),
            put("ChargingStation", "Model", "X"),
            put("OCPPCommCtrlr", "NetworkConfigurationPriority", "0"),
            put("TxCtrlr", "TxStartPoint", "PowerPathClosed"),
            put("TxCtrlr", "TxStartPoint", "Whenever"),
            put("Nope", "X", "1"),
            put("SecurityCtrlr", "BasicAuthPassword", "short"),
            put("SampledDataCtrlr", "TxUpdatedInterval", "-5"),
        ]))
        statuses = [r.attribute_status for r in reply.set_variable_result]
        assert statuses == ["Accepted", "Rejected", "Rejected", "RebootRequired", "Accepted", "Rejected",
                            "UnknownComponent", "Rejected", "Rejected"]
        assert station.model.get_int("OCPPCommCtrlr", "HeartbeatInterval") == 120
        # TxStartPoint PowerPathClosed: plugging in alone no longer starts a transaction
        await station.plug(1)
        await csms.wait_for("StatusNotification", lambda s: s.connector_status == "Occupied")
        await station.start_transaction(1, "T")
        started = (await csms.wait_for("TransactionEvent", lambda e: e.event_type == "Started"))[0]
        assert started.trigger_reason == "Authorized"


async def test_basic_auth_password_rotation_reconnects_with_new_password() -> None:
    old, new = "old-password-0123456", "new-password-0123456789"
    async with (
        open_test_csms(passwords={"CS1": old}) as csms,
        open_station("CS1", csms.url, password=old, profile=quick_profile(), speed=20, protocol_speed=20) as station,
    ):
        await wait_state(station, "available")
        reply = await csms.call("CS1", v201.SetVariablesRequest(set_variable_data=[
            v201.SetVariableData(attribute_value=new, component=v201.Component(name="SecurityCtrlr"),
                                 variable=v201.Variable(name="BasicAuthPassword"))]))
        assert reply.set_variable_result[0].attribute_status == "Accepted"
        csms.passwords = {"CS1": new}  # from now on only the new password gets in
        await csms.wait_connected("CS1", connects=2)
        await wait_state(station, "available")
        assert station.password == new
        security = await csms.wait_for("SecurityEventNotification")
        assert security[0].type == "ReconfigurationOfSecurityParameters"
        # a wrong password is refused with 401; the station keeps retrying
        csms.passwords = {"CS1": "something-else-entirely"}
        await csms.close_station("CS1")
        await wait_until(lambda: csms.refused, what="the test CSMS refusing CS1")
        assert csms.refused[0] == (401, "CS1")


async def test_get_base_report_parts_and_get_report_filters(csms: TestCsms) -> None:
    profile = quick_profile(variables={"DeviceDataCtrlr.ItemsPerMessage[GetReport]": 20})
    async with open_station("CS1", csms.url, profile=profile, speed=20, protocol_speed=20) as station:
        await wait_state(station, "available")
        reply = await csms.call("CS1", v201.GetBaseReportRequest(request_id=7, report_base=v201.ReportBase.FULL_INVENTORY))
        assert reply.status == v201.GenericDeviceModelStatus.ACCEPTED
        parts = await csms.wait_for("NotifyReport", lambda r: r.request_id == 7 and not r.tbc)
        parts = [r for r in csms.requests("NotifyReport") if r.request_id == 7]
        assert [p.seq_no for p in parts] == list(range(len(parts)))
        assert all(p.tbc is True for p in parts[:-1]) and parts[-1].tbc is msgspec.UNSET
        assert all(len(p.report_data) <= 20 for p in parts) and len(parts) >= 5
        items = [d for p in parts for d in p.report_data]
        assert len(items) == len(station.model.catalog)
        names = {(d.component.name, d.variable.name) for d in items}
        assert {("OCPPCommCtrlr", "HeartbeatInterval"), ("SecurityCtrlr", "BasicAuthPassword"),
                ("TxCtrlr", "TxStopPoint"), ("AuthCtrlr", "AuthorizeRemoteStart"),
                ("SampledDataCtrlr", "TxUpdatedInterval"), ("LocalAuthListCtrlr", "Enabled")} <= names
        password = next(d for d in items if d.variable.name == "BasicAuthPassword")
        assert password.variable_attribute[0].mutability == "WriteOnly"
        assert password.variable_attribute[0].value is msgspec.UNSET
        connector = next(d for d in items if d.component.name == "Connector")
        assert connector.component.evse == v201.EVSE(id=1, connector_id=1)

        reply = await csms.call("CS1", v201.GetBaseReportRequest(
            request_id=8, report_base=v201.ReportBase.CONFIGURATION_INVENTORY))
        assert reply.status == "Accepted"
        await csms.wait_for("NotifyReport", lambda r: r.request_id == 8 and not r.tbc)
        config = [d for r in csms.requests("NotifyReport") if r.request_id == 8 for d in r.report_data]
        assert config and all(d.variable_attribute[0].mutability != "ReadOnly" for d in config)

        reply = await csms.call("CS1", v201.GetReportRequest(request_id=9, component_variable=[
            v201.ComponentVariable(component=v201.Component(name="OCPPCommCtrlr"))]))
        assert reply.status == "Accepted"
        await csms.wait_for("NotifyReport", lambda r: r.request_id == 9 and not r.tbc)
        filtered = [d for r in csms.requests("NotifyReport") if r.request_id == 9 for d in r.report_data]
        assert {d.component.name for d in filtered} == {"OCPPCommCtrlr"}
        empty = await csms.call("CS1", v201.GetReportRequest(request_id=10, component_variable=[
            v201.ComponentVariable(component=v201.Component(name="Unknown"))]))
        assert empty.status == v201.GenericDeviceModelStatus.EMPTY_RESULT_SET
        available = await csms.call("CS1", v201.GetReportRequest(
            request_id=11, component_criteria=[v201.ComponentCriterion.AVAILABLE]))
        assert available.status == "Accepted"


# ------------------------------------------------------------------ reset


async def test_reset_immediate_ends_transaction_and_boots_with_remote_reset(csms: TestCsms) -> None:
    async with open_station("CS1", csms.url, profile=quick_profile(
            sessions=SessionGenerator(enabled=False, energy_demand=5000.0)), speed=SPEED, protocol_speed=SPEED) as station:
        await wait_state(station, "available")
        await station.plug(1)
        await station.start_transaction(1, "T")
        await csms.wait_for("TransactionEvent", lambda e: e.trigger_reason == "Authorized")
        on_idle = await csms.call("CS1", v201.ResetRequest(type=v201.Reset.ON_IDLE))
        assert on_idle.status == v201.ResetStatus.SCHEDULED
        reply = await csms.call("CS1", v201.ResetRequest(type=v201.Reset.IMMEDIATE))
        assert reply.status == v201.ResetStatus.ACCEPTED
        boots = await csms.wait_for("BootNotification", count=2)
        assert boots[1].reason == v201.BootReason.REMOTE_RESET
        assert boots[1].charging_station == boots[0].charging_station
        ended = (await csms.wait_for("TransactionEvent", lambda e: e.event_type == "Ended"))[0]
        assert ended.trigger_reason == "ResetCommand"
        assert ended.transaction_info.stopped_reason == "ImmediateReset"
        await wait_state(station, "available")
        security = await csms.wait_for("SecurityEventNotification")
        assert security[0].type == "ResetOrReboot"
        assert csms.connects == ["CS1", "CS1"]
        assert station.snapshot().counters.reboots == 1
        # OnIdle with nothing running: reboot at once
        reply = await csms.call("CS1", v201.ResetRequest(type=v201.Reset.ON_IDLE))
        assert reply.status == v201.ResetStatus.ACCEPTED
        await csms.wait_for("BootNotification", count=3)
    seqs = [e.seq_no for e in events(csms)]
    assert seqs == list(range(len(seqs)))


async def test_reset_on_idle_waits_for_the_transaction(csms: TestCsms) -> None:
    async with open_station("CS1", csms.url, profile=quick_profile(
            sessions=SessionGenerator(enabled=False, energy_demand=5000.0)), speed=SPEED, protocol_speed=SPEED) as station:
        await wait_state(station, "available")
        await station.plug(1)
        await station.start_transaction(1, "T")
        await csms.wait_for("TransactionEvent", lambda e: e.trigger_reason == "Authorized")
        reply = await csms.call("CS1", v201.ResetRequest(type=v201.Reset.ON_IDLE))
        assert reply.status == v201.ResetStatus.SCHEDULED
        await trio.sleep(0.2)  # time passing is the point: proves the station does not reboot mid-transaction
        assert len(csms.requests("BootNotification")) == 1
        await station.stop_transaction(1)
        boots = await csms.wait_for("BootNotification", count=2)
        assert boots[1].reason == v201.BootReason.REMOTE_RESET


# ----------------------------------------------------------- smart charging


async def test_charging_profile_limits_power_in_meter_values(csms: TestCsms) -> None:
    profile = quick_profile(sessions=SessionGenerator(enabled=False, energy_demand=30000.0))
    async with open_station("CS1", csms.url, profile=profile, speed=SPEED, protocol_speed=SPEED) as station:
        await wait_state(station, "available")
        await station.plug(1)
        await station.start_transaction(1, "T")
        full = await csms.wait_for("TransactionEvent", lambda e: e.trigger_reason == "MeterValuePeriodic")
        assert power_of(full[0]) == 11000.0
        limit = v201.ChargingProfile(
            id=5, stack_level=0, charging_profile_purpose=v201.ChargingProfilePurpose.TX_DEFAULT_PROFILE,
            charging_profile_kind=v201.ChargingProfileKind.ABSOLUTE,
            charging_schedule=[v201.ChargingSchedule(
                id=1, charging_rate_unit=v201.ChargingRateUnit.A,
                start_schedule=now() - datetime.timedelta(seconds=5),
                charging_schedule_period=[v201.ChargingSchedulePeriod(start_period=0, limit=16.0, number_phases=1)])])
        reply = await csms.call("CS1", v201.SetChargingProfileRequest(evse_id=0, charging_profile=limit))
        assert reply.status == v201.ChargingProfileStatus.ACCEPTED
        changed = await csms.wait_for("TransactionEvent", lambda e: e.trigger_reason == "ChargingRateChanged")
        assert changed[0].transaction_info.charging_state == "Charging"
        limited = await csms.wait_for(
            "TransactionEvent", lambda e: e.trigger_reason == "MeterValuePeriodic" and power_of(e) != 11000.0)
        assert power_of(limited[0]) == pytest.approx(16 * 230.0)
        assert station.snapshot().evses[0].limit_w == pytest.approx(3680.0)

        schedule = await csms.call("CS1", v201.GetCompositeScheduleRequest(duration=600, evse_id=1))
        assert schedule.status == "Accepted"
        assert schedule.schedule.charging_schedule_period[0].limit == pytest.approx(3680.0)
        listed = await csms.call("CS1", v201.GetChargingProfilesRequest(
            request_id=3, charging_profile=v201.ChargingProfileCriterion()))
        assert listed.status == v201.GetChargingProfileStatus.ACCEPTED
        report = (await csms.wait_for("ReportChargingProfiles"))[0]
        assert report.evse_id == 0 and report.charging_profile[0].id == 5
        bad_tx = msgspec.structs.replace(limit, id=6, charging_profile_purpose=v201.ChargingProfilePurpose.TX_PROFILE)
        rejected = await csms.call("CS1", v201.SetChargingProfileRequest(evse_id=0, charging_profile=bad_tx))
        assert rejected.status == v201.ChargingProfileStatus.REJECTED

        zero = msgspec.structs.replace(limit, id=7, stack_level=1, charging_schedule=[msgspec.structs.replace(
            limit.charging_schedule[0], charging_schedule_period=[v201.ChargingSchedulePeriod(start_period=0, limit=0.0)])])
        assert (await csms.call("CS1", v201.SetChargingProfileRequest(evse_id=1, charging_profile=zero))).status == "Accepted"
        await csms.wait_for("TransactionEvent", lambda e: e.transaction_info.charging_state == "SuspendedEVSE")
        cleared = await csms.call("CS1", v201.ClearChargingProfileRequest())
        assert cleared.status == v201.ClearChargingProfileStatus.ACCEPTED
        await csms.wait_for("TransactionEvent", lambda e: e.trigger_reason == "MeterValuePeriodic"
                            and power_of(e) == 11000.0, count=2)
        none = await csms.call("CS1", v201.ClearChargingProfileRequest(charging_profile_id=5))
        assert none.status == v201.ClearChargingProfileStatus.UNKNOWN


# ------------------------------------------------------------ CSMS requests


async def test_trigger_message(csms: TestCsms) -> None:
    async with open_station("CS1", csms.url, profile=quick_profile(), speed=20, protocol_speed=20) as station:
        await wait_state(station, "available")

        async def trigger(message: str, evse: v201.EVSE | None = None) -> str:
            if evse is None:
                request = v201.TriggerMessageRequest(requested_message=v201.MessageTrigger(message))
            else:
                request = v201.TriggerMessageRequest(requested_message=v201.MessageTrigger(message), evse=evse)
            return str((await csms.call("CS1", request)).status)

        assert await trigger("Heartbeat") == "Accepted"
        await csms.wait_for("Heartbeat")
        assert await trigger("StatusNotification", v201.EVSE(id=1, connector_id=1)) == "Accepted"
        await csms.wait_for("StatusNotification", count=2)
        assert await trigger("MeterValues", v201.EVSE(id=1)) == "Accepted"
        meter = (await csms.wait_for("MeterValues"))[0]
        assert meter.meter_value[0].sampled_value[0].context == "Trigger"
        assert await trigger("TransactionEvent") == "Rejected"  # nothing running
        assert await trigger("BootNotification") == "Rejected"  # already accepted
        assert await trigger("FirmwareStatusNotification") == "Accepted"
        assert (await csms.wait_for("FirmwareStatusNotification"))[0].status == "Idle"
        assert await trigger("LogStatusNotification") == "Accepted"
        assert await trigger("SignChargingStationCertificate") == "Accepted"
        await csms.wait_for("SignCertificate")
        assert await trigger("SignV2GCertificate") == "NotImplemented"
        assert await trigger("Heartbeat", v201.EVSE(id=9)) == "Rejected"
        await station.plug(1)
        await station.start_transaction(1, "T")
        await csms.wait_for("TransactionEvent", lambda e: e.trigger_reason == "Authorized")
        assert await trigger("TransactionEvent", v201.EVSE(id=1)) == "Accepted"
        triggered = (await csms.wait_for("TransactionEvent", lambda e: e.trigger_reason == "Trigger"))[0]
        assert triggered.meter_value[0].sampled_value[0].context == "Trigger"


async def test_availability_and_reservation(csms: TestCsms) -> None:
    async with open_station("CS1", csms.url, profile=quick_profile(evses=[EvseProfile(), EvseProfile()]),
                            speed=20, protocol_speed=20) as station:
        await wait_state(station, "available")
        await csms.wait_for("StatusNotification", count=2)

        def statuses(evse: int) -> list[str]:
            return [str(s.connector_status) for s in csms.requests("StatusNotification") if s.evse_id == evse]

        reply = await csms.call("CS1", v201.ChangeAvailabilityRequest(
            operational_status=v201.OperationalStatus.INOPERATIVE, evse=v201.EVSE(id=2)))
        assert reply.status == "Accepted"
        await csms.wait_for("StatusNotification", lambda s: s.evse_id == 2 and s.connector_status == "Unavailable")
        reserved = await csms.call("CS1", v201.ReserveNowRequest(
            id=11, expiry_date_time=now() + datetime.timedelta(seconds=0.6),
            id_token=v201.IdToken(id_token="R", type=v201.IdTokenEnum.ISO14443), evse_id=2))
        assert reserved.status == v201.ReserveNowStatus.UNAVAILABLE
        reserved = await csms.call("CS1", v201.ReserveNowRequest(
            id=12, expiry_date_time=now() + datetime.timedelta(seconds=0.6),
            id_token=v201.IdToken(id_token="R", type=v201.IdTokenEnum.ISO14443), evse_id=1))
        assert reserved.status == v201.ReserveNowStatus.ACCEPTED
        await csms.wait_for("StatusNotification", lambda s: s.evse_id == 1 and s.connector_status == "Reserved")
        update = (await csms.wait_for("ReservationStatusUpdate"))[0]
        assert update.reservation_id == 12 and update.reservation_update_status == "Expired"
        await csms.wait_for("StatusNotification", lambda s: s.evse_id == 1 and s.connector_status == "Available",
                            count=2)
        assert (await csms.call("CS1", v201.CancelReservationRequest(reservation_id=12))).status == "Rejected"
        # station-wide Inoperative during a transaction is Scheduled, applied when it ends
        await station.plug(1)
        await station.start_transaction(1, "T")
        await csms.wait_for("TransactionEvent", lambda e: e.trigger_reason == "Authorized")
        reply = await csms.call("CS1", v201.ChangeAvailabilityRequest(
            operational_status=v201.OperationalStatus.INOPERATIVE))
        assert reply.status == v201.ChangeAvailabilityStatus.SCHEDULED
        await station.stop_transaction(1)
        await station.unplug(1)
        await csms.wait_for("StatusNotification", lambda s: s.evse_id == 1 and s.connector_status == "Unavailable")
        assert not station.snapshot().evses[0].operative
        reply = await csms.call("CS1", v201.ChangeAvailabilityRequest(
            operational_status=v201.OperationalStatus.OPERATIVE))
        assert reply.status == "Accepted"
        await csms.wait_for("StatusNotification", lambda s: s.evse_id == 1 and s.connector_status == "Available",
                            count=3)
        assert statuses(2)[-1] == "Unavailable"  # EVSE 2 stays inoperative on its own


async def test_firmware_update_and_log_upload_sequences(csms: TestCsms) -> None:
    async with open_station("CS1", csms.url, profile=quick_profile(firmware_step=1.0), speed=SPEED, protocol_speed=SPEED) as station:
        await wait_state(station, "available")
        reply = await csms.call("CS1", v201.UpdateFirmwareRequest(request_id=9, firmware=v201.Firmware(
            location="https://127.0.0.1/fw-2.0.bin", retrieve_date_time=now())))
        assert reply.status == v201.UpdateFirmwareStatus.ACCEPTED
        installed = await csms.wait_for("FirmwareStatusNotification", lambda r: r.status == "Installed")
        assert installed[0].request_id == 9
        statuses = [str(r.status) for r in csms.requests("FirmwareStatusNotification")]
        assert statuses == ["Downloading", "Downloaded", "Installing", "InstallRebooting", "Installed"]
        boots = csms.requests("BootNotification")
        assert boots[-1].reason == v201.BootReason.FIRMWARE_UPDATE
        assert boots[-1].charging_station.firmware_version == "1.0.0+fw9"
        assert (await csms.wait_for("SecurityEventNotification"))[0].type == "FirmwareUpdated"
        await wait_state(station, "available")
        failing = await csms.call("CS1", v201.UpdateFirmwareRequest(request_id=10, firmware=v201.Firmware(
            location="https://127.0.0.1/fail.bin", retrieve_date_time=now())))
        assert failing.status == "Accepted"
        await csms.wait_for("FirmwareStatusNotification", lambda r: r.status == "DownloadFailed")

        reply = await csms.call("CS1", v201.GetLogRequest(
            log=v201.LogParameters(remote_location="https://127.0.0.1/upload"), log_type=v201.Log.SECURITY_LOG,
            request_id=4))
        assert reply.status == "Accepted" and reply.filename == "CS1-SecurityLog-4.log"
        await csms.wait_for("LogStatusNotification", lambda r: r.status == "Uploaded")
        assert [str(r.status) for r in csms.requests("LogStatusNotification")] == ["Uploading", "Uploaded"]


async def test_fault_reports_status_event_and_state(csms: TestCsms) -> None:
    async with open_station("CS1", csms.url, profile=quick_profile(), speed=20, protocol_speed=20) as station:
        await wait_state(station, "available")
        await station.set_faulted(1, 1)
        await wait_state(station, "faulted")
        await csms.wait_for("StatusNotification", lambda s: s.connector_status == "Faulted")
        event = (await csms.wait_for("NotifyEvent"))[0].event_data[0]
        assert event.actual_value == "Faulted" and event.cleared is False
        assert event.component.evse == v201.EVSE(id=1, connector_id=1)
        reply = await csms.call("CS1", v201.RequestStartTransactionRequest(
            id_token=v201.IdToken(id_token="R", type=v201.IdTokenEnum.CENTRAL), remote_start_id=1, evse_id=1))
        assert reply.status == "Rejected"
        await station.set_faulted(1, 1, faulted=False)
        await wait_state(station, "available")
        cleared = (await csms.wait_for("NotifyEvent", count=2))[1].event_data[0]
        assert cleared.cleared is True and cleared.actual_value == "Available"
        with pytest.raises(ValueError):
            await station.plug(5)  # bad commands fail the caller, never the station
        assert station.snapshot().state == "available"


def _sample_requests() -> dict[str, Any]:
    """Meaningful requests for the actions a minimal request would not exercise."""
    token = v201.IdToken(id_token="TOKEN-9", type=v201.IdTokenEnum.ISO14443)
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    component, var = variable("OCPPCommCtrlr", "HeartbeatInterval")
    return {
        "DataTransfer": v201.DataTransferRequest(vendor_id="fleet", message_id="echo", data={"x": 1}),
        "InstallCertificate": v201.InstallCertificateRequest(
            certificate_type=v201.InstallCertificateUse.CSMS_ROOT_CERTIFICATE, certificate=pem),
        "SendLocalList": v201.SendLocalListRequest(version_number=3, update_type=v201.Update.FULL,
                                                   local_authorization_list=[v201.AuthorizationData(
                                                       id_token=token, id_token_info=v201.IdTokenInfo(
                                                           status=v201.AuthorizationStatus.ACCEPTED))]),
        "SetVariableMonitoring": v201.SetVariableMonitoringRequest(set_monitoring_data=[v201.SetMonitoringData(
            value=100.0, type=v201.Monitor.UPPER_THRESHOLD, severity=5, component=component, variable=var)]),
        "SetDisplayMessage": v201.SetDisplayMessageRequest(message=v201.MessageInfo(
            id=1, priority=v201.MessagePriority.NORMAL_CYCLE,
            message=v201.MessageContent(format=v201.MessageFormat.UTF8, content="Welcome"))),
        "CustomerInformation": v201.CustomerInformationRequest(request_id=4, report=True, clear=False,
                                                               id_token=token),
        "GetLog": v201.GetLogRequest(log=v201.LogParameters(remote_location="ftp://127.0.0.1/logs"),
                                     log_type=v201.Log.DIAGNOSTICS_LOG, request_id=5),
        "ReserveNow": v201.ReserveNowRequest(id=1, expiry_date_time=now() + datetime.timedelta(hours=1),
                                             id_token=token),
    }


async def test_every_csms_initiated_action_gets_a_valid_answer(csms: TestCsms) -> None:
    samples = _sample_requests()
    async with open_station("CS1", csms.url, profile=quick_profile(), speed=20, protocol_speed=20) as station:
        await wait_state(station, "available")
        answered: dict[str, Any] = {}
        ordered = [*sorted(CSMS_INITIATED - {"Reset"}), "Reset"]  # Reset last: it reboots the station
        for action in ordered:
            request_type, response_type = v201.ACTIONS[action]
            for request in ([samples[action]] if action in samples else []) + [minimal(request_type)]:
                response = await csms.call("CS1", request)  # a CALLERROR would raise here
                assert isinstance(response, response_type), action
                answered.setdefault(action, response)
        assert set(answered) == CSMS_INITIATED
        assert answered["DataTransfer"].status == "Accepted" and answered["DataTransfer"].data == {"x": 1}
        assert answered["SendLocalList"].status == "Accepted"
        assert answered["GetLocalListVersion"].version_number == 0  # asked before SendLocalList
        assert answered["GetInstalledCertificateIds"].status == "NotFound"  # asked before InstallCertificate
        assert answered["GetLog"].status == "Accepted"
        assert answered["UpdateFirmware"].status in ("Accepted", "AcceptedCanceled")
        assert answered["PublishFirmware"].status == "Rejected"
        await csms.wait_for("NotifyCustomerInformation")
        await csms.wait_for("LogStatusNotification", lambda r: r.status == "BadMessage")
        await csms.wait_for("BootNotification", lambda r: r.reason == "RemoteReset")
        await wait_state(station, "available")
        # the station is alive and well after all of it, and kept its data across the reset
        assert (await csms.call("CS1", v201.GetLocalListVersionRequest())).version_number == 3
        installed = await csms.call("CS1", v201.GetInstalledCertificateIdsRequest())
        assert installed.status == "Accepted"
        assert installed.certificate_hash_data_chain[0].certificate_type == "CSMSRootCertificate"
        monitors = await csms.call("CS1", v201.GetMonitoringReportRequest(request_id=77))
        assert monitors.status == "Accepted"
        report = (await csms.wait_for("NotifyMonitoringReport", lambda r: r.request_id == 77))[0]
        assert report.monitor[0].variable.name == "HeartbeatInterval"
        reply = await csms.call("CS1", v201.DataTransferRequest(vendor_id="fleet", message_id="echo", data=[1, 2]))
        assert reply.status == "Accepted" and reply.data == [1, 2]


async def test_handler_override_and_own_message_id_and_tag(csms: TestCsms) -> None:
    async with open_station("CS1", csms.url, profile=quick_profile(), speed=20, protocol_speed=20) as station:
        @station.on("DataTransfer")
        def custom(request: Any, context: Any) -> Any:
            return {"status": "Accepted", "data": f"custom {request.vendor_id} {context.message_id}"}

        @station.on("ClearCache")
        async def slow(request: Any, context: Any) -> Any:
            await trio.sleep(0.01)  # an async handler that really waits is the point
            return v201.ClearCacheResponse(status=v201.ClearCacheStatus.ACCEPTED)

        with pytest.raises(ValueError):
            station.on("NoSuchAction")
        await wait_state(station, "available")
        reply = await csms.call("CS1", v201.DataTransferRequest(vendor_id="v"), message_id="csms-1")
        assert reply.data == "custom v csms-1"
        assert (await csms.call("CS1", v201.ClearCacheRequest())).status == "Accepted"
        station.remove_handler("ClearCache")
        assert (await csms.call("CS1", v201.ClearCacheRequest())).status == "Rejected"  # the default

        async with station.subscribe() as received:
            response = await station.call(v201.DataTransferRequest(vendor_id="x", data="hello"),
                                          message_id="my-own-id-1", tag={"order": 17})
            assert response.status == "Accepted"  # the test CSMS's minimal answer
            with trio.fail_after(2):
                async for event in received:
                    if isinstance(event, OcppMessage) and event.kind == "response" and event.message_id == "my-own-id-1":
                        assert event.tag == {"order": 17} and event.direction == "in"
                        break
        assert any(r.message_id == "my-own-id-1" and r.action == "DataTransfer" for r in csms.received)
        await station.close()
        with pytest.raises(ConnectionLost):
            await station.call(v201.HeartbeatRequest())


async def test_generator_runs_sessions(csms: TestCsms) -> None:
    csms.invalid_tokens.add("BAD-1")
    sessions = SessionGenerator(
        enabled=True, start_delay=0.0, idle_time=(5.0, 10.0), session_duration=(30.0, 60.0),
        energy_demand=(20.0, 60.0), plug_in_delay=1.0, plug_out_delay=1.0,
        id_tokens=[IdTokenSpec("FLEET-0001")],
        invalid_id_tokens=[IdTokenSpec("BAD-1")],
        authorization_failure_share=0.3, stop_by_unplug_share=0.5,
    )
    profile = quick_profile(sessions=sessions, evses=[EvseProfile(), EvseProfile()])
    async with open_station("CS1", csms.url, profile=profile, speed=100, protocol_speed=100, seed=3):
        await csms.wait_for("TransactionEvent", lambda e: e.event_type == "Ended", count=4, timeout=15)
        await csms.wait_for("Authorize", count=6, timeout=15)
    by_tx: dict[str, list[v201.TransactionEventRequest]] = {}
    for event in events(csms):
        by_tx.setdefault(event.transaction_info.transaction_id, []).append(event)
    finished = [evs for evs in by_tx.values() if evs[-1].event_type == "Ended"]
    assert len(finished) >= 4
    for evs in finished:
        assert evs[0].event_type == "Started" and [e.seq_no for e in evs] == sorted(e.seq_no for e in evs)
        assert all(e.event_type == "Updated" for e in evs[1:-1])
    tokens = {a.id_token.id_token for a in csms.requests("Authorize")}
    assert tokens <= {"FLEET-0001", "BAD-1"}
    assert {e.transaction_info.stopped_reason for evs in finished for e in evs[-1:]} <= {"Local", "EVDisconnected"}


# ------------------------------------------------------------------- CLI


async def test_fleet_station_command_runs_and_exits_cleanly(csms: TestCsms, tmp_path: Path) -> None:
    profile = tmp_path / "quick.toml"
    profile.write_text(
        'ping_interval = 0\n[security]\nprofile = 0\n'
        '[sessions]\nstart_delay = 0\nplug_in_delay = 1\nsession_duration = 100000\nidle_time = 1\n'
    )
    result = await trio.run_process(
        [sys.executable, "-m", "fleet", "station", csms.url, "CLI1", "--profile", str(profile), "--duration", "2",
         "--speed", "10"],
        capture_stdout=True, capture_stderr=True, check=False, cwd=str(REPO),
    )
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert "CLI1: connected" in out and "booted: Accepted" in out
    assert csms.requests("BootNotification", "CLI1")
    ended = [e for e in events(csms, "CLI1") if e.event_type == "Ended"]
    assert ended and ended[-1].transaction_info.stopped_reason == "Local"  # shut down cleanly


def test_fleet_station_command_rejects_a_bad_profile(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("heartbeat_interval = 'often'\n")
    result = subprocess.run(
        [sys.executable, "-m", "fleet", "station", "ws://127.0.0.1:1/ocpp", "X", "--profile", str(bad)],
        capture_output=True, text=True, cwd=str(REPO), timeout=30,
    )
    assert result.returncode == 2
    assert "bad.toml:1" in result.stderr and "$.heartbeat_interval" in result.stderr


async def test_an_override_can_fall_back_to_the_default_handler() -> None:
    from fleet.actors.station import Station
    from fleet.ocpp import v201 as m

    station = Station("FALLBACK", "ws://127.0.0.1:1/ocpp", auto_connect=False)
    default = station.default_handler("ClearCache")
    response = default(m.ClearCacheRequest(), None)
    assert isinstance(response, m.ClearCacheResponse)
    with pytest.raises(KeyError):
        station.default_handler("BootNotification")  # a station never answers its own BootNotification
