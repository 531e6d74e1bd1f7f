"""A station's own random stream: reproducible per seed, small, and uniform enough for draws."""

from __future__ import annotations

import random
import sys

import pytest

from fleet.actors.station import Station
from fleet.actors.station.random_stream import StationRandom
from fleet.profiles import draw


def test_the_same_seed_gives_the_same_draws_and_another_seed_others() -> None:
    a, b, c = StationRandom(7), StationRandom(7), StationRandom(8)
    draws_a = [a.random() for _ in range(100)]
    assert draws_a == [b.random() for _ in range(100)]
    assert draws_a != [c.random() for _ in range(100)]
    assert StationRandom(-1).random() == StationRandom((1 << 64) - 1).random()  # (seeds are taken modulo 2**64)
    assert StationRandom().random() != StationRandom().random()  # no seed: a random one


def test_draws_stay_in_their_ranges_and_cover_them() -> None:
    rng = StationRandom(1)
    floats = [rng.random() for _ in range(20_000)]
    assert all(0.0 <= x < 1.0 for x in floats)
    per_tenth = [sum(1 for x in floats if k / 10 <= x < (k + 1) / 10) for k in range(10)]
    assert min(per_tenth) > 1800 and max(per_tenth) < 2200, per_tenth  # about 2,000 in each tenth
    assert all(3.0 <= rng.uniform(3.0, 5.0) <= 5.0 for _ in range(1000))
    assert {rng.randrange(4) for _ in range(1000)} == {0, 1, 2, 3}
    assert {rng.choice("abc") for _ in range(1000)} == {"a", "b", "c"}
    with pytest.raises(ValueError):
        rng.randrange(0)
    with pytest.raises(IndexError):
        rng.choice([])


def test_weighted_choices_follow_the_weights() -> None:
    rng = StationRandom(3)
    picked = rng.choices(["never", "rare", "often"], weights=[0, 1, 9], k=10_000)
    assert "never" not in picked
    assert 700 < picked.count("rare") < 1300, picked.count("rare")  # about 1,000
    assert len(rng.choices(["x", "y"], k=5)) == 5
    with pytest.raises(ValueError):
        rng.choices(["x"], weights=[0])


def test_a_station_draws_from_its_own_small_stream() -> None:
    station = Station("A", "ws://127.0.0.1:1/ocpp", seed=11)
    assert isinstance(station.rng, StationRandom)
    assert sys.getsizeof(station.rng) < sys.getsizeof(random.Random(11)) / 20  # (a Mersenne Twister is about 2.5 KB)
    again = Station("A", "ws://127.0.0.1:1/ocpp", seed=11)
    assert [draw(station.rng, (0.0, 10.0)) for _ in range(5)] == [draw(again.rng, (0.0, 10.0)) for _ in range(5)]
