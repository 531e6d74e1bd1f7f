"""``fleet run``: a load run — thousands of stations against a CSMS, with a report at the end."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..actors.supervisor import FleetStatus
    from ..fleetfile import FleetPlan

HELP = "run a fleet of simulated stations against a CSMS (the built-in one by default) and report"
EXAMPLE = "fleet run profiles/mixed-fleet.toml --stations 2000 --duration 60 --threshold 'p99<200ms'"

DEMO_FLEET = "demo-fleet.toml"


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
    parser.add_argument("--quiet", action="store_true", help="no progress output, only the summary")


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
    from ..fleetfile import load_fleet, plan_from_profile, shipped_profiles_dir

    source = args.fleet or str(shipped_profiles_dir() / DEMO_FLEET)
    path = Path(source)
    if path.suffix == ".toml" and path.is_file() and b"[[group]]" not in path.read_bytes() and b"[fleet]" not in path.read_bytes():
        plan = plan_from_profile(path, args.stations or 10)
    else:
        plan = load_fleet(path)
    return plan.with_overrides(stations=args.stations, csms=args.csms, ramp=args.ramp, duration=args.duration,
                               seed=args.seed, speed=args.speed)


class _Progress:
    """Headless progress: a ramp bar while starting, then a summary line every few seconds."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stdout.isatty()
        self.last_line = 0.0
        self.last_completed = 0
        self.last_elapsed = 0.0

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
        rate = (status.completed - self.last_completed) / max(status.elapsed - self.last_elapsed, 1e-9)
        self.last_line, self.last_completed, self.last_elapsed = status.elapsed, status.completed, status.elapsed
        by_state = " ".join(f"{k}={v:,}" for k, v in sorted(states.items()))
        prefix = "\r\n" if self.tty else ""
        print(f"{prefix}[{status.elapsed:6.1f}s] {status.phase:<8} stations {by_state or '-'} | {rate:,.0f} calls/s | "
              f"errors {status.failed:,} | reconnects {status.counters.get('reconnects', 0):,}", flush=True)


def main(args: argparse.Namespace) -> int:
    import trio

    from ..actors.supervisor import RunOptions, run_fleet
    from ..fleetfile import FleetError
    from ..report import render_summary, write_report
    from ..thresholds import ThresholdError, parse_threshold

    try:
        plan = load_plan(args)
        thresholds = [parse_threshold(t) for t in args.threshold]
    except (FleetError, ThresholdError) as exc:
        print(f"fleet run: {exc}", file=sys.stderr)
        return 2
    options = RunOptions(workers=args.workers, csms_workers=args.csms_workers, shard=_parse_shard(args.shard),
                         thresholds=thresholds)
    if not args.quiet:
        where = ", ".join(plan.config.csms) or "the built-in CSMS"
        print(f"fleet: {plan.size:,} stations from {plan.source} against {where}; "
              f"ramp {plan.config.ramp:g}/s, duration {plan.config.duration:g} s. Ctrl-C stops cleanly.", flush=True)
    report = trio.run(lambda: run_fleet(plan, options, on_status=_Progress(args.quiet)))
    print()
    print(render_summary(report))
    if args.report:
        write_report(report, args.report)
        print(f"\nreport written to {args.report}")
    failed = [t for t in report.thresholds if not t.ok]
    return 1 if failed else 0
