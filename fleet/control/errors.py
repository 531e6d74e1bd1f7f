"""The control API's error: :class:`ControlError`, and how an actor's failure becomes one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .messages import ErrorCode

__all__ = ["ControlError", "actor_errors"]


class ControlError(Exception):
    """A command cannot be carried out; the server answers with an ``error`` reply.

    Args:
        code: one of :class:`~fleet.control.messages.ErrorCode`.
        message: what went wrong, for people.
        details: anything machine-readable (e.g. the JSON path of a bad field).
    """

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


@contextmanager
def actor_errors() -> Iterator[None]:
    """Turn what a station or CSMS raises for a command into the :class:`ControlError` its
    caller sees: ``LookupError`` -> ``not_found``, ``RuntimeError`` (e.g. a station that no
    longer runs) -> ``conflict``, ``ValueError`` / ``TypeError`` (e.g. an EVSE or a connector
    it lacks) -> ``bad_request``."""
    try:
        yield
    except ControlError:
        raise
    except LookupError as exc:
        raise ControlError(ErrorCode.NOT_FOUND, str(exc)) from None
    except RuntimeError as exc:
        raise ControlError(ErrorCode.CONFLICT, str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise ControlError(ErrorCode.BAD_REQUEST, str(exc)) from None
