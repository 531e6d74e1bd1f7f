"""Where a station's bytes go: tracemalloc by part, in the stations' process and in the CSMS's.

    python tools/station_bytes.py --stations 1000 [--settle 20] [--json out.json]

Runs the realistic mix (30% ``profiles/realistic-charging.toml``, 70% ``realistic-idle.toml``,
60 s heartbeat) against the built-in CSMS in a child process, both tracing their allocations
from before the first station starts. Once every station is online and the charging ones had
``--settle`` seconds to start their sessions, both take a snapshot; what the stations added is
grouped by part (the innermost frame of each allocation that names one, see ``PARTS``) and
divided by the number of stations. RSS growth per station is printed beside it (tracing itself
costs memory, so RSS is measured in a run without it: ``--no-trace``).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import trio

from fleet.actors.csms import Csms
from fleet.actors.station import Station, load_profile
from fleet.metrics import Metrics
from fleet.run.wire import rss_bytes

ROOT = Path(__file__).resolve().parent.parent
#: The part that is one per process, whatever the number of stations (the metrics' histograms).
FIXED = "metrics (one per process, not per station)"

#: (path fragment, part): the first frame, innermost first, whose file contains a fragment
#: names the part of an allocation. A task's coroutine is allocated by trio's spawn.
PARTS: tuple[tuple[str, str], ...] = (
    ("trio/_core/_run.py", "tasks (trio tasks, coroutine frames, cancel scopes)"),
    ("fleet/net/websocket.py", "socket and websocket"),
    ("fleet/net/transport.py", "socket and websocket"),
    ("wsproto/", "socket and websocket"),
    ("trio/_socket.py", "socket and websocket"),
    ("trio/_highlevel", "socket and websocket"),
    ("fleet/ocpp/", "session (OCPP core: pending calls, codec)"),
    ("fleet/net/connection.py", "connection (OCPP over the websocket)"),
    ("fleet/net/hub.py", "actor"),
    ("device_model.py", "device model / configuration"),
    ("configuration.py", "device model / configuration"),
    ("hardware.py", "EVSE state"),
    ("timers.py", "timers"),
    ("outbox.py", "outbox"),
    ("driver.py", "session driver (vehicle, sessions)"),
    ("fleet/actors/station/", "actor"),
    ("fleet/actors/csms/", "CSMS records and connections"),
    ("fleet/metrics.py", FIXED),
)


def part_of(trace: tracemalloc.Traceback) -> tuple[str, str]:
    """The part of an allocation and the line (file:line) that names it."""
    for frame in reversed(trace):  # a Traceback runs from the oldest frame to the most recent
        name = frame.filename.replace("\\", "/")
        for fragment, part in PARTS:
            if fragment in name:
                return part, f"{name.rsplit('/', 2)[-2]}/{name.rsplit('/', 1)[-1]}:{frame.lineno}"
    return "other", ""


def breakdown(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, stations: int,
              lines: int = 0) -> dict[str, float]:
    """Bytes per station by part; with ``lines``, the top lines of each part are printed to stderr."""
    parts: Counter[str] = Counter()
    by_line: Counter[tuple[str, str]] = Counter()
    for stat in after.compare_to(before, "traceback"):
        part, line = part_of(stat.traceback)
        parts[part] += stat.size_diff
        by_line[part, line] += stat.size_diff
    for (part, line), size in by_line.most_common(lines):
        print(f"{size / stations:10,.0f} B  {part}: {line}", file=sys.stderr)
    return {part: size / stations for part, size in parts.most_common()}


async def serve_csms() -> None:
    """The child: a CSMS; prints its URL, a breakdown on each line read ("N"), stops at EOF."""
    csms = Csms("127.0.0.1", 0, observer=Metrics(), heartbeat_interval=60)
    trace = "--no-trace" not in sys.argv
    async with trio.open_nursery() as nursery:
        await nursery.start(csms.run)
        gc.collect()
        if trace:
            tracemalloc.start(30)
            before = tracemalloc.take_snapshot()
        rss0 = rss_bytes()
        print(csms.url, flush=True)
        stdin = trio.lowlevel.FdStream(0)
        buffer = b""
        while True:
            chunk = await stdin.receive_some()
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                n = int(line)
                gc.collect()
                result: dict[str, Any] = {"rss_per_station": (rss_bytes() - rss0) / n}
                if trace:
                    result["traced_per_station"] = breakdown(before, tracemalloc.take_snapshot(), n)
                print(json.dumps(result), flush=True)
        nursery.cancel_scope.cancel()


async def run_stations(args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--serve-csms"] + (["--no-trace"] if args.no_trace else [])
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    url = child.stdout.readline().strip()
    charging = load_profile(ROOT / "profiles" / "realistic-charging.toml")
    idle = load_profile(ROOT / "profiles" / "realistic-idle.toml")
    n = args.stations
    gc.collect()
    if not args.no_trace:
        tracemalloc.start(30)
        before = tracemalloc.take_snapshot()
    rss0 = rss_bytes()
    metrics = Metrics()  # one per process, as in a station worker
    stations: list[Station] = []
    async with trio.open_nursery() as nursery:
        for i in range(n):
            profile = charging if i % 10 < 3 else idle
            station = Station(f"M{i:06d}", url, profile=profile, seed=i, observer=metrics, audit=True)
            stations.append(station)
            nursery.start_soon(station.run)
            if i % 100 == 99:
                await trio.sleep(0.05)
        started = time.monotonic()
        while (online := sum(1 for s in stations if s.online())) < n:
            print(f"{online} of {n} online", file=sys.stderr, flush=True)
            await trio.sleep(2.0)
        online_s = time.monotonic() - started
        print(f"all online; {args.settle:g} s to settle", file=sys.stderr, flush=True)
        await trio.sleep(args.settle)
        gc.collect()
        result: dict[str, Any] = {
            "stations": n,
            "charging": sum(1 for s in stations if any(e.tx is not None for e in s.evses)),
            "online_after_s": round(online_s, 1),
            "station_process": {"rss_per_station": (rss_bytes() - rss0) / n},
        }
        if not args.no_trace:
            result["station_process"]["traced_per_station"] = breakdown(
                before, tracemalloc.take_snapshot(), n, args.lines)
            tracemalloc.stop()
        child.stdin.write(f"{n}\n")
        child.stdin.flush()
        result["csms_process"] = json.loads(await trio.to_thread.run_sync(child.stdout.readline))
        child.stdin.close()
        for station in stations:
            nursery.start_soon(station.shutdown, 2.0)
    child.wait(10)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--lines", type=int, default=0, help="print the N lines that allocate most (stations)")
    parser.add_argument("--no-trace", action="store_true", help="RSS only (tracing costs memory of its own)")
    parser.add_argument("--serve-csms", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_csms:
        trio.run(serve_csms)
        return
    result = trio.run(run_stations, args)
    for role in ("station_process", "csms_process"):
        figures = result[role]
        print(f"{role}: RSS {figures['rss_per_station']:,.0f} B/station")
        for part, size in figures.get("traced_per_station", {}).items():
            print(f"  {size:10,.0f} B  {part}")
        if "traced_per_station" in figures:
            per_station = sum(size for part, size in figures["traced_per_station"].items() if part != FIXED)
            print(f"  {per_station:10,.0f} B  per station in all (traced, without the fixed part)")
    print(f"{result['stations']} stations, {result['charging']} charging, online after {result['online_after_s']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
