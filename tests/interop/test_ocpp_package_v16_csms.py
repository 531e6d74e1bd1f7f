"""Interoperability of fleet's CSMS with an independent OCPP 1.6J charge point: the ``ocpp`` package's.

The peer is ``ocpp_station_peer.py --ocpp-version 1.6`` (the ``ocpp`` package's ``v16``
charge point, asyncio + ``websockets``) in a subprocess, driven and watched through the
harness of ``test_ocpp_package.py`` (:class:`Peer`): it validates every frame fleet sends
against the official OCPP 1.6 JSON schemas (the ``ocpp`` package's own check, and a strict one
with ``date-time`` formats), answers with its own serializer, and reports every frame.
Everything runs on 127.0.0.1 with ports chosen by the OS.
"""

from __future__ import annotations

import datetime
import functools
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from test_ocpp_package import PASSWORD, Peer, open_peer, utc
from waiting import wait_until

from fleet.actors.csms import Csms, open_csms
from fleet.actors.csms.v16.recorders import delivered_wh
from fleet.ocpp import LocalProtocolError, RemoteCallError, v16, v201

pytestmark = pytest.mark.timeout(40)

REPO = Path(__file__).resolve().parents[2]

ID_TOKENS: dict[str, Any] = {
    "GOOD-1": "Accepted",
    "BLOCKED-1": "Blocked",
    "GROUP-MEMBER-1": {"status": "Accepted", "group": "GROUP-A"},
    "OLD-CARD": {"expires": "2020-01-01T00:00:00Z"},
}


@asynccontextmanager
async def open_fleet_csms(**settings: Any) -> AsyncIterator[Csms]:
    async with open_csms(
        port=0, auth={"CP16": PASSWORD, "CP201": PASSWORD}, id_tokens=ID_TOKENS, heartbeat_interval=60,
        boot_retry_interval=1, data_transfer_vendors=["acme"], **settings,
    ) as csms:
        yield csms


