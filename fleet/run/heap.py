"""Garbage-collector policy of the worker processes: keep collections off the latency path.

A worker holds thousands of connections, each a chain of suspended coroutines,
cancel scopes, channels and deadline entries that is torn down and rebuilt every
time a frame or a timer wakes it. That makes many objects that live for seconds,
and CPython's automatic collector handles them badly: its trigger counts
allocations *minus deallocations*, so while old chains die as fast as new ones are
built the count stays low, the young generation grows to hundreds of thousands of
objects, and when a collection finally runs it stalls the process. Measured in a
20,000-station run (``profiles/realistic-fleet.toml``): young collections of
100k-700k objects taking 200-900 ms each, and full collections of 1-4 s in the
CSMS processes — the latency spikes were exactly those pauses.

The policy, for the whole life of a worker: the automatic collector is off; a
task (:func:`collect_young`) collects the youngest generation every 50 ms (what
was allocated since and is still alive; measured in a station worker at 20,000
stations: p50 0.1-2 ms, p99 up to 15 ms; a 20 ms period made them shorter but
left the latency figures where they were). What survives that is never collected again in a run: it is
stations, connections and suspended calls, freed by reference counting when
they go. Collecting it too was tried: the middle generation every second took
100-300 ms a time at 20,000 stations, since it holds every chain rebuilt in that
second. Only cyclic garbage older than 50 ms waits (reference cycles are made by
exceptions, and most die young); a CSMS process collects everything once when
half its connections went away (a restart, a mass disconnect:
:func:`collect_after_exodus`), during the outage that caused it.

Measured with ``fleet run profiles/realistic-fleet.toml --csms-workers 2
--heartbeat-interval 60 --duration 60`` on 2 cores: steady-state p99 2.5-2.8 s
before (station processes: frozen after the ramp, thresholds 50,000/50/1,000;
CSMS processes: the default collector), 76 ms with this policy.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

import trio

__all__ = ["collect_after_exodus", "collect_young", "hold_heap"]


def hold_heap() -> None:
    """Turn the automatic collector off (for good: :func:`collect_young` takes over)."""
    gc.disable()


async def collect_young(*, period: float = 0.05) -> None:
    """Collect the youngest generation every ``period`` seconds. Runs until cancelled."""
    hold_heap()
    while True:
        await trio.sleep(period)
        gc.collect(0)


async def collect_after_exodus(population: Callable[[], int], *, interval: float = 1.0, share: float = 0.5) -> None:
    """Collect every generation once when ``population()`` (e.g. a CSMS's connections)
    falls by more than ``share`` from its peak since the last such collection. Runs
    until cancelled."""
    peak = population()
    while True:
        await trio.sleep(interval)
        size = population()
        if size < peak * (1 - share):
            gc.collect()
            peak = size
        peak = max(peak, size)
