"""fleet's websockets over real TCP connections on 127.0.0.1, one end read or written by hand:
the data frames fleet writes (its own fast path, fleet.net.frame_codec) are read by wsproto as the
same messages; the frames a peer writes reach fleet's reader as the same messages however the
reads cut them; and a frame that is not the simple case ends the same way as through wsproto
alone (the close code fleet's end sees, and what its peer sees), checked against a wsproto
connection fed the same bytes."""

from __future__ import annotations

import functools
import os
import random
import ssl
import struct
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType

import pytest
import trio
import trio.testing
import trustme
from websocket_pair import websocket_pair
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, Event, Message, TextMessage
from wsproto.extensions import PerMessageDeflate

from fleet.net.websocket import (
    PARSE_BUDGET,
    ConnectionClosed,
    WebSocket,
    client_handshake,
    server_handshake,
)

LIMIT = 256 * 1024
_FRAME_CODE = os.path.join("wsproto", "frame_protocol.py")
#: wsproto's functions that read or write frames (not those a discarded connection runs when collected).
_FRAME_WORK = frozenset(("receive_bytes", "received_frames", "process_buffer", "parse_header", "process_frame",
                         "send_data", "_serialize_frame", "close", "ping", "pong"))


pair = functools.partial(websocket_pair, limit=LIMIT)


@contextmanager
def wsproto_frame_calls() -> Iterator[list[str]]:
    """The functions of wsproto's frame protocol that read or write frames, called meanwhile
    (observed, not replaced)."""
    calls: list[str] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        code = frame.f_code
        if event == "call" and code.co_name in _FRAME_WORK and code.co_filename.endswith(_FRAME_CODE):
            calls.append(code.co_name)

    sys.setprofile(profile)
    try:
        yield calls
    finally:
        sys.setprofile(None)


def _text(size: int, rng: random.Random) -> str:
    """Text of exactly ``size`` UTF-8 bytes, with 1- to 4-byte characters."""
    pieces, left = [], size
    while left:
        width = rng.randint(1, min(4, left))
        pieces.append({1: "a", 2: "é", 3: "€", 4: "\U0001f50c"}[width])
        left -= width
    return "".join(pieces)


def _messages() -> list[str | bytes]:
    rng = random.Random(20)
    messages: list[str | bytes] = []
    for size in (0, 1, 125, 126, 127, 383, 385, 1000, 65535, 65536, 100_000):
        messages += [_text(size, rng), rng.randbytes(size)]
    messages += [_text(rng.randint(0, 2000), rng) for _ in range(20)]
    return messages


MESSAGES = _messages()


def _reads(event: Event) -> tuple[object, ...]:
    if isinstance(event, Message):
        data = bytes(event.data) if isinstance(event.data, bytearray) else event.data
        return (type(event).__name__, data, event.frame_finished, event.message_finished)
    return (type(event).__name__,)


def _expected(message: str | bytes) -> tuple[object, ...]:
    return ("TextMessage" if isinstance(message, str) else "BytesMessage", message, True, True)


async def _read_with_wsproto(stream: trio.abc.ReceiveStream, reader: Connection, count: int) -> list[tuple[object, ...]]:
    """Read raw bytes from ``stream`` into ``reader`` until it has ``count`` whole messages; each
    as (kind, data, True, True), its parts joined (wsproto hands on what it has of a frame)."""
    messages: list[tuple[object, ...]] = []
    parts: list[str | bytes] = []
    while len(messages) < count:
        data = await stream.receive_some(65536)
        assert data, "the stream ended"
        reader.receive_data(bytes(data))
        for event in reader.events():
            assert isinstance(event, Message), event
            parts.append(bytes(event.data) if isinstance(event.data, bytearray) else event.data)
            if event.message_finished:
                joined = "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)  # type: ignore[arg-type]
                messages.append((type(event).__name__, joined, True, True))
                parts = []
    return messages


@pytest.mark.parametrize("writer_role", ["client", "server"])
async def test_the_frames_written_by_fleet_are_read_by_wsproto_as_the_same_messages(writer_role: str) -> None:
    async with pair() as (client, server):
        writer, peer = (client, server) if writer_role == "client" else (server, client)
        reader = Connection(ConnectionType.SERVER if writer_role == "client" else ConnectionType.CLIENT)
        with trio.fail_after(20):
            for message in MESSAGES:
                with wsproto_frame_calls() as calls:
                    async with trio.open_nursery() as nursery:  # (a large message fills the socket: read meanwhile)
                        nursery.start_soon(writer.send_message, message)
                        events = await _read_with_wsproto(peer.stream, reader, 1)
                assert "_serialize_frame" not in calls  # written by fleet's fast path, not wsproto
                assert events == [_expected(message)]


