"""``fleet bench --scale 1000,5000,20000``: how the cost of the realistic fleet grows with its size.

Each size is one real ``fleet run`` (a child process started as a user would start it:
the supervisor, station workers and built-in CSMS processes) of the realistic fleet
(``profiles/realistic-fleet.toml`` rescaled to the size: 30% of the stations charging
with TransactionEvent meter values every 15 s, a 60 s heartbeat). While it ramps, the
benchmark polls the run's control API for the stations online (booted and connected);
the run goes on for ``duration`` seconds after its scheduled ramp (as ``fleet run
--duration`` counts), ends by itself and writes its report, from which the rest of a
point is read. (Stopping it as Ctrl-C does once all were online was tried: a Ctrl-C stop
has 10 s to wind down, too few for 20,000 stations on a busy machine, and the workers'
final reports were lost. When stations come online well after the scheduled ramp, as at
20,000 here, give a longer ``duration``: the steady-state window opens 10 s after the
scheduled ramp.)

* ``online_s``: seconds from the start of ``fleet run`` until every station was online:
  the wall-clock time of the last station's first Accepted boot, which the run's report
  keeps (``metrics.last_boot_at``), when every station booted; ``seen_online_s``: when the
  control API first showed them all online (later by the status pipeline's delay: each
  worker counts its stations once a second and the benchmark polls twice a second; used
  for ``online_s`` when the report has no boot time, as from a run of an older fleet);
* ``peak_rss_mb``: peak RSS per role (station workers, CSMS processes) and in all;
* ``steady_calls_per_s`` and ``steady_p50_ms``/``steady_p99_ms``: the fleet's calls in the
  steady-state window (from a settle time after the ramp until the stop);
* ``roles``: fleet's own CPU (mean and peak, % of one core) and loop lag p99 of each
  role's busiest process in the steady state; ``machine_busy_pct``: how busy all cores were.

The points go into a JSON document (:func:`document`); :func:`plot` draws them with
matplotlib when it is installed (``pip install fleet[plot]``).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from ..control.client import ControlClient, ControlConnectionError
from ..metrics import MetricsSnapshot, decode_histogram
from ..run.capacity import machine_limits, plan_processes

__all__ = ["ScaleBenchError", "ScaleConfig", "ScalePoint", "check_sizes", "document", "plot", "point_from_report",
           "run_size"]

#: The fleet each size runs (a shipped fleet file, rescaled with ``--stations``).
DEFAULT_FLEET = "realistic-fleet.toml"
#: The heartbeat interval the built-in CSMS gives (the realistic load: 60 s).
HEARTBEAT_INTERVAL = 60
#: Station states of a station that is online (connected, its boot accepted).
ONLINE_STATES = ("available", "charging", "faulted")
#: Seconds between two polls of the run's control API while it ramps.
POLL_INTERVAL = 0.5


class ScaleBenchError(Exception):
    """A run did not start (its output is in the message)."""


class ScaleConfig(msgspec.Struct):
    """What ``fleet bench --scale`` runs.

    Attributes:
        sizes: station counts, one run each, in this order.
        fleet: the fleet file (rescaled to each size).
        duration: seconds each run goes on after its scheduled ramp (its steady-state
            window opens 10 s after it).
        workers: station worker processes (0: the run chooses).
        csms_workers: built-in CSMS processes (0: the run chooses). Chosen, the counts and
            the CSMS ports follow ``fleet run``'s rule (:func:`fleet.run.capacity.plan_processes`:
            the open-files limit and the ephemeral port range).
        online_timeout: seconds a run gets to bring every station online (0: 60 s plus
            10 ms per station).
    """

    sizes: list[int]
    fleet: str
    duration: float = 40.0
    workers: int = 0
    csms_workers: int = 0
    online_timeout: float = 0.0


class RoleFigures(msgspec.Struct):
    """Fleet's own load of one role: CPU (% of one core) and loop lag of its busiest process,
    in the steady state and (``run_``) over the whole run, the ramp included."""

    processes: int
    cpu_mean: float
    cpu_peak: float
    loop_lag_p99_ms: float
    run_cpu_mean: float = 0.0
    run_cpu_peak: float = 0.0
    run_loop_lag_p99_ms: float = 0.0


class ScalePoint(msgspec.Struct):
    """One size's figures (``None`` where the run did not measure it; ``online``: the stations
    online when all were, or else the most seen online at once)."""

    stations: int
    workers: int
    csms_workers: int
    online: int
    online_s: float | None
    peak_rss_mb: dict[str, float]
    steady_calls_per_s: float | None
    steady_p50_ms: float | None
    steady_p99_ms: float | None
    errors: int
    audit_ok: bool | None
    roles: dict[str, RoleFigures]
    machine_busy_pct: float | None
    #: the run's exit status (0: it ran and passed)
    exit_code: int
    #: ports the built-in CSMS listened on
    csms_ports: int = 0
    #: seconds until the control API showed every station online (``None``: it never did)
    seen_online_s: float | None = None


def check_sizes(config: ScaleConfig) -> None:
    """The process counts given must hold every size (the rule ``fleet run`` refuses them by).

    Raises:
        fleet.run.capacity.CapacityError: one line: the option and how many the largest size needs.
    """
    plan_processes(max(config.sizes), machine_limits(), workers=config.workers, csms_workers=config.csms_workers)


def run_command(config: ScaleConfig, stations: int, report: str) -> list[str]:
    """The ``fleet run`` command line of one size."""
    argv = [sys.executable, "-m", "fleet", "run", config.fleet, "--stations", str(stations),
            "--duration", f"{config.duration:g}", "--heartbeat-interval", str(HEARTBEAT_INTERVAL),
            "--report", report, "--quiet", "--control-host", "127.0.0.1", "--control-port", "0"]
    if config.workers:
        argv += ["--workers", str(config.workers)]
    if config.csms_workers:
        argv += ["--csms-workers", str(config.csms_workers)]
    return argv


def point_from_report(report: dict[str, Any], *, online: int, online_s: float | None, exit_code: int,
                      started_at: float | None = None) -> ScalePoint:
    """A :class:`ScalePoint` from a ``fleet run`` report and what the benchmark saw of the ramp
    (``online_s``: when the control API showed every station online; ``started_at``: the
    wall-clock time the run was started, from which the report's last first boot counts)."""
    fleet = report.get("fleet", {})
    rss: dict[str, float] = {}
    for process, size in report.get("resources", {}).get("peak_rss", {}).items():
        role = process.split("/")[0]
        rss[role] = rss.get(role, 0.0) + size / 2**20
    rss["total"] = sum(rss.values())
    calls_per_s = p50 = p99 = None
    errors = 0
    if report.get("steady"):
        steady = msgspec.convert(report["steady"], MetricsSnapshot)
        histogram = steady.total_histogram("out")
        answered = histogram.get_total_count()
        elapsed = steady.ended_at - steady.started_at
        calls_per_s = round(answered / elapsed, 1) if elapsed > 0 else None
        if answered:
            p50 = histogram.get_value_at_percentile(50.0) / 1000.0
            p99 = histogram.get_value_at_percentile(99.0) / 1000.0
    metrics = report.get("metrics", {})
    all_online_s = online_s
    last_boot_at = float(metrics.get("last_boot_at", 0.0))
    if started_at is not None and last_boot_at and metrics.get("boot_histogram"):
        booted = decode_histogram(metrics["boot_histogram"]).get_total_count()
        if booted >= int(fleet.get("stations", 0)) > 0:
            all_online_s = last_boot_at - started_at
    for key, codes in metrics.get("errors", {}).items():
        if key.startswith("out:"):
            errors += sum(codes.values())
    errors += metrics.get("counters", {}).get("violations", 0)
    roles: dict[str, RoleFigures] = {}
    execution = report.get("execution") or {}
    for role, figures in execution.get("roles", {}).items():
        steady_figures = figures.get("steady") or figures
        roles[role] = RoleFigures(figures.get("processes", 1), steady_figures.get("cpu_mean", 0.0),
                                  steady_figures.get("cpu_peak", 0.0), steady_figures.get("loop_lag_p99_ms", 0.0),
                                  figures.get("cpu_mean", 0.0), figures.get("cpu_peak", 0.0),
                                  figures.get("loop_lag_p99_ms", 0.0))
    audit = report.get("audit")
    return ScalePoint(
        stations=int(fleet.get("stations", 0)), workers=int(fleet.get("workers", 0)),
        csms_workers=int(fleet.get("csms_workers", 0)), online=online,
        online_s=None if all_online_s is None else round(all_online_s, 2),
        seen_online_s=None if online_s is None else round(online_s, 2),
        peak_rss_mb={role: round(mb, 1) for role, mb in rss.items()},
        steady_calls_per_s=calls_per_s, steady_p50_ms=p50, steady_p99_ms=p99, errors=errors,
        audit_ok=audit.get("ok") if audit else None, roles=roles,
        machine_busy_pct=(execution.get("machine") or {}).get("busy_mean"), exit_code=exit_code,
        csms_ports=len(fleet.get("csms_urls") or ()) if fleet.get("csms_workers") else 0)


async def _watch_ramp(url: str, stations: int, started: float, timeout: float,
                      progress: Callable[[str], None], running: Callable[[], bool]) -> tuple[int, float | None]:
    """Poll the run's control API until every station is online: (online, seconds) or, when
    the timeout passes or the run ends first, (the most seen online at once, ``None``)."""
    most = 0
    last_report = 0.0
    while time.monotonic() - started < timeout and running():
        try:
            async with ControlClient(url) as client:
                while True:
                    snapshot = await client.request("snapshot", rows=False)
                    online = sum(snapshot.states.get(state, 0) for state in ONLINE_STATES)
                    most = max(most, online)
                    elapsed = time.monotonic() - started
                    if online >= stations:
                        return online, elapsed
                    if elapsed > timeout:
                        return most, None
                    if elapsed - last_report >= 5:
                        last_report = elapsed
                        progress(f"{online:,} of {stations:,} online after {elapsed:.0f} s")
                    await asyncio.sleep(POLL_INTERVAL)
        except ControlConnectionError as exc:
            if running():
                progress(f"control connection lost while the fleet ramped ({exc}); reconnecting")
            await asyncio.sleep(POLL_INTERVAL)
    return most, None


def run_size(config: ScaleConfig, stations: int, progress: Callable[[str], None]) -> ScalePoint:
    """Run the fleet at one size and measure it.

    Raises:
        ScaleBenchError: the run ended before its control API came up, or wrote no report.
    """
    from ..commands.run import _wait_for_control, stop_child

    timeout = config.online_timeout or 60.0 + stations * 0.01
    with tempfile.TemporaryDirectory() as directory, \
            tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        report_path = os.path.join(directory, "report.json")
        started_at = time.time()
        started = time.monotonic()
        child = subprocess.Popen(run_command(config, stations, report_path), stdout=out, stderr=err,
                                 stdin=subprocess.DEVNULL)
        try:
            url = _wait_for_control(child, out, 60.0)
            if url is None:
                err.seek(0)
                raise ScaleBenchError(f"the run of {stations:,} stations ended before its control API came up: "
                                      f"{err.read().strip()[-2000:]}")
            online, online_s = asyncio.run(_watch_ramp(url, stations, started, timeout, progress,
                                                       lambda: child.poll() is None))
            progress(f"{online:,} of {stations:,} online" + (f" after {online_s:.1f} s" if online_s else
                                                                " at most (not all before the timeout or the run's end)")
                     + "; waiting for the run's end")
            try:
                code = child.wait(config.duration + timeout + 120.0)
            except subprocess.TimeoutExpired:
                code = stop_child(child)
        finally:
            if child.poll() is None:
                stop_child(child)
        if not os.path.exists(report_path):
            err.seek(0)
            raise ScaleBenchError(f"the run of {stations:,} stations wrote no report: {err.read().strip()[-2000:]}")
        report = json.loads(Path(report_path).read_text())
    return point_from_report(report, online=online, online_s=online_s, exit_code=code, started_at=started_at)


def document(config: ScaleConfig, points: list[ScalePoint]) -> dict[str, Any]:
    """The JSON document of a scale benchmark: the machine, the date, the settings and the points."""
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "config": {**msgspec.to_builtins(config), "fleet": _shown_path(config.fleet)},
        "points": [msgspec.to_builtins(point) for point in points],
    }


