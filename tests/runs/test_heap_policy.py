"""The worker's garbage-collector policy (fleet.run.heap): collect the young generation,
or freeze it while collections find nothing."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Awaitable, Callable

import trio
import trio.testing

from fleet.run.heap import (
    BARREN_SHARE,
    LARGE_YOUNG,
    PROBE_EVERY,
    YoungPolicy,
    collect_after_exodus,
    collect_young,
)


def _run_barren(policy: YoungPolicy, periods: int, young: int = LARGE_YOUNG * 4) -> list[bool]:
    """Feed ``periods`` periods of a large young generation from which nothing is reclaimed."""
    decisions = []
    for _ in range(periods):
        collect = policy.collect_now()
        decisions.append(collect)
        if collect:
            policy.collected(young, 0)
    return decisions


def test_a_worker_starts_by_freezing_and_its_first_period_is_a_probe() -> None:
    policy = YoungPolicy()
    assert policy.freezing
    assert policy.collect_now() is True  # the first period is a probe
    policy.collected(10, 0)  # a small young generation: growth is over, collect from now on
    assert not policy.freezing
    assert all(policy.collect_now() for _ in range(50))


def test_barren_collections_of_a_large_young_generation_turn_to_freezing_with_probes() -> None:
    policy = YoungPolicy()
    policy.collect_now()
    policy.collected(10, 0)
    assert not policy.freezing
    decisions = _run_barren(policy, 3)
    assert decisions == [True, True, True]
    assert policy.freezing
    decisions = _run_barren(policy, PROBE_EVERY * 3)
    assert decisions.count(True) == 3  # one probe every PROBE_EVERY periods
    assert decisions[PROBE_EVERY - 1] and not any(decisions[: PROBE_EVERY - 1])


def test_a_probe_that_finds_garbage_returns_to_collecting() -> None:
    policy = YoungPolicy()
    _run_barren(policy, PROBE_EVERY)
    assert policy.freezing
    young = LARGE_YOUNG * 4
    while not policy.collect_now():
        pass
    policy.collected(young, young // BARREN_SHARE + 1)
    assert not policy.freezing
    assert policy.collect_now()


def test_garbage_is_not_barren_even_in_a_large_young_generation() -> None:
    policy = YoungPolicy()
    policy.collect_now()
    policy.collected(10, 0)
    young = LARGE_YOUNG * 4
    for _ in range(10):
        assert policy.collect_now()
        policy.collected(young, young // 10)
    assert not policy.freezing


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _run_and_restore_the_collector(main: Callable[[], Awaitable[None]]) -> None:
    """Run ``main`` under trio's MockClock, then give the test process its collector back."""
    try:
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    finally:
        gc.unfreeze()
        gc.enable()


def _cycle(finalized: list[int], n: int) -> None:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    weakref.finalize(a, finalized.append, n)


def test_collect_young_freezes_what_lives_while_growing_then_reclaims_cycles() -> None:
    """The real collector under the policy: a worker that keeps many live objects freezes
    them (they leave the collector's sight); once the growth is over a probe returns to
    collecting and cyclic garbage is reclaimed again."""
    kept: list[list[int]] = []
    finalized: list[int] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(collect_young)
            # Growing: every period leaves many live containers and no garbage.
            for _ in range(PROBE_EVERY * 2):
                kept.extend([i] for i in range(LARGE_YOUNG * 2))
                await trio.sleep(0.05)
            assert gc.get_freeze_count() >= LARGE_YOUNG * 2
            # Then a cycle every period: a probe sees the growth is over, and cycles go again.
            for n in range(PROBE_EVERY * 3):
                _cycle(finalized, n)
                await trio.sleep(0.05)
                if finalized:
                    break
            assert finalized
            first = finalized[0]
            # Collecting now: a new cycle is reclaimed at the next period.
            _cycle(finalized, -1)
            await trio.sleep(0.1)
            assert -1 in finalized, (first, finalized)
            nursery.cancel_scope.cancel()

    _run_and_restore_the_collector(main)


def test_after_an_exodus_everything_is_collected_but_not_while_half_remain() -> None:
    """A CSMS process collects the frozen objects too once its connections are nearly all
    gone, not when half of them are (a run's stations wind down one by one)."""
    population = [1000]
    finalized: list[int] = []

    async def main() -> None:
        gc.disable()
        _cycle(finalized, 1)
        gc.freeze()  # a cycle among frozen objects: only the exodus collection sees it
        async with trio.open_nursery() as nursery:
            nursery.start_soon(collect_after_exodus, lambda: population[0])
            await trio.sleep(1.5)
            population[0] = 500
            await trio.sleep(5)
            assert finalized == []
            population[0] = 50
            await trio.sleep(1.5)
            assert finalized == [1]
            nursery.cancel_scope.cancel()

    _run_and_restore_the_collector(main)
