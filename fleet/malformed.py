"""Malformed OCPP-J traffic, by class, with the answer a conformant receiver gives.

A :class:`Probe` is one or two text frames of one class of bad input, each
expected answer (by message id) with the outcomes that count as correct, and
whether the connection should survive. The classes (:data:`MALFORMED_CLASSES`)
and what OCPP-J 2.0.1 (part 4, sections 4.2 and 4.3) wants in return:

=====================  =============================================  =====================================
class                  frames                                         correct answer
=====================  =============================================  =====================================
``not_json``           invalid JSON, or JSON that is not an array     CALLERROR RpcFrameworkError, id "-1"
``wrong_message_type`` ``[7, id, ...]`` (type not 2, 3 or 4)          CALLERROR MessageTypeNotSupported
``unknown_action``     an action the version does not define;         CALLERROR NotImplemented;
                       a known one of the other direction             CALLERROR NotSupported
``schema_invalid``     a valid payload with one fault: a required     OccurrenceConstraintViolation,
                       field missing, a wrong JSON type, a bad enum   TypeConstraintViolation,
                       value, a string too long, a number out of      PropertyConstraintViolation (value,
                       range, a bad date-time, an unknown field, a    length, enum, range, date-time),
                       payload that is not an object                  FormatViolation (unknown field, not
                                                                      an object)
``oversize``           a DataTransfer bigger than ``oversize_bytes``  close (1009) or a CALLERROR
``duplicate_id``       the same harmless CALL twice, one message id   an answer to each (the first a
                                                                      CALLRESULT); connection stays up
``concurrent_calls``   two harmless CALLs at once (OCPP-J allows      a CALLRESULT to each; connection
                       one in flight)                                 stays up
``send_message``       a SEND (type 6; valid, with a bad payload or   2.1: no answer to the SEND (never
                       an unknown action), then a harmless CALL       answered); before 2.1:
                                                                      MessageTypeNotSupported; a
                                                                      CALLRESULT to the CALL
``call_result_error``  a CALLRESULTERROR (type 5) naming no CALL of   as ``send_message``
                       the receiver's, then a harmless CALL
=====================  =============================================  =====================================

The harmless CALL is a Heartbeat towards a CSMS and GetLocalListVersion towards a
station. Every frame is drawn from a ``random.Random``: the same seed, the same frames.

The codes are 2.0.1's; a probe towards another version expects them as that version spells
them (OCPP 1.6: FormationViolation, OccurenceConstraintViolation, ProtocolError for
RpcFrameworkError, GenericError for MessageTypeNotSupported; see
:mod:`fleet.ocpp.error_codes`), and the message types it allows decide between an answer and
silence (OCPP-J 2.1 answers neither a SEND nor a CALLRESULTERROR).
"""

from __future__ import annotations

import datetime
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any, Final, Literal

import msgspec
import trio

from .ocpp import ProtocolVersion
from .ocpp.errors import ErrorCode

__all__ = [
    "ANY_ERROR",
    "CLOSED",
    "EXPECTED",
    "MALFORMED_CLASSES",
    "NO_ANSWER",
    "RESULT",
    "Direction",
    "Expect",
    "MalformedClass",
    "Probe",
    "ProbeRun",
    "directions",
    "expected_answers",
    "make_probe",
    "outcome_ok",
    "random_request",
    "spell_probe",
]

MalformedClass = Literal[
    "not_json", "wrong_message_type", "unknown_action", "schema_invalid", "oversize", "duplicate_id",
    "concurrent_calls", "send_message", "call_result_error",
]
#: The classes of malformed traffic, in report order.
MALFORMED_CLASSES: Final[tuple[MalformedClass, ...]] = (
    "not_json", "wrong_message_type", "unknown_action", "schema_invalid", "oversize", "duplicate_id",
    "concurrent_calls", "send_message", "call_result_error",
)

#: Outcome of an expected answer: a CALLRESULT.
RESULT: Final = "CALLRESULT"
#: In an accepted set: any CALLERROR code.
ANY_ERROR: Final = "CALLERROR"
#: Outcome: the connection closed before the answer.
CLOSED: Final = "closed"
#: Outcome: nothing came back in time.
NO_ANSWER: Final = "no answer"

