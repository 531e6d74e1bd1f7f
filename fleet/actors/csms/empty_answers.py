"""The default handlers of every OCPP version's CSMS dialect for the station-initiated actions it has no
specific answer for (notifications): each answers with its action's empty response."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ...net.connection import CallContext, Handler

__all__ = ["empty_answer", "with_empty_answers"]


def empty_answer(response_type: type[Any]) -> Handler:
    """A handler answering with the (field-less) response of a notification."""
    response = response_type()

    def handler(request: Any, ctx: CallContext) -> Any:
        return response

    handler.__name__ = handler.__qualname__ = f"default_{response_type.__name__}"
    handler.__doc__ = f"Answer with an empty {response_type.__name__}."
    return handler


def with_empty_answers(specific: Mapping[str, Handler], actions: Iterable[str],
                       types: Mapping[str, tuple[Any, Any]]) -> dict[str, Handler]:
    """One handler per action of ``actions`` (in sorted order): its ``specific`` one, else an
    :func:`empty_answer` of its response type (``types``: action -> (request type, response type))."""
    return {action: specific[action] if action in specific else empty_answer(types[action][1])
            for action in sorted(actions)}
