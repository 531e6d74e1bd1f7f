"""The keys of the screen on one line at the bottom (what Textual's ``Footer`` shows).

Textual's ``Footer`` rebuilds itself, one widget per key, each styled by the CSS
engine, every time the bindings may have changed: at every focus change and
every screen switch. Measured with ``fleet bench --tui``, that rebuild cost more
than all the rest of a screen switch. This bar is one widget drawing one line
of text; it is redrawn only when the keys it shows change. A click on a key
presses it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

__all__ = ["KeyBar"]


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
        summary = [(display, description, enabled) for display, description, enabled, _ in shown]
        if summary == self._shown:
            return
        self._shown = summary
        key_style = self.get_component_rich_style("key-bar--key", partial=True)
        description_style = self.get_component_rich_style("key-bar--description", partial=True)
        dim = Style(dim=True)
        text = Text(no_wrap=True, overflow="crop", end="")
        spans = []
        for display, description, enabled, key in shown:
            start = text.cell_len
            text.append(f" {display} ", key_style if enabled else key_style + dim)
            if description:
                text.append(f"{description} ", description_style if enabled else description_style + dim)
            spans.append((start, text.cell_len, key))
        self._text, self._spans = text, spans
        self.refresh()

    def render(self) -> Text:
        return self._text

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
