"""Interoperability with an independent OCPP 2.0.1 implementation: the ``ocpp`` PyPI package.

The ``ocpp`` package (asyncio + ``websockets``) runs in a subprocess, as a CSMS
(``ocpp_csms_peer.py``) facing fleet's :class:`~fleet.actors.station.Station`, or as a
charging station (``ocpp_station_peer.py``) facing fleet's CSMS
(:func:`~fleet.actors.csms.open_csms`). The peer validates every message against
the official OCPP 2.0.1 JSON schemas (the ``ocpp`` package's own check, plus a
strict one with ``date-time`` formats, see ``peer_common.py``), answers with its
own serializer, and reports every frame as a JSON line that the tests read.

Everything runs on 127.0.0.1 with ports chosen by the OS; the subprocess is
killed when a test ends.
"""

from __future__ import annotations

import base64
import datetime
import functools
import itertools
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
from waiting import wait_state, wait_until

from fleet.actors.csms import Csms, open_csms
from fleet.actors.station import open_station
from fleet.ocpp import RemoteCallError
from fleet.ocpp.v201 import (
    EVSE,
    ChangeAvailabilityRequest,
    ChangeAvailabilityStatus,
    ClearCacheRequest,
    ClearCacheStatus,
    Component,
    DataTransferRequest,
    DataTransferStatus,
    GenericDeviceModelStatus,
    GetBaseReportRequest,
    GetLogRequest,
    GetVariableData,
    GetVariablesRequest,
    GetVariableStatus,
    IdToken,
    IdTokenEnum,
    Log,
    LogParameters,
    MessageTrigger,
    OperationalStatus,
    ReportBase,
    RequestStartStopStatus,
    RequestStartTransactionRequest,
    RequestStopTransactionRequest,
    Reset,
    ResetRequest,
    ResetStatus,
    SetVariableData,
    SetVariablesRequest,
    SetVariableStatus,
    TriggerMessageRequest,
    TriggerMessageStatus,
    Variable,
)
from fleet.profiles import RetryBackoff, SampledData, SessionGenerator, StationProfile

pytestmark = pytest.mark.timeout(30)

HERE = Path(__file__).resolve().parent
PASSWORD = "interop-password-0001"
#: A station for these tests: no transaction generator, quick back-off and reboot,
#: meter values every second, no websocket pings.
PROFILE = StationProfile(
    sessions=SessionGenerator(enabled=False),
    retry_backoff=RetryBackoff(wait_minimum=1, repeat_times=1, random_range=0),
    sampled_data=SampledData(tx_updated_interval=1),
    ping_interval=0,
    reboot_delay=0.2,
)


# ---------------------------------------------------------------- the peer


