"""A station tells its observer how long its first Accepted boot took (no task waits for it)."""

from __future__ import annotations

import msgspec
from station_helpers import open_test_csms
from waiting import wait_state, wait_until

from fleet.actors.station import open_station
from fleet.metrics import Metrics
from fleet.profiles import StationProfile

PROFILE = msgspec.convert({"ping_interval": 0, "sessions": {"enabled": False}, "reboot_delay": 0.1,
                           "security": {"profile": 0, "password": None}}, type=StationProfile)


async def test_the_first_accepted_boot_is_recorded_once() -> None:
    metrics = Metrics()
    async with open_test_csms() as csms:
        statuses = iter(["Pending", "Accepted", "Accepted"])
        csms.boot_status = lambda: next(statuses)
        csms.interval = 1  # (Pending: the station retries after a second)
        async with open_station("BOOT1", csms.url, profile=PROFILE, observer=metrics) as station:
            assert metrics.boot.get_total_count() == 0
            await wait_state(station, "available", timeout=10)
            assert metrics.boot.get_total_count() == 1  # the Accepted one, not the Pending one
            assert metrics.boot.get_max_value() > 0
            await station.reset()  # boots again: not a first boot
            await wait_until(lambda: station.snapshot().counters.boots >= 3, timeout=10)
            assert metrics.boot.get_total_count() == 1

