"""fleet.net.frame_codec against wsproto, frame by frame: what the codec writes is what wsproto
writes (the same bytes, given the same masking key) and reads back to the same message; what
wsproto writes the codec reads to the same message; and every frame that is not the simple case
(or not all there yet) the codec declines, so that wsproto reads it."""

from __future__ import annotations

import os
import random
import struct

import pytest
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, CloseConnection, Event, Message, Ping, TextMessage

from fleet.net.frame_codec import BINARY, TEXT, UNKNOWN_END, MaskingKeys, decode_frame, encode_frame, mask

LIMIT = 1024 * 1024
SIZES = (0, 1, 2, 3, 4, 5, 7, 100, 125, 126, 127, 128, 383, 384, 385, 1000, 4097, 65535, 65536, 65537, 200_001)


def _text(size: int, rng: random.Random) -> str:
    """Text whose UTF-8 form is exactly ``size`` bytes, with 1- to 4-byte characters."""
    pieces: list[str] = []
    left = size
    while left:
        width = rng.randint(1, min(4, left))
        pieces.append({1: "a", 2: "é", 3: "€", 4: "\U0001f50c"}[width])
        left -= width
    text = "".join(pieces)
    assert len(text.encode()) == size
    return text


def _messages() -> list[str | bytes]:
    rng = random.Random(6455)
    cases: list[str | bytes] = []
    for size in SIZES:
        cases.append(_text(size, rng))
        cases.append(rng.randbytes(size))
    cases += [_text(rng.randint(0, 3000), rng) for _ in range(40)] + [rng.randbytes(rng.randint(0, 3000)) for _ in range(40)]
    return cases


MESSAGES = _messages()


def _payload(message: str | bytes) -> tuple[int, bytes]:
    return (TEXT, message.encode()) if isinstance(message, str) else (BINARY, message)


def _event(message: str | bytes) -> Message:  # type: ignore[type-arg]
    return TextMessage(data=message) if isinstance(message, str) else BytesMessage(data=message)


def _read_all(reader: Connection, data: bytes) -> list[Event]:
    reader.receive_data(data)
    return list(reader.events())


def _as_wsproto_reads(event: Event) -> tuple[object, ...]:
    if isinstance(event, Message):
        return (type(event).__name__, bytes(event.data) if isinstance(event.data, bytearray) else event.data,
                event.frame_finished, event.message_finished)
    return (type(event).__name__,)


def _masking_key_of(frame: bytes) -> bytes:
    """The masking key of a masked frame (after its 2-, 4- or 10-byte head)."""
    marker = frame[1] & 0x7F
    at = 2 if marker < 126 else 4 if marker == 126 else 10
    return frame[at : at + 4]


@pytest.mark.parametrize("masked", [False, True], ids=["server", "client"])
def test_written_frames_are_wsprotos_bytes_and_read_back_in_wsproto(masked: bool) -> None:
    writer = Connection(ConnectionType.CLIENT if masked else ConnectionType.SERVER)
    reader = Connection(ConnectionType.SERVER if masked else ConnectionType.CLIENT)
    for message in MESSAGES:
        theirs = writer.send(_event(message))
        key = _masking_key_of(theirs) if masked else None
        opcode, payload = _payload(message)
        ours = encode_frame(opcode, payload, key)
        assert ours == theirs, (len(payload), opcode)
        events = _read_all(reader, ours)
        assert [_as_wsproto_reads(e) for e in events] == [(type(_event(message)).__name__, message, True, True)]


@pytest.mark.parametrize("masked", [False, True], ids=["server reads", "client reads"])
def test_wsprotos_frames_are_read_to_the_same_messages(masked: bool) -> None:
    # (masked: what a server reads, written by a client)
    writer = Connection(ConnectionType.CLIENT if masked else ConnectionType.SERVER)
    stream = b"".join(writer.send(_event(message)) for message in MESSAGES)
    at, read = 0, []
    while at < len(stream):
        decoded = decode_frame(stream, at, masked, LIMIT)
        assert decoded is not None, (at, len(read))
        message, at = decoded
        assert type(message) is type(MESSAGES[len(read)])
        read.append(message)
    assert read == MESSAGES and at == len(stream)


