"""The CSMS's OCPP 1.6 dialect (:mod:`fleet.actors.csms.v16`).

Without sockets: every station-initiated 1.6 action gets a valid answer, the boot policy,
the id-token list as 1.6 answers it, the transaction ids the CSMS assigns, and how the
recorders map 1.6 connectors and transactions onto the version-free records.
Over real websockets on 127.0.0.1, with a bare 1.6 charge point made of fleet's protocol
core (``tests/ocpp16_station.py``): a boot, a transaction, the CSMS's typed 1.6 CALLs,
a 2.0.1 request refused on a 1.6 connection, an overriding handler's transaction id
recorded, and malformed 1.6 frames answered with 1.6's own CALLERROR codes.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
import trio
from msgspec import UNSET
from ocpp16_station import open_v16_station
from trio_websocket import open_websocket_url

from fleet.actors.csms import Csms, open_csms
from fleet.actors.csms.auth import parse_id_tokens
from fleet.actors.csms.dialects import DIALECTS
from fleet.actors.csms.policy import CsmsPolicy, Registration
from fleet.actors.csms.records import StationState
from fleet.actors.csms.v16 import CSMS_ACTIONS, DIALECT, STATION_ACTIONS
from fleet.actors.csms.v16.handlers import id_tag_info
from fleet.actors.csms.v16.recorders import (
    connector_key,
    delivered_wh,
    record_meter_values,
    record_start_transaction,
    record_status,
    record_stop_transaction,
)
from fleet.net.connection import CallContext
from fleet.net.transport import station_url
from fleet.ocpp import V16, LocalProtocolError, v16, v201

T0 = datetime.datetime(2025, 1, 1, 12, tzinfo=datetime.UTC)
NO_CONNECTION: Any = None  # (the default handlers never use the connection)

#: A valid request of every action a 1.6 charge point sends, as JSON payloads.
SAMPLES: dict[str, dict[str, Any]] = {
    "Authorize": {"idTag": "TAG-1"},
    "BootNotification": {"chargePointVendor": "V", "chargePointModel": "M"},
    "DataTransfer": {"vendorId": "acme", "data": "x"},
    "DiagnosticsStatusNotification": {"status": "Uploaded"},
    "FirmwareStatusNotification": {"status": "Installed"},
    "Heartbeat": {},
    "MeterValues": {"connectorId": 1, "meterValue": [{"timestamp": T0.isoformat(),
                                                      "sampledValue": [{"value": "10"}]}]},
    "StartTransaction": {"connectorId": 1, "idTag": "TAG-1", "meterStart": 0, "timestamp": T0.isoformat()},
    "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
    "StopTransaction": {"meterStop": 10, "timestamp": T0.isoformat(), "transactionId": 1, "idTag": "TAG-1"},
    "LogStatusNotification": {"status": "Uploaded", "requestId": 1},
    "SecurityEventNotification": {"type": "StartupOfTheDevice", "timestamp": T0.isoformat()},
    "SignCertificate": {"csr": "-----BEGIN CERTIFICATE REQUEST-----"},
    "SignedFirmwareStatusNotification": {"status": "Installed", "requestId": 1},
}


def request(action: str, payload: dict[str, Any] | None = None) -> Any:
    """The typed 1.6 request of ``action`` (default: its sample)."""
    return v16.request_decoder(action).decode(json.dumps(SAMPLES[action] if payload is None else payload))


def ctx(station_id: str, action: str) -> CallContext:
    return CallContext(station_id, "m1", action, NO_CONNECTION)


def answer(handlers: dict[str, Any], action: str, payload: dict[str, Any] | None = None,
           station_id: str = "CS1") -> Any:
    """The default handler's answer, checked to be a valid 1.6 response (encoded and decoded again)."""
    response = handlers[action](request(action, payload), ctx(station_id, action))
    assert type(response) is v16.ACTIONS[action][1]
    return v16.response_decoder(action).decode(v16.ENCODER.encode(response))


# ------------------------------------------------------------ the dialect


