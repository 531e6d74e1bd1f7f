"""The fleet supervisor: spawns worker processes, ramps the fleet, watches it, stops it.

The supervisor is the one place that starts station processes and the built-in
CSMS processes and decides when they stop. It runs no station itself: each worker
process runs a shard of the stations under its own trio loop (see
:mod:`fleet.run.worker`), so a run uses every core and a busy worker never
stalls the supervisor or the dashboard.

Layout of a run with the built-in CSMS::

    control API (ws, JSON) ──▶ supervisor ──control (TCP, msgpack)──┬── CSMS process 0..K-1 (P ports, SO_REUSEPORT)
                                                                    └── station worker 0..W-1 ──OCPP-J/ws──▶ CSMS

How many of each (W, K and P) follows the open-files limit and the ephemeral port range
(:mod:`fleet.run.capacity`): one port for a fleet that fits on one, process ``k`` of the
CSMS on port ``k % P``, and the stations spread evenly over the P URLs.

With ``RunOptions.control_port`` set, the supervisor serves the control API
(:mod:`fleet.control`) and forwards each command to the process that can answer it
(:class:`~fleet.run.fleet_backend.FleetBackend`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import random
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec
import trio

from ..control.backend import ControlError, RateTracker
from ..faults import boot_statuses, csms_side_faults, merge_fault_records
from ..metrics import MetricsSnapshot, new_histogram
from ..net.transport import connect_failure_hint
from .audit import audit_run
from .capacity import machine_limits, plan_processes
from .execution import LoopMonitor, MachineLoad, live_roles, summarize_roles
from .fleet_backend import FleetBackend, WorkerLink
from .fleetfile import BUILTIN_CSMS, FleetPlan
from .report import Report
from .station_worker import NEVER_ONLINE_IDS, SETTLE_SECONDS
from .thresholds import Threshold, evaluate
from .timeline import INTERVAL as TIMELINE_INTERVAL
from .timeline import Timeline, TimelineRecorder, merge_timelines
from .wire import Assign, ControlPush, ControlReply, Final_, Hello, Status, Stop, WireStream

__all__ = ["FleetStatus", "RunOptions", "check_csms_faults", "pick_port", "pick_ports", "run_fleet", "wind_down_timeout"]

logger = logging.getLogger("fleet.run")

#: Station ids listed per boot status in the report (the counts are complete).
BOOT_IDS_SHOWN = 1000
#: How long the stop waits for a last count of the stations online after a CSMS restart.
RECOVERY_SETTLE_TIMEOUT = 5.0
#: Seconds workers get to wind down at the least (see ``RunOptions.stop_timeout``).
STOP_TIMEOUT = 30.0
#: And per station and core: a station's wind-down (ending its transaction, closing its
#: websocket and the CSMS's end of it) took 1.4 ms of CPU in both roles (1,500 stations
#: against the CSMS in one process); 50,000 stations did not wind down in 30 s.
STOP_TIMEOUT_PER_STATION = 0.002
#: Seconds of calls behind the live p99 (the workers report theirs once a second).
LIVE_WINDOW = 5.0
#: Of a Ctrl-C stop's time (``RunOptions.interrupt_timeout``): the share the stations get to
#: end their transactions and deliver their queues (their closes and Final reports, the
#: CSMS's, and the report come after).
INTERRUPT_STATION_SHARE = 0.5
#: Seconds of a Ctrl-C stop kept for killing what is left and writing the report.
INTERRUPT_RESERVE = 1.0
#: Seconds of a Ctrl-C stop after the stations' time to end transactions and deliver
#: queues: their closes (bounded at 2 s), their Final reports, then the CSMS's.
INTERRUPT_AFTER_STATIONS = 4.0


class RunOptions(msgspec.Struct, frozen=True):
    """How to run a plan.

    Attributes:
        workers: station worker processes (0: as many as the fleet needs, at least the
            number of cores; see :func:`fleet.run.capacity.plan_processes`).
        csms_workers: processes of the built-in CSMS (0: as many as the fleet needs).
        csms_ports: ports the built-in CSMS listens on, its processes spread evenly over
            them (0: as many as the fleet needs, one unless its stations exceed what one
            port can take from one address).
        csms_host: where the built-in CSMS listens.
        csms_port: its (first) port (0: pick free ones below 32768; several ports: the next ones).
        shard: (I, N): run only slice I of N of the fleet (for several machines).
        thresholds: pass/fail expressions checked at the end.
        stop_timeout: seconds workers get to wind down (``None``: :data:`STOP_TIMEOUT` plus
            :data:`STOP_TIMEOUT_PER_STATION` per station and core of this machine).
        station_options: passed to every station worker (fault injection etc.).
        csms_options: passed to every CSMS process (boot policy, heartbeat interval, ...).
        control_port: serve the control API on this port (0: a free one); ``None``: no control API.
        control_host: its address (loopback by default; any other address needs ``control_token``).
        control_token: the token clients must present.
        control_fallback: when ``control_port`` is taken, serve on a free port instead of failing.
        prometheus: (host, port) to serve the run's metrics for Prometheus at ``/metrics``.
        interrupt_timeout: seconds a stop after Ctrl-C or SIGTERM takes at most, report
            included: the stations end their transactions and deliver their queues while
            the CSMS answers, the workers send what they measured, then whatever is left
            is killed. A second Ctrl-C kills at once.
        timeline_interval: seconds per point of the report's timeline (see :mod:`fleet.run.timeline`).
    """

    workers: int = 0
    csms_workers: int = 0
    csms_ports: int = 0
    csms_host: str = "127.0.0.1"
    csms_port: int = 0
    shard: tuple[int, int] = (0, 1)
    thresholds: list[Threshold] = []
    stop_timeout: float | None = None
    station_options: dict[str, Any] = {}
    csms_options: dict[str, Any] = {}
    control_port: int | None = None
    control_host: str = "127.0.0.1"
    control_token: str | None = None
    control_fallback: bool = False
    prometheus: tuple[str, int] | None = None
    interrupt_timeout: float = 10.0
    timeline_interval: float = TIMELINE_INTERVAL


class FleetStatus(msgspec.Struct):
    """What the supervisor knows right now (pulled by the progress display and the dashboard).

    Attributes:
        phase: ``"starting"``, ``"ramping"``, ``"running"``, ``"stopping"`` or ``"done"``.
        total: stations in this run (including those added, less those removed, through the control API).
        started: stations started so far.
        states: stations by state, over all workers.
        completed: calls answered so far; ``failed``: calls failed so far.
        counters: connects, disconnects, reconnects, timeouts, violations, ...
        csms_connected: stations connected to the built-in CSMS.
        rss: resident memory per process (``"stations/0"``, ``"csms/0"``, ``"supervisor"``).
        elapsed: seconds since the start.
        csms_urls: where the stations connect.
        recent_p99_ms: p99 round trip of the fleet's calls over the last
            :data:`LIVE_WINDOW` seconds (``None`` without calls).
        recent_calls: calls answered over that window.
        execution: fleet's own load now, per role (``stations``, ``csms``, ``supervisor``):
            the busiest process's ``cpu`` (%), ``lag_p99_ms`` and ``lag_max_ms`` over its
            last status (see :mod:`fleet.run.execution`).
        calls_per_s, failed_per_s: calls answered / failed per second lately, from each
            worker's totals and the times it took them (they hold between two reports).
        figures_age_s: seconds since the slowest station worker took the figures (about
            a second normally; more when a worker is too busy to report).
    """

    phase: str = "starting"
    total: int = 0
    started: int = 0
    states: dict[str, int] = {}
    completed: int = 0
    failed: int = 0
    counters: dict[str, int] = {}
    csms_connected: int = 0
    rss: dict[str, int] = {}
    elapsed: float = 0.0
    csms_urls: list[str] = []
    recent_p99_ms: float | None = None
    recent_calls: int = 0
    execution: dict[str, dict[str, float]] = {}
    calls_per_s: float = 0.0
    failed_per_s: float = 0.0
    figures_age_s: float = 0.0


def pick_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` different free TCP ports below 32768 (see :func:`pick_port`)."""
    ports: list[int] = []
    while len(ports) < count:
        port = pick_port(host)
        if port not in ports:
            ports.append(port)
    return ports