@pytest.mark.parametrize("masked", [False, True], ids=["server reads", "client reads"])
def test_a_frame_not_all_there_says_where_it_will_end_at_every_byte(masked: bool) -> None:
    """Cut anywhere before its last byte, a simple frame is not read: the codec says where it will
    end once its head is there (UNKNOWN_END before); whole, it is read, from its own offset too."""
    writer = Connection(ConnectionType.CLIENT if masked else ConnectionType.SERVER)
    for message in ("", "[2,\"1\",\"Heartbeat\",{}]", "é" * 63, "x" * 126, b"\x00" * 300, "y" * 65536):
        frame = writer.send(_event(message))
        size = len(_payload(message)[1])
        head = 2 if size < 126 else 4 if size < 65536 else 10  # (the length's bytes; the key is the payload's)
        assert decode_frame(frame[:0], 0, masked, LIMIT) is None
        for cut in range(1, len(frame)) if len(frame) < 1000 else (*range(1, 20), len(frame) - 1):
            expected = (None, UNKNOWN_END) if cut < head else (None, len(frame))
            assert decode_frame(frame[:cut], 0, masked, LIMIT) == expected, cut
            shifted = (None, UNKNOWN_END) if cut < head else (None, 6 + len(frame))
            assert decode_frame(b"\x81\x00" * 3 + frame[:cut], 6, masked, LIMIT) == shifted, cut
        assert decode_frame(frame, 0, masked, LIMIT) == (message, len(frame))
        before = writer.send(TextMessage(data="before"))
        assert decode_frame(before + frame, len(before), masked, LIMIT) == (message, len(before) + len(frame))


def _frame(first: int, payload: bytes, masked: bool, *, length: bytes | None = None, key: bytes = b"\x01\x02\x03\x04") -> bytes:
    """A frame written by hand (its length field given or in the shortest form)."""
    size = len(payload)
    if length is None:
        length = bytes((size,)) if size < 126 else b"\x7e" + struct.pack("!H", size) if size < 65536 else \
            b"\x7f" + struct.pack("!Q", size)
    if masked:
        return bytes((first, length[0] | 0x80)) + length[1:] + key + mask(payload, key)
    return bytes((first,)) + length + payload


# (name, frame at a server (masked), what wsproto at a server makes of it): each one the codec declines
DECLINED: list[tuple[str, bytes, tuple[object, ...]]] = [
    ("RSV1 set", _frame(0xC1, b"hi", True), ("CloseConnection", 1002)),
    ("RSV2 set", _frame(0xA1, b"hi", True), ("CloseConnection", 1002)),
    ("RSV3 set", _frame(0x91, b"hi", True), ("CloseConnection", 1002)),
    ("unmasked at a server", _frame(0x81, b"hi", False), ("CloseConnection", 1002)),
    ("16-bit length for 125 bytes", _frame(0x81, b"a" * 125, True, length=b"\x7e\x00\x7d"), ("CloseConnection", 1002)),
    ("64-bit length for 65535 bytes", _frame(0x82, b"a" * 65535, True, length=b"\x7f" + struct.pack("!Q", 65535)),
     ("CloseConnection", 1002)),
    ("64-bit length with its top bit", _frame(0x82, b"", True, length=b"\x7f" + struct.pack("!Q", 1 << 63)),
     ("CloseConnection", 1002)),
    ("invalid UTF-8", _frame(0x81, b"caf\xc3", True), ("CloseConnection", 1007)),
    ("a UTF-16 surrogate in UTF-8", _frame(0x81, b"\xed\xa0\x80", True), ("CloseConnection", 1007)),
    ("a first fragment", _frame(0x01, b"part", True), ("TextMessage", "part", True, False)),
    ("a continuation first", _frame(0x80, b"part", True), ("CloseConnection", 1002)),
    ("opcode 3 (reserved)", _frame(0x83, b"x", True), ("CloseConnection", 1002)),
    ("a ping", _frame(0x89, b"p", True), ("Ping",)),
    ("a pong", _frame(0x8A, b"p", True), ("Pong",)),
    ("a close", _frame(0x88, struct.pack("!H", 4000) + b"bye", True), ("CloseConnection", 4000)),
]