def test_the_1_6_dialect_is_registered_last_and_answers_every_station_action() -> None:
    assert list(DIALECTS) == ["2.1", "2.0.1", "1.6"] and DIALECTS["1.6"] is DIALECT
    assert DIALECT.version is V16 and DIALECT.version.subprotocol == "ocpp1.6"
    assert set(SAMPLES) == STATION_ACTIONS and len(STATION_ACTIONS) == 14
    assert "Reset" in CSMS_ACTIONS and "DataTransfer" in CSMS_ACTIONS and "Heartbeat" not in CSMS_ACTIONS
    assert set(DIALECT.recorders) < STATION_ACTIONS and set(DIALECT.answer_recorders) < STATION_ACTIONS
    handlers = DIALECT.default_handlers(CsmsPolicy(data_transfer_vendors=["acme"]))
    assert set(handlers) == STATION_ACTIONS
    answers = {action: answer(handlers, action) for action in sorted(STATION_ACTIONS)}
    assert answers["Authorize"].id_tag_info.status == v16.AuthorizationStatus.ACCEPTED  # (no list: accepted)
    assert answers["DataTransfer"].status == v16.DataTransferStatus.ACCEPTED
    assert answers["SignCertificate"].status == v16.GenericStatus.REJECTED
    assert answers["StartTransaction"].transaction_id == 1
    assert answers["StopTransaction"].id_tag_info.status == v16.AuthorizationStatus.ACCEPTED
    for action in ("StatusNotification", "MeterValues", "FirmwareStatusNotification", "SecurityEventNotification",
                   "DiagnosticsStatusNotification", "LogStatusNotification", "SignedFirmwareStatusNotification"):
        assert v16.ENCODER.encode(answers[action]) == b"{}", action
    assert answer(handlers, "DataTransfer", {"vendorId": "nobody"}).status == v16.DataTransferStatus.UNKNOWN_VENDOR_ID
    assert answer(handlers, "StopTransaction", {"meterStop": 1, "timestamp": T0.isoformat(),
                                                "transactionId": 1}).id_tag_info is UNSET


def test_boot_answers_follow_the_policy_per_station() -> None:
    policy = CsmsPolicy(heartbeat_interval=60, boot_retry_interval=7)
    handlers = DIALECT.default_handlers(policy)
    policy.boot_status_of["CS2"] = policy.boot_status_of["CS3"] = Registration.PENDING
    accepted = answer(handlers, "BootNotification", station_id="CS1")
    pending = answer(handlers, "BootNotification", station_id="CS2")
    assert (accepted.status, accepted.interval) == (v16.RegistrationStatus.ACCEPTED, 60)
    assert (pending.status, pending.interval) == (v16.RegistrationStatus.PENDING, 7)
    assert abs((accepted.current_time - datetime.datetime.now(datetime.UTC)).total_seconds()) < 60
    policy.boot_status = Registration.REJECTED
    assert answer(handlers, "BootNotification", station_id="CS9").status == v16.RegistrationStatus.REJECTED


def test_the_id_token_list_as_1_6_answers_it() -> None:
    tokens = parse_id_tokens({
        "GOOD-1": "Accepted", "BLOCKED-1": "Blocked", "BUSY-1": "ConcurrentTx", "BROKE-1": "NoCredit",
        "OLD-CARD": {"expires": "2020-01-01T00:00:00Z"},
        "NEW-CARD": {"expires": "2099-01-01T00:00:00Z", "group": "GROUP-A"},
        "LONG-GROUP": {"group": "G" * 30},
    })
    policy = CsmsPolicy(id_tokens=tokens)
    status = {tag: id_tag_info(policy, tag).status for tag in
              ("GOOD-1", "good-1", "BLOCKED-1", "BUSY-1", "BROKE-1", "OLD-CARD", "NEW-CARD", "NOT-LISTED")}
    assert status == {"GOOD-1": "Accepted", "good-1": "Accepted", "BLOCKED-1": "Blocked", "BUSY-1": "ConcurrentTx",
                      "BROKE-1": "Invalid", "OLD-CARD": "Expired", "NEW-CARD": "Accepted", "NOT-LISTED": "Invalid"}
    new = id_tag_info(policy, "NEW-CARD")
    assert new.parent_id_tag == "GROUP-A"
    assert new.expiry_date == datetime.datetime(2099, 1, 1, tzinfo=datetime.UTC)
    assert id_tag_info(policy, "LONG-GROUP").parent_id_tag is UNSET  # 30 > 1.6's 20 characters
    handlers = DIALECT.default_handlers(policy)
    started = answer(handlers, "StartTransaction", {**SAMPLES["StartTransaction"], "idTag": "BLOCKED-1"})
    assert started.id_tag_info.status == v16.AuthorizationStatus.BLOCKED and started.transaction_id == 1


