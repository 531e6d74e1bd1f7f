"""Textual's command palette with an input whose editing keys keep their order
(see :mod:`fleet.tui.widgets.ordered_input`)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.command import CommandInput, CommandPalette

from .widgets.ordered_input import OrderedCommandInput

__all__ = ["OrderedCommandPalette"]


class OrderedCommandPalette(CommandPalette):
    """The palette as Textual composes it, its input swapped for :class:`OrderedCommandInput`."""

    def compose(self) -> ComposeResult:
        for widget in super().compose():  # (the containers the parent opens stay open around each yield)
            if isinstance(widget, CommandInput) and not isinstance(widget, OrderedCommandInput):
                yield OrderedCommandInput(placeholder=widget.placeholder, select_on_focus=False)
            else:
                yield widget
