"""The shared waiting helper: returns what it waited for, and fails saying what and what it last saw.

Timers drive these tests, so they run on trio's MockClock (``autojump_clock``): seconds of
waiting take no real time.
"""

from __future__ import annotations

import itertools

import pytest
import trio
from waiting import wait_until


async def test_returns_the_first_true_value_as_soon_as_it_comes(autojump_clock: trio.testing.MockClock) -> None:
    seen: list[int] = []

    async def produce() -> None:
        for i in range(5):
            await trio.sleep(1)
            seen.append(i)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(produce)
        # [2] and not [2, 3]: it returned within a poll period of the value, not a second later
        assert await wait_until(lambda: [i for i in seen if i >= 2], timeout=10) == [2]


async def test_an_async_predicate_is_awaited(autojump_clock: trio.testing.MockClock) -> None:
    calls: list[float] = []

    async def third_look() -> str | None:
        calls.append(trio.current_time())
        await trio.sleep(0)
        return "ready" if len(calls) >= 3 else None

    assert await wait_until(third_look, period=0.5) == "ready"  # virtual seconds: exact
    assert [round(b - a, 3) for a, b in itertools.pairwise(calls)] == [0.5, 0.5]


async def test_timeout_fails_with_what_was_awaited_and_the_last_value(autojump_clock: trio.testing.MockClock) -> None:
    count = [0]

    def counted() -> int:
        count[0] += 1
        return 0

    with pytest.raises(AssertionError) as failure:
        await wait_until(counted, timeout=2, what="the counter to move", show=lambda: {"looks": count[0]})
    message = str(failure.value)
    assert message.startswith("waited 2 s for the counter to move; last observed: 0; {'looks': ")
    assert count[0] > 100  # it kept looking until the deadline


async def test_without_what_the_predicate_source_says_what_was_awaited(autojump_clock: trio.testing.MockClock) -> None:
    box: list[str] = []
    with pytest.raises(AssertionError, match=r"waited 1 s for .*lambda: box.*; last observed: \[\]"):
        await wait_until(lambda: box, timeout=1)


async def test_an_exception_of_the_predicate_is_not_swallowed(autojump_clock: trio.testing.MockClock) -> None:
    def broken() -> bool:
        raise KeyError("gone")

    with pytest.raises(KeyError):
        await wait_until(broken)
