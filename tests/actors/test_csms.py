"""The CSMS actor over real websockets on 127.0.0.1 (port 0).

The "stations" here are small test clients made of ``open_station_websocket`` +
``OcppConnection`` + ``Session`` (or raw trio-websocket connections for handshake
and framing edge cases), so these tests do not depend on the station actor.
"""

from __future__ import annotations

import datetime
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trustme
from trio_websocket import ConnectionClosed, ConnectionRejected, HandshakeError, open_websocket_url
from waiting import wait_until

import fleet.net.transport
from fleet.actors.csms import Csms, StationNotConnected, open_csms
from fleet.actors.csms.auth import AuthFileError, IdTokenEntry, load_auth_file, load_id_tokens
from fleet.actors.csms.v201 import CSMS_ACTIONS, STATION_ACTIONS
from fleet.actors.csms.v201.recorders import energy_wh
from fleet.net.connection import CallContext, OcppConnection
from fleet.net.events import Connected, Disconnected, OcppMessage
from fleet.net.transport import (
    HandshakeRefused,
    basic_auth_header,
    client_ssl_context,
    open_station_websocket,
    server_ssl_context,
    station_url,
)
from fleet.ocpp import V201, ConnectionLost, ErrorCode, OcppError, RemoteCallError, Session, v201

NOW = "2025-01-01T12:00:00Z"
REPO = Path(__file__).resolve().parents[2]

# The OCPP 2.0.1 message list (part 2, messages section), by who sends the request.
SPEC_STATION_INITIATED = {
    "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer", "FirmwareStatusNotification",
    "Get15118EVCertificate", "GetCertificateStatus", "Heartbeat", "LogStatusNotification", "MeterValues",
    "NotifyChargingLimit", "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
    "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
    "PublishFirmwareStatusNotification", "ReportChargingProfiles", "ReservationStatusUpdate",
    "SecurityEventNotification", "SignCertificate", "StatusNotification", "TransactionEvent",
}  # fmt: skip
SPEC_CSMS_INITIATED = {
    "CancelReservation", "CertificateSigned", "ChangeAvailability", "ClearCache", "ClearChargingProfile",
    "ClearDisplayMessage", "ClearVariableMonitoring", "CostUpdated", "CustomerInformation", "DataTransfer",
    "DeleteCertificate", "GetBaseReport", "GetChargingProfiles", "GetCompositeSchedule", "GetDisplayMessages",
    "GetInstalledCertificateIds", "GetLocalListVersion", "GetLog", "GetMonitoringReport", "GetReport",
    "GetTransactionStatus", "GetVariables", "InstallCertificate", "PublishFirmware", "RequestStartTransaction",
    "RequestStopTransaction", "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile", "SetDisplayMessage",
    "SetMonitoringBase", "SetMonitoringLevel", "SetNetworkProfile", "SetVariableMonitoring", "SetVariables",
    "TriggerMessage", "UnlockConnector", "UnpublishFirmware", "UpdateFirmware",
}  # fmt: skip

_SCHEDULE = {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}]}
_METER = [{"timestamp": NOW, "sampledValue": [{"value": 1234.5}]}]
#: A valid request payload of every station-initiated action.
STATION_REQUESTS: dict[str, dict[str, Any]] = {
    "Authorize": {"idToken": {"idToken": "TAG1", "type": "ISO14443"}},
    "BootNotification": {"chargingStation": {"model": "M1", "vendorName": "V"}, "reason": "PowerUp"},
    "ClearedChargingLimit": {"chargingLimitSource": "EMS", "evseId": 1},
    "DataTransfer": {"vendorId": "com.example", "messageId": "hello", "data": {"x": 1}},
    "FirmwareStatusNotification": {"status": "Downloaded", "requestId": 7},
    "Get15118EVCertificate": {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install",
                              "exiRequest": "AAAA"},
    "GetCertificateStatus": {"ocspRequestData": {"hashAlgorithm": "SHA256", "issuerNameHash": "aa",
                                                 "issuerKeyHash": "bb", "serialNumber": "01",
                                                 "responderURL": "http://ocsp.example"}},
    "Heartbeat": {},
    "LogStatusNotification": {"status": "Uploaded", "requestId": 3},
    "MeterValues": {"evseId": 1, "meterValue": _METER},
    "NotifyChargingLimit": {"chargingLimit": {"chargingLimitSource": "SO"}, "evseId": 1},
    "NotifyCustomerInformation": {"data": "no data", "seqNo": 0, "generatedAt": NOW, "requestId": 1},
    "NotifyDisplayMessages": {"requestId": 2},
    "NotifyEVChargingNeeds": {"chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase"}, "evseId": 1},
    "NotifyEVChargingSchedule": {"timeBase": NOW, "chargingSchedule": _SCHEDULE, "evseId": 1},
    "NotifyEvent": {"generatedAt": NOW, "seqNo": 0, "eventData": [{
        "eventId": 1, "timestamp": NOW, "trigger": "Delta", "actualValue": "Occupied",
        "eventNotificationType": "HardWiredNotification", "component": {"name": "Connector"},
        "variable": {"name": "AvailabilityState"}}]},
    "NotifyMonitoringReport": {"requestId": 4, "seqNo": 0, "generatedAt": NOW},
    "NotifyReport": {"requestId": 5, "generatedAt": NOW, "seqNo": 0},
    "PublishFirmwareStatusNotification": {"status": "Idle"},
    "ReportChargingProfiles": {"requestId": 6, "chargingLimitSource": "CSO", "evseId": 1, "chargingProfile": [{
        "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
        "chargingSchedule": [_SCHEDULE]}]},
    "ReservationStatusUpdate": {"reservationId": 9, "reservationUpdateStatus": "Expired"},
    "SecurityEventNotification": {"type": "FirmwareUpdated", "timestamp": NOW},
    "SignCertificate": {"csr": "-----BEGIN CERTIFICATE REQUEST-----"},
    "StatusNotification": {"timestamp": NOW, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
    "TransactionEvent": {"eventType": "Started", "timestamp": NOW, "triggerReason": "Authorized", "seqNo": 0,
                         "transactionInfo": {"transactionId": "TX-ALL"},
                         "idToken": {"idToken": "TAG1", "type": "ISO14443"}},
}  # fmt: skip


