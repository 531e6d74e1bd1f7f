"""The CSMS's version-free core and its per-version dialects.

Without sockets: the dialect registry, the 2.0.1 dialect's shape, its recorder turning
TransactionEvents into version-free transaction records, its id-token answers, the typed
decoding of CSMS-initiated requests. Over real websockets on 127.0.0.1: one CSMS serving
two dialects on one port picks each connection's dialect from its negotiated subprotocol.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Mapping
from typing import Any

import msgspec
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from fleet.actors.csms import Csms, open_csms
from fleet.actors.csms.auth import IdTokenEntry, TokenStatus
from fleet.actors.csms.dialect import CsmsDialect, InvalidRequest, Recorder, UnknownAction, decode_request
from fleet.actors.csms.dialects import DIALECTS, dialects_by_version
from fleet.actors.csms.policy import CsmsPolicy, Registration
from fleet.actors.csms.records import StationState
from fleet.actors.csms.v201 import CSMS_ACTIONS, DIALECT, STATION_ACTIONS
from fleet.actors.csms.v201.handlers import id_token_info
from fleet.actors.csms.v201.recorders import record_registration, record_transaction_event
from fleet.net.connection import CallContext, Handler
from fleet.net.transport import station_url
from fleet.ocpp import V201, ProtocolVersion, v201

T0 = datetime.datetime(2025, 1, 1, 12, tzinfo=datetime.UTC)


def tx_event(event_type: str, seq_no: int, transaction_id: str, **fields: Any) -> v201.TransactionEventRequest:
    """A TransactionEvent as a station sends it (``fields`` in the payload's JSON names)."""
    payload: dict[str, Any] = {
        "eventType": event_type,
        "timestamp": (T0 + datetime.timedelta(minutes=seq_no)).isoformat(),
        "triggerReason": fields.pop("triggerReason", "MeterValuePeriodic"),
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": transaction_id, **fields.pop("transactionInfo", {})},
        **fields,
    }
    request = v201.request_decoder("TransactionEvent").decode(json.dumps(payload))
    assert isinstance(request, v201.TransactionEventRequest)
    return request


def _time(text: str) -> datetime.datetime:
    return msgspec.json.decode(json.dumps(text), type=datetime.datetime)


def energy(wh: float) -> list[dict[str, Any]]:
    return [{"timestamp": T0.isoformat(), "sampledValue": [{"value": wh}]}]


# --------------------------------------------------------------- registry


def test_the_registry_holds_the_2_0_1_dialect_by_version_name() -> None:
    assert list(DIALECTS) == ["2.1", "2.0.1", "1.6"]  # newest first: the CSMS's preference
    assert DIALECTS["2.0.1"] is DIALECT
    assert DIALECT.version is V201 and DIALECT.version.subprotocol == "ocpp2.0.1"
    with pytest.raises(TypeError):
        DIALECTS["1.6"] = DIALECT  # type: ignore[index]  # read-only: no shared mutable registry


def test_the_registry_refuses_two_dialects_of_one_version_or_subprotocol() -> None:
    with pytest.raises(ValueError, match=r"two CSMS dialects for OCPP 2\.0\.1"):
        dialects_by_version(DIALECT, DIALECT)
    same_subprotocol = MarkedDialect(dataclasses.replace(V201, name="2.0.1-other"))
    with pytest.raises(ValueError, match="two CSMS dialects"):
        dialects_by_version(DIALECT, same_subprotocol)
    other = MarkedDialect(TEST_VERSION)
    assert list(dialects_by_version(other, DIALECT)) == ["2.0.1-test", "2.0.1"]  # order kept: preference


def test_the_2_0_1_dialect_answers_and_records_station_initiated_actions_only() -> None:
    handlers = DIALECT.default_handlers(CsmsPolicy())
    assert set(handlers) == STATION_ACTIONS
    assert set(DIALECT.recorders) < STATION_ACTIONS and set(DIALECT.answer_recorders) <= STATION_ACTIONS
    assert set(v201.ACTIONS) == STATION_ACTIONS | CSMS_ACTIONS
    assert {"DataTransfer"} == STATION_ACTIONS & CSMS_ACTIONS


# -------------------------------------------------------------- recorders


def test_the_recorder_turns_transaction_events_into_version_free_records() -> None:
    state = StationState("CS1", transaction_history=1)
    events = [
        tx_event("Started", 0, "A", triggerReason="Authorized", meterValue=energy(0),
                 idToken={"idToken": "TAG", "type": "ISO14443"}, evse={"id": 2, "connectorId": 1},
                 transactionInfo={"chargingState": "EVConnected", "remoteStartId": 7}),
        tx_event("Updated", 1, "A", meterValue=[{"timestamp": T0.isoformat(), "sampledValue": [
            {"value": 1.5, "unitOfMeasure": {"unit": "kWh"}}]}], transactionInfo={"chargingState": "Charging"}),
        tx_event("Updated", 2, "A", meterValue=energy(2000), offline=True),
        tx_event("Updated", 2, "A", meterValue=energy(2000), offline=True),  # sent again after a lost answer
        tx_event("Updated", 2, "A", meterValue=energy(2100), offline=True),  # same seqNo, other content
        tx_event("Ended", 4, "A", triggerReason="EVDeparted", meterValue=energy(3000),
                 transactionInfo={"stoppedReason": "EVDisconnected"}),
    ]
    for event in events:
        record_transaction_event(state, event)
    tx = state.snapshot().transactions["A"]
    assert tx.seq_nos == (0, 1, 2, 2, 2, 4) and tx.missing_seq_nos() == [3]
    assert [e.event_type for e in tx.events] == ["Started", "Updated", "Updated", "Updated", "Updated", "Ended"]
    assert (tx.events[0].trigger_reason, tx.events[-1].trigger_reason) == ("Authorized", "EVDeparted")
    assert [e.energy_wh for e in tx.events] == [0.0, 1500.0, 2000.0, 2000.0, 2100.0, 3000.0]
    assert [e.retransmission for e in tx.events] == [False, False, False, True, False, False]
    assert [e.offline for e in tx.events] == [False, False, True, True, True, False]
    assert [e.charging_state for e in tx.events] == ["EVConnected", "Charging", None, None, None, None]
    assert tx.started and tx.ended and tx.started_at == T0 and tx.ended_at == T0 + datetime.timedelta(minutes=4)
    assert (tx.evse_id, tx.connector_id, tx.id_token, tx.remote_start_id) == (2, 1, "TAG", 7)
    assert (tx.charging_state, tx.stopped_reason, tx.energy_wh) == ("Charging", "EVDisconnected", 3000.0)
    assert len(tx.meter_values) == 1 and isinstance(tx.meter_values[0], v201.MeterValue)
    assert (state.tx_seen, state.tx_started, state.tx_ended, state.active_transactions()) == (1, 1, 1, 0)
    # a second transaction: the first one stays (history 1); a third ending drops the oldest ended one
    record_transaction_event(state, tx_event("Started", 0, "B", triggerReason="Authorized"))
    record_transaction_event(state, tx_event("Ended", 1, "B", triggerReason="StopAuthorized"))
    assert sorted(state.snapshot().transactions) == ["B"] and state.transactions_dropped == 1
    record_transaction_event(state, tx_event("Updated", 3, "C"))  # no Started seen: seen, not started
    assert (state.tx_seen, state.tx_started, state.tx_ended, state.active_transactions()) == (3, 2, 2, 1)


def test_the_registration_recorder_takes_the_status_of_a_struct_or_a_mapping() -> None:
    state = StationState("CS1")
    DIALECT.recorders["BootNotification"](state, v201.BootNotificationRequest(
        charging_station=v201.ChargingStation(model="M", vendor_name="V"), reason=v201.BootReason.POWER_UP))
    record_registration(state, v201.BootNotificationResponse(current_time=T0, interval=5,
                                                             status=v201.RegistrationStatus.PENDING))
    record = state.snapshot()
    assert record.registration_status == "Pending" and record.boot is not None and record.boot.status == "Pending"
    assert record.boot.charging_station.model == "M" and record.boot.reason == "PowerUp"
    record_registration(state, {"status": "Accepted", "interval": 5, "currentTime": T0.isoformat()})
    assert state.registration_status == "Accepted"
    record_registration(state, {"status": "Maybe"})
    assert state.registration_status is None


# ---------------------------------------------------------------- answers


def test_version_free_token_statuses_become_2_0_1_authorization_statuses() -> None:
    now = datetime.datetime.now(datetime.UTC)
    tag = v201.IdToken(id_token="tag-1", type=v201.IdTokenEnum.ISO14443)
    for status in TokenStatus:
        policy = CsmsPolicy(id_tokens={"tag-1": IdTokenEntry(status)})
        info = id_token_info(policy, tag, now)
        assert info.status is v201.AuthorizationStatus(status.value)
    expired = CsmsPolicy(id_tokens={"tag-1": IdTokenEntry(expires=now - datetime.timedelta(seconds=1))})
    assert id_token_info(expired, tag, now).status is v201.AuthorizationStatus.EXPIRED
    assert id_token_info(CsmsPolicy(), tag).status is v201.AuthorizationStatus.ACCEPTED  # no list
    assert id_token_info(CsmsPolicy(id_tokens={}), tag).status is v201.AuthorizationStatus.UNKNOWN
    blocked = CsmsPolicy(id_tokens={}, unknown_token_status="Blocked")
    assert id_token_info(blocked, tag).status is v201.AuthorizationStatus.BLOCKED
    free = v201.IdToken(id_token="", type=v201.IdTokenEnum.NO_AUTHORIZATION)
    assert id_token_info(blocked, free).status is v201.AuthorizationStatus.ACCEPTED
    with pytest.raises(ValueError):
        CsmsPolicy(unknown_token_status="Fine")
    with pytest.raises(ValueError):
        CsmsPolicy(boot_status="Maybe")


def test_the_boot_handler_answers_the_policy_s_registration_as_a_2_0_1_status() -> None:
    policy = CsmsPolicy(boot_status=Registration.PENDING, heartbeat_interval=42, boot_retry_interval=7)
    boot = DIALECT.default_handlers(policy)["BootNotification"]
    request = v201.BootNotificationRequest(charging_station=v201.ChargingStation(model="M", vendor_name="V"),
                                           reason=v201.BootReason.POWER_UP)
    no_connection: Any = None
    for station_id, setting, interval in (("A", None, 7), ("B", "Accepted", 42), ("C", "Rejected", 7)):
        if setting is not None:
            policy.boot_status_of[station_id] = Registration(setting)
        response = boot(request, CallContext(station_id, "m1", "BootNotification", no_connection))
        assert response.status is v201.RegistrationStatus(setting or "Pending") and response.interval == interval


def test_decode_request_types_the_calls_the_csms_may_send() -> None:
    reset = decode_request(DIALECT, "Reset", {"type": "Immediate", "evseId": 1})
    assert reset == v201.ResetRequest(type=v201.Reset.IMMEDIATE, evse_id=1)
    assert isinstance(decode_request(DIALECT, "DataTransfer", {"vendorId": "x"}), v201.DataTransferRequest)
    with pytest.raises(UnknownAction, match=r"'Heartbeat' is not a message the CSMS sends in OCPP 2\.0\.1"):
        decode_request(DIALECT, "Heartbeat", {})
    with pytest.raises(UnknownAction):
        decode_request(DIALECT, "Fly", {})
    with pytest.raises(InvalidRequest, match=r"invalid Reset request: .*\$\.type"):
        decode_request(DIALECT, "Reset", {"type": "Sometime"})


def test_handlers_are_set_per_version() -> None:
    csms = Csms(port=0, dialects=dialects_by_version(DIALECT, MarkedDialect(TEST_VERSION)))
    assert csms.versions == ["2.0.1", "2.0.1-test"]

    def mine(request: Any, ctx: CallContext) -> Any:
        return v201.HeartbeatResponse(current_time=T0)

    csms.on("Heartbeat", mine, version="2.0.1-test")
    assert csms.handler("Heartbeat", version="2.0.1-test") is mine
    assert csms.handler("Heartbeat") is csms.default_handler("Heartbeat") is not mine  # default: the first version
    csms.restore_default("Heartbeat", version="2.0.1-test")
    assert csms.handler("Heartbeat", version="2.0.1-test") is csms.default_handler("Heartbeat", version="2.0.1-test")
    with pytest.raises(ValueError, match=r"does not speak OCPP '1\.6'"):
        csms.on("Heartbeat", mine, version="1.6")
    with pytest.raises(ValueError, match="not a message a station sends"):
        csms.on("Reset", mine, version="2.0.1-test")
    with pytest.raises(ValueError, match="at least one OCPP version"):
        Csms(port=0, dialects={})


# ------------------------------------------------------------ on the wire

#: A second version for the tests: 2.0.1's codec under another name and subprotocol.
TEST_VERSION: ProtocolVersion = dataclasses.replace(V201, name="2.0.1-test", subprotocol="ocpp2.0.1-test")
#: The Heartbeat time the test dialect answers, so a test can tell which dialect answered.
MARK = datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC)