def _shown_path(path: str) -> str:
    """``path`` as the document shows it: relative to the working directory or the shipped
    profiles when it is under one of them (no machine's paths in a result meant to be shared)."""
    resolved = Path(path).resolve()
    for base, shown in ((Path.cwd(), ""), (Path(__file__).resolve().parent.parent / "shipped_profiles", "profiles/")):
        try:
            return shown + str(resolved.relative_to(base.resolve()))
        except ValueError:
            continue
    return Path(path).name


def plot(doc: dict[str, Any], path: str, *, note: str = "") -> None:
    """Draw the points of a :func:`document` as four panels into ``path`` (PNG or SVG).

    Raises:
        ImportError: matplotlib is not installed (``pip install fleet[plot]``).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    points = doc["points"]
    sizes = [p["stations"] for p in points]
    figure, axes = pyplot.subplots(2, 2, figsize=(11, 7.5))
    (online, memory), (latency, load) = axes

    online.plot(sizes, [p["online_s"] for p in points], "o-", label="all online")
    online.set_ylabel("seconds from the start of fleet run")
    online.set_title("time until every station is online")

    for role in sorted({r for p in points for r in p["peak_rss_mb"]}):
        memory.plot(sizes, [p["peak_rss_mb"].get(role) for p in points], "o-", label=role)
    memory.set_ylabel("peak RSS, MiB")
    memory.set_title("memory")

    latency.plot(sizes, [p["steady_p99_ms"] for p in points], "o-", label="OCPP round trip p99")
    latency.plot(sizes, [p["steady_p50_ms"] for p in points], "o--", label="OCPP round trip p50")
    for role in ("stations", "csms"):
        latency.plot(sizes, [p["roles"].get(role, {}).get("loop_lag_p99_ms") for p in points], "s:",
                     label=f"{role} loop lag p99")
    latency.set_ylabel("ms (steady state, log scale)")
    latency.set_yscale("log")  # (milliseconds at small fleets, seconds past the machine's capacity)
    latency.set_title("latency")

    load.plot(sizes, [p["steady_calls_per_s"] for p in points], "o-", color="tab:green", label="calls/s")
    load.set_ylabel("OCPP calls/s (steady state)")
    cpu = load.twinx()
    for role in ("stations", "csms"):
        cpu.plot(sizes, [p["roles"].get(role, {}).get("cpu_mean") for p in points], "s:", label=f"{role} CPU")
    cpu.set_ylabel("CPU of the role's busiest process, % of a core")
    load.set_title("throughput and fleet's own CPU")
    lines, labels = load.get_legend_handles_labels()
    more_lines, more_labels = cpu.get_legend_handles_labels()
    load.legend(lines + more_lines, labels + more_labels, fontsize=8)

    for axis in (online, memory, latency):
        axis.legend(fontsize=8)
    for axis in (online, memory, latency, load):
        axis.set_xlabel("stations")
        axis.grid(alpha=0.3)
    figure.suptitle(f"fleet run, realistic fleet — {doc['machine']}, {doc['date']}" + (f"\n{note}" if note else ""),
                    fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    pyplot.close(figure)