def _outcome(events: list[Event]) -> tuple[object, ...]:
    first = events[0]
    if isinstance(first, CloseConnection):
        return ("CloseConnection", first.code)
    if isinstance(first, Message):
        return (type(first).__name__, first.data, first.frame_finished, first.message_finished)
    assert isinstance(first, Ping) or type(first).__name__ == "Pong"
    return (type(first).__name__,)


@pytest.mark.parametrize(("frame", "wsproto_reads"), [c[1:] for c in DECLINED], ids=[c[0] for c in DECLINED])
def test_frames_not_the_simple_case_are_declined(frame: bytes, wsproto_reads: tuple[object, ...]) -> None:
    assert decode_frame(frame, 0, True, LIMIT) is None
    for cut in range(1, len(frame)):  # (a start of it is no message either; wsproto will judge the whole)
        start = decode_frame(frame[:cut], 0, True, LIMIT)
        assert start is None or start[0] is None, cut
    assert _outcome(_read_all(Connection(ConnectionType.SERVER), frame)) == wsproto_reads  # (what the case stands for)


def test_the_mask_bit_must_be_the_readers_and_the_size_within_the_limit() -> None:
    masked = _frame(0x81, b"hello", True)
    unmasked = _frame(0x81, b"hello", False)
    assert decode_frame(masked, 0, True, LIMIT) == ("hello", len(masked))
    assert decode_frame(unmasked, 0, False, LIMIT) == ("hello", len(unmasked))
    assert decode_frame(masked, 0, False, LIMIT) is None  # a masked frame at a client
    assert decode_frame(unmasked, 0, True, LIMIT) is None  # an unmasked frame at a server
    assert decode_frame(masked, 0, True, 5) == ("hello", len(masked))
    assert decode_frame(masked, 0, True, 4) is None  # (wsproto's reader closes with 1009)
    assert _outcome(_read_all(Connection(ConnectionType.CLIENT), masked)) == ("CloseConnection", 1002)


def test_mask_is_its_own_inverse_and_xors_the_key_lane_by_lane() -> None:
    rng = random.Random(5)
    for size in (0, 1, 3, 4, 5, 383, 384, 385, 386, 387, 1000, 70_000):
        payload, key = rng.randbytes(size), rng.randbytes(4)
        masked = mask(payload, key)
        assert masked == bytes(b ^ key[i % 4] for i, b in enumerate(payload))  # (RFC 6455 5.3, written out)
        assert mask(masked, key) == payload


def test_masking_keys_are_4_fresh_bytes_each_across_batches() -> None:
    keys = MaskingKeys(batch=64)
    taken = [keys.take() for _ in range(1000)]  # (about 60 batches)
    assert all(len(k) == 4 for k in taken)
    assert len(set(taken)) > 990  # (4 random bytes: a repeat among 1,000 is rare, a pattern would show)
    assert len({keys.take() for _ in range(16)} & set(taken)) <= 1


def test_a_forked_child_draws_its_own_masking_keys() -> None:
    keys = MaskingKeys()
    keys.take()  # (the pool is drawn in the parent)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next keys, to the parent
        os.close(read)
        os.write(write, b"".join(keys.take() for _ in range(8)))
        os._exit(0)
    os.close(write)
    child = b""
    while chunk := os.read(read, 64):
        child += chunk
    os.close(read)
    os.waitpid(pid, 0)
    ours = b"".join(keys.take() for _ in range(8))
    assert len(child) == 32 and child != ours  # (the same pool would give the same keys)