# ------------------------------------------------------------------ helpers


def boot(model: str = "M1") -> v201.BootNotificationRequest:
    return v201.BootNotificationRequest(
        charging_station=v201.ChargingStation(model=model, vendor_name="fleet-test", serial_number="SN1"),
        reason=v201.BootReason.POWER_UP,
    )


def tx_event(
    event_type: str,
    seq_no: int,
    trigger: str,
    transaction_id: str,
    *,
    energy: float | None = None,
    offline: bool | None = None,
    id_token: str | None = None,
    charging_state: str | None = None,
    stopped_reason: str | None = None,
) -> dict[str, Any]:
    info: dict[str, Any] = {"transactionId": transaction_id}
    if charging_state:
        info["chargingState"] = charging_state
    if stopped_reason:
        info["stoppedReason"] = stopped_reason
    event: dict[str, Any] = {
        "eventType": event_type,
        "timestamp": NOW,
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": info,
        "evse": {"id": 1, "connectorId": 1},
    }
    if energy is not None:
        event["meterValue"] = [
            {
                "timestamp": NOW,
                "sampledValue": [
                    {"value": 7.0, "measurand": "Power.Active.Import"},
                    {"value": energy / 1000, "unitOfMeasure": {"unit": "kWh"}, "context": "Sample.Periodic"},
                    {"value": 1.0, "measurand": "Energy.Active.Import.Register", "phase": "L1"},
                ],
            }
        ]
    if offline is not None:
        event["offline"] = offline
    if id_token:
        event["idToken"] = {"idToken": id_token, "type": "ISO14443"}
    return event


@asynccontextmanager
async def station(
    url: str,
    station_id: str,
    *,
    password: str | None = None,
    ssl_context: Any = None,
    handlers: dict[str, Any] | None = None,
    id_factory: Callable[[], str] | None = None,
) -> AsyncIterator[OcppConnection]:
    """A minimal test station: a websocket, a Session and an OcppConnection."""
    extra = {"id_factory": id_factory} if id_factory is not None else {}
    async with open_station_websocket(url, station_id, password=password, ssl_context=ssl_context) as (ws, version):
        conn = OcppConnection(ws, Session(version, role="station", **extra), station_id, handlers=handlers or {})
        async with trio.open_nursery() as nursery:
            await nursery.start(conn.serve)
            yield conn
            nursery.cancel_scope.cancel()


async def next_event(rx: trio.MemoryReceiveChannel[Any], kind: type, timeout: float = 5.0) -> Any:
    """The next event of type ``kind`` (others are skipped)."""
    with trio.fail_after(timeout):
        while True:
            event = await rx.receive()
            if isinstance(event, kind):
                return event


def raw_url(csms: Csms, station_id: str) -> str:
    return station_url(csms.url, station_id)


# ------------------------------------------------------------------- tests


def test_message_directions_match_the_spec() -> None:
    assert set(SPEC_STATION_INITIATED) | set(SPEC_CSMS_INITIATED) == set(v201.ACTIONS)
    assert SPEC_STATION_INITIATED.intersection(SPEC_CSMS_INITIATED) == {"DataTransfer"}
    assert set(STATION_ACTIONS) == SPEC_STATION_INITIATED
    assert set(CSMS_ACTIONS) == SPEC_CSMS_INITIATED
    assert set(STATION_REQUESTS) == SPEC_STATION_INITIATED