def test_transaction_ids_are_unique_per_csms_and_a_repeated_start_keeps_its_id() -> None:
    handlers = DIALECT.default_handlers(CsmsPolicy())
    start = SAMPLES["StartTransaction"]
    first = answer(handlers, "StartTransaction", start, station_id="CS1").transaction_id
    again = answer(handlers, "StartTransaction", start, station_id="CS1").transaction_id
    other = answer(handlers, "StartTransaction", start, station_id="CS2").transaction_id
    later = answer(handlers, "StartTransaction", {**start, "meterStart": 5}, station_id="CS1").transaction_id
    assert (first, again, other, later) == (1, 1, 2, 3)
    # another CSMS (its own handlers) counts on its own
    assert answer(DIALECT.default_handlers(CsmsPolicy()), "StartTransaction", start).transaction_id == 1
    # process 2 of 3 serving as one CSMS: 2, 5, 8... (never an id of processes 1 and 3)
    shared = DIALECT.default_handlers(CsmsPolicy(transaction_ids=(2, 3)))
    assert [answer(shared, "StartTransaction", {**start, "meterStart": n}).transaction_id for n in range(3)] == [
        2, 5, 8]
    for bad in ((0, 1), (1, 0), (1,), (True, 1)):
        with pytest.raises(ValueError, match="transaction_ids"):
            Csms(port=0, transaction_ids=bad)  # type: ignore[arg-type]


# ------------------------------------------------------------ the recorders


def meter_values(transaction_id: int | None, value: str, unit: str | None = None, minute: int = 1,
                 context: str | None = None) -> v16.MeterValuesRequest:
    sampled: dict[str, Any] = {"value": value, "measurand": "Energy.Active.Import.Register"}
    if unit is not None:
        sampled["unit"] = unit
    if context is not None:
        sampled["context"] = context
    payload: dict[str, Any] = {"connectorId": 2, "meterValue": [{
        "timestamp": (T0 + datetime.timedelta(minutes=minute)).isoformat(),
        "sampledValue": [{"value": "230", "measurand": "Voltage", "phase": "L1"}, sampled]}]}
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    result: v16.MeterValuesRequest = request("MeterValues", payload)
    return result


