"""The base of the dashboard's line-API views: cached component styles, and a row cursor.

The stations table, the CSMS screen's table and the frame log draw their visible
lines straight into strips. :class:`LineView` gives them their component styles
looked up once per style update (not once per line drawn); :class:`CursorLines`
adds the cursor of a table with a one-line header (up/down, pages, first/last),
kept in view as it moves.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from textual.binding import Binding, BindingType
from textual.scroll_view import ScrollView

__all__ = ["CursorLines", "LineView"]


class LineView(ScrollView):
    """A view drawn line by line; ``_style(name)`` is its component style
    ``<STYLE_PREFIX>--<name>``."""

    STYLE_PREFIX: ClassVar[str] = ""

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._styles: dict[str, Style] = {}

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(f"{self.STYLE_PREFIX}--{name}", partial=True)
        return style

    def _base_style(self) -> Style:
        """The widget's own style (``rich_style`` walks the ancestors: once per style update, not per line)."""
        style = self._styles.get("")
        if style is None:
            style = self._styles[""] = self.rich_style
        return style


class CursorLines(LineView):
    """Rows under a one-line header, with a cursor. Subclasses say how many rows there
    are (:meth:`_row_count`) and remember the row under the cursor (:meth:`_cursor_moved`)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "up", show=False),
        Binding("down", "cursor(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "jump(0)", "first", show=False),
        Binding("end", "jump(-1)", "last", show=False),
    ]

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.cursor = 0

    def _row_count(self) -> int:
        raise NotImplementedError

    def _cursor_moved(self) -> None:
        """The cursor is on another row (remember which)."""

    def _view_height(self) -> int:
        """Lines of the view, the header included."""
        return self.scrollable_content_region.height

    def _move_to(self, index: int) -> None:
        count = self._row_count()
        if not count:
            return
        self.cursor = max(0, min(index, count - 1))
        self._cursor_moved()
        self._scroll_cursor_into_view()
        self.refresh()

    def _scroll_cursor_into_view(self) -> None:
        visible = max(1, self._view_height() - 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False)

    def action_cursor(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_page(self, step: int) -> None:
        self._move_to(self.cursor + step * max(1, self._view_height() - 2))

    def action_jump(self, index: int) -> None:
        self._move_to(index if index >= 0 else self._row_count() - 1)
