"""An ``Input`` whose editing keys keep their order with the characters typed around them.

Textual (8.x) inserts a typed character as soon as the ``Input`` handles its key event,
but runs a key the ``Input`` binds (backspace, delete, arrows, home, end, ctrl+k, ...)
only once that key event has bubbled up to the app, through the message queues of every
parent. Keys that arrive in one burst (fast typing, a paste of keys, a terminal that
delivers several keys in one read) are handled in that other order: ``HOME00001``, nine
backspaces and ``HOME01`` became ``HOME00`` (the characters typed after the backspaces
were inserted first, then the nine backspaces deleted from the end). This is Textual's
issue 6605. :class:`KeysInOrder` runs the widget's own bindings while it handles the key
event, in the order the keys came.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.command import CommandInput
from textual.widgets import Input

if TYPE_CHECKING:
    from textual.widget import Widget

    _Base = Widget
else:
    _Base = object

__all__ = ["KeysInOrder", "OrderedCommandInput", "OrderedInput"]


class KeysInOrder(_Base):
    """Mixin for a text input: its own (non-priority) key bindings run as its key events come."""

    async def _on_key(self, event: events.Key) -> None:
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()
                return
        await super()._on_key(event)


class OrderedInput(KeysInOrder, Input):
    """A Textual ``Input`` whose editing keys keep their order (see the module)."""


class OrderedCommandInput(KeysInOrder, CommandInput):
    """The command palette's input, with its editing keys in order (see the module)."""
