"""``fleet run``: a load run — thousands of stations against a CSMS, with a report at the end.

The run serves the control API (port 7700 on 127.0.0.1 by default, a free port
when 7700 is taken; see :mod:`fleet.commands.control_options`) and prints
``control on ws://...``: attach ``fleet tui`` or a script to watch and drive it.
``--tui`` does that in one go: the run goes to its own processes and the dashboard
takes the terminal; quitting the dashboard stops the run and prints the summary.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .control_options import add_control_arguments, control_line, control_settings, first_error
from .tui import TOKEN_ENV

if TYPE_CHECKING:
    from ..actors.supervisor import FleetStatus
    from ..fleetfile import FleetPlan

HELP = "run a fleet of simulated stations against a CSMS (the built-in one by default) and report"
EXAMPLE = "fleet run profiles/mixed-fleet.toml --stations 2000 --duration 60 --threshold 'p99<200ms'"

DEMO_FLEET = "demo-fleet.toml"


#: How much lower the run behind a dashboard is scheduled than the dashboard (``nice``): with
#: both on one machine, a key press then gets a core at once, even from a fleet that keeps
#: every core busy; the fleet loses only the few milliseconds the dashboard needs.
RUN_NICENESS = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fleet", nargs="?", metavar="FLEET_OR_PROFILE",
                        help=f"a fleet file or a station profile (default: the shipped {DEMO_FLEET})")
    parser.add_argument("--stations", type=int, metavar="N", help="number of stations (rescales the fleet's groups)")
    parser.add_argument("--csms", action="append", metavar="URL",
                        help="CSMS URL (ws:// or wss://), repeatable; default: start the built-in CSMS")
    parser.add_argument("--ramp", type=float, metavar="STATIONS_PER_S", help="stations started per second")
    parser.add_argument("--duration", type=float, metavar="S", help="seconds to run after the ramp (0: until Ctrl-C)")
    parser.add_argument("--workers", type=int, default=0, metavar="W", help="station worker processes (default: cores)")
    parser.add_argument("--csms-workers", type=int, default=1, metavar="K",
                        help="processes of the built-in CSMS on one port (default 1)")
    parser.add_argument("--seed", type=int, help="seed of every random choice")
    parser.add_argument("--speed", type=float, help="simulated seconds per real second of the stations' timers")
    parser.add_argument("--shard", metavar="I/N", help="run only slice I of N of the fleet (several machines)")
    parser.add_argument("--report", metavar="F", help="write the JSON report to F")
    parser.add_argument("--threshold", action="append", default=[], metavar="EXPR",
                        help="pass/fail expression, e.g. 'p99<200ms', 'BootNotification.p99<1s', 'errors==0' "
                             "(repeatable; exit 1 when one fails)")
    parser.add_argument("--fault", action="append", default=[], metavar="KEY=VALUE",
                        help="fault injection over the fleet's [faults], e.g. disconnect_rate=6, "
                             "response_delay=1,5, malformed_classes=not_json,oversize (repeatable; see fleet.faults)")
    parser.add_argument("--heartbeat-interval", type=int, metavar="S",
                        help="heartbeat interval the built-in CSMS gives at boot (default 300)")
    parser.add_argument("--prometheus", metavar="HOST:PORT",
                        help="serve the run's metrics for Prometheus at http://HOST:PORT/metrics")
    parser.add_argument("--quiet", action="store_true", help="no progress output, only the summary")
    parser.add_argument("--nice", type=int, default=0, metavar="N",
                        help=f"run the fleet's processes at this lower scheduling priority (as nice(1); --tui: at "
                             f"least {RUN_NICENESS}, so the dashboard stays quick on a busy machine)")
    parser.add_argument("--tui", action="store_true",
                        help="watch and drive the run in the terminal dashboard (the run goes to its own "
                             "processes; quitting the dashboard stops it and prints the summary)")
    add_control_arguments(parser)


def _parse_shard(text: str | None) -> tuple[int, int]:
    if not text:
        return (0, 1)
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise SystemExit(f"fleet run: --shard {text!r}: expected I/N, e.g. 0/4") from None
    if not (count >= 1 and 0 <= index < count):
        raise SystemExit(f"fleet run: --shard {text!r}: need 0 <= I < N")
    return (index, count)


def load_plan(args: argparse.Namespace) -> FleetPlan:
    """The plan from the positional argument (fleet file, profile, or the demo) and the overrides."""
    from ..fleetfile import FleetError, load_fleet, plan_from_profile, shipped_profiles_dir

    source = args.fleet or str(shipped_profiles_dir() / DEMO_FLEET)
    path = Path(source)
    if path.suffix == ".toml" and path.is_file() and b"[[group]]" not in path.read_bytes() and b"[fleet]" not in path.read_bytes():
        plan = plan_from_profile(path, args.stations or 10)
    else:
        plan = load_fleet(path)
    plan = plan.with_overrides(stations=args.stations, csms=args.csms, ramp=args.ramp, duration=args.duration,
                               seed=args.seed, speed=args.speed)
    if args.fault:
        from ..faults import parse_fault_options

        try:
            plan = plan.with_faults(parse_fault_options(args.fault))
        except ValueError as exc:
            raise FleetError(str(exc)) from None
    return plan


#: Figures older than this (seconds) are marked with their age on the progress line.
STALE_AFTER = 3.0


class _Progress:
    """Headless progress: a ramp bar while starting, then a summary line every few seconds."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stdout.isatty()
        self.last_line = 0.0

    def __call__(self, status: FleetStatus) -> None:
        if self.quiet:
            return
        states = status.states
        booted = status.started - states.get("connecting", 0) - states.get("booting", 0) - states.get("offline", 0)
        if status.phase == "ramping" and self.tty:
            width = 30
            done = int(width * status.started / max(status.total, 1))
            line = (f"\rramp [{'#' * done}{'.' * (width - done)}] started {status.started:,}/{status.total:,} "
                    f"booted {max(booted, 0):,} failed {status.counters.get('handshake_failures', 0):,}   ")
            print(line, end="", flush=True)
            return
        if status.elapsed - self.last_line < 5 and status.phase not in ("stopping",):
            return
        self.last_line = status.elapsed
        by_state = " ".join(f"{k}={v:,}" for k, v in sorted(states.items()))
        prefix = "\r\n" if self.tty else ""
        p99 = f"p99 {status.recent_p99_ms:,.1f} ms" if status.recent_p99_ms is not None else "p99 -"
        stale = f" (figures {status.figures_age_s:,.0f} s old)" if status.figures_age_s >= STALE_AFTER else ""
        print(f"{prefix}[{status.elapsed:6.1f}s] {status.phase:<8} stations {by_state or '-'} | "
              f"{status.calls_per_s:,.0f} calls/s {p99} | errors {status.failed:,} | "
              f"reconnects {status.counters.get('reconnects', 0):,}{stale}", flush=True)


