"""A plain table of text rows that draws only the lines on screen (any number of rows).

The CSMS screen lists up to every connected station (20,000 and more): a
``DataTable`` builds a renderable per cell and measures every row when rows are
added, which takes seconds at that size. This table keeps the rows as tuples
of strings, draws the visible ones straight into strips, and replaces them in
one assignment. The cursor follows its row (by the first column) across
updates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from .line_view import CursorLines

__all__ = ["VirtualTable"]


def _fit(text: str, width: int) -> str:
    if len(text) > width:
        return text[: width - 1] + "…" if width > 1 else text[:width]
    return text.ljust(width)


class VirtualTable(CursorLines, can_focus=True):
    """Rows of text under a header of ``columns`` ((title, width) pairs; the last one takes
    what is left). ``enter`` posts :class:`VirtualTable.Selected` with the row's first cell."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"virtual-table--header", "virtual-table--cursor"}
    STYLE_PREFIX: ClassVar[str] = "virtual-table"

    DEFAULT_CSS = """
    VirtualTable { background: $surface; }
    VirtualTable > .virtual-table--header { text-style: bold; background: $panel; color: $text-accent; }
    VirtualTable > .virtual-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    VirtualTable:blur > .virtual-table--cursor { background: $block-cursor-blurred-background; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select", "open", show=False)]

    class Selected(Message):
        """The user chose a row (``enter``): ``key`` is its first cell."""

        def __init__(self, table: VirtualTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(self, columns: Sequence[tuple[str, int]], *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.rows: list[tuple[str, ...]] = []
        self.selected_key: str | None = None
        self._widths = [width for _, width in self.columns]

    # ---------------------------------------------------------------- data

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def current_key(self) -> str | None:
        """The first cell of the row under the cursor."""
        return self.rows[self.cursor][0] if 0 <= self.cursor < len(self.rows) else None

    def set_rows(self, rows: list[tuple[str, ...]]) -> None:
        """Show ``rows`` (the list is kept, not copied); the cursor stays on its row if it is still there."""
        if rows == self.rows:
            return
        self.rows = rows
        key = self.selected_key
        if key is not None and not (self.cursor < len(rows) and rows[self.cursor][0] == key):
            found = next((i for i, row in enumerate(rows) if row[0] == key), None)
            if found is not None:
                self.cursor = found
        self.cursor = max(0, min(self.cursor, len(rows) - 1))
        self.selected_key = self.current_key
        self.virtual_size = Size(sum(self._widths) + len(self._widths) - 1, len(rows) + 1)
        self._scroll_cursor_into_view()
        self.refresh()

    # -------------------------------------------------------------- actions

    def _row_count(self) -> int:
        return len(self.rows)

    def _cursor_moved(self) -> None:
        self.selected_key = self.current_key

    def action_select(self) -> None:
        key = self.current_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    # -------------------------------------------------------------- drawing

    def _line(self, cells: Sequence[str], width: int) -> str:
        widths = self._widths
        last = max(widths[-1], width - sum(widths[:-1]) - len(widths) + 1)
        return " ".join(_fit(cell, w) for cell, w in zip(cells, [*widths[:-1], last], strict=False))

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self._base_style()
        if y == 0:
            style = base + self._style("header")
            text = self._line([title for title, _ in self.columns], width)
            return Strip([Segment(text, style)]).crop(scroll_x, scroll_x + width).extend_cell_length(width, style)
        index = scroll_y + y - 1
        if index >= len(self.rows):
            return Strip.blank(width, base)
        style = base + self._style("cursor") if index == self.cursor else base
        text = self._line(self.rows[index], width)
        return Strip([Segment(text, style)]).crop(scroll_x, scroll_x + width).extend_cell_length(width, style)
