"""fleet's OCPP 1.6 station against an independent 1.6 central system: the ``ocpp``
package's ``ocpp.v16.ChargePoint`` as the CSMS (``ocpp16_csms_peer.py``), over real
websockets on 127.0.0.1. Every frame fleet sends is checked against the official 1.6
schemas with formats (:meth:`Peer.check_clean`)."""

from __future__ import annotations

import base64
import datetime
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
from test_ocpp_package import PASSWORD, Peer, open_peer, utc
from waiting import wait_state, wait_until

from fleet.actors.station import load_profile, open_station
from fleet.profiles import (
    ConnectorProfile,
    EvseProfile,
    RetryBackoff,
    SampledData,
    SessionGenerator,
    StationProfile,
)

pytestmark = pytest.mark.timeout(30)

#: A 1.6 station for these tests: no transaction generator, quick back-off and reboot,
#: meter values every second, no websocket pings.
PROFILE = StationProfile(
    ocpp_version="1.6",
    sessions=SessionGenerator(enabled=False),
    retry_backoff=RetryBackoff(wait_minimum=1, repeat_times=1, random_range=0),
    sampled_data=SampledData(tx_updated_interval=1),
    ping_interval=0,
    reboot_delay=0.2,
)


@asynccontextmanager
async def open_ocpp16_csms(tmp_path: Path, *args: str) -> AsyncIterator[tuple[Peer, str]]:
    """The ocpp-package 1.6 central system; yields it and the URL stations connect to."""
    async with open_peer(tmp_path, "ocpp16_csms_peer.py", *args) as peer:
        [listening] = await peer.wait_for(lambda e: e["event"] == "listening", timeout=15)
        yield peer, f"ws://127.0.0.1:{listening['port']}/ocpp"


