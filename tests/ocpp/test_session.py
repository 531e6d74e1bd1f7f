"""The sans-IO session: ids, ordering, correlation, timeouts, late replies, every CALLERROR class, tags."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

import pytest

from fleet.ocpp import (
    CallFailed,
    CallReceived,
    CallTimeout,
    ConnectionLost,
    ErrorCode,
    InvalidResponse,
    LocalProtocolError,
    ProtocolViolation,
    RemoteCallError,
    ResultReceived,
    Session,
)
from fleet.ocpp import v201 as m

BOOT = m.BootNotificationRequest(
    charging_station=m.ChargingStation(model="M1", vendor_name="fleet"), reason=m.BootReason("PowerUp")
)
BOOT_JSON = {"chargingStation": {"model": "M1", "vendorName": "fleet"}, "reason": "PowerUp"}
NOW = "2026-11-23T12:00:00Z"


def frames(session: Session) -> list[list[Any]]:
    return [json.loads(f) for f in session.data_to_send()]


def only(events: list[Any]) -> Any:
    assert len(events) == 1, events
    return events[0]


def answer_of(text: str | bytes, session: Session | None = None) -> list[Any]:
    """Feed a frame to a fresh CSMS session and return the single frame it answers with."""
    session = session or Session(role="csms")
    session.receive_frame(text, 0.0)
    out = frames(session)
    assert len(out) == 1, out
    return out[0]


# -- ids -----------------------------------------------------------------------------------------------------


def test_each_call_gets_a_uuid4_id() -> None:
    session = Session()
    first = session.call(m.HeartbeatRequest(), 0.0)
    assert uuid.UUID(first).version == 4
    [frame] = frames(session)
    assert frame == [2, first, "Heartbeat", {}]
    session.receive_frame(json.dumps([3, first, {"currentTime": NOW}]), 0.1)
    second = session.call(m.HeartbeatRequest(), 0.2)
    assert second != first and uuid.UUID(second).version == 4


def test_caller_supplied_message_id_is_used() -> None:
    session = Session()
    assert session.call(m.HeartbeatRequest(), 0.0, message_id="12345678") == "12345678"
    assert frames(session) == [[2, "12345678", "Heartbeat", {}]]


@pytest.mark.parametrize("bad", ["", "x" * 37])
def test_unusable_own_message_id_is_refused(bad: str) -> None:
    with pytest.raises(LocalProtocolError):
        Session().call(m.HeartbeatRequest(), 0.0, message_id=bad)


def test_own_message_id_already_pending_is_refused() -> None:
    session = Session()
    session.call(m.HeartbeatRequest(), 0.0, message_id="a")
    with pytest.raises(LocalProtocolError):
        session.call(m.HeartbeatRequest(), 0.0, message_id="a")


# -- one call in flight, in order ------------------------------------------------------------------------------


def test_one_call_in_flight_later_calls_wait_in_order() -> None:
    session = Session()
    ids = [session.call(m.HeartbeatRequest(), 0.0, message_id=f"id{i}") for i in range(3)]
    assert [f[1] for f in frames(session)] == ["id0"]
    assert [p[0] for p in session.pending_calls()] == ids
    session.receive_frame(json.dumps([3, "id0", {"currentTime": NOW}]), 1.0)
    assert [f[1] for f in frames(session)] == ["id1"]
    session.receive_frame(json.dumps([4, "id1", "GenericError", "no", {}]), 2.0)
    assert [f[1] for f in frames(session)] == ["id2"]
    session.receive_frame(json.dumps([3, "id2", {"currentTime": NOW}]), 3.0)
    assert frames(session) == [] and session.pending_calls() == []


def test_answering_peer_calls_does_not_wait_for_our_call() -> None:
    session = Session(role="station")
    session.call(m.HeartbeatRequest(), 0.0, message_id="ours")
    frames(session)
    event = only(session.receive_frame(json.dumps([2, "theirs", "ClearCache", {}]), 0.1))
    assert isinstance(event, CallReceived)
    session.reply("theirs", m.ClearCacheResponse(status=m.ClearCacheStatus("Accepted")))
    assert frames(session) == [[3, "theirs", {"status": "Accepted"}]]


# -- correlation, typed results, tags ---------------------------------------------------------------------------


def test_result_is_typed_and_carries_the_tag_and_times() -> None:
    session = Session()
    tag = {"target": "OCTT1:TransactionEvent"}
    message_id = session.call(BOOT, 5.0, tag=tag)
    assert frames(session) == [[2, message_id, "BootNotification", BOOT_JSON]]
    event = only(
        session.receive_frame(
            json.dumps([3, message_id, {"currentTime": NOW, "interval": 300, "status": "Accepted"}]), 5.25
        )
    )
    assert isinstance(event, ResultReceived)
    assert isinstance(event.response, m.BootNotificationResponse)
    assert event.response.interval == 300
    assert event.tag is tag
    assert event.action == "BootNotification"
    assert event.received_at - event.sent_at == pytest.approx(0.25)


def test_sessions_correlate_only_their_own_calls() -> None:
    a, b = Session(role="csms"), Session(role="csms")
    a.call(m.HeartbeatRequest(), 0.0, message_id="same")
    b.call(m.HeartbeatRequest(), 0.0, message_id="same")
    event_a = only(a.receive_frame(json.dumps([3, "same", {"currentTime": NOW}]), 1.0))
    assert isinstance(event_a, ResultReceived)
    assert b.pending_calls() == [("same", "Heartbeat", None)]


def test_dict_payload_with_action_is_validated_and_sent() -> None:
    session = Session()
    session.call(
        {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"},
        0.0,
        action="BootNotification",
    )
    assert frames(session)[0][2:] == [
        "BootNotification",
        {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"},
    ]


@pytest.mark.parametrize(
    ("payload", "action", "code"),
    [
        ({"reason": "PowerUp"}, "BootNotification", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
        ({}, "NoSuchAction", ErrorCode.NOT_IMPLEMENTED),
        (
            {"chargingStation": {"model": "M" * 21, "vendorName": "V"}, "reason": "PowerUp"},
            "BootNotification",
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        ),
    ],
)
def test_invalid_outgoing_payload_raises_and_sends_nothing(
    payload: Any, action: str, code: ErrorCode
) -> None:
    session = Session()
    with pytest.raises(LocalProtocolError) as info:
        session.call(payload, 0.0, action=action)
    assert info.value.code == code
    assert frames(session) == []


def test_callerror_reaches_the_caller_with_code_description_and_tag() -> None:
    session = Session()
    session.call(m.HeartbeatRequest(), 0.0, message_id="x", tag="t")
    event = only(session.receive_frame(json.dumps([4, "x", "SecurityError", "go away", {"why": 1}]), 1.0))
    assert isinstance(event, CallFailed)
    assert isinstance(event.error, RemoteCallError)
    assert (event.error.code, event.error.description, event.error.details, event.tag) == (
        "SecurityError",
        "go away",
        {"why": 1},
        "t",
    )


def test_invalid_callresult_payload_reaches_the_caller_as_an_error() -> None:
    session = Session()
    session.call(m.HeartbeatRequest(), 0.0, message_id="x")
    event = only(session.receive_frame(json.dumps([3, "x", {"currentTime": "yesterday"}]), 1.0))
    assert isinstance(event, CallFailed) and isinstance(event.error, InvalidResponse)
    assert event.error.code == ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert "currentTime" in event.error.description


def test_callresult_whose_payload_is_not_an_object_fails_the_call() -> None:
    session = Session()
    session.call(m.HeartbeatRequest(), 0.0, message_id="x")
    frames(session)
    event = only(session.receive_frame('[3, "x", 17]', 1.0))
    assert isinstance(event, CallFailed) and isinstance(event.error, InvalidResponse)
    assert event.error.code == ErrorCode.FORMAT_VIOLATION
    assert frames(session) == []  # responses are never answered


# -- timeouts and late replies -----------------------------------------------------------------------------------


def test_call_times_out_at_its_deadline_and_the_next_goes_out() -> None:
    session = Session(call_timeout=10.0)
    session.call(m.HeartbeatRequest(), 0.0, message_id="a", tag=1)
    session.call(m.HeartbeatRequest(), 0.0, message_id="b", timeout=3.0)
    frames(session)
    assert session.next_deadline() == 10.0
    assert session.handle_timeouts(9.99) == []
    event = only(session.handle_timeouts(10.0))
    assert isinstance(event, CallFailed) and isinstance(event.error, CallTimeout) and event.tag == 1
    assert [f[1] for f in frames(session)] == ["b"]
    assert session.next_deadline() == 13.0


def test_late_reply_is_dropped_with_a_warning_and_counted_once_as_the_timeout(caplog: pytest.LogCaptureFixture) -> None:
    session = Session(call_timeout=1.0)
    session.call(m.HeartbeatRequest(), 0.0, message_id="slow")
    frames(session)
    session.handle_timeouts(1.0)
    assert session.receive_frame(json.dumps([3, "slow", {"currentTime": NOW}]), 2.0) == []
    assert any("late" in r.getMessage() for r in caplog.records)
    assert frames(session) == []
    stats = session.statistics()
    assert (stats.timeouts, stats.failures, stats.violations, stats.late_replies) == (1, 1, 0, 1)
    # A second answer with that id is no longer a late one: a stray, a violation.
    event = only(session.receive_frame(json.dumps([3, "slow", {"currentTime": NOW}]), 3.0))
    assert isinstance(event, ProtocolViolation) and "unexpected" in event.description


def test_reply_to_unknown_id_is_dropped() -> None:
    session = Session()
    event = only(session.receive_frame(json.dumps([3, "never-sent", {}]), 0.0))
    assert isinstance(event, ProtocolViolation) and "unexpected" in event.description
    assert frames(session) == []


def test_connection_lost_fails_in_flight_and_queued_calls() -> None:
    session = Session()
    session.call(m.HeartbeatRequest(), 0.0, message_id="a")
    session.call(m.HeartbeatRequest(), 0.0, message_id="b")
    events = session.connection_lost(1.0)
    assert [(e.message_id, type(e.error)) for e in events] == [("a", ConnectionLost), ("b", ConnectionLost)]
    assert events[1].sent_at is None
    with pytest.raises(LocalProtocolError):
        session.call(m.HeartbeatRequest(), 2.0)


# -- incoming calls and every CALLERROR class ----------------------------------------------------------------------


def test_incoming_call_is_typed_and_answered() -> None:
    session = Session(role="csms")
    event = only(session.receive_frame(json.dumps([2, "b1", "BootNotification", BOOT_JSON]), 0.0))
    assert isinstance(event, CallReceived) and event.request == BOOT
    when = datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC)
    session.reply(
        "b1",
        m.BootNotificationResponse(current_time=when, interval=60, status=m.RegistrationStatus("Accepted")),
    )
    assert frames(session) == [
        [3, "b1", {"currentTime": "2026-11-23T00:00:00Z", "interval": 60, "status": "Accepted"}]
    ]


def test_dispatch_turns_handler_results_and_exceptions_into_answers() -> None:
    session = Session(role="csms")
    session.receive_frame(json.dumps([2, "1", "Heartbeat", {}]), 0.0)
    session.receive_frame(json.dumps([2, "2", "Heartbeat", {}]), 0.0)
    session.receive_frame(json.dumps([2, "3", "Heartbeat", {}]), 0.0)
    events = [
        CallReceived("1", "Heartbeat", m.HeartbeatRequest(), 0.0),
        CallReceived("2", "Heartbeat", m.HeartbeatRequest(), 0.0),
        CallReceived("3", "Heartbeat", m.HeartbeatRequest(), 0.0),
    ]
    session.dispatch(events[0], lambda req: {"currentTime": NOW})

    def boom(req: Any) -> Any:
        raise RuntimeError("secret stack detail")

    session.dispatch(events[1], boom)
    session.dispatch(events[2], lambda req: {"currentTime": "not a time"})
    out = frames(session)
    assert out[0] == [3, "1", {"currentTime": NOW}]
    assert out[1][:3] == [4, "2", "InternalError"] and "secret" not in json.dumps(out[1])
    assert out[2][:3] == [4, "3", "InternalError"]


def test_known_action_without_handler_is_not_supported() -> None:
    session = Session(role="csms", supported_actions={"Heartbeat"})
    assert answer_of(json.dumps([2, "r1", "Reset", {"type": "Immediate"}]), session)[:3] == [
        4,
        "r1",
        "NotSupported",
    ]


@pytest.mark.parametrize(
    ("frame", "expected_id", "code"),
    [
        (b"\xff\xfe not json", "-1", "RpcFrameworkError"),
        ("{not json", "-1", "RpcFrameworkError"),
        ('{"a": 1}', "-1", "RpcFrameworkError"),
        ("[]", "-1", "RpcFrameworkError"),
        ('"text"', "-1", "RpcFrameworkError"),
        ('[2, 17, "Heartbeat", {}]', "-1", "RpcFrameworkError"),
        ('[2, "' + "x" * 37 + '", "Heartbeat", {}]', "-1", "RpcFrameworkError"),
        ('["2", "id", "Heartbeat", {}]', "id", "RpcFrameworkError"),
        ('[2, "id", "Heartbeat"]', "id", "RpcFrameworkError"),
        ('[2, "id", 5, {}]', "id", "RpcFrameworkError"),
        ('[7, "id", "Heartbeat", {}]', "id", "MessageTypeNotSupported"),
        ('[5, "id", "Heartbeat", {}]', "id", "MessageTypeNotSupported"),
        ('[2, "id", "Heartbeat", []]', "id", "FormatViolation"),
        ('[2, "id", "Heartbeat", "payload"]', "id", "FormatViolation"),
        ('[2, "id", "FlyToTheMoon", {}]', "id", "NotImplemented"),
        ('[2, "id", "Heartbeat", {"extra": 1}]', "id", "FormatViolation"),
        ('[2, "id", "BootNotification", {"reason": "PowerUp"}]', "id", "OccurrenceConstraintViolation"),
        (
            '[2, "id", "BootNotification", {"reason": 5, "chargingStation": {"model": "m", "vendorName": "v"}}]',
            "id",
            "TypeConstraintViolation",
        ),
        (
            '[2, "id", "BootNotification", {"reason": null, "chargingStation": {"model": "m", "vendorName": "v"}}]',
            "id",
            "TypeConstraintViolation",
        ),
        (
            '[2, "id", "BootNotification", {"reason": "Bored", "chargingStation": {"model": "m", "vendorName": "v"}}]',
            "id",
            "PropertyConstraintViolation",
        ),
        (
            '[2, "id", "BootNotification", {"reason": "PowerUp", "chargingStation": {"model": "'
            + "m" * 21
            + '", "vendorName": "v"}}]',
            "id",
            "PropertyConstraintViolation",
        ),
        (
            '[2, "id", "StatusNotification", {"timestamp": "2026-11-23T12:00:00", "connectorStatus": "Available",'
            ' "evseId": 1, "connectorId": 1}]',
            "id",
            "PropertyConstraintViolation",
        ),
        ('[2, "id", "GetVariables", {"getVariableData": []}]', "id", "OccurrenceConstraintViolation"),
    ],
)
def test_bad_input_gets_the_prescribed_callerror(frame: str | bytes, expected_id: str, code: str) -> None:
    session = Session(role="csms")
    events = session.receive_frame(frame, 0.0)
    assert len(events) == 1 and isinstance(events[0], ProtocolViolation) and events[0].answered
    answer = answer_of(frame)
    assert answer[0] == 4 and answer[1] == expected_id and answer[2] == code, answer
    assert isinstance(answer[3], str) and len(answer[3]) <= 255 and answer[4] == {}


def test_session_keeps_working_after_bad_input() -> None:
    session = Session(role="csms")
    for bad in ("garbage", "[2]", '[2, "a", "Nope", {}]'):
        session.receive_frame(bad, 0.0)
    frames(session)
    event = only(session.receive_frame(json.dumps([2, "ok", "Heartbeat", {}]), 1.0))
    assert isinstance(event, CallReceived)


def test_handler_exception_with_ocpp_code_keeps_its_code() -> None:
    from fleet.ocpp import OcppError

    session = Session(role="csms")
    event = only(session.receive_frame(json.dumps([2, "s", "Heartbeat", {}]), 0.0))

    def refuse(req: Any) -> Any:
        raise OcppError(ErrorCode.SECURITY_ERROR, "not you")

    session.dispatch(event, refuse)
    assert frames(session) == [[4, "s", "SecurityError", "not you", {}]]


def test_reply_to_unknown_call_raises() -> None:
    with pytest.raises(LocalProtocolError):
        Session().reply("nope", m.HeartbeatResponse(current_time=datetime.datetime.now(datetime.UTC)))


def test_statistics_count_what_happened() -> None:
    session = Session()
    session.call(m.HeartbeatRequest(), 0.0, message_id="a")
    session.receive_frame("junk", 0.0)
    session.receive_frame(json.dumps([3, "a", {"currentTime": NOW}]), 0.1)
    stats = session.statistics()
    assert (stats.calls_sent, stats.results_received, stats.violations, stats.in_flight) == (1, 1, 1, False)
