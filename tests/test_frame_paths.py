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
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType

import pytest
import trio
import trio.testing
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import Event, Message, TextMessage

from fleet.net.websocket import (
    ConnectionClosed,
    HandshakeRequest,
    WebSocket,
    client_handshake,
    server_handshake,
)

LIMIT = 256 * 1024
_FRAME_CODE = os.path.join("wsproto", "frame_protocol.py")


@asynccontextmanager
async def pair(*, limit: int = LIMIT) -> AsyncIterator[tuple[WebSocket, WebSocket]]:
    """A (client, server) pair of fleet's websockets over a real TCP connection on 127.0.0.1."""
    accepted: trio.MemorySendChannel[WebSocket]
    accepted, incoming = trio.open_memory_channel[WebSocket](1)

    async def handle(stream: trio.SocketStream) -> None:
        request: HandshakeRequest | None = await server_handshake(stream, max_message_size=limit)
        assert request is not None
        await accepted.send(await request.accept(subprotocol="ocpp2.0.1"))
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        client = await client_handshake(stream, host=f"127.0.0.1:{port}", target="/ocpp/CS1",
                                        subprotocols=["ocpp2.0.1"], max_message_size=limit)
        server = await incoming.receive()
        yield client, server
        await client.abort()
        await server.abort()
        nursery.cancel_scope.cancel()


@contextmanager
def wsproto_frame_calls() -> Iterator[list[str]]:
    """The functions of wsproto's frame protocol called meanwhile (observed, not replaced)."""
    calls: list[str] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code.co_filename.endswith(_FRAME_CODE):
            calls.append(frame.f_code.co_name)

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

