"""A connection's clock without tasks of its own: call timeouts kept by the callers waiting,
websocket pings from the station's main loop (under trio's MockClock: no real time passes)."""

from __future__ import annotations

import datetime
from typing import Any

import msgspec
import trio
import trio.testing
from station_helpers import open_test_csms
from waiting import wait_state, wait_until

from fleet.actors.station import Station, open_station
from fleet.net.connection import UNANSWERED, ping_phase
from fleet.net.transport import Accepted, serve_ocpp
from fleet.net.websocket import CLOSE_TIMEOUT
from fleet.ocpp import CallTimeout, v201
from fleet.profiles import StationProfile


def profile(**changes: Any) -> StationProfile:
    fields: dict[str, Any] = {"ping_interval": 0, "heartbeat_interval": 3600, "sessions": {"enabled": False},
                              "retry_backoff": {"wait_minimum": 600, "repeat_times": 0, "random_range": 0},
                              "security": {"profile": 0, "password": None}}
    fields.update(changes)
    return msgspec.convert(fields, type=StationProfile)


async def test_a_call_fails_at_its_own_deadline_also_when_it_waited_behind_another(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_test_csms() as csms:
        csms.interval = 3600
        csms.handlers["DataTransfer"] = lambda station_id, request: UNANSWERED

        async def answer_late(station_id: str, request: Any) -> Any:
            await trio.sleep(5)
            return v201.HeartbeatResponse(current_time=datetime.datetime.now(datetime.UTC))

        csms.handlers["Heartbeat"] = answer_late
        async with open_station("CLOCK1", csms.url, profile=profile()) as station:
            await wait_state(station, "available", timeout=60)
            ended: dict[str, tuple[str, float]] = {}

            async def call(name: str, request: Any, timeout: float) -> None:
                try:
                    await station.call(request, timeout=timeout)
                    ended[name] = ("answered", trio.current_time() - start)
                except CallTimeout:
                    ended[name] = ("timed out", trio.current_time() - start)

            # an unanswered CALL in flight: the one queued behind it goes out when it times
            # out, and gets its own 2 s from then
            start = trio.current_time()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(call, "first", v201.DataTransferRequest(vendor_id="a"), 30)
                await trio.sleep(1)
                nursery.start_soon(call, "second", v201.DataTransferRequest(vendor_id="b"), 2)
            assert ended["first"][0] == "timed out" and 30 <= ended["first"][1] < 31, ended
            assert ended["second"][0] == "timed out" and 32 <= ended["second"][1] < 33, ended
            # a CALL answered after 5 s (its timeout 100 s): the one behind it goes out then and
            # times out 2 s later, not at the first one's deadline
            start = trio.current_time()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(call, "slow", v201.HeartbeatRequest(), 100)
                await trio.sleep(1)
                nursery.start_soon(call, "behind", v201.DataTransferRequest(vendor_id="c"), 2)
            assert ended["slow"][0] == "answered" and 5 <= ended["slow"][1] < 6, ended
            assert ended["behind"][0] == "timed out" and 7 <= ended["behind"][1] < 8, ended
            assert station.snapshot().counters.disconnects == 0


async def test_a_station_pings_every_interval_without_a_task_for_it(autojump_clock: trio.testing.MockClock) -> None:
    async with open_test_csms() as csms:
        csms.interval = 3600
        async with open_station("PING1", csms.url, profile=profile(ping_interval=10)) as station:
            await wait_state(station, "available", timeout=60)
            conn = await csms.wait_connected("PING1")
            # quiet from now on (heartbeat every hour): each socket read of the CSMS is a ping
            await csms.wait_for("StatusNotification", timeout=60)
            await trio.sleep(1)
            received, reads = len(csms.received), conn.websocket.reads
            await trio.sleep(100.5)
            assert len(csms.received) == received, csms.actions()[received:]
            assert 10 <= conn.websocket.reads - reads <= 11  # one every 10 s
            assert station.snapshot().counters.disconnects == 0  # every ping got its pong
            connection = station.connection
            assert connection is not None and connection._nursery is not None
            assert connection._nursery.child_tasks == frozenset()  # (none sleeps for the pings)


async def test_a_station_whose_pings_go_unanswered_closes_after_an_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    opened: list[float] = []

    async def never_read(accepted: Accepted) -> None:  # (a peer that reads nothing answers no ping)
        opened.append(trio.current_time())
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        port = await nursery.start(lambda task_status: serve_ocpp(never_read, "127.0.0.1", 0, task_status=task_status))
        station = Station("SILENT1", f"ws://127.0.0.1:{port}/ocpp", profile=profile(ping_interval=10))
        await nursery.start(station.run)
        await wait_until(lambda: station.snapshot().counters.disconnects >= 1, timeout=120, period=0.5)
        closed = trio.current_time()
        assert "no answer to websocket ping" in (station.snapshot().last_error or "")
        first_ping = opened[0] + 10 * ping_phase("SILENT1")
        # its first ping, an interval without a pong, then the closing handshake the peer never answers
        assert first_ping + 10 <= closed <= first_ping + 10 + CLOSE_TIMEOUT + 0.5, (first_ping, closed)
        await station.shutdown(1.0)
        nursery.cancel_scope.cancel()