def test_a_1_6_transaction_is_recorded_from_start_meter_values_and_stop() -> None:
    state = StationState("CS1")
    start = request("StartTransaction", {"connectorId": 2, "idTag": "TAG-1", "meterStart": 1000,
                                         "timestamp": T0.isoformat()})
    record_start_transaction(state, v16.StartTransactionResponse(
        transaction_id=7, id_tag_info=v16.IdTagInfo(status=v16.AuthorizationStatus.ACCEPTED)), start)
    record_meter_values(state, meter_values(7, "1500", minute=1))
    record_meter_values(state, meter_values(7, "2.0", unit="kWh", minute=2, context="Sample.Clock"))
    record_meter_values(state, meter_values(7, "2.0", unit="kWh", minute=2, context="Sample.Clock"))  # again
    record_meter_values(state, meter_values(None, "2100", minute=3))  # no transaction: the connector's only
    stop = request("StopTransaction", {"meterStop": 2500, "timestamp": (T0 + datetime.timedelta(minutes=4)).isoformat(),
                                       "transactionId": 7, "reason": "EVDisconnected", "transactionData": [
                                           {"timestamp": T0.isoformat(), "sampledValue": [{"value": "2500"}]}]})
    record_stop_transaction(state, stop)
    record = state.snapshot()
    assert list(record.transactions) == ["7"]
    tx = record.transactions["7"]
    assert tx.started and tx.ended and (tx.started_at, tx.ended_at) == (T0, T0 + datetime.timedelta(minutes=4))
    assert (tx.evse_id, tx.connector_id, tx.id_token) == (2, 1, "TAG-1")
    assert tx.energy_wh == 2500.0 and delivered_wh(tx) == 1500.0  # meterStop - meterStart
    assert tx.stopped_reason == "EVDisconnected"
    assert [type(m).__name__ for m in tx.meter_values] == ["TransactionData"]
    assert [(e.seq_no, e.event_type, e.trigger_reason, e.energy_wh, e.retransmission) for e in tx.events] == [
        (0, "Started", "StartTransaction", 1000.0, False),
        (1, "Updated", "Sample.Periodic", 1500.0, False),
        (2, "Updated", "Sample.Clock", 2000.0, False),
        (2, "Updated", "Sample.Clock", 2000.0, True),
        (3, "Ended", "StopTransaction", 2500.0, False),
    ]
    assert tx.retransmissions == 1 and tx.missing_seq_nos() == [] and not any(e.offline for e in tx.events)
    assert record.meter_values[2][0].sampled_value[1].value == "2100"
    assert (state.tx_seen, state.tx_started, state.tx_ended) == (1, 1, 1)

    # the station sends its StartTransaction again (its answer was lost): the same transaction, a retransmission
    state = StationState("CS1")
    answered = v16.StartTransactionResponse(transaction_id=8, id_tag_info=v16.IdTagInfo(status="Accepted"))
    record_start_transaction(state, answered, start)
    record_start_transaction(state, {"transactionId": 8, "idTagInfo": {"status": "Accepted"}}, start)
    record_stop_transaction(state, request("StopTransaction", {"meterStop": 1000, "timestamp": T0.isoformat(),
                                                               "transactionId": 8}))
    tx = state.snapshot().transactions["8"]
    assert tx.seq_nos == (0, 0, 1) and tx.retransmissions == 1 and state.tx_started == 1
    assert tx.stopped_reason == "Local" and delivered_wh(tx) == 0.0  # (a reason left out is Local)
    # an answer without a transaction id: no transaction
    record_start_transaction(state, {"idTagInfo": {"status": "Accepted"}}, start)
    assert list(state.snapshot().transactions) == ["8"]


def test_1_6_connectors_are_recorded_as_evses_and_connector_0_as_the_station() -> None:
    assert (connector_key(0), connector_key(1), connector_key(3)) == ((0, 0), (1, 1), (3, 1))
    state = StationState("CS1")
    record_status(state, request("StatusNotification", {"connectorId": 0, "errorCode": "NoError",
                                                        "status": "Unavailable", "timestamp": T0.isoformat()}))
    before = datetime.datetime.now(datetime.UTC)
    record_status(state, request("StatusNotification", {"connectorId": 2, "errorCode": "NoError",
                                                        "status": "SuspendedEV"}))
    station, second = state.snapshot().connectors
    assert (station.evse_id, station.connector_id, station.status, station.timestamp) == (0, 0, "Unavailable", T0)
    assert (second.evse_id, second.connector_id, second.status) == (2, 1, "SuspendedEV")
    assert second.timestamp >= before  # no timestamp sent: the time it arrived


# ------------------------------------------------------------ on the wire