async def test_each_client_frame_has_a_fresh_masking_key() -> None:
    async with pair() as (client, server):
        reader = Connection(ConnectionType.SERVER)
        with trio.fail_after(10):
            frames = []
            for _ in range(20):
                await client.send_message("same")
                frame = bytes(await server.stream.receive_some(65536))
                assert _reads(_read_all(reader, frame)[0]) == _expected("same")
                frames.append(frame)
        assert all(len(f) == 2 + 4 + 4 for f in frames)
        assert len({f[2:6] for f in frames}) == 20  # (the key: after the 2-byte head)


def _read_all(reader: Connection, data: bytes) -> list[Event]:
    reader.receive_data(data)
    return list(reader.events())


async def test_a_send_after_the_close_is_refused_on_the_fast_path_too() -> None:
    async with pair() as (client, server):
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.aclose, 4001, "done")
                with pytest.raises(ConnectionClosed) as caught:
                    await server.get_message()
            assert caught.value.reason.code == 4001
            for websocket in (client, server):
                with pytest.raises(ConnectionClosed):
                    await websocket.send_message("late")



# ------------------------------------------------------------------ reading


def _utf8(message: str | bytes) -> bytes:
    return message.encode() if isinstance(message, str) else message


def _written_by_wsproto(role: ConnectionType, *messages: str | bytes) -> bytes:
    writer = Connection(role)
    return b"".join(writer.send(TextMessage(data=m) if isinstance(m, str) else BytesMessage(data=m)) for m in messages)


async def _warm(reader: WebSocket, writer: WebSocket) -> None:
    """One message through, so the reader is past whatever came with the handshake."""
    await writer.send_message("warm")
    assert await reader.get_message() == "warm"


@pytest.mark.parametrize("reader_role", ["server", "client"])
async def test_wsprotos_frames_are_read_by_fleet_without_wsproto(reader_role: str) -> None:
    async with pair() as (client, server):
        reader, peer = (server, client) if reader_role == "server" else (client, server)
        writer_role = ConnectionType.CLIENT if reader_role == "server" else ConnectionType.SERVER
        with trio.fail_after(20):
            await _warm(reader, peer)
            small = [m for m in MESSAGES if len(_utf8(m)) < 30_000]
            raw = _written_by_wsproto(writer_role, *small)
            got: list[str | bytes] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(peer.stream.send_all, raw)
                with wsproto_frame_calls() as calls:
                    while len(got) < len(small):
                        got.append(await reader.get_message())
            assert got == small and [type(m) for m in got] == [type(m) for m in small]
            assert reader.buffered == 0
            assert calls == []  # (frames cut by the end of a read too: the reader waits for their rest)
            for message in MESSAGES:  # one at a time
                raw = _written_by_wsproto(writer_role, message)
                with wsproto_frame_calls() as calls:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(peer.stream.send_all, raw)
                        got_one = await reader.get_message()
                assert got_one == message
                if len(_utf8(message)) <= 65536 - 14:
                    assert calls == []
                else:  # (a frame larger than a read is wsproto's, which hands on its parts as they come)
                    assert "process_frame" in calls


@pytest.mark.parametrize("reader_role", ["server", "client"])
async def test_frames_cut_at_every_byte_across_two_reads_are_read_whole(reader_role: str) -> None:
    async with pair() as (client, server):
        reader, peer = (server, client) if reader_role == "server" else (client, server)
        writer_role = ConnectionType.CLIENT if reader_role == "server" else ConnectionType.SERVER
        messages: list[str | bytes] = ["[2,\"1\",\"Heartbeat\",{}]", "é" * 70, b"\x00\x01" * 100, ""]
        raw = _written_by_wsproto(writer_role, *messages)
        got: list[str | bytes] = []

        async def read() -> None:
            while True:
                got.append(await reader.get_message())

        with trio.fail_after(30):
            await _warm(reader, peer)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                for cut in range(1, len(raw)):
                    reads = reader.reads
                    await peer.stream.send_all(raw[:cut])
                    await trio.testing.wait_all_tasks_blocked()  # (the reader has read the first part)
                    await peer.stream.send_all(raw[cut:])
                    await trio.testing.wait_all_tasks_blocked()
                    assert got == messages, cut
                    assert reader.reads == reads + 2 and reader.buffered == 0
                    got.clear()
                nursery.cancel_scope.cancel()
            # back on the fast path after all of that
            with wsproto_frame_calls() as calls:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(peer.stream.send_all, raw)
                    got = [await reader.get_message() for _ in messages]
            assert got == messages and calls == []


