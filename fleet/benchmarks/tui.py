"""``fleet bench --tui``: how fast the dashboard answers while a real fleet runs behind it.

A real fleet runs in its own processes, started the way ``fleet run --tui`` starts
it (:func:`fleet.commands.run.child_argv`: the supervisor with its control API,
station worker processes, the built-in CSMS). This process runs nothing but the
real dashboard (:class:`~fleet.tui.app.FleetDashboard`), attached to the fleet's
control API and pulling its snapshots as it always does, so what is measured is
the dashboard's process. Two figures, each into an HDR histogram:

* **UI loop lag**: a probe scheduled on the dashboard's asyncio loop every 20 ms
  records how late it fires; whatever holds the loop (decoding a snapshot,
  filtering and sorting the stations, rendering) makes it late.
* **keyboard-to-screen latency**: a script of key presses that each change what
  is shown: cursor moves in the stations table, typing a filter, sorting, opening
  a station and going back, switching screens. A key enters the app as a
  terminal's key does (the driver posts a ``Key`` event to the app's queue); the
  clock stops when the first frame showing the change has been written to the
  terminal. The app runs with :class:`NullTerminal`, a terminal driver that
  swallows the output but is not "headless": Textual lays out, composes and
  turns every frame into escape sequences exactly as for a real terminal (a
  headless app skips that last step, which would leave part of the work out).
  A frame counts when, as it is rendered, the state the key changes is in place
  and its text contains what the change shows (the new cursor row, the typed
  filter, the new sort in the status line, the new screen's title).
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from hdrh.histogram import HdrHistogram

from ..metrics import new_histogram

__all__ = ["Figures", "TuiBenchError", "TuiConfig", "TuiResult", "fleet_command", "print_progress", "render",
           "run_tui_benchmark"]

#: The terminal the dashboard draws on (columns, lines).
SIZE = (160, 48)
#: Seconds between two runs of the loop-lag probe.
PROBE_INTERVAL = 0.020
#: The issue's goal for both figures at p99.
GOAL_MS = 50.0
#: Seconds a key's change gets to appear before it counts as missed.
STEP_TIMEOUT = 5.0
#: Seconds between a key's frame and the next key (random in this range: a quick typist).
GAP = (0.1, 0.3)
#: The fleet run by default (a shipped fleet file; ``--stations`` rescales it).
DEFAULT_FLEET = "realistic-fleet.toml"
#: The heartbeat interval the built-in CSMS gives (the issue's realistic load: 60 s).
HEARTBEAT_INTERVAL = 60
#: States of a station that has booted.
BOOTED_STATES = ("available", "charging", "faulted")


class TuiBenchError(Exception):
    """The fleet did not come up (its output is in the message)."""


class Figures(msgspec.Struct):
    """Percentiles of one histogram, in milliseconds."""

    count: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0


def figures(histogram: HdrHistogram) -> Figures:
    """The :class:`Figures` of a histogram of microseconds."""
    count = histogram.get_total_count()
    if not count:
        return Figures()
    p50, p95, p99 = (histogram.get_value_at_percentile(p) / 1000 for p in (50.0, 95.0, 99.0))
    return Figures(count, round(p50, 3), round(p95, 3), round(p99, 3), round(histogram.get_max_value() / 1000, 3),
                   round(histogram.get_mean_value() / 1000, 3))


class TuiResult(msgspec.Struct):
    """What ``fleet bench --tui`` measured.

    Attributes:
        stations: stations asked for; ``booted``: of them, booted when the window began.
        fleet: the fleet file; ``ramp_s``: seconds from the start until they were booted.
        seconds: the measurement window; ``size``: the dashboard's terminal.
        lag: UI loop lag (the probe fired every ``probe_interval_ms``).
        keys: keyboard-to-screen latency of every key; ``keys_by_kind``: by kind of key.
        keys_cpu: CPU time the dashboard's process spent from each key to its frame: on a
            quiet machine close to ``keys``; far below it, the process was waiting for a core.
        key_samples: every key: (kind, key, latency ms, CPU ms), in order.
        missed_keys: keys whose change did not show within :data:`STEP_TIMEOUT`
            (counted in ``keys`` at that timeout).
        polls, polls_per_s: snapshots the dashboard pulled in the window; ``poll``:
            their time (request, transfer, decode, model update and redraw request);
            ``rows``: stations in the last snapshot with rows.
        frames, frames_per_s, frame_kb: frames written to the terminal, their mean size.
        ui_cpu_pct: CPU of the dashboard's process during the window (100 = one core).
        machine_busy_pct: how busy all cores were (every process, the fleet's included).
        fleet_calls_per_s: the fleet's OCPP calls/s, averaged over the window's snapshots.
        ui_rss_mb: peak RSS of the dashboard's process.
        color_system: the colours the frames were encoded with.
    """

    stations: int
    booted: int
    fleet: str
    ramp_s: float
    seconds: float
    size: tuple[int, int]
    poll_interval_s: float
    probe_interval_ms: float
    lag: Figures
    keys: Figures
    keys_cpu: Figures
    keys_by_kind: dict[str, Figures]
    key_samples: list[tuple[str, str, float, float]]
    missed_keys: list[str]
    polls: int
    polls_per_s: float
    poll: Figures
    rows: int
    frames: int
    frames_per_s: float
    frame_kb: float
    ui_cpu_pct: float
    machine_busy_pct: float
    fleet_calls_per_s: float
    ui_rss_mb: float
    color_system: str


# ------------------------------------------------------------------ the fleet


def fleet_command(stations: int, fleet: str, *, workers: int = 0, csms_workers: int = 1) -> list[str]:
    """The ``fleet run`` command line behind the dashboard (the one ``fleet run --tui`` would start)."""
    from ..cli import build_parser
    from ..commands.run import child_argv

    argv = ["run", fleet, "--stations", str(stations), "--duration", "0", "--csms-workers", str(csms_workers),
            "--heartbeat-interval", str(HEARTBEAT_INTERVAL)]
    if workers:
        argv += ["--workers", str(workers)]
    return child_argv(build_parser().parse_args(argv))


# ------------------------------------------------------------------ the terminal


def _null_terminal_class() -> type[Any]:
    from textual.drivers.headless_driver import HeadlessDriver

    class NullTerminal(HeadlessDriver):
        """A terminal that swallows what it is sent: not headless, so every frame is fully
        encoded; each flush (one per frame) hands the frame's text to the app's
        ``on_terminal_frame``."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._parts: list[str] = []

        @property
        def is_headless(self) -> bool:
            return False

        def write(self, data: str) -> None:
            self._parts.append(data)

        def flush(self) -> None:
            data = "".join(self._parts)
            self._parts.clear()
            hook = getattr(self._app, "on_terminal_frame", None)
            if hook is not None:
                hook(data)

    return NullTerminal


@dataclass
class _Step:
    """One key and how to recognise the frame that shows what it changed."""

    kind: str
    key: str
    ready: Callable[[], bool]
    marker: Callable[[], str | None]
    sent_at: float = 0.0
    cpu_at: float = 0.0
    shown: asyncio.Future[tuple[float, float]] | None = None


@dataclass
class _Counters:
    frames: int = 0
    frame_bytes: int = 0
    polls: int = 0
    poll: HdrHistogram = field(default_factory=new_histogram)
    rows: int = 0
    step: _Step | None = None


def _dashboard_class() -> type[Any]:
    from ..tui import app as tui_app

    class BenchDashboard(tui_app.FleetDashboard):
        """The real dashboard, plus the benchmark's hooks (frames and polls are counted)."""

        CSS_PATH = str(Path(tui_app.__file__).with_name("fleet.tcss"))

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.driver_class = _null_terminal_class()
            self.bench = _Counters()

        def on_terminal_frame(self, data: str) -> None:
            now, cpu = time.perf_counter(), time.process_time()
            bench = self.bench
            bench.frames += 1
            bench.frame_bytes += len(data)
            step = bench.step
            if step is None or step.shown is None or step.shown.done() or not step.ready():
                return
            marker = step.marker()
            if marker is None or marker in data:
                step.shown.set_result((now, cpu))

        async def poll_once(self) -> Any:
            snapshot = await super().poll_once()
            if snapshot is not None:
                self.bench.polls += 1
                self.bench.poll.record_value(max(1, int(self.model.last_poll_ms * 1000)))
                if snapshot.rows is not None:
                    self.bench.rows = len(snapshot.rows)
            return snapshot

    return BenchDashboard


class _LagProbe:
    """Fires every ``interval`` seconds on the running loop and records how late it was."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.histogram = new_histogram()
        self._loop = asyncio.get_running_loop()
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._due = self._loop.time() + self.interval
        self._handle = self._loop.call_at(self._due, self._fire)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        now = self._loop.time()
        self.histogram.record_value(max(1, int((now - self._due) * 1_000_000)))
        self._due = max(self._due + self.interval, now)  # late: no burst of catch-up probes
        self._handle = self._loop.call_at(self._due, self._fire)


# ------------------------------------------------------------------ the key script

#: The characters of a typed filter as key names (what the terminal's input parser produces).
_KEY_NAMES = {":": "colon", ",": "comma", ".": "full_stop", " ": "space", "-": "minus", "/": "slash"}
_KEY_CHARACTERS = {"colon": ":", "comma": ",", "full_stop": ".", "space": " ", "minus": "-", "slash": "/",
                   "enter": "\r", "escape": "\x1b"}


def _key_event(key: str) -> Any:
    from textual import events

    character = _KEY_CHARACTERS.get(key, key if len(key) == 1 else None)
    return events.Key(key, character)


class _Script:
    """The keys, in a loop; each step is made from the app's state just before its key."""

    def __init__(self, app: Any, filters: list[str]) -> None:
        self.app = app
        self.filters = filters
        self.round = 0

    def rounds(self) -> Any:
        """One round of keys: (kind, key) pairs; steps are built lazily by :meth:`step`."""
        text = self.filters[self.round % len(self.filters)]
        self.round += 1
        yield from (("cursor", "down"), ("cursor", "down"), ("cursor", "down"), ("page", "pagedown"),
                    ("page", "pagedown"), ("page", "pageup"), ("jump", "end"), ("jump", "home"),
                    ("sort", "5"), ("sort", "5"), ("cursor", "down"), ("sort", "minus"), ("sort", "1"),
                    ("focus", "slash"))
        typed = ""
        for char in text:
            typed += char
            yield ("filter", _KEY_NAMES.get(char, char))
        yield from (("focus", "enter"), ("cursor", "down"), ("clear", "escape"), ("open", "enter"),
                    ("back", "escape"), ("screen", "o"), ("screen", "m"), ("screen", "s"))

    def step(self, kind: str, key: str) -> _Step | None:
        """The step of ``key``, or ``None`` when the key would change nothing now."""
        from textual.widgets import Input

        from ..tui.screens import CsmsScreen, OverviewScreen, StationScreen, StationsScreen
        from ..tui.widgets import StationsTable

        app = self.app
        screen = app.screen
        model = app.model.table
        if kind == "screen":
            target = {"o": OverviewScreen, "m": CsmsScreen, "s": StationsScreen}[key]
            title = {"o": "stations by state", "m": "connected stations", "s": "LAST ERROR"}[key]
            if isinstance(screen, target):
                return None
            return _Step(kind, key, lambda: isinstance(app.screen, target), lambda: title)
        if kind == "back":
            if not isinstance(screen, StationScreen):
                return None
            return _Step(kind, key, lambda: isinstance(app.screen, StationsScreen), lambda: "LAST ERROR")
        if not isinstance(screen, StationsScreen):
            return None
        table = screen.query_one(StationsTable)
        entry = screen.query_one("#filter", Input)
        if kind in ("cursor", "page", "jump"):
            before = table.selected_id
            target_index = {"down": table.cursor + 1, "pagedown": table.cursor + max(1, table.size.height - 2),
                            "pageup": table.cursor - max(1, table.size.height - 2), "end": len(model.view) - 1,
                            "home": 0}[key]
            target_index = max(0, min(target_index, len(model.view) - 1))
            if not table.has_focus or not model.view or target_index == table.cursor:
                return None
            return _Step(kind, key, lambda: table.selected_id not in (before, None), lambda: table.selected_id)
        if kind == "sort":
            if not table.has_focus:
                return None
            sort_key = {"5": "power", "1": "id", "minus": model.sort_key}[key]
            reverse = not model.reverse if key == "minus" or sort_key == model.sort_key else False
            arrow = "▼" if reverse else "▲"
            return _Step(kind, key, lambda: (model.sort_key, model.reverse) == (sort_key, reverse),
                         lambda: f"sort {sort_key} {arrow}")
        if kind == "focus":
            if key == "slash":
                return None if entry.has_focus else _Step(kind, key, lambda: entry.has_focus, lambda: None)
            return _Step(kind, key, lambda: table.has_focus, lambda: None) if entry.has_focus else None
        if kind == "filter":
            if not entry.has_focus:
                return None
            typed = model.filter_text + (_KEY_CHARACTERS.get(key, key))
            return _Step(kind, key, lambda: model.filter_text == typed, lambda: typed)
        if kind == "clear":
            if not model.filter_text or not table.has_focus:
                return None
            return _Step(kind, key, lambda: not model.filter_text,
                         lambda: f"{len(model.view):,} of {len(model.rows):,} stations")
        if kind == "open":
            station_id = table.current_id
            if station_id is None or not table.has_focus:
                return None
            return _Step(kind, key, lambda: isinstance(app.screen, StationScreen),
                         lambda: f"OCPP frames of {station_id}")
        return None


# ------------------------------------------------------------------ the run


@dataclass
class TuiConfig:
    stations: int
    seconds: float
    fleet: str
    workers: int = 0
    csms_workers: int = 1
    poll_interval: float = 0.5
    seed: int = 1
    boot_timeout: float = 0.0  # 0: from the fleet size
    progress: Callable[[str], None] = lambda text: None


def run_tui_benchmark(config: TuiConfig) -> TuiResult:
    """Start the fleet, run the dashboard against it for ``config.seconds`` and stop the fleet.

    Raises:
        TuiBenchError: the fleet did not come up or did not boot in time.
    """
    from ..commands.run import _wait_for_control, spawn_run, stop_child

    argv = fleet_command(config.stations, config.fleet, workers=config.workers, csms_workers=config.csms_workers)
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = spawn_run(argv, out, err)
        try:
            url = _wait_for_control(child, out, 60.0)
            if url is None:
                err.seek(0)
                raise TuiBenchError(f"the fleet ended before its control API came up: {err.read().strip()[-2000:]}")
            config.progress(f"fleet of {config.stations:,} stations starting, control API on {url}")
            return asyncio.run(_measure(url, config, started))
        finally:
            config.progress("stopping the fleet…")
            stop_child(child)
            err.seek(0)
            errors = err.read().strip()
            if errors:
                config.progress(f"the fleet's stderr (last 3000 characters):\n{errors[-3000:]}")


async def _wait_for_boot(url: str, config: TuiConfig, started: float) -> tuple[int, float]:
    from ..control.client import ControlClient, ControlConnectionError

    timeout = config.boot_timeout or max(60.0, config.stations * 0.02)
    last_report = 0.0
    booted = 0
    while True:
        try:
            async with ControlClient(url) as client:
                while True:
                    snapshot = await client.request("snapshot", rows=False)
                    booted = sum(snapshot.states.get(state, 0) for state in BOOTED_STATES)
                    elapsed = time.monotonic() - started
                    if booted >= config.stations:
                        return booted, elapsed
                    if elapsed > timeout:
                        raise TuiBenchError(f"only {booted:,} of {config.stations:,} stations booted in {timeout:.0f} s")
                    if elapsed - last_report >= 5:
                        last_report = elapsed
                        config.progress(f"{booted:,} of {config.stations:,} booted after {elapsed:.0f} s")
                    await asyncio.sleep(0.5)
        except ControlConnectionError as exc:  # the run's own errors are in its stderr, shown at the end
            if time.monotonic() - started > timeout:
                raise TuiBenchError(f"the fleet's control API went away while it booted: {exc}") from None
            config.progress(f"control connection lost while the fleet booted ({exc}); reconnecting")
            await asyncio.sleep(0.5)


async def _until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TuiBenchError(f"the dashboard did not get there in {timeout:.0f} s: {what}")
        await asyncio.sleep(0.05)


async def _measure(url: str, config: TuiConfig, started: float) -> TuiResult:
    booted, ramp_s = await _wait_for_boot(url, config, started)
    config.progress(f"all {booted:,} booted after {ramp_s:.1f} s; the dashboard attaches")
    result = await measure_dashboard(url, config, rows=booted)
    return msgspec.structs.replace(result, booted=booted, ramp_s=round(ramp_s, 2))


async def measure_dashboard(url: str, config: TuiConfig, *, rows: int) -> TuiResult:
    """Run the dashboard against the control API at ``url`` (whose fleet has at least ``rows``
    stations) and measure it for ``config.seconds`` (the fleet's figures are left at 0)."""
    os.environ.setdefault("TEXTUAL_COLOR_SYSTEM", "truecolor")  # a modern terminal's frames (read at import)
    from ..tui.screens import StationsScreen
    from .load import machine_cpu_seconds

    app = _dashboard_class()(url, poll_interval=config.poll_interval)
    rng = random.Random(config.seed)
    keys, keys_cpu = new_histogram(), new_histogram()
    by_kind: dict[str, HdrHistogram] = {}
    missed: list[str] = []
    samples: list[tuple[str, str, float, float]] = []
    async with app.run_test(headless=False, size=SIZE, notifications=True) as pilot:
        await _until(lambda: app.model.snapshot is not None, 30, "the first snapshot")
        await pilot.press("s")
        await _until(lambda: isinstance(app.screen, StationsScreen) and len(app.model.table.rows) >= rows, 60,
                     f"{rows:,} rows in the stations table")
        first_id = app.model.table.view[0].id
        script = _Script(app, ["state:charging", first_id[: max(2, len(first_id) - 2)]])
        await asyncio.sleep(1.0)  # settle: the first frames of the stations screen are not measured
        bench = app.bench
        probe = _LagProbe(PROBE_INTERVAL)
        frames0, bytes0, polls0 = bench.frames, bench.frame_bytes, bench.polls
        bench.poll = new_histogram()
        cpu0, busy0, t0 = time.process_time(), machine_cpu_seconds(), time.perf_counter()
        probe.start()
        deadline = t0 + config.seconds
        loop = asyncio.get_running_loop()
        driver = app._driver
        assert driver is not None
        while time.perf_counter() < deadline:
            for kind, key in script.rounds():
                if time.perf_counter() >= deadline:
                    break
                step = script.step(kind, key)
                if step is None:
                    continue
                step.shown = loop.create_future()
                bench.step = step
                step.sent_at, step.cpu_at = time.perf_counter(), time.process_time()
                driver.send_message(_key_event(key))  # as the terminal's input thread does
                try:
                    shown_at, cpu_at = await asyncio.wait_for(asyncio.shield(step.shown), STEP_TIMEOUT)
                except TimeoutError:
                    missed.append(f"{kind}:{key}")
                    shown_at, cpu_at = step.sent_at + STEP_TIMEOUT, time.process_time()
                bench.step = None
                micros = max(1, int((shown_at - step.sent_at) * 1_000_000))
                keys.record_value(micros)
                keys_cpu.record_value(max(1, int((cpu_at - step.cpu_at) * 1_000_000)))
                samples.append((kind, key, round(micros / 1000, 2), round((cpu_at - step.cpu_at) * 1000, 2)))
                by_kind.setdefault(kind, new_histogram()).record_value(micros)
                await asyncio.sleep(rng.uniform(*GAP))
        probe.stop()
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        busy = machine_cpu_seconds() - busy0
        frames, frame_bytes, polls = bench.frames - frames0, bench.frame_bytes - bytes0, bench.polls - polls0
        rates = list(app.model.history.calls_per_s)[-max(polls, 1):]
        fleet_rate = sum(rates) / len(rates) if rates else 0.0
        color_system = str(app.console.color_system or "none")
        app.exit(0)
    return TuiResult(
        stations=config.stations,
        booted=0,
        fleet=config.fleet,
        ramp_s=0.0,
        seconds=round(elapsed, 2),
        size=SIZE,
        poll_interval_s=config.poll_interval,
        probe_interval_ms=PROBE_INTERVAL * 1000,
        lag=figures(probe.histogram),
        keys=figures(keys),
        keys_cpu=figures(keys_cpu),
        keys_by_kind={kind: figures(h) for kind, h in sorted(by_kind.items())},
        key_samples=samples,
        missed_keys=missed,
        polls=polls,
        polls_per_s=round(polls / elapsed, 2),
        poll=figures(bench.poll),
        rows=bench.rows,
        frames=frames,
        frames_per_s=round(frames / elapsed, 2),
        frame_kb=round(frame_bytes / max(frames, 1) / 1024, 2),
        ui_cpu_pct=round(100 * cpu / elapsed, 1),
        machine_busy_pct=round(100 * busy / (elapsed * (os.cpu_count() or 1)), 1),
        fleet_calls_per_s=round(fleet_rate, 1),
        ui_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        color_system=color_system,
    )


def render(result: TuiResult) -> str:
    """The figures as the lines ``fleet bench --tui`` prints."""

    def line(name: str, f: Figures) -> str:
        return (f"{name:<28}{f.count:>7,}{f.p50_ms:>9.1f}{f.p95_ms:>9.1f}{f.p99_ms:>9.1f}{f.max_ms:>9.1f}"
                f"{f.mean_ms:>9.1f}")

    header = f"{'':<28}{'samples':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'mean ms':>9}"
    lines = [header, "-" * len(header), line(f"UI loop lag (every {result.probe_interval_ms:.0f} ms)", result.lag),
             line("keyboard-to-screen", result.keys)]
    lines += [line(f"  {kind}", f) for kind, f in result.keys_by_kind.items()]
    lines.append(line("  its CPU time (UI process)", result.keys_cpu))
    lines.append(line("snapshot poll (with rows)", result.poll))
    verdict = {name: "met" if f.p99_ms < GOAL_MS else "NOT met" for name, f in (("lag", result.lag),
                                                                                  ("keys", result.keys))}
    lines += [
        f"fleet: {result.booted:,} of {result.stations:,} stations booted ({result.fleet}, {result.ramp_s:.1f} s), "
        f"{result.fleet_calls_per_s:,.0f} OCPP calls/s; {result.rows:,} rows per snapshot, "
        f"{result.polls_per_s:.2f} snapshots/s (poll interval {result.poll_interval_s:g} s)",
        f"dashboard: {result.size[0]}x{result.size[1]}, {result.frames_per_s:.1f} frames/s of "
        f"{result.frame_kb:.1f} KB ({result.color_system}); its process {result.ui_cpu_pct:.0f}% CPU, "
        f"peak RSS {result.ui_rss_mb:.0f} MB; all cores {result.machine_busy_pct:.0f}% busy",
        f"goal p99 < {GOAL_MS:.0f} ms: loop lag {verdict['lag']}, keyboard-to-screen {verdict['keys']}",
    ]
    if result.missed_keys:
        lines.append(f"keys whose change never showed within {STEP_TIMEOUT:.0f} s: {', '.join(result.missed_keys)}")
    return "\n".join(lines)


def print_progress(text: str) -> None:
    """Progress to the real stderr (Textual captures ``sys.stderr`` while the app runs)."""
    stream = sys.__stderr__
    if stream is not None:
        stream.write(f"  {text}\n")
        stream.flush()
