"""How busy fleet's own processes are: event-loop lag and CPU use, per role.

A load test measures the CSMS only while fleet keeps up. When a station worker (or
the built-in CSMS, or the supervisor) runs out of CPU, its event loop wakes late,
its timers fire late and every latency it records includes its own delay; a user
would blame their CSMS. Each fleet process therefore runs a :class:`LoopMonitor`:

- **loop lag**: a task sleeps :data:`PERIOD` and records how late it woke, into an
  HDR histogram (microseconds, the codec of :mod:`fleet.metrics`, so the processes
  of a role merge exactly);
- **CPU**: ``time.process_time()`` against the wall clock, in windows of a status
  report (about a second): the last window for the live display, the busiest
  window and the whole-run mean for the report.

The cost is one wake-up every :data:`PERIOD` seconds and one histogram update.

The supervisor merges the workers' figures per role (``stations``, ``csms``,
``supervisor``) into :attr:`fleet.run.report.Report.execution` with :func:`summarize_roles`,
and :func:`saturation_warnings` says which role limited the run and what to do.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Final

import trio

from ..metrics import LOWEST_US, decode_histogram, encode_histogram, new_histogram
from .timeline import TimelineRecorder

__all__ = [
    "CPU_SATURATED_PCT",
    "LAG_SATURATED_MS",
    "PERIOD",
    "ROLES",
    "LoopMonitor",
    "MachineLoad",
    "live_roles",
    "live_text",
    "ramp_notes",
    "saturation_warnings",
    "summarize_roles",
]

#: Seconds the monitor sleeps between wake-ups.
PERIOD: Final = 0.05
#: A role whose loop lag p99 is above this (ms) limited the run's figures...
LAG_SATURATED_MS: Final = 100.0
#: ...or whose busiest process spent more than this share of a second on CPU with a
#: loop lag p99 above :data:`LAG_BUSY_MS`.
CPU_SATURATED_PCT: Final = 90.0
LAG_BUSY_MS: Final = 25.0
#: The roles, in the order the report shows them, and what to do when each is saturated.
ROLES: Final = ("stations", "csms", "supervisor")
_NAMES: Final = {"stations": "station workers were", "csms": "CSMS workers were", "supervisor": "the supervisor was"}
#: A role busier than this (% of one core in its busiest second) used its core up; a role
#: that woke late while using less was kept waiting for a core (the machine was busy).
CPU_BUSY_PCT: Final = 80.0
_STARVED_ADVICE: Final = ("give fleet's processes the cores: stop other load on this machine, run fewer "
                          "processes than cores (--workers, --csms-workers), or shard across machines (--shard)")
_ADVICE: Final = {
    "stations": "run fewer stations per core, add --workers, or shard across machines (--shard)",
    "csms": "add --csms-workers, or point the fleet at your own CSMS (--csms)",
    "supervisor": "leave a core free for the supervisor (fewer --workers), or shard across machines (--shard)",
}


class LoopMonitor:
    """Measures its process's event-loop lag and CPU use; run :meth:`run` in a nursery.

    Args:
        period: seconds between wake-ups.
        burn: test hook only (``Assign.options["debug_saturate"]``): each wake-up holds
            the loop this many seconds, so the process looks saturated.
    """

    def __init__(self, *, period: float = PERIOD, burn: float = 0.0) -> None:
        self.period = period
        self.burn = burn
        self.lag = new_histogram()
        self._recent = new_histogram()
        self._cpu_start = self._cpu_mark = time.process_time()
        self._wall_start = self._wall_mark = time.monotonic()
        self.cpu_peak = 0.0
        self.cpu_last = 0.0
        #: The steady-state window (see :meth:`start_steady`): its loop lag, CPU at its
        #: start and busiest second; ``None`` until it opens.
        self._steady: _Window | None = None
        self._steady_closed = False
        #: Where the loop lag also goes, interval by interval (see :mod:`fleet.run.timeline`).
        self.timeline: TimelineRecorder | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Wake every ``period`` seconds and record how late; runs until cancelled."""
        period = self.period
        task_status.started()
        due = trio.current_time() + period
        while True:
            await trio.sleep_until(due)
            now = trio.current_time()
            micros = int((now - due) * 1_000_000)
            if micros < LOWEST_US:
                micros = LOWEST_US
            self.lag.record_value(micros)
            self._recent.record_value(micros)
            if self._steady is not None and self._steady.open:
                self._steady.lag.record_value(micros)
            if self.timeline is not None:
                self.timeline.lag(micros)
            if self.burn > 0:
                _hold_loop(self.burn)
            due = now + period  # from the wake-up: whatever holds the loop from here on shows as lag

    def sample(self) -> dict[str, Any]:
        """The figures since the last sample (for a status report), and start a new window:
        ``cpu`` (% of one core), ``lag_p99_ms``, ``lag_max_ms``."""
        cpu = self._cpu_window()
        recent = self._recent
        out = {"cpu": round(cpu, 1), "lag_p99_ms": _ms(recent.get_value_at_percentile(99.0)) if recent.get_total_count() else 0.0,
               "lag_max_ms": _ms(recent.get_max_value())}
        recent.reset()
        return out

    def start_steady(self) -> None:
        """Open the steady-state window (after the ramp has settled): from now until
        :meth:`end_steady`, the lag and CPU are also kept apart, so a ramp that used the
        cores up is not mistaken for a saturated steady state."""
        if self._steady is None and not self._steady_closed:
            self._cpu_window()
            self._steady = _Window(lag=new_histogram(), cpu_start=time.process_time(), wall_start=time.monotonic())

    def end_steady(self) -> None:
        """Close the steady-state window (the wind-down is not steady state)."""
        self._steady_closed = True  # (a late start_steady does not open it again)
        window = self._steady
        if window is not None and window.open:
            self._cpu_window()
            window.open = False
            window.cpu_end, window.wall_end = time.process_time(), time.monotonic()

    def summary(self) -> dict[str, Any]:
        """The whole run so far: CPU mean and busiest window (%), the loop-lag histogram
        (encoded); and ``steady``, the same for the steady-state window if it opened."""
        self._cpu_window()
        mean = _share(time.process_time() - self._cpu_start, time.monotonic() - self._wall_start)
        out: dict[str, Any] = {
            "cpu_mean": round(mean, 1),
            # The busiest window is at least the mean (the short tail since the last
            # window, left out of the peak as noise, still counts in the mean).
            "cpu_peak": round(max(self.cpu_peak, mean), 1),
            "loop_lag": encode_histogram(self.lag) if self.lag.get_total_count() else "",
        }
        window = self._steady
        if window is not None and window.lag.get_total_count():
            cpu_end = window.cpu_end if not window.open else time.process_time()
            wall_end = window.wall_end if not window.open else time.monotonic()
            steady_mean = _share(cpu_end - window.cpu_start, wall_end - window.wall_start)
            out["steady"] = {"cpu_mean": round(steady_mean, 1), "cpu_peak": round(max(window.cpu_peak, steady_mean), 1),
                             "loop_lag": encode_histogram(window.lag)}
        return out

    def _cpu_window(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        if wall - self._wall_mark >= 0.2:  # shorter windows are noise
            self.cpu_last = 100.0 * (cpu - self._cpu_mark) / (wall - self._wall_mark)
            self.cpu_peak = max(self.cpu_peak, self.cpu_last)
            if self._steady is not None and self._steady.open and self._wall_mark >= self._steady.wall_start:
                self._steady.cpu_peak = max(self._steady.cpu_peak, self.cpu_last)
            self._cpu_mark, self._wall_mark = cpu, wall
        return self.cpu_last


@dataclasses.dataclass
class _Window:
    """A :class:`LoopMonitor`'s steady-state window."""

    lag: Any
    cpu_start: float
    wall_start: float
    cpu_peak: float = 0.0
    open: bool = True
    cpu_end: float = 0.0
    wall_end: float = 0.0


def _share(cpu: float, wall: float) -> float:
    """CPU seconds over wall seconds, in % of one core."""
    return 100.0 * cpu / max(wall, 1e-9)


class MachineLoad:
    """The whole machine's CPU use (all cores, from ``/proc/stat``; nothing where there is
    none): whether fleet's processes had the cores to themselves."""

    def __init__(self) -> None:
        self.cores = os.cpu_count() or 1
        self._start = self._mark = _cpu_ticks()
        self.peak = 0.0

    def sample(self) -> float | None:
        """% of all cores busy since the last sample (``None`` where unknown)."""
        now = _cpu_ticks()
        if now is None or self._mark is None:
            return None
        busy = _busy_share(self._mark, now)
        if busy is not None:
            self.peak = max(self.peak, busy)
            self._mark = now
        return busy

    def summary(self) -> dict[str, Any]:
        """``cores``, ``busy_mean`` and ``busy_peak`` (% of all cores; ``{}`` where unknown)."""
        now = _cpu_ticks()
        if now is None or self._start is None:
            return {}
        self.sample()
        mean = _busy_share(self._start, now)
        return {"cores": self.cores, "busy_mean": round(mean or 0.0, 1), "busy_peak": round(self.peak, 1)}


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all cores since boot (Linux), ``None`` elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    total = sum(fields[:8])
    return total - fields[3] - fields[4], total  # less idle and iowait


def _busy_share(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    total = after[1] - before[1]
    return 100.0 * (after[0] - before[0]) / total if total > 0 else None


def ramp_notes(roles: dict[str, Any]) -> list[str]:
    """One sentence per role that was saturated over the whole run but not in its
    steady-state window: the ramp (or the settle after it) used its cores up."""
    notes = []
    for role in ROLES:
        figures = roles.get(role)
        if not figures or not figures.get("steady") or saturated(figures["steady"]) or not saturated(figures):
            continue
        cpu, lag = float(figures.get("cpu_peak", 0.0)), float(figures.get("loop_lag_p99_ms", 0.0))
        notes.append(
            f"{_NAMES[role]} busy during the ramp (CPU {cpu:,.0f}% in the busiest second, loop lag p99 {lag:,.0f} ms "
            f"over the whole run): calls during the ramp include fleet's own delay; the steady state did not "
            f"(loop lag p99 {float(figures['steady'].get('loop_lag_p99_ms', 0.0)):,.0f} ms). A lower --ramp spreads the start."
        )
    return notes


def _hold_loop(seconds: float) -> None:
    """Keep the CPU busy for ``seconds`` without yielding (the saturation test hook)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _ms(micros: float) -> float:
    return round(micros / 1000.0, 2)


def live_roles(samples: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Role -> the worst of its processes' latest samples (``cpu``, ``lag_p99_ms``, ``lag_max_ms``)."""
    out: dict[str, dict[str, float]] = {}
    for role, entries in samples.items():
        entries = [e for e in entries if e]
        if entries:
            out[role] = {key: max(float(e.get(key, 0.0)) for e in entries) for key in ("cpu", "lag_p99_ms", "lag_max_ms")}
    return out


def live_text(roles: dict[str, dict[str, float]]) -> str:
    """The live figures in a few words: the busiest role's CPU and loop lag, and
    ``SATURATED`` while a role cannot keep up (``""`` without figures)."""
    if not roles:
        return ""
    role = max(roles, key=lambda r: (roles[r].get("lag_p99_ms", 0.0), roles[r].get("cpu", 0.0)))
    figures = roles[role]
    hot = [r for r in ROLES if r in roles and saturated({"loop_lag_p99_ms": roles[r].get("lag_p99_ms", 0.0),
                                                          "cpu_peak": roles[r].get("cpu", 0.0)})]
    text = f"fleet {role} CPU {figures.get('cpu', 0.0):.0f}% lag p99 {figures.get('lag_p99_ms', 0.0):,.0f} ms"
    return text + (f" SATURATED: {', '.join(hot)}" if hot else "")


def summarize_roles(processes: dict[str, list[dict[str, Any]]], schedule: dict[str, str],
                    machine: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report's ``execution``: per role, from its processes' :meth:`LoopMonitor.summary`
    and the role's schedule-lag histogram (encoded; ``""`` for none).

    Per role: ``processes``; ``cpu_mean`` (the busiest process's mean over the run, % of
    one core) and ``cpu_peak`` (its busiest second); ``loop_lag`` (the merged histogram),
    ``loop_lag_p50_ms``, ``loop_lag_p99_ms``, ``loop_lag_max_ms``; ``schedule_lag_p99_ms``
    and ``schedule_lag_max_ms`` (timer-driven sends, ramp connects) and ``schedule_lag``.
    ``steady``: the same load figures for the steady-state window, when every process of
    the role had one (see :meth:`LoopMonitor.start_steady`). Then ``machine`` (see
    :meth:`MachineLoad.summary`), ``warnings`` (see :func:`saturation_warnings`) and
    ``notes`` (see :func:`ramp_notes`).
    """
    roles: dict[str, Any] = {}
    for role in ROLES:
        entries = [e for e in processes.get(role, []) if e]
        if not entries:
            continue
        figures: dict[str, Any] = {"processes": len(entries), **_load_figures(entries)}
        windows = [e.get("steady") for e in entries]
        if all(windows):
            figures["steady"] = _load_figures([w for w in windows if w])
        encoded = schedule.get(role, "")
        if encoded:
            scheduled = decode_histogram(encoded)
            figures["schedule_lag_p99_ms"] = _ms(scheduled.get_value_at_percentile(99.0))
            figures["schedule_lag_max_ms"] = _ms(scheduled.get_max_value())
            figures["schedule_lag"] = encoded
        roles[role] = figures
    return {"roles": roles, "machine": dict(machine or {}), "warnings": saturation_warnings(roles, machine),
            "notes": ramp_notes(roles)}


def _load_figures(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """CPU (the busiest process's) and the merged loop lag of a role's processes."""
    lag = new_histogram()
    for entry in entries:
        if entry.get("loop_lag"):
            lag.decode_and_add(entry["loop_lag"])
    return {
        "cpu_mean": max(float(e.get("cpu_mean", 0.0)) for e in entries),
        "cpu_peak": max(float(e.get("cpu_peak", 0.0)) for e in entries),
        "loop_lag_p50_ms": _ms(lag.get_value_at_percentile(50.0)) if lag.get_total_count() else 0.0,
        "loop_lag_p99_ms": _ms(lag.get_value_at_percentile(99.0)) if lag.get_total_count() else 0.0,
        "loop_lag_max_ms": _ms(lag.get_max_value()),
        "loop_lag": encode_histogram(lag) if lag.get_total_count() else "",
    }


def saturated(figures: dict[str, Any]) -> bool:
    """Whether a role's figures say it could not keep up: its loop woke more than
    :data:`LAG_SATURATED_MS` late at p99, or it was busy (CPU above
    :data:`CPU_SATURATED_PCT` in its busiest second) and woke more than :data:`LAG_BUSY_MS` late."""
    lag = float(figures.get("loop_lag_p99_ms", 0.0))
    return lag > LAG_SATURATED_MS or (float(figures.get("cpu_peak", 0.0)) > CPU_SATURATED_PCT and lag > LAG_BUSY_MS)


def saturation_warnings(roles: dict[str, Any], machine: dict[str, Any] | None = None) -> list[str]:
    """One sentence per saturated role: which, its figures, why, and what to do.

    A role that used its core up (above :data:`CPU_BUSY_PCT` in its busiest second) was
    saturated by its own work; one that woke late using less waited for a core: the
    machine was busy (with other fleet processes or other work).

    A role with a steady-state window (the run went on past the ramp and its settle
    time) is judged on that window: the figures a run is gated on. A ramp that used the
    cores up is a note (:func:`ramp_notes`), not a warning."""
    warnings = []
    for role in ROLES:
        figures = roles.get(role)
        if figures is not None and figures.get("steady"):
            figures = figures["steady"]
        if figures is None or not saturated(figures):
            continue
        cpu, lag = float(figures.get("cpu_peak", 0.0)), float(figures.get("loop_lag_p99_ms", 0.0))
        if cpu >= CPU_BUSY_PCT:
            warnings.append(
                f"{_NAMES[role]} saturated (CPU {cpu:,.0f}% in the busiest second, loop lag p99 {lag:,.0f} ms): "
                f"the latencies above include fleet's own delay; {_ADVICE[role]}"
            )
            continue
        busy = ""
        if machine and machine.get("busy_peak") is not None:
            busy = (f"; the machine's {machine.get('cores', '?')} cores were {machine['busy_mean']:,.0f}% busy on "
                    f"average, {machine['busy_peak']:,.0f}% at peak")
        warnings.append(
            f"{_NAMES[role]} kept waiting for a core (loop lag p99 {lag:,.0f} ms at only {cpu:,.0f}% CPU{busy}): "
            f"the latencies above include fleet's own delay; {_STARVED_ADVICE}"
        )
    return warnings
