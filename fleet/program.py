"""Running a trio program from a command line: Ctrl-C becomes exit status 130.

A KeyboardInterrupt raised inside a nursery reaches ``trio.run`` wrapped in a
``BaseExceptionGroup``, so a plain ``except KeyboardInterrupt`` misses it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

__all__ = ["is_interrupt", "run_program"]


def is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is a Ctrl-C: a KeyboardInterrupt, or an exception group holding only those."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    return isinstance(exc, BaseExceptionGroup) and exc.split(KeyboardInterrupt)[1] is None


def run_program(function: Callable[[], Awaitable[object]]) -> int:
    """``trio.run(function)``; exit status 0, or 130 after Ctrl-C."""
    try:
        trio.run(function)
    except BaseException as exc:
        if is_interrupt(exc):
            return 130
        raise
    return 0