class MarkedDialect:
    """The 2.0.1 dialect under another version, whose Heartbeat answers :data:`MARK`."""

    def __init__(self, version: ProtocolVersion) -> None:
        self.version = version
        self.station_actions: frozenset[str] = DIALECT.station_actions
        self.csms_actions: frozenset[str] = DIALECT.csms_actions
        self.recorders: Mapping[str, Recorder] = DIALECT.recorders
        self.answer_recorders: Mapping[str, Recorder] = DIALECT.answer_recorders

    def default_handlers(self, policy: CsmsPolicy) -> dict[str, Handler]:
        handlers = DIALECT.default_handlers(policy)
        handlers["Heartbeat"] = lambda request, ctx: v201.HeartbeatResponse(current_time=MARK)
        return handlers


def _typed(dialect: CsmsDialect) -> CsmsDialect:  # (under mypy: the test dialect is a CsmsDialect)
    return dialect


async def _heartbeat(url: str, station_id: str, subprotocols: list[str]) -> tuple[str | None, str]:
    """Connect offering ``subprotocols``, send a Heartbeat; the agreed subprotocol and the answer's currentTime."""
    async with open_websocket_url(station_url(url, station_id), subprotocols=subprotocols) as ws:
        await ws.send_message(json.dumps([2, "hb-1", "Heartbeat", {}]))
        with trio.fail_after(5):
            answer = json.loads(await ws.get_message())
        assert answer[:2] == [3, "hb-1"], answer
        return ws.subprotocol, answer[2]["currentTime"]


