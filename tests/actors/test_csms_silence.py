"""The CSMS closes a connection that sends no OCPP message within its idle timeout, from one
task for all its connections (under trio's MockClock)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from fleet.actors.csms import open_csms
from fleet.net.alarm_clock import Sleeper
from fleet.net.transport import open_station_websocket
from fleet.net.websocket import ConnectionClosed

BOOT = ('[2,"b1","BootNotification",{"reason":"PowerUp","chargingStation":'
        '{"model":"M","vendorName":"V"}}]')


async def test_a_silent_connection_is_closed_after_the_idle_timeout_and_one_that_talks_is_not(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_csms(port=0, idle_timeout=10) as csms:
        start = trio.current_time()
        async with open_station_websocket(csms.url, "QUIET1") as (quiet, _), \
                open_station_websocket(csms.url, "TALK1") as (talking, _):
            await talking.send_message(BOOT)
            assert '"Accepted"' in str(await talking.get_message())
            await trio.sleep(5)
            async with open_station_websocket(csms.url, "QUIET2") as (later, _):  # watched from 5 s on
                with pytest.raises(ConnectionClosed) as first:
                    await quiet.get_message()
                assert first.value.reason.code == 1008
                assert 10 <= trio.current_time() - start < 11
                with pytest.raises(ConnectionClosed) as second:
                    await later.get_message()
                assert second.value.reason.code == 1008
                assert 15 <= trio.current_time() - start < 16
                await trio.sleep(60)
                assert talking.closed is None  # it sent a message: never closed for silence
                assert csms.statistics().connected == 1


def _tasks() -> int:
    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(count(child) for nursery in task.child_nurseries for child in nursery.child_tasks)

    return count(trio.lowlevel.current_root_task())


async def test_a_connected_station_costs_three_tasks() -> None:
    from waiting import wait_until

    from fleet.actors.station import Station
    from fleet.profiles import StationProfile

    profile = StationProfile(heartbeat_interval=3600, ping_interval=3600)  # (pings on, none due meanwhile)
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        await Sleeper().wait(trio.current_time() + 0.001)  # the run's one alarm clock, counted before
        before = _tasks()
        stations = [Station(f"T{i}", csms.url, profile=profile, seed=i) for i in range(8)]
        for station in stations:
            nursery.start_soon(station.run)
        await wait_until(lambda: all(station.online() for station in stations), timeout=20)
        await trio.testing.wait_all_tasks_blocked(0.05)
        # the station's main loop and its connection's reader, the CSMS's handler of the
        # connection (its reader): no task per connection sleeps for call timeouts, pings or
        # the CSMS's idle timeout (there were seven)
        assert (_tasks() - before) / len(stations) <= 3, _tasks() - before
        for station in stations:
            nursery.start_soon(station.shutdown, 2.0)
