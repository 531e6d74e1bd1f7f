"""A live OCPP frame log: bounded, pausable, searchable, a line-API view.

Frames arrive as subscription events; :meth:`FrameLog.add` stores one line per
frame (nothing is rendered per frame: the view redraws at most a few times a second).
"""

from __future__ import annotations

import datetime
from collections import deque
from typing import ClassVar

import msgspec
from rich.segment import Segment
from textual.geometry import Size
from textual.strip import Strip

from ...control.messages import ControlEvent
from .line_view import LineView

__all__ = ["FrameLog", "format_event"]

_ARROWS = {"in": "←", "out": "→"}


def format_event(event: ControlEvent) -> str:
    """One log line: time, direction, kind, action, the raw frame (or the connection change)."""
    at = datetime.datetime.fromtimestamp(event.at).strftime("%H:%M:%S.%f")[:-3] if event.at else "--:--:--"
    if event.frame is not None:
        frame = msgspec.json.encode(event.frame).decode()
        return f"{at} {_ARROWS.get(event.direction or '', '·')} {event.kind:<8} {event.action or '':<26} {frame}"
    extra = event.reason or event.ocpp_version or ""
    return f"{at} · {event.kind:<8} {extra}"


class FrameLog(LineView, can_focus=True):
    """The frames of one station, newest last; follows the end unless paused."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"frame-log--in", "frame-log--out", "frame-log--match", "frame-log--other"}
    STYLE_PREFIX: ClassVar[str] = "frame-log"

    def __init__(self, limit: int = 5000, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.lines: deque[tuple[str, str]] = deque(maxlen=limit)
        self.paused = False
        self.search = ""
        self._shown: list[tuple[str, str]] = []
        self._dirty = False
        self.text_width = 0

    def add(self, event: ControlEvent) -> None:
        """Store one event (cheap; the view catches up at :meth:`flush`)."""
        self.lines.append((event.direction or "other", format_event(event)))
        self._dirty = True

    def on_mount(self) -> None:
        self.set_interval(0.25, self.flush)

    def flush(self) -> None:
        """Redraw if frames arrived (unless paused)."""
        if self._dirty and not self.paused:
            self._rebuild()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            self._rebuild()

    def set_search(self, text: str) -> None:
        self.search = text.strip()
        self._rebuild()

    def shown_text(self) -> str:
        """The lines shown (search applied), for copying or saving."""
        return "\n".join(line for _, line in self._shown)

    def _rebuild(self) -> None:
        self._dirty = False
        needle = self.search.lower()
        self._shown = [entry for entry in self.lines if needle in entry[1].lower()] if needle else list(self.lines)
        self.text_width = max((len(line) for _, line in self._shown[-500:]), default=0)
        at_end = self.scroll_y >= self.max_scroll_y - 1
        self.virtual_size = Size(max(self.text_width, 1), len(self._shown))
        if at_end and not self.paused:
            self.scroll_end(animate=False, immediate=True)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if index >= len(self._shown):
            return Strip.blank(width, base)
        direction, line = self._shown[index]
        style = base + self._style(direction if direction in ("in", "out") else "other")
        strip = Strip([Segment(line, style)], len(line))
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, base)
