"""Python function calls per steady-state OCPP message: a deterministic measure of the hot path.

    PYTHONPATH=<tree> python tools/calls_per_message.py [--stations 200] [--window 10] [--top 40]

Runs the realistic mix (30% ``profiles/realistic-charging.toml``, 70% ``realistic-idle.toml``)
against the built-in CSMS in one process, the protocol timings 30 times faster. Once every
station is online it counts calls with cProfile over ``--window`` seconds and divides by the
CALLs the CSMS received meanwhile: wall-clock latency on a shared machine moves with the
other load, this count does not (it varies by a few percent with how the scheduler batches
wake-ups). Run it on two trees (``git worktree add``, ``PYTHONPATH``) to compare commits.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import trio

from fleet.actors.csms import Csms
from fleet.actors.station import Station
from fleet.metrics import Metrics

try:
    from fleet.actors.station import load_profile
except ImportError:  # (trees before the dialects: the profile loader was in fleet.profiles)
    from fleet.profiles import load_profile  # type: ignore[attr-defined,no-redef]

ROOT = Path(__file__).resolve().parent.parent
SPEED = 30.0


async def measure(args: argparse.Namespace) -> None:
    charging = load_profile(ROOT / "profiles" / "realistic-charging.toml")
    idle = load_profile(ROOT / "profiles" / "realistic-idle.toml")
    csms = Csms("127.0.0.1", 0, observer=Metrics(), heartbeat_interval=60)
    metrics = Metrics()
    async with trio.open_nursery() as nursery:
        await nursery.start(csms.run)
        stations = []
        for i in range(args.stations):
            station = Station(f"S{i:05d}", csms.url, profile=charging if i % 10 < 3 else idle, seed=i,
                              observer=metrics, audit=True, speed=SPEED, protocol_speed=SPEED)
            stations.append(station)
            nursery.start_soon(station.run)
        started = time.monotonic()
        while sum(1 for s in stations if s.online()) < args.stations:
            await trio.sleep(0.2)
        await trio.sleep(2.0)  # the charging ones start their sessions
        print(f"online after {time.monotonic() - started:.1f} s", file=sys.stderr)
        before = dict(csms.statistics().messages)
        profile = cProfile.Profile()
        profile.enable()
        await trio.sleep(args.window)
        profile.disable()
        after = dict(csms.statistics().messages)
        received = {action: n - before.get(action, 0) for action, n in after.items() if n - before.get(action, 0)}
        messages = max(1, sum(received.values()))
        stats = pstats.Stats(profile)
        print(f"{args.stations} stations, {args.window:g} s: {sum(received.values())} messages {received}")
        print(f"calls per message: {stats.total_calls / messages:.1f}")  # type: ignore[attr-defined]
        rows = sorted(((n, func) for func, (_, n, _, _, _) in stats.stats.items()), reverse=True)  # type: ignore[attr-defined]
        for n, (filename, line, name) in rows[: args.top]:
            where = filename.split("/fleet/")[-1] if "/fleet/" in filename else filename.rsplit("/", 1)[-1]
            print(f"{n / messages:8.2f}  {where}:{line}({name})")
        for station in stations:
            nursery.start_soon(station.shutdown, 2.0)
        await trio.sleep(2.5)
        nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--top", type=int, default=40, help="functions listed, by calls per message")
    trio.run(measure, parser.parse_args())


if __name__ == "__main__":
    main()
