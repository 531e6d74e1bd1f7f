"""Property test: whatever arrives, the session never raises and answers with a valid CALLERROR when one is due."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.ocpp import V201, CallReceived, ErrorCode, ProtocolViolation, Session

ACTION_NAMES = sorted(V201.actions)
CODES = {str(code) for code in ErrorCode}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
message_ids = st.text(max_size=40) | st.integers() | st.none()
# Frame-shaped arrays get deeper into the session than arbitrary JSON does.
frame_like = st.one_of(
    st.tuples(
        st.sampled_from([2, 3, 4, 5, 6, 0, -1]),
        message_ids,
        st.sampled_from([*ACTION_NAMES, "Nope"]) | st.text(max_size=10),
        json_values,
    ).map(list),
    st.tuples(st.sampled_from([2, 3, 4]), message_ids, json_values).map(list),
    st.tuples(st.just(4), message_ids, st.text(max_size=20), st.text(max_size=300), json_values).map(list),
    st.tuples(
        st.just(2),
        message_ids,
        st.sampled_from(ACTION_NAMES),
        st.dictionaries(st.text(max_size=12), json_values, max_size=4),
    ).map(list),
)


def _check(session: Session, data: str | bytes) -> None:
    try:
        parsed: Any = msgspec.json.decode(data)  # strict JSON, as the session reads it
    except msgspec.DecodeError:
        parsed = None
    events = session.receive_frame(data, 0.0)
    sent = [json.loads(f) for f in session.data_to_send()]
    is_response = isinstance(parsed, list) and parsed[:1] in ([3], [4]) and not isinstance(parsed[0], bool)
    if events and isinstance(events[0], CallReceived):
        assert sent == []  # the application answers
        return
    if is_response:
        assert sent == []  # responses are never answered
        return
    assert len(events) == 1 and isinstance(events[0], ProtocolViolation)
    assert len(sent) == 1, (data, sent)
    frame = sent[0]
    assert len(frame) == 5 and frame[0] == 4
    assert isinstance(frame[1], str) and 1 <= len(frame[1]) <= 36
    assert frame[2] in CODES
    assert isinstance(frame[3], str) and len(frame[3]) <= 255
    assert frame[4] == {}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    _check(Session(role="csms"), data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(json_values)
def test_arbitrary_json_never_raises(value: Any) -> None:
    _check(Session(role="csms"), json.dumps(value))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(frame_like)
def test_frame_shaped_input_never_raises(frame: list[Any]) -> None:
    session = Session(role="station")
    session.call({}, 0.0, action="Heartbeat", message_id="pending")  # a call the input may answer
    session.data_to_send()
    _check(session, json.dumps(frame))
