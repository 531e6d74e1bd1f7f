"""A station's mailbox: commands for its main loop, from any task of the same trio run.

An unbounded queue with one receiver (the main loop). It does what the station needed of
``trio.open_memory_channel(math.inf)`` in about a tenth of the bytes: a channel's state,
its two ends and their task registries were about 1.7 KB per station, and a worker holds
thousands of stations.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import trio

__all__ = ["Mailbox"]

T = TypeVar("T")


class Mailbox(Generic[T]):
    """Messages in the order they were put; one task receives them."""

    __slots__ = ("_closed", "_items", "_receiver")

    def __init__(self) -> None:
        self._items: list[T] = []
        self._receiver: trio.lowlevel.Task | None = None
        self._closed = False

    def put(self, message: T) -> None:
        """Queue ``message`` (never blocks).

        Raises:
            trio.ClosedResourceError: the mailbox was closed.
        """
        if self._closed:
            raise trio.ClosedResourceError("the mailbox is closed")
        self._items.append(message)
        receiver = self._receiver
        if receiver is not None:
            self._receiver = None
            trio.lowlevel.reschedule(receiver)

    def get_nowait(self) -> T:
        """The oldest message.

        Raises:
            trio.WouldBlock: there is none.
        """
        if not self._items:
            raise trio.WouldBlock
        return self._items.pop(0)

    async def get(self) -> T:
        """The oldest message, waiting for one (a checkpoint either way)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._items:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return self._items.pop(0)
        if self._receiver is not None:
            raise trio.BusyResourceError("another task is receiving from this mailbox")
        self._receiver = trio.lowlevel.current_task()

        def abort(_: Any) -> trio.lowlevel.Abort:
            self._receiver = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)
        return self._items.pop(0)

    def close(self) -> None:
        """Refuse further messages (what is queued stays readable)."""
        self._closed = True

    def __len__(self) -> int:
        return len(self._items)
