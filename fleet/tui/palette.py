"""Command-palette entries (ctrl+p): every control command, the composer, the screens."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..control.messages import COMMANDS
from .one_line import one_line

if TYPE_CHECKING:
    from .app import FleetDashboard

__all__ = ["ControlCommands"]


def _help(command: str) -> str:
    return one_line(COMMANDS[command].__doc__)


class ControlCommands(Provider):
    """Every control-API command (a form asks for its fields), plus navigation."""

    def _entries(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        app = cast("FleetDashboard", self.app)
        yield "compose OCPP request", "send any OCPP request as a station or as the CSMS", app.action_compose
        for mode in ("overview", "stations", "csms"):
            yield f"show {mode}", f"switch to the {mode} screen", functools.partial(app.switch_mode, mode)
        for command in sorted(COMMANDS):
            yield f"control: {command}", _help(command), functools.partial(app.run_palette_command, command)

    async def discover(self) -> Hits:
        for text, help_text, callback in self._entries():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, callback in self._entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, text=text, help=help_text)
