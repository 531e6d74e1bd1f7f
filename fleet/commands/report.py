"""``fleet report``: show or merge run reports."""

from __future__ import annotations

import argparse

from ..report import load_report, merge_reports, render_summary, write_report

HELP = "show a run report, or merge the reports of shards exactly"
EXAMPLE = "fleet report merge shard-0.json shard-1.json -o all.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="report_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print the summary of a report")
    show.add_argument("report")
    merge = sub.add_parser("merge", help="merge shard reports (histograms added exactly)")
    merge.add_argument("reports", nargs="+")
    merge.add_argument("-o", "--output", help="write the merged report here (JSON)")


def main(args: argparse.Namespace) -> int:
    try:
        if args.report_command == "show":
            print(render_summary(load_report(args.report)))
            return 0
        merged = merge_reports([load_report(p) for p in args.reports])
    except ValueError as exc:
        print(f"fleet report: {exc}")
        return 2
    if args.output:
        write_report(merged, args.output)
    print(render_summary(merged))
    return 0
