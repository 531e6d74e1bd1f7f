"""One line of status under a screen: connection, counts, timings."""

from __future__ import annotations

from textual.widgets import Static

__all__ = ["StatusLine"]


class StatusLine(Static):
    """A short status text (set with :meth:`show`)."""

    _text: str | None = None

    def show(self, text: str) -> None:
        """Show ``text``; one line that never changes size, so no layout pass (the screen's is costly)."""
        if text != self._text:
            self._text = text
            self.update(text, layout=False)