async def test_cli_prints_listening_line_and_stops_on_sigint(tmp_path: Path) -> None:
    log = tmp_path / "ocpp.jsonl"
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "fleet", "csms", "--port", "0", "--boot", "Pending", "--ocpp-log", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        out = b""
        with trio.fail_after(15):
            while b"\n" not in out:
                chunk = await process.stdout.receive_some()
                assert chunk, "fleet csms exited before listening"
                out += chunk
        line = out.decode().splitlines()[0]
        assert line.startswith("listening on ws://127.0.0.1:") and line.endswith("/ocpp"), line
        url = line.removeprefix("listening on ")
        assert int(url.rsplit(":", 1)[1].split("/")[0]) > 0
        async with station(url, "CLI1") as conn:
            response = await conn.call(boot())
            assert response.status == "Pending"
        process.send_signal(signal.SIGINT)
        with trio.fail_after(10):
            rc = await process.wait()
        err = (await process.stderr.receive_some()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert rc == 0
    assert "accepting every station without authentication" in err
    assert err.count("\n") == 1, err
    frames = [json.loads(x) for x in log.read_text().splitlines()]
    assert [f["direction"] for f in frames] == ["in", "out"]
    assert all(f["station"] == "CLI1" for f in frames)


async def test_boot_policies_accepted_pending_rejected() -> None:
    async with open_csms(port=0, heartbeat_interval=42, boot_retry_interval=7) as csms:
        csms.set_boot_status("Pending", "P1")
        csms.set_boot_status(v201.RegistrationStatus.REJECTED, "R1")
        results = {}
        for sid in ("A1", "P1", "R1"):
            async with station(csms.url, sid) as conn:
                results[sid] = await conn.call(boot(model=f"model-{sid}"))
        assert results["A1"].status == "Accepted" and results["A1"].interval == 42
        assert results["P1"].status == "Pending" and results["P1"].interval == 7
        assert results["R1"].status == "Rejected" and results["R1"].interval == 7
        for response in results.values():
            assert abs((response.current_time - datetime.datetime.now(datetime.UTC)).total_seconds()) < 60
        for sid in ("A1", "P1", "R1"):
            record = csms.station(sid)
            assert record is not None and record.boot is not None
            assert record.boot.charging_station.model == f"model-{sid}"
            assert record.boot.reason == "PowerUp"
            assert record.registration_status == results[sid].status == record.boot.status
        # the default changes for everyone; a per-station status can be removed
        csms.set_boot_status("Rejected")
        csms.set_boot_status(None, "P1")
        async with station(csms.url, "P1") as conn:
            assert (await conn.call(boot())).status == "Rejected"
        with pytest.raises(ValueError):
            csms.set_boot_status("Maybe")


async def test_heartbeat_status_and_meter_values_are_recorded() -> None:
    async with open_csms(port=0) as csms, station(csms.url, "HB1") as conn:
        await conn.call(boot())
        response = await conn.call(v201.HeartbeatRequest())
        assert isinstance(response, v201.HeartbeatResponse)
        assert response.current_time.tzinfo is not None
        await conn.call(STATION_REQUESTS["StatusNotification"], action="StatusNotification")
        await conn.call(
            {"timestamp": NOW, "connectorStatus": "Occupied", "evseId": 2, "connectorId": 1},
            action="StatusNotification",
        )
        await conn.call(
            {"timestamp": NOW, "connectorStatus": "Faulted", "evseId": 1, "connectorId": 1},
            action="StatusNotification",
        )
        await conn.call(STATION_REQUESTS["MeterValues"], action="MeterValues")
        await conn.call(STATION_REQUESTS["FirmwareStatusNotification"], action="FirmwareStatusNotification")
        record = csms.station("HB1")
        assert record is not None
        assert [(c.evse_id, c.connector_id, c.status) for c in record.connectors] == [
            (1, 1, "Faulted"),
            (2, 1, "Occupied"),
        ]
        assert record.messages == {
            "BootNotification": 1,
            "Heartbeat": 1,
            "StatusNotification": 3,
            "MeterValues": 1,
            "FirmwareStatusNotification": 1,
        }
        assert record.meter_values[1][0].sampled_value[0].value == 1234.5
        assert record.firmware_status == "Downloaded"
        assert record.connected and record.last_seen is not None and record.connected_at is not None
        stats = csms.statistics()
        assert stats.messages["StatusNotification"] == 3 and stats.connected == 1 and stats.stations == 1


async def test_authorize_against_the_id_token_list() -> None:
    tokens = {
        "GOOD1": "Accepted",
        "bad1": "Invalid",
        "STOLEN": {"status": "Blocked"},
        "OLD": {"expires": "2020-01-01T00:00:00Z"},
        "FUTURE": {"expires": "2999-01-01T00:00:00Z", "group": "G-FUT"},
        "FLEET-1": {"group": "FLEET-A"},
        "FLEET-2": IdTokenEntry(group_id="FLEET-A"),
    }
    async with open_csms(port=0, id_tokens=tokens) as csms, station(csms.url, "AU1") as conn:

        async def authorize(token: str, kind: str = "ISO14443") -> v201.IdTokenInfo:
            response = await conn.call(v201.AuthorizeRequest(id_token=v201.IdToken(id_token=token, type=kind)))
            return response.id_token_info

        assert (await authorize("good1")).status == "Accepted"  # case-insensitive
        assert (await authorize("BAD1")).status == "Invalid"
        assert (await authorize("STOLEN")).status == "Blocked"
        assert (await authorize("OLD")).status == "Expired"
        future = await authorize("FUTURE")
        assert future.status == "Accepted" and future.group_id_token.id_token == "G-FUT"
        assert future.cache_expiry_date_time.year == 2999
        one, two = await authorize("FLEET-1"), await authorize("FLEET-2")
        assert one.group_id_token.id_token == two.group_id_token.id_token == "FLEET-A"
        assert one.group_id_token.type == "Central"
        assert (await authorize("NOBODY")).status == "Unknown"
        assert (await authorize("", "NoAuthorization")).status == "Accepted"
        # a TransactionEvent carrying an idToken is answered with idTokenInfo too
        started = await conn.call(tx_event("Started", 0, "Authorized", "T1", id_token="STOLEN"), action="TransactionEvent")
        assert started.id_token_info.status == "Blocked"
        updated = await conn.call(tx_event("Updated", 1, "MeterValuePeriodic", "T1"), action="TransactionEvent")
        assert updated.id_token_info is msgspec.UNSET
        # run-time changes: a configurable answer for unknown tokens, then no list at all
        csms.set_id_tokens(tokens, unknown_status="Invalid")
        assert (await authorize("NOBODY")).status == "Invalid"
        csms.set_id_tokens(None, unknown_status=None)
        assert (await authorize("NOBODY")).status == "Accepted"
        assert csms.get_id_tokens() is None
        with pytest.raises(AuthFileError, match="unknown status"):
            csms.set_id_tokens({"X": "Fine"})


async def test_a_transaction_is_recorded_with_seq_nos_and_energy() -> None:
    async with open_csms(port=0) as csms, station(csms.url, "TX1") as conn:
        await conn.call(boot())
        events = [
            tx_event("Started", 0, "CablePluggedIn", "TX-9", energy=0, charging_state="EVConnected", id_token="A"),
            tx_event("Updated", 1, "ChargingStateChanged", "TX-9", charging_state="Charging"),
            tx_event("Updated", 2, "MeterValuePeriodic", "TX-9", energy=1500),
            tx_event("Updated", 3, "MeterValuePeriodic", "TX-9", energy=2750, offline=True),
            tx_event("Updated", 3, "MeterValuePeriodic", "TX-9", energy=2750, offline=True),  # resent
            tx_event("Ended", 5, "EVDeparted", "TX-9", energy=4000, stopped_reason="EVDisconnected"),
            tx_event("Started", 0, "Authorized", "TX-10", energy=0),
        ]
        for event in events:
            await conn.call(event, action="TransactionEvent")
        record = csms.station("TX1")
        assert record is not None
        tx = record.transactions["TX-9"]
        assert tx.seq_nos == (0, 1, 2, 3, 3, 5)
        assert tx.missing_seq_nos() == [4] and tx.duplicate_seq_nos() == [3]
        assert [e.event_type for e in tx.events] == ["Started", "Updated", "Updated", "Updated", "Updated", "Ended"]
        assert [e.trigger_reason for e in tx.events][:3] == ["CablePluggedIn", "ChargingStateChanged", "MeterValuePeriodic"]
        assert [e.energy_wh for e in tx.events] == [0.0, None, 1500.0, 2750.0, 2750.0, 4000.0]
        assert [e.offline for e in tx.events] == [False, False, False, True, True, False]
        assert tx.offline_events == 2
        assert tx.started and tx.ended and tx.energy_wh == 4000.0
        assert tx.stopped_reason == "EVDisconnected" and tx.charging_state == "Charging"
        assert (tx.evse_id, tx.connector_id, tx.id_token) == (1, 1, "A")
        assert tx.started_at == tx.ended_at == datetime.datetime(2025, 1, 1, 12, tzinfo=datetime.UTC)
        assert len(tx.meter_values) == 1
        assert not record.transactions["TX-10"].ended
        stats = csms.statistics()
        assert (stats.transactions_started, stats.transactions_ended, stats.transactions_active) == (2, 1, 1)
        # snapshots are copies: they do not change with later events
        await conn.call(tx_event("Ended", 1, "StopAuthorized", "TX-10"), action="TransactionEvent")
        assert not record.transactions["TX-10"].ended
        assert csms.station("TX1").transactions["TX-10"].ended  # type: ignore[union-attr]


async def test_transaction_history_bounds_the_ended_transactions_kept() -> None:
    async with open_csms(port=0, transaction_history=1) as csms, station(csms.url, "HIST") as conn:
        for n in range(3):
            await conn.call(tx_event("Started", 0, "Authorized", f"H{n}"), action="TransactionEvent")
            await conn.call(tx_event("Ended", 1, "StopAuthorized", f"H{n}"), action="TransactionEvent")
        await conn.call(tx_event("Started", 0, "Authorized", "OPEN"), action="TransactionEvent")
        record = csms.station("HIST")
        assert record is not None
        assert sorted(record.transactions) == ["H2", "OPEN"] and record.transactions_dropped == 2
        stats = csms.statistics()  # the counters still include the dropped transactions
        assert (stats.transactions_started, stats.transactions_ended, stats.transactions_active) == (4, 3, 1)


def test_energy_register_units() -> None:
    def mv(*values: dict[str, Any]) -> list[v201.MeterValue]:
        return [msgspec.convert({"timestamp": NOW, "sampledValue": list(values)}, v201.MeterValue, strict=False)]

    assert energy_wh(mv({"value": 12.0})) == 12.0
    assert energy_wh(mv({"value": 1.5, "unitOfMeasure": {"unit": "kWh"}})) == 1500.0
    assert energy_wh(mv({"value": 2.0, "unitOfMeasure": {"multiplier": 3}})) == 2000.0
    assert energy_wh(mv({"value": 5.0, "measurand": "Voltage"})) is None
    assert energy_wh([]) is None


async def test_every_default_handler_answers_with_a_valid_response() -> None:
    async with open_csms(port=0) as csms, station(csms.url, "ALL1") as conn:
        for action in sorted(STATION_ACTIONS):
            handler = csms.default_handler(action)
            request = V201.request_decoder(action).decode(json.dumps(STATION_REQUESTS[action]))
            direct = handler(request, CallContext("ALL1", "m1", action, None))  # type: ignore[arg-type]
            assert type(direct) is v201.ACTIONS[action][1], action
            V201.response_decoder(action).decode(V201.encoder.encode(direct))  # validates
            # over the wire: the station's session validates the answer before returning it
            response = await conn.call(STATION_REQUESTS[action], action=action)
            assert type(response) is v201.ACTIONS[action][1], action
        record = csms.station("ALL1")
        assert record is not None and record.messages == {action: 1 for action in STATION_ACTIONS}
        data = await conn.call(v201.DataTransferRequest(vendor_id="nobody.example"))
        assert data.status == "UnknownVendorId"
        # an action stations never send is refused by the CSMS
        with pytest.raises(RemoteCallError) as info:
            await conn.call(v201.ResetRequest(type=v201.Reset.IMMEDIATE))
        assert info.value.code == "NotSupported"
    known = Csms(port=0, data_transfer_vendors={"com.example"})
    answer = known.default_handler("DataTransfer")(
        v201.DataTransferRequest(vendor_id="com.example"), CallContext("X", "m", "DataTransfer", None)  # type: ignore[arg-type]
    )
    assert answer.status == "Accepted"


async def test_handlers_can_be_overridden() -> None:
    async with open_csms(port=0) as csms, station(csms.url, "OV1") as conn:
        seen: list[str] = []

        @csms.on("Heartbeat")
        def heartbeat(request: Any, ctx: CallContext) -> Any:
            seen.append(ctx.station_id)
            return {"currentTime": "2030-01-01T00:00:00Z"}

        async def slow_boot(request: Any, ctx: CallContext) -> Any:
            await trio.sleep(0.01)  # an async handler that really waits is the point
            default = csms.default_handler("BootNotification")(request, ctx)
            return msgspec.structs.replace(default, status=v201.RegistrationStatus.PENDING, interval=1)

        csms.on("BootNotification", slow_boot)

        def refuse(request: Any, ctx: CallContext) -> Any:
            raise OcppError(ErrorCode.SECURITY_ERROR, "not today")

        csms.on("Authorize", refuse)
        csms.on("MeterValues", lambda request, ctx: {"status": "nonsense"})

        assert (await conn.call(v201.HeartbeatRequest())).current_time.year == 2030
        assert seen == ["OV1"]
        booted = await conn.call(boot())
        assert (booted.status, booted.interval) == ("Pending", 1)
        with pytest.raises(RemoteCallError) as info:
            await conn.call(STATION_REQUESTS["Authorize"], action="Authorize")
        assert (info.value.code, info.value.description) == ("SecurityError", "not today")
        with pytest.raises(RemoteCallError) as info:
            await conn.call(STATION_REQUESTS["MeterValues"], action="MeterValues")
        assert info.value.code == "InternalError"
        record = csms.station("OV1")
        assert record is not None and record.registration_status == "Pending"  # recorded from the async answer
        assert record.messages["Authorize"] == 1 and record.meter_values  # still recorded
        csms.restore_default("Heartbeat")
        assert (await conn.call(v201.HeartbeatRequest())).current_time.year < 2030
        assert csms.handler("BootNotification") is slow_boot
        with pytest.raises(ValueError, match="not a message a station sends"):
            csms.on("Reset", heartbeat)


async def test_csms_calls_a_station_with_its_own_message_id_and_tag() -> None:
    release = trio.Event()

    async def reset(request: v201.ResetRequest, ctx: CallContext) -> v201.ResetResponse:
        await release.wait()
        return v201.ResetResponse(status=v201.ResetStatus.SCHEDULED)

    handlers = {"Reset": reset, "GetVariables": lambda r, c: {"getVariableResult": [
        {"attributeStatus": "Accepted", "attributeValue": "42", "component": {"name": "OCPPCommCtrlr"},
         "variable": {"name": "HeartbeatInterval"}}]}}  # fmt: skip
    async with open_csms(port=0) as csms, station(csms.url, "CALL1", handlers=handlers):
        await wait_until(lambda: csms.is_connected("CALL1"))
        async with trio.open_nursery() as nursery:
            results: list[Any] = []

            async def do_reset() -> None:
                results.append(
                    await csms.call_result(
                        "CALL1", v201.ResetRequest(type=v201.Reset.ON_IDLE), message_id="my-id-1", tag={"n": 1}
                    )
                )

            nursery.start_soon(do_reset)
            await wait_until(lambda: len(csms.pending_requests("CALL1")) == 1)
            (pending,) = csms.pending_requests()
            assert (pending.station_id, pending.message_id, pending.action, pending.tag) == (
                "CALL1", "my-id-1", "Reset", {"n": 1}
            )  # fmt: skip
            release.set()
        (result,) = results
        assert (result.message_id, result.tag, result.action) == ("my-id-1", {"n": 1}, "Reset")
        assert result.response == v201.ResetResponse(status=v201.ResetStatus.SCHEDULED)
        assert csms.pending_requests() == []
        got = await csms.call(
            "CALL1",
            {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]},
            action="GetVariables",
        )
        assert got.get_variable_result[0].attribute_value == "42"
        with pytest.raises(RemoteCallError) as info:  # the station has no handler for it
            await csms.call("CALL1", v201.ClearCacheRequest())
        assert info.value.code == "NotSupported"
        with pytest.raises(StationNotConnected, match="NOPE"):
            await csms.call("NOPE", v201.ClearCacheRequest())
        stats = csms.statistics()
        assert stats.calls_sent == 3 and stats.calls_failed == 1  # the call to NOPE never left


