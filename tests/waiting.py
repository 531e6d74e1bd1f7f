"""Waiting in tests: for the thing itself, never for a fixed time.

:func:`wait_until` polls a condition every few milliseconds until it holds, under a trio
deadline; when the deadline passes, the test fails with what was awaited, the last value
the condition returned and, when asked (``show``), the state worth seeing in a failure.
:func:`wait_state` waits for a station's state through the station's own change
notification (no polling). :func:`wait_until_on_pilot` is the same wait for a Textual app
under test, which runs on asyncio and is driven by its pilot.

Every test directory imports this module by name (``from waiting import wait_until``):
``tests/conftest.py`` puts ``tests/`` on the import path.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from fleet.actors.station import Station

#: Seconds between two looks at a polled condition: short against any test's deadline,
#: long enough not to starve the tasks that make the condition come true.
POLL_PERIOD = 0.01

_NOTHING_YET = object()


def _described(predicate: Callable[..., Any]) -> str:
    """The condition's source line (a lambda's text says what it waits for), else its name."""
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return getattr(predicate, "__qualname__", repr(predicate))


async def wait_until(
    predicate: Callable[[], Any | Awaitable[Any]],
    *,
    timeout: float = 5.0,
    what: str = "",
    show: Callable[[], object] | None = None,
    period: float = POLL_PERIOD,
) -> Any:
    """Wait until ``predicate()`` returns a true value, and return that value.

    ``predicate`` may be a plain or an async callable (a control request, say). It is
    looked at once straight away, then every ``period`` seconds. After ``timeout``
    seconds the test fails with an :class:`AssertionError` naming ``what`` was awaited
    (the predicate's source when not given), the last value it returned and, when given,
    ``show()``: the state that explains the failure.
    """
    last: Any = _NOTHING_YET
    try:
        with trio.fail_after(timeout):
            while True:
                value = predicate()
                if inspect.isawaitable(value):
                    value = await value
                last = value
                if value:
                    return value
                await trio.sleep(period)
    except trio.TooSlowError:
        observed = "nothing (the condition was never evaluated to the end)" if last is _NOTHING_YET else repr(last)
        message = f"waited {timeout} s for {what or _described(predicate)}; last observed: {observed}"
        if show is not None:
            message += f"; {show()!r}"
        raise AssertionError(message) from None


async def wait_state(station: Station, state: str, timeout: float = 5.0) -> None:
    """Wait until the station's state is ``state`` (woken by the station on each change)."""
    try:
        with trio.fail_after(timeout):
            await station.wait_until(lambda s: s.state == state)
    except trio.TooSlowError:
        snapshot = station.snapshot()
        raise AssertionError(
            f"waited {timeout} s for station {station.station_id} to be {state!r}; it is {snapshot.state!r}"
            f" (last error: {snapshot.last_error!r})"
        ) from None


async def wait_until_on_pilot(
    predicate: Callable[[], Any],
    pilot: Any,
    *,
    timeout: float = 10.0,
    what: str = "",
    period: float = 0.05,
) -> Any:
    """:func:`wait_until` for a Textual app under test (asyncio, driven by its ``pilot``):
    looks every ``period`` seconds, letting the app process its messages in between."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what or _described(predicate)}; last observed: {value!r}")
        await pilot.pause(period)