#: What a conformant receiver answers, per class (for reports).
EXPECTED: Final[dict[str, str]] = {
    "not_json": "RpcFrameworkError (id -1)",
    "wrong_message_type": "MessageTypeNotSupported",
    "unknown_action": "NotImplemented / NotSupported (other direction)",
    "schema_invalid": "OccurrenceConstraintViolation, TypeConstraintViolation, PropertyConstraintViolation, "
                      "FormatViolation (by fault)",
    "oversize": "close 1009 or a CALLERROR",
    "duplicate_id": "an answer to each, connection up",
    "concurrent_calls": "CALLRESULT to both, connection up",
    "send_message": "no answer to the SEND in 2.1 (MessageTypeNotSupported before), CALLRESULT to the CALL after it",
    "call_result_error": "no answer in 2.1 (MessageTypeNotSupported before), CALLRESULT to the CALL after it",
}
#: The frame of each class that a version may have as a message type of its own.
_NEW_TYPES: Final = {"send_message": ("SEND", 6), "call_result_error": ("CALLRESULTERROR", 5)}


def expected_answers(version: ProtocolVersion) -> dict[str, str]:
    """:data:`EXPECTED` in the terms of OCPP ``version``: each code as it spells it, and
    silence or the answer to an unknown message type where it has or lacks SEND and
    CALLRESULTERROR."""
    spelling = version.error_codes.spelling
    unknown_type = spelling[ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED]
    texts: dict[str, str] = {}
    for klass, text in EXPECTED.items():
        if klass in _NEW_TYPES:
            name, number = _NEW_TYPES[klass]
            first = "no answer" if number in version.message_types else unknown_type
            texts[klass] = f"{first} to the {name} (type {number}), CALLRESULT to the CALL after it"
            continue
        for code in ErrorCode:
            text = re.sub(rf"\b{code.value}\b", spelling[code], text)
        texts[klass] = text
    return texts

_OCCURRENCE = str(ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION)
_TYPE = str(ErrorCode.TYPE_CONSTRAINT_VIOLATION)
_PROPERTY = str(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION)
_FORMAT = str(ErrorCode.FORMAT_VIOLATION)
_RPC = str(ErrorCode.RPC_FRAMEWORK_ERROR)

_MESSAGE_TYPE = str(ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED)
_SILENCE: Final = frozenset({NO_ANSWER})
#: OCPP-J's SEND and CALLRESULTERROR message types (2.1).
_SEND, _CALL_RESULT_ERROR = 6, 5

_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder()


class Expect(msgspec.Struct, frozen=True):
    """One answer a probe waits for (or, :attr:`silent`, one that must not come).

    Attributes:
        message_id: the id the answer carries (``"-1"`` when the frame's id cannot be read).
        accept: outcomes that are correct: ``CALLRESULT``, a CALLERROR code, ``CALLERROR``
            (any code), ``closed`` or, alone, ``no answer``.
    """

    message_id: str
    accept: frozenset[str]

    @property
    def silent(self) -> bool:
        """Only silence is correct: the probe does not wait for it (an answer that comes
        before the probe's other answers is recorded, and wrong)."""
        return self.accept == _SILENCE


class Probe(msgspec.Struct, frozen=True):
    """Frames of one class of malformed traffic and the answers they call for.

    Attributes:
        klass: the class (see :data:`MALFORMED_CLASSES`).
        variant: which fault of the class (``missing_required``, ``random_text``, ...).
        frames: the frames, sent back to back (text; bytes for a binary frame).
        expect: the answers, by message id.
        survive: whether the connection must stay up.
    """

    klass: str
    variant: str
    frames: tuple[str | bytes, ...]
    expect: tuple[Expect, ...]
    survive: bool = True


def outcome_ok(outcome: str, accept: frozenset[str]) -> bool:
    """Whether ``outcome`` is one of ``accept`` (``CALLERROR`` there admits any code)."""
    if outcome in accept:
        return True
    return ANY_ERROR in accept and outcome not in (RESULT, CLOSED, NO_ANSWER)