async def test_event_subscription_reports_connections_and_messages() -> None:
    handlers = {"ClearCache": lambda r, c: v201.ClearCacheResponse(status=v201.ClearCacheStatus.ACCEPTED)}
    async with open_csms(port=0) as csms:
        async with csms.subscribe() as everything, csms.subscribe("OTHER") as other:
            async with station(csms.url, "EV1", handlers=handlers, id_factory=lambda: "boot-1") as conn:
                connected = await next_event(everything, Connected)
                assert (connected.station_id, connected.ocpp_version) == ("EV1", "2.0.1")
                await conn.call(boot())
                request = await next_event(everything, OcppMessage)
                assert (request.direction, request.kind, request.action, request.message_id) == (
                    "in", "request", "BootNotification", "boot-1"
                )  # fmt: skip
                assert request.station_id == "EV1" and request.ocpp_version == "2.0.1"
                assert request.topic == "EV1/Request"
                answer = await next_event(everything, OcppMessage)
                assert (answer.direction, answer.kind, answer.message_id) == ("out", "response", "boot-1")
                assert answer.payload.status == "Accepted"
                await csms.call("EV1", v201.ClearCacheRequest(), message_id="cc-1", tag="T")
                out = await next_event(everything, OcppMessage)
                back = await next_event(everything, OcppMessage)
                assert (out.direction, out.kind, out.action, out.message_id, out.tag) == (
                    "out", "request", "ClearCache", "cc-1", "T"
                )  # fmt: skip
                assert (back.direction, back.kind, back.message_id, back.tag) == ("in", "response", "cc-1", "T")
            gone = await next_event(everything, Disconnected)
            assert gone.station_id == "EV1" and gone.reason
            with pytest.raises(trio.WouldBlock):
                other.receive_nowait()
        assert not csms._hub.active


