"""``fleet run``: a load run — thousands of stations against a CSMS, with a report at the end.

The run serves the control API (port 7700 on 127.0.0.1 by default, a free port
when 7700 is taken; see :mod:`fleet.commands.control_options`) and prints
``control on ws://...``: attach ``fleet tui`` or a script to watch and drive it.
``--tui`` does that in one go: the run goes to its own processes and the dashboard
takes the terminal; quitting the dashboard stops the run and prints the summary. A run that
reaches its end leaves the dashboard open on its last state, with the summary, until the user quits.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..exit_codes import INTERRUPTED, OK, RUN_FAILED, THRESHOLDS_FAILED, USAGE
from .checks import (
    csms_url,
    listen_problem,
    non_negative_int,
    non_negative_number,
    output_file_problem,
    password_file,
    positive_int,
    positive_number,
    seed,
    shard,
)
from .control_options import (
    ControlSettings,
    add_control_arguments,
    control_line,
    control_port_problem,
    control_settings,
    first_error,
)
from .marks import print_marked
from .tui import TOKEN_ENV

if TYPE_CHECKING:
    from ..run.fleetfile import FleetPlan
    from ..run.supervisor import FleetStatus

HELP = "run a fleet of simulated stations against a CSMS (the built-in one by default) and report"
EXAMPLE = "fleet run profiles/mixed-fleet.toml --stations 2000 --duration 60 --threshold 'p99<200ms'"

DEMO_FLEET = "demo-fleet.toml"

#: The fleet-wide password from the environment (as ``--password``, kept out of ``ps``; the run
#: behind ``--tui`` gets it this way).
PASSWORD_ENV = "FLEET_PASSWORD"


#: How much lower the run behind a dashboard is scheduled than the dashboard (``nice``): with
#: both on one machine, a key press then gets a core at once, even from a fleet that keeps
#: every core busy; the fleet loses only the few milliseconds the dashboard needs.
RUN_NICENESS = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fleet", nargs="?", metavar="FLEET_OR_PROFILE",
                        help=f"a fleet file or a station profile (default: the shipped {DEMO_FLEET})")
    parser.add_argument("--stations", type=_station_count, metavar="N", help="number of stations (rescales the fleet's groups)")
    parser.add_argument("--csms", action="append", type=csms_url, metavar="URL",
                        help="CSMS URL (ws:// or wss://), repeatable; default: start the built-in CSMS. The "
                             "station id is appended after a slash, or put where {station_id} is: "
                             "'ws://host/ocpp/{station_id}/'")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password", metavar="P",
                        help="one Basic-auth password for every station, in place of the profiles' per-station "
                             "patterns (a CSMS that enrols stations with a shared token)")
    secret.add_argument("--password-file", dest="password", type=password_file, metavar="F",
                        help=f"--password read from the first line of F (not shown by ps; ${PASSWORD_ENV} "
                             "works too)")
    parser.add_argument("--ramp", type=positive_number, metavar="STATIONS_PER_S", help="stations started per second")
    parser.add_argument("--duration", type=non_negative_number, metavar="S",
                        help="seconds to run after the ramp (0: until Ctrl-C)")
    parser.add_argument("--workers", type=non_negative_int, default=0, metavar="W",
                        help="station worker processes (default: cores, more when one would hold more stations than "
                             "its open-files limit allows)")
    parser.add_argument("--csms-workers", type=positive_int, metavar="K",
                        help="processes of the built-in CSMS (default: 1, 2 from 10,000 stations, more when the "
                             "open-files limit or the ports ask for them)")
    parser.add_argument("--csms-ports", type=positive_int, metavar="P",
                        help="ports the built-in CSMS listens on, its processes spread evenly over them and the "
                             "stations over their URLs (default: one, more when the stations exceed what one port "
                             "takes from one address: 45%% of the ephemeral port range)")
    parser.add_argument("--seed", type=seed, help="seed of every random choice")
    parser.add_argument("--speed", type=positive_number,
                        help="simulated seconds per real second of the drivers, sessions, energy and fault schedules "
                             "(protocol timings stay real: back-off, heartbeat, meter-value and retry intervals)")
    parser.add_argument("--speed-protocol", action="store_true", default=None,
                        help="compress the protocol timings by --speed too (a load no real fleet makes)")
    parser.add_argument("--shard", type=shard, metavar="I/N",
                        help="run only slice I of N of the fleet (several machines; shards count from 0); "
                             "auto: I from $JOB_COMPLETION_INDEX, N from $JOB_COMPLETIONS (a pod of a "
                             "Kubernetes Indexed Job)")
    parser.add_argument("--report", metavar="F",
                        help="write the JSON report to F ('-': to standard output, and the progress and "
                             "summary to standard error, so standard output is the JSON alone)")
    parser.add_argument("--html", metavar="F",
                        help="also write the report as one self-contained HTML page with charts over time "
                             "(as `fleet report html`)")
    parser.add_argument("--timeline-interval", type=_timeline_interval, default=TIMELINE_INTERVAL, metavar="S",
                        help=f"seconds per point of the report's timeline, 1 to {MAX_TIMELINE_INTERVAL} "
                             f"(default {TIMELINE_INTERVAL}; give every shard the same)")
    parser.add_argument("--run-id", metavar="ID",
                        help="identifier of the run recorded in the report (default: a random one); give "
                             "every shard of a sharded run the same one")
    parser.add_argument("--threshold", action="append", default=[], metavar="EXPR",
                        help="pass/fail expression, e.g. 'p99<200ms', 'BootNotification.p99<1s', 'errors==0', "
                             "'v16.errors==0' (one OCPP version's stations) (repeatable; exit 1 when one fails)")
    parser.add_argument("--fault", action="append", default=[], metavar="KEY=VALUE",
                        help="fault injection over the fleet's [faults], e.g. disconnect_rate=6, "
                             "response_delay=1,5, malformed_classes=not_json,oversize (repeatable; see fleet.faults)")
    parser.add_argument("--heartbeat-interval", type=positive_int, metavar="S",
                        help="heartbeat interval the built-in CSMS gives at boot (default 300)")
    parser.add_argument("--prometheus", metavar="HOST:PORT",
                        help="serve the run's metrics for Prometheus at http://HOST:PORT/metrics")
    parser.add_argument("--nice", type=non_negative_int, default=0, metavar="N",
                        help=f"run the fleet's processes at this lower scheduling priority (as nice(1); --tui: at "
                             f"least {RUN_NICENESS}, so the dashboard stays quick on a busy machine)")
    parser.add_argument("--tui", action="store_true",
                        help="watch and drive the run in the terminal dashboard (the run goes to its own "
                             "processes; quitting the dashboard stops it and prints the summary)")
    add_control_arguments(parser)


#: Seconds per timeline point: the default (see fleet.run.timeline.INTERVAL) and the most.
TIMELINE_INTERVAL = 5
MAX_TIMELINE_INTERVAL = 600


def _timeline_interval(text: str) -> int:
    value = positive_int(text)
    if value > MAX_TIMELINE_INTERVAL:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_TIMELINE_INTERVAL} seconds, got {text!r}")
    return value


def _station_count(text: str) -> int:
    if text.strip() == "0":
        raise argparse.ArgumentTypeError("nothing to run with 0 stations; expected a whole number >= 1")
    return positive_int(text)


def _parse_prometheus(text: str | None) -> tuple[str, int] | None:
    if not text:
        return None
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--prometheus {text!r}: expected HOST:PORT with a port 0..65535, e.g. 127.0.0.1:9464")
    return (host, int(port))


def check_run(args: argparse.Namespace, plan: FleetPlan, shard: tuple[int, int]) -> None:
    """What the options and the plan must satisfy before anything starts (the values
    themselves are checked while parsing and by the plan).

    Raises:
        ValueError: naming the option or file and what was expected.
    """
    if plan.size == 0:
        raise ValueError(f"{plan.source}: nothing to run (0 stations); give --stations N or a group count > 0")
    index, count = shard
    if count > 1 and plan.size <= index:
        raise ValueError(f"--shard {index}/{count}: nothing to run, the fleet has only {plan.size} station(s) "
                         f"(shard I takes the stations I, I+N, I+2N, ...)")
    if args.report == "-":
        if args.tui:
            raise ValueError("--report - (standard output) cannot go with --tui, which takes the terminal; "
                             "give a file name")
    elif args.report:
        problem = output_file_problem(args.report)
        if problem:
            raise ValueError(f"--report {args.report}: {problem}")
    if args.html:
        problem = output_file_problem(args.html)
        if problem:
            raise ValueError(f"--html {args.html}: {problem}")


def check_processes(args: argparse.Namespace, plan: FleetPlan, shard: tuple[int, int]) -> None:
    """The process counts given (``--workers``, ``--csms-workers``, ``--csms-ports``) must hold
    the stations of this shard within the machine's open-files limit and port range (the
    rule of :func:`fleet.run.capacity.plan_processes`, which the run applies again).

    Raises:
        CapacityError: one line: the option and how many the fleet needs.
    """
    from ..run.capacity import machine_limits, plan_processes

    plan_processes(plan.shard_size(shard), machine_limits(), workers=args.workers, csms_workers=args.csms_workers or 0,
                   csms_ports=args.csms_ports or 0, builtin=not plan.config.csms)


def check_ports(prometheus: tuple[str, int] | None, control: ControlSettings | None) -> None:
    """The ports the options ask for must be free before anything starts.

    Raises:
        ValueError: naming the option whose port is taken (or whose host is not of this machine).
    """
    if prometheus is not None:
        problem = listen_problem(*prometheus)
        if problem:
            raise ValueError(f"--prometheus {prometheus[0]}:{prometheus[1]}: {problem}")
    problem = control_port_problem(control)
    if problem:
        raise ValueError(problem)


def load_plan(args: argparse.Namespace) -> FleetPlan:
    """The plan from the positional argument (fleet file, profile, or the demo) and the overrides."""
    from ..run.fleetfile import FleetError, load_fleet_or_profile, shipped_profiles_dir

    plan = load_fleet_or_profile(args.fleet or str(shipped_profiles_dir() / DEMO_FLEET), args.stations)
    plan = plan.with_overrides(stations=args.stations, csms=args.csms, ramp=args.ramp, duration=args.duration,
                               seed=args.seed, speed=args.speed, speed_protocol=args.speed_protocol,
                               password=args.password or os.environ.get(PASSWORD_ENV) or None)
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
    """Headless progress: a ramp bar while starting (on a terminal), then a summary line every
    few seconds. The bar is finished when the ramp ends: drawn once more with the last figures
    and left on its own line, so a later line never starts in the middle of it."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stdout.isatty()
        self.last_line = 0.0
        self.bar_shown = False

    def __call__(self, status: FleetStatus) -> None:
        if self.quiet:
            return
        from ..run.execution import live_text

        states = status.states
        if status.phase == "ramping" and self.tty:
            print(self._bar(status), end="", flush=True)
            self.bar_shown = True
            return
        if self.bar_shown:  # the ramp has ended: its bar, complete, on a line of its own
            print(self._bar(status), flush=True)
            self.bar_shown = False
        if status.elapsed - self.last_line < 5 and status.phase not in ("stopping",):
            return
        self.last_line = status.elapsed
        by_state = " ".join(f"{k}={v:,}" for k, v in sorted(states.items()))
        p99 = f"p99 {status.recent_p99_ms:,.1f} ms" if status.recent_p99_ms is not None else "p99 -"
        load = live_text(status.execution)
        stale = f" (figures {status.figures_age_s:,.0f} s old)" if status.figures_age_s >= STALE_AFTER else ""
        print(f"[{status.elapsed:6.1f}s] {status.phase:<8} stations {by_state or '-'} | "
              f"{status.calls_per_s:,.0f} calls/s {p99} | errors {status.failed:,} | "
              f"reconnects {status.counters.get('reconnects', 0):,}{stale}"
              + (f" | {load}" if load else ""), flush=True)

    @staticmethod
    def _bar(status: FleetStatus) -> str:
        from ..run.execution import live_text

        states = status.states
        booted = status.started - states.get("connecting", 0) - states.get("booting", 0) - states.get("offline", 0)
        width = 30
        done = min(width, int(width * status.started / max(status.total, 1)))
        load = live_text(status.execution)
        return (f"\rramp [{'#' * done}{'.' * (width - done)}] started {status.started:,}/{status.total:,} "
                f"booted {max(booted, 0):,} failed {status.counters.get('connect_failures', 0):,}"
                + (f" | {load}" if load else "") + "   ")

    def finish(self) -> None:
        """End a bar still drawn (a run stopped during its ramp) before anything else is printed."""
        if self.bar_shown:
            print(flush=True)
            self.bar_shown = False


