"""Sleepers and the run's alarm clock: a wait ends when woken or at its own deadline (never
at an earlier one it left behind), waits can be cancelled and moved earlier, and waiting
again and again does not grow the clock's heap."""

from __future__ import annotations

import math

import pytest
import trio
import trio.testing

from fleet.net.alarm_clock import Sleeper, _clock


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_a_wait_ends_at_its_deadline(clock: trio.testing.MockClock) -> None:
    sleeper = Sleeper()
    assert await sleeper.wait(trio.current_time() + 5.0) is False
    assert trio.current_time() == pytest.approx(5.0)


async def test_a_wake_ends_the_wait_early() -> None:
    sleeper = Sleeper()
    woken: list[bool] = []

    async def wait() -> None:
        woken.append(await sleeper.wait(trio.current_time() + 3600.0))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait)
        await trio.testing.wait_all_tasks_blocked()
        assert sleeper.waiting
        sleeper.wake()
    assert woken == [True]
    assert not sleeper.waiting
    sleeper.wake()  # nobody waits: nothing happens


async def test_a_later_wait_is_not_ended_by_the_earlier_deadline_it_left_behind(clock: trio.testing.MockClock) -> None:
    sleeper = Sleeper()
    ended: list[tuple[bool, float]] = []

    async def wait(deadline: float) -> None:
        ended.append((await sleeper.wait(deadline), trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait, 10.0)
        await trio.sleep(1.0)
        sleeper.wake()
    assert ended == [(True, 1.0)]
    await wait(20.0)  # its entry at 10 s comes due first and is filed again for 20 s
    assert ended[-1] == (False, pytest.approx(20.0))


async def test_an_earlier_deadline_than_the_one_filed_is_kept(clock: trio.testing.MockClock) -> None:
    sleeper = Sleeper()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sleeper.wait, 50.0)
        await trio.sleep(1.0)
        sleeper.wake()
    assert await sleeper.wait(5.0) is False
    assert trio.current_time() == pytest.approx(5.0)


async def test_end_by_moves_a_wait_earlier_and_never_later(clock: trio.testing.MockClock) -> None:
    sleeper = Sleeper()
    ended: list[float] = []

    async def wait() -> None:
        await sleeper.wait(100.0)
        ended.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait)
        await trio.sleep(1.0)
        sleeper.end_by(200.0)  # later: ignored
        sleeper.end_by(30.0)
    assert ended == [pytest.approx(30.0)]


async def test_a_cancelled_wait_leaves_the_sleeper_usable(clock: trio.testing.MockClock) -> None:
    sleeper = Sleeper()
    with trio.move_on_after(1.0) as scope:
        await sleeper.wait(5.0)
    assert scope.cancelled_caught and not sleeper.waiting
    await trio.sleep(10.0)  # its entry at 5 s comes due with nobody waiting
    assert await sleeper.wait(20.0) is False
    assert trio.current_time() == pytest.approx(20.0)


async def test_a_deadline_already_past_ends_the_wait_at_once_at_a_checkpoint() -> None:
    sleeper = Sleeper()
    assert await sleeper.wait(trio.current_time() - 1.0) is False
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await sleeper.wait(trio.current_time() - 1.0)


async def test_one_task_waits_on_a_sleeper_at_a_time() -> None:
    sleeper = Sleeper()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sleeper.wait, math.inf)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await sleeper.wait(math.inf)
        sleeper.wake()


async def test_many_sleepers_end_in_deadline_order_and_the_heap_stays_small(clock: trio.testing.MockClock) -> None:
    sleepers = [Sleeper() for _ in range(200)]
    ended: list[int] = []

    async def wait(n: int) -> None:
        sleeper = sleepers[n]
        for _ in range(50):  # woken 50 times before its deadline, each wait wanting a later one
            async with trio.open_nursery() as nursery:
                nursery.start_soon(sleeper.wait, 1000.0 + n + trio.current_time())
                await trio.sleep(0.001)
                sleeper.wake()
        assert await sleeper.wait(1000.0 + n) is False
        ended.append(n)

    async with trio.open_nursery() as nursery:
        for n in reversed(range(200)):
            nursery.start_soon(wait, n)
        await trio.sleep(0.5)
        assert len(_clock()._heap) <= 2 * len(sleepers)
    assert ended == list(range(200))