async def test_wrong_path_gets_404() -> None:
    async with open_csms(port=0) as csms:
        base = f"ws://127.0.0.1:{csms.port}"
        for path in ("/other/CS1", "/ocpp", "/ocpp/a/b"):
            with pytest.raises(ConnectionRejected) as info:
                async with open_websocket_url(base + path, subprotocols=["ocpp2.0.1"]):
                    pass
            assert info.value.status_code == 404, path
        # case-insensitive route, trailing slash allowed
        async with open_websocket_url(base + "/OCPP/CS1/", subprotocols=["ocpp2.0.1"]) as ws:
            assert ws.subprotocol == "ocpp2.0.1"
        assert csms.statistics().refused == {"404": 3}


async def test_basic_auth_and_run_time_auth_list_changes() -> None:
    async with open_csms(port=0, auth={"AUTH1": "password-0001", "AUTH2": "password-0002"}) as csms:

        async def status_with(station_id: str, user: str | None, password: str | None) -> int:
            headers = [basic_auth_header(user, password)] if user is not None and password is not None else None
            try:
                async with open_websocket_url(
                    raw_url(csms, station_id), subprotocols=["ocpp2.0.1"], extra_headers=headers
                ):
                    return 101
            except ConnectionRejected as exc:
                if exc.status_code == 401:
                    header = dict(exc.headers).get(b"www-authenticate", b"")
                    assert header.startswith(b"Basic realm="), exc.headers
                return exc.status_code

        assert await status_with("AUTH1", "AUTH1", "password-0001") == 101
        assert await status_with("AUTH1", None, None) == 401  # no credentials
        assert await status_with("AUTH1", "AUTH1", "wrong") == 401
        assert await status_with("AUTH1", "AUTH2", "password-0002") == 401  # user != station id of the path
        assert await status_with("STRANGER", "STRANGER", "password-0001") == 401
        assert csms.statistics().refused == {"401": 4}

        # passwords never show in listings or reprs
        assert csms.get_auth_list() == ["AUTH1", "AUTH2"]
        assert "password" not in repr(csms) and "password" not in repr(csms.statistics())
        assert csms.get_station_password("AUTH1") == "password-0001"

        csms.set_station_password("AUTH1", "rotated-password")
        assert await status_with("AUTH1", "AUTH1", "password-0001") == 401
        async with station(csms.url, "AUTH1", password="rotated-password") as conn:
            assert (await conn.call(boot())).status == "Accepted"
        csms.set_station_password("AUTH3", "password-0003")
        assert await status_with("AUTH3", "AUTH3", "password-0003") == 101
        csms.set_station_password("AUTH3", None)
        assert await status_with("AUTH3", "AUTH3", "password-0003") == 401
        with pytest.raises(AuthFileError):
            csms.set_station_password("A:B", "x")

        csms.set_auth_list({"NEW1": "new-password"})
        assert csms.get_auth_list() == ["NEW1"]
        assert await status_with("AUTH2", "AUTH2", "password-0002") == 401
        assert await status_with("NEW1", "NEW1", "new-password") == 101
        csms.set_auth_list(None)  # open again: any station, no credentials needed
        assert csms.get_auth_list() is None
        assert await status_with("ANYONE", None, None) == 101
        with pytest.raises(RuntimeError, match="authentication is off"):
            csms.set_station_password("X", "y")
        with pytest.raises(HandshakeRefused) as refused:
            csms.set_auth_list({"NEW1": "new-password"})
            async with station(csms.url, "NEW1", password="bad"):
                pass
        assert refused.value.status == 401