class ProbeRun:
    """A probe in flight: takes the answers out of the incoming stream, records outcomes."""

    __slots__ = ("closed", "done", "outcomes", "pending", "probe")

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.outcomes: list[str] = [""] * len(probe.expect)
        self.pending = list(range(len(probe.expect)))
        self.closed = False
        self.done = trio.Event()
        if not self.waiting:
            self.done.set()

    @property
    def waiting(self) -> bool:
        """Some answer is still awaited (silences are not waited for)."""
        expect = self.probe.expect
        return any(not expect[i].silent for i in self.pending)

    def offer(self, message: str | bytes) -> bool:
        """Take ``message`` if it answers one of the probe's frames (return ``True``)."""
        if not self.pending:
            return False
        text = message if isinstance(message, str) else message.decode("utf-8", errors="replace")
        head = text[:96]
        expect = self.probe.expect
        if not any(expect[i].message_id in head for i in self.pending):
            return False
        try:
            frame = _decoder.decode(text)
        except msgspec.DecodeError:
            return False
        if not isinstance(frame, list) or len(frame) < 2 or frame[0] not in (3, 4):
            return False
        message_id = frame[1]
        position = next((n for n, i in enumerate(self.pending) if expect[i].message_id == message_id), None)
        if position is None:
            return False
        index = self.pending.pop(position)
        if frame[0] == 3:
            self.outcomes[index] = RESULT
        else:
            self.outcomes[index] = str(frame[2]) if len(frame) > 2 and isinstance(frame[2], str) else ANY_ERROR
        if not self.waiting:
            self.done.set()
        return True

    def connection_closed(self) -> None:
        """The connection ended: what is still awaited will not come."""
        self.closed = True
        self.done.set()

    def finish(self, closed: bool) -> None:
        """Mark what never came (``closed`` or ``no answer``)."""
        self.closed = self.closed or closed
        for index in self.pending:
            self.outcomes[index] = CLOSED if self.closed else NO_ANSWER
        self.pending = []

    @property
    def matched(self) -> bool:
        """Every answer correct, and the connection up if it had to stay up."""
        if self.probe.survive and self.closed:
            return False
        return all(outcome_ok(o, e.accept) for o, e in zip(self.outcomes, self.probe.expect, strict=True))


# ------------------------------------------------------------------ directions


@dataclass(frozen=True)
class Direction:
    """Who receives the traffic.

    Attributes:
        name: ``"csms"`` or ``"station"``.
        actions: the requests (CALLs) the receiver takes.
        foreign: known actions of the other direction (the receiver answers NotSupported).
        harmless: a request with no side effect: (action, payload).
        version: the OCPP version spoken: its request types, the message types it
            allows and how it spells each CALLERROR code.
        sends: the unconfirmed messages (OCPP-J 2.1 SEND) the receiver takes; none before 2.1.
    """

    name: str
    actions: tuple[str, ...]
    foreign: tuple[str, ...]
    harmless: tuple[str, str]
    version: ProtocolVersion
    sends: tuple[str, ...] = ()


def directions(version: ProtocolVersion) -> tuple[Direction, Direction]:
    """The traffic towards a CSMS and towards a station of OCPP ``version``, from its
    direction tables (which actions each role initiates): ``(to_csms, to_station)``."""
    sends = set(version.send_actions)
    by_csms, by_station = version.initiated_by_csms - sends, version.initiated_by_station - sends
    to_csms = Direction("csms", tuple(sorted(by_station)), tuple(sorted(by_csms - by_station)), ("Heartbeat", "{}"),
                        version, tuple(sorted(sends & version.initiated_by_station)))
    to_station = Direction("station", tuple(sorted(by_csms)), tuple(sorted(by_station - by_csms)),
                           ("GetLocalListVersion", "{}"), version, tuple(sorted(sends & version.initiated_by_csms)))
    return to_csms, to_station


# -------------------------------------------------------------- valid payloads


_LETTERS: Final = string.ascii_letters + string.digits
_BASE_TIME: Final = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


def _random_string(rng: Random, low: int, high: int) -> str:
    return "".join(rng.choice(_LETTERS) for _ in range(rng.randint(low, high)))