async def test_one_port_serves_each_connection_in_the_dialect_of_its_subprotocol() -> None:
    dialects = dialects_by_version(DIALECT, _typed(MarkedDialect(TEST_VERSION)))
    async with open_csms(port=0, dialects=dialects) as csms:
        agreed, at = await _heartbeat(csms.url, "NEW", ["ocpp2.0.1-test"])
        assert agreed == "ocpp2.0.1-test" and _time(at) == MARK
        agreed, at = await _heartbeat(csms.url, "OLD", ["ocpp2.0.1"])
        assert agreed == "ocpp2.0.1" and _time(at) != MARK
        # offering both: the CSMS's order of preference decides
        agreed, at = await _heartbeat(csms.url, "BOTH", ["ocpp2.0.1-test", "ocpp2.0.1"])
        assert agreed == "ocpp2.0.1" and _time(at) != MARK
        records = csms.stations()
        assert {sid: r.ocpp_version for sid, r in records.items()} == {"NEW": "2.0.1-test", "OLD": "2.0.1",
                                                                       "BOTH": "2.0.1"}
        assert all(r.messages == {"Heartbeat": 1} for r in records.values())
        assert csms.statistics().messages == {"Heartbeat": 3}
        # while connected, the station's dialect is known; a per-version handler answers its version only
        csms.on("Heartbeat", lambda request, ctx: v201.HeartbeatResponse(current_time=T0), version="2.0.1")
        async with open_websocket_url(station_url(csms.url, "LIVE"), subprotocols=["ocpp2.0.1-test"]) as ws:
            await ws.send_message(json.dumps([2, "hb-2", "Heartbeat", {}]))
            with trio.fail_after(5):
                answer = json.loads(await ws.get_message())
            assert _time(answer[2]["currentTime"]) == MARK
            assert csms.dialect_of("LIVE") is dialects["2.0.1-test"]
            assert [c.ocpp_version for c in csms.connections()] == ["2.0.1-test"]
        agreed, at = await _heartbeat(csms.url, "OLD", ["ocpp2.0.1"])
        assert _time(at) == T0


async def test_a_csms_refuses_a_version_it_has_no_dialect_for() -> None:
    async with open_csms(port=0, dialects=dialects_by_version(MarkedDialect(TEST_VERSION))) as csms:
        async with open_websocket_url(station_url(csms.url, "S201"), subprotocols=["ocpp2.0.1"]) as ws:
            assert ws.subprotocol is None
            with pytest.raises(ConnectionClosed) as info, trio.fail_after(5):
                await ws.get_message()
            assert info.value.reason is not None and info.value.reason.code == 1002
        assert csms.station("S201") is None and csms.statistics().refused == {"400": 1}
        agreed, _ = await _heartbeat(csms.url, "STEST", ["ocpp2.0.1", "ocpp2.0.1-test"])
        assert agreed == "ocpp2.0.1-test"
