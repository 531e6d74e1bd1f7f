"""OCPP-J 2.1's RPC framework in the sans-IO session: SEND (type 6) and CALLRESULTERROR (type 5).

Part 4 of OCPP 2.1, sections 4.2.3 and 4.2.4: a SEND is an unconfirmed message
(never answered, never waited for: it may go out while a CALL is in flight); a
CALLRESULTERROR tells the sender of a CALLRESULT that it could not be processed.
Both directions, both roles. On 2.0.1 (and 1.6) such frames are unknown message
types, answered as those versions prescribe.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from fleet.ocpp import (
    PROTOCOLS,
    V16,
    V21,
    V201,
    CallFailed,
    CallReceived,
    ErrorCode,
    InvalidResponse,
    LocalProtocolError,
    ProtocolVersion,
    ProtocolViolation,
    ResultErrorReceived,
    ResultReceived,
    Role,
    SendReceived,
    Session,
    v21,
)
from fleet.ocpp import VERSIONS as SPOKEN

BASETIME = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)
STREAM = v21.NotifyPeriodicEventStream(
    id=7,
    pending=0,
    basetime=BASETIME,
    data=[v21.StreamDataElement(t=0.0, v="230.4"), v21.StreamDataElement(t=5.0, v="230.2")],
)
STREAM_JSON = {
    "id": 7,
    "pending": 0,
    "basetime": "2026-11-23T12:00:00Z",
    "data": [{"t": 0.0, "v": "230.4"}, {"t": 5.0, "v": "230.2"}],
}
NOW = "2026-11-23T12:00:00Z"


def frames(session: Session) -> list[list[Any]]:
    return [json.loads(f) for f in session.data_to_send()]


def test_v21_has_five_message_types_its_actions_and_one_send_action() -> None:
    assert PROTOCOLS["2.1"] is V21 and SPOKEN["ocpp2.1"] is V21  # spoken: it has its station and CSMS dialects
    assert V21.message_types == {2, 3, 4, 5, 6}
    assert len(V21.actions) == 90 and set(V21.send_actions) == {"NotifyPeriodicEventStream"}
    assert "NotifyPeriodicEventStream" in V21.initiated_by("station")
    assert V21.error_codes.sendable == {code.value for code in ErrorCode}


def test_station_sends_a_send_while_its_call_is_in_flight_and_the_csms_gets_it_unanswered() -> None:
    station, csms = Session(V21, role="station"), Session(V21, role="csms")
    call_id = station.call(v21.HeartbeatRequest(), 0.0)
    send_id = station.send(STREAM, 0.5)
    assert send_id != call_id
    sent = station.data_to_send()
    assert [json.loads(f)[0] for f in sent] == [2, 6]  # the SEND did not wait for the CALL's answer
    assert json.loads(sent[1]) == [6, send_id, "NotifyPeriodicEventStream", STREAM_JSON]
    assert station.pending_calls() == [(call_id, "Heartbeat", None)]
    assert station.next_deadline() == 10.0  # only the CALL waits for anything

    [call_event] = csms.receive_frame(sent[0], 1.0)
    [send_event] = csms.receive_frame(sent[1], 1.0)
    assert isinstance(call_event, CallReceived)
    assert send_event == SendReceived(send_id, "NotifyPeriodicEventStream", STREAM, 1.0)
    assert csms.data_to_send() == []  # never answered
    assert csms.awaiting_reply() == {call_id: "Heartbeat"}
    stats = csms.statistics()
    assert (stats.sends_received, stats.calls_received) == (1, 1)
    assert station.statistics().sends_sent == 1


@pytest.mark.parametrize("role", ["station", "csms"])
def test_either_role_sends_and_receives_a_send(role: Role) -> None:
    sender = Session(V21, role=role)
    receiver = Session(V21, role="csms" if role == "station" else "station")
    message_id = sender.send(STREAM_JSON, 0.0, action="NotifyPeriodicEventStream", message_id="s-1")
    [frame] = sender.data_to_send()
    [event] = receiver.receive_frame(frame, 0.0)
    assert (
        isinstance(event, SendReceived)
        and event.message_id == message_id == "s-1"
        and event.message == STREAM
    )


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('[6, "s", "Heartbeat", {}]', ErrorCode.NOT_IMPLEMENTED),  # a CALL action is no SEND action
        ('[6, "s", "FlyToTheMoon", {}]', ErrorCode.NOT_IMPLEMENTED),
        ('[6, "s", "NotifyPeriodicEventStream", {"id": 1}]', ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
        ('[6, "s", "NotifyPeriodicEventStream", []]', ErrorCode.FORMAT_VIOLATION),
        ('[6, "s", "NotifyPeriodicEventStream"]', ErrorCode.RPC_FRAMEWORK_ERROR),
        ('[6, 5, "NotifyPeriodicEventStream", {}]', ErrorCode.RPC_FRAMEWORK_ERROR),
        ('[5, "r"]', ErrorCode.RPC_FRAMEWORK_ERROR),
        ('[5, "r", 17, "", {}]', ErrorCode.RPC_FRAMEWORK_ERROR),
    ],
)
def test_a_bad_send_or_callresulterror_is_reported_never_answered(frame: str, code: ErrorCode) -> None:
    session = Session(V21, role="csms")
    [event] = session.receive_frame(frame, 0.0)
    assert isinstance(event, ProtocolViolation) and event.code is code and not event.answered
    assert session.data_to_send() == []


def test_a_send_action_sent_as_a_call_is_not_implemented() -> None:
    session = Session(V21, role="csms")
    session.receive_frame(json.dumps([2, "c", "NotifyPeriodicEventStream", STREAM_JSON]), 0.0)
    assert frames(session)[0][:3] == [4, "c", "NotImplemented"]
    with pytest.raises(LocalProtocolError):
        Session(V21).call(STREAM, 0.0)  # a SEND message cannot be CALLed
    with pytest.raises(LocalProtocolError):
        Session(V21).send(v21.HeartbeatRequest(), 0.0)  # nor a request SENT


def test_unsupported_send_actions_are_dropped_unanswered() -> None:
    session = Session(V21, role="csms", supported_actions={"Heartbeat"})
    [event] = session.receive_frame(json.dumps([6, "s", "NotifyPeriodicEventStream", STREAM_JSON]), 0.0)
    assert (
        isinstance(event, ProtocolViolation) and event.code is ErrorCode.NOT_SUPPORTED and not event.answered
    )
    assert session.data_to_send() == []


def test_an_invalid_callresult_fails_the_call_and_is_reported_with_a_callresulterror() -> None:
    station = Session(V21)
    call_id = station.call(v21.HeartbeatRequest(), 0.0)
    next_id = station.call(v21.HeartbeatRequest(), 0.0)
    station.data_to_send()
    [event] = station.receive_frame(json.dumps([3, call_id, {"currentTime": "yesterday"}]), 1.0)
    assert isinstance(event, CallFailed) and isinstance(event.error, InvalidResponse)
    answer, next_call = frames(station)
    assert answer[:3] == [5, call_id, "PropertyConstraintViolation"] and answer[4] == {}
    assert next_call[:3] == [2, next_id, "Heartbeat"]
    # a structurally broken one too
    station.receive_frame(json.dumps([3, next_id, []]), 2.0)
    assert frames(station)[0][:3] == [5, next_id, "FormatViolation"]
    assert station.statistics().result_errors_sent == 2


def test_on_201_an_invalid_callresult_only_fails_the_call() -> None:
    station = Session(V201)
    call_id = station.call({}, 0.0, action="Heartbeat")
    station.data_to_send()
    [event] = station.receive_frame(json.dumps([3, call_id, {"currentTime": "yesterday"}]), 1.0)
    assert isinstance(event, CallFailed)
    assert station.data_to_send() == []


def test_the_application_reports_a_result_it_cannot_process_and_the_peer_reads_it() -> None:
    csms, station = Session(V21, role="csms"), Session(V21, role="station")
    call_id = csms.call(v21.GetLocalListVersionRequest(), 0.0)
    [call_frame] = csms.data_to_send()
    [received] = station.receive_frame(call_frame, 0.0)
    assert isinstance(received, CallReceived)
    station.reply(call_id, v21.GetLocalListVersionResponse(version_number=-5))
    [result_frame] = station.data_to_send()
    [result] = csms.receive_frame(result_frame, 0.1)
    assert isinstance(result, ResultReceived)
    csms.report_result_error(
        call_id, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "negative version", {"field": "versionNumber"}
    )
    [error_frame] = csms.data_to_send()
    assert json.loads(error_frame) == [
        5,
        call_id,
        "PropertyConstraintViolation",
        "negative version",
        {"field": "versionNumber"},
    ]
    [event] = station.receive_frame(error_frame, 0.2)
    assert event == ResultErrorReceived(
        call_id, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "negative version", {"field": "versionNumber"}, 0.2
    )
    assert station.data_to_send() == []  # a CALLRESULTERROR is not answered
    assert station.statistics().result_errors_received == 1


def test_a_peers_unknown_code_in_a_callresulterror_is_kept() -> None:
    session = Session(V21)
    [event] = session.receive_frame('[5, "x", "VendorSpecific", "why", {}]', 0.0)
    assert isinstance(event, ResultErrorReceived) and event.code == "VendorSpecific"


@pytest.mark.parametrize("version", [V201, V16], ids=lambda v: v.name)
def test_versions_without_send_and_callresulterror(version: ProtocolVersion) -> None:
    session = Session(version, role="csms")
    with pytest.raises(LocalProtocolError, match="no SEND"):
        session.send(STREAM_JSON, 0.0, action="NotifyPeriodicEventStream")
    with pytest.raises(LocalProtocolError, match="no CALLRESULTERROR"):
        session.report_result_error("x", ErrorCode.GENERIC_ERROR)
    for frame in ('[6, "a", "NotifyPeriodicEventStream", {}]', '[5, "a", "GenericError", "", {}]'):
        [event] = session.receive_frame(frame, 0.0)
        assert isinstance(event, ProtocolViolation) and event.answered
        assert event.code is ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED
        [answer] = frames(session)
        assert answer[:3] == [4, "a", version.error_codes.spell(ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED)]
