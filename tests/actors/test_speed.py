"""``speed`` compresses the simulated world, not the protocol: a station at speed 30 waits the
real reconnect back-off and heartbeats at the interval the CSMS gave, as a real station does
(``protocol_speed`` opts in to compressing those too). Under trio's MockClock (autojump), so
minutes of back-off and heartbeats pass at once; the CSMS is real, over loopback.
"""

from __future__ import annotations

import itertools
from typing import Any

import trio
import trio.testing
from station_helpers import open_test_csms
from waiting import wait_until

from fleet.actors.station import open_station
from fleet.profiles import RetryBackoff, Security, SessionGenerator, StationProfile
from fleet.run.fleetfile import FleetConfig
from fleet.run.report import Report, render_summary

SPEED = 30
WAIT_MINIMUM = 10  # RetryBackOffWaitMinimum (s)


def profile() -> StationProfile:
    return StationProfile(
        sessions=SessionGenerator(enabled=False),
        retry_backoff=RetryBackoff(wait_minimum=WAIT_MINIMUM, repeat_times=3, random_range=0),
        ping_interval=0,
        security=Security(profile=0, password=None),
    )


class _Timed(list[Any]):
    """The test CSMS's refusal list, each refusal with the (virtual) time it came."""

    def append(self, item: Any) -> None:
        super().append((trio.current_time(), item))


async def _refusal_gaps(protocol_speed: float) -> list[float]:
    async with open_test_csms() as csms:
        csms.refuse = True  # every handshake: HTTP 401 (the station cannot connect)
        csms.refused = _Timed()
        async with open_station("CS1", csms.url, profile=profile(), speed=SPEED, protocol_speed=protocol_speed):
            await wait_until(lambda: len(csms.refused) >= 3, timeout=600, what="three refused connection attempts")
        times = [at for at, _ in csms.refused]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def test_a_station_at_speed_30_that_cannot_connect_waits_the_real_back_off(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gaps = await _refusal_gaps(protocol_speed=1.0)
    # the first retry after RetryBackOffWaitMinimum, the next after twice that (not / 30)
    assert gaps[0] >= WAIT_MINIMUM
    assert gaps[1] >= 2 * WAIT_MINIMUM


async def test_protocol_speed_is_the_opt_in_that_compresses_the_back_off(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gaps = await _refusal_gaps(protocol_speed=SPEED)
    assert gaps[0] < WAIT_MINIMUM / 2 and gaps[1] < WAIT_MINIMUM


async def _heartbeats_in(seconds: float, protocol_speed: float) -> int:
    async with open_test_csms() as csms:
        csms.interval = 60  # the HeartbeatInterval the CSMS sets in its BootNotificationResponse
        async with open_station("CS1", csms.url, profile=profile(), speed=SPEED,
                                protocol_speed=protocol_speed) as station:
            with trio.fail_after(60):
                await station.wait_until(lambda s: s.registration == "Accepted")
            await trio.sleep(seconds)  # the window heartbeats are counted over (MockClock: no real time)
            return len(csms.requests("Heartbeat", "CS1"))


async def test_the_heartbeat_interval_the_csms_sets_is_not_scaled_by_speed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    assert 1 <= await _heartbeats_in(150, protocol_speed=1.0) <= 3  # at 60 s and 120 s
    assert await _heartbeats_in(150, protocol_speed=SPEED) >= 30  # opted in: every 2 s


def test_the_fleet_file_keeps_protocol_timings_real_unless_asked_and_the_report_says_so() -> None:
    config = FleetConfig(speed=30)
    assert config.protocol_speed() == 1.0
    assert FleetConfig(speed=30, speed_protocol=True).protocol_speed() == 30
    record = config.speed_record()
    assert record["factor"] == 30 and record["protocol_timings_real"] is True
    assert "reconnect back-off" in record["protocol_timings"] and "heartbeat interval" in record["protocol_timings"]
    summary = render_summary(Report(fleet={"speed": record}))
    [line] = [line for line in summary.splitlines() if line.strip().startswith("speed")]
    assert "x30" in line and "protocol timings real" in line and "reconnect back-off" in line
    assert not any(line.strip().startswith("speed") for line in render_summary(
        Report(fleet={"speed": FleetConfig().speed_record()})).splitlines())