def energy(meter_values: dict[str, Any]) -> float:
    [value] = [float(s["value"]) for m in meter_values["meterValue"] for s in m["sampledValue"]
               if s.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register"]
    return value


async def test_fleet_16_station_boots_reports_and_runs_a_transaction(tmp_path: Path) -> None:
    async with open_ocpp16_csms(tmp_path, "--heartbeat", "1") as (csms, url):
        async with open_station("CS16", url, profile=PROFILE, password=PASSWORD) as station:
            await wait_state(station, "available")
            [connected] = await csms.wait_for(lambda e: e["event"] == "connected")
            assert connected["subprotocol"] == "ocpp1.6"
            assert connected["authorization"] == "Basic " + base64.b64encode(f"CS16:{PASSWORD}".encode()).decode()
            [boot] = csms.received("BootNotification")
            assert (boot["chargePointVendor"], boot["chargePointModel"]) == ("fleet", "SimAC-11")
            assert boot["chargePointSerialNumber"] == "SN-CS16"
            statuses = await csms.wait_received("StatusNotification", count=2)
            assert [(s["connectorId"], s["status"], s["errorCode"]) for s in statuses] == [
                (0, "Available", "NoError"), (1, "Available", "NoError")]
            utc(statuses[0]["timestamp"])
            # the interval of the boot answer (1 s) replaced the profile's 300 s
            await csms.wait_received("Heartbeat", count=2, timeout=4)

            # an idTag the CSMS answers Invalid: no transaction
            await station.start_transaction(1, "BAD-TAG-1")
            await csms.wait_received("Authorize", lambda p: p["idTag"] == "BAD-TAG-1")
            await wait_until(lambda: station.snapshot().last_error is not None)
            assert not csms.received("StartTransaction")

            await station.plug(1)
            await csms.wait_received("StatusNotification", lambda p: p["status"] == "Preparing")
            await station.start_transaction(1, "TAG-1")
            [start] = await csms.wait_received("StartTransaction")
            assert (start["connectorId"], start["idTag"]) == (1, "TAG-1")
            utc(start["timestamp"])
            await wait_state(station, "charging")
            await wait_until(lambda: station.snapshot().evses[0].transaction_id == "1001")
            periodic = await csms.wait_received("MeterValues", count=2, timeout=5)
            await csms.wait_received("StatusNotification", lambda p: p["status"] == "Charging")
            await station.stop_transaction(1)
            [stop] = await csms.wait_received("StopTransaction")
            await csms.wait_received("StatusNotification", lambda p: p["status"] == "Finishing")
            await station.unplug(1)
            await csms.wait_received("StatusNotification", lambda p: p["status"] == "Available", count=2)
            snapshot = station.snapshot()

        assert all(m["transactionId"] == 1001 and m["connectorId"] == 1 for m in periodic)
        assert all(s["context"] == "Sample.Periodic" for m in periodic for v in m["meterValue"]
                   for s in v["sampledValue"])
        assert {s["measurand"] for m in periodic for v in m["meterValue"] for s in v["sampledValue"]} >= {
            "Energy.Active.Import.Register", "Power.Active.Import"}
        assert (stop["transactionId"], stop["reason"], stop["idTag"]) == (1001, "Local", "TAG-1")
        readings = [start["meterStart"], *(energy(m) for m in csms.received("MeterValues")), stop["meterStop"]]
        assert readings == sorted(readings) and stop["meterStop"] > start["meterStart"]
        # transactionData: the StopTxnSampledData readings at each sample interval, then the final one
        *during, end = stop["transactionData"]
        assert end["sampledValue"][0]["context"] == "Transaction.End"
        assert len(during) >= 2 and {v["context"] for d in during for v in d["sampledValue"]} == {"Sample.Periodic"}
        assert [int(d["sampledValue"][0]["value"]) for d in [*during, end]][-1] == stop["meterStop"]
        assert snapshot.counters.transactions_started == snapshot.counters.transactions_ended == 1
        csms.check_clean()


async def test_fleet_16_station_waits_through_rejected_and_pending_boots(tmp_path: Path) -> None:
    async with open_ocpp16_csms(tmp_path, "--boot", "Rejected,Pending,Accepted", "--boot-retry", "1") as (csms, url), \
            open_station("CS16B", url, profile=PROFILE, password=PASSWORD) as station:
        await wait_state(station, "rejected")
        await wait_state(station, "pending", timeout=4)
        # while Pending the CSMS may read the configuration
        answer = await csms.answer("GetConfiguration", {"key": ["HeartbeatInterval"]}, station_id="CS16B")
        assert answer["configurationKey"] == [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        await wait_state(station, "available", timeout=4)
        await csms.wait_received("StatusNotification", count=2)
        actions = csms.received_actions()
        assert actions[:3] == ["BootNotification"] * 3
        assert "BootNotification" not in actions[3:]
        assert station.snapshot().counters.boots == 3
    csms.check_clean()


async def test_fleet_16_station_delivers_an_offline_transaction_in_order_with_its_id_bound_late(
        tmp_path: Path) -> None:
    async with open_ocpp16_csms(tmp_path) as (csms, url), \
            open_station("CS16O", url, profile=PROFILE, password=PASSWORD, audit=True) as station:
        await wait_state(station, "available")
        # offline, an unknown idTag may start a transaction
        answer = await csms.answer("ChangeConfiguration", {"key": "AllowOfflineTxForUnknownId", "value": "true"},
                                   station_id="CS16O")
        assert answer == {"status": "Accepted"}
        assert await station.partition(4.0)
        await wait_until(lambda: not station.snapshot().connected)
        await station.plug(1)
        await station.start_transaction(1, "TAG-OFFLINE")
        await wait_until(lambda: station.snapshot().evses[0].power_w > 0)
        # StartTransaction and at least one MeterValues wait in the outbox, without an id yet
        await wait_until(lambda: station.snapshot().queued_events >= 2)
        assert station.snapshot().evses[0].transaction_id == "L1"
        await station.stop_transaction(1)
        await wait_until(lambda: station.snapshot().queued_events >= 3)
        assert not csms.received("StartTransaction")
        # back online: delivered in order, every message bound to the id the CSMS assigned
        [stop] = await csms.wait_received("StopTransaction", timeout=10)
        await wait_until(lambda: station.snapshot().queued_events == 0)
        records = station.transaction_records()
    actions = [a for a in csms.received_actions() if a in ("StartTransaction", "MeterValues", "StopTransaction")]
    assert actions[0] == "StartTransaction" and actions[-1] == "StopTransaction"
    assert set(actions[1:-1]) == {"MeterValues"} and len(actions) >= 3
    [start] = csms.received("StartTransaction")
    assert start["idTag"] == "TAG-OFFLINE"
    assert stop["transactionId"] == 1001 and stop["reason"] == "Local"
    meter_values = csms.received("MeterValues")
    assert [m["transactionId"] for m in meter_values] == [1001] * len(meter_values)
    readings = [start["meterStart"], *(energy(m) for m in meter_values), stop["meterStop"]]
    assert readings == sorted(readings)
    assert utc(start["timestamp"]) <= utc(stop["timestamp"])
    # the audit: every message of the transaction, numbered, delivered; its final register; under the
    # id the CSMS assigned (as the CSMS records it), not the station's own key for it
    assert records == {"1001": {"seq": list(range(len(actions))), "energy": float(stop["meterStop"])}}
    csms.check_clean()


async def test_fleet_16_station_answers_get_and_change_configuration(tmp_path: Path) -> None:
    async with open_ocpp16_csms(tmp_path) as (csms, url), \
            open_station("CS16C", url, profile=PROFILE, password=PASSWORD) as station:
        await wait_state(station, "available")
        everything = await csms.answer("GetConfiguration", {}, station_id="CS16C")
        keys = {k["key"]: k for k in everything["configurationKey"]}
        assert keys["NumberOfConnectors"] == {"key": "NumberOfConnectors", "readonly": True, "value": "1"}
        assert keys["MeterValueSampleInterval"]["value"] == "1"
        assert "value" not in keys["AuthorizationKey"]  # write-only
        assert "unknownKey" not in everything
        some = await csms.answer("GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey"]}, station_id="CS16C")
        assert some == {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
                        "unknownKey": ["NoSuchKey"]}

        async def change(key: str, value: str) -> str:
            answer = await csms.answer("ChangeConfiguration", {"key": key, "value": value}, station_id="CS16C")
            status: str = answer["status"]
            return status

        assert await change("HeartbeatInterval", "1") == "Accepted"
        await csms.wait_received("Heartbeat", count=2, timeout=4)  # the new interval is applied
        assert await change("HeartbeatInterval", "often") == "Rejected"
        assert await change("NumberOfConnectors", "2") == "Rejected"
        assert await change("NoSuchKey", "1") == "NotSupported"
        assert await change("WebSocketPingInterval", "5") == "RebootRequired"
        assert await change("MeterValuesSampledData", "Energy.Active.Import.Register,Voltage") == "Accepted"
        # clock-aligned meter values of the idle connector, with the MeterValuesAlignedData measurands
        assert await change("MeterValuesAlignedData", "Voltage") == "Accepted"
        assert await change("ClockAlignedDataInterval", "1") == "Accepted"
        [aligned] = await csms.wait_received("MeterValues", timeout=4)
        assert "transactionId" not in aligned
        assert [(s["measurand"], s["context"]) for m in aligned["meterValue"] for s in m["sampledValue"]] == [
            ("Voltage", "Sample.Clock")]
        assert await change("ClockAlignedDataInterval", "0") == "Accepted"
        after = await csms.answer("GetConfiguration", {"key": ["HeartbeatInterval", "MeterValuesSampledData"]},
                                  station_id="CS16C")
        assert [k["value"] for k in after["configurationKey"]] == ["1", "Energy.Active.Import.Register,Voltage"]

        # a new AuthorizationKey: the station reconnects with it as its Basic-auth password
        assert await change("AuthorizationKey", "a-brand-new-password-01") == "Accepted"
        [_, again] = await csms.wait_for(lambda e: e["event"] == "connected", count=2, timeout=10)
        assert again["authorization"] == "Basic " + base64.b64encode(b"CS16C:a-brand-new-password-01").decode()
    csms.check_clean()


