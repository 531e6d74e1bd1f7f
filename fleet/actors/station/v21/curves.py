"""Piecewise-linear curves of 2.1 charging schedules (frequency-watt, signal-watt)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

__all__ = ["curve_value"]


def curve_value(points: Iterable[tuple[float, float]], x: float) -> float:
    """The curve through ``(x, value)`` points at ``x``: linear between points, flat beyond the ends."""
    ordered = sorted(points)
    if x <= ordered[0][0]:
        return float(ordered[0][1])
    for (low_x, low_y), (high_x, high_y) in itertools.pairwise(ordered):
        if x <= high_x:
            span = high_x - low_x
            share = (x - low_x) / span if span else 1.0
            return float(low_y + (high_y - low_y) * share)
    return float(ordered[-1][1])
