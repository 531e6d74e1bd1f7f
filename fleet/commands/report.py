"""``fleet report``: show or merge run reports, and gate on them (``--threshold``); ``fleet
report html`` turns a report into one self-contained HTML page with charts over time.

``-`` as a report reads standard input, which may hold several reports one after the
other (``for pod in ...; do kubectl logs $pod; done | fleet report merge -``); lines
between them are skipped. ``-o -`` writes the merged JSON to standard output (and the
summary to standard error).

Exit status, as ``fleet run``'s: 0 when every threshold holds, 1 when one fails (the
``--threshold`` options given, else the thresholds stored in the report), 2 for a bad
argument or a file that is not a fleet report, 3 when a run in the report could not be
carried out (its ``problems``).
"""

from __future__ import annotations

import argparse
import sys

import msgspec

from ..cli import EXIT_CODES, add_output_options
from ..exit_codes import OK, RUN_FAILED, THRESHOLDS_FAILED, USAGE
from ..run.report import (
    Report,
    load_report,
    merge_reports,
    render_summary,
    report_json,
    split_reports,
    write_report,
)
from ..run.thresholds import Threshold, ThresholdError, evaluate, parse_threshold
from .checks import output_file_problem
from .marks import print_marked

HELP = "show a run report, merge the reports of shards exactly, or write one as an HTML page; gate on them with --threshold"
EXAMPLE = "fleet report merge shard-0.json shard-1.json -o all.json --threshold 'p99<200ms'"

_THRESHOLD_HELP = ("pass/fail expression as for `fleet run`, e.g. 'p99<200ms', 'errors==0' "
                   "(repeatable; exit 1 when one fails)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="report_command", metavar="ACTION", required=True)
    raw = argparse.RawDescriptionHelpFormatter
    show = sub.add_parser("show", help="print the summary of a report", epilog=EXIT_CODES, formatter_class=raw)
    show.add_argument("report", help="the JSON report ('-': standard input)")
    show.add_argument("--threshold", action="append", default=[], metavar="EXPR", help=_THRESHOLD_HELP)
    merge = sub.add_parser("merge", help="merge shard reports (histograms added exactly; each shard once)",
                           epilog=EXIT_CODES, formatter_class=raw)
    merge.add_argument("reports", nargs="+", metavar="REPORT",
                       help="shard reports ('-': standard input, which may hold several)")
    merge.add_argument("-o", "--output", metavar="F",
                       help="write the merged report here (JSON; '-': standard output, the summary then "
                            "goes to standard error)")
    merge.add_argument("--threshold", action="append", default=[], metavar="EXPR", help=_THRESHOLD_HELP)
    page = sub.add_parser("html", help="write a report as one self-contained HTML page (charts over time, tables)",
                          epilog=EXIT_CODES, formatter_class=raw)
    page.add_argument("report", help="the JSON report ('-': standard input)")
    page.add_argument("-o", "--output", metavar="F", required=True, help="the HTML file to write")
    page.add_argument("--threshold", action="append", default=[], metavar="EXPR", help=_THRESHOLD_HELP)
    for action in (show, merge, page):
        add_output_options(action)


def _load(names: list[str]) -> tuple[list[Report], list[str]]:
    reports: list[Report] = []
    labels: list[str] = []
    for name in names:
        if name == "-":
            found = split_reports(sys.stdin.buffer.read(), "standard input")
            reports += found
            labels += [f"standard input (report {i + 1})" for i in range(len(found))]
        else:
            reports.append(load_report(name))
            labels.append(name)
    return reports, labels


def _verdict(report: Report, thresholds: list[Threshold]) -> tuple[Report, int]:
    if thresholds:
        lost = int(report.audit.get("missing_events") or 0) if report.audit else None
        results = evaluate(thresholds, report.metrics, lost=lost, steady=report.steady, execution=report.execution)
        report = msgspec.structs.replace(report, thresholds=results)
    if report.problems:
        return report, RUN_FAILED
    return report, THRESHOLDS_FAILED if any(not t.ok for t in report.thresholds) else OK


def main(args: argparse.Namespace) -> int:
    try:
        thresholds = [parse_threshold(t) for t in args.threshold]
        if args.report_command in ("show", "html"):
            if args.report_command == "html":
                problem = output_file_problem(args.output)
                if problem:
                    raise ValueError(f"--output {args.output}: {problem}")
            reports, _ = _load([args.report])
            if len(reports) != 1:
                raise ValueError(f"{args.report}: holds {len(reports)} reports; `fleet report merge` them")
            report = reports[0]
            output = None
        else:
            if args.reports.count("-") > 1:
                raise ValueError("'-' (standard input) can be given once")
            output = args.output
            if output and output != "-":
                problem = output_file_problem(output)
                if problem:
                    raise ValueError(f"--output {output}: {problem}")
            reports, labels = _load(args.reports)
            report = merge_reports(reports, labels)
    except (ThresholdError, ValueError) as exc:
        print(f"fleet report: {exc}", file=sys.stderr)
        return USAGE
    report, code = _verdict(report, thresholds)
    if args.report_command == "html":
        from ..run.html_report import write_html

        try:
            write_html(report, args.output)
        except OSError as exc:
            print(f"fleet report: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return RUN_FAILED
        if not args.quiet:
            print(f"HTML report written to {args.output}")
        return code
    summary = sys.stderr if output == "-" else sys.stdout
    text = render_summary(report)
    print_marked(text, summary)
    for problem in report.problems:
        if problem not in text:  # (said once, whether or not the summary lists the problems)
            print(f"problem: {problem}", file=summary)
    if output == "-":
        sys.stdout.buffer.write(report_json(report))
        sys.stdout.flush()
    elif output:
        try:
            write_report(report, output)
        except OSError as exc:
            print(f"fleet report: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
            return RUN_FAILED
    return code
