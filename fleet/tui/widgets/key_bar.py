"""The keys of the screen on one line at the bottom (what Textual's ``Footer`` shows).

Textual's ``Footer`` rebuilds itself, one widget per key, each styled by the CSS
engine, every time the bindings may have changed: at every focus change and
every screen switch. Measured with ``fleet bench --tui``, that rebuild cost more
than all the rest of a screen switch. This bar is one widget drawing one line
of text; it is redrawn only when the keys it shows change. A click on a key
presses it. When the keys do not fit the width, the bar shows those that do and
then the help key (``?``), which lists them all: it is never cut off mid-key.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

__all__ = ["HELP_KEY", "KeyBar"]

#: The key that lists every key of the screen (the bar keeps it when the others do not fit).
HELP_KEY = "question_mark"


class KeyBar(Widget):
    """The shown bindings of the screen's focus chain: ``key description``, one after the other."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key", "key-bar--description"}

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeyBar > .key-bar--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyBar > .key-bar--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._text = Text()
        self._spans: list[tuple[int, int, str]] = []
        self._shown: list[tuple[str, str, bool]] = []
        self._entries: list[tuple[str, str, bool, str]] = []
        self._laid_out_for = -1  # the width the text was laid out for

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self._bindings_changed, self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    @property
    def keys(self) -> list[tuple[str, str, bool]]:
        """What the bar shows: (key as displayed, description, enabled)."""
        return list(self._shown)

    def _bindings_changed(self, screen: Screen[Any]) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        app = self.app
        active = screen.active_bindings
        shown: list[tuple[str, str, bool, str]] = []
        actions: set[str] = set()
        for _node, binding, enabled, _tooltip in active.values():
            if binding.show and binding.action not in actions:
                actions.add(binding.action)
                shown.append((app.get_key_display(binding), binding.description, enabled, binding.key))
        palette = active.get(app.COMMAND_PALETTE_BINDING) if app.ENABLE_COMMAND_PALETTE else None
        if palette is not None and palette.binding.action not in actions:
            shown.append((app.get_key_display(palette.binding), palette.binding.description, palette.enabled,
                          palette.binding.key))
        # the key that lists every key goes last, where the bar keeps it when the others do not fit
        shown.sort(key=lambda entry: entry[3] == HELP_KEY)
        summary = [(display, description, enabled) for display, description, enabled, _ in shown]
        if summary == self._shown:
            return
        self._shown = summary
        self._entries = shown
        self._laid_out_for = -1
        self.refresh()

    def _lay_out(self, width: int) -> None:
        """The entries that fit in ``width`` cells, in order; when some do not, the help key
        (:data:`HELP_KEY`) still ends the bar, so what is left out can be looked up."""
        key_style = self.get_component_rich_style("key-bar--key", partial=True)
        description_style = self.get_component_rich_style("key-bar--description", partial=True)
        dim = Style(dim=True)

        def cells(entry: tuple[str, str, bool, str]) -> int:
            display, description, _, _ = entry
            return cell_len(display) + 2 + (cell_len(description) + 1 if description else 0)

        entries = self._entries
        if sum(cells(e) for e in entries) > width:
            last = [e for e in entries if e[3] == HELP_KEY][-1:]
            room = width - sum(cells(e) for e in last)
            kept = []
            for entry in entries:
                if entry in last:
                    continue
                if cells(entry) > room:
                    break
                kept.append(entry)
                room -= cells(entry)
            entries = kept + last
        text = Text(no_wrap=True, overflow="crop", end="")
        spans = []
        for display, description, enabled, key in entries:
            start = text.cell_len
            text.append(f" {display} ", key_style if enabled else key_style + dim)
            if description:
                text.append(f"{description} ", description_style if enabled else description_style + dim)
            spans.append((start, text.cell_len, key))
        self._text, self._spans = text, spans
        self._laid_out_for = width

    @property
    def shown_text(self) -> str:
        """What the bar shows at its width now."""
        if self._laid_out_for != self.size.width:
            self._lay_out(self.size.width)
        return self._text.plain

    def render(self) -> Text:
        if self._laid_out_for != self.size.width:
            self._lay_out(self.size.width)
        return self._text

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
