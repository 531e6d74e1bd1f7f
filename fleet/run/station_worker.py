"""A station worker process of a fleet run: a slice of the stations under one trio loop.

It also answers the control commands the supervisor forwards for its stations
(:class:`~fleet.run.fleet_backend.WorkerControl` over a
:class:`~fleet.control.backend.LocalBackend`), starts the stations ``add_stations``
gives it and retires the ones ``remove_stations`` names (their transaction
records stay in the final report, for the audit).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec
import trio

from ..actors.station import Station
from ..control.backend import ControlError, LocalBackend
from ..control.messages import AddStationsResult, ErrorCode, StationRow
from ..faults import boot_statuses, merge_fault_records
from ..metrics import Metrics, MetricsSnapshot
from ..net.connection import ConnectionObserver
from ..ocpp import CallTimeout
from ..profiles import StationProfile
from .execution import LoopMonitor
from .fleet_backend import (
    ExportMetrics,
    Online,
    Rows,
    Spawn,
    WorkerControl,
    WorkerHandlers,
    station_seed,
)
from .fleetfile import BUILTIN_CSMS, FleetPlan
from .timeline import INTERVAL, TimelineRecorder
from .wire import Assign, Final_, Status, WireStream, rss_bytes

__all__ = ["run_station_worker"]

STATUS_INTERVAL = 1.0
#: Stations a worker starts between two looks at its running stations when the ramp is behind schedule.
RAMP_BATCH = 50
#: Seconds after a worker's ramp before its steady-state window opens.
SETTLE_SECONDS = 10.0
#: Stations counted between two checkpoints of the per-second status.
COUNT_CHUNK = 500
#: A checkpoint that took longer (seconds) means a saturated loop: count the rest in one go.
SATURATED = 0.05
#: Calls completed between two looks at the clock for a status due (see :class:`_OnTime`).
CHECK_EVERY = 64


async def _counts(stations: dict[str, Station], metrics: Metrics | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """Stations by state, and summed connection counters; with ``metrics``, the stations by
    OCPP version (and of those the ones the CSMS accepted at least once) go into it.

    This runs every second over every station, so it reads counters (no snapshots) and
    lets the other tasks run every :data:`COUNT_CHUNK` stations: 10,000 stations in one
    go held the loop ~20 ms, and every frame arriving meanwhile waited that long. In a
    saturated loop, though, each checkpoint waits a whole round of the scheduler (whole
    seconds when the worker is far over its capacity) and the count would be that many
    rounds old: after a checkpoint that took longer than :data:`SATURATED` it counts the
    rest in one go (a few milliseconds, against rounds of seconds).
    """
    states: Counter[str] = Counter()
    versions: Counter[str] = Counter()
    online: Counter[str] = Counter()
    connects = failures = disconnects = reconnects = 0
    chunk = COUNT_CHUNK
    for n, station in enumerate(list(stations.values()), 1):
        if n % chunk == 0:
            before = time.monotonic()
            await trio.lowlevel.checkpoint()
            if time.monotonic() - before > SATURATED:
                chunk = len(stations) + 1
        states[station.state] += 1
        version = station.ocpp_version
        versions[version] += 1
        if station.booted:
            online[version] += 1
        connected, failed, dropped = station.connection_counts()
        connects += connected
        failures += failed
        disconnects += dropped
        reconnects += max(0, connected - 1)
    if metrics is not None:
        metrics.count_stations({version: (n, online[version]) for version, n in versions.items()})
    return dict(states), {"connects": connects, "connect_failures": failures, "disconnects": disconnects,
                          "reconnects": reconnects}


#: Station ids a worker lists per reason a station never came online (the counts are complete).
NEVER_ONLINE_IDS = 20


def never_online(stations: dict[str, Station], specs: list[Any], plan: FleetPlan) -> dict[str, Any]:
    """The stations that were to connect and were never accepted by the CSMS, by reason:
    the cause of their last failed attempt (``refused``, ``http_401``, ... ``in_progress``
    when no attempt had ended) when they never connected, else ``boot_rejected``,
    ``boot_pending`` or ``boot_unanswered``; ``by_plan`` counts those the run's own fault
    plan kept off on purpose (its boot Pending/Rejected shares, reasons ``boot_*_by_plan``;
    its network partition, reason ``partition_by_plan``)."""
    missing: list[tuple[str, str]] = []
    for sid, station in stations.items():
        connects, failures, _ = station.connection_counts()
        if station.booted or (not station.auto_connect and connects + failures == 0):
            continue
        if connects == 0:
            reason = station.last_connect_failure or "in_progress"
        elif station.last_boot_status in ("Rejected", "Pending"):
            reason = f"boot_{station.last_boot_status.lower()}"
        else:
            reason = "boot_unanswered"
        missing.append((sid, reason))
    if not missing:
        return {}
    planned: dict[str, str] = {}
    if any(p.faults.boot_pending_share > 0 or p.faults.boot_rejected_share > 0 for p in plan.profiles):
        wanted = {sid for sid, reason in missing if reason in ("boot_rejected", "boot_pending")}
        planned = boot_statuses((s.station_id, s.seed, plan.profiles[s.group].faults)
                                for s in specs if s.station_id in wanted)
    reasons: Counter[str] = Counter()
    ids: dict[str, list[str]] = {}
    by_plan = 0
    for sid, reason in missing:
        if (sid in planned and reason.startswith("boot_")) or reason == "partition":
            reason += "_by_plan"
            by_plan += 1
        reasons[reason] += 1
        listed = ids.setdefault(reason, [])
        if len(listed) < NEVER_ONLINE_IDS:
            listed.append(sid)
    return {"stations": len(missing), "by_plan": by_plan, "reasons": dict(reasons), "ids": ids}


class _OnTime:
    """The stations' observer in a worker: passes everything on to the worker's metrics
    and its timeline, and every :data:`CHECK_EVERY` answered calls calls ``tick`` (which sends the status
    if it is due).

    A saturated loop runs each task once per round of the scheduler, and a round lasts
    seconds when the worker is far over its capacity, so a status task alone reports
    once per round; calls complete all through the round, and the status goes out
    between them (written without yielding, see :meth:`fleet.run.wire.WireStream.send_now`).
    """

    __slots__ = ("_left", "_versions", "calls", "metrics", "tick", "timeline")

    def __init__(self, metrics: Metrics, tick: Callable[[], None], timeline: TimelineRecorder,
                 calls: ConnectionObserver | None = None) -> None:
        self.metrics = metrics
        self.tick = tick
        self.timeline = timeline
        #: where calls are counted: the metrics, or the metrics' observer of one OCPP version
        self.calls: ConnectionObserver = calls if calls is not None else metrics
        self._left = CHECK_EVERY
        self._versions: dict[str, _OnTime] = {}

    def for_version(self, version: str) -> _OnTime:
        """This observer for the stations of OCPP ``version`` (they count by version, see
        :meth:`fleet.metrics.Metrics.for_version`)."""
        observer = self._versions.get(version)
        if observer is None:
            observer = self._versions[version] = _OnTime(self.metrics, self.tick, self.timeline,
                                                         self.metrics.for_version(version))
        return observer

    def call_completed(self, action: str, outgoing: bool, latency: float) -> None:
        self.calls.call_completed(action, outgoing, latency)
        self.timeline.call(action, outgoing, latency)
        self._left -= 1
        if self._left <= 0:
            self._left = CHECK_EVERY
            self.tick()

    def call_failed(self, action: str, error: Any) -> None:
        self.calls.call_failed(action, error)
        self.timeline.failed("Timeout" if isinstance(error, CallTimeout) else str(error.code))

    def violation(self, code: str) -> None:
        self.calls.violation(code)

    def connect_failed(self, cause: str) -> None:
        self.metrics.connect_failed(cause)

    def scheduled(self, lateness: float) -> None:
        self.metrics.scheduled(lateness)

    def booted(self, seconds: float) -> None:
        """A station's first Accepted boot, ``seconds`` after it was made (the station tells it:
        no task per station waits for it)."""
        self.metrics.booted(seconds)

    def answered_since_due(self, action: str, since_due: float, round_trip: float) -> None:
        self.metrics.answered_since_due(action, since_due, round_trip)


def _merge_records(target: dict[str, dict[str, Any]], station_id: str, records: dict[str, Any]) -> None:
    if records:
        target.setdefault(station_id, {}).update(records)


async def run_station_worker(
    wire: WireStream, assign: Assign, index: int, stop: trio.Event, control: WorkerControl | None = None,
    stop_info: dict[str, float] | None = None,
) -> None:
    """Run this worker's stations until ``stop``; then wind them down (within
    ``stop_info["timeout"]`` when the Stop set one, e.g. after a Ctrl-C) and send the Final."""
    plan = msgspec.msgpack.decode(assign.plan, type=FleetPlan)
    specs = list(plan.stations(shard=assign.shard, worker=assign.worker))
    urls = assign.csms_urls or plan.config.csms
    options = assign.options
    metrics = Metrics()
    monitor = LoopMonitor(burn=float(options.get("debug_saturate", 0.0)))
    stations: dict[str, Station] = {}
    retiring: dict[int, Station] = {}  # removed stations still winding down
    retired_records: dict[str, dict[str, Any]] = {}
    shutdown_timeout = float(options.get("shutdown_timeout", 10.0))
    speed = float(options.get("speed", plan.config.speed))
    protocol_speed = float(options.get("protocol_speed", plan.config.protocol_speed()))
    peak = 0

    counts = await _counts(stations)
    timeline = TimelineRecorder("stations", interval=float(options.get("timeline_interval", INTERVAL)),
                                gauges=lambda: counts)
    monitor.timeline = timeline

    async def count() -> None:
        """Count the stations by state in the background (in chunks, see :func:`_counts`):
        under a saturated loop each chunk waits a whole round of the scheduler, and the
        status must not wait for all of them."""
        nonlocal counts
        while True:
            await trio.sleep(STATUS_INTERVAL)
            counts = await _counts(stations, metrics)

    status_due = time.monotonic()  # when the next status is due

    def status() -> Status:
        """The status now, built without yielding (running totals, the last count), stamped
        with the time its totals were taken; the next one is due an interval later."""
        nonlocal peak, status_due
        states, connection_counters = counts
        peak = max(peak, rss_bytes())
        now = time.monotonic()
        # On schedule; late (a long round of the scheduler), at most one interval after this one.
        status_due = max(status_due + STATUS_INTERVAL, now + STATUS_INTERVAL / 2)
        return Status(index=index, role="stations", states=states, started=len(stations), total=len(specs),
                      metrics={**metrics.live(), **connection_counters}, rss=peak,
                      extra={"recent": metrics.take_recent()}, at=now, execution=monitor.sample())

    def tick() -> None:
        """A status between two calls, if one is due, and the timeline's interval closed
        if its timer is late (see _OnTime)."""
        timeline.rotate_if_due()
        if time.monotonic() >= status_due:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                wire.send_now(status())

    observer = _OnTime(metrics, tick, timeline)

    async def report() -> None:
        """A status every STATUS_INTERVAL (unless the stations' calls sent it meanwhile),
        ahead of bulk data."""
        while True:
            await wire.flush()  # what send_now left waiting (the socket was full)
            wait = status_due - time.monotonic()
            if wait > 0:
                await trio.sleep(wait)
                continue
            await wire.send(status())

    async with trio.open_nursery() as nursery:

        async def spawn(command: Spawn) -> AddStationsResult:
            """Start stations of ``command.profile`` (msgpack-encoded) with its ids (``add_stations``)."""
            profile, station_ids, connect = command.profile, command.station_ids, command.connect
            if stop.is_set():
                raise ControlError(ErrorCode.CONFLICT, "the run is stopping")
            if not urls:
                raise ControlError(ErrorCode.UNSUPPORTED, "this worker has no CSMS URL for new stations")
            try:
                station_profile = msgspec.msgpack.decode(profile, type=StationProfile)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise ControlError(ErrorCode.BAD_REQUEST, f"bad profile: {exc}") from None
            added = []
            for sid in station_ids:
                if sid in stations or stop.is_set():
                    continue
                station = Station(sid, urls[len(stations) % len(urls)], profile=station_profile,
                                  seed=station_seed(plan.config.seed, sid), observer=observer, audit=True,
                                  speed=speed, protocol_speed=protocol_speed, auto_connect=connect)
                stations[sid] = station
                await nursery.start(station.run)
                added.append(sid)
            return AddStationsResult(added)

        async def wind_down(station_id: str, station: Station) -> None:
            retiring[id(station)] = station
            try:
                await station.shutdown(shutdown_timeout)
            finally:
                del retiring[id(station)]
                _merge_records(retired_records, station_id, station.transaction_records())

        async def retire(station_id: str, station: Station) -> None:
            """``remove_stations``: the station ends its transactions and closes, in the background."""
            if control is not None:
                control.end_subscriptions(station_id)
            nursery.start_soon(wind_down, station_id, station)

        async def rows(command: Rows) -> list[StationRow]:
            snapshot = await backend.snapshot(rows=True, limit=command.limit)
            return snapshot.rows or []

        async def export_metrics(command: ExportMetrics) -> MetricsSnapshot:
            return metrics.export()

        async def online(command: Online) -> int:
            """Stations connected and accepted now (the fleet's recovery after a CSMS restart)."""
            return sum(1 for station in stations.values() if station.online())

        backend = LocalBackend(stations, retire=retire, kind="fleet")
        if control is not None:
            control.attach(backend, WorkerHandlers().on(Spawn, spawn).on(Rows, rows).on(ExportMetrics, export_metrics)
                           .on(Online, online))
        await nursery.start(monitor.run)
        nursery.start_soon(timeline.run)
        nursery.start_soon(count)
        nursery.start_soon(report)
        # The ramp starts each station on schedule without waiting for it to run: under
        # load a wait costs a whole scheduler round, which capped the ramp at the
        # rounds per second. Behind schedule, it lets the running stations in every
        # RAMP_BATCH starts.
        interval = 1.0 / assign.ramp if assign.ramp > 0 else 0.0
        ramp_start = trio.current_time()
        for started, spec in enumerate(specs, 1):
            if stop.is_set():
                break
            if spec.station_id in stations:
                continue  # the id was taken meanwhile (the supervisor prevents it; never run two)
            url = urls[spec.index % len(urls)] if spec.csms_url == BUILTIN_CSMS else spec.csms_url
            station = Station(spec.station_id, url, profile=plan.profiles[spec.group], seed=spec.seed,
                              observer=observer, audit=True, speed=speed, protocol_speed=protocol_speed,
                              fault_epoch=options.get("fault_epoch"))
            stations[spec.station_id] = station
            nursery.start_soon(station.run)
            if interval:
                metrics.scheduled(trio.current_time() - (ramp_start + (started - 1) * interval))
            due = ramp_start + started * interval
            if due > trio.current_time():
                with trio.move_on_at(due):
                    await stop.wait()
            elif started % RAMP_BATCH == 0:
                await trio.lowlevel.checkpoint()

        async def open_steady_window() -> None:
            await trio.sleep(float(options.get("settle", SETTLE_SECONDS)))
            metrics.start_steady()
            monitor.start_steady()

        nursery.start_soon(open_steady_window)
        await stop.wait()
        steady = metrics.end_steady()  # the wind-down below is not steady state
        monitor.end_steady()
        if stop_info and "timeout" in stop_info:
            shutdown_timeout = min(shutdown_timeout, stop_info["timeout"])
        # Wind down: every station ends its transactions, delivers its queue and closes.
        async with trio.open_nursery() as closing:
            for station in [*stations.values(), *retiring.values()]:
                closing.start_soon(station.shutdown, shutdown_timeout)
        nursery.cancel_scope.cancel()

    states, connection_counters = counts = await _counts(stations, metrics)
    recorded = timeline.close()
    for name, value in connection_counters.items():
        metrics.count(name, value)
    transactions = {sid: dict(records) for sid, records in retired_records.items()}
    for sid, station in stations.items():
        _merge_records(transactions, sid, station.transaction_records())
    records: dict[str, Any] = {"states": states, "transactions": transactions, "timeline": recorded}
    missing = never_online(stations, specs, plan)
    if missing:
        records["never_online"] = missing
    if steady is not None:
        records["steady"] = steady
    fault_records = [r for st in stations.values() if (r := st.fault_records())]
    if fault_records:
        records["faults"] = merge_fault_records(fault_records)
    await wire.send(Final_(index=index, role="stations", metrics=metrics.export(), records=records,
                           rss=max(peak, rss_bytes()), execution=monitor.summary()))