async def test_a_1_6_station_boots_charges_and_answers_typed_1_6_calls_of_the_csms() -> None:
    resets: list[v16.ResetRequest] = []

    def reset(request: v16.ResetRequest, ctx: CallContext) -> v16.ResetResponse:
        resets.append(request)
        return v16.ResetResponse(status=v16.ResetStatus.ACCEPTED)

    def get_configuration(request: v16.GetConfigurationRequest, ctx: CallContext) -> v16.GetConfigurationResponse:
        return v16.GetConfigurationResponse(
            configuration_key=[v16.KeyValue(key="HeartbeatInterval", readonly=False, value="60")],
            unknown_key=[key for key in request.key or [] if key != "HeartbeatInterval"])

    async with open_csms(port=0, id_tokens={"TAG-1": "Accepted"}, heartbeat_interval=60, boot_retry_interval=1) as csms:
        csms.set_boot_status("Pending", "CS16")
        async with open_v16_station(csms.url, "CS16", {"Reset": reset, "GetConfiguration": get_configuration}) as cp:
            boot = v16.BootNotificationRequest(charge_point_vendor="fleet-test", charge_point_model="bare")
            pending = await cp.call(boot)
            assert (pending.status, pending.interval) == (v16.RegistrationStatus.PENDING, 1)
            # while Pending the CSMS may configure the station, with 1.6's own requests
            got = await csms.call("CS16", v16.GetConfigurationRequest(key=["HeartbeatInterval", "Nope"]))
            assert isinstance(got, v16.GetConfigurationResponse)
            assert got.configuration_key[0].value == "60" and got.unknown_key == ["Nope"]
            csms.set_boot_status(None, "CS16")
            accepted = await cp.call(boot)
            assert (accepted.status, accepted.interval) == (v16.RegistrationStatus.ACCEPTED, 60)
            assert (await cp.call(v16.AuthorizeRequest(id_tag="TAG-X"))).id_tag_info.status == "Invalid"
            started = await cp.call(v16.StartTransactionRequest(connector_id=1, id_tag="TAG-1", meter_start=100,
                                                                timestamp=T0))
            assert started.id_tag_info.status == v16.AuthorizationStatus.ACCEPTED
            await cp.call(v16.MeterValuesRequest(connector_id=1, transaction_id=started.transaction_id, meter_value=[
                v16.MeterValue(timestamp=T0, sampled_value=[v16.SampledValue(value="600")])]))
            await cp.call(v16.StopTransactionRequest(transaction_id=started.transaction_id, meter_stop=900,
                                                     timestamp=T0, reason=v16.Reason.REMOTE))

            reply = await csms.call("CS16", v16.ResetRequest(type=v16.ResetType.HARD))
            assert reply == v16.ResetResponse(status=v16.ResetStatus.ACCEPTED)
            assert resets == [v16.ResetRequest(type=v16.ResetType.HARD)]
            # a 2.0.1 request on a 1.6 connection: refused before anything is sent, saying why
            sent = csms.statistics().calls_sent
            with pytest.raises(LocalProtocolError, match=r"connected with OCPP 1\.6.*v201.*ResetRequest"):
                await csms.call("CS16", v201.ResetRequest(type=v201.Reset.IMMEDIATE))
            with pytest.raises(LocalProtocolError, match=r"not an OCPP 1\.6 message"):
                await csms.call("CS16", v201.ResetRequest(type=v201.Reset.IMMEDIATE), action="Reset")
            assert csms.statistics().calls_sent == sent and resets == [v16.ResetRequest(type=v16.ResetType.HARD)]
            assert csms.dialect_of("CS16") is DIALECT

        record = csms.station("CS16")
        assert record is not None and record.ocpp_version == "1.6" and record.registration_status == "Accepted"
        assert record.boot is not None and record.boot.charging_station.charge_point_vendor == "fleet-test"
        tx = record.transactions[str(started.transaction_id)]
        assert tx.started and tx.ended and tx.energy_wh == 900.0 and delivered_wh(tx) == 800.0
        assert tx.stopped_reason == "Remote" and tx.seq_nos == (0, 1, 2)
        assert record.messages == {"BootNotification": 2, "Authorize": 1, "StartTransaction": 1, "MeterValues": 1,
                                   "StopTransaction": 1}
        statistics = csms.statistics()
        assert (statistics.transactions_started, statistics.transactions_ended, statistics.violations) == (1, 1, 0)


async def test_an_overriding_1_6_handler_names_the_transaction_the_csms_records() -> None:
    async with open_csms(port=0) as csms:
        @csms.on("StartTransaction", version="1.6")
        async def start(request: v16.StartTransactionRequest, ctx: CallContext) -> Any:
            await trio.sleep(0)  # (an asynchronous handler: the answer is recorded once it comes)
            return {"transactionId": 4242, "idTagInfo": {"status": "Accepted"}}

        assert csms.handler("StartTransaction", version="1.6") is start
        async with open_v16_station(csms.url, "CS16") as cp:
            started = await cp.call(v16.StartTransactionRequest(connector_id=1, id_tag="T", meter_start=0,
                                                                timestamp=T0))
            assert started.transaction_id == 4242
        record = csms.station("CS16")
        assert record is not None and list(record.transactions) == ["4242"]
        assert record.transactions["4242"].started and record.transactions["4242"].id_token == "T"