def _with_report_on_stdout(args: argparse.Namespace) -> int:
    """``main`` with standard output kept for the JSON report: everything else, the worker
    processes' output included (they inherit file descriptor 1), goes to standard error."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no standard output at all: nothing to keep apart
        return main(args, sys.stdout)
    os.dup2(2, 1)
    try:
        with os.fdopen(os.dup(saved), "w") as report_out, contextlib.redirect_stdout(sys.stderr):
            return main(args, report_out)
    finally:
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def main(args: argparse.Namespace, report_out: IO[str] | None = None) -> int:
    """Run; ``--report -``: the JSON report alone goes to standard output (``report_out``),
    everything else to standard error."""
    if args.report == "-" and report_out is None:
        return _with_report_on_stdout(args)

    import msgspec
    import trio

    from ..run.capacity import CapacityError
    from ..run.fleetfile import FleetError
    from ..run.report import render_summary, report_json, write_report
    from ..run.supervisor import RunOptions, check_csms_faults, run_fleet
    from ..run.thresholds import ThresholdError, parse_threshold

    try:
        plan = load_plan(args)
        thresholds = [parse_threshold(t) for t in args.threshold]
        check_csms_faults(plan)
        shard = args.shard or (0, 1)
        prometheus = _parse_prometheus(args.prometheus)
        check_run(args, plan, shard)
        check_processes(args, plan, shard)
    except (FleetError, ThresholdError, CapacityError, ValueError) as exc:
        print(f"fleet run: {exc}", file=sys.stderr)
        return USAGE
    try:
        control = control_settings(args)
        check_ports(prometheus, control)
    except ValueError as exc:
        print(f"fleet run: {exc}", file=sys.stderr)
        return USAGE
    if args.tui:
        return _run_with_dashboard(args, control.token if control is not None else None)
    if args.nice > 0 and hasattr(os, "nice"):
        os.nice(args.nice)  # (the worker processes inherit it)
    options = RunOptions(workers=args.workers, csms_workers=args.csms_workers or 0, csms_ports=args.csms_ports or 0,
                         shard=shard,
                         thresholds=thresholds, prometheus=prometheus, timeline_interval=float(args.timeline_interval),
                         csms_options={"heartbeat_interval": args.heartbeat_interval} if args.heartbeat_interval else {})
    if control is not None:
        options = msgspec.structs.replace(options, control_host=control.host, control_port=control.port,
                                          control_token=control.token, control_fallback=control.fallback)
    if not args.quiet:
        where = ", ".join(plan.config.csms) or "the built-in CSMS"
        print(f"fleet: {plan.size:,} stations from {plan.source} against {where}; "
              f"ramp {plan.config.ramp:g}/s, duration {plan.config.duration:g} s. Ctrl-C stops cleanly.", flush=True)

    progress = _Progress(args.quiet)
    # --quiet: the summary only, and the control line when --control-port was given (whoever
    # asked for a port, 0 included, reads where the API is; `fleet run --tui` does)
    show_control = not args.quiet or args.control_port is not None

    def announce(url: str) -> None:
        if show_control:
            print(control_line(url, options.control_token), flush=True)

    def interrupted() -> None:
        if not args.quiet:
            progress.finish()
            print(f"\nstopping... (Ctrl-C again to stop at once; at most {options.interrupt_timeout:g} s)", flush=True)

    failure: BaseException | None = None
    try:
        report = trio.run(lambda: run_fleet(plan, options, on_status=progress, on_control=announce,
                                            on_interrupt=interrupted))
    except* OSError as group:
        failure = first_error(group)
    progress.finish()
    if failure is not None:  # a port taken since the checks, a worker that could not start
        print(f"\nfleet run: {failure}", file=sys.stderr)
        return RUN_FAILED
    report = msgspec.structs.replace(report, fleet={**report.fleet, "run_id": args.run_id or uuid.uuid4().hex})
    if not args.quiet:
        print()
    print_marked(render_summary(report))
    if report_out is not None:
        report_out.write(report_json(report).decode())
        report_out.flush()
    elif args.report:
        try:
            write_report(report, args.report)
        except OSError as exc:
            print(f"\nfleet run: cannot write the report to {args.report}: {exc.strerror or exc}", file=sys.stderr)
            return RUN_FAILED
        print(f"\nreport written to {args.report}")  # (--quiet too: where the summary's report is)
    if args.html:
        from ..run.html_report import write_html

        try:
            write_html(report, args.html)
        except OSError as exc:
            print(f"\nfleet run: cannot write the HTML report to {args.html}: {exc.strerror or exc}", file=sys.stderr)
            return RUN_FAILED
        print(f"HTML report written to {args.html}", file=sys.stderr if report_out is not None else sys.stdout)
    if report.interrupted:
        return INTERRUPTED
    if report.problems:
        return RUN_FAILED
    return THRESHOLDS_FAILED if any(not t.ok for t in report.thresholds) else OK


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
                        ("--csms-ports", args.csms_ports),
                        ("--seed", args.seed), ("--speed", args.speed), ("--shard", _shard_text(args.shard)),
                        ("--report", args.report), ("--run-id", args.run_id), ("--html", args.html),
                        ("--timeline-interval", args.timeline_interval)):
        if value is not None:
            argv += [flag, str(value)]
    if args.speed_protocol:
        argv.append("--speed-protocol")
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


def _shard_text(shard: tuple[int, int] | None) -> str | None:
    """``--shard`` as the run behind the dashboard is given it (``auto`` resolved here)."""
    return f"{shard[0]}/{shard[1]}" if shard else None


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


#: How the run behind the dashboard ended, by its exit status.
_ENDINGS = {OK: "the run ended: thresholds passed", THRESHOLDS_FAILED: "the run ended: a threshold failed",
            RUN_FAILED: "the run failed", INTERRUPTED: "the run was interrupted", USAGE: "the run refused its options"}


def run_dashboard_app(url: str, token: str | None, child: subprocess.Popen[Any],
                      summary: Callable[[], str] | None = None) -> Any:
    """The dashboard attached to the run's control API. When the run ends it stays open on the last
    state it showed, with the run's summary (``summary()``: what the run printed), until the user quits."""
    from ..tui import app as tui_app

    class RunDashboard(tui_app.FleetDashboard):
        CSS_PATH = str(Path(tui_app.__file__).with_name("fleet.tcss"))

        def on_mount(self) -> None:  # FleetDashboard.on_mount runs as well (Textual calls each class's handler)
            self.set_interval(0.5, self._watch_run)

        def _watch_run(self) -> None:
            code = child.poll()
            if code is not None and self.run_end is None:
                ending = _ENDINGS.get(code, "the run ended")
                self.finish_run(f"{ending} (exit status {code})", summary() if summary is not None else "")

    return RunDashboard(url, token)