def _frame(first: int, payload: bytes, *, masked: bool, length: bytes | None = None) -> bytes:
    """A frame written by hand, masked with a fixed key (its length field given, or the shortest)."""
    size = len(payload)
    if length is None:
        length = bytes((size,)) if size < 126 else b"\x7e" + struct.pack("!H", size) if size < 65536 else \
            b"\x7f" + struct.pack("!Q", size)
    if not masked:
        return bytes((first,)) + length + payload
    key = b"\x5a\x11\xc3\x07"
    return bytes((first, length[0] | 0x80)) + length[1:] + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


CLOSE_4000 = struct.pack("!H", 4000) + b"bye"
# (name, the frame between "before" and "after", whether the server reads it (else the client),
#  the outcome: the messages read, the reader's close code, its peer's close code (None: still open))
BAD: list[tuple[str, bytes, bool, tuple[object, ...]]] = [
    ("RSV1 set", _frame(0xC1, b"hi", masked=True), True, (["before"], 1002, 1006)),
    ("RSV3 set at the client", _frame(0x91, b"hi", masked=False), False, (["before"], 1002, 1006)),
    ("unmasked at the server", _frame(0x81, b"hi", masked=False), True, (["before"], 1002, 1006)),
    ("masked at the client", _frame(0x81, b"hi", masked=True), False, (["before"], 1002, 1006)),
    ("a 16-bit length for 100 bytes", _frame(0x81, b"a" * 100, masked=True, length=b"\x7e\x00\x64"), True,
     (["before"], 1002, 1006)),
    ("a 64-bit length for 300 bytes", _frame(0x82, b"a" * 300, masked=False, length=b"\x7f" + struct.pack("!Q", 300)),
     False, (["before"], 1002, 1006)),
    ("invalid UTF-8", _frame(0x81, b"caf\xc3(", masked=True), True, (["before"], 1007, 1006)),
    ("invalid UTF-8 at the client", _frame(0x81, b"\xff", masked=False), False, (["before"], 1007, 1006)),
    ("over the limit", _frame(0x81, b"y" * 1001, masked=True), True, (["before"], 1009, 1009)),
    ("binary over the limit at the client", _frame(0x82, b"y" * 1001, masked=False), False, (["before"], 1009, 1009)),
    ("a reserved opcode", _frame(0x83, b"x", masked=True), True, (["before"], 1002, 1006)),
    ("a continuation first", _frame(0x80, b"x", masked=True), True, (["before"], 1002, 1006)),
    ("a fragmented message", _frame(0x01, b"part", masked=True) + _frame(0x00, b"-", masked=True) +
     _frame(0x80, b"tail", masked=True), True, (["before", "part-tail", "after"], None, None)),
    ("a ping between fragments", _frame(0x02, b"\x01", masked=True) + _frame(0x89, b"p", masked=True) +
     _frame(0x80, b"\x02", masked=True), True, (["before", b"\x01\x02", "after"], None, None)),
    ("a ping", _frame(0x89, b"p", masked=True), True, (["before", "after"], None, None)),
    ("a pong", _frame(0x8A, b"p", masked=False), False, (["before", "after"], None, None)),
    ("a fragmented ping", _frame(0x09, b"p", masked=True), True, (["before"], 1002, 1006)),
    ("a close", _frame(0x88, CLOSE_4000, masked=True), True, (["before"], 4000, 4000)),
    ("a close at the client", _frame(0x88, CLOSE_4000, masked=False), False, (["before"], 4000, 4000)),
]


async def _outcome(reader: WebSocket, peer: WebSocket) -> tuple[object, ...]:
    got: list[str | bytes] = []
    codes: list[int | None] = [None, None]
    try:
        while got[-1:] != ["after"]:
            got.append(await reader.get_message())
    except ConnectionClosed as exc:
        codes[0] = exc.reason.code
        try:
            while True:
                await peer.get_message()
        except ConnectionClosed as exc:
            codes[1] = exc.reason.code
    return (got, *codes)