def wind_down_timeout(stations: int, cores: int) -> float:
    """Seconds the workers of a run of ``stations`` on ``cores`` cores get to wind down by default."""
    return STOP_TIMEOUT + STOP_TIMEOUT_PER_STATION * stations / max(1, cores)


def pick_port(host: str = "127.0.0.1") -> int:
    """A free TCP port below 32768 (out of the range the kernel hands to client sockets)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise OSError("no free port below 32768")


class _Worker:
    def __init__(self, role: str, index: int) -> None:
        self.role = role
        self.index = index
        self.wire: WireStream | None = None
        self.connected = trio.Event()
        self.status: Status | None = None
        self.final: Final_ | None = None
        self.finished = trio.Event()
        self.peak_rss = 0
        self.link: WorkerLink | None = None
        #: the process's exit status once it ended (negative: killed by that signal)
        self.returncode: int | None = None

    @property
    def name(self) -> str:
        return f"{self.role}/{self.index}"


async def run_fleet(
    plan: FleetPlan,
    options: RunOptions,
    *,
    on_status: Callable[[FleetStatus], None] | None = None,
    status_interval: float = 1.0,
    stop_event: trio.Event | None = None,
    on_control: Callable[[str], None] | None = None,
    on_interrupt: Callable[[], None] | None = None,
) -> Report:
    """Run ``plan`` to the end (its duration, ``stop_event``, or SIGINT/SIGTERM) and return the report.

    Args:
        plan: the fleet.
        options: how to run it.
        on_status: called with a fresh :class:`FleetStatus` every ``status_interval`` seconds.
        stop_event: set it to stop the run early (the dashboard's quit).
        on_control: called with the control API's URL once it listens (with ``options.control_port``).
        on_interrupt: called at the first Ctrl-C or SIGTERM (the run then stops within
            ``options.interrupt_timeout``; a second one stops it at once).

    Raises:
        OSError: the control API cannot listen where asked.
        ValueError: the plan or the options cannot be run (CSMS-side faults against an
            external CSMS; process counts that cannot hold the fleet within the open-files
            limit: :class:`~fleet.run.capacity.CapacityError`), before anything starts.
    """
    started_at = time.monotonic()
    fault_epoch = time.time()  # (set again once every process is up: see step 0 below)
    builtin = not plan.config.csms
    check_csms_faults(plan)
    total = plan.shard_size(options.shard)
    limits = machine_limits()
    processes = plan_processes(total, limits, workers=options.workers, csms_workers=options.csms_workers,
                               csms_ports=options.csms_ports, builtin=builtin)
    workers_n = processes.workers
    status = FleetStatus(total=total)
    stop_event = stop_event if stop_event is not None else trio.Event()
    workers: dict[tuple[str, int], _Worker] = {}
    csms_urls = list(plan.config.csms)
    station_workers = [_Worker("stations", i) for i in range(workers_n)]
    csms_workers = [_Worker("csms", i) for i in range(processes.csms_workers)]
    for w in station_workers + csms_workers:
        workers[(w.role, w.index)] = w

    async def on_connection(stream: trio.SocketStream) -> None:
        wire = WireStream(stream)
        try:
            hello = await wire.receive()
        except (trio.BrokenResourceError, ValueError, msgspec.DecodeError):
            return
        if not isinstance(hello, Hello) or (hello.role, hello.index) not in workers:
            await wire.aclose()
            return
        worker = workers[(hello.role, hello.index)]
        worker.wire = wire
        link = worker.link = WorkerLink(worker.name, wire)
        worker.connected.set()  # (the backend routes commands to it once it is assigned: see `assigned`)
        try:
            async with trio.open_nursery() as link_nursery:
                link_nursery.start_soon(link.run)
                await _receive_from(worker, wire, link)
                link_nursery.cancel_scope.cancel()
        finally:
            link.close("its process ended")
            worker.finished.set()

    def assigned(worker: _Worker) -> None:
        """The worker has its Assign: the control backend may route commands to it now (a
        worker waiting for its Assign takes nothing else)."""
        assert worker.link is not None
        (backend.station_links if worker.role == "stations" else backend.csms_links)[worker.index] = worker.link

    async def _receive_from(worker: _Worker, wire: WireStream, link: WorkerLink) -> None:
        try:
            while True:
                message = await wire.receive()
                if message is None:
                    break
                if isinstance(message, (ControlReply, ControlPush)):
                    link.deliver(message)
                elif isinstance(message, Status):
                    worker.status = message
                    if message.extra.get("recent"):
                        recent.append((message.at, message.extra["recent"]))
                    worker.peak_rss = max(worker.peak_rss, message.rss)
                elif isinstance(message, Final_):
                    worker.final = message
                    worker.peak_rss = max(worker.peak_rss, message.rss)
                    break
        except (trio.BrokenResourceError, trio.ClosedResourceError, ValueError, msgspec.DecodeError):
            pass

    async def spawn(nursery: trio.Nursery, worker: _Worker, control_port: int) -> None:
        command = [
            sys.executable, "-m", "fleet.run.worker",
            "--control", f"127.0.0.1:{control_port}", "--role", worker.role, "--index", str(worker.index),
        ]
        nursery.start_soon(functools.partial(_run_worker_process, command, worker))

    monitor = LoopMonitor()  # the supervisor's own loop lag and CPU
    timeline = monitor.timeline = TimelineRecorder("supervisor", interval=options.timeline_interval)
    machine = MachineLoad()  # and the whole machine's
    own_load: dict[str, Any] = {}  # its latest sample (taken once per status interval)
    recent: deque[tuple[float, str]] = deque()  # (when, encoded histogram) from the workers' reports
    recent_newest: tuple[float, str] | None = None  # the report the live p99 was last computed with

    def refresh_recent() -> None:
        nonlocal recent_newest
        # The window ends at the newest report (when its worker took it): a late report
        # leaves the last p99 in place (with figures_age_s saying how old), not none.
        while recent and recent[0][0] < recent[-1][0] - LIVE_WINDOW:
            recent.popleft()
        newest = recent[-1] if recent else None
        if newest is recent_newest:
            return
        recent_newest = newest
        window = new_histogram()
        for _, encoded in recent:
            window.decode_and_add(encoded)
        calls = window.get_total_count()
        status.recent_calls = calls
        status.recent_p99_ms = window.get_value_at_percentile(99.0) / 1000 if calls else None

    rates = RateTracker()

    def refresh() -> FleetStatus:
        states: dict[str, int] = {}
        counters: dict[str, int] = {}
        started = completed = failed = connected = 0
        calls_per_s = failed_per_s = 0.0
        oldest = now = time.monotonic()
        rss: dict[str, int] = {}
        for w in workers.values():
            s = w.status
            if s is None:
                continue
            rss[w.name] = s.rss
            if w.role == "csms":
                connected += int(s.extra.get("connected", 0))
                continue
            calls_per_s += rates.rate(f"{w.name}:completed", s.metrics.get("completed", 0), s.at)
            failed_per_s += rates.rate(f"{w.name}:failed", s.metrics.get("failed", 0), s.at)
            oldest = min(oldest, s.at)
            started += s.started
            for k, v in s.states.items():
                states[k] = states.get(k, 0) + v
            for k, v in s.metrics.items():
                if k == "completed":
                    completed += v
                elif k == "failed":
                    failed += v
                else:
                    counters[k] = counters.get(k, 0) + v
        status.started, status.states, status.counters = started, states, counters
        status.completed, status.failed, status.csms_connected, status.rss = completed, failed, connected, rss
        status.calls_per_s, status.failed_per_s = round(calls_per_s, 2), round(failed_per_s, 2)
        status.figures_age_s = round(max(0.0, now - oldest), 2)
        status.elapsed = time.monotonic() - started_at
        status.csms_urls = csms_urls
        refresh_recent()
        refresh_execution()
        return status

    def refresh_execution() -> None:
        samples: dict[str, list[dict[str, Any]]] = {"supervisor": [own_load]}
        for w in workers.values():
            if w.status is not None:
                samples.setdefault(w.role, []).append(w.status.execution)
        status.execution = live_roles(samples)

    backend = FleetBackend(plan, shard=options.shard, workers=workers_n, csms_workers=len(csms_workers),
                           status=status, refresh=refresh)
    stopped_by_signal = False
    interrupt_deadline = math.inf  # (trio time) when a Ctrl-C stop must be over, report aside
    final_states: dict[str, int] | None = None
    async with trio.open_nursery() as nursery:

        async def kill_at_deadline() -> None:
            """A Ctrl-C stop that runs out of time: what is left is killed (and reported as such)."""
            await trio.sleep_until(interrupt_deadline)
            nursery.cancel_scope.cancel()

        async def watch_signals(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            nonlocal stopped_by_signal, interrupt_deadline
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                task_status.started()
                async for _ in signals:
                    if stopped_by_signal:  # the second one: kill the processes, report what came in
                        nursery.cancel_scope.cancel()
                        return
                    stopped_by_signal = True
                    interrupt_deadline = trio.current_time() + options.interrupt_timeout - INTERRUPT_RESERVE
                    if on_interrupt is not None:
                        on_interrupt()
                    stop_event.set()
                    nursery.start_soon(kill_at_deadline)

        await nursery.start(watch_signals)  # before the control API: whoever attaches may stop the run
        await nursery.start(monitor.run)
        nursery.start_soon(timeline.run)
        await nursery.start(backend.run)  # (background work: metrics pulls, timing a CSMS restart)
        if options.control_port is not None:
            url = await _serve_control(nursery, backend, options)
            if on_control is not None:
                on_control(url)
        if options.prometheus is not None:
            from .prometheus import serve_prometheus

            host, port = options.prometheus
            try:
                await nursery.start(
                    functools.partial(serve_prometheus, lambda: (refresh(), backend.merged_metrics()), host, port)
                )
            except (OSError, ExceptionGroup) as failure:
                exc = _bind_error(failure)
                if exc is None:
                    raise
                raise OSError(f"--prometheus {host}:{port}: cannot listen there: {exc.strerror or exc}") from None
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        control_port = listeners[0].socket.getsockname()[1]
        nursery.start_soon(functools.partial(trio.serve_listeners, on_connection, listeners))

        # 0. Every process first: their start-up (seconds on a busy machine) is not the run's
        #    time, so faults scheduled "t seconds after the start" count from when all are up.
        for w in csms_workers + station_workers:
            await spawn(nursery, w, control_port)
        for w in csms_workers + station_workers:
            with trio.fail_after(60):
                await w.connected.wait()
        fault_epoch = time.time()

        # 1. The built-in CSMS, if no CSMS was given.
        if builtin:
            ports = ([options.csms_port + i for i in range(processes.csms_ports)] if options.csms_port
                     else pick_ports(processes.csms_ports, options.csms_host))
            path = str(options.csms_options.get("path", "/ocpp"))
            csms_urls = [f"ws://{options.csms_host}:{port}{path}" for port in ports]
            auth = _auth_list(plan, options.shard) if options.csms_options.get("auth", True) else None
            id_tokens = options.csms_options.get("id_tokens") or _id_tokens(plan)
            boot_refusals = _boot_refusals(plan, options.shard, fault_epoch)
            for w in csms_workers:
                assert w.wire is not None
                await w.wire.send(Assign(
                    worker=(w.index, len(csms_workers)),
                    options={**options.csms_options, "host": options.csms_host,
                             "port": ports[processes.port_index(w.index)], "reuse_port": True,
                             "timeline_interval": options.timeline_interval,
                             "auth": auth, "id_tokens": id_tokens, "boot_refusals": boot_refusals},
                ))
                assigned(w)
            for w in csms_workers:  # listening once its first status arrives
                with trio.fail_after(30):
                    while w.status is None:
                        if w.finished.is_set():
                            raise RuntimeError(f"built-in CSMS process {w.index} failed to start")
                        await trio.sleep(0.05)

        # 2. The station workers.
        status.phase = "ramping"
        encoded_plan = msgspec.msgpack.encode(plan)
        for w in station_workers:
            assert w.wire is not None
            await w.wire.send(Assign(
                plan=encoded_plan, shard=options.shard, worker=(w.index, workers_n), csms_urls=csms_urls,
                ramp=plan.config.ramp / workers_n,
                options={"fault_epoch": fault_epoch, "timeline_interval": options.timeline_interval, **options.station_options},
            ))
            assigned(w)

        # A CSMS restart at `csms_restart_at` (the built-in CSMS only; see check_csms_faults).
        if builtin and plan.faults.csms_restart_at is not None:
            nursery.start_soon(_scheduled_restart, backend, plan.faults.csms_restart_at, plan.faults.csms_downtime,
                               fault_epoch, stop_event)

        # 3. Watch until the duration has passed after the ramp, or a stop.
        ramp_done_at: float | None = None
        steady_open = False  # the steady-state window of fleet's own load (see LoopMonitor.start_steady)
        settle = float(options.station_options.get("settle", SETTLE_SECONDS))
        duration = plan.config.duration
        while not stop_event.is_set():
            with trio.move_on_after(status_interval):
                await stop_event.wait()
            own_load = monitor.sample()
            machine.sample()
            current = refresh()
            if ramp_done_at is None and current.started >= status.total:
                ramp_done_at = time.monotonic()
                status.phase = "running"
            if not steady_open and ramp_done_at is not None and time.monotonic() - ramp_done_at >= settle:
                steady_open = True
                monitor.start_steady()
                if builtin:
                    nursery.start_soon(backend.steady_window, True)
            if on_status is not None:
                on_status(current)
            dead = [w for w in station_workers if w.finished.is_set() and w.final is None]
            if dead:  # a worker died: stop the run and report what we have (Report.problems says so)
                for w in dead:
                    logger.warning("station worker %s ended without its final report (%s): stopping the run",
                                   w.name, _exit_text(w.returncode))
                break
            if ramp_done_at is not None and duration and time.monotonic() - ramp_done_at >= duration:
                break

        # 4. Stop stations first (transactions end, sockets close), then the CSMS. After a
        #    Ctrl-C all within the deadline: the stations get what is left but the time their
        #    closes, the Finals and the CSMS's stop need.
        monitor.end_steady()
        if builtin and steady_open:  # the stations' wind-down below is not the CSMS's steady state
            with trio.move_on_after(2.0):
                await backend.steady_window(False)
        if not stopped_by_signal:
            with trio.move_on_after(RECOVERY_SETTLE_TIMEOUT):
                await backend.settle_recoveries()
        status.phase = "stopping"
        final_states = dict(refresh().states)
        if on_status is not None:
            on_status(status)
        left = interrupt_deadline - trio.current_time()
        stop_timeout = options.stop_timeout if options.stop_timeout is not None else wind_down_timeout(total, limits.cores)
        await _stop_all(station_workers, min(stop_timeout, left - 1.0),
                        max(0.0, left - INTERRUPT_AFTER_STATIONS) if stopped_by_signal else None)
        await _stop_all(csms_workers, min(stop_timeout, interrupt_deadline - trio.current_time()))
        status.phase = "done"
        refresh()
        nursery.cancel_scope.cancel()

    status.states = final_states if final_states is not None else dict(refresh().states)
    report = _build_report(plan, options, station_workers, csms_workers, status, csms_urls, stopped_by_signal,
                           monitor.summary(), machine.summary())
    csms_faults = _csms_fault_records(plan, csms_workers, backend.restarts, fault_epoch)
    if csms_faults:
        report.faults = {**report.faults, **csms_faults}
    report.timeline = _timeline(station_workers + csms_workers, timeline.close())
    return report


def _timeline(workers: list[_Worker], own: Timeline) -> Timeline:
    """The run's timeline: the workers' (those that sent their final report) and the supervisor's, merged."""
    timelines = [own]
    for w in workers:
        if w.final is not None and w.final.records.get("timeline"):
            timelines.append(msgspec.convert(w.final.records["timeline"], Timeline))
    return merge_timelines(timelines) or own


def check_csms_faults(plan: FleetPlan) -> None:
    """Refuse CSMS-side faults (a CSMS restart, Pending/Rejected boots) for a fleet that runs
    against an external CSMS: fleet cannot restart it or choose its answers, and a run that
    quietly skipped them would report a test that did not happen.

    Raises:
        ValueError: which faults, and what to do instead.
    """
    if not plan.config.csms:
        return
    names = sorted({name for spec in (plan.faults, *(p.faults for p in plan.profiles)) for name in csms_side_faults(spec)})
    if names:
        raise ValueError(
            f"{', '.join(names)}: CSMS-side faults need the built-in CSMS (run without --csms); against "
            f"{', '.join(plan.config.csms)} restart the CSMS or set its boot answers yourself, or turn them off "
            f"with --fault {names[0]}={'none' if names[0] == 'csms_restart_at' else '0'}"
        )


def _boot_refusals(plan: FleetPlan, shard: tuple[int, int], epoch: float) -> dict[str, list[Any]]:
    """Station id -> [Pending or Rejected, until (wall clock) or None] for the boot shares of
    each station's ``[faults]`` (drawn from its seed, as :func:`fleet.faults.boot_statuses`)."""
    specs = [p.faults for p in plan.profiles]
    if not any(f.boot_pending_share > 0 or f.boot_rejected_share > 0 for f in specs):
        return {}
    refusals: dict[str, list[Any]] = {}
    for station in plan.stations(shard=shard):
        spec = specs[station.group]
        for station_id, status in boot_statuses([(station.station_id, station.seed, spec)]).items():
            until = epoch + spec.boot_refusal_duration if spec.boot_refusal_duration > 0 else None
            refusals[station_id] = [status, until]
    return refusals


async def _scheduled_restart(backend: FleetBackend, at: float, downtime: float, epoch: float,
                             stop_event: trio.Event) -> None:
    with trio.move_on_after(max(0.0, epoch + at - time.time())):
        await stop_event.wait()
    if stop_event.is_set() or backend.status.phase in ("stopping", "done"):
        return
    try:
        await backend.restart_csms(downtime, scheduled=True)
    except ControlError as exc:  # recorded in backend.restarts; the run goes on
        logger.warning("the scheduled CSMS restart failed: %s", exc.message)


def _csms_fault_records(plan: FleetPlan, csms_workers: list[_Worker], restarts: list[dict[str, Any]],
                        epoch: float) -> dict[str, Any]:
    """The CSMS side of the FAULTS section: its restarts and the boots it refused."""
    out: dict[str, Any] = {}
    scheduled = plan.faults.csms_restart_at
    if restarts or (scheduled is not None and csms_workers):
        entries = []
        for record in restarts:
            entry = {k: v for k, v in record.items() if k != "at"}
            entries.append({"at_s": round(record["at"] - epoch, 2), **entry})
        if scheduled is not None and csms_workers and not any(r["by"] == "schedule" for r in restarts):
            entries.append({"by": "schedule", "at_s": scheduled, "downtime_s": plan.faults.csms_downtime,
                            "skipped": "the run ended before csms_restart_at"})
        out["csms_restarts"] = entries
    refused: dict[str, dict[str, int]] = {}
    accepted_later: set[str] = set()
    for w in csms_workers:
        boots = w.final.records.get("boots", {}) if w.final is not None else {}
        for status, per in boots.get("refused", {}).items():
            into = refused.setdefault(status, {})
            for station_id, n in per.items():
                into[station_id] = into.get(station_id, 0) + n
        accepted_later.update(boots.get("accepted_later", ()))
    if refused:
        out["boot_refusals"] = {
            "stations": {status: len(per) for status, per in sorted(refused.items())},
            "answers": {status: sum(per.values()) for status, per in sorted(refused.items())},
            "accepted_later": len(accepted_later),
            "station_ids": {status: sorted(per)[:BOOT_IDS_SHOWN] for status, per in sorted(refused.items())},
        }
    return out


async def _serve_control(nursery: trio.Nursery, backend: FleetBackend, options: RunOptions) -> str:
    """Start the control API in ``nursery``; return its URL."""
    from ..control.server import serve_control

    host, port, token = options.control_host, options.control_port or 0, options.control_token
    try:
        server = await nursery.start(functools.partial(serve_control, backend, host, port, token=token))
    except (OSError, ExceptionGroup) as failure:
        exc = _bind_error(failure)
        if exc is None:
            raise
        if not options.control_fallback or port == 0:
            raise OSError(f"control API: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        server = await nursery.start(functools.partial(serve_control, backend, host, 0, token=token))
    return str(server.url)


def _bind_error(error: BaseException) -> OSError | None:
    """The OSError inside ``error`` if that is all it is (a group of one, as nurseries wrap it)."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error if isinstance(error, OSError) else None


async def _kill(process: trio.Process) -> None:
    process.kill()  # (workers ignore SIGINT and SIGTERM: the supervisor stops them)


async def _run_worker_process(command: list[str], worker: _Worker) -> None:
    """Run a worker process; cancelled, kill it (its Stop has been sent and waited for)."""
    try:
        process = await trio.run_process(command, check=False, stdin=subprocess.DEVNULL, deliver_cancel=_kill)
        worker.returncode = process.returncode
    finally:
        worker.finished.set()


async def _stop_all(workers: list[_Worker], timeout: float, station_timeout: float | None = None) -> None:
    """Send each worker a Stop (``station_timeout``: the time its stations get to wind
    down) and wait at most ``timeout`` for them to finish."""
    for w in workers:
        if w.wire is not None and not w.finished.is_set():
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await w.wire.send(Stop(reason="run ended", timeout=station_timeout))
    with trio.move_on_after(timeout):
        for w in workers:
            await w.finished.wait()


def _auth_list(plan: FleetPlan, shard: tuple[int, int]) -> dict[str, str] | None:
    """Passwords of every station that uses Basic auth (the built-in CSMS checks them)."""
    from ..profiles import station_password

    auth: dict[str, str] = {}
    for spec in plan.stations(shard=shard):
        password = station_password(plan.profiles[spec.group], spec.station_id)
        if password is None:
            return None  # a station without credentials: serve without an auth list
        auth[spec.station_id] = password
    return auth


def _id_tokens(plan: FleetPlan) -> dict[str, str]:
    """The built-in CSMS's token list: the profiles' tokens Accepted, their invalid tokens Invalid."""
    tokens: dict[str, str] = {}
    for profile in plan.profiles:
        for spec in profile.sessions.invalid_id_tokens:
            tokens[spec.id_token] = "Invalid"
        for spec in profile.sessions.id_tokens:
            tokens[spec.id_token] = "Accepted"
    return tokens


def _build_report(
    plan: FleetPlan,
    options: RunOptions,
    station_workers: list[_Worker],
    csms_workers: list[_Worker],
    status: FleetStatus,
    csms_urls: list[str],
    interrupted: bool,
    supervisor_load: dict[str, Any] | None = None,
    machine_load: dict[str, Any] | None = None,
) -> Report:
    metrics = MetricsSnapshot()
    steady: MetricsSnapshot | None = None
    for w in station_workers:
        if w.final is not None:
            metrics = metrics.merge(w.final.metrics)
            if "steady" in w.final.records:
                window = msgspec.convert(w.final.records["steady"], MetricsSnapshot)
                steady = window if steady is None else steady.merge(window)
    states = dict(status.states)  # as they were when the run was told to stop
    missing_workers = [w.name for w in station_workers + csms_workers if w.final is None]
    # (an interrupted run killed before every process reported has nothing to audit against)
    audit = audit_run(
        [w.final.records for w in station_workers if w.final is not None],
        [w.final.records for w in csms_workers if w.final is not None],
    ) if csms_workers and not (interrupted and missing_workers) else {}
    csms_messages: dict[str, int] = {}
    for w in csms_workers:
        if w.final is not None:
            for action, n in w.final.records.get("messages", {}).items():
                csms_messages[action] = csms_messages.get(action, 0) + n
    lost = int(audit.get("missing_events", 0)) if audit else None
    execution = _execution(station_workers, csms_workers, metrics, supervisor_load or {}, machine_load or {})
    thresholds = evaluate(list(options.thresholds), metrics, lost=lost, steady=steady, execution=execution,
                          settle=float(options.station_options.get("settle", SETTLE_SECONDS)))
    peak_rss = {w.name: w.peak_rss for w in station_workers + csms_workers}
    resources: dict[str, Any] = {"peak_rss": peak_rss, "total_rss": sum(peak_rss.values())}
    fleet = {
        "source": plan.source,
        "stations": status.total,
        "started": status.started,
        "workers": len(station_workers),
        "csms_workers": len(csms_workers),
        "csms": csms_urls if plan.config.csms else [f"{BUILTIN_CSMS} ({', '.join(csms_urls)})"],
        "csms_urls": csms_urls,  # where the stations connected (the built-in CSMS: one URL per port)
        "shard": list(options.shard),
        "seed": plan.config.seed,
        "ramp": plan.config.ramp,
        "duration": plan.config.duration,
        "speed": plan.config.speed_record(),
        "interrupted": interrupted,
        "workers_without_final_report": missing_workers,
    }
    offline = _merge_never_online([w.final.records.get("never_online", {}) for w in station_workers if w.final])
    if offline:
        fleet["never_online"] = offline
    problems = _run_problems(plan, options, station_workers + csms_workers, metrics, offline, status.total,
                            interrupted)
    if csms_workers:
        fleet["csms_received"] = csms_messages
    fault_records = [w.final.records["faults"] for w in station_workers if w.final and "faults" in w.final.records]
    faults = merge_fault_records(fault_records) if fault_records else {}
    return Report(fleet=fleet, metrics=metrics, stations=states, thresholds=thresholds, audit=audit,
                  resources=resources, steady=steady, faults=faults, problems=problems,
                  interrupted=interrupted, execution=execution).with_derived()


def _merge_never_online(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The station workers' ``never_online`` records added up (ids: the first few per reason)."""
    merged: dict[str, Any] = {}
    for part in parts:
        if not part:
            continue
        merged["stations"] = merged.get("stations", 0) + int(part.get("stations", 0))
        merged["by_plan"] = merged.get("by_plan", 0) + int(part.get("by_plan", 0))
        reasons = merged.setdefault("reasons", {})
        for reason, n in part.get("reasons", {}).items():
            reasons[reason] = reasons.get(reason, 0) + int(n)
        ids = merged.setdefault("ids", {})
        for reason, listed in part.get("ids", {}).items():
            ids[reason] = sorted([*ids.get(reason, []), *listed])[:NEVER_ONLINE_IDS]
    return merged


def _exit_text(returncode: int | None) -> str:
    if returncode is None:
        return "it did not end within the stop timeout"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def _station_range(plan: FleetPlan, shard: tuple[int, int], worker: tuple[int, int]) -> str:
    ids = [spec.station_id for spec in plan.stations(shard=shard, worker=worker)] if plan.size < 2_000_000 else []
    if not ids:
        return "its stations"
    if len(ids) <= 3:
        return f"its {len(ids)} station(s) {', '.join(ids)}"
    return f"its {len(ids):,} stations {ids[0]}, {ids[1]} ... {ids[-1]}"


def _causes_text(causes: dict[str, int]) -> str:
    """``refused 22 (nothing listens there: ...), http_401 3 (wrong password ...)``."""
    parts = []
    for cause, n in sorted(causes.items(), key=lambda item: -item[1]):
        hint = connect_failure_hint(cause)
        parts.append(f"{cause} {n:,}" + (f" ({hint})" if hint else ""))
    return ", ".join(parts)


def _run_problems(plan: FleetPlan, options: RunOptions, workers: list[_Worker], metrics: MetricsSnapshot,
                 never: dict[str, Any], total: int, interrupted: bool) -> list[str]:
    """Why the run could not be carried out as asked, one plain sentence each (empty: it was):
    a worker process that died (named, with its stations), no station ever online, stations
    that never came online (those the fault plan kept off on purpose excepted: boots it had the
    built-in CSMS refuse, its network partition)."""
    problems = []
    station_workers = [w for w in workers if w.role == "stations"]
    for w in workers:
        if w.final is not None:
            continue
        how = _exit_text(w.returncode)
        if w.role == "stations":
            which = _station_range(plan, options.shard, (w.index, len(station_workers)))
            problems.append(f"station worker {w.name} ended without its final report ({how}): the measurements "
                            f"of {which} are missing and the run was stopped early.")
        else:
            problems.append(f"built-in CSMS process {w.name} ended without its final report ({how}): what it "
                            f"recorded is missing (the audit is incomplete).")
    causes = metrics.connect_failures
    attempts = sum(causes.values())
    if total and any(w.final is not None for w in station_workers) and not metrics.counters.get("connects", 0) \
            and (attempts or not interrupted) and set(causes) != {"partition"}:
        # (stopped by hand before any attempt ended: no verdict; all cut off by the fault plan's
        # partition: on purpose, reported with the stations never online)
        waiting = int(never.get("reasons", {}).get("in_progress", 0))
        why = f"all {attempts:,} connection attempts failed: {_causes_text(causes)}" if attempts else (
            f"no connection attempt ended: {waiting:,} were still waiting for the CSMS's answer to the websocket "
            f"handshake when the run stopped (does it answer HTTP there?)" if waiting else "no connection was attempted")
        problems.append(f"no station came online: {why}.")
    elif never and not interrupted:
        refused_by_plan = int(never.get("by_plan", 0))
        failed = int(never.get("stations", 0)) - refused_by_plan
        if failed > 0:
            reasons = {r: n for r, n in never.get("reasons", {}).items() if not r.endswith("_by_plan")}
            shown = ", ".join(f"{r} {n:,}" for r, n in sorted(reasons.items(), key=lambda item: -item[1]))
            examples = [sid for r, listed in never.get("ids", {}).items() if r in reasons for sid in listed][:5]
            plan_note = f" ({refused_by_plan:,} more kept off on purpose by the fault plan)" if refused_by_plan else ""
            problems.append(f"{failed:,} of {total:,} stations never came online{plan_note}: {shown} "
                            f"(e.g. {', '.join(examples)}).")
    return problems


def _execution(station_workers: list[_Worker], csms_workers: list[_Worker], metrics: MetricsSnapshot,
               supervisor_load: dict[str, Any], machine_load: dict[str, Any]) -> dict[str, Any]:
    """The report's ``execution``: each role's CPU, loop lag and schedule lag (see :mod:`fleet.run.execution`)."""
    csms_schedule = MetricsSnapshot()
    for w in csms_workers:
        if w.final is not None:
            csms_schedule = csms_schedule.merge(MetricsSnapshot(schedule_histogram=w.final.metrics.schedule_histogram))
    processes = {
        "stations": [w.final.execution for w in station_workers if w.final is not None],
        "csms": [w.final.execution for w in csms_workers if w.final is not None],
        "supervisor": [supervisor_load],
    }
    return summarize_roles(processes, {"stations": metrics.schedule_histogram,
                                       "csms": csms_schedule.schedule_histogram}, machine_load)
