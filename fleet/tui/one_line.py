"""A docstring as one plain line for people: the palette's and the forms' descriptions."""

from __future__ import annotations

import re

__all__ = ["MAX_LENGTH", "one_line"]

#: The longest description shown; longer ones end with an ellipsis.
MAX_LENGTH = 90

_ROLE = re.compile(r":[a-z]+:`~?(?:[\w.]*\.)?([^`.]+)`")  # :class:`~fleet.x.SendResult` -> SendResult
_LITERAL = re.compile(r"``([^`]*)``|`([^`]*)`")  # ``count`` -> count


def _first_clause(sentence: str) -> str:
    """Up to the first ``; `` outside parentheses."""
    depth = 0
    for i, char in enumerate(sentence):
        depth += (char == "(") - (char == ")")
        if char == ";" and depth == 0 and sentence[i + 1 : i + 2] == " ":
            return sentence[:i]
    return sentence


def one_line(doc: str | None) -> str:
    """The first clause of ``doc``'s first sentence, without reStructuredText markup, on one line."""
    paragraph = (doc or "").strip().split("\n\n")[0]
    text = " ".join(paragraph.split())
    text = _ROLE.sub(r"\1", text)
    text = _LITERAL.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)
    text = _first_clause(re.split(r"(?<=[a-z0-9)])\. ", text)[0]).rstrip(".")
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1].rstrip() + "…"