def _summary_of(out: IO[str]) -> Callable[[], str]:
    """What the run printed (its summary), less the control line the dashboard read."""
    return lambda: _CONTROL_LINE.sub("", _read(out), count=1).strip("\n")


def spawn_run(argv: list[str], out: IO[str], err: IO[str], env: dict[str, str] | None = None) -> subprocess.Popen[Any]:
    """Start the ``fleet run`` behind a dashboard (``argv`` from :func:`child_argv`)."""
    return subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)


def _run_with_dashboard(args: argparse.Namespace, token: str | None) -> int:
    env = dict(os.environ)
    if token:
        env[TOKEN_ENV] = token  # not on the command line, where `ps` shows it
    if args.password:
        env[PASSWORD_ENV] = args.password  # (the same)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = spawn_run(child_argv(args), out, err, env)
        url = None
        try:
            url = _wait_for_control(child, out, STARTUP_TIMEOUT)
            if url is not None:
                run_dashboard_app(url, token, child, summary=_summary_of(out)).run()
                if child.poll() is None:
                    print("stopping the run…", flush=True)
        except KeyboardInterrupt:
            pass
        finally:
            code = stop_child(child)
        text = _summary_of(out)()
        if text:
            print(text)
        errors = _read(err).strip()
        if errors:
            print(errors, file=sys.stderr)
        if url is None and code == 0:
            print("fleet run: the run ended before its control API came up", file=sys.stderr)
    return code
