"""A station worker process of a fleet run: a slice of the stations under one trio loop."""

from __future__ import annotations

import gc
import time
from collections import Counter
from typing import Any

import msgspec
import trio

from ..fleetfile import BUILTIN_CSMS, FleetPlan
from ..metrics import Metrics
from ..wire import Assign, Final_, Status, WireStream, rss_bytes
from .station import Station
from .worker import tune_gc_after_ramp

__all__ = ["run_station_worker"]

STATUS_INTERVAL = 1.0


def _counts(stations: dict[str, Station]) -> tuple[dict[str, int], dict[str, int]]:
    """Stations by state, and summed connection counters."""
    states: Counter[str] = Counter()
    connects = failures = disconnects = reconnects = 0
    for station in stations.values():
        snapshot = station.snapshot()
        states[snapshot.state] += 1
        c = snapshot.counters
        connects += c.connects
        failures += c.connect_failures
        disconnects += c.disconnects
        reconnects += max(0, c.connects - 1)
    return dict(states), {"connects": connects, "connect_failures": failures, "disconnects": disconnects,
                          "reconnects": reconnects}


async def _watch_boot(station: Station, started: float, metrics: Metrics) -> None:
    """Record how long the station took from its start to an Accepted boot."""
    await station.wait_until(lambda s: s.registration == "Accepted" or s.state == "closed")
    if station.snapshot().registration == "Accepted":
        metrics.booted(time.monotonic() - started)


async def run_station_worker(wire: WireStream, assign: Assign, index: int, stop: trio.Event) -> None:
    plan = msgspec.msgpack.decode(assign.plan, type=FleetPlan)
    specs = list(plan.stations(shard=assign.shard, worker=assign.worker))
    urls = assign.csms_urls
    options = assign.options
    metrics = Metrics()
    stations: dict[str, Station] = {}
    peak = 0
    gc.disable()  # during the ramp: allocation is all long-lived state

    async def report() -> None:
        nonlocal peak
        while True:
            states, connection_counters = _counts(stations)
            peak = max(peak, rss_bytes())
            await wire.send(Status(index=index, role="stations", states=states, started=len(stations),
                                   total=len(specs), metrics={**metrics.live(), **connection_counters}, rss=peak))
            await trio.sleep(STATUS_INTERVAL)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(report)
        interval = 1.0 / assign.ramp if assign.ramp > 0 else 0.0
        next_start = trio.current_time()
        speed = float(options.get("speed", plan.config.speed))
        for spec in specs:
            if stop.is_set():
                break
            url = urls[spec.index % len(urls)] if spec.csms_url == BUILTIN_CSMS else spec.csms_url
            station = Station(spec.station_id, url, profile=plan.profiles[spec.group], seed=spec.seed,
                              observer=metrics, audit=True, speed=speed)
            stations[spec.station_id] = station
            await nursery.start(station.run)
            nursery.start_soon(_watch_boot, station, time.monotonic(), metrics)
            next_start += interval
            if next_start > trio.current_time():
                with trio.move_on_at(next_start):
                    await stop.wait()
        gc.enable()
        tune_gc_after_ramp()
        await stop.wait()
        # Wind down: every station ends its transactions, delivers its queue and closes.
        async with trio.open_nursery() as closing:
            for station in stations.values():
                closing.start_soon(station.shutdown, float(options.get("shutdown_timeout", 10.0)))
        nursery.cancel_scope.cancel()

    states, connection_counters = _counts(stations)
    for name, value in connection_counters.items():
        metrics.count(name, value)
    records: dict[str, Any] = {
        "states": states,
        "transactions": {sid: st.transaction_records() for sid, st in stations.items() if st.transaction_records()},
    }
    await wire.send(Final_(index=index, role="stations", metrics=metrics.export(), records=records,
                           rss=max(peak, rss_bytes())))
