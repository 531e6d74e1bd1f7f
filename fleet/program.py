"""Running a trio program from a command line: Ctrl-C becomes exit status 130.

A KeyboardInterrupt raised inside a nursery reaches ``trio.run`` wrapped in a
``BaseExceptionGroup``, so a plain ``except KeyboardInterrupt`` misses it.

A process can start with SIGINT ignored: a shell script's background job (``prog &``
without job control), and runners that start their commands that way, pass SIGINT on
as ignored. Python then installs no handler and trio none either, so SIGINT, the
documented way to stop these programs, did nothing and the program ran on (the
example CSMS "did not exit within 10 s of SIGINT" under such a ``make test``).
:func:`run_program` takes SIGINT back for the run.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Awaitable, Callable

import trio

__all__ = ["is_interrupt", "run_program"]


def is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is a Ctrl-C: a KeyboardInterrupt, or an exception group holding only those."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    return isinstance(exc, BaseExceptionGroup) and exc.split(KeyboardInterrupt)[1] is None


def run_program(function: Callable[[], Awaitable[object]]) -> int:
    """``trio.run(function)``; exit status 0, or 130 after Ctrl-C (SIGINT), also when the
    process inherited SIGINT ignored (the previous disposition is restored afterwards)."""
    previous = None
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        trio.run(function)
    except BaseException as exc:
        if is_interrupt(exc):
            return 130
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return 0