def main(args: argparse.Namespace) -> int:
    import msgspec
    import trio

    from ..actors.supervisor import RunOptions, check_csms_faults, run_fleet
    from ..fleetfile import FleetError
    from ..report import render_summary, write_report
    from ..thresholds import ThresholdError, parse_threshold

    try:
        plan = load_plan(args)
        thresholds = [parse_threshold(t) for t in args.threshold]
        check_csms_faults(plan)
    except (FleetError, ThresholdError, ValueError) as exc:
        print(f"fleet run: {exc}", file=sys.stderr)
        return 2
    try:
        control = control_settings(args)
    except ValueError as exc:
        print(f"fleet run: {exc}", file=sys.stderr)
        return 2
    if args.tui:
        return _run_with_dashboard(args, control.token if control is not None else None)
    if args.nice > 0 and hasattr(os, "nice"):
        os.nice(args.nice)  # (the worker processes inherit it)
    prometheus = None
    if args.prometheus:
        host, _, port = args.prometheus.rpartition(":")
        if not host or not port.isdigit():
            print(f"fleet run: --prometheus {args.prometheus!r}: expected HOST:PORT, e.g. 127.0.0.1:9464", file=sys.stderr)
            return 2
        prometheus = (host, int(port))
    options = RunOptions(workers=args.workers, csms_workers=args.csms_workers, shard=_parse_shard(args.shard),
                         thresholds=thresholds, prometheus=prometheus,
                         csms_options={"heartbeat_interval": args.heartbeat_interval} if args.heartbeat_interval else {})
    if control is not None:
        options = msgspec.structs.replace(options, control_host=control.host, control_port=control.port,
                                          control_token=control.token, control_fallback=control.fallback)
    if not args.quiet:
        where = ", ".join(plan.config.csms) or "the built-in CSMS"
        print(f"fleet: {plan.size:,} stations from {plan.source} against {where}; "
              f"ramp {plan.config.ramp:g}/s, duration {plan.config.duration:g} s. Ctrl-C stops cleanly.", flush=True)

    def announce(url: str) -> None:
        print(control_line(url, options.control_token), flush=True)

    failure: BaseException | None = None
    try:
        report = trio.run(lambda: run_fleet(plan, options, on_status=_Progress(args.quiet), on_control=announce))
    except* OSError as group:
        failure = first_error(group)
    if failure is not None:
        print(f"\nfleet run: {failure}", file=sys.stderr)
        return 2
    print()
    print(render_summary(report))
    if args.report:
        write_report(report, args.report)
        print(f"\nreport written to {args.report}")
    failed = [t for t in report.thresholds if not t.ok]
    return 1 if failed else 0