def _random_value(info: Any, rng: Random, depth: int, optional: float) -> Any:
    inspect = msgspec.inspect
    if isinstance(info, inspect.StructType):
        obj: dict[str, Any] = {}
        for field in info.fields:
            if field.required or (depth < 3 and rng.random() < optional):
                obj[field.encode_name] = _random_value(field.type, rng, depth + 1, optional)
        return obj
    if isinstance(info, inspect.EnumType):
        return rng.choice(list(info.cls)).value
    if isinstance(info, inspect.LiteralType):
        return rng.choice(list(info.values))
    if isinstance(info, inspect.StrType):
        if info.pattern is not None:  # (the only patterns the schemas have are URIs: 1.6's format uri)
            return "https://fleet.example/" + _random_string(rng, 1, 12)
        high = min(info.max_length if info.max_length is not None else 20, 20)
        low = min(max(info.min_length or 0, 1), high)
        return _random_string(rng, low, high)
    if isinstance(info, inspect.IntType):
        low = info.ge if info.ge is not None else (info.gt + 1 if info.gt is not None else 0)
        high = info.le if info.le is not None else (info.lt - 1 if info.lt is not None else low + 1000)
        return rng.randint(low, max(low, high))
    if isinstance(info, inspect.FloatType):
        bottom = float(info.ge) if info.ge is not None else (info.gt + 0.5 if info.gt is not None else 0.0)
        top = float(info.le) if info.le is not None else (info.lt - 0.5 if info.lt is not None else bottom + 1000.0)
        # one decimal: a multiple of 0.1, as some 1.6 schemas demand (checked after decoding)
        return round(rng.uniform(bottom, max(bottom, top)), 1)
    if isinstance(info, inspect.BoolType):
        return rng.random() < 0.5
    if isinstance(info, inspect.DateTimeType):
        # from a fixed date, not from now: the same seed gives the same frames on any day
        moment = _BASE_TIME + datetime.timedelta(seconds=rng.randint(0, 400 * 86400))
        return moment.isoformat()
    if isinstance(info, inspect.ListType):
        high = min(info.max_length if info.max_length is not None else 3, 3)
        low = min(max(info.min_length or 0, 1), high)
        return [_random_value(info.item_type, rng, depth + 1, optional) for _ in range(rng.randint(low, high))]
    if isinstance(info, inspect.UnionType):
        options = [t for t in info.types if not isinstance(t, inspect.NoneType)]
        return _random_value(rng.choice(options), rng, depth, optional) if options else None
    if isinstance(info, inspect.CustomType):
        return {"vendorId": "fleet.chaos"}
    if isinstance(info, inspect.AnyType):
        return rng.choice(["x", 1, {"a": 1}, [1, 2], True])
    if isinstance(info, inspect.DictType):
        return {}
    return None


def random_request(version: ProtocolVersion, action: str, rng: Random, *, optional: float = 0.3) -> dict[str, Any]:
    """A random request payload of ``action`` in ``version`` that validates (wire names, JSON values);
    ``action`` may be a SEND message of the version.

    Required fields always, each optional one with probability ``optional``.
    """
    request_type = version.actions[action][0] if action in version.actions else version.send_actions[action]
    info = msgspec.inspect.type_info(request_type)
    decoder = version.request_decoder(action)
    for attempt in range(20):
        payload = _random_value(info, rng, 0, optional if attempt < 15 else 0.0)
        try:
            decoder.decode(_encoder.encode(payload))
        except msgspec.ValidationError:
            continue
        return payload  # type: ignore[no-any-return]
    raise ValueError(f"no valid random {action} request found")


# ------------------------------------------------------------------- probes


def _message_id(rng: Random) -> str:
    return f"fault-{rng.getrandbits(64):016x}"


def _frame(message_id: str, action: str, payload: Any) -> str:
    body = payload if isinstance(payload, str) else _encoder.encode(payload).decode()
    return f'[2,"{message_id}",{_encoder.encode(action).decode()},{body}]'