async def test_fleet_16_station_remote_start_stop_and_reset(tmp_path: Path) -> None:
    async with open_ocpp16_csms(tmp_path) as (csms, url), \
            open_station("CS16R", url, profile=PROFILE, password=PASSWORD) as station:
        await wait_state(station, "available")
        assert await csms.answer("RemoteStartTransaction", {"connectorId": 2, "idTag": "TAG-R"},
                                 station_id="CS16R") == {"status": "Rejected"}
        assert await csms.answer("RemoteStopTransaction", {"transactionId": 4242},
                                 station_id="CS16R") == {"status": "Rejected"}
        assert await csms.answer("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG-R"},
                                 station_id="CS16R") == {"status": "Accepted"}
        # AuthorizeRemoteTxRequests (true): the idTag is authorized first
        await csms.wait_received("Authorize", lambda p: p["idTag"] == "TAG-R")
        await csms.wait_received("StatusNotification", lambda p: p["status"] == "Preparing")
        await station.plug(1)
        [start] = await csms.wait_received("StartTransaction")
        assert (start["connectorId"], start["idTag"]) == (1, "TAG-R")
        await wait_until(lambda: station.snapshot().evses[0].transaction_id == "1001")
        assert await csms.answer("RemoteStopTransaction", {"transactionId": 1001},
                                 station_id="CS16R") == {"status": "Accepted"}
        [stop] = await csms.wait_received("StopTransaction")
        assert (stop["transactionId"], stop["reason"]) == (1001, "Remote")

        # a transaction, then a hard reset: it stops (HardReset), the station boots again
        assert await csms.answer("RemoteStartTransaction", {"idTag": "TAG-R2"}, station_id="CS16R") == {
            "status": "Accepted"}
        [_, second] = await csms.wait_received("StartTransaction", count=2)
        assert (second["connectorId"], second["idTag"]) == (1, "TAG-R2")
        assert await csms.answer("Reset", {"type": "Hard"}, station_id="CS16R") == {"status": "Accepted"}
        [_, stop2] = await csms.wait_received("StopTransaction", count=2, timeout=10)
        assert (stop2["transactionId"], stop2["reason"]) == (1002, "HardReset")
        await csms.wait_received("BootNotification", count=2, timeout=10)
        await wait_state(station, "available", timeout=10)
        assert station.snapshot().counters.reboots == 1
        [_, boot2] = csms.received("BootNotification")
        assert boot2 == csms.received("BootNotification")[0]  # the same identity
    csms.check_clean()