@asynccontextmanager
async def open_station16(tmp_path: Path, url: str, station_id: str = "CP16") -> AsyncIterator[Peer]:
    """The ocpp-package 1.6 charge point, connected."""
    async with open_peer(tmp_path, "ocpp_station_peer.py", url, station_id, "--password", PASSWORD,
                         "--ocpp-version", "1.6") as station:
        [connected] = await station.wait_for(lambda e: e["event"] in ("connected", "refused"), timeout=15)
        assert connected == {"event": "connected", "subprotocol": "ocpp1.6"}
        yield station


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def energy(value: str, unit: str = "Wh", **extra: Any) -> list[dict[str, Any]]:
    return [{"timestamp": now(), "sampledValue": [
        {"value": value, "measurand": "Energy.Active.Import.Register", "unit": unit, **extra},
        {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"}]}]


BOOT = {"chargePointVendor": "ocpp-package", "chargePointModel": "Peer16", "firmwareVersion": "2.1.0"}


async def test_ocpp16_station_boots_pending_then_accepted_and_runs_transactions_with_the_fleet_csms(
        tmp_path: Path) -> None:
    async with open_fleet_csms() as csms:
        csms.set_boot_status("Pending", "CP16")
        async with open_station16(tmp_path, csms.url) as station:
            boot = await station.answer("BootNotification", BOOT)
            assert (boot["status"], boot["interval"]) == ("Pending", 1)
            # while Pending the CSMS may read the station's configuration, in 1.6
            got = await csms.call("CP16", v16.GetConfigurationRequest(key=["HeartbeatInterval"]))
            assert [(k.key, k.value) for k in got.configuration_key] == [("HeartbeatInterval", "300")]
            csms.set_boot_status(None, "CP16")
            boot = await station.answer("BootNotification", BOOT)
            assert (boot["status"], boot["interval"]) == ("Accepted", 60)
            assert abs((utc(boot["currentTime"]) - datetime.datetime.now(datetime.UTC)).total_seconds()) < 60

            for connector in (0, 1):
                assert await station.answer("StatusNotification", {
                    "connectorId": connector, "errorCode": "NoError", "status": "Available", "timestamp": now()}) == {}
            utc((await station.answer("Heartbeat"))["currentTime"])

            statuses = {}
            for tag in ("GOOD-1", "BLOCKED-1", "OLD-CARD", "NOT-LISTED", "GROUP-MEMBER-1"):
                statuses[tag] = (await station.answer("Authorize", {"idTag": tag}))["idTagInfo"]
            assert {k: v["status"] for k, v in statuses.items()} == {
                "GOOD-1": "Accepted", "BLOCKED-1": "Blocked", "OLD-CARD": "Expired", "NOT-LISTED": "Invalid",
                "GROUP-MEMBER-1": "Accepted"}
            assert statuses["GROUP-MEMBER-1"]["parentIdTag"] == "GROUP-A"

            # a full transaction: the CSMS names it, the meter values and the stop carry that name
            assert await station.answer("StatusNotification", {
                "connectorId": 1, "errorCode": "NoError", "status": "Preparing", "timestamp": now()}) == {}
            started = await station.answer("StartTransaction", {
                "connectorId": 1, "idTag": "GOOD-1", "meterStart": 1000, "timestamp": now()})
            assert started["idTagInfo"]["status"] == "Accepted"
            transaction_id = started["transactionId"]
            assert isinstance(transaction_id, int)
            assert await station.answer("StatusNotification", {
                "connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": now()}) == {}
            assert await station.answer("MeterValues", {"connectorId": 1, "transactionId": transaction_id,
                                                        "meterValue": energy("1500")}) == {}
            assert await station.answer("MeterValues", {"connectorId": 1, "transactionId": transaction_id,
                                                        "meterValue": energy("2.5", "kWh", context="Sample.Clock")}) == {}
            stopped = await station.answer("StopTransaction", {
                "transactionId": transaction_id, "meterStop": 3000, "timestamp": now(), "idTag": "GOOD-1",
                "reason": "EVDisconnected", "transactionData": [
                    {"timestamp": now(), "sampledValue": [{"value": "3000", "context": "Transaction.End"}]}]})
            assert stopped == {"idTagInfo": {"status": "Accepted"}}
            # a second transaction gets another id; a blocked idTag is told so (the station stops it)
            second = await station.answer("StartTransaction", {
                "connectorId": 1, "idTag": "BLOCKED-1", "meterStart": 3000, "timestamp": now()})
            assert second["idTagInfo"]["status"] == "Blocked" and second["transactionId"] != transaction_id
            assert await station.answer("StopTransaction", {
                "transactionId": second["transactionId"], "meterStop": 3000, "timestamp": now(),
                "reason": "DeAuthorized"}) == {}

            assert (await station.answer("DataTransfer", {"vendorId": "acme", "data": "x"}))["status"] == "Accepted"
            assert (await station.answer("DataTransfer", {"vendorId": "nobody"}))["status"] == "UnknownVendorId"
            assert await station.answer("SecurityEventNotification", {"type": "StartupOfTheDevice",
                                                                      "timestamp": now(), "techInfo": "boot"}) == {}
            assert (await station.answer("SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----"}))[
                "status"] == "Rejected"
            assert await station.answer("FirmwareStatusNotification", {"status": "Downloaded"}) == {}
            assert await station.answer("SignedFirmwareStatusNotification", {"status": "Installed",
                                                                             "requestId": 3}) == {}
            assert await station.answer("DiagnosticsStatusNotification", {"status": "Uploading"}) == {}
            assert await station.answer("LogStatusNotification", {"status": "Uploaded", "requestId": 4}) == {}

            record = csms.station("CP16")
            assert record is not None and record.connected and record.ocpp_version == "1.6"
            assert record.boot is not None and record.boot.charging_station.charge_point_vendor == "ocpp-package"
            assert record.registration_status == "Accepted"
            assert [(c.evse_id, c.connector_id, c.status) for c in record.connectors] == [
                (0, 0, "Available"), (1, 1, "Charging")]
            tx = record.transactions[str(transaction_id)]
            assert tx.started and tx.ended and tx.stopped_reason == "EVDisconnected"
            assert (tx.evse_id, tx.connector_id, tx.id_token) == (1, 1, "GOOD-1")
            assert tx.seq_nos == (0, 1, 2, 3) and tx.retransmissions == 0
            assert [e.energy_wh for e in tx.events] == pytest.approx([1000.0, 1500.0, 2500.0, 3000.0])
            assert tx.energy_wh == 3000.0 and delivered_wh(tx) == 2000.0
            assert record.transactions[str(second["transactionId"])].stopped_reason == "DeAuthorized"
            assert (record.firmware_status, record.log_status) == ("Installed", "Uploaded")
            assert record.messages["Authorize"] == 5 and record.messages["MeterValues"] == 2
            statistics = csms.statistics()
            assert statistics.violations == 0
            assert (statistics.transactions_started, statistics.transactions_ended) == (2, 2)
        station.check_clean()


async def test_fleet_csms_sends_typed_1_6_requests_to_the_ocpp16_station(tmp_path: Path) -> None:
    async with open_fleet_csms() as csms, open_station16(tmp_path, csms.url) as station:
        await station.answer("BootNotification", BOOT)

        def count(action: str) -> int:
            record = csms.station("CP16")
            return record.messages.get(action, 0) if record is not None else 0

        changed = await csms.call("CP16", v16.ChangeConfigurationRequest(key="HeartbeatInterval", value="30"))
        assert changed.status == v16.ConfigurationStatus.ACCEPTED
        refused = await csms.call("CP16", v16.ChangeConfigurationRequest(key="NumberOfConnectors", value="2"))
        assert refused.status == v16.ConfigurationStatus.REJECTED
        got = await csms.call("CP16", v16.GetConfigurationRequest(key=["HeartbeatInterval", "NoSuchKey"]))
        assert [(k.key, k.value, k.readonly) for k in got.configuration_key] == [("HeartbeatInterval", "30", False)]
        assert got.unknown_key == ["NoSuchKey"]

        result = await csms.call_result("CP16", v16.ResetRequest(type=v16.ResetType.SOFT), message_id="reset-16",
                                        tag="mine")
        assert result.response == v16.ResetResponse(status=v16.ResetStatus.ACCEPTED)
        assert (result.message_id, result.action, result.tag) == ("reset-16", "Reset", "mine")

        for trigger, action in ((v16.MessageTrigger.HEARTBEAT, "Heartbeat"),
                                (v16.MessageTrigger.STATUS_NOTIFICATION, "StatusNotification")):
            before = count(action)
            triggered = await csms.call("CP16", v16.TriggerMessageRequest(requested_message=trigger, connector_id=1))
            assert triggered.status == v16.TriggerMessageStatus.ACCEPTED
            await wait_until(functools.partial(lambda a, n: count(a) == n, action, before + 1))

        # a remote start: the station starts a transaction, the CSMS names it; a remote stop of that name ends it
        started = await csms.call("CP16", v16.RemoteStartTransactionRequest(id_tag="GOOD-1", connector_id=1))
        assert started.status == v16.RemoteStartStopStatus.ACCEPTED
        await wait_until(lambda: len(csms.station("CP16").transactions) == 1)  # type: ignore[union-attr]
        [transaction_id] = csms.station("CP16").transactions  # type: ignore[union-attr]
        stopped = await csms.call("CP16", v16.RemoteStopTransactionRequest(transaction_id=int(transaction_id)))
        assert stopped.status == v16.RemoteStartStopStatus.ACCEPTED
        await wait_until(lambda: csms.station("CP16").transactions[transaction_id].ended)  # type: ignore[union-attr]
        tx = csms.station("CP16").transactions[transaction_id]  # type: ignore[union-attr]
        assert tx.id_token == "GOOD-1" and tx.stopped_reason == "Remote" and delivered_wh(tx) == 1000.0
        unknown = await csms.call("CP16", v16.RemoteStopTransactionRequest(transaction_id=int(transaction_id) + 99))
        assert unknown.status == v16.RemoteStartStopStatus.REJECTED

        availability = await csms.call("CP16", v16.ChangeAvailabilityRequest(
            connector_id=1, type=v16.AvailabilityType.INOPERATIVE))
        assert availability.status == v16.AvailabilityStatus.ACCEPTED
        await wait_until(lambda: any(c.status == "Unavailable"
                                     for c in csms.station("CP16").connectors))  # type: ignore[union-attr]
        echo = await csms.call("CP16", v16.DataTransferRequest(vendor_id="fleet-interop", message_id="ping", data="1"))
        assert (echo.status, echo.data) == (v16.DataTransferStatus.ACCEPTED, "echo:ping:1")
        assert (await csms.call("CP16", v16.ClearCacheRequest())).status == v16.ClearCacheStatus.ACCEPTED

        # an action the ocpp-package station has no handler for: its 1.6 CALLERROR reaches the caller
        with pytest.raises(RemoteCallError) as failure:
            await csms.call("CP16", v16.GetDiagnosticsRequest(location="ftp://127.0.0.1/diagnostics"))
        assert failure.value.code == "NotImplemented"
        # a 2.0.1 request on this 1.6 connection: refused by the CSMS, nothing sent
        sent = len([e for e in station.events if e["event"] == "recv"])
        with pytest.raises(LocalProtocolError, match=r"OCPP 1\.6"):
            await csms.call("CP16", v201.ResetRequest(type=v201.Reset.IMMEDIATE))
        assert len([e for e in station.events if e["event"] == "recv"]) == sent
        statistics = csms.statistics()
        assert statistics.violations == 0 and statistics.calls_failed == 1  # the GetDiagnostics
    invalid = [(e["frame"], e["schema_errors"]) for e in station.events if e["event"] == "recv" and e["schema_errors"]]
    assert not invalid
    refused_frames = [e["frame"] for e in station.events if e["event"] == "sent" and e["frame"][0] == 4]
    assert [f[2] for f in refused_frames] == ["NotImplemented"]
    failed = [e for e in station.events if e["event"] == "own_call_failed"]
    assert not failed


@asynccontextmanager
async def run_fleet_csms(*args: str) -> AsyncIterator[str]:
    """``fleet csms`` as a process on a free port; yields the URL it prints."""
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "fleet", "csms", "--port", "0", "--no-control", *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(REPO),
    )
    try:
        assert process.stdout is not None
        out = b""
        with trio.fail_after(15):
            while b"\n" not in out:
                chunk = await process.stdout.receive_some()
                assert chunk, "fleet csms exited before listening"
                out += chunk
        line = out.decode().splitlines()[0]
        assert line.startswith("listening on "), line
        yield line.removeprefix("listening on ")
    finally:
        process.kill()
        with trio.move_on_after(5):
            await process.wait()


async def test_a_1_6_and_a_2_0_1_ocpp_station_on_one_port_of_fleet_csms_each_get_their_own_version(
        tmp_path: Path) -> None:
    async with run_fleet_csms("--ocpp-versions", "2.0.1,1.6") as url, \
            open_station16(tmp_path, url) as old, \
            open_peer(tmp_path, "ocpp_station_peer.py", url, "CP201") as new:
        [connected] = await new.wait_for(lambda e: e["event"] in ("connected", "refused"), timeout=15)
        assert connected == {"event": "connected", "subprotocol": "ocpp2.0.1"}
        # at once: each boots in its own version and gets its own version's answer
        async with trio.open_nursery() as nursery:
            answers: dict[str, dict[str, Any]] = {}

            async def boot(name: str, peer: Peer, payload: dict[str, Any]) -> None:
                answers[name] = await peer.answer("BootNotification", payload)

            nursery.start_soon(boot, "1.6", old, BOOT)
            nursery.start_soon(boot, "2.0.1", new, {"chargingStation": {"model": "M", "vendorName": "V"},
                                                    "reason": "PowerUp"})
        assert answers["1.6"]["status"] == answers["2.0.1"]["status"] == "Accepted"
        started = await old.answer("StartTransaction", {"connectorId": 1, "idTag": "ANY-1", "meterStart": 0,
                                                        "timestamp": now()})
        assert isinstance(started["transactionId"], int)
        assert await new.answer("TransactionEvent", {
            "eventType": "Started", "timestamp": now(), "triggerReason": "Authorized", "seqNo": 0,
            "transactionInfo": {"transactionId": "TX-201"}, "evse": {"id": 1, "connectorId": 1},
            "idToken": {"idToken": "ANY-1", "type": "ISO14443"}}) == {"idTokenInfo": {"status": "Accepted"}}
        # each refuses the other version's message as an action it does not know
        for peer, other in ((old, "TransactionEvent"), (new, "StartTransaction")):
            await peer.send_raw(f'[2,"other-{other}","{other}",{{}}]')
            frame = await peer.wait_error(f"other-{other}")
            assert frame[2] == "NotImplemented", frame
    old.check_clean()
    assert not [e for e in new.events if e["event"] == "recv" and e["schema_errors"]]


async def test_fleet_csms_answers_bad_frames_of_the_ocpp16_station_with_1_6_callerrors(tmp_path: Path) -> None:
    async with open_fleet_csms() as csms, open_station16(tmp_path, csms.url) as station:
        await station.answer("BootNotification", BOOT)
        cases = {
            "bad-missing": ('[2,"bad-missing","Authorize",{}]', "OccurenceConstraintViolation"),
            "bad-type": ('[2,"bad-type","StatusNotification",{"connectorId":"one","errorCode":"NoError",'
                         '"status":"Available"}]', "TypeConstraintViolation"),
            "bad-enum": ('[2,"bad-enum","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
                         '"status":"Occupied"}]', "PropertyConstraintViolation"),
            "bad-date": ('[2,"bad-date","StartTransaction",{"connectorId":1,"idTag":"T","meterStart":0,'
                         '"timestamp":"yesterday"}]', "PropertyConstraintViolation"),
            "bad-payload": ('[2,"bad-payload","Heartbeat",[]]', "FormationViolation"),
            "bad-action": ('[2,"bad-action","NoSuchAction",{}]', "NotImplemented"),
            "bad-direction": ('[2,"bad-direction","Reset",{"type":"Hard"}]', "NotSupported"),
        }
        for message_id, (text, expected) in cases.items():
            await station.send_raw(text)
            frame = await station.wait_error(message_id)
            assert len(frame) == 5 and isinstance(frame[3], str) and isinstance(frame[4], dict), frame
            assert frame[2] == expected, frame
        await station.send_raw("this is not json")
        frame = await station.wait_error("-1")
        assert frame[2] == "ProtocolError"  # OCPP-J 1.6 has no RpcFrameworkError
        utc((await station.answer("Heartbeat"))["currentTime"])
        assert csms.is_connected("CP16") and csms.statistics().violations >= len(cases)
        assert csms.station("CP16").messages.get("StatusNotification", 0) == 0  # type: ignore[union-attr]
