"""The supervisor<->worker wire: a worker's status never waits behind bulk data.

Real TCP on 127.0.0.1. No timing goes into the assertions: the order in which the
messages arrive, and whether a send let other tasks run, decide.
"""

from __future__ import annotations

import trio
import trio.testing

from fleet.run.wire import CHUNK, ControlReply, Status, WireStream


async def _tcp_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listeners[0].accept()
    await listeners[0].aclose()
    return client, server


def _status(n: int) -> Status:
    return Status(index=0, role="stations", metrics={"completed": n}, at=float(n))


async def test_a_status_overtakes_a_large_message_that_the_peer_has_not_read() -> None:
    worker_end, supervisor_end = await _tcp_pair()
    worker, supervisor = WireStream(worker_end), WireStream(supervisor_end)
    # More than the socket buffers hold: its writer waits for the supervisor to read.
    bulk = ControlReply(7, result=bytes(range(256)) * (128 * 1024))
    async with worker_end, supervisor_end, trio.open_nursery() as nursery:
        nursery.start_soon(worker.send, bulk)
        await trio.testing.wait_all_tasks_blocked()  # the bulk writer waits for a full socket
        nursery.start_soon(worker.send, _status(1))
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(worker.send, _status(2))
        with trio.fail_after(20):
            received = [await supervisor.receive() for _ in range(3)]
    assert [type(m).__name__ for m in received] == ["Status", "Status", "ControlReply"]
    assert [m.metrics["completed"] for m in received[:2]] == [1, 2]  # type: ignore[union-attr]
    assert received[2] == bulk  # whole and intact, its parts around the statuses


async def test_a_status_is_written_without_letting_other_tasks_run_first() -> None:
    """A worker whose loop is saturated waits a whole round of the scheduler at each
    checkpoint: its status must go out without one."""
    worker_end, supervisor_end = await _tcp_pair()
    worker, supervisor = WireStream(worker_end), WireStream(supervisor_end)
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    async with worker_end, supervisor_end, trio.open_nursery() as nursery:
        nursery.start_soon(other)  # runs at this task's next checkpoint
        await worker.send(_status(3))
        ran.append("status sent")
        with trio.fail_after(10):
            message = await supervisor.receive()
    assert ran == ["status sent", "other"]
    assert isinstance(message, Status) and message.metrics == {"completed": 3}


async def test_large_messages_go_in_parts_and_arrive_whole_in_both_directions() -> None:
    a_end, b_end = await _tcp_pair()
    a, b = WireStream(a_end), WireStream(b_end)
    sizes = [0, 1, CHUNK - 20, CHUNK, 3 * CHUNK + 5]
    async with a_end, b_end, trio.open_nursery() as nursery:

        async def send_all() -> None:
            for n, size in enumerate(sizes):
                await a.send(ControlReply(n, result=b"y" * size))

        nursery.start_soon(send_all)
        with trio.fail_after(10):
            got = [await b.receive() for _ in sizes]
        await b.send(ControlReply(99, result=b"z" * (2 * CHUNK)))
        with trio.fail_after(10):
            back = await a.receive()
    assert [(m.id, len(m.result)) for m in got] == list(enumerate(sizes))  # type: ignore[union-attr]
    assert isinstance(back, ControlReply) and back.result == b"z" * (2 * CHUNK)


async def test_send_now_writes_a_status_from_synchronous_code_or_leaves_it_to_the_writer() -> None:
    """The worker's stations send its status between two calls (no await there): written at
    once on a free stream, else sent by the writer of the large message before its next part."""
    worker_end, supervisor_end = await _tcp_pair()
    worker, supervisor = WireStream(worker_end), WireStream(supervisor_end)
    bulk = ControlReply(8, result=b"b" * (32 * 1024 * 1024))
    async with worker_end, supervisor_end, trio.open_nursery() as nursery:
        worker.send_now(_status(1))
        with trio.fail_after(10):
            first = await supervisor.receive()
        nursery.start_soon(worker.send, bulk)
        await trio.testing.wait_all_tasks_blocked()
        worker.send_now(_status(2))
        with trio.fail_after(20):
            received = [await supervisor.receive() for _ in range(2)]
    assert isinstance(first, Status) and first.metrics == {"completed": 1}
    assert [type(m).__name__ for m in received] == ["Status", "ControlReply"]
    assert received[0].metrics == {"completed": 2} and received[1] == bulk  # type: ignore[union-attr]