async def test_station_without_a_common_subprotocol_is_closed() -> None:
    async with open_csms(port=0) as csms:
        async with open_websocket_url(raw_url(csms, "OLD15"), subprotocols=["ocpp1.5"]) as ws:
            assert ws.subprotocol is None
            with pytest.raises(ConnectionClosed) as info, trio.fail_after(5):
                await ws.get_message()
            assert info.value.reason.code == 1002
        with pytest.raises(HandshakeRefused):
            async with open_station_websocket(csms.url, "OLD15", subprotocols=("ocpp1.5",)):
                pass
        assert csms.station("OLD15") is None
        assert csms.statistics().refused == {"400": 2}


async def test_second_connection_with_the_same_id_replaces_the_first() -> None:
    async with open_csms(port=0) as csms, csms.subscribe("DUP1") as events:
        async with open_websocket_url(raw_url(csms, "DUP1"), subprotocols=["ocpp2.0.1"]) as first:
            await next_event(events, Connected)
            failures: list[BaseException] = []

            async def unanswered_call() -> None:
                try:
                    await csms.call("DUP1", v201.ClearCacheRequest(), timeout=30)
                except ConnectionLost as exc:
                    failures.append(exc)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(unanswered_call)
                frame = json.loads(await first.get_message())  # the first connection receives it, never answers
                assert frame[2] == "ClearCache"
                handlers = {"ClearCache": lambda r, c: v201.ClearCacheResponse(status=v201.ClearCacheStatus.REJECTED)}
                async with station(csms.url, "DUP1", handlers=handlers) as second:
                    assert isinstance(await next_event(events, Disconnected), Disconnected)
                    assert isinstance(await next_event(events, Connected), Connected)
                    with pytest.raises(ConnectionClosed), trio.fail_after(5):
                        await first.get_message()
                    # the pending call of the old connection failed; the new one works
                    await wait_until(lambda: bool(failures))
                    assert type(failures[0]) is ConnectionLost
                    assert (await csms.call("DUP1", v201.ClearCacheRequest())).status == "Rejected"
                    assert (await second.call(v201.HeartbeatRequest())).current_time
                    assert [c.station_id for c in csms.connections()] == ["DUP1"]
        record = csms.station("DUP1")
        assert record is not None and record.connections == 2
        assert csms.statistics().replaced == 1