async def test_fleet_16_station_answers_and_acts_on_the_other_csms_requests(tmp_path: Path) -> None:
    async with open_ocpp16_csms(tmp_path) as (csms, url), \
            open_station("CS16X", url, profile=PROFILE, password=PASSWORD) as station:
        await wait_state(station, "available")

        async def ask(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            return await csms.answer(action, payload, station_id="CS16X")

        def statuses(connector_id: int) -> list[str]:
            return [p["status"] for p in csms.received("StatusNotification") if p["connectorId"] == connector_id]

        # TriggerMessage: the answer, then the message
        assert await ask("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 7}) == {
            "status": "Rejected"}
        assert await ask("TriggerMessage", {"requestedMessage": "StatusNotification"}) == {"status": "Accepted"}
        await csms.wait_received("StatusNotification", lambda p: p["connectorId"] == 0, count=2)
        assert await ask("TriggerMessage", {"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
        await csms.wait_received("Heartbeat")
        assert await ask("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1}) == {
            "status": "Accepted"}
        [triggered] = await csms.wait_received("MeterValues")
        assert "transactionId" not in triggered
        assert {s["context"] for m in triggered["meterValue"] for s in m["sampledValue"]} == {"Trigger"}
        assert await ask("TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"}) == {
            "status": "Accepted"}
        await csms.wait_received("DiagnosticsStatusNotification", lambda p: p["status"] == "Idle")

        # authorization data
        assert await ask("ClearCache", {}) == {"status": "Accepted"}
        assert await ask("GetLocalListVersion", {}) == {"listVersion": 0}
        full = {"listVersion": 3, "updateType": "Full", "localAuthorizationList": [
            {"idTag": "LOCAL-1", "idTagInfo": {"status": "Accepted"}}, {"idTag": "LOCAL-2", "idTagInfo": {
                "status": "Blocked"}}]}
        assert await ask("SendLocalList", full) == {"status": "Accepted"}
        assert await ask("GetLocalListVersion", {}) == {"listVersion": 3}
        assert await ask("SendLocalList", {"listVersion": 2, "updateType": "Differential"}) == {
            "status": "VersionMismatch"}
        assert await ask("DataTransfer", {"vendorId": "com.example"}) == {"status": "UnknownVendorId"}
        # LocalPreAuthorize: the local list decides without an Authorize
        assert await ask("ChangeConfiguration", {"key": "LocalPreAuthorize", "value": "true"}) == {
            "status": "Accepted"}
        await station.start_transaction(1, "LOCAL-1")
        await wait_until(lambda: station.snapshot().evses[0].id_token == "LOCAL-1")
        assert not csms.received("Authorize")
        await station.stop_transaction(1)  # no vehicle: the authorization ends, no transaction
        await wait_until(lambda: station.snapshot().evses[0].id_token is None)
        await wait_until(lambda: statuses(1)[-1] == "Available")

        # reservations
        expiry = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)).isoformat()
        assert await ask("ReserveNow", {"connectorId": 0, "expiryDate": expiry, "idTag": "RES-1",
                                        "reservationId": 5}) == {"status": "Rejected"}
        assert await ask("ReserveNow", {"connectorId": 1, "expiryDate": expiry, "idTag": "RES-1",
                                        "reservationId": 5}) == {"status": "Accepted"}
        await csms.wait_received("StatusNotification", lambda p: p["status"] == "Reserved")
        assert await ask("CancelReservation", {"reservationId": 6}) == {"status": "Rejected"}
        await station.plug(1)
        await station.start_transaction(1, "RES-1")
        [start] = await csms.wait_received("StartTransaction")
        assert (start["idTag"], start["reservationId"]) == ("RES-1", 5)
        assert await ask("CancelReservation", {"reservationId": 5}) == {"status": "Rejected"}  # used

        # during the transaction: availability is Scheduled, an unlock stops it
        assert await ask("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {"status": "Scheduled"}
        assert await ask("ChangeAvailability", {"connectorId": 9, "type": "Inoperative"}) == {"status": "Rejected"}
        assert await ask("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
        [stop] = await csms.wait_received("StopTransaction")
        assert stop["reason"] == "UnlockCommand"
        await csms.wait_received("StatusNotification", lambda p: p["connectorId"] == 1 and p["status"] == "Unavailable")
        assert await ask("UnlockConnector", {"connectorId": 3}) == {"status": "NotSupported"}
        assert await ask("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}) == {"status": "Accepted"}
        await csms.wait_received("StatusNotification", lambda p: p["connectorId"] == 0 and p["status"] == "Unavailable")
        assert await ask("ChangeAvailability", {"connectorId": 0, "type": "Operative"}) == {"status": "Accepted"}
        assert await ask("ChangeAvailability", {"connectorId": 1, "type": "Operative"}) == {"status": "Accepted"}
        await wait_until(lambda: statuses(1)[-1] == "Finishing")
        assert "Reserved" in statuses(1) and "Charging" in statuses(1)

    csms.check_clean()


def power(meter_values: dict[str, Any]) -> float:
    [value] = [float(s["value"]) for m in meter_values["meterValue"] for s in m["sampledValue"]
               if s.get("measurand") == "Power.Active.Import"]
    return value


async def test_fleet_16_station_applies_charging_profiles_to_its_power_and_meter_values(tmp_path: Path) -> None:
    async with open_ocpp16_csms(tmp_path) as (csms, url), \
            open_station("CS16S", url, profile=PROFILE, password=PASSWORD) as station:
        await wait_state(station, "available")

        async def ask(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            return await csms.answer(action, payload, station_id="CS16S")

        since = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)).isoformat()

        def profile(profile_id: int, purpose: str, watts: float, **extra: Any) -> dict[str, Any]:
            return {"chargingProfileId": profile_id, "stackLevel": 0, "chargingProfilePurpose": purpose,
                    "chargingProfileKind": "Absolute", **extra, "chargingSchedule": {
                        "chargingRateUnit": "W", "startSchedule": since,
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": watts}]}}

        # a TxProfile needs its transaction
        assert await ask("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile(
            1, "TxProfile", 2000.0)}) == {"status": "Rejected"}
        assert await ask("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": profile(
            2, "ChargePointMaxProfile", 3000.0)}) == {"status": "Accepted"}
        await station.plug(1)
        await station.start_transaction(1, "TAG-S", authorize=False)
        await wait_until(lambda: station.snapshot().evses[0].transaction_id == "1001")
        [capped] = await csms.wait_received("MeterValues", lambda p: "transactionId" in p)
        assert power(capped) == 3000.0
        composite = await ask("GetCompositeSchedule", {"connectorId": 1, "duration": 60})
        assert composite["status"] == "Accepted" and composite["connectorId"] == 1
        assert composite["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 3000.0}]
        utc(composite["scheduleStart"])

        assert await ask("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile(
            3, "TxProfile", 1500.0, transactionId=1001)}) == {"status": "Accepted"}
        await csms.wait_received("MeterValues", lambda p: power(p) == 1500.0)
        assert await ask("ClearChargingProfile", {"id": 3}) == {"status": "Accepted"}
        assert await ask("ClearChargingProfile", {"id": 3}) == {"status": "Unknown"}
        await csms.wait_received("MeterValues", lambda p: power(p) == 3000.0)
        assert await ask("ClearChargingProfile", {"chargingProfilePurpose": "ChargePointMaxProfile"}) == {
            "status": "Accepted"}
        [free] = await csms.wait_received("MeterValues", lambda p: power(p) > 3000.0)
        assert power(free) <= PROFILE.evses[0].max_power  # the EVSE's own maximum at most
        await station.stop_transaction(1)
        await csms.wait_received("StopTransaction")

        # RemoteStartTransaction with a TxProfile: the transaction starts limited
        assert await ask("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG-S2", "chargingProfile": profile(
            4, "TxDefaultProfile", 1000.0)}) == {"status": "Rejected"}
        assert await ask("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG-S2", "chargingProfile": profile(
            4, "TxProfile", 1200.0)}) == {"status": "Accepted"}
        [_, second] = await csms.wait_received("StartTransaction", count=2)
        assert second["idTag"] == "TAG-S2"
        [limited] = await csms.wait_received("MeterValues", lambda p: p["transactionId"] == 1002)
        assert power(limited) == 1200.0
        composite = await ask("GetCompositeSchedule", {"connectorId": 1, "duration": 60, "chargingRateUnit": "W"})
        assert composite["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 1200.0}]
    csms.check_clean()


async def test_fleet_16_station_uploads_diagnostics_and_updates_its_firmware(tmp_path: Path) -> None:
    profile = msgspec.structs.replace(PROFILE, firmware_step=0.2)
    async with open_ocpp16_csms(tmp_path) as (csms, url), \
            open_station("CS16F", url, profile=profile, password=PASSWORD) as station:
        await wait_state(station, "available")
        now = datetime.datetime.now(datetime.UTC).isoformat()
        answer = await csms.answer("GetDiagnostics", {"location": "ftp://example.com/diag"}, station_id="CS16F")
        assert answer == {"fileName": "CS16F-diagnostics.log"}
        await csms.wait_received("DiagnosticsStatusNotification", lambda p: p["status"] == "Uploaded")
        assert await csms.answer("GetDiagnostics", {"location": "ftp://example.com/fail"}, station_id="CS16F")
        await csms.wait_received("DiagnosticsStatusNotification", lambda p: p["status"] == "UploadFailed")

        assert await csms.answer("UpdateFirmware", {"location": "https://example.com/fw.bin", "retrieveDate": now},
                                 station_id="CS16F") == {}
        await csms.wait_received("FirmwareStatusNotification", lambda p: p["status"] == "Installed", timeout=10)
        await wait_state(station, "available", timeout=10)
        boots = csms.received("BootNotification")
        assert len(boots) == 2 and boots[1]["firmwareVersion"] == "1.0.0+fw" != boots[0]["firmwareVersion"]
        statuses = [p["status"] for p in csms.received("FirmwareStatusNotification")]
        assert statuses == ["Downloading", "Downloaded", "Installing", "Installed"]
        assert await csms.answer("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"},
                                 station_id="CS16F") == {"status": "Accepted"}
        await csms.wait_received("FirmwareStatusNotification", lambda p: p["status"] == "Idle")
    diagnostics = [p["status"] for p in csms.received("DiagnosticsStatusNotification")]
    assert diagnostics == ["Uploading", "Uploaded", "Uploading", "UploadFailed"]
    csms.check_clean()


CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


async def test_fleet_16_station_answers_the_security_extension(tmp_path: Path) -> None:
    profile = msgspec.structs.replace(PROFILE, firmware_step=0.2)
    async with open_ocpp16_csms(tmp_path) as (csms, url), \
            open_station("CS16Y", url, profile=profile, password=PASSWORD) as station:
        await wait_state(station, "available")

        async def ask(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            return await csms.answer(action, payload, station_id="CS16Y")

        root = "CentralSystemRootCertificate"
        assert await ask("GetInstalledCertificateIds", {"certificateType": root}) == {"status": "NotFound"}
        assert await ask("InstallCertificate", {"certificateType": root, "certificate": "not a PEM"}) == {
            "status": "Rejected"}
        assert await ask("InstallCertificate", {"certificateType": root, "certificate": CERTIFICATE}) == {
            "status": "Accepted"}
        installed = await ask("GetInstalledCertificateIds", {"certificateType": root})
        [hash_data] = installed["certificateHashData"]
        assert await ask("DeleteCertificate", {"certificateHashData": hash_data}) == {"status": "Accepted"}
        assert await ask("DeleteCertificate", {"certificateHashData": hash_data}) == {"status": "NotFound"}

        assert await ask("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}) == {
            "status": "Accepted"}
        [sign] = await csms.wait_received("SignCertificate")
        assert "CERTIFICATE REQUEST" in sign["csr"]
        assert await ask("CertificateSigned", {"certificateChain": CERTIFICATE}) == {"status": "Accepted"}
        assert await ask("ExtendedTriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}) == {
            "status": "Accepted"}
        assert await ask("ExtendedTriggerMessage", {"requestedMessage": "Heartbeat", "connectorId": 5}) == {
            "status": "Rejected"}

        log = await ask("GetLog", {"logType": "SecurityLog", "requestId": 7,
                                   "log": {"remoteLocation": "ftp://example.com/logs"}})
        assert log == {"status": "Accepted", "filename": "CS16Y-SecurityLog-7.log"}
        await csms.wait_received("LogStatusNotification", lambda p: p == {"status": "Uploaded", "requestId": 7})

        now = datetime.datetime.now(datetime.UTC).isoformat()
        firmware = {"location": "https://example.com/fw.bin", "retrieveDateTime": now,
                    "signingCertificate": CERTIFICATE, "signature": "c2lnbmF0dXJl"}
        assert await ask("SignedUpdateFirmware", {"requestId": 9, "firmware": {
            **firmware, "signingCertificate": "nope"}}) == {"status": "InvalidCertificate"}
        assert await ask("SignedUpdateFirmware", {"requestId": 9, "firmware": firmware}) == {"status": "Accepted"}
        await csms.wait_received("SignedFirmwareStatusNotification", lambda p: p["status"] == "Installed", timeout=10)
        await wait_state(station, "available", timeout=10)
        statuses = [(p["status"], p["requestId"]) for p in csms.received("SignedFirmwareStatusNotification")]
        assert statuses == [(s, 9) for s in ("Downloading", "Downloaded", "SignatureVerified", "Installing",
                                             "InstallRebooting", "Installed")]
        assert csms.received("BootNotification")[-1]["firmwareVersion"] == "1.0.0+fw9"
    csms.check_clean()


async def test_fleet_16_station_retries_a_refused_stop_transaction_as_configured(tmp_path: Path) -> None:
    profile = msgspec.structs.replace(PROFILE, variables={"TransactionMessageAttempts": 3,
                                                          "TransactionMessageRetryInterval": 1})
    async with open_ocpp16_csms(tmp_path, "--refuse", "StopTransaction=2") as (csms, url), \
            open_station("CS16T", url, profile=profile, password=PASSWORD) as station:
        await wait_state(station, "available")
        await station.plug(1)
        await station.start_transaction(1, "TAG-T", authorize=False)
        await csms.wait_received("StartTransaction")
        await station.stop_transaction(1)
        # refused twice (CALLERROR), delivered the third time
        stops = await csms.wait_received("StopTransaction", count=3, timeout=10)
        await wait_until(lambda: station.snapshot().queued_events == 0)
        snapshot = station.snapshot()
    assert [s["transactionId"] for s in stops] == [1001] * 3
    assert len({s["meterStop"] for s in stops}) == 1
    refused = [e for e in csms.events if e["event"] == "sent" and e.get("frame", [None])[0] == 4]
    assert len(refused) == 2
    assert snapshot.counters.events_dropped == 0


async def test_fleet_16_station_numbers_the_connectors_of_its_evses_across_the_station(tmp_path: Path) -> None:
    evses = [EvseProfile(connectors=[ConnectorProfile(), ConnectorProfile(type="cCCS2")]), EvseProfile()]
    profile = msgspec.structs.replace(PROFILE, evses=evses)
    async with open_ocpp16_csms(tmp_path) as (csms, url), \
            open_station("CS16N", url, profile=profile, password=PASSWORD) as station:
        await wait_state(station, "available")
        first = await csms.wait_received("StatusNotification", count=4)
        assert [(p["connectorId"], p["status"]) for p in first] == [
            (0, "Available"), (1, "Available"), (2, "Available"), (3, "Available")]
        answer = await csms.answer("GetConfiguration", {"key": ["NumberOfConnectors"]}, station_id="CS16N")
        assert answer["configurationKey"][0]["value"] == "3"
        # EVSE 1's second connector is 1.6 connector 2; its sibling cannot serve meanwhile
        await station.plug(1, 2)
        await station.start_transaction(1, "TAG-N1", authorize=False)
        [start] = await csms.wait_received("StartTransaction")
        assert start["connectorId"] == 2
        await csms.wait_received("StatusNotification", lambda p: (p["connectorId"], p["status"]) == (1, "Unavailable"))
        # EVSE 2's connector is 1.6 connector 3
        await station.plug(2)
        await station.start_transaction(2, "TAG-N2", authorize=False)
        [_, start3] = await csms.wait_received("StartTransaction", count=2)
        assert start3["connectorId"] == 3
        await csms.wait_received("StatusNotification", lambda p: (p["connectorId"], p["status"]) == (3, "Charging"))
        assert await csms.answer("RemoteStopTransaction", {"transactionId": 1002}, station_id="CS16N") == {
            "status": "Accepted"}
        [stop] = await csms.wait_received("StopTransaction")
        assert stop["transactionId"] == 1002
        assert station.snapshot().evses[0].transaction_id == "1001"
    csms.check_clean()


async def test_fleet_16_station_gives_up_a_start_transaction_after_its_attempts(tmp_path: Path) -> None:
    profile = msgspec.structs.replace(PROFILE, variables={"TransactionMessageAttempts": 2,
                                                          "TransactionMessageRetryInterval": 1})
    async with open_ocpp16_csms(tmp_path, "--refuse", "StartTransaction=5") as (csms, url), \
            open_station("CS16G", url, profile=profile, password=PASSWORD) as station:
        await wait_state(station, "available")
        await station.plug(1)
        await station.start_transaction(1, "TAG-G", authorize=False)
        await station.stop_transaction(1)
        await csms.wait_received("StartTransaction", count=2, timeout=10)
        # given up after 2 attempts: what was queued behind it has no transactionId to carry
        await wait_until(lambda: station.snapshot().queued_events == 0)
        snapshot = station.snapshot()
    assert len(csms.received("StartTransaction")) == 2
    assert not csms.received("StopTransaction")
    assert snapshot.counters.events_dropped >= 2  # the StartTransaction and the StopTransaction behind it
    assert snapshot.last_error is not None and "StartTransaction" in snapshot.last_error


async def test_fleet_16_wallbox_profile_runs_automatic_sessions(tmp_path: Path) -> None:
    profile = load_profile(Path(__file__).resolve().parents[2] / "profiles" / "ac-wallbox-16.toml")
    async with open_ocpp16_csms(tmp_path) as (csms, url), \
            open_station("CS16A", url, profile=profile, password=PASSWORD, speed=6000, seed=3) as station:
        await wait_state(station, "available")
        with trio.fail_after(15):
            await station.wait_until(lambda s: s.counters.transactions_ended >= 2)
        await csms.wait_received("StopTransaction", count=2, timeout=10)
    [boot] = csms.received("BootNotification")
    assert (boot["chargePointModel"], boot["firmwareVersion"]) == ("Wallbox16-22", "4.2.1")
    starts, stops = csms.received("StartTransaction"), csms.received("StopTransaction")
    assert [s["transactionId"] for s in stops[:2]] == [1001, 1002]
    assert all(start["idTag"] in ("WB16-0001", "WB16-0002") for start in starts)
    assert all(stop["meterStop"] >= start["meterStart"] for start, stop in zip(starts, stops, strict=False))
    csms.check_clean()


async def test_fleet_16_station_authorizes_offline_from_its_cache_only(tmp_path: Path) -> None:
    async with open_ocpp16_csms(tmp_path) as (csms, url), \
            open_station("CS16L", url, profile=PROFILE, password=PASSWORD) as station:
        await wait_state(station, "available")
        # online: the CSMS accepts TAG-CACHED, the authorization cache keeps it
        await station.start_transaction(1, "TAG-CACHED")
        await csms.wait_received("Authorize", lambda p: p["idTag"] == "TAG-CACHED")
        await wait_until(lambda: station.snapshot().evses[0].id_token == "TAG-CACHED")
        await station.stop_transaction(1)
        await wait_until(lambda: station.snapshot().evses[0].id_token is None)
        assert await station.partition(5.0)
        await wait_until(lambda: not station.snapshot().connected)
        # offline: an unknown idTag is refused (AllowOfflineTxForUnknownId false) ...
        await station.plug(1)
        await station.start_transaction(1, "TAG-UNKNOWN")
        await wait_until(lambda: station.snapshot().last_error is not None)
        assert station.snapshot().evses[0].id_token is None
        # ... the cached one is accepted (LocalAuthorizeOffline) and its transaction starts
        await station.start_transaction(1, "TAG-CACHED")
        await wait_until(lambda: station.snapshot().evses[0].transaction_id == "L1")
        [start] = await csms.wait_received("StartTransaction", timeout=10)
    assert start["idTag"] == "TAG-CACHED"
    assert [p["idTag"] for p in csms.received("Authorize")] == ["TAG-CACHED"]
    csms.check_clean()
