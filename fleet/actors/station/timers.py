"""The station's named timers (version-free): one deadline per name, fired by the main loop.

A timer is ``name -> (at, callback)`` in trio time; setting a name again replaces it. The
station's main loop sleeps until :meth:`Timers.next_at` (or its mailbox), then fires what
is due. Names are the station's (``"heartbeat"``, ``("atg", evse_id)``, ``("fault", ...)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Timers"]


class Timers:
    """Named one-shot timers."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        #: name -> (trio time it fires, callback)
        self.entries: dict[Any, tuple[float, Callable[[], None]]] = {}

    def __contains__(self, name: Any) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[Any]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def set(self, name: Any, at: float, callback: Callable[[], None]) -> None:
        """Fire ``callback`` at ``at`` (replaces the timer ``name``)."""
        self.entries[name] = (at, callback)

    def cancel(self, name: Any) -> None:
        self.entries.pop(name, None)

    def due(self, now: float) -> list[Any]:
        """The names of the timers due at ``now`` (in the order they were set)."""
        return [name for name, (at, _) in self.entries.items() if at <= now]

    def pop(self, name: Any) -> tuple[float, Callable[[], None]] | None:
        """Take the timer ``name`` out (to fire it); ``None`` if it was cancelled meanwhile."""
        return self.entries.pop(name, None)

    def next_at(self, deadline: float) -> float:
        """The earliest of ``deadline`` and every timer's time."""
        for at, _ in self.entries.values():
            if at < deadline:
                deadline = at
        return deadline

    def keep_only(self, keep: Callable[[Any], bool]) -> None:
        """Cancel every timer whose name ``keep`` refuses (a reboot keeps a few)."""
        for name in [name for name in self.entries if not keep(name)]:
            del self.entries[name]
