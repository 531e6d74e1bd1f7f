"""Interoperability in OCPP 2.1 with the ``ocpp`` package's ``v21`` module (its ChargePoint, its 2.1 schemas).

The peers and helpers of :mod:`test_ocpp_package`, speaking 2.1: the ``ocpp`` package as a
charging station against fleet's CSMS (boot, status, heartbeat, authorize, a transaction),
and as a CSMS against a fleet 2.1 station (boot, a remote start and stop). Every frame fleet
sends is checked against the official 2.1 schemas with formats (``peer_common.py``), and
the package checks it too. What the package cannot do: send or receive OCPP-J 2.1's SEND
and CALLRESULTERROR (``tests/actors/test_v21.py`` covers them over raw websockets).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import msgspec
import pytest
from test_ocpp_package import PASSWORD, PROFILE, meter, now, open_fleet_csms, open_ocpp_csms, open_peer, token
from waiting import wait_state

from fleet.actors.station import open_station
from fleet.actors.station.v21.dialect import V21Dialect
from fleet.actors.station.v201.dialect import V201Dialect

pytestmark = pytest.mark.timeout(30)


async def test_ocpp_v21_station_boots_reports_and_runs_a_transaction_with_the_fleet_csms(tmp_path: Path) -> None:
    async with open_fleet_csms() as csms, open_peer(
        tmp_path, "ocpp_station_peer.py", csms.url, "CP1", "--password", PASSWORD, version="2.1"
    ) as station:
        [connected] = await station.wait_for(lambda e: e["event"] in ("connected", "refused"), timeout=15)
        assert connected == {"event": "connected", "subprotocol": "ocpp2.1"}
        boot = await station.answer("BootNotification", {"chargingStation": {
            "model": "PeerModel", "vendorName": "ocpp-package"}, "reason": "PowerUp"})
        assert boot["status"] == "Accepted" and boot["interval"] == 60
        assert await station.answer("StatusNotification", {
            "timestamp": now(), "connectorStatus": "Available", "evseId": 1, "connectorId": 1}) == {}
        heartbeat = await station.answer("Heartbeat")
        assert datetime.datetime.fromisoformat(heartbeat["currentTime"].replace("Z", "+00:00")).tzinfo is not None
        authorized = await station.answer("Authorize", {"idToken": token("GOOD-1")})
        assert authorized["idTokenInfo"]["status"] == "Accepted"
        started = await station.answer("TransactionEvent", {
            "eventType": "Started", "timestamp": now(), "triggerReason": "Authorized", "seqNo": 0,
            "transactionInfo": {"transactionId": "TX-21", "chargingState": "Charging"},
            "evse": {"id": 1, "connectorId": 1}, "idToken": token("GOOD-1"), "meterValue": meter(1000.0)})
        assert started["idTokenInfo"]["status"] == "Accepted"
        assert await station.answer("TransactionEvent", {
            "eventType": "Updated", "timestamp": now(), "triggerReason": "MeterValuePeriodic", "seqNo": 1,
            "transactionInfo": {"transactionId": "TX-21", "chargingState": "Charging"},
            "meterValue": meter(1500.0)}) == {}
        ended = await station.answer("TransactionEvent", {
            "eventType": "Ended", "timestamp": now(), "triggerReason": "StopAuthorized", "seqNo": 2,
            "transactionInfo": {"transactionId": "TX-21", "stoppedReason": "Local"},
            "idToken": token("GOOD-1"), "meterValue": meter(2500.0)})
        assert ended["idTokenInfo"]["status"] == "Accepted"
        record = csms.station("CP1")
        assert record is not None and record.ocpp_version == "2.1" and record.registration_status == "Accepted"
        [connector] = record.connectors
        assert (connector.evse_id, connector.connector_id, connector.status) == (1, 1, "Available")
        tx = record.transactions["TX-21"]
        assert tx.started and tx.ended and tx.seq_nos == (0, 1, 2) and tx.energy_wh == pytest.approx(2500.0)
        assert csms.statistics().violations == 0
    station.check_clean()


async def test_fleet_2_1_station_boots_and_is_remotely_started_by_the_ocpp_v21_csms(tmp_path: Path) -> None:
    profile = msgspec.structs.replace(PROFILE, ocpp_version="2.1")
    async with open_ocpp_csms(tmp_path, "--heartbeat", "30", version="2.1") as (csms, url), \
            open_station("CS21", url, profile=profile, password=PASSWORD) as station:
        await wait_state(station, "available")
        assert type(station.dialect) is V21Dialect
        [connected] = await csms.wait_for(lambda e: e["event"] == "connected")
        assert connected["subprotocol"] == "ocpp2.1"
        [boot] = csms.received("BootNotification")
        assert boot["reason"] == "PowerUp" and boot["chargingStation"]["vendorName"] == "fleet"
        await csms.wait_received("StatusNotification")
        answer = await csms.answer("RequestStartTransaction", {
            "idToken": {"idToken": "REMOTE-1", "type": "ISO14443"}, "remoteStartId": 42, "evseId": 1},
            station_id="CS21")
        assert answer["status"] == "Accepted"
        [started] = await csms.wait_received("TransactionEvent", lambda p: p["eventType"] == "Started")
        assert started["triggerReason"] == "RemoteStart" and started["transactionInfo"]["remoteStartId"] == 42
        answer = await csms.answer("RequestStopTransaction",
                                   {"transactionId": started["transactionInfo"]["transactionId"]}, station_id="CS21")
        assert answer["status"] == "Accepted"
        [ended] = await csms.wait_received("TransactionEvent", lambda p: p["eventType"] == "Ended")
        assert ended["transactionInfo"]["stoppedReason"] == "Remote"
    csms.check_clean()


async def test_fleet_station_offering_2_1_and_2_0_1_speaks_2_0_1_with_the_ocpp_v201_csms(tmp_path: Path) -> None:
    profile = msgspec.structs.replace(PROFILE, ocpp_version=("2.1", "2.0.1"))
    async with open_ocpp_csms(tmp_path, "--heartbeat", "30") as (csms, url), \
            open_station("CSNEG", url, profile=profile, password=PASSWORD) as station:
        await wait_state(station, "available")
        [connected] = await csms.wait_for(lambda e: e["event"] == "connected")
        assert connected["subprotocol"] == "ocpp2.0.1"
        assert type(station.dialect) is V201Dialect
        await csms.wait_received("StatusNotification")
    csms.check_clean()
