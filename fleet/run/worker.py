"""A worker process of a fleet run: a shard of the stations, or one CSMS process.

Started by the supervisor as ``python -m fleet.run.worker --control HOST:PORT
--role stations|csms --index I``. It connects back to the supervisor, receives its
:class:`~fleet.run.wire.Assign`, runs its part under trio, reports a
:class:`~fleet.run.wire.Status` about once a second, and on :class:`~fleet.run.wire.Stop`
(or when the supervisor goes away) winds down cleanly and sends
:class:`~fleet.run.wire.Final_`. Control commands the supervisor forwards
(:class:`~fleet.run.wire.ControlRequest`) are answered by a
:class:`~fleet.run.fleet_backend.WorkerControl` over the worker's actors.

Its soft limit of open files is raised to the hard one first (see :mod:`fleet.run.capacity`).

Garbage collection follows :mod:`fleet.run.heap`: the automatic collector is off
and a task collects the youngest generation on a clock, in pauses of about a
millisecond, so collections stay out of the latency figures, and freezes what
survives (only freezing while the worker grows and collections find nothing).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import trio

from .capacity import raise_open_files_limit
from .fleet_backend import WorkerControl
from .heap import collect_young
from .wire import Assign, ControlRequest, Hello, Stop, WireStream

__all__ = ["main"]

async def _serve(control: str, role: str, index: int) -> None:
    host, _, port = control.rpartition(":")
    stream = await trio.open_tcp_stream(host, int(port))
    wire = WireStream(stream)
    await wire.send(Hello(role=role, index=index, pid=os.getpid()))
    message = await wire.receive()
    if not isinstance(message, Assign):
        return
    stop = trio.Event()
    stop_info: dict[str, float] = {}  # the Stop's timeout, if it set one
    commands = WorkerControl(wire)

    async def listen() -> None:
        while True:
            try:
                incoming = await wire.receive()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ValueError):
                incoming = None  # (a msgspec.DecodeError is a ValueError: the stream is garbled)
            if isinstance(incoming, ControlRequest):
                commands.handle(incoming)
                continue
            if incoming is None or isinstance(incoming, Stop):
                if isinstance(incoming, Stop) and incoming.timeout is not None and not stop.is_set():
                    stop_info["timeout"] = incoming.timeout
                stop.set()
                if incoming is None:
                    return  # Stop: keep answering control commands while winding down

    async with trio.open_nursery() as nursery:
        nursery.start_soon(collect_young)
        await nursery.start(commands.run)
        nursery.start_soon(listen)
        if role == "csms":
            from .csms_worker import run_csms_worker

            await run_csms_worker(wire, message, index, stop, commands)
        else:
            from .station_worker import run_station_worker

            await run_station_worker(wire, message, index, stop, commands, stop_info)
        nursery.cancel_scope.cancel()
    await wire.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fleet.run.worker")
    parser.add_argument("--control", required=True)
    parser.add_argument("--role", choices=("stations", "csms"), required=True)
    parser.add_argument("--index", type=int, required=True)
    args = parser.parse_args(argv)
    # The supervisor decides when to stop: Ctrl-C in the terminal (or a SIGTERM to the
    # group) reaches every process, so workers ignore both and wait for the supervisor's
    # Stop (it kills them when a stop runs out of time; a worker whose supervisor is gone
    # winds down by itself).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise_open_files_limit()  # one socket per station: the run's process counts assume the hard limit
    try:
        trio.run(_serve, args.control, args.role, args.index)
    except (OSError, trio.BrokenResourceError) as exc:
        print(f"fleet worker {args.role}/{args.index}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
