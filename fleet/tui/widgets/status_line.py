"""One line of status under a screen: connection, counts, timings."""

from __future__ import annotations

from textual.widgets import Static

__all__ = ["StatusLine"]


class StatusLine(Static):
    """A short status text (set with :meth:`show`)."""

    def show(self, text: str) -> None:
        self.update(text)
