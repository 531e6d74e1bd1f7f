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
task (:func:`collect_young`) looks at the youngest generation every 50 ms (what
was allocated since and is still alive; measured in a station worker at 20,000
stations: p50 0.1-2 ms, p99 up to 15 ms; a 20 ms period made them shorter but
left the latency figures where they were). What survives that is frozen
(:func:`gc.freeze`: moved out of the collector's sight at no cost, still freed by
reference counting) and never collected again in a run: it is stations,
connections and suspended calls, freed by reference counting when they go.
Collecting it too was tried: the middle generation every second took 100-300 ms a
time at 20,000 stations, since it holds every chain rebuilt in that second; and
left in the middle generation, it made the one collection of everything after a
mass disconnect take 6.2-6.4 s in a CSMS process of 12,500 connections. Only
cyclic garbage older than 50 ms waits (reference cycles are made by exceptions,
and most die young; closing connections leave none: 500 stations and their CSMS
connections shut down, then a collection of everything, frozen objects included,
reclaimed 0 objects); a CSMS process collects everything once when its
connections are nearly all gone (a restart, the end of a run:
:func:`collect_after_exodus`), during the outage that caused it.

While a worker grows (its ramp: thousands of connections a second, each leaving
coroutines, sockets and buffers that live as long as the station), those young
collections examine every new object once and find almost nothing: in a
20,000-station run (``fleet run profiles/realistic-fleet.toml --csms-workers 2
--duration 5``) each station worker spent 4.2-4.6 s of CPU in them, 15% of all it
spent, and reclaimed 450-580 objects in all. So the young generation is frozen
without being collected while collections are barren (:class:`YoungPolicy`):
after three collections of a large young generation in a row that reclaim almost
nothing, the collector only freezes, and collects one period's worth every
:data:`PROBE_EVERY` periods as a probe; the first probe that finds garbage (or a
small young generation: the growth is over) returns to collecting. What a probe
finds estimates what freezing kept: at most one object in :data:`BARREN_SHARE` of
the frozen ones.

Measured with ``fleet run profiles/realistic-fleet.toml --csms-workers 2
--heartbeat-interval 60 --duration 60`` on 2 cores: steady-state p99 2.5-2.8 s
before (station processes: frozen after the ramp, thresholds 50,000/50/1,000;
CSMS processes: the default collector), 76 ms with this policy.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

import trio

__all__ = ["BARREN_SHARE", "PROBE_EVERY", "YoungPolicy", "collect_after_exodus", "collect_young", "hold_heap"]

#: A young generation smaller than this is cheap to collect: always collected.
LARGE_YOUNG = 5_000
#: A collection is barren when it reclaims fewer than one object in this many it looked at.
BARREN_SHARE = 1_000
#: Barren collections in a row before the policy freezes instead.
BARREN_IN_A_ROW = 3
#: While freezing, every this many periods one is collected as a probe.
PROBE_EVERY = 10


class YoungPolicy:
    """Decides, period after period, whether the young generation is collected before it
    is frozen or only frozen.

    Pure bookkeeping (no :mod:`gc` calls): :meth:`collect_now` says whether to collect
    this period, :meth:`collected` is told what a collection reclaimed. It starts by freezing (what a worker allocates before its first period
    is its modules and its plan: all kept for its life).
    """

    __slots__ = ("_barren", "_since_probe", "freezing")

    def __init__(self) -> None:
        self.freezing = True
        self._barren = 0
        self._since_probe = PROBE_EVERY - 1  # the first period is a probe

    def collect_now(self) -> bool:
        """``True``: collect the young generation now; ``False``: only freeze it."""
        if not self.freezing:
            return True
        self._since_probe += 1
        if self._since_probe >= PROBE_EVERY:
            self._since_probe = 0
            return True
        return False

    def collected(self, young: int, reclaimed: int) -> None:
        """A collection of ``young`` objects reclaimed ``reclaimed`` of them."""
        barren = young >= LARGE_YOUNG and reclaimed * BARREN_SHARE < young
        if self.freezing:
            if not barren:
                self.freezing = False
                self._barren = 0
            return
        self._barren = self._barren + 1 if barren else 0
        if self._barren >= BARREN_IN_A_ROW:
            self.freezing = True
            self._since_probe = 0


def hold_heap() -> None:
    """Turn the automatic collector off (for good: :func:`collect_young` takes over)."""
    gc.disable()


async def collect_young(*, period: float = 0.05) -> None:
    """Every ``period`` seconds collect the youngest generation (unless collections are
    barren: :class:`YoungPolicy`) and freeze what is left. Runs until cancelled."""
    hold_heap()
    policy = YoungPolicy()
    while True:
        await trio.sleep(period)
        if policy.collect_now():
            young = gc.get_count()[0]
            policy.collected(young, gc.collect(0))
        gc.freeze()


async def collect_after_exodus(population: Callable[[], int], *, interval: float = 1.0, share: float = 0.9) -> None:
    """Collect everything, the frozen objects included, once when ``population()`` (e.g. a
    CSMS's connections) falls by more than ``share`` from its peak since the last such
    collection (then freeze what is left). Runs until cancelled.

    Nearly all gone, not half: the collection takes seconds at thousands of connections,
    and while half of them are still there (the stations of a run winding down one by
    one) it would hold them."""
    peak = population()
    while True:
        await trio.sleep(interval)
        size = population()
        if size < peak * (1 - share):
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            peak = size
        peak = max(peak, size)