class Peer:
    """An ocpp-package peer in a subprocess: its JSON-line events, and its commands."""

    def __init__(self, process: trio.Process, stderr_path: Path) -> None:
        self.process = process
        self.stderr_path = stderr_path
        self.events: list[dict[str, Any]] = []
        self.exited = False
        self._changed = trio.Event()
        self._ids = itertools.count(1)

    async def read_events(self) -> None:
        assert self.process.stdout is not None
        buffer = b""
        async for chunk in self.process.stdout:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            self.events.extend(json.loads(line) for line in lines if line.strip())
            self._changed.set()
            self._changed = trio.Event()
        self.exited = True
        self._changed.set()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:]

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """The events matching ``predicate`` once there are ``count`` of them."""
        try:
            with trio.fail_after(timeout):
                while True:
                    found = [e for e in self.events if predicate(e)]
                    if len(found) >= count:
                        return found
                    if self.exited:
                        raise AssertionError(f"the peer exited; its stderr:\n{self.stderr()}")
                    await self._changed.wait()
        except trio.TooSlowError:
            raise AssertionError(
                f"waited {timeout} s for {count} matching events; last events:\n"
                + "\n".join(json.dumps(e)[:300] for e in self.events[-8:])
                + f"\nstderr:\n{self.stderr()}"
            ) from None

    async def request(
        self, action: str, payload: dict[str, Any] | None = None, *, station_id: str | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Have the peer send a CALL; its ``result`` event (``ok``, ``payload`` or ``error``)."""
        number = next(self._ids)
        command: dict[str, Any] = {"id": number, "action": action, "payload": payload or {}}
        if station_id is not None:
            command["station_id"] = station_id
        assert self.process.stdin is not None
        await self.process.stdin.send_all((json.dumps(command) + "\n").encode())
        [result] = await self.wait_for(lambda e: e["event"] == "result" and e["id"] == number, timeout=timeout)
        return result

    async def answer(self, action: str, payload: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """:meth:`request`, asserting that the answer came and validated; its payload."""
        result = await self.request(action, payload, **kwargs)
        assert result["ok"], f"{action}: {result}"
        payload_out: dict[str, Any] = result["payload"]
        return payload_out

    async def send_raw(self, text: str, *, station_id: str | None = None) -> None:
        """Have the peer send ``text`` as a websocket message, unchecked."""
        number = next(self._ids)
        command: dict[str, Any] = {"id": number, "raw": text}
        if station_id is not None:
            command["station_id"] = station_id
        assert self.process.stdin is not None
        await self.process.stdin.send_all((json.dumps(command) + "\n").encode())
        await self.wait_for(lambda e: e["event"] == "result" and e["id"] == number)

    async def wait_error(self, message_id: str) -> list[Any]:
        """The CALLERROR frame the peer received for ``message_id``."""
        [event] = await self.wait_for(lambda e: e["event"] == "recv" and e.get("frame", [None])[0] == 4
                                      and e["frame"][1] == message_id)
        frame: list[Any] = event["frame"]
        return frame

    def received(self, action: str | None = None) -> list[dict[str, Any]]:
        """Payloads of the CALLs the peer received (of ``action``), in order."""
        return [
            e["frame"][3] for e in self.events
            if e["event"] == "recv" and e.get("frame", [None])[0] == 2
            and (action is None or e["frame"][2] == action)
        ]

    def received_actions(self) -> list[str]:
        return [e["frame"][2] for e in self.events if e["event"] == "recv" and e.get("frame", [None])[0] == 2]

    async def wait_received(
        self, action: str, predicate: Callable[[dict[str, Any]], bool] = lambda p: True, count: int = 1,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Payloads of ``action`` CALLs matching ``predicate``, once there are ``count``."""
        events = await self.wait_for(
            lambda e: e["event"] == "recv" and e.get("frame", [None])[0] == 2 and e["frame"][2] == action
            and predicate(e["frame"][3]),
            count=count, timeout=timeout,
        )
        return [e["frame"][3] for e in events]

    def check_clean(self) -> None:
        """Every frame fleet sent passed the strict schema check, and the peer refused none."""
        invalid = [(e.get("frame"), e["schema_errors"]) for e in self.events
                   if e["event"] == "recv" and e["schema_errors"]]
        assert not invalid, f"frames from fleet failing the OCPP schemas: {invalid}"
        refused = [e["frame"] for e in self.events if e["event"] == "sent" and e.get("frame", [None])[0] == 4]
        assert not refused, f"the ocpp package answered fleet with CALLERRORs: {refused}"
        failed = [e for e in self.events if e["event"] == "own_call_failed"]
        assert not failed, f"the peer's own CALLs failed: {failed}"


@asynccontextmanager
async def open_peer(tmp_path: Path, script: str, *args: str, version: str = "2.0.1") -> AsyncIterator[Peer]:
    """The ocpp-package peer ``script`` speaking OCPP ``version`` (2.0.1 or 2.1)."""
    stderr_path = tmp_path / f"{script}.stderr"
    with stderr_path.open("wb") as stderr:
        process = await trio.lowlevel.open_process(
            [sys.executable, "-u", str(HERE / script), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, cwd=str(HERE),
            env={**os.environ, "OCPP_PEER_VERSION": version},
        )
        peer = Peer(process, stderr_path)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(peer.read_events)
                try:
                    yield peer
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                process.kill()
                with trio.move_on_after(5):
                    await process.wait()


@asynccontextmanager
async def open_ocpp_csms(tmp_path: Path, *args: str, version: str = "2.0.1") -> AsyncIterator[tuple[Peer, str]]:
    """The ocpp-package CSMS; yields it and the URL stations connect to (``<url>/<id>``)."""
    async with open_peer(tmp_path, "ocpp_csms_peer.py", *args, version=version) as peer:
        [listening] = await peer.wait_for(lambda e: e["event"] == "listening", timeout=15)
        yield peer, f"ws://127.0.0.1:{listening['port']}/ocpp"


def utc(text: str) -> datetime.datetime:
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, text
    return parsed


def measurands(event: dict[str, Any]) -> dict[str, float]:
    return {
        s.get("measurand", "Energy.Active.Import.Register"): s["value"]
        for m in event.get("meterValue", []) for s in m["sampledValue"] if "phase" not in s
    }


# ============================================ ocpp-package CSMS vs fleet's Station


async def test_fleet_station_boots_authorizes_and_runs_a_transaction_with_the_ocpp_csms(tmp_path: Path) -> None:
    # websocket pings every second: the websockets server must answer them
    profile = msgspec.structs.replace(PROFILE, ping_interval=1)
    async with open_ocpp_csms(tmp_path, "--heartbeat", "1") as (csms, url):
        async with open_station("CS1", url, profile=profile, password=PASSWORD) as station:
            await wait_state(station, "available")
            [connected] = await csms.wait_for(lambda e: e["event"] == "connected")
            assert connected["path"] == "/ocpp/CS1"
            assert connected["subprotocol"] == "ocpp2.0.1"
            assert connected["authorization"] == "Basic " + base64.b64encode(f"CS1:{PASSWORD}".encode()).decode()

            [boot] = csms.received("BootNotification")
            assert boot["reason"] == "PowerUp"
            assert boot["chargingStation"]["vendorName"] == "fleet"
            [status] = await csms.wait_received("StatusNotification")
            assert (status["evseId"], status["connectorId"], status["connectorStatus"]) == (1, 1, "Available")
            utc(status["timestamp"])
            # the interval of the boot answer (1 s) replaced the profile's 300 s
            await csms.wait_received("Heartbeat", count=2, timeout=4)
            assert csms.received_actions()[0] == "BootNotification"

            # a token the CSMS answers Invalid: no transaction
            await station.start_transaction(1, "BAD-TOKEN-1")
            await csms.wait_received("Authorize", lambda p: p["idToken"]["idToken"] == "BAD-TOKEN-1")
            await wait_until(lambda: station.snapshot().last_error is not None)
            assert station.snapshot().evses[0].id_token is None
            assert not csms.received("TransactionEvent")

            # a vehicle plugs in, a good token, charging with periodic meter values, stop
            await station.plug(1)
            await station.start_transaction(1, "TOKEN-1")
            await wait_state(station, "charging")
            await csms.wait_received("TransactionEvent", lambda p: p["triggerReason"] == "MeterValuePeriodic",
                                     count=2, timeout=5)
            await station.stop_transaction(1)
            await station.unplug(1)
            [ended] = await csms.wait_received("TransactionEvent", lambda p: p["eventType"] == "Ended")
            await wait_state(station, "available")
            snapshot = station.snapshot()

        events = csms.received("TransactionEvent")
        assert (events[0]["eventType"], events[-1]["eventType"]) == ("Started", "Ended")
        assert {e["eventType"] for e in events[1:-1]} == {"Updated"}
        assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
        seq = [e["seqNo"] for e in events]
        assert seq == sorted(seq) and len(set(seq)) == len(seq)
        assert events[0]["evse"]["id"] == 1
        [authorized] = [e for e in events if e["triggerReason"] == "Authorized"]
        assert authorized["idToken"] == {"idToken": "TOKEN-1", "type": "ISO14443"}
        assert ended["transactionInfo"]["stoppedReason"] == "Local"
        periodic = [e for e in events if e["triggerReason"] == "MeterValuePeriodic"]
        assert all("Power.Active.Import" in measurands(e) for e in periodic)
        energy = [measurands(e)["Energy.Active.Import.Register"] for e in events
                  if "Energy.Active.Import.Register" in measurands(e)]
        assert len(energy) >= 3 and energy == sorted(energy) and energy[-1] > energy[0]
        assert not any(e.get("offline") for e in events)
        assert snapshot.counters.transactions_ended == 1
        assert snapshot.counters.events_sent == len(events)
        assert snapshot.counters.disconnects == 0 and snapshot.counters.connects == 1
        assert len([e for e in csms.events if e["event"] == "connected"]) == 1
        csms.check_clean()


async def test_fleet_station_answers_the_ocpp_csms_requests(tmp_path: Path) -> None:
    async with open_ocpp_csms(tmp_path, "--heartbeat", "30") as (csms, url), \
            open_station("CS2", url, profile=PROFILE, password=PASSWORD) as station:
        await wait_state(station, "available")
        await csms.wait_received("StatusNotification")

        def variable(component: str, name: str, **extra: Any) -> dict[str, Any]:
            return {"component": {"name": component}, "variable": {"name": name}, **extra}

        answer = await csms.answer("GetVariables", {"getVariableData": [
            variable("OCPPCommCtrlr", "HeartbeatInterval"), variable("SecurityCtrlr", "Identity"),
            variable("NoSuchCtrlr", "Foo")]}, station_id="CS2")
        results = answer["getVariableResult"]
        assert [r["attributeStatus"] for r in results] == ["Accepted", "Accepted", "UnknownComponent"]
        assert results[0]["attributeValue"] == "30"
        assert results[1]["attributeValue"] == "CS2"

        answer = await csms.answer("SetVariables", {"setVariableData": [
            variable("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="45"),
            variable("SecurityCtrlr", "Identity", attributeValue="other")]}, station_id="CS2")
        assert [r["attributeStatus"] for r in answer["setVariableResult"]] == ["Accepted", "Rejected"]
        answer = await csms.answer("GetVariables", {"getVariableData": [
            variable("OCPPCommCtrlr", "HeartbeatInterval")]}, station_id="CS2")
        assert answer["getVariableResult"][0]["attributeValue"] == "45"

        statuses = len(csms.received("StatusNotification"))
        answer = await csms.answer("TriggerMessage", {"requestedMessage": "StatusNotification",
                                                      "evse": {"id": 1, "connectorId": 1}}, station_id="CS2")
        assert answer["status"] == "Accepted"
        await csms.wait_received("StatusNotification", count=statuses + 1)
        answer = await csms.answer("TriggerMessage", {"requestedMessage": "Heartbeat"}, station_id="CS2")
        assert answer["status"] == "Accepted"
        await csms.wait_received("Heartbeat")
        answer = await csms.answer("TriggerMessage", {"requestedMessage": "BootNotification"}, station_id="CS2")
        assert answer["status"] == "Rejected"  # already accepted

        answer = await csms.answer("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}},
                                   station_id="CS2")
        assert answer["status"] == "Accepted"
        await csms.wait_received("StatusNotification", lambda p: p["connectorStatus"] == "Unavailable")
        answer = await csms.answer("ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 1}},
                                   station_id="CS2")
        assert answer["status"] == "Accepted"
        await csms.wait_received("StatusNotification", lambda p: p["connectorStatus"] == "Available",
                                 count=2)

        answer = await csms.answer("DataTransfer", {"vendorId": "fleet", "messageId": "echo",
                                                    "data": {"n": [1, 2]}}, station_id="CS2")
        assert answer == {"status": "Accepted", "data": {"n": [1, 2]}}
        answer = await csms.answer("DataTransfer", {"vendorId": "someone.else"}, station_id="CS2")
        assert answer["status"] == "UnknownVendorId"

        answer = await csms.answer("GetBaseReport", {"requestId": 5, "reportBase": "FullInventory"},
                                   station_id="CS2")
        assert answer["status"] == "Accepted"
        [last] = await csms.wait_received("NotifyReport", lambda p: not p.get("tbc", False))
        reports = csms.received("NotifyReport")
        assert {r["requestId"] for r in reports} == {5}
        assert [r["seqNo"] for r in reports] == list(range(len(reports)))
        assert last is reports[-1] or last == reports[-1]
        data = [d for r in reports for d in r.get("reportData", [])]
        names = {(d["component"]["name"], d["variable"]["name"]) for d in data}
        assert ("OCPPCommCtrlr", "HeartbeatInterval") in names
        password = [d for d in data if d["variable"]["name"] == "BasicAuthPassword"]
        assert all("value" not in a for d in password for a in d["variableAttribute"]), "a password was reported"

        answer = await csms.answer("SendLocalList", {"versionNumber": 3, "updateType": "Full",
                                                     "localAuthorizationList": [
                                                         {"idToken": {"idToken": "LOCAL-1", "type": "ISO14443"},
                                                          "idTokenInfo": {"status": "Accepted"}}]},
                                   station_id="CS2")
        assert answer["status"] == "Accepted"
        answer = await csms.answer("GetLocalListVersion", {}, station_id="CS2")
        assert answer["versionNumber"] == 3
        answer = await csms.answer("ClearCache", {}, station_id="CS2")
        assert answer["status"] in ("Accepted", "Rejected")
    csms.check_clean()


async def test_fleet_station_remote_start_stop_and_reset_on_idle_with_the_ocpp_csms(tmp_path: Path) -> None:
    async with open_ocpp_csms(tmp_path, "--heartbeat", "30") as (csms, url), \
            open_station("CS3", url, profile=PROFILE, password=PASSWORD) as station:
        await wait_state(station, "available")
        answer = await csms.answer("RequestStartTransaction", {
            "idToken": {"idToken": "REMOTE-1", "type": "ISO14443"}, "remoteStartId": 42, "evseId": 1},
            station_id="CS3")
        assert answer["status"] == "Accepted"
        [started] = await csms.wait_received("TransactionEvent", lambda p: p["eventType"] == "Started")
        assert started["triggerReason"] == "RemoteStart"
        assert started["transactionInfo"]["remoteStartId"] == 42
        transaction_id = started["transactionInfo"]["transactionId"]
        await station.plug(1)
        await wait_state(station, "charging")

        answer = await csms.answer("Reset", {"type": "OnIdle"}, station_id="CS3")
        assert answer["status"] == "Scheduled"
        answer = await csms.answer("RequestStopTransaction", {"transactionId": "no-such-transaction"},
                                   station_id="CS3")
        assert answer["status"] == "Rejected"
        answer = await csms.answer("RequestStopTransaction", {"transactionId": transaction_id}, station_id="CS3")
        assert answer["status"] == "Accepted"
        [ended] = await csms.wait_received("TransactionEvent", lambda p: p["eventType"] == "Ended")
        assert ended["triggerReason"] == "RemoteStop"
        assert ended["transactionInfo"] == {**ended["transactionInfo"], "transactionId": transaction_id,
                                            "stoppedReason": "Remote"}
        # idle now: the scheduled reset reboots the station, which reconnects and boots again
        await csms.wait_for(lambda e: e["event"] == "disconnected")
        await csms.wait_for(lambda e: e["event"] == "connected", count=2)
        [_, reboot] = await csms.wait_received("BootNotification", count=2)
        assert reboot["reason"] == "RemoteReset"
        await wait_state(station, "available")

        answer = await csms.answer("Reset", {"type": "Immediate"}, station_id="CS3")
        assert answer["status"] == "Accepted"
        [*_, again] = await csms.wait_received("BootNotification", count=3)
        assert again["reason"] == "RemoteReset"
        await wait_state(station, "available")
        assert station.snapshot().counters.reboots == 2
    csms.check_clean()


async def test_fleet_station_waits_through_rejected_and_pending_boots(tmp_path: Path) -> None:
    async with open_ocpp_csms(tmp_path, "--boot", "Rejected,Pending,Accepted", "--boot-retry", "1") as (csms, url), \
            open_station("CS4", url, profile=PROFILE, password=PASSWORD) as station:
        await wait_state(station, "rejected")
        await wait_state(station, "pending", timeout=4)
        # while Pending the CSMS may configure the station
        answer = await csms.answer("GetVariables", {"getVariableData": [
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "Identity"}}]}, station_id="CS4")
        assert answer["getVariableResult"][0]["attributeValue"] == "CS4"
        await wait_state(station, "available", timeout=4)
        await csms.wait_received("StatusNotification")
        actions = csms.received_actions()
        assert actions[:3] == ["BootNotification"] * 3
        assert "BootNotification" not in actions[3:]
        assert station.snapshot().counters.boots == 3
    csms.check_clean()


async def test_fleet_station_refuses_a_boot_answer_whose_time_has_no_utc_offset(tmp_path: Path) -> None:
    """``currentTime`` without an offset (``datetime.utcnow().isoformat()``, as the ``ocpp`` package's
    README CSMS sends it) is not an RFC 3339 date-time: fleet's station refuses the answer, says why,
    and stays connected, waiting to boot again. (The ``ocpp`` package's own check lets it through.)"""
    async with open_ocpp_csms(tmp_path, "--naive-time") as (csms, url), \
            open_station("CS5", url, profile=PROFILE, password=PASSWORD) as station:
        [answer] = await csms.wait_for(lambda e: e["event"] == "sent" and e["frame"][0] == 3)
        assert "+" not in answer["frame"][2]["currentTime"] and "Z" not in answer["frame"][2]["currentTime"]
        await wait_until(lambda: station.snapshot().last_error is not None)
        snapshot = station.snapshot()
        assert snapshot.state == "booting" and snapshot.connected and snapshot.registration is None
        assert "currentTime" in (snapshot.last_error or "") and "timezone" in (snapshot.last_error or "")
        assert snapshot.counters.boots == 0 and snapshot.counters.requests_failed == 1
        await trio.sleep(0.3)  # time passing is the point: proves the station sends nothing else meanwhile
        assert csms.received_actions() == ["BootNotification"]  # nothing else before an accepted boot
    csms.check_clean()


# ============================================== ocpp-package station vs fleet's CSMS


ID_TOKENS: dict[str, Any] = {
    "GOOD-1": "Accepted",
    "BLOCKED-1": "Blocked",
    "GROUP-MEMBER-1": {"status": "Accepted", "group": "GROUP-A"},
    "OLD-CARD": {"expires": "2020-01-01T00:00:00Z"},
}


@asynccontextmanager
async def open_fleet_csms() -> AsyncIterator[Csms]:
    async with open_csms(
        port=0, auth={"CP1": PASSWORD, "CP2": PASSWORD}, id_tokens=ID_TOKENS, heartbeat_interval=60,
        data_transfer_vendors=["acme"], ping_interval=0.5,
    ) as csms:
        yield csms


def token(value: str) -> dict[str, Any]:
    return {"idToken": value, "type": "ISO14443"}


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def meter(wh: float, *extra: dict[str, Any], unit: str = "Wh") -> list[dict[str, Any]]:
    value = wh / 1000 if unit == "kWh" else wh
    return [{"timestamp": now(), "sampledValue": [
        {"value": value, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": unit}}, *extra]}]


async def test_ocpp_station_boots_authorizes_and_runs_a_transaction_with_the_fleet_csms(tmp_path: Path) -> None:
    async with open_fleet_csms() as csms, \
            open_peer(tmp_path, "ocpp_station_peer.py", csms.url, "CP1", "--password", PASSWORD) as station:
        [connected] = await station.wait_for(lambda e: e["event"] in ("connected", "refused"), timeout=15)
        assert connected == {"event": "connected", "subprotocol": "ocpp2.0.1"}

        boot = await station.answer("BootNotification", {"chargingStation": {
            "model": "PeerModel", "vendorName": "ocpp-package", "firmwareVersion": "2.1.0"}, "reason": "PowerUp"})
        assert boot["status"] == "Accepted" and boot["interval"] == 60
        assert abs((utc(boot["currentTime"]) - datetime.datetime.now(datetime.UTC)).total_seconds()) < 60
        assert await station.answer("StatusNotification", {
            "timestamp": now(), "connectorStatus": "Available", "evseId": 1, "connectorId": 1}) == {}
        heartbeat = await station.answer("Heartbeat")
        utc(heartbeat["currentTime"])

        statuses = {}
        for value in ("GOOD-1", "BLOCKED-1", "OLD-CARD", "NOT-LISTED", "GROUP-MEMBER-1"):
            statuses[value] = (await station.answer("Authorize", {"idToken": token(value)}))["idTokenInfo"]
        assert {k: v["status"] for k, v in statuses.items()} == {
            "GOOD-1": "Accepted", "BLOCKED-1": "Blocked", "OLD-CARD": "Expired", "NOT-LISTED": "Unknown",
            "GROUP-MEMBER-1": "Accepted"}
        assert statuses["GROUP-MEMBER-1"]["groupIdToken"]["idToken"] == "GROUP-A"

        started = await station.answer("TransactionEvent", {
            "eventType": "Started", "timestamp": now(), "triggerReason": "Authorized", "seqNo": 0,
            "transactionInfo": {"transactionId": "TX-1", "chargingState": "Charging"},
            "evse": {"id": 1, "connectorId": 1}, "idToken": token("GOOD-1"), "meterValue": meter(1000.0)})
        assert started["idTokenInfo"]["status"] == "Accepted"
        assert await station.answer("TransactionEvent", {
            "eventType": "Updated", "timestamp": now(), "triggerReason": "MeterValuePeriodic", "seqNo": 1,
            "transactionInfo": {"transactionId": "TX-1", "chargingState": "Charging"},
            "meterValue": meter(1500.0, {"value": 11000, "measurand": "Power.Active.Import"})}) == {}
        assert await station.answer("TransactionEvent", {
            "eventType": "Ended", "timestamp": now(), "triggerReason": "StopAuthorized", "seqNo": 2,
            "transactionInfo": {"transactionId": "TX-1", "stoppedReason": "Local", "chargingState": "EVConnected"},
            "idToken": token("GOOD-1"), "meterValue": meter(2500.0, unit="kWh")}) == {
            "idTokenInfo": {"status": "Accepted"}}
        assert await station.answer("MeterValues", {"evseId": 1, "meterValue": meter(2500.0)}) == {}
        assert (await station.answer("DataTransfer", {"vendorId": "acme", "data": "x"}))["status"] == "Accepted"
        assert (await station.answer("DataTransfer", {"vendorId": "nobody"}))["status"] == "UnknownVendorId"
        notified = await station.answer("SecurityEventNotification", {"type": "StartupOfTheDevice",
                                                                       "timestamp": now()})
        assert notified == {}

        record = csms.station("CP1")
        assert record is not None and record.connected
        assert record.ocpp_version == "2.0.1"
        assert record.boot is not None and record.boot.charging_station.vendor_name == "ocpp-package"
        assert record.boot.reason == "PowerUp" and record.registration_status == "Accepted"
        [connector] = record.connectors
        assert (connector.evse_id, connector.connector_id, connector.status) == (1, 1, "Available")
        tx = record.transactions["TX-1"]
        assert tx.started and tx.ended and tx.stopped_reason == "Local"
        assert (tx.evse_id, tx.connector_id, tx.id_token) == (1, 1, "GOOD-1")
        assert tx.seq_nos == (0, 1, 2)
        assert tx.energy_wh == pytest.approx(2500.0)  # the kWh reading, converted
        assert [e.energy_wh for e in tx.events] == pytest.approx([1000.0, 1500.0, 2500.0])
        assert record.messages["Authorize"] == 5 and record.messages["TransactionEvent"] == 3
        statistics = csms.statistics()
        assert statistics.violations == 0 and statistics.transactions_ended == 1
    station.check_clean()


async def test_ocpp_station_answers_the_fleet_csms_requests(tmp_path: Path) -> None:
    async with open_fleet_csms() as csms, \
            open_peer(tmp_path, "ocpp_station_peer.py", csms.url, "CP2", "--password", PASSWORD) as station:
        await station.wait_for(lambda e: e["event"] == "connected", timeout=15)
        await station.answer("BootNotification", {"chargingStation": {"model": "M", "vendorName": "V"},
                                                  "reason": "PowerUp"})
        assert csms.is_connected("CP2")

        def get(*names: tuple[str, str]) -> GetVariablesRequest:
            return GetVariablesRequest(get_variable_data=[
                GetVariableData(component=Component(name=c), variable=Variable(name=v)) for c, v in names])

        got = await csms.call("CP2", get(("OCPPCommCtrlr", "HeartbeatInterval"), ("SecurityCtrlr", "Identity"),
                                         ("OCPPCommCtrlr", "Nope"), ("NoSuchCtrlr", "X")))
        assert [r.attribute_status for r in got.get_variable_result] == [
            GetVariableStatus.ACCEPTED, GetVariableStatus.ACCEPTED, GetVariableStatus.UNKNOWN_VARIABLE,
            GetVariableStatus.UNKNOWN_COMPONENT]
        assert [r.attribute_value for r in got.get_variable_result[:2]] == ["300", "CP2"]
        set_result = await csms.call("CP2", SetVariablesRequest(set_variable_data=[SetVariableData(
            attribute_value="60", component=Component(name="OCPPCommCtrlr"),
            variable=Variable(name="HeartbeatInterval"))]))
        assert set_result.set_variable_result[0].attribute_status == SetVariableStatus.ACCEPTED
        got = await csms.call("CP2", get(("OCPPCommCtrlr", "HeartbeatInterval")))
        assert got.get_variable_result[0].attribute_value == "60"

        # the caller's own message id and tag come back with the answer
        result = await csms.call_result("CP2", ResetRequest(type=Reset.IMMEDIATE), message_id="reset-1",
                                        tag={"why": "test"})
        assert result.response.status == ResetStatus.ACCEPTED
        assert (result.message_id, result.tag, result.action) == ("reset-1", {"why": "test"}, "Reset")

        started = await csms.call("CP2", RequestStartTransactionRequest(
            id_token=IdToken(id_token="GOOD-1", type=IdTokenEnum.ISO14443), remote_start_id=7, evse_id=1))
        assert started.status == RequestStartStopStatus.ACCEPTED
        await wait_until(lambda: "REMOTE-7" in csms.station("CP2").transactions)  # type: ignore[union-attr]
        tx = csms.station("CP2").transactions["REMOTE-7"]  # type: ignore[union-attr]
        assert tx.started and tx.remote_start_id == 7 and tx.id_token == "GOOD-1"
        stopped = await csms.call("CP2", RequestStopTransactionRequest(transaction_id="REMOTE-7"))
        assert stopped.status == RequestStartStopStatus.ACCEPTED
        await wait_until(lambda: csms.station("CP2").transactions["REMOTE-7"].ended)  # type: ignore[union-attr]
        assert csms.station("CP2").transactions["REMOTE-7"].stopped_reason == "Remote"  # type: ignore[union-attr]
        refused = await csms.call("CP2", RequestStopTransactionRequest(transaction_id="REMOTE-8"))
        assert refused.status == RequestStartStopStatus.REJECTED

        echo = await csms.call("CP2", DataTransferRequest(vendor_id="fleet-interop", message_id="ping",
                                                          data={"n": 1}))
        assert echo.status == DataTransferStatus.ACCEPTED
        assert echo.data == {"echo": {"n": 1}, "messageId": "ping"}
        unknown = await csms.call("CP2", DataTransferRequest(vendor_id="other"))
        assert unknown.status == DataTransferStatus.UNKNOWN_VENDOR_ID

        def count(action: str) -> int:
            record = csms.station("CP2")
            return record.messages.get(action, 0) if record is not None else 0

        for trigger, action in ((MessageTrigger.STATUS_NOTIFICATION, "StatusNotification"),
                                (MessageTrigger.HEARTBEAT, "Heartbeat")):
            before = count(action)
            triggered = await csms.call("CP2", TriggerMessageRequest(requested_message=trigger))
            assert triggered.status == TriggerMessageStatus.ACCEPTED
            await wait_until(functools.partial(lambda a, n: count(a) == n, action, before + 1))
        triggered = await csms.call("CP2", TriggerMessageRequest(requested_message=MessageTrigger.METER_VALUES))
        assert triggered.status == TriggerMessageStatus.NOT_IMPLEMENTED

        availability = await csms.call("CP2", ChangeAvailabilityRequest(
            operational_status=OperationalStatus.INOPERATIVE, evse=EVSE(id=1)))
        assert availability.status == ChangeAvailabilityStatus.ACCEPTED
        await wait_until(lambda: csms.station("CP2").connectors[0].status == "Unavailable")  # type: ignore[union-attr]

        report = await csms.call("CP2", GetBaseReportRequest(request_id=3, report_base=ReportBase.FULL_INVENTORY))
        assert report.status == GenericDeviceModelStatus.ACCEPTED
        await wait_until(lambda: count("NotifyReport") == 2)
        cleared = await csms.call("CP2", ClearCacheRequest())
        assert cleared.status == ClearCacheStatus.ACCEPTED

        # an action the ocpp-package station has no handler for: its CALLERROR reaches the caller
        with pytest.raises(RemoteCallError) as failure:
            await csms.call("CP2", GetLogRequest(log=LogParameters(remote_location="ftp://127.0.0.1/logs"),
                                                 log_type=Log.DIAGNOSTICS_LOG, request_id=1))
        assert failure.value.code == "NotImplemented"

        sent = [e["frame"] for e in station.events if e["event"] == "sent" and e["frame"][0] == 3]
        assert len(sent) >= 15
        # the CSMS pings every 0.5 s; the websockets client answers, so the station stays connected
        await trio.sleep(1.5)  # time passing is the point: three ping intervals without a drop
        record = csms.station("CP2")
        assert record is not None and record.connected and record.connections == 1
        statistics = csms.statistics()
        assert statistics.violations == 0
        assert statistics.calls_failed == 1  # the GetLog
    invalid = [(e["frame"], e["schema_errors"]) for e in station.events if e["event"] == "recv" and e["schema_errors"]]
    assert not invalid
    refused_frames = [e["frame"] for e in station.events if e["event"] == "sent" and e["frame"][0] == 4]
    assert [f[2] for f in refused_frames] == ["NotImplemented"]


OCPP_J_ERRORS = {
    "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported", "NotImplemented",
    "NotSupported", "OccurrenceConstraintViolation", "PropertyConstraintViolation", "ProtocolError",
    "RpcFrameworkError", "SecurityError", "TypeConstraintViolation",
}


async def test_fleet_csms_answers_bad_frames_of_the_ocpp_station_with_callerrors(tmp_path: Path) -> None:
    async with open_fleet_csms() as csms, \
            open_peer(tmp_path, "ocpp_station_peer.py", csms.url, "CP1", "--password", PASSWORD) as station:
        await station.wait_for(lambda e: e["event"] == "connected", timeout=15)
        await station.answer("BootNotification", {"chargingStation": {"model": "M", "vendorName": "V"},
                                                  "reason": "PowerUp"})
        cases = {
            "bad-extra": ('[2,"bad-extra","Heartbeat",{"unexpected":1}]', None),
            "bad-type": ('[2,"bad-type","StatusNotification",{"timestamp":"2024-01-01T00:00:00Z",'
                         '"connectorStatus":"Available","evseId":"one","connectorId":1}]', None),
            "bad-missing": ('[2,"bad-missing","Authorize",{}]', None),
            "bad-enum": ('[2,"bad-enum","StatusNotification",{"timestamp":"2024-01-01T00:00:00Z",'
                         '"connectorStatus":"Sleeping","evseId":1,"connectorId":1}]', None),
            "bad-date": ('[2,"bad-date","StatusNotification",{"timestamp":"yesterday",'
                         '"connectorStatus":"Available","evseId":1,"connectorId":1}]', None),
            "bad-naive-time": ('[2,"bad-naive-time","StatusNotification",{"timestamp":"2024-01-01T00:00:00",'
                               '"connectorStatus":"Available","evseId":1,"connectorId":1}]', None),
            "bad-action": ('[2,"bad-action","NoSuchAction",{}]', "NotImplemented"),
            "bad-direction": ('[2,"bad-direction","Reset",{"type":"Immediate"}]', "NotSupported"),
        }
        for message_id, (text, expected) in cases.items():
            await station.send_raw(text)
            frame = await station.wait_error(message_id)
            assert len(frame) == 5 and frame[2] in OCPP_J_ERRORS, frame
            assert isinstance(frame[3], str) and isinstance(frame[4], dict)
            if expected is not None:
                assert frame[2] == expected, frame
        # a frame that is not JSON at all: the CALLERROR carries the id "-1"; the connection stays usable
        await station.send_raw("this is not json")
        frame = await station.wait_error("-1")
        assert frame[2] == "RpcFrameworkError"
        heartbeat = await station.answer("Heartbeat")
        utc(heartbeat["currentTime"])
        assert csms.is_connected("CP1")
        assert csms.statistics().violations >= len(cases)
        assert (csms.station("CP1").messages.get("StatusNotification", 0)) == 0  # type: ignore[union-attr]


async def test_ocpp_station_with_a_wrong_password_is_refused_by_the_fleet_csms(tmp_path: Path) -> None:
    async with open_fleet_csms() as csms:
        for args in (("--password", "not-the-password-at-all"), ()):
            async with open_peer(tmp_path, "ocpp_station_peer.py", csms.url, "CP1", *args) as station:
                [refused] = await station.wait_for(lambda e: e["event"] in ("connected", "refused"), timeout=15)
                assert refused == {"event": "refused", "status": 401}
        assert csms.statistics().refused == {"401": 2}
        assert csms.station("CP1") is None
