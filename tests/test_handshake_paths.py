"""A station and the CSMS over real websockets on 127.0.0.1: which path of the opening handshake
each end took (the fast path of fleet.net.handshake_head, or wsproto/h11 for an odd but valid head),
and that the connection works the same after either."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from fleet.net.transport import Accepted, HandshakeRefused, open_station_websocket, serve_ocpp
from fleet.net.websocket import WebSocket, client_handshake
from fleet.ocpp import V16, V201

LIMIT = 64 * 1024


@asynccontextmanager
async def csms(passwords: dict[str, str] | None = None) -> AsyncIterator[tuple[int, list[WebSocket], list[object]]]:
    """fleet's serve_ocpp on 127.0.0.1 echoing one message per station; yields (port, the CSMS's
    websockets, the refusals)."""
    accepted: list[WebSocket] = []
    refused: list[object] = []

    async def on_station(station: Accepted) -> None:
        accepted.append(station.websocket)
        await station.websocket.send_message(await station.websocket.get_message())
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        port = await nursery.start(functools.partial(
            serve_ocpp, on_station, "127.0.0.1", 0, password_of=None if passwords is None else passwords.get,
            on_refused=lambda status, who: refused.append((status, who))))
        yield port, accepted, refused
        nursery.cancel_scope.cancel()


async def test_station_and_csms_take_the_fast_path() -> None:
    async with csms({"CS1": "secret"}) as (port, accepted, refused):
        with trio.fail_after(10):
            async with open_station_websocket(f"ws://127.0.0.1:{port}/ocpp", "CS1", password="secret",
                                              subprotocols=(V201.subprotocol, V16.subprotocol)) as (websocket, version):
                await websocket.send_message("[2,\"1\",\"Heartbeat\",{}]")
                assert await websocket.get_message() == "[2,\"1\",\"Heartbeat\",{}]"
                assert version is V201
                assert not websocket.through_h11 and not accepted[0].through_h11
                assert accepted[0].subprotocol == websocket.subprotocol == V201.subprotocol
    assert refused == []


async def test_a_refusal_after_the_fast_path_is_wsprotos_401() -> None:
    async with csms({"CS1": "secret"}) as (port, accepted, refused):
        with pytest.raises(HandshakeRefused) as caught, trio.fail_after(10):
            async with open_station_websocket(f"ws://127.0.0.1:{port}/ocpp", "CS1", password="wrong"):
                pass
    assert caught.value.status == 401 and refused == [(401, "CS1")] and accepted == []


async def test_an_odd_request_head_goes_through_h11_at_the_csms() -> None:
    async with csms() as (port, accepted, _):
        with trio.fail_after(10):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            # obs-text in a header value: valid HTTP, but not what the fast path reads (nor writes)
            websocket = await client_handshake(stream, host=f"127.0.0.1:{port}", target="/ocpp/CS2",
                                               subprotocols=[V201.subprotocol], max_message_size=LIMIT,
                                               extra_headers=[(b"x-site", b"caf\xe9")])
            await websocket.send_message("odd")
            assert await websocket.get_message() == "odd"
            assert websocket.through_h11 and accepted[0].through_h11
            await websocket.aclose()


async def _read_request_and_accept(stream: trio.SocketStream) -> bytes:
    """Read a client's request head; its Sec-WebSocket-Accept answer (RFC 6455 4.2.2)."""
    request = b""
    while b"\r\n\r\n" not in request:
        request += await stream.receive_some(65536)
    key = re.search(rb"\r\nSec-WebSocket-Key: ([^\r]+)\r\n", request)
    assert key is not None
    return base64.b64encode(hashlib.sha1(key[1] + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())


async def test_an_odd_101_goes_through_h11_at_the_station() -> None:
    """A CSMS (written here) whose 101 folds a header over two lines, then sends a message at once."""

    async def odd_csms(stream: trio.SocketStream) -> None:
        accept = await _read_request_and_accept(stream)
        await stream.send_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              b"X-Note: folded\r\n  over two lines\r\nSec-WebSocket-Accept: " + accept +
                              b"\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n" + b"\x81\x05hello")
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, odd_csms, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        with trio.fail_after(10):
            async with open_station_websocket(f"ws://127.0.0.1:{port}/ocpp", "CS3",
                                              subprotocols=(V201.subprotocol, V16.subprotocol)) as (websocket, version):
                assert websocket.through_h11 and version is V16
                assert await websocket.get_message() == "hello"  # (sent with the 101: kept for the reader)
                await websocket.abort()
        nursery.cancel_scope.cancel()


async def test_a_message_right_behind_the_fast_101_is_read_at_once() -> None:
    async def quick_csms(stream: trio.SocketStream) -> None:
        accept = await _read_request_and_accept(stream)
        await stream.send_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n"
                              b"\x81\x05early")
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, quick_csms, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        with trio.fail_after(10):
            async with open_station_websocket(f"ws://127.0.0.1:{port}/ocpp", "CS4") as (websocket, _):
                assert not websocket.through_h11
                assert await websocket.get_message() == "early"  # (nothing else comes to wake the reader)
                await websocket.abort()
        nursery.cancel_scope.cancel()
