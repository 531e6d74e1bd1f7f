"""A station's mailbox: commands for its main loop, from any task of the same trio run.

An unbounded queue with one receiver (the main loop). It does what the station needed of
``trio.open_memory_channel(math.inf)`` in about a tenth of the bytes: a channel's state,
its two ends and their task registries were about 1.7 KB per station, and a worker holds
thousands of stations. The receiver may wait until a deadline (its next timer) without a
cancel scope (:meth:`Mailbox.get_until`, a :class:`~fleet.net.alarm_clock.Sleeper`).
"""

from __future__ import annotations

import math
from typing import Generic, TypeVar

import trio

from ...net.alarm_clock import Sleeper

__all__ = ["Mailbox"]

T = TypeVar("T")


class Mailbox(Generic[T]):
    """Messages in the order they were put; one task receives them."""

    __slots__ = ("_closed", "_items", "_receiver")

    def __init__(self) -> None:
        self._items: list[T] = []
        self._receiver = Sleeper()
        self._closed = False

    def put(self, message: T) -> None:
        """Queue ``message`` (never blocks).

        Raises:
            trio.ClosedResourceError: the mailbox was closed.
        """
        if self._closed:
            raise trio.ClosedResourceError("the mailbox is closed")
        self._items.append(message)
        self._receiver.wake()

    def get_nowait(self) -> T:
        """The oldest message.

        Raises:
            trio.WouldBlock: there is none.
        """
        if not self._items:
            raise trio.WouldBlock
        return self._items.pop(0)

    async def get(self) -> T:
        """The oldest message, waiting for one (a checkpoint either way).

        Raises:
            trio.BusyResourceError: another task is receiving from this mailbox.
        """
        message = await self.get_until(math.inf)
        assert message is not None
        return message

    async def get_until(self, deadline: float) -> T | None:
        """The oldest message, waiting for one until ``deadline`` (``None`` if that passes
        first, so no message may be ``None``). A checkpoint either way.

        Raises:
            trio.BusyResourceError: another task is receiving from this mailbox.
        """
        items = self._items
        if items:
            await trio.lowlevel.checkpoint()
            return items.pop(0)
        while not items:
            if not await self._receiver.wait(deadline):
                break
        return items.pop(0) if items else None

    def close(self) -> None:
        """Refuse further messages (what is queued stays readable)."""
        self._closed = True

    def __len__(self) -> int:
        return len(self._items)
