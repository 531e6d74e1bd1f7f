"""Fan-out of events to subscribers, without ever blocking the publisher.

Each subscriber gets a bounded trio memory channel. A subscriber that falls
behind loses events (counted in ``dropped``) rather than slowing the actor down.
Publishing with no subscribers costs one attribute check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

import trio

__all__ = ["EventHub"]

T = TypeVar("T")


class EventHub(Generic[T]):
    """A publish/subscribe point owned by one actor."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[trio.MemorySendChannel[T], Callable[[T], bool] | None]] = []
        self.dropped = 0

    @property
    def active(self) -> bool:
        """Whether anyone listens (publishers skip building events when not)."""
        return bool(self._subscribers)

    def publish(self, event: T) -> None:
        """Hand ``event`` to every subscriber whose filter accepts it; never blocks."""
        closed = []
        for channel, accept in self._subscribers:
            if accept is not None and not accept(event):
                continue
            try:
                channel.send_nowait(event)
            except trio.WouldBlock:
                self.dropped += 1
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                closed.append(channel)
        if closed:
            self._subscribers = [s for s in self._subscribers if s[0] not in closed]

    @asynccontextmanager
    async def subscribe(
        self, *, buffer: int = 1024, accept: Callable[[T], bool] | None = None
    ) -> AsyncIterator[trio.MemoryReceiveChannel[T]]:
        """Receive events while the context is open.

        Args:
            buffer: events kept for a slow reader before new ones are dropped.
            accept: a filter; only events for which it returns true are delivered.
        """
        send, receive = trio.open_memory_channel[T](buffer)
        entry = (send, accept)
        self._subscribers.append(entry)
        try:
            async with receive:
                yield receive
        finally:
            if entry in self._subscribers:
                self._subscribers.remove(entry)
            send.close()
