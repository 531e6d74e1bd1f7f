"""The end of a run watched with ``fleet run --tui``: its summary (thresholds' verdicts first) over
the dashboard's last state, which stays until the user quits."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..widgets.key_bar import KeyBar

__all__ = ["RunSummaryScreen", "marked"]

#: How the summary's verdict marks show.
MARK_STYLES = {"✓": "bold green", "✗": "bold red"}


def marked(summary: str) -> Text:
    """``summary`` with its ✓ and ✗ coloured."""
    text = Text(summary)
    for mark, style in MARK_STYLES.items():
        text.highlight_words([mark], style)
    return text


class RunSummaryScreen(ModalScreen[None]):
    """``headline`` (how the run ended) and ``summary`` (what ``fleet run`` prints at its end)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "last state"),
        Binding("q", "app.quit", "quit"),
    ]

    def __init__(self, headline: str, summary: str) -> None:
        super().__init__()
        self.headline = headline
        self.summary = summary

    def compose(self) -> ComposeResult:
        with Vertical(id="summary-box"):
            yield Label(Text(self.headline, style="bold"), id="summary-headline")
            with VerticalScroll(id="summary-scroll"):
                yield Static(marked(self.summary or "(the run printed no summary)"), id="summary-text")
        yield KeyBar()

    def action_close(self) -> None:
        self.dismiss(None)
