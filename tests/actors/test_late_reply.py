"""A CALLRESULT that comes after its call timed out is counted once, as a timeout (issue 10).

Real websockets on 127.0.0.1: the CSMS answers a station's Heartbeat only after the
station gave up on it; the late answer must not count again as a protocol violation.
"""

from __future__ import annotations

import datetime

import pytest
import trio
from waiting import wait_until

from fleet.actors.csms import open_csms
from fleet.actors.station import Station
from fleet.metrics import Metrics
from fleet.ocpp import CallTimeout, v201
from fleet.profiles import StationProfile
from fleet.run.thresholds import evaluate, parse_threshold


async def test_a_late_callresult_is_one_timeout_and_no_violation() -> None:
    answered = trio.Event()
    release = trio.Event()

    async def slow_heartbeat(request: object, ctx: object) -> v201.HeartbeatResponse:
        await release.wait()  # answer only once the station has given up on the call
        answered.set()
        return v201.HeartbeatResponse(current_time=datetime.datetime.now(datetime.UTC))

    metrics = Metrics()
    profile = StationProfile(message_timeout=1)
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        csms.on("Heartbeat", slow_heartbeat)
        station = Station("LATE1", csms.url, profile=profile, seed=1, observer=metrics)
        await nursery.start(station.run)
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.registration == "Accepted")
        with pytest.raises(CallTimeout):
            await station.call(v201.HeartbeatRequest(), timeout=0.3)
        conn = station.connection
        assert conn is not None
        release.set()
        with trio.fail_after(10):
            await answered.wait()

        def late_or_violation() -> int:
            stats = conn.session.statistics()
            return getattr(stats, "late_replies", 0) + stats.violations

        await wait_until(lambda: late_or_violation() >= 1, timeout=10, show=conn.session.statistics,
                         what="the late answer to arrive at the station (dropped as late, or, before issue 10, "
                              "counted as a violation)")
        snapshot = metrics.export()
        assert snapshot.errors.get("out:Heartbeat") == {"Timeout": 1}
        assert snapshot.counters.get("violations", 0) == 0
        assert conn.session.statistics().violations == 0
        assert conn.session.statistics().late_replies == 1
        [errors] = evaluate([parse_threshold("errors==1")], snapshot)
        assert errors.ok and errors.actual == 1.0
        await station.shutdown(5)
        nursery.cancel_scope.cancel()

