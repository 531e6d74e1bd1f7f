"""The stations table: a line-API view of :class:`~fleet.tui.model.StationTableModel`.

It renders only the lines on screen, straight from the model's plain rows, so a
refresh costs the same with 20 stations or 20,000. The cursor follows the
selected station (by id) across refreshes, filters and sorts.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from ..model import COLUMNS, STATES, StationTableModel
from .line_view import CursorLines

__all__ = ["StationsTable"]

_GAP = 1
TABLE_WIDTH = sum(c.width for c in COLUMNS) + _GAP * (len(COLUMNS) - 1)


def _fit(text: str, width: int, right: bool) -> str:
    if len(text) > width:
        return text[: width - 1] + "…" if width > 1 else text[:width]
    return text.rjust(width) if right else text.ljust(width)


class StationsTable(CursorLines, can_focus=True):
    """The stations, one line each; ``enter`` opens the station under the cursor."""

    STYLE_PREFIX: ClassVar[str] = "stations-table"

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "stations-table--header",
        "stations-table--cursor",
        "stations-table--error",
        *(f"stations-table--{state}" for state in STATES),
    }

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select", "open", show=True)]

    class Selected(Message):
        """The user opened a station (``enter``)."""

        def __init__(self, station_id: str) -> None:
            super().__init__()
            self.station_id = station_id

    def __init__(self, model: StationTableModel, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.model = model
        self.selected_id: str | None = None
        self.last_render_ms = 0.0

    # ---------------------------------------------------------------- data

    def refresh_rows(self) -> None:
        """The model changed: keep the cursor on the selected station and redraw."""
        view = self.model.view
        selected = self.selected_id
        if selected is not None and not (self.cursor < len(view) and view[self.cursor].id == selected):
            index = self.model.index_of(selected)  # it moved: look it up (a dict of the view, built once)
            if index is not None:
                self.cursor = index
        self.cursor = max(0, min(self.cursor, len(view) - 1))
        self.selected_id = view[self.cursor].id if view else None
        self.virtual_size = Size(TABLE_WIDTH, len(view) + 1)
        self._scroll_cursor_into_view()
        self.refresh()

    def reset_cursor(self) -> None:
        """Back to the first line (after a new sort or filter)."""
        self.cursor = 0
        self.selected_id = None
        self.scroll_to(y=0, animate=False)
        self.refresh_rows()

    @property
    def current_id(self) -> str | None:
        """The station under the cursor."""
        view = self.model.view
        return view[self.cursor].id if 0 <= self.cursor < len(view) else None

    # -------------------------------------------------------------- actions

    def _row_count(self) -> int:
        return len(self.model.view)

    def _cursor_moved(self) -> None:
        self.selected_id = self.model.view[self.cursor].id

    def _view_height(self) -> int:
        return self.size.height

    def action_select(self) -> None:
        current = self.current_id
        if current is not None:
            self.post_message(self.Selected(current))

    # -------------------------------------------------------------- drawing

    def render_lines_timed(self) -> float:
        """Render every visible line once; return the time it took in ms (for measurements)."""
        started = time.perf_counter()
        for y in range(self.size.height):
            self.render_line(y)
        self.last_render_ms = (time.perf_counter() - started) * 1000
        return self.last_render_ms

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self._base_style()
        if y == 0:
            text = " ".join(_fit(c.title + self._sort_mark(c.key), c.width, c.right) for c in COLUMNS)
            strip = Strip([Segment(text, base + self._style("header"))], len(text))
            return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, base + self._style("header"))
        index = scroll_y + y - 1
        view = self.model.view
        if index >= len(view):
            return Strip.blank(width, base)
        row = view[index]
        row_style = base + self._style("cursor") if index == self.cursor else base
        segments = []
        for i, column in enumerate(COLUMNS):
            if i:
                segments.append(Segment(" ", row_style))
            text = _fit(column.text(row), column.width, column.right)
            if column.key == "state":
                segments.append(Segment(text, row_style + self._style(row.state) if row.state in STATES else row_style))
            elif column.key in ("last_error", "errors") and text.strip():
                segments.append(Segment(text, row_style + self._style("error")))
            else:
                segments.append(Segment(text, row_style))
        strip = Strip(segments, TABLE_WIDTH)
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, row_style)

    def _sort_mark(self, key: str) -> str:
        if key != self.model.sort_key:
            return ""
        return "▼" if self.model.reverse else "▲"
