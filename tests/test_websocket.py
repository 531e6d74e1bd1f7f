"""fleet.net.websocket over real loopback sockets: messages, large writes, pings, closes, refusals."""

from __future__ import annotations

import functools

import pytest
import trio
import trio.testing
from websocket_pair import websocket_pair

from fleet.net.websocket import (
    ConnectionClosed,
    HandshakeRequest,
    Rejected,
    client_handshake,
    server_handshake,
)

LIMIT = 1024 * 1024


pair = functools.partial(websocket_pair, limit=LIMIT)


async def test_messages_both_ways_in_order_with_writes_larger_than_the_socket_buffer() -> None:
    big = "x" * 600_000  # larger than the kernel's socket buffers: the writer must wait for the reader
    async with pair() as (client, server):
        assert client.subprotocol == server.subprotocol == "ocpp2.0.1" and server.path == "/ocpp/CS1"
        received: list[str | bytes] = []

        async def read(n: int) -> None:
            for _ in range(n):
                received.append(await server.get_message())

        sent: list[str] = []

        async def send(tag: str) -> None:
            for i in range(3):
                await client.send_message(f"{tag}{i}" + big)
            sent.append(tag)

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(send, "a")
                nursery.start_soon(send, "b")  # a second sender queues behind the first
                await trio.testing.wait_all_tasks_blocked()  # each sender got as far as it can
                assert sent == []  # both are blocked on the full socket now
                nursery.start_soon(read, 6)
            await client.send_message(b"\x00\xff")
            assert await server.get_message() == b"\x00\xff"
            await server.send_message("answer")
            assert await client.get_message() == "answer"
        assert sorted(str(m)[:2] for m in received) == ["a0", "a1", "a2", "b0", "b1", "b2"]
        assert all(len(m) == len(big) + 2 for m in received)
        assert [m[:2] for m in received if str(m).startswith("a")] == ["a0", "a1", "a2"]  # each sender's order kept


async def test_an_open_websocket_keeps_no_handshake_machinery() -> None:
    """Both ends hold only wsproto's frame protocol once open (the h11 handshake is freed:
    about 2 KB of every connection), and still talk."""
    import gc
    import weakref

    from wsproto.connection import Connection

    async with pair() as (client, server):
        for websocket in (client, server):
            assert type(websocket._protocol) is Connection
        handshakes = [o for o in gc.get_objects() if type(o).__name__ == "H11Handshake"]
        alive = [weakref.ref(h) for h in handshakes]
        del handshakes
        await client.send_message("still talking")
        assert await server.get_message() == "still talking"
        gc.collect()
        assert all(ref() is None for ref in alive)


async def test_ping_is_answered_by_the_peers_reader() -> None:
    async with pair() as (client, server), trio.open_nursery() as nursery:
        nursery.start_soon(client.ping, b"p1")  # in flight: nobody reads at the server yet
        await trio.testing.wait_all_tasks_blocked()  # the ping is sent and waits for its pong
        with pytest.raises(ValueError):
            await client.ping(b"p1")  # the same payload twice at once
        nursery.start_soon(server.get_message)  # the server's reader answers the ping
        nursery.start_soon(client.get_message)  # ours receives the pong
        with trio.fail_after(5):
            await client.ping(b"p2")  # answers p1 as well
            await server.ping()
        nursery.cancel_scope.cancel()


async def test_a_sent_ping_is_only_noted_until_its_pong_comes() -> None:
    from waiting import wait_until

    async with pair() as (client, server):
        async with trio.open_nursery() as nursery:
            await client.send_ping(b"n1")  # returns once written: nobody waits for the pong
            await client.send_ping(b"n2")
            with pytest.raises(ValueError):
                await client.send_ping(b"n2")  # the same payload twice in flight
            await trio.testing.wait_all_tasks_blocked()
            assert not client.ping_answered(b"n1") and not client.ping_answered(b"n2")
            nursery.start_soon(server.get_message)  # the server's reader answers both
            nursery.start_soon(client.get_message)  # ours receives the pongs
            await wait_until(lambda: client.ping_answered(b"n2"), timeout=5)
            assert client.ping_answered(b"n1")  # (answered by its pong or the later one's)
            nursery.cancel_scope.cancel()
        await client.abort()
        with pytest.raises(ConnectionClosed):
            await client.send_ping(b"n3")


async def test_close_handshake_carries_code_and_reason_to_the_peer() -> None:
    async with pair() as (client, server):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.aclose, 4000, "bye")
            with pytest.raises(ConnectionClosed) as caught, trio.fail_after(5):
                await server.get_message()
        assert (caught.value.reason.code, caught.value.reason.reason) == (4000, "bye")
        assert client.closed is not None and client.closed.code == 4000
        with pytest.raises(ConnectionClosed):
            await client.send_message("late")
        with pytest.raises(ConnectionClosed):
            await server.ping()


async def test_a_message_over_the_limit_closes_with_1009() -> None:
    async with pair(limit=1000) as (client, server):
        await client.send_message("y" * 1001)
        with pytest.raises(ConnectionClosed) as at_server, trio.fail_after(5):
            await server.get_message()
        with pytest.raises(ConnectionClosed) as at_client, trio.fail_after(5):
            await client.get_message()
    assert at_server.value.reason.code == 1009 and at_client.value.reason.code == 1009


async def test_a_dropped_connection_is_1006_for_the_reader() -> None:
    async with pair() as (client, server):
        await client.stream.aclose()  # no websocket close: the TCP connection just ends
        with pytest.raises(ConnectionClosed) as caught, trio.fail_after(5):
            await server.get_message()
        assert caught.value.reason.code == 1006
        with pytest.raises(ConnectionClosed), trio.fail_after(5):
            await client.send_message("after the socket closed")


async def test_a_refused_handshake_gives_the_status_and_headers() -> None:
    async def handle(stream: trio.SocketStream) -> None:
        request = await server_handshake(stream, max_message_size=LIMIT)
        assert request is not None and request.headers[0][0] == request.headers[0][0].lower()
        await request.reject(401, extra_headers=[(b"www-authenticate", b'Basic realm="fleet"')], body=b"no\n")

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        with pytest.raises(Rejected) as caught, trio.fail_after(5):
            await client_handshake(stream, host=f"127.0.0.1:{port}", target="/ocpp/CS1", max_message_size=LIMIT)
        nursery.cancel_scope.cancel()
    assert caught.value.status_code == 401
    assert (b"www-authenticate", b'Basic realm="fleet"') in [(bytes(k).lower(), bytes(v)) for k, v in caught.value.headers]


async def test_garbage_instead_of_a_handshake_gets_400_and_a_closed_stream() -> None:
    results: list[HandshakeRequest | None] = []

    async def handle(stream: trio.SocketStream) -> None:
        results.append(await server_handshake(stream, max_message_size=LIMIT))

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
        stream = await trio.open_tcp_stream("127.0.0.1", listeners[0].socket.getsockname()[1])
        await stream.send_all(b"\x16\x03\x01 not http at all\r\n\r\n")
        answer = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 400")
        nursery.cancel_scope.cancel()
    assert results == [None]
