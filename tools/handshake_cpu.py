"""CPU time per station connection (TCP connect + websocket opening handshake), each side apart.

    PYTHONPATH=<tree> python tools/handshake_cpu.py [--connections 2000] [--concurrency 50] [--rounds 1]

Starts fleet's CSMS edge (``serve_ocpp``) in one process and the stations' side
(``open_station_websocket`` to ``ws://127.0.0.1``, ``--concurrency`` at a time, every
connection kept open as in a ramp) in another, and prints each process's CPU time
(``time.process_time``: the machine may be shared, wall time is not the measure) from
before the first connection to after the last, divided by the number of connections.
No closing handshakes are measured: the client process exits once all are open. Run it
on two trees (``git archive <commit> fleet | tar -x -C <dir>``, ``PYTHONPATH``) to compare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

import trio

from fleet.net.transport import open_station_websocket, serve_ocpp
from fleet.ocpp import V16, V201


async def _serve(connections: int) -> None:
    accepted = 0
    done = trio.Event()

    async def on_station(station: Any) -> None:
        nonlocal accepted
        accepted += 1
        if accepted == connections:
            done.set()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_ocpp, on_station, "127.0.0.1", 0)
        start = time.process_time()
        print(port, flush=True)
        await done.wait()
        print(f"{(time.process_time() - start) * 1e6 / connections:.1f}", flush=True)
        nursery.cancel_scope.cancel()


async def _connect(port: int, connections: int, concurrency: int) -> None:
    url = f"ws://127.0.0.1:{port}/ocpp"
    limiter = trio.CapacityLimiter(concurrency)
    start = time.process_time()
    async with AsyncExitStack() as held:

        async def one(index: int) -> None:
            async with limiter:
                await held.enter_async_context(
                    open_station_websocket(url, f"CS{index}", subprotocols=(V201.subprotocol, V16.subprotocol)))

        async with trio.open_nursery() as nursery:
            for index in range(connections):
                nursery.start_soon(one, index)
        print(f"{(time.process_time() - start) * 1e6 / connections:.1f}", flush=True)
        os._exit(0)  # (every connection still open: no closing handshakes in the measure)


def _round(connections: int, concurrency: int) -> tuple[float, float]:
    """(client, server) CPU microseconds per connection, one run of both processes."""
    me = [sys.executable, __file__, "--connections", str(connections), "--concurrency", str(concurrency)]
    server = subprocess.Popen([*me, "--role", "server"], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    try:
        port = server.stdout.readline().strip()
        client = subprocess.run([*me, "--role", "client", "--port", port], capture_output=True, text=True, check=True)
        return float(client.stdout), float(server.stdout.readline())
    finally:
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1, help="runs of both processes; the median is printed")
    parser.add_argument("--role", choices=("server", "client"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "server":
        trio.run(_serve, args.connections)
        return
    if args.role == "client":
        trio.run(_connect, args.port, args.connections, args.concurrency)
        return
    rounds = [_round(args.connections, args.concurrency) for _ in range(args.rounds)]
    client = statistics.median(r[0] for r in rounds)
    server = statistics.median(r[1] for r in rounds)
    print(f"{args.connections} connections, {args.rounds} round(s), CPU per connection (median): "
          f"stations {client:.0f} us, CSMS {server:.0f} us")


if __name__ == "__main__":
    main()