async def test_two_stations_with_identical_message_ids_get_their_own_replies() -> None:
    statuses = {"SAME1": v201.ResetStatus.ACCEPTED, "SAME2": v201.ResetStatus.REJECTED}

    def handlers(sid: str) -> dict[str, Any]:
        return {"Reset": lambda request, ctx: v201.ResetResponse(status=statuses[sid])}

    async with open_csms(port=0) as csms:
        csms.set_boot_status("Rejected", "SAME2")
        async with (
            station(csms.url, "SAME1", handlers=handlers("SAME1"), id_factory=lambda: "1") as one,
            station(csms.url, "SAME2", handlers=handlers("SAME2"), id_factory=lambda: "1") as two,
        ):
            boots: dict[str, str] = {}

            async def boot_as(sid: str, conn: OcppConnection) -> None:
                boots[sid] = (await conn.call(boot())).status

            resets: dict[str, str] = {}

            async def reset(sid: str) -> None:
                request = v201.ResetRequest(type=v201.Reset.IMMEDIATE)
                resets[sid] = (await csms.call(sid, request, message_id="same-id")).status

            async with trio.open_nursery() as nursery:
                nursery.start_soon(boot_as, "SAME1", one)
                nursery.start_soon(boot_as, "SAME2", two)
            assert boots == {"SAME1": "Accepted", "SAME2": "Rejected"}
            await wait_until(lambda: csms.is_connected("SAME1") and csms.is_connected("SAME2"))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(reset, "SAME1")
                nursery.start_soon(reset, "SAME2")
            assert resets == {"SAME1": "Accepted", "SAME2": "Rejected"}


def _tls_files(tmp_path: Path) -> dict[str, str]:
    ca = trustme.CA()
    paths = {name: str(tmp_path / f"{name}.pem") for name in ("ca", "server", "client")}
    ca.cert_pem.write_to_path(paths["ca"])
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(paths["server"])
    # profile 3: the CN is the station id (A00.FR.405; tests/test_tls.py tests the binding)
    ca.issue_cert("TLS3", common_name="TLS3").private_key_and_cert_chain_pem.write_to_path(paths["client"])
    return paths


async def test_tls_security_profiles_2_and_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _tls_files(tmp_path)
    # profile 2: TLS with the server certificate + Basic auth
    profile2 = server_ssl_context(files["server"])
    async with open_csms(port=0, ssl_context=profile2, auth={"TLS2": "tls-password-2"}) as csms:
        assert csms.url.startswith("wss://127.0.0.1:")
        async with station(csms.url, "TLS2", password="tls-password-2", ssl_context=client_ssl_context(files["ca"])) as c:
            assert (await c.call(boot())).status == "Accepted"
    # profile 3: client certificates required
    profile3 = server_ssl_context(files["server"], client_ca=files["ca"])
    # the server holds a failed TLS connection for this long (see below); keep the test short
    monkeypatch.setattr(fleet.net.transport, "HANDSHAKE_TIMEOUT", 1.0)
    async with open_csms(port=0, ssl_context=profile3) as csms:
        with_cert = client_ssl_context(files["ca"], certfile=files["client"])
        async with station(csms.url, "TLS3", ssl_context=with_cert) as conn:
            assert (await conn.call(boot())).status == "Accepted"
        # Without a client certificate the TLS handshake fails on the server; the client
        # never gets a websocket. (trio's SSLStream sends no TLS alert: the client sees the
        # connection closed; open_station_websocket bounds the wait in any case.)
        no_cert = client_ssl_context(files["ca"])
        with pytest.raises((HandshakeError, trio.BrokenResourceError, trio.TooSlowError, OSError)):
            async with open_station_websocket(csms.url, "NOCERT", ssl_context=no_cert, connect_timeout=0.5):
                pytest.fail("a profile-3 client without a certificate got a websocket")
        assert csms.station("NOCERT") is None
        async with station(csms.url, "TLS3", ssl_context=with_cert) as conn:  # still serving
            assert (await conn.call(v201.HeartbeatRequest())).current_time


