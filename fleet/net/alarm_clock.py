"""Waits that end at a deadline, for thousands of tasks, without a cancel scope each.

A station's main loop waits for its mailbox until its next timer, and a caller waits for
its answer until its CALL times out; a worker holds thousands of both and they wait
again after every message. With ``trio.move_on_at`` every such wait opens a cancel scope
(a scope, its cancel status, a registered deadline) and a deadline that passes raises
and catches ``Cancelled``: about 6 µs a wait on this machine kind, and a tenth of a
station worker's time in a 20,000-station ramp.

Here a waiting task parks itself (``wait_task_rescheduled``) and leaves its deadline in
one heap per trio run, which one system task watches with one cancel scope. A wait that
ends early leaves its heap entry behind; the entry is dropped when its time comes, and a
:class:`Sleeper` pushes a new one only when a wait wants an *earlier* deadline than the
one it has in the heap (when the entry comes due and the wait wants a later one, it is
filed again). So each sleeper keeps about one entry, however often it waits.

The clock is a system task (``trio.lowlevel.spawn_system_task``), started by the first
wait with a deadline in a run and ended with it: like trio's own deadline bookkeeping, it
belongs to the run rather than to any one actor. A wake-up at a deadline comes one
scheduler batch after trio's would.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Any

import trio

__all__ = ["Sleeper"]


class Sleeper:
    """One task's waits: each ends when another task :meth:`wake`\\ s it or at a deadline.

    A wake-up is a nudge, not a message: what the task waits for (a queued message, an
    answer) lives with its owner, who checks it after every wait. A wake-up while nobody
    waits does nothing.
    """

    __slots__ = ("_armed", "_late", "_task", "_wanted")

    def __init__(self) -> None:
        self._task: trio.lowlevel.Task | None = None
        self._wanted = math.inf  # the current wait's deadline
        self._armed = math.inf  # this sleeper's live entry in the clock's heap (inf: none)
        self._late = False  # the current wait ended at its deadline

    @property
    def waiting(self) -> bool:
        """A task is waiting on this sleeper now."""
        return self._task is not None

    async def wait(self, deadline: float = math.inf) -> bool:
        """Wait until woken (``True``) or until ``deadline`` (``False``). A checkpoint
        either way, and cancellable.

        Raises:
            trio.BusyResourceError: another task is waiting on this sleeper.
        """
        if self._task is not None:
            raise trio.BusyResourceError("another task is waiting on this sleeper")
        if deadline < self._armed:
            if deadline <= trio.current_time():
                await trio.lowlevel.checkpoint()
                return False
            _clock().arm(self, deadline)
        self._wanted = deadline
        self._late = False
        self._task = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort)
        return not self._late

    def _abort(self, _: Any) -> trio.lowlevel.Abort:
        self._task = None
        return trio.lowlevel.Abort.SUCCEEDED

    def wake(self) -> None:
        """End the current wait (if any) early."""
        task = self._task
        if task is not None:
            self._task = None
            trio.lowlevel.reschedule(task)

    def end_by(self, deadline: float) -> None:
        """End the current wait (if any) at ``deadline`` if that is earlier than its own."""
        if self._task is not None and deadline < self._wanted:
            self._wanted = deadline
            if deadline < self._armed:
                _clock().arm(self, deadline)

    def _ring(self, now: float) -> float:
        """The clock's turn at this sleeper's entry: end the wait if its deadline passed;
        else the wait's deadline (to file again; ``inf``: nothing to file)."""
        self._armed = math.inf
        task = self._task
        if task is None:
            return math.inf
        if self._wanted <= now:
            self._task = None
            self._late = True
            trio.lowlevel.reschedule(task)
            return math.inf
        return self._wanted


class _AlarmClock:
    """The heap of a run's deadlines and the system task that rings them."""

    __slots__ = ("_heap", "_next", "_order", "_scope")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Sleeper]] = []
        self._order = itertools.count()  # ties in the heap never compare sleepers
        self._next = math.inf  # what the clock task sleeps until
        self._scope: trio.CancelScope | None = None

    def arm(self, sleeper: Sleeper, deadline: float) -> None:
        sleeper._armed = deadline
        heapq.heappush(self._heap, (deadline, next(self._order), sleeper))
        if deadline < self._next:
            self._next = deadline
            if self._scope is not None:
                self._scope.deadline = deadline

    async def run(self) -> None:
        heap = self._heap
        while True:
            with trio.CancelScope(deadline=self._next) as self._scope:
                await trio.sleep_forever()
            self._scope = None
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                deadline, _, sleeper = heapq.heappop(heap)
                if sleeper._armed != deadline:
                    continue  # filed again, earlier, since
                later = sleeper._ring(now)
                if later != math.inf:  # (later than now: this pass will not see it again)
                    sleeper._armed = later
                    heapq.heappush(heap, (later, next(self._order), sleeper))
            self._next = heap[0][0] if heap else math.inf


_CLOCK: trio.lowlevel.RunVar[_AlarmClock] = trio.lowlevel.RunVar("fleet_alarm_clock")


def _clock() -> _AlarmClock:
    try:
        return _CLOCK.get()
    except LookupError:
        clock = _AlarmClock()
        _CLOCK.set(clock)
        trio.lowlevel.spawn_system_task(clock.run, name="fleet alarm clock")
        return clock
