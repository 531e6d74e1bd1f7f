"""``fleet chaos``: the robustness suite, or malformed traffic against any CSMS."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..exit_codes import USAGE
from ..ocpp import VERSIONS_BY_NAME
from .checks import (
    csms_url,
    non_negative_int,
    non_negative_number,
    output_file_problem,
    positive_int,
    positive_number,
    seed,
)
from .marks import print_marked

#: The versions the attackers can speak, oldest first (names as a profile's ``ocpp_version``).
_VERSIONS = tuple(reversed(list(VERSIONS_BY_NAME)))

HELP = "robustness suite: attack the built-in CSMS and stations, inject faults, check nothing is lost"
EXAMPLE = "fleet chaos --seconds 20 --report chaos.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csms", type=csms_url, metavar="URL",
                        help="probe this CSMS with every class of malformed traffic and print its answers "
                             "(instead of the whole suite against the built-in CSMS)")
    parser.add_argument("--station-id", default="FLEET-CHAOS", help="with --csms: the station id to connect as")
    parser.add_argument("--password", help="with --csms: the station's Basic-auth password")
    parser.add_argument("--per-class", type=positive_int, default=10, metavar="N", help="with --csms: probes per class (default 10)")
    parser.add_argument("--no-boot", action="store_true",
                        help="with --csms: do not send a BootNotification before the probes")
    parser.add_argument("--ocpp-version", choices=_VERSIONS, default="2.0.1", metavar="V",
                        help="the OCPP version the attacking stations speak (and, in the suite, every station and "
                             f"the hostile CSMS; the floods speak 2.0.1): {', '.join(_VERSIONS)} (default 2.0.1); "
                             "the expected answers are that version's")
    parser.add_argument("--seconds", type=positive_number, default=20.0, metavar="S", help="length of the attack phase (default 20)")
    parser.add_argument("--healthy", type=non_negative_int, default=20, metavar="N", help="healthy stations (default 20)")
    parser.add_argument("--faulted", type=non_negative_int, default=20, metavar="N", help="stations with faults (default 20)")
    parser.add_argument("--victims", type=non_negative_int, default=4, metavar="N", help="stations on the hostile CSMS (default 4)")
    parser.add_argument("--attackers", type=non_negative_int, default=4, metavar="N", help="concurrent raw attackers (default 4)")
    parser.add_argument("--speed", type=positive_number, default=20.0, metavar="X",
                        help="simulated seconds per real second of the stations' timers (default 20)")
    parser.add_argument("--downtime", type=non_negative_number, default=2.0, metavar="S",
                        help="seconds the CSMS stays down when it restarts (default 2)")
    parser.add_argument("--idle-timeout", type=positive_number, default=3.0, metavar="S",
                        help="the CSMS closes connections silent this long after their handshake (default 3)")
    parser.add_argument("--decoder-inputs", type=non_negative_int, default=20000, metavar="N",
                        help="random inputs fed to the frame decoder, per role (default 20000)")
    parser.add_argument("--fault", action="append", default=[], metavar="KEY=VALUE",
                        help="change one of the faulted fleet's faults, e.g. disconnect_rate=120 (repeatable)")
    parser.add_argument("--flood-seconds", type=non_negative_number, default=6.0, metavar="S",
                        help="seconds of each flood: a station floods the CSMS, a hostile CSMS floods a station, "
                             "while healthy stations' round trips are compared with a baseline (default 6; 0: none)")
    parser.add_argument("--flood-only", action="store_true", help="run only the floods")
    parser.add_argument("--seed", type=seed, default=1, help="seed of every random choice (default 1)")
    parser.add_argument("--report", metavar="F", help="write the JSON report to F")


def main(args: argparse.Namespace) -> int:
    problem = output_file_problem(args.report) if args.report else None
    if problem:
        print(f"fleet chaos: --report {args.report}: {problem}", file=sys.stderr)
        return USAGE
    quiet = ("fleet.ocpp", "fleet.connection", "trio-websocket") if getattr(args, "verbose", 0) == 0 else ()
    levels = {name: logging.getLogger(name).level for name in quiet}
    try:
        # Late answers and dropped frames are the point here: keep their warnings quiet.
        for name in quiet:
            logging.getLogger(name).setLevel(logging.ERROR)
        return _run(args)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _run(args: argparse.Namespace) -> int:
    import msgspec
    import trio

    from ..chaos.suite import (
        SuiteConfig,
        chaos_faults,
        probe_csms,
        render_probe_table,
        render_report,
        run_suite,
    )
    from ..faults import parse_fault_options

    if args.csms:
        if not args.csms.startswith(("ws://", "wss://")):
            print(f"fleet chaos: --csms {args.csms!r}: expected a ws:// or wss:// URL", file=sys.stderr)
            return USAGE
        version = VERSIONS_BY_NAME[args.ocpp_version]
        table = trio.run(lambda: probe_csms(args.csms, station_id=args.station_id, password=args.password,
                                            per_class=args.per_class, seed=args.seed, boot=not args.no_boot,
                                            version=version))
        print_marked(render_probe_table(table, args.csms, version.name))
        if args.report:
            Path(args.report).write_bytes(msgspec.json.format(msgspec.json.encode(table), indent=2) + b"\n")
        return 0 if table and all(e["matched"] == e["tried"] for e in table.values()) else 1
    if not 0 <= args.flood_seconds < float("inf") or (args.flood_only and not args.flood_seconds > 0):
        print(f"fleet chaos: --flood-seconds {args.flood_seconds:g}: expected seconds > 0"
              + ("" if args.flood_only else " (or 0 for no floods)"), file=sys.stderr)
        return USAGE
    if args.flood_only:
        from ..chaos.flood import FloodConfig, render_flood, run_flood

        flood = trio.run(lambda: run_flood(FloodConfig(flood_s=args.flood_seconds),
                                           lambda text: print(f"chaos: {text}", flush=True)))
        print()
        print_marked("\n".join(render_flood(flood)))
        if args.report:
            Path(args.report).write_bytes(msgspec.json.format(msgspec.json.encode({"flood": flood}), indent=2) + b"\n")
            print(f"\nreport written to {args.report}")
        return 0 if flood["passed"] else 1
    config = SuiteConfig(seed=args.seed, healthy=args.healthy, faulted=args.faulted, victims=args.victims,
                         attackers=args.attackers, attack_seconds=args.seconds, speed=args.speed,
                         csms_downtime=args.downtime, idle_timeout=args.idle_timeout,
                         decoder_inputs=args.decoder_inputs, flood_seconds=args.flood_seconds,
                         ocpp_version=args.ocpp_version)
    try:
        faults = parse_fault_options(args.fault, chaos_faults(config))
    except ValueError as exc:
        print(f"fleet chaos: {exc}", file=sys.stderr)
        return USAGE
    config = msgspec.structs.replace(config, faults=faults)
    report = trio.run(lambda: run_suite(config, progress=lambda text: print(f"chaos: {text}", flush=True)))
    print()
    print_marked(render_report(report))
    if args.report:
        Path(args.report).write_bytes(msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n")
        print(f"\nreport written to {args.report}")
    return 0 if report.passed else 1