def _not_json(rng: Random, direction: Direction) -> Probe:
    variant = rng.choice(("random_text", "truncated", "json_not_array", "empty"))
    if variant == "random_text":
        alphabet = string.printable + "äöü€ẞ✓\u2028"
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 200)))
        try:
            _decoder.decode(text)
            text = "not json: " + text
        except msgspec.DecodeError:
            pass
    elif variant == "truncated":
        action, payload = direction.harmless
        whole = _frame(_message_id(rng), action, payload)
        text = whole[: rng.randint(1, len(whole) - 1)]
    elif variant == "json_not_array":
        text = rng.choice(['{"messageTypeId": 2}', "42", '"Heartbeat"', "null", "true", "[]", "{}"])
    else:
        text = ""
    return Probe("not_json", variant, (text,), (Expect("-1", frozenset({_RPC})),))


def _wrong_message_type(rng: Random, direction: Direction) -> Probe:
    message_id = _message_id(rng)
    message_type = rng.choice([t for t in (0, 1, 5, 6, 7, 9, 42, -1) if t not in direction.version.message_types])
    action, payload = direction.harmless
    shape = rng.choice(("call", "short"))
    text = f'[{message_type},"{message_id}",{_encoder.encode(action).decode()},{payload}]' if shape == "call" \
        else f'[{message_type},"{message_id}"]'
    return Probe("wrong_message_type", f"type_{message_type}", (text,),
                 (Expect(message_id, frozenset({str(ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED)})),))


def _unknown_action(rng: Random, direction: Direction) -> Probe:
    message_id = _message_id(rng)
    variant = rng.choice(("unknown", "wrong_case", "other_direction"))
    if variant == "other_direction" and direction.foreign:
        action = rng.choice(direction.foreign)
        text = _frame(message_id, action, random_request(direction.version, action, rng))
        return Probe("unknown_action", variant, (text,),
                     (Expect(message_id, frozenset({str(ErrorCode.NOT_SUPPORTED)})),))
    if variant == "wrong_case":
        action = rng.choice(direction.actions)
        action = action.lower() if action != action.lower() else action.upper()
    else:
        variant = "unknown"
        action = "Fleet" + _random_string(rng, 3, 12)
    return Probe("unknown_action", variant, (_frame(message_id, action, "{}"),),
                 (Expect(message_id, frozenset({str(ErrorCode.NOT_IMPLEMENTED)})),))


def _fields(info: Any, obj: Any, depth: int = 0) -> list[tuple[dict[str, Any], str, Any, bool]]:
    """(container, key, type info, required) of every field present in ``obj``."""
    inspect = msgspec.inspect
    found: list[tuple[dict[str, Any], str, Any, bool]] = []
    if not isinstance(info, inspect.StructType) or not isinstance(obj, dict):
        return found
    for field in info.fields:
        if field.encode_name not in obj:
            continue
        value = obj[field.encode_name]
        found.append((obj, field.encode_name, field.type, field.required))
        if depth < 3:
            if isinstance(field.type, inspect.StructType):
                found.extend(_fields(field.type, value, depth + 1))
            elif isinstance(field.type, inspect.ListType) and isinstance(field.type.item_type, inspect.StructType) \
                    and isinstance(value, list):
                for item in value:
                    found.extend(_fields(field.type.item_type, item, depth + 1))
    return found


def _wrong_type_value(info: Any, rng: Random) -> Any:
    inspect = msgspec.inspect
    if isinstance(info, (inspect.StrType, inspect.EnumType, inspect.DateTimeType, inspect.LiteralType)):
        return rng.choice((12345, True, [], {}))
    if isinstance(info, inspect.IntType):
        return rng.choice(("seven", 1.5, [], True))
    if isinstance(info, inspect.FloatType):
        return rng.choice(("1.5", [], {}, True))
    if isinstance(info, inspect.BoolType):
        return rng.choice(("yes", 1, []))
    if isinstance(info, inspect.StructType):
        return rng.choice(("x", 5, [], True))
    if isinstance(info, inspect.ListType):
        return rng.choice(("x", 5, {}, True))
    return None


_MUTATIONS: Final = ("missing_required", "wrong_type", "bad_enum", "too_long", "out_of_range", "bad_datetime",
                     "unknown_field", "not_object")


