"""Property test: whatever arrives, the session never raises and answers with a valid CALLERROR when one is due.

Run for every version the core speaks (1.6, 2.0.1, 2.1): the answer is spelled with
that version's codes; OCPP-J 2.1's SEND and CALLRESULTERROR are never answered, and
a CALLRESULT to our call that cannot be processed is reported with a CALLRESULTERROR
(2.1 only).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.ocpp import PROTOCOLS, CallReceived, ProtocolVersion, ProtocolViolation, Session

VERSIONS = list(PROTOCOLS.values())
ACTION_NAMES = sorted({action for v in VERSIONS for action in (*v.actions, *v.send_actions)})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
message_ids = st.text(max_size=40) | st.integers() | st.none() | st.just("pending")
# Frame-shaped arrays get deeper into the session than arbitrary JSON does.
frame_like = st.one_of(
    st.tuples(
        st.sampled_from([2, 3, 4, 5, 6, 0, -1]),
        message_ids,
        st.sampled_from([*ACTION_NAMES, "Nope"]) | st.text(max_size=10),
        json_values,
    ).map(list),
    st.tuples(st.sampled_from([2, 3, 4, 6]), message_ids, json_values).map(list),
    st.tuples(
        st.sampled_from([4, 5]), message_ids, st.text(max_size=20), st.text(max_size=300), json_values
    ).map(list),
    st.tuples(
        st.sampled_from([2, 6]),
        message_ids,
        st.sampled_from(ACTION_NAMES),
        st.dictionaries(st.text(max_size=12), json_values, max_size=4),
    ).map(list),
)
by_version = pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)


def _check(session: Session, data: str | bytes) -> None:
    version = session.version
    codes = version.error_codes.sendable
    try:
        parsed: Any = msgspec.json.decode(data)  # strict JSON, as the session reads it
    except msgspec.DecodeError:
        parsed = None
    events = session.receive_frame(data, 0.0)
    sent = [json.loads(f) for f in session.data_to_send()]
    never_answered = [[3], [4], *([t] for t in (5, 6) if t in version.message_types)]
    is_unanswered = (
        isinstance(parsed, list) and parsed[:1] in never_answered and not isinstance(parsed[0], bool)
    )
    if events and isinstance(events[0], CallReceived):
        assert sent == []  # the application answers
        return
    if is_unanswered:
        if sent:  # only a CALLRESULT to our call that we could not process, reported as 2.1 does
            assert 5 in version.message_types and parsed[0] == 3, (data, sent)
            [frame] = sent
            assert frame[:2] == [5, "pending"] and frame[2] in codes and frame[4] == {}
            assert isinstance(frame[3], str) and len(frame[3]) <= 255
        return
    assert len(events) == 1 and isinstance(events[0], ProtocolViolation)
    assert len(sent) == 1, (data, sent)
    frame = sent[0]
    assert len(frame) == 5 and frame[0] == 4
    assert isinstance(frame[1], str) and 1 <= len(frame[1]) <= 36
    assert frame[2] in codes
    assert isinstance(frame[3], str) and len(frame[3]) <= 255
    assert frame[4] == {}


@by_version
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(version: ProtocolVersion, data: bytes) -> None:
    _check(Session(version, role="csms"), data)


@by_version
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(json_values)
def test_arbitrary_json_never_raises(version: ProtocolVersion, value: Any) -> None:
    _check(Session(version, role="csms"), json.dumps(value))


@by_version
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(frame_like)
def test_frame_shaped_input_never_raises(version: ProtocolVersion, frame: list[Any]) -> None:
    session = Session(version, role="station")
    session.call({}, 0.0, action="Heartbeat", message_id="pending")  # a call the input may answer
    session.data_to_send()
    _check(session, json.dumps(frame))
