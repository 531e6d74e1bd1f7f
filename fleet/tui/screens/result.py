"""A command's result, as JSON."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea

from ...control.messages import encode

__all__ = ["ResultScreen"]


class ResultScreen(ModalScreen[None]):
    """Shows ``result`` of ``command`` (escape closes)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "close")]

    def __init__(self, command: str, result: Any) -> None:
        super().__init__()
        self.command = command
        self.result = result

    def compose(self) -> ComposeResult:
        with Vertical(id="result-box"):
            yield Label(f"{self.command}: result")
            text = msgspec.json.format(encode(self.result).decode(), indent=2)
            yield TextArea(text, read_only=True, id="result-text")

    def action_close(self) -> None:
        self.dismiss(None)
