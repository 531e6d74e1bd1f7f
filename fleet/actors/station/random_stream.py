"""A station's own random stream: reproducible from its seed, one integer of state.

A ``random.Random`` carries the Mersenne Twister's 2.5 KB of state (about 2.9 KB an
object); a worker holds thousands of stations, and a station draws a few numbers a
session (its vehicle, its timings, a token, the reconnection jitter). This generator is
SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
2014): a 64-bit counter advanced by a fixed odd constant, each output a mix of it. Its
outputs pass the usual statistical tests and every seed gives its own stream; the same
seed gives the same draws, which is what a station needs of it (not cryptography).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Final, TypeVar

__all__ = ["StationRandom"]

_MASK: Final = (1 << 64) - 1
_GAMMA: Final = 0x9E3779B97F4A7C15
_MIX1: Final = 0xBF58476D1CE4E5B9
_MIX2: Final = 0x94D049BB133111EB
_UNIT: Final = 2.0 ** -53

T = TypeVar("T")


class StationRandom:
    """The draws of one station (``random.Random``'s methods that stations use).

    Args:
        seed: any integer (the same seed, the same draws); ``None``: a random one.
    """

    __slots__ = ("_state",)

    def __init__(self, seed: int | None = None) -> None:
        self._state = (secrets.randbits(64) if seed is None else seed) & _MASK

    def _next(self) -> int:
        state = self._state = (self._state + _GAMMA) & _MASK
        z = ((state ^ (state >> 30)) * _MIX1) & _MASK
        z = ((z ^ (z >> 27)) * _MIX2) & _MASK
        return z ^ (z >> 31)

    def random(self) -> float:
        """A float uniform in [0, 1) (53 bits)."""
        return (self._next() >> 11) * _UNIT

    def uniform(self, a: float, b: float) -> float:
        """A float uniform between ``a`` and ``b``."""
        return a + (b - a) * self.random()

    def randrange(self, stop: int) -> int:
        """An integer uniform in ``[0, stop)``."""
        if stop <= 0:
            raise ValueError(f"empty range for randrange({stop})")
        return int(self.random() * stop)

    def choice(self, population: Sequence[T]) -> T:
        """One element of ``population``, each as likely."""
        if not population:
            raise IndexError("cannot choose from an empty sequence")
        return population[int(self.random() * len(population))]

    def choices(self, population: Sequence[T], weights: Sequence[float] | None = None, *, k: int = 1) -> list[T]:
        """``k`` elements of ``population`` drawn with replacement, by ``weights`` (relative)."""
        if weights is None:
            return [self.choice(population) for _ in range(k)]
        if len(weights) != len(population):
            raise ValueError("the number of weights does not match the population")
        total = float(sum(weights))
        if not total > 0:
            raise ValueError("the total of the weights must be greater than zero")
        picked: list[T] = []
        last = len(population) - 1
        for _ in range(k):
            target = self.random() * total
            index = 0
            for index, weight in enumerate(weights):  # noqa: B007 (index is used after the loop)
                target -= weight
                if target < 0:
                    break
            picked.append(population[min(index, last)])
        return picked