# ------------------------------------------------------------------ --tui

#: Seconds to wait for the run's control API to come up.
STARTUP_TIMEOUT = 60.0
#: Seconds the run gets to stop after the dashboard quits (its workers get 30 s, the CSMS another 30).
STOP_TIMEOUT = 75.0
_CONTROL_LINE = re.compile(r"^control on (wss?://\S+)", re.MULTILINE)


def child_argv(args: argparse.Namespace) -> list[str]:
    """The ``fleet run`` command line of the run behind the dashboard (quiet, control API on)."""
    argv = [sys.executable, "-m", "fleet", "run"]
    if args.fleet:
        argv.append(args.fleet)
    for flag, value in (("--stations", args.stations), ("--ramp", args.ramp), ("--duration", args.duration),
                        ("--workers", args.workers or None), ("--csms-workers", args.csms_workers),
                        ("--seed", args.seed), ("--speed", args.speed), ("--shard", args.shard),
                        ("--report", args.report)):
        if value is not None:
            argv += [flag, str(value)]
    for url in args.csms or ():
        argv += ["--csms", url]
    for expression in args.threshold:
        argv += ["--threshold", expression]
    for fault in args.fault:
        argv += ["--fault", fault]
    if args.heartbeat_interval:
        argv += ["--heartbeat-interval", str(args.heartbeat_interval)]
    port = args.control_port if args.control_port is not None else 0
    return [*argv, "--quiet", "--control-host", args.control_host, "--control-port", str(port),
            "--nice", str(max(args.nice, RUN_NICENESS))]


def _read(file: IO[str]) -> str:
    file.seek(0)
    return file.read()


def _wait_for_control(child: subprocess.Popen[Any], out: IO[str], timeout: float) -> str | None:
    """The URL the run announces, or ``None`` if it ended (or said nothing) first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _CONTROL_LINE.search(_read(out))
        if found:
            return found.group(1)
        if child.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def stop_child(child: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT) -> int:
    """Stop the run like Ctrl-C would (it ends transactions, reports) and return its exit status."""
    if child.poll() is None:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    code = child.returncode
    return code if code >= 0 else 1


def run_dashboard_app(url: str, token: str | None, child: subprocess.Popen[Any]) -> Any:
    """The dashboard attached to the run's control API; it closes itself when the run ends."""
    from ..tui import app as tui_app

    class RunDashboard(tui_app.FleetDashboard):
        CSS_PATH = str(Path(tui_app.__file__).with_name("fleet.tcss"))

        def on_mount(self) -> None:  # FleetDashboard.on_mount runs as well (Textual calls each class's handler)
            self.set_interval(0.5, self._watch_run)

        def _watch_run(self) -> None:
            if child.poll() is not None:
                self.exit(0)

    return RunDashboard(url, token)


def spawn_run(argv: list[str], out: IO[str], err: IO[str], env: dict[str, str] | None = None) -> subprocess.Popen[Any]:
    """Start the ``fleet run`` behind a dashboard (``argv`` from :func:`child_argv`)."""
    return subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)


def _run_with_dashboard(args: argparse.Namespace, token: str | None) -> int:
    env = dict(os.environ)
    if token:
        env[TOKEN_ENV] = token  # not on the command line, where `ps` shows it
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = spawn_run(child_argv(args), out, err, env)
        url = None
        try:
            url = _wait_for_control(child, out, STARTUP_TIMEOUT)
            if url is not None:
                run_dashboard_app(url, token, child).run()
                if child.poll() is None:
                    print("stopping the run…", flush=True)
        except KeyboardInterrupt:
            pass
        finally:
            code = stop_child(child)
        text = _CONTROL_LINE.sub("", _read(out), count=1).strip("\n")
        if text:
            print(text)
        errors = _read(err).strip()
        if errors:
            print(errors, file=sys.stderr)
        if url is None and code == 0:
            print("fleet run: the run ended before its control API came up", file=sys.stderr)
    return code
