"""The reconnection back-off of a station (OCPP-J: doubling waits with a random part)."""

from __future__ import annotations

from ...profiles import Uniform

__all__ = ["backoff_base", "backoff_delay"]


def backoff_base(attempt: int, wait_minimum: float, repeat_times: int) -> float:
    """The reconnection wait without jitter: ``wait_minimum * 2**min(attempt, repeat_times)``.

    ``attempt`` counts the failed reconnection attempts since the connection was
    lost (0 before the first). OCPP-J 2.0.1 part 4 section 5.3 ("Reconnecting"):
    the first reconnection waits RetryBackOffWaitMinimum; each failed attempt
    *doubles* the previous wait, RetryBackOffRepeatTimes times at most, after which
    the wait stays the same. The Node-RED reference grows the wait linearly
    instead (2, 4, 6, 6, 6 s for minimum 2, repeat 2); fleet follows the spec
    (2, 4, 8, 8, 8 s), which the OCA test TC_B_57_CS checks.
    """
    return float(wait_minimum * (2 ** min(max(attempt, 0), max(repeat_times, 0))))


def backoff_delay(
    attempt: int, wait_minimum: float, repeat_times: int, random_range: float, rng: Uniform
) -> float:
    """:func:`backoff_base` plus a fresh uniform ``0..random_range`` seconds (every attempt
    gets its own random part, as the spec asks)."""
    jitter = rng.uniform(0.0, random_range) if random_range > 0 else 0.0
    return backoff_base(attempt, wait_minimum, repeat_times) + jitter