#: Malformed 1.6 frames and the CALLERROR code OCPP-J 1.6 prescribes for each (never a 2.0.1-only code).
BAD_FRAMES = {
    "bad-missing": ('[2,"bad-missing","Authorize",{}]', "OccurenceConstraintViolation"),
    "bad-type": ('[2,"bad-type","StatusNotification",{"connectorId":"one","errorCode":"NoError",'
                 '"status":"Available"}]', "TypeConstraintViolation"),
    "bad-enum": ('[2,"bad-enum","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
                 '"status":"Occupied"}]', "PropertyConstraintViolation"),
    "bad-long-tag": ('[2,"bad-long-tag","Authorize",{"idTag":"' + "X" * 21 + '"}]', "PropertyConstraintViolation"),
    "bad-payload": ('[2,"bad-payload","Heartbeat",[]]', "FormationViolation"),
    "bad-action": ('[2,"bad-action","NoSuchAction",{}]', "NotImplemented"),
    "bad-direction": ('[2,"bad-direction","Reset",{"type":"Hard"}]', "NotSupported"),
    "bad-2-0-1-action": ('[2,"bad-2-0-1-action","TransactionEvent",{}]', "NotImplemented"),
}
ONLY_2_0_1 = {"RpcFrameworkError", "FormatViolation", "OccurrenceConstraintViolation", "MessageTypeNotSupported"}


async def test_malformed_1_6_frames_get_the_1_6_callerror_codes() -> None:
    async with open_csms(port=0) as csms, \
            open_websocket_url(station_url(csms.url, "BAD16"), subprotocols=["ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6"
        codes = {}
        with trio.fail_after(10):
            for message_id, (text, _) in BAD_FRAMES.items():
                await ws.send_message(text)
                frame = json.loads(await ws.get_message())
                assert frame[0] == 4 and frame[1] == message_id and len(frame) == 5, frame
                codes[message_id] = frame[2]
            await ws.send_message("this is not json")
            not_json = json.loads(await ws.get_message())
            await ws.send_message('[2,"hb","Heartbeat",{}]')
            heartbeat = json.loads(await ws.get_message())
        assert codes == {message_id: code for message_id, (_, code) in BAD_FRAMES.items()}
        assert not_json[0] == 4 and not_json[2] == "ProtocolError"  # 1.6 has no RpcFrameworkError
        assert not ONLY_2_0_1 & {*codes.values(), not_json[2]}
        assert heartbeat[:2] == [3, "hb"]  # the connection is still usable
        assert csms.statistics().violations >= len(BAD_FRAMES)


async def test_fleet_csms_ocpp_versions_choose_the_versions_served_and_their_preference() -> None:
    from fleet.cli import build_parser
    from fleet.commands.csms import _build

    async def agreed(url: str, station_id: str, offered: list[str]) -> str | None:
        async with open_websocket_url(station_url(url, station_id), subprotocols=offered) as ws:
            return ws.subprotocol

    for option, versions, both in (([], ["2.1", "2.0.1", "1.6"], "ocpp2.0.1"),
                                   (["--ocpp-versions", "1.6,2.0.1"], ["1.6", "2.0.1"], "ocpp1.6"),
                                   (["--ocpp-versions", "ocpp1.6"], ["1.6"], "ocpp1.6")):
        csms = _build(build_parser().parse_args(["csms", "--port", "0", *option]))
        assert csms.versions == versions
        async with trio.open_nursery() as nursery:
            await nursery.start(csms.run)
            assert await agreed(csms.url, "BOTH", ["ocpp2.0.1", "ocpp1.6"]) == both
            assert await agreed(csms.url, "OLD", ["ocpp1.6"]) == "ocpp1.6"
            if "2.0.1" not in versions:
                assert await agreed(csms.url, "NEW", ["ocpp2.0.1"]) is None  # refused: 1.6 only
                assert csms.statistics().refused == {"400": 1}
            csms.stop()
