"""Closing the connections that stay silent: one task for all of a CSMS's connections.

A station that opens a websocket and sends no OCPP message within the CSMS's idle
timeout is closed (1008). A task per connection sleeping for that is about 3 KB of task,
coroutine frames and cancel scope per station, for as long as the timeout, which is the
whole of a big fleet's ramp; here each connection is one entry in a heap, and one task
sleeps until the earliest.
"""

from __future__ import annotations

import heapq
import itertools
from contextlib import suppress
from typing import Final

import trio

from ...net.connection import OcppConnection

__all__ = ["SilenceWatch"]

#: Seconds a silent connection's close may take (its closing handshake) before it is dropped anyway.
CLOSE_TIMEOUT: Final = 5.0


def silent(conn: OcppConnection) -> bool:
    """Whether the peer of ``conn`` has sent no OCPP message yet (nor an invalid frame, nor an
    answer to a CALL of ours)."""
    stats = conn.session.statistics()
    return not (stats.calls_received or stats.results_received or stats.violations or stats.failures > stats.timeouts)


class SilenceWatch:
    """Closes each watched connection whose peer sent no OCPP message within its timeout."""

    __slots__ = ("_added", "_order", "_watched")

    def __init__(self) -> None:
        #: (trio time it is looked at, order it came in, timeout, connection)
        self._watched: list[tuple[float, int, float, OcppConnection]] = []
        self._order = itertools.count()
        self._added: trio.Event | None = None

    def __len__(self) -> int:
        return len(self._watched)

    def watch(self, conn: OcppConnection, timeout: float) -> None:
        """Close ``conn`` (1008) if its peer sent no OCPP message in the next ``timeout`` seconds."""
        watched = self._watched
        heapq.heappush(watched, (trio.current_time() + timeout, next(self._order), timeout, conn))
        if self._added is not None and watched[0][3] is conn:  # (the watcher sleeps until a later one)
            self._added.set()

    async def run(self) -> None:
        """Watch until cancelled (closes run in tasks of their own: a slow one holds up no other)."""
        watched = self._watched
        async with trio.open_nursery() as closing:
            while True:
                if not watched:
                    self._added = trio.Event()
                    await self._added.wait()
                    self._added = None
                    continue
                at = watched[0][0]
                if at > trio.current_time():
                    with trio.move_on_at(at):
                        self._added = trio.Event()
                        await self._added.wait()  # (an earlier one may come: a shorter timeout)
                    self._added = None
                    continue
                _, _, timeout, conn = heapq.heappop(watched)
                if not conn.closed and silent(conn):
                    conn.close_reason = f"no OCPP message within {timeout:g} s"
                    closing.start_soon(_close, conn)


async def _close(conn: OcppConnection) -> None:
    with trio.move_on_after(CLOSE_TIMEOUT), suppress(Exception):
        await conn.aclose(1008, "no OCPP message")