def _mutate(variant: str, info: Any, payload: dict[str, Any], rng: Random) -> tuple[Any, str] | None:
    """Apply one fault to ``payload`` (in place when it stays an object); return
    (the payload, the code it calls for) or ``None`` if the payload offers no such field."""
    inspect = msgspec.inspect
    if variant == "unknown_field":
        payload["fleetChaos" + _random_string(rng, 1, 6)] = 1
        return payload, _FORMAT
    if variant == "not_object":
        return rng.choice(("[]", '"payload"', "42", "null", "[{}]")), _FORMAT
    fields = _fields(info, payload)
    if variant == "missing_required":
        candidates = [f for f in fields if f[3]]
    elif variant == "wrong_type":
        candidates = [f for f in fields if _wrong_type_value(f[2], rng) is not None]
    elif variant == "bad_enum":
        candidates = [f for f in fields if isinstance(f[2], inspect.EnumType)]
    elif variant == "too_long":
        candidates = [f for f in fields if isinstance(f[2], inspect.StrType) and f[2].max_length is not None]
    elif variant == "out_of_range":
        candidates = [f for f in fields if isinstance(f[2], inspect.IntType) and (f[2].ge is not None or f[2].le is not None)]
    elif variant == "bad_datetime":
        candidates = [f for f in fields if isinstance(f[2], inspect.DateTimeType)]
    else:
        raise ValueError(variant)
    if not candidates:
        return None
    container, key, field_type, _ = rng.choice(candidates)
    if variant == "missing_required":
        del container[key]
        return payload, _OCCURRENCE
    if variant == "wrong_type":
        container[key] = _wrong_type_value(field_type, rng)
        return payload, _TYPE
    if variant == "bad_enum":
        container[key] = "Fleet" + _random_string(rng, 3, 8)
        return payload, _PROPERTY
    if variant == "too_long":
        container[key] = "x" * (field_type.max_length + 1 + rng.randint(0, 5))
        return payload, _PROPERTY
    if variant == "out_of_range":
        container[key] = field_type.ge - 1 - rng.randint(0, 5) if field_type.ge is not None else field_type.le + 1
        return payload, _PROPERTY
    container[key] = rng.choice(("yesterday", "2024-13-45T99:00:00Z", "2024-01-01T00:00:00", "1700000000"))
    return payload, _PROPERTY


def _schema_invalid(rng: Random, direction: Direction) -> Probe:
    variants = list(_MUTATIONS)
    rng.shuffle(variants)
    for variant in variants:  # the first fault some action offers (each offers the last two)
        actions = list(direction.actions)
        rng.shuffle(actions)
        for action in actions[:8]:
            payload = random_request(direction.version, action, rng, optional=0.6)
            info = msgspec.inspect.type_info(direction.version.actions[action][0])
            mutated = _mutate(variant, info, payload, rng)
            if mutated is None:
                continue
            body, code = mutated
            message_id = _message_id(rng)
            return Probe("schema_invalid", f"{variant}:{action}", (_frame(message_id, action, body),),
                         (Expect(message_id, frozenset({code})),))
    raise AssertionError("no schema fault found")  # pragma: no cover - unknown_field always applies


def _oversize(rng: Random, direction: Direction, size: int) -> Probe:
    message_id = _message_id(rng)
    payload = {"vendorId": "fleet.chaos", "data": "A" * size}
    return Probe("oversize", f"{size}_bytes", (_frame(message_id, "DataTransfer", payload),),
                 (Expect(message_id, frozenset({CLOSED, ANY_ERROR})),), survive=False)


def _duplicate_id(rng: Random, direction: Direction) -> Probe:
    message_id = _message_id(rng)
    action, payload = direction.harmless
    text = _frame(message_id, action, payload)
    return Probe("duplicate_id", "same_call_twice", (text, text),
                 (Expect(message_id, frozenset({RESULT})), Expect(message_id, frozenset({RESULT, ANY_ERROR}))))


def _concurrent_calls(rng: Random, direction: Direction) -> Probe:
    action, payload = direction.harmless
    first, second = _message_id(rng), _message_id(rng)
    return Probe("concurrent_calls", "two_in_flight", (_frame(first, action, payload), _frame(second, action, payload)),
                 (Expect(first, frozenset({RESULT})), Expect(second, frozenset({RESULT}))))


