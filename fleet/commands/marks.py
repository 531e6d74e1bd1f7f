"""Printing a verdict text (a run's summary, a report, the robustness suite's) with its marks
in colour: ✓ green, ✗ red, through rich (not a subcommand).

Plain text, byte for byte as given, when standard output is not a terminal (a pipe, a file,
a CI log), when ``NO_COLOR`` is set (https://no-color.org) or the terminal is ``dumb``.
"""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console
from rich.text import Text

__all__ = ["print_marked"]

#: The marks and their colours.
STYLES = {"✓": "bold green", "✗": "bold red"}


def print_marked(text: str, file: IO[str] | None = None) -> None:
    """Print ``text`` and a newline to ``file`` (default: standard output), its marks coloured
    where colour is wanted."""
    out = file if file is not None else sys.stdout
    console = Console(file=out, highlight=False, markup=False, emoji=False, soft_wrap=True)
    if console.color_system is None or console.no_color:
        print(text, file=out, flush=True)
        return
    styled = Text(text)
    for mark, style in STYLES.items():
        styled.highlight_words([mark], style)
    console.print(styled)
    out.flush()