@pytest.mark.parametrize(("frame", "at_server", "outcome"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
async def test_a_frame_not_the_simple_case_ends_as_through_wsproto(frame: bytes, at_server: bool,
                                                                   outcome: tuple[object, ...]) -> None:
    async with pair(limit=1000) as (client, server):
        reader, peer = (server, client) if at_server else (client, server)
        with trio.fail_after(10):
            await _warm(reader, peer)
            before, after = (_frame(0x81, text, masked=at_server) for text in (b"before", b"after"))
            await peer.stream.send_all(before + frame + after)  # (one write: one read, the fast path first)
            assert await _outcome(reader, peer) == outcome


@asynccontextmanager
async def tls_pair() -> AsyncIterator[tuple[WebSocket, WebSocket]]:
    """A (client, server) pair of fleet's websockets over TLS over TCP on 127.0.0.1."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    accepted: trio.MemorySendChannel[WebSocket]
    accepted, incoming = trio.open_memory_channel[WebSocket](1)

    async def handle(stream: trio.SocketStream) -> None:
        request = await server_handshake(trio.SSLStream(stream, server_context, server_side=True),
                                         max_message_size=LIMIT)
        assert request is not None
        await accepted.send(await request.accept())
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        stream = trio.SSLStream(await trio.open_tcp_stream("127.0.0.1", port), client_context,
                                server_hostname="127.0.0.1")
        client = await client_handshake(stream, host=f"127.0.0.1:{port}", target="/ocpp/CS1", max_message_size=LIMIT)
        server = await incoming.receive()
        yield client, server
        await client.abort()
        await server.abort()
        nursery.cancel_scope.cancel()


async def test_under_tls_messages_go_both_ways_on_the_fast_path() -> None:
    async with tls_pair() as (client, server):
        assert client._endpoint.socket is None and server._endpoint.socket is None  # (through the SSLStream)
        with trio.fail_after(20):
            await _warm(server, client)
            await _warm(client, server)
            for message in MESSAGES:  # (over 16 KiB: more than one TLS record, more than one read)
                for writer, reader in ((client, server), (server, client)):
                    with wsproto_frame_calls() as calls:
                        async with trio.open_nursery() as nursery:
                            nursery.start_soon(writer.send_message, message)
                            assert await reader.get_message() == message
                    if len(_utf8(message)) <= 65536 - 14:
                        assert calls == []
                    else:
                        assert "process_frame" in calls and "_serialize_frame" not in calls
            async with trio.open_nursery() as nursery:  # (a ping, wsproto's, answered by the readers)
                nursery.start_soon(server.get_message)
                nursery.start_soon(client.get_message)
                await client.ping(b"tls")
                nursery.cancel_scope.cancel()


async def test_a_read_of_many_frames_is_parsed_in_slices_and_counted_in_buffered() -> None:
    async with pair() as (client, server):
        with trio.fail_after(10):
            await _warm(server, client)
            raw = _written_by_wsproto(ConnectionType.CLIENT, *(["x" * 50] * 200))  # (56 bytes a frame, one read)
            await client.stream.send_all(raw)
            assert await server.get_message() == "x" * 50
            assert server.reads == 2
            # one slice parsed (PARSE_BUDGET frames): the rest is still held as it came
            assert (200 - PARSE_BUDGET) * 56 <= server.buffered <= len(raw)
            for _ in range(199):
                assert await server.get_message() == "x" * 50
            assert server.buffered == 0


async def test_with_an_agreed_extension_every_frame_is_wsprotos() -> None:
    """fleet never offers one, but a websocket made with permessage-deflate agreed (RSV1 frames)
    leaves both writing and reading to wsproto."""
    server_deflate, client_deflate = PerMessageDeflate(), PerMessageDeflate()
    client_deflate.finalize(str(server_deflate.accept("permessage-deflate")))
    accepted: trio.MemorySendChannel[WebSocket]
    accepted, incoming = trio.open_memory_channel[WebSocket](1)

    async def handle(stream: trio.SocketStream) -> None:
        await accepted.send(WebSocket(stream, Connection(ConnectionType.SERVER, extensions=[server_deflate]),
                                      subprotocol=None, path="/", max_message_size=LIMIT))
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
        stream = await trio.open_tcp_stream("127.0.0.1", listeners[0].socket.getsockname()[1])
        client = WebSocket(stream, Connection(ConnectionType.CLIENT, extensions=[client_deflate]), subprotocol=None,
                           path="/", max_message_size=LIMIT)
        server = await incoming.receive()
        with trio.fail_after(10):
            for writer, reader in ((client, server), (server, client), (client, server)):
                with wsproto_frame_calls() as calls:
                    await writer.send_message("compressible " * 100)
                    assert await reader.get_message() == "compressible " * 100
                assert "_serialize_frame" in calls and "process_frame" in calls
        await client.abort()
        await server.abort()
        nursery.cancel_scope.cancel()
