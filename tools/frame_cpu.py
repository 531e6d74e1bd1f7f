"""CPU time per call/answer round trip over fleet's websockets (the data frames), each side apart.

    python tools/frame_cpu.py --tree <dir> [--tree <dir>...] [--connections 200] [--calls 200]
        [--size 300] [--rounds 5]

Starts fleet's CSMS edge (``serve_ocpp``, answering each message with one of the same
size) in one process and the stations' side (``--connections`` websockets to
``ws://127.0.0.1``, all open before the measure) in another. Each station sends a text
message of ``--size`` bytes and waits for its answer, ``--calls`` times, all stations at
once. Each process measures its own CPU time (``time.process_time``: the machine may be
shared, wall time is not the measure) over the calls only (after one warm-up call per
station), divided by the number of round trips.

Each ``--tree`` is a directory holding a ``fleet`` package (e.g. ``git archive <commit> fleet
| tar -x -C <dir>``), imported through ``PYTHONPATH``. Rounds run every tree in turn, the
order alternating, and the medians are printed, so the trees share the machine's load alike.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

import trio

from fleet.net.transport import open_station_websocket, serve_ocpp
from fleet.net.websocket import ConnectionClosed
from fleet.ocpp import V201


async def _serve(connections: int, calls: int, size: int) -> None:
    answer = "a" * size
    received = 0
    start = 0.0
    done = trio.Event()

    async def on_station(station: Any) -> None:
        websocket = station.websocket
        with contextlib.suppress(ConnectionClosed):  # (the stations' process ends without closing)
            await _answer(websocket)

    async def _answer(websocket: Any) -> None:
        nonlocal received, start
        while True:
            await websocket.get_message()
            received += 1
            if received == connections:  # (the last warm-up call: the measure starts)
                start = time.process_time()
            await websocket.send_message(answer)
            if received == connections * (calls + 1):
                done.set()

    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_ocpp, on_station, "127.0.0.1", 0)
        print(port, flush=True)
        await done.wait()
        print(f"{(time.process_time() - start) * 1e6 / (connections * calls):.2f}", flush=True)
        nursery.cancel_scope.cancel()


async def _stations(port: int, connections: int, calls: int, size: int) -> None:
    url = f"ws://127.0.0.1:{port}/ocpp"
    call = "c" * size
    websockets: list[Any] = []
    limiter = trio.CapacityLimiter(50)
    async with AsyncExitStack() as held:

        async def connect(index: int) -> None:
            async with limiter:
                websocket, _ = await held.enter_async_context(
                    open_station_websocket(url, f"CS{index}", subprotocols=(V201.subprotocol,)))
                await websocket.send_message(call)  # (warm-up)
                await websocket.get_message()
                websockets.append(websocket)

        async with trio.open_nursery() as nursery:
            for index in range(connections):
                nursery.start_soon(connect, index)

        async def talk(websocket: Any) -> None:
            for _ in range(calls):
                await websocket.send_message(call)
                await websocket.get_message()

        start = time.process_time()
        async with trio.open_nursery() as nursery:
            for websocket in websockets:
                nursery.start_soon(talk, websocket)
        print(f"{(time.process_time() - start) * 1e6 / (connections * calls):.2f}", flush=True)
        os._exit(0)  # (no closing handshakes in the measure)


def _round(tree: str, args: argparse.Namespace) -> tuple[float, float]:
    """(stations, CSMS) CPU microseconds per round trip, one run of both processes on ``tree``."""
    env = {**os.environ, "PYTHONPATH": os.path.abspath(tree)}
    me = [sys.executable, __file__, "--connections", str(args.connections), "--calls", str(args.calls),
          "--size", str(args.size)]
    server = subprocess.Popen([*me, "--role", "server"], stdout=subprocess.PIPE, text=True, env=env)
    assert server.stdout is not None
    try:
        port = server.stdout.readline().strip()
        client = subprocess.run([*me, "--role", "client", "--port", port], capture_output=True, text=True,
                                check=True, env=env)
        return float(client.stdout), float(server.stdout.readline())
    finally:
        server.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", help="a directory holding a fleet package (repeat to compare)")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--calls", type=int, default=200, help="round trips per connection")
    parser.add_argument("--size", type=int, default=300, help="bytes of each message")
    parser.add_argument("--rounds", type=int, default=5, help="runs of every tree; the medians are printed")
    parser.add_argument("--role", choices=("server", "client"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "server":
        trio.run(_serve, args.connections, args.calls, args.size)
        return
    if args.role == "client":
        trio.run(_stations, args.port, args.connections, args.calls, args.size)
        return
    trees = args.tree or ["."]
    results: dict[str, list[tuple[float, float]]] = {tree: [] for tree in trees}
    for number in range(args.rounds):
        for tree in trees if number % 2 == 0 else trees[::-1]:
            results[tree].append(_round(tree, args))
    print(f"{args.connections} connections x {args.calls} calls of {args.size} bytes, {args.rounds} round(s); "
          "CPU per round trip (median, and the rounds' range):")
    for tree, runs in results.items():
        stations = [r[0] for r in runs]
        csms = [r[1] for r in runs]
        print(f"  {tree}: stations {statistics.median(stations):.1f} us ({min(stations):.1f}-{max(stations):.1f}), "
              f"CSMS {statistics.median(csms):.1f} us ({min(csms):.1f}-{max(csms):.1f})")


if __name__ == "__main__":
    main()
