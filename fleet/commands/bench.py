"""``fleet bench``: measure fleet on this machine and print the figures.

Five modes:

* ``fleet bench --codec``: decode+validate and encode rates beside json + jsonschema;
* ``fleet bench --stations N --duration S --call ACTION [--peer ocpp]``: the closed-loop
  load benchmark (:mod:`fleet.benchmarks.load`), optionally side by side with the
  ``ocpp`` package (:mod:`fleet.benchmarks.ocpp_peer`);
* ``fleet bench --matrix``: a fixed list of load cases, printed as the README's table
  (:mod:`fleet.benchmarks.matrix`); ``fleet bench --versions``: the closed loops of each OCPP
  version side by side, fleet and the ``ocpp`` package;
* ``fleet bench --tui --stations N --duration S``: the dashboard's UI loop lag and
  keyboard-to-screen latency with a real fleet of N stations behind it
  (:mod:`fleet.benchmarks.tui`);
* ``fleet bench --scale 1000,5000,20000``: one real ``fleet run`` of the realistic fleet per
  size (time until all online, peak RSS per role, steady calls/s and p99, fleet's own CPU
  and loop lag), as JSON and optionally as a picture (:mod:`fleet.benchmarks.scale`).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
from typing import Any

from ..exit_codes import RUN_FAILED, THRESHOLDS_FAILED, USAGE
from .checks import (
    csms_url,
    non_negative_int,
    non_negative_number,
    output_file_problem,
    positive_int,
    positive_number,
)
from .control_options import first_error

HELP = ("benchmark: a closed-loop load against a CSMS (--stations, --peer ocpp), --matrix, the --codec, "
        "the dashboard (--tui) or how a fleet run scales (--scale)")
EXAMPLE = "fleet bench --stations 1000 --duration 10 --call Heartbeat --peer ocpp"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    load = parser.add_argument_group("closed-loop load (the default mode)")
    load.add_argument("--stations", type=positive_int, default=1000, metavar="N", help="stations (default 1000)")
    load.add_argument("--duration", type=positive_number, metavar="S",
                      help="seconds of measurement after all stations are booted (default 10)")
    load.add_argument("--call", default="Heartbeat", metavar="ACTION",
                      help="the call each station keeps in flight: Heartbeat (default), TransactionEvent, "
                           "StatusNotification, Authorize or MeterValues (1.6 and 2.1: Heartbeat or MeterValues)")
    load.add_argument("--ocpp-version", choices=("1.6", "2.0.1", "2.1"), default="2.0.1", metavar="V",
                      help="the OCPP version the stations speak (and, with --peer ocpp, the package's module of "
                           "it): 1.6, 2.0.1 (default) or 2.1")
    load.add_argument("--csms", type=csms_url, metavar="URL", help="an external CSMS (default: start the built-in one)")
    load.add_argument("--workers", type=non_negative_int, default=0, metavar="W",
                      help="station processes (default: the number of cores)")
    load.add_argument("--csms-workers", type=non_negative_int, default=0, metavar="K",
                      help="processes of the built-in CSMS, sharing one port (default: 1, "
                           "or as many as 20,000 open files per process need)")
    load.add_argument("--peer", choices=("ocpp",), help="also run the same closed loop with the ocpp package")
    load.add_argument("--warmup", type=non_negative_number, metavar="S",
                      help="seconds between the start of the loop and the measurement (default 1-5)")
    load.add_argument("--matrix", action="store_true", help="run the fixed list of cases; print the README table")
    load.add_argument("--versions", action="store_true",
                      help="the Heartbeat and MeterValues closed loops in OCPP 2.0.1, 1.6 and 2.1, fleet and the "
                           "ocpp package side by side, at --stations for --duration each; print the table and ratios")
    codec = parser.add_argument_group("codec")
    codec.add_argument("--codec", action="store_true", help="decode+validate and encode rates vs json + jsonschema")
    codec.add_argument("--seconds", type=positive_number, default=1.0, help="seconds per codec case (default 1)")
    dashboard = parser.add_argument_group("dashboard (--tui: --stations, --duration, --workers and --csms-workers apply)")
    dashboard.add_argument("--tui", action="store_true",
                           help="UI loop lag and keyboard-to-screen latency of the dashboard, attached to a "
                                "fleet of --stations running in its own processes, for --duration seconds")
    dashboard.add_argument("--fleet", metavar="F",
                           help="the fleet file or profile the dashboard watches (default: the shipped "
                                "realistic-fleet.toml, rescaled to --stations)")
    scale = parser.add_argument_group("scale (--scale: --duration, --workers, --csms-workers and --fleet apply)")
    scale.add_argument("--scale", type=_sizes, metavar="N,N,...",
                       help="run the realistic fleet with `fleet run` at each of these sizes, e.g. 1000,5000,20000; "
                            "--duration is the seconds each run goes on after its scheduled ramp, as for "
                            "`fleet run` (default here: 40)")
    scale.add_argument("--plot", metavar="F", help="--scale: also draw the curves into F (.png or .svg; needs "
                                                   "matplotlib: pip install fleet[plot])")
    parser.add_argument("--json", metavar="F", help="also write the figures as JSON to F")


def _sizes(text: str) -> list[int]:
    """``1000,5000,20000`` -> the sizes (each a positive integer)."""
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected station counts separated by commas, got {text!r}") from None
    if not sizes or any(size <= 0 for size in sizes):
        raise argparse.ArgumentTypeError(f"expected positive station counts, got {text!r}")
    return sizes


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(args: argparse.Namespace) -> int:
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        problem = output_file_problem(path) if path else None
        if problem:
            print(f"fleet bench: {option} {path}: {problem}", file=sys.stderr)
            return USAGE
    if args.duration is None:
        args.duration = 40.0 if args.scale else 10.0
    if args.scale:
        return _scale(args)
    if args.plot:
        print("fleet bench: --plot goes with --scale", file=sys.stderr)
        return USAGE
    if args.tui:
        return _tui(args)
    if args.codec:
        return _codec(args)
    if args.matrix:
        return _matrix(args)
    if args.versions:
        return _versions(args)
    return _load(args)


# ---------------------------------------------------------------------------- load


def _load(args: argparse.Namespace) -> int:
    import trio

    from ..benchmarks.load import (
        BenchError,
        BenchSettingsError,
        CaseResult,
        check_case,
        default_csms_workers,
        run_case,
    )

    workers = args.workers or os.cpu_count() or 1
    csms_workers = args.csms_workers or default_csms_workers(args.stations)
    implementations = ["fleet"] + ([args.peer] if args.peer else [])
    try:
        for implementation in implementations:
            check_case(implementation, args.stations, args.call, args.duration, workers=workers,
                       csms_workers=csms_workers, builtin=args.csms is None, version=args.ocpp_version)
    except BenchSettingsError as exc:
        print(f"fleet bench: {exc}", file=sys.stderr)
        return USAGE
    where = f"external CSMS {args.csms}" if args.csms else f"{csms_workers} CSMS process(es) on one port"
    print(f"fleet bench: {args.stations:,} OCPP {args.ocpp_version} stations, {args.call} closed loop (one call in "
          "flight per station), "
          f"{args.duration:g} s window; {workers} station process(es), {where}; {machine()}", flush=True)

    def progress(text: str) -> None:
        print(f"  {text}", file=sys.stderr, flush=True)

    rows: list[CaseResult] = []
    failure: BaseException | None = None
    try:
        for implementation in implementations:
            rows.append(trio.run(functools.partial(
                run_case, implementation, args.stations, args.call, args.duration, workers=workers,
                csms_workers=csms_workers, csms_url=args.csms, warmup=args.warmup, progress=progress,
                version=args.ocpp_version)))
    except* BenchError as group:  # (raised inside the case's nursery: in a group)
        failure = first_error(group)
    if failure is not None:
        print(f"fleet bench: {failure}", file=sys.stderr)
        _print_rows(rows)
        return USAGE if isinstance(failure, BenchSettingsError) else RUN_FAILED
    _print_rows(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result_document(rows, {
                "stations": args.stations, "call": args.call, "ocpp_version": args.ocpp_version,
                "duration": args.duration, "workers": workers,
                "csms_workers": 0 if args.csms else csms_workers, "csms": args.csms or "built-in",
                "peer": args.peer}), f, indent=2)
    return 0 if rows and all(r.booted == r.stations for r in rows) else RUN_FAILED


def result_document(rows: list[Any], config: dict[str, Any]) -> dict[str, Any]:
    import msgspec

    document: dict[str, Any] = {"machine": machine(), "config": config,
                                "rows": [msgspec.to_builtins(r) for r in rows]}
    ratio = ratios(rows)
    if ratio:
        document["ratio_fleet_to_ocpp"] = ratio
    return document


def ratios(rows: list[Any]) -> dict[str, float]:
    """fleet ÷ ocpp for calls/s, p50, p99, connect+boot and total RSS (when both ran)."""
    by = {r.implementation: r for r in rows}
    fleet, peer = by.get("fleet"), by.get("ocpp")
    if fleet is None or peer is None:
        return {}
    out = {}
    for key in ("calls_per_s", "p50_ms", "p99_ms", "connect_boot_s", "total_rss_mb"):
        a, b = getattr(fleet, key), getattr(peer, key)
        if b:
            out[key] = round(a / b, 3)
    return out


def _print_rows(rows: list[Any]) -> None:
    if not rows:
        return
    header = (f"{'implementation':<15}{'stations':>9}{'booted':>8}  {'call':<17}{'calls/s':>9}{'p50 ms':>9}"
              f"{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>7}{'connect+boot s':>16}{'RSS MB':>8}"
              f"{'CPU us/call st/csms':>21}")
    print(header)
    print("-" * len(header))
    for r in rows:
        cpu = r.cpu_us_per_call
        print(f"{r.implementation:<15}{r.stations:>9,}{r.booted:>8,}  {r.call:<17}{r.calls_per_s:>9,.0f}"
              f"{r.p50_ms:>9.1f}{r.p95_ms:>9.1f}{r.p99_ms:>9.1f}{r.max_ms:>9.1f}{r.error_count:>7}"
              f"{r.connect_boot_s:>16.2f}{r.total_rss_mb:>8.0f}"
              f"{(str(cpu.get('stations', '-')) + ' / ' + str(cpu.get('csms', '-'))):>21}")
    ratio = ratios(rows)
    if ratio:
        print(f"fleet/ocpp: calls/s {ratio.get('calls_per_s', 0):.2f}x, p50 {ratio.get('p50_ms', 0):.2f}x, "
              f"p99 {ratio.get('p99_ms', 0):.2f}x, connect+boot {ratio.get('connect_boot_s', 0):.2f}x, "
              f"total RSS {ratio.get('total_rss_mb', 0):.2f}x")
    for r in rows:
        per = ", ".join(f"{name} {mb:.0f}" for name, mb in r.rss_mb.items())
        print(f"{r.implementation} peak RSS (VmHWM) MB: {per}; total {r.total_rss_mb:.0f} "
              f"({r.booted_rss_mb:.0f} when all were booted, before the loop)")
        print(f"{r.implementation} machine: {r.cpu_busy_pct:.0f}% busy during the window; not used by the "
              f"benchmark's processes: {r.ramp_other_cpu_pct:.0f}% during connect+boot, "
              f"{r.other_cpu_pct:.0f}% during the window (other load lowers the figures)")
        if r.errors:
            print(f"{r.implementation} errors: {r.errors}")
        if r.notes:
            print(f"{r.implementation}: {r.notes}")


# -------------------------------------------------------------------------- matrix


def _matrix(args: argparse.Namespace) -> int:
    from ..benchmarks.matrix import run_matrix

    return run_matrix(json_path=args.json, peer=args.peer or "ocpp", machine=machine())


def _versions(args: argparse.Namespace) -> int:
    from ..benchmarks.matrix import run_versions

    return run_versions(stations=args.stations, seconds=args.duration, json_path=args.json, peer=args.peer or "ocpp",
                        machine=machine(), workers=args.workers or None)


# ----------------------------------------------------------------------------- tui


def _checked_fleet(given: str | None, default: str, mode: str) -> str | None:
    """The fleet file or profile a benchmark runs (``default``: a shipped one), refused here, before any
    process starts (one line; ``None``)."""
    from ..run.fleetfile import FleetError, load_fleet_or_profile, shipped_profiles_dir

    fleet = given or str(shipped_profiles_dir() / default)
    try:
        load_fleet_or_profile(fleet)
    except FleetError as exc:
        print(f"fleet bench {mode}: --fleet {fleet}: {exc}", file=sys.stderr)
        return None
    return fleet


def _tui(args: argparse.Namespace) -> int:
    import msgspec

    from ..benchmarks.load import default_csms_workers
    from ..benchmarks.tui import (
        DEFAULT_FLEET,
        TuiBenchError,
        TuiConfig,
        print_progress,
        render,
        run_tui_benchmark,
    )

    fleet = _checked_fleet(args.fleet, DEFAULT_FLEET, "--tui")
    if fleet is None:
        return USAGE
    csms_workers = args.csms_workers or default_csms_workers(args.stations)
    print(f"fleet bench --tui: the dashboard attached to {args.stations:,} stations ({fleet}), "
          f"{args.duration:g} s window; {machine()}", flush=True)
    config = TuiConfig(stations=args.stations, seconds=args.duration, fleet=fleet, workers=args.workers,
                       csms_workers=csms_workers, progress=print_progress)
    try:
        result = run_tui_benchmark(config)
    except TuiBenchError as exc:
        print(f"fleet bench --tui: {exc}", file=sys.stderr)
        return RUN_FAILED
    print(render(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "config": {"mode": "tui", "stations": args.stations, "fleet": fleet,
                                                        "duration": args.duration, "workers": args.workers,
                                                        "csms_workers": csms_workers},
                       "result": msgspec.to_builtins(result)}, f, indent=2)
    if result.booted < result.stations:
        return RUN_FAILED
    return THRESHOLDS_FAILED if result.missed_keys else 0


# --------------------------------------------------------------------------- scale


def _scale(args: argparse.Namespace) -> int:
    from ..benchmarks.scale import (
        DEFAULT_FLEET,
        ScaleBenchError,
        ScaleConfig,
        check_sizes,
        document,
        plot,
        run_size,
    )
    from ..run.capacity import CapacityError

    fleet = _checked_fleet(args.fleet, DEFAULT_FLEET, "--scale")
    if fleet is None:
        return USAGE
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("fleet bench --scale: --plot needs matplotlib (pip install fleet[plot])", file=sys.stderr)
            return USAGE
    config = ScaleConfig(sizes=args.scale, fleet=fleet, duration=args.duration, workers=args.workers,
                         csms_workers=args.csms_workers)
    try:
        check_sizes(config)
    except CapacityError as exc:
        print(f"fleet bench --scale: {exc}", file=sys.stderr)
        return USAGE
    print(f"fleet bench --scale: {fleet} at {', '.join(f'{n:,}' for n in config.sizes)} stations, "
          f"{config.duration:g} s after each ramp; {machine()}", flush=True)

    def progress(text: str) -> None:
        print(f"  {text}", file=sys.stderr, flush=True)

    points = []
    for size in config.sizes:
        progress(f"fleet run of {size:,} stations")
        try:
            points.append(run_size(config, size, progress))
        except ScaleBenchError as exc:
            print(f"fleet bench --scale: {exc}", file=sys.stderr)
            break
        _print_scale_point(points[-1])
    doc = document(config, points)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
    if args.plot and points:
        plot(doc, args.plot)
    complete = len(points) == len(config.sizes) and all(p.online == p.stations for p in points)
    return 0 if complete else RUN_FAILED


def _print_scale_point(p: Any) -> None:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.1f} ms"

    online = f"{p.online_s:.1f} s" if p.online_s is not None else f"not all (at most {p.online:,})"
    if p.seen_online_s is not None and p.seen_online_s != p.online_s:
        online += f" (the control API showed it at {p.seen_online_s:.1f} s)"
    rss = ", ".join(f"{role} {mb:,.0f}" for role, mb in p.peak_rss_mb.items())
    roles = "; ".join(f"{role} CPU {r.cpu_mean:.0f}% lag p99 {r.loop_lag_p99_ms:,.1f} ms"
                      for role, r in p.roles.items())
    calls = "-" if p.steady_calls_per_s is None else f"{p.steady_calls_per_s:,.0f}"
    print(f"{p.stations:>8,} stations: all online {online}; peak RSS MiB {rss}; steady {calls} calls/s "
          f"p50 {ms(p.steady_p50_ms)} p99 {ms(p.steady_p99_ms)}; errors {p.errors}; audit "
          f"{'ok' if p.audit_ok else p.audit_ok}; {roles}; machine {p.machine_busy_pct}% busy; processes: "
          f"{p.workers} station, {p.csms_workers} CSMS on {p.csms_ports} port(s)", flush=True)


# --------------------------------------------------------------------------- codec


def _codec(args: argparse.Namespace) -> int:
    from ..benchmarks.codec import baseline_problem, run_codec_benchmark

    skipped = baseline_problem()
    rows = run_codec_benchmark(args.seconds, baseline=skipped is None)
    print(f"codec benchmark on {machine()}; frames/s, best of 3 slices of {args.seconds / 3:.2f} s")
    header = f"{'action':<18}{'bytes':>6}{'fleet decode':>14}{'fleet encode':>14}{'json+schema':>13}{'json.dumps':>12}{'speedup':>9}"
    print(header)
    print("-" * len(header))
    for r in rows:
        if skipped:
            baseline = f"{'-':>13}{'-':>12}{'-':>9}"
        else:
            baseline = (f"{r['jsonschema_decode_per_s']:>13,.0f}{r['json_encode_per_s']:>12,.0f}"
                        f"{r['decode_speedup']:>8.0f}x")
        print(f"{r['action']:<18}{r['frame_bytes']:>6}{r['fleet_decode_per_s']:>14,.0f}"
              f"{r['fleet_encode_per_s']:>14,.0f}{baseline}")
    if skipped:
        print(f"skipped: {skipped}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "rows": rows, **({"skipped": skipped} if skipped else {})}, f, indent=2)
    return 0
