"""The keys of the screen underneath (``?``), read from its active bindings: never a hand-kept list."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

__all__ = ["HelpScreen", "KeyHelp", "key_help"]

#: (key as shown, what it does, where it works, whether it works now)
KeyHelp = tuple[str, str, str, bool]


def _where(node: Any, app: App[Any]) -> str:
    if node is app:
        return "everywhere"
    if isinstance(node, Screen):
        return "this screen"
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(node).__name__).lower()
    return f"the {words}"


def key_help(screen: Screen[Any]) -> list[KeyHelp]:
    """Every key the screen answers now, in the order Textual looks them up (the focused widget
    first, then its parents, the screen, the app): one line per key."""
    app = screen.app
    lines: list[KeyHelp] = []
    for node, binding, enabled, _tooltip in screen.active_bindings.values():
        description = binding.description or binding.action.replace("_", " ")
        if binding.tooltip:
            description = f"{description}: {binding.tooltip}"
        lines.append((app.get_key_display(binding), description, _where(node, app), enabled))
    return lines


class HelpScreen(ModalScreen[None]):
    """Lists ``keys`` (from :func:`key_help` of the screen it opens over); escape or ``?`` closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "close"),
        Binding("question_mark", "close", "close", show=False),
        Binding("q", "close", "close", show=False),
    ]

    def __init__(self, title: str, keys: list[KeyHelp]) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, header_style="bold", pad_edge=False)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("what it does")
        table.add_column("where", style="dim", no_wrap=True)
        for key, description, where, enabled in self.keys:
            table.add_row(key, Text(description, style="" if enabled else "dim"), where)
        with Vertical(id="help-box"):
            yield Label(Text.assemble(("Keys of ", ""), (self.title_text, "bold"), "  (escape closes; ctrl+p: every command)"))
            with VerticalScroll(id="help-keys"):
                yield Static(table, id="help-table")

    def action_close(self) -> None:
        self.dismiss(None)
