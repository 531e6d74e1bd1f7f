"""``fleet bench``: measure fleet on this machine and print the figures."""

from __future__ import annotations

import argparse
import json
import os
import platform

HELP = "benchmark: the codec (--codec), or a closed-loop load against a CSMS"
EXAMPLE = "fleet bench --codec"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--codec", action="store_true", help="decode+validate and encode rates vs json + jsonschema")
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per codec case (default 1)")
    parser.add_argument("--json", metavar="F", help="also write the figures as JSON to F")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(args: argparse.Namespace) -> int:
    if args.codec:
        return _codec(args)
    print("load benchmark: see `fleet bench --help` (not built yet)")
    return 2


def _codec(args: argparse.Namespace) -> int:
    try:
        from ..benchmarks.codec import run_codec_benchmark
    except ModuleNotFoundError as exc:  # jsonschema / ocpp come with the dev extras
        print(f"fleet bench --codec needs the dev extras (pip install 'fleet[dev]'): {exc}")
        return 2
    rows = run_codec_benchmark(args.seconds)
    print(f"codec benchmark on {machine()}; frames/s, best of 3 slices of {args.seconds / 3:.2f} s")
    header = f"{'action':<18}{'bytes':>6}{'fleet decode':>14}{'fleet encode':>14}{'json+schema':>13}{'json.dumps':>12}{'speedup':>9}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['action']:<18}{r['frame_bytes']:>6}{r['fleet_decode_per_s']:>14,.0f}{r['fleet_encode_per_s']:>14,.0f}"
            f"{r['jsonschema_decode_per_s']:>13,.0f}{r['json_encode_per_s']:>12,.0f}{r['decode_speedup']:>8.0f}x"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "rows": rows}, f, indent=2)
    return 0