async def test_malformed_frames_get_callerrors_and_other_stations_are_served() -> None:
    async with open_csms(port=0) as csms, station(csms.url, "GOOD") as good:
        async with open_websocket_url(raw_url(csms, "BAD"), subprotocols=["ocpp2.0.1"]) as bad:
            cases = [
                ("this is not json", ["-1", "RpcFrameworkError"]),
                ('[2, "m1", "Heartbeat", {"bogus": 1}]', ["m1", "FormatViolation"]),
                ('[2, "m2", "BootNotification", {"reason": "PowerUp"}]', ["m2", "OccurrenceConstraintViolation"]),
                ('[2, "m3", "StatusNotification", {"timestamp": "x", "connectorStatus": "Available", '
                 '"evseId": 1, "connectorId": 1}]', ["m3", "PropertyConstraintViolation"]),
                ('[2, "m4", "NoSuchAction", {}]', ["m4", "NotImplemented"]),
                ('[7, "m5"]', ["m5", "MessageTypeNotSupported"]),
            ]  # fmt: skip
            for text, (message_id, code) in cases:
                await bad.send_message(text)
                with trio.fail_after(5):
                    reply = json.loads(await bad.get_message())
                assert reply[:3] == [4, message_id, code], (text, reply)
                assert (await good.call(v201.HeartbeatRequest())).current_time
            await bad.send_message('[2, "ok", "Heartbeat", {}]')
            with trio.fail_after(5):
                assert json.loads(await bad.get_message())[:2] == [3, "ok"]
        assert csms.statistics().violations == len(cases)


async def test_disconnect_and_records_after_disconnection() -> None:
    async with open_csms(port=0) as csms:
        async with station(csms.url, "DIS1") as conn:
            await conn.call(boot())
            await wait_until(lambda: csms.is_connected("DIS1"))
            assert await csms.disconnect("DIS1", reason="maintenance")
            with pytest.raises(ConnectionLost), trio.fail_after(5):
                await conn.call(v201.HeartbeatRequest())
        assert not await csms.disconnect("DIS1")
        record = csms.station("DIS1")
        assert record is not None and not record.connected and record.disconnected_at is not None
        assert "maintenance" in record.disconnect_reason
        assert csms.connections() == [] and list(csms.stations()) == ["DIS1"]


async def test_reuse_port_lets_two_csms_share_a_port() -> None:
    async with open_csms(port=0, reuse_port=True) as first:
        assert first.port is not None
        async with open_csms(port=first.port, reuse_port=True) as second:
            assert second.port == first.port
            for _ in range(4):
                async with station(first.url, "RP1") as conn:
                    await conn.call(v201.HeartbeatRequest())
            served = [c.statistics().connections for c in (first, second)]
            assert sum(served) == 4
        with pytest.raises(OSError):  # without reuse_port the port is taken: a plain OSError
            async with open_csms(port=first.port):
                pass


def test_auth_file_formats(tmp_path: Path) -> None:
    toml = tmp_path / "auth.toml"
    toml.write_text('[stations]\nCS001 = "secret-1"\n"CS 002" = "secret-2"\n')
    assert load_auth_file(toml) == {"CS001": "secret-1", "CS 002": "secret-2"}
    plain = tmp_path / "auth.json"
    plain.write_text('{"CS001": "secret-1"}')
    assert load_auth_file(plain) == {"CS001": "secret-1"}
    nested = tmp_path / "auth.conf"
    nested.write_text('{"stations": {"CS009": "secret-9"}}')
    assert load_auth_file(nested) == {"CS009": "secret-9"}
    for name, text, message in [
        ("a.json", '{"CS001": 5}', "password of station 'CS001' must be a non-empty string"),
        ("b.json", "[1, 2]", "expected a table/object"),
        ("c.toml", "[stations\n", "not valid TOML"),
        ("d.json", '{"A:B": "x"}', "contains ':'"),
    ]:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(AuthFileError, match=message) as info:
            load_auth_file(path)
        assert str(path) in str(info.value)
    with pytest.raises(AuthFileError, match="cannot read"):
        load_auth_file(tmp_path / "missing.toml")

    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        '[tokens]\nTAG1 = "Accepted"\nSTOLEN = "Blocked"\n'
        'FLEET-1 = { group = "FLEET-A" }\nOLD = { status = "Accepted", expires = 2020-01-01T00:00:00Z }\n'
    )
    loaded = load_id_tokens(tokens)
    assert loaded["tag1"] == IdTokenEntry()
    assert loaded["stolen"].status == "Blocked" and loaded["fleet-1"].group_id == "FLEET-A"
    assert loaded["old"].status_at(datetime.datetime.now(datetime.UTC)) == "Expired"
    bad = tmp_path / "tokens.json"
    bad.write_text('{"tokens": {"T": {"status": "Accepted", "colour": "red"}}}')
    with pytest.raises(AuthFileError, match="unknown keys"):
        load_id_tokens(bad)
    bad.write_text('{"T": {"expires": "2020-01-01T00:00:00"}}')
    with pytest.raises(AuthFileError, match="needs a timezone"):
        load_id_tokens(bad)


async def test_raw_ocpp_log(tmp_path: Path) -> None:
    log = tmp_path / "frames.jsonl"
    async with open_csms(port=0, ocpp_log=str(log)) as csms, station(csms.url, "LOG1") as conn:
        await conn.call(v201.HeartbeatRequest())
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(x["station"], x["direction"]) for x in lines] == [("LOG1", "in"), ("LOG1", "out")]
    assert json.loads(lines[0]["frame"])[2] == "Heartbeat"
