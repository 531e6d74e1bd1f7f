"""fleet.net.connect over real sockets on 127.0.0.1: an IP literal is connected directly (no task,
no resolver), with the socket options and the failures of trio.open_tcp_stream; a hostname still
goes through trio."""

from __future__ import annotations

import functools
import socket

import pytest
import trio
import trio.abc

from fleet.net.connect import ip_family, open_tcp
from fleet.net.transport import connect_failure_cause


class SpawnCounter(trio.abc.Instrument):
    """Counts the tasks trio starts while installed."""

    def __init__(self) -> None:
        self.spawned = 0

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        self.spawned += 1


async def _echo_once(stream: trio.SocketStream) -> None:
    await stream.send_all(await stream.receive_some(100))


def _options(stream: trio.SocketStream) -> dict[str, int]:
    names = ["TCP_NODELAY", "TCP_NOTSENT_LOWAT"]
    return {name: stream.socket.getsockopt(socket.IPPROTO_TCP, getattr(socket, name))
            for name in names if hasattr(socket, name)}


def test_ip_family_knows_literals_only() -> None:
    assert ip_family("127.0.0.1") == socket.AF_INET
    assert ip_family("::1") == socket.AF_INET6
    for host in ("localhost", "csms.example", "127.1", "fe80::1%lo", "", "[::1]"):
        assert ip_family(host) is None


async def test_an_ip_literal_connects_without_a_task_and_with_trios_options() -> None:
    with trio.socket.socket() as listener:  # (accepted by hand below: nothing else starts a task)
        await listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        counter = SpawnCounter()
        trio.lowlevel.add_instrument(counter)
        try:
            direct = await open_tcp("127.0.0.1", port)
            spawned_direct = counter.spawned
            reference = await trio.open_tcp_stream("127.0.0.1", port)
            spawned_by_trio = counter.spawned - spawned_direct
        finally:
            trio.lowlevel.remove_instrument(counter)
        assert spawned_direct == 0 and spawned_by_trio >= 1  # trio's happy eyeballs: a task per attempt
        accepted, _ = await listener.accept()
        with accepted, trio.fail_after(5):
            await direct.send_all(b"ping")
            assert await accepted.recv(100) == b"ping"
        assert _options(direct) == _options(reference) and _options(direct)["TCP_NODELAY"] == 1
        await direct.aclose()
        await reference.aclose()


async def test_a_refused_connection_fails_as_trio_says() -> None:
    with socket.socket() as bound:  # a port that is taken but does not listen: the kernel refuses
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with pytest.raises(OSError) as ours:
            await open_tcp("127.0.0.1", port)
        with pytest.raises(OSError) as theirs:
            await trio.open_tcp_stream("127.0.0.1", port)
    assert str(ours.value) == str(theirs.value) == f"all attempts to connect to 127.0.0.1:{port} failed"
    assert connect_failure_cause(ours.value) == connect_failure_cause(theirs.value) == "refused"


async def test_ipv6_literal_connects_directly() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        listeners = await trio.open_tcp_listeners(0, host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, _echo_once, listeners)
        stream = await open_tcp("::1", listeners[0].socket.getsockname()[1])
        with trio.fail_after(5):
            await stream.send_all(b"six")
            assert await stream.receive_some(100) == b"six"
        await stream.aclose()
        nursery.cancel_scope.cancel()


async def test_a_hostname_still_goes_through_trio() -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, _echo_once, 0, host="127.0.0.1"))
        with trio.fail_after(10):
            stream = await open_tcp("localhost", listeners[0].socket.getsockname()[1])
            await stream.send_all(b"name")
            assert await stream.receive_some(100) == b"name"
        await stream.aclose()
        nursery.cancel_scope.cancel()