def _then_harmless(rng: Random, direction: Direction, klass: str, variant: str, frame: str, message_id: str) -> Probe:
    """``frame`` (of a message type 2.1 added) and a harmless CALL after it: silence to the
    frame where the version has its type, else the answer to an unknown type; a CALLRESULT
    to the CALL (which also shows the frame was taken and the connection is up)."""
    action, payload = direction.harmless
    after = _message_id(rng)
    message_type = _SEND if klass == "send_message" else _CALL_RESULT_ERROR
    first = _SILENCE if message_type in direction.version.message_types else frozenset({_MESSAGE_TYPE})
    return Probe(klass, variant, (frame, _frame(after, action, payload)),
                 (Expect(message_id, first), Expect(after, frozenset({RESULT}))))


def _send_message(rng: Random, direction: Direction) -> Probe:
    message_id = _message_id(rng)
    variant = rng.choice(("valid", "invalid_payload", "unknown_action"))
    if variant != "unknown_action" and direction.sends:
        action = rng.choice(direction.sends)
        payload: Any = random_request(direction.version, action, rng)
        if variant == "invalid_payload":
            payload["fleetChaos" + _random_string(rng, 1, 6)] = 1
    elif variant != "unknown_action":  # none the receiver takes: 2.1's event stream message, from the other side
        variant = "other_direction" if _SEND in direction.version.message_types else "unsupported_type"
        action = "NotifyPeriodicEventStream"
        payload = {"id": 1, "pending": 0, "basetime": _BASE_TIME.isoformat(), "data": []}
    else:
        action, payload = "Fleet" + _random_string(rng, 3, 12), {}
    frame = f'[{_SEND},"{message_id}",{_encoder.encode(action).decode()},{_encoder.encode(payload).decode()}]'
    return _then_harmless(rng, direction, "send_message", variant, frame, message_id)


def _call_result_error(rng: Random, direction: Direction) -> Probe:
    message_id = _message_id(rng)  # answers no CALL the receiver made
    code = rng.choice(sorted(direction.version.error_codes.sendable))
    variant = rng.choice(("unknown_id", "details"))
    details = {"reason": "fleet chaos"} if variant == "details" else {}
    frame = (f'[{_CALL_RESULT_ERROR},"{message_id}",{_encoder.encode(code).decode()},'
             f'"fleet chaos: a CALLRESULT it could not process",{_encoder.encode(details).decode()}]')
    return _then_harmless(rng, direction, "call_result_error", variant, frame, message_id)


_BUILDERS: Final[dict[str, Callable[[Random, Direction], Probe]]] = {
    "not_json": _not_json,
    "wrong_message_type": _wrong_message_type,
    "unknown_action": _unknown_action,
    "schema_invalid": _schema_invalid,
    "duplicate_id": _duplicate_id,
    "concurrent_calls": _concurrent_calls,
    "send_message": _send_message,
    "call_result_error": _call_result_error,
}


def make_probe(klass: str, rng: Random, direction: Direction, *, oversize_bytes: int = 1024 * 1024) -> Probe:
    """One probe of ``klass`` towards ``direction`` (see :func:`directions`), its expected
    CALLERROR codes spelled as the direction's OCPP version spells them."""
    if klass == "oversize":
        probe = _oversize(rng, direction, oversize_bytes)
    elif klass in _BUILDERS:
        probe = _BUILDERS[klass](rng, direction)
    else:
        raise ValueError(f"unknown malformed class {klass!r}; known: {', '.join(MALFORMED_CLASSES)}")
    return spell_probe(probe, direction.version)


def spell_probe(probe: Probe, version: ProtocolVersion) -> Probe:
    """``probe`` with its expected CALLERROR codes spelled as ``version`` spells them."""
    spelling = version.error_codes.spelling
    expect = tuple(Expect(e.message_id, frozenset(spelling.get(code, code) for code in e.accept)) for e in probe.expect)
    return msgspec.structs.replace(probe, expect=expect)
