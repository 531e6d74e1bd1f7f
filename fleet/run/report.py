"""The report of a load run: JSON for machines (``--report``), a table for people.

The JSON keeps the encoded HDR histograms, so reports of shards run on several
machines merge exactly (``fleet report merge``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from ..metrics import ActionStats, MetricsSnapshot, VersionStats, decode_histogram, new_histogram, summarize
from .thresholds import ThresholdResult, measured_text
from .timeline import Timeline, decode_sketch, merge_timelines

__all__ = [
    "Report",
    "load_report",
    "merge_reports",
    "parse_report",
    "render_summary",
    "report_json",
    "split_reports",
    "write_report",
]


class Report(msgspec.Struct):
    """A run's report.

    Attributes:
        fleet: what ran: source, stations, workers, shard, CSMS URLs, seed, duration.
        metrics: every measurement, mergeable.
        stations: stations by final state.
        thresholds: each threshold with its verdict and measured value.
        audit: the nothing-lost audit (when the built-in CSMS ran), or empty.
        resources: peak RSS per process and in total (bytes).
        actions: per action and direction latency summaries (derived from ``metrics``).
        faults: what fault injection did (see :func:`fleet.faults.merge_fault_records`), if any.
        steady: the steady-state window only: from a settle time after the ramp until the
            stop (no ramp, no wind-down), when the run lasted long enough to have one.
        problems: why the run could not be carried out as asked (no station came online, a
            worker died, ...), one plain sentence each; a run with problems is failed
            (exit code :data:`fleet.exit_codes.RUN_FAILED`) whatever its thresholds say.
        execution: fleet's own processes per role: CPU use, event-loop lag and schedule lag,
            and whether fleet itself limited the figures.
        interrupted: the run was stopped by Ctrl-C or SIGTERM before its end.
        timeline: the run interval by interval (calls, latencies, errors, stations, fleet's
            own load; see :mod:`fleet.run.timeline`), or ``None`` (reports older than it).
        versions: per OCPP version, its stations and their calls (derived from ``metrics``).
    """

    fleet: dict[str, Any] = {}
    metrics: MetricsSnapshot = msgspec.field(default_factory=MetricsSnapshot)
    stations: dict[str, int] = {}
    thresholds: list[ThresholdResult] = []
    audit: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    actions: list[ActionStats] = []
    steady: MetricsSnapshot | None = None
    faults: dict[str, Any] = {}
    problems: list[str] = []
    execution: dict[str, Any] = {}
    interrupted: bool = False
    timeline: Timeline | None = None
    versions: list[VersionStats] = []

    def with_derived(self) -> Report:
        """This report with ``actions`` (and ``versions``) recomputed from the histograms."""
        return msgspec.structs.replace(self, actions=self.metrics.action_stats(), versions=self.metrics.version_stats())


def report_json(report: Report) -> bytes:
    """The report as indented JSON (what ``--report`` writes): a line ``{`` to a line ``}``."""
    return msgspec.json.format(msgspec.json.encode(report.with_derived()), indent=2) + b"\n"


def write_report(report: Report, path: str | Path) -> None:
    """Write the report as indented JSON."""
    Path(path).write_bytes(report_json(report))


def load_report(path: str | Path) -> Report:
    """Read a report written by :func:`write_report`.

    Raises:
        ValueError: the file cannot be read or is not a fleet report (the message says why).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_report(data, str(path))


def parse_report(data: bytes, name: str) -> Report:
    """A report from its JSON, checked: a JSON object with a ``fleet`` and a ``metrics``
    object whose histograms decode (``{}`` or any other JSON is refused).

    Raises:
        ValueError: naming ``name``, the field and what was expected.
    """
    expected = "expected the JSON report that `fleet run --report` writes"
    try:
        top = msgspec.json.decode(data, type=dict[str, msgspec.Raw])
    except msgspec.ValidationError:
        raise ValueError(f"{name}: not a fleet report: not a JSON object ({expected})") from None
    except msgspec.DecodeError as exc:
        raise ValueError(f"{name}: not a fleet report: not valid JSON: {exc} ({expected})") from None
    missing = [key for key in ("fleet", "metrics") if key not in top]
    if missing:
        raise ValueError(f"{name}: not a fleet report: no {' and no '.join(repr(k) for k in missing)} ({expected})")
    try:
        report = msgspec.json.decode(data, type=Report)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{name}: not a fleet report: {exc}") from None
    if not report.fleet:
        raise ValueError(f"{name}: not a fleet report: `$.fleet` is empty ({expected})")
    windows = [("metrics", report.metrics)] + ([("steady", report.steady)] if report.steady is not None else [])
    for where, snapshot in windows:
        encoded = [(f"histograms.{key}", value) for key, value in snapshot.histograms.items()]
        for field, value in [*encoded, ("boot_histogram", snapshot.boot_histogram)]:
            try:
                decode_histogram(value)
            except Exception:  # the HDR decoder raises several kinds on corrupt input
                raise ValueError(f"{name}: not a fleet report: `$.{where}.{field}` is not an encoded histogram") from None
    for i, point in enumerate(report.timeline.points if report.timeline is not None else []):
        sketches = [(f"calls.{key}", text) for key, text in point.calls.items()]
        for field, text in sketches + [(f"execution.{role}.lag", load.lag) for role, load in point.execution.items()]:
            try:
                decode_sketch(text)
            except ValueError:
                raise ValueError(f"{name}: not a fleet report: `$.timeline.points[{i}].{field}` is not a latency sketch") from None
    return report


def split_reports(data: bytes, name: str) -> list[Report]:
    """The reports in a stream of one or more (e.g. the logs of several ``fleet run
    --report -``): each from a line ``{`` to a line ``}``; lines outside them (progress and
    summary lines where standard error was mixed in) are skipped.

    Raises:
        ValueError: no report in the stream, or one that is not a fleet report.
    """
    reports: list[Report] = []
    lines = data.splitlines(keepends=True)
    start: int | None = None
    for i, line in enumerate(lines):
        text = line.rstrip()
        if start is None and text == b"{":
            start = i
        elif start is not None and text == b"}":
            reports.append(parse_report(b"".join(lines[start : i + 1]), f"{name} (report {len(reports) + 1})"))
            start = None
    if not reports:
        stripped = data.strip()
        if stripped:  # not in the layout fleet writes: one JSON document, or an error that names it
            return [parse_report(stripped, name)]
        raise ValueError(f"{name}: no fleet report in it")
    return reports


def _identity(report: Report) -> tuple[str, tuple[int, int]]:
    """Which run and which shard a report is (reports older than ``run_id`` are told apart by
    their measuring times)."""
    run = report.fleet.get("run_id") or f"started {report.metrics.started_at!r}, ended {report.metrics.ended_at!r}"
    shard = report.fleet.get("shard") or [0, 1]
    try:
        index, count = int(shard[0]), int(shard[1])
    except (TypeError, ValueError, IndexError):
        index, count = 0, 1
    return str(run), (index, count)


def merge_reports(reports: list[Report], names: list[str] | None = None) -> Report:
    """The exact merge of several shard reports (histograms added, counts summed).

    The same shard twice is refused (the same report given twice, or the same slice ``I/N``
    of a fleet from two reports), and so are slices of different splits (``0/2`` with ``0/3``),
    which overlap: merged, they would count stations twice.

    Raises:
        ValueError: nothing to merge, or shards that do not add up (naming the reports).
    """
    if not reports:
        raise ValueError("nothing to merge")
    names = names if names is not None else [f"report {i + 1}" for i in range(len(reports))]
    seen: dict[tuple[str, tuple[int, int]], str] = {}
    slices: dict[tuple[int, int], str] = {}
    for report, name in zip(reports, names, strict=True):
        run, shard = _identity(report)
        where = f"shard {shard[0]}/{shard[1]}" if shard[1] > 1 else "an unsharded run"
        if (run, shard) in seen:
            first = seen[run, shard]
            said = f"{name} is given twice" if first == name else f"{name} is the same report as {first}"
            raise ValueError(f"{said} ({where}, run {run}): merged, it would be counted twice; give each shard once")
        if shard[1] > 1 and shard in slices:
            raise ValueError(f"{name} and {slices[shard]} are both shard {shard[0]}/{shard[1]} (of different runs): "
                             "merged, its stations would be counted twice; give each shard once")
        seen[run, shard] = name
        slices[shard] = name
    splits = sorted({count for _, count in slices if count > 1})
    if len(splits) > 1 or (splits and any(count == 1 for _, count in slices)):
        described = ", ".join(f"{name}: {index}/{count}" for (index, count), name in slices.items())
        raise ValueError(f"the reports are slices of different splits of the fleet ({described}); "
                         "merge the shards of one split")
    metrics = reports[0].metrics
    stations: dict[str, int] = dict(reports[0].stations)
    for other in reports[1:]:
        metrics = metrics.merge(other.metrics)
        for state, n in other.stations.items():
            stations[state] = stations.get(state, 0) + n
    steady: MetricsSnapshot | None = None
    if all(r.steady is not None for r in reports):
        for r in reports:
            assert r.steady is not None
            steady = r.steady if steady is None else steady.merge(r.steady)
    fleet = dict(reports[0].fleet)
    fleet["merged_from"] = len(reports)
    fleet["shards"] = [list(_identity(r)[1]) for r in reports]
    fleet.pop("shard", None)
    fleet["run_id"] = ",".join(dict.fromkeys(_identity(r)[0] for r in reports))
    for key in ("stations", "started"):
        fleet[key] = sum(int(r.fleet.get(key) or 0) for r in reports)
    audit: dict[str, Any] = {}
    for key in ("checked_transactions", "missing_events", "duplicated_events", "energy_mismatches"):
        values = [r.audit.get(key) for r in reports if key in r.audit]
        if values:
            audit[key] = sum(int(v) for v in values if v is not None)
    # Fleet's own load is per machine: keep each shard's warnings and notes, naming the shard.
    execution: dict[str, Any] = {}
    for kind in ("warnings", "notes"):
        lines = [f"shard {'/'.join(str(v) for v in r.fleet.get('shard', ['?']))}: {w}"
                 for r in reports for w in r.execution.get(kind, [])]
        if lines:
            execution[kind] = lines
    problems = [f"{name}: {problem}" for r, name in zip(reports, names, strict=True) for problem in r.problems]
    timeline = _merged_timeline(reports, fleet)
    return Report(fleet=fleet, metrics=metrics, stations=stations, audit=audit, steady=steady, problems=problems, execution=execution,
                  interrupted=any(r.interrupted for r in reports), timeline=timeline).with_derived()


def _merged_timeline(reports: list[Report], fleet: dict[str, Any]) -> Timeline | None:
    """The shards' timelines merged point by point; none when a report has none or their
    intervals differ (``fleet["timeline"]`` then says why)."""
    timelines = [r.timeline for r in reports if r.timeline is not None]
    if not timelines:
        return None
    if len(timelines) < len(reports):
        fleet["timeline"] = "left out: not every report has one (a part would misstate the totals)"
        return None
    try:
        return merge_timelines(timelines)
    except ValueError as exc:
        fleet["timeline"] = f"left out: {exc}; run the shards with the same --timeline-interval"
        return None


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def render_summary(report: Report) -> str:
    """The end-of-run summary: thresholds first (✓/✗), then OCPP, CONNECTIONS and EXECUTION."""
    lines: list[str] = []
    if report.interrupted:
        lines.append("INTERRUPTED (Ctrl-C or SIGTERM): the run was stopped before its end; the figures "
                     "cover the time until then")
        lines.append("")
    if report.thresholds:
        lines.append("THRESHOLDS")
        for t in report.thresholds:
            measured = t.reason if t.reason or t.actual is None else f"actual {measured_text(t.expression, t.actual)}"
            lines.append(f"  {'✓' if t.ok else '✗'} {t.expression:<32} {measured}")
        lines.append("")
    if report.problems:
        lines.append("PROBLEMS (the run failed)")
        lines.extend(f"  ✗ {problem}" for problem in report.problems)
        lines.append("")
    metrics = report.metrics
    elapsed = max(metrics.ended_at - metrics.started_at, 1e-9)
    lines.append("OCPP, whole run (round trip of the calls the fleet made; calls the CSMS made marked 'in')")
    lines.extend(_action_table(metrics))
    if report.steady is not None:
        window = max(report.steady.ended_at - report.steady.started_at, 0.0)
        lines.append(f"OCPP, steady state ({window:,.0f} s from the settle time after the ramp until the stop)")
        lines.extend(_action_table(report.steady))
    lines.extend(_version_table(metrics))
    lines.append("CONNECTIONS")
    counters = metrics.counters
    for name in ("connects", "disconnects", "reconnects", "violations"):
        lines.append(f"  {name:<20}{counters.get(name, 0):>10,}")
    flood = {name[6:]: n for name, n in sorted(counters.items()) if name.startswith("flood_") and n}
    if flood:  # the built-in CSMS's flood policy acted (see fleet csms)
        lines.append(f"  {'floods (CSMS)':<20}" + ", ".join(f"{name} {n:,}" for name, n in flood.items()))
    lines.extend(_connection_failure_lines(metrics, report.fleet.get("never_online") or {}))
    if metrics.boot_histogram:
        boot = summarize("boot", "", decode_histogram(metrics.boot_histogram), {})
        last = (f"; the last {metrics.last_boot_at - metrics.started_at:,.1f} s into the run"
                if metrics.last_boot_at and metrics.started_at else "")
        lines.append(f"  {'boot time':<20}p50 {_ms(boot.p50_ms)} ms, p99 {_ms(boot.p99_ms)} ms, max {_ms(boot.max_ms)} ms "
                     f"({boot.count:,} booted{last})")
    lines.append("")
    lines.append("EXECUTION")
    fleet = report.fleet
    lines.append(f"  {'stations':<20}{fleet.get('stations', 0):>10,}   by state: "
                 + (", ".join(f"{k} {v:,}" for k, v in sorted(report.stations.items())) or "-"))
    lines.append(f"  {'duration':<20}{elapsed:>10,.1f} s")
    lines.extend(_speed_lines(fleet.get("speed")))
    if report.resources:
        total_rss = report.resources.get("total_rss", 0)
        lines.append(f"  {'peak RSS':<20}{total_rss / 2**20:>10,.0f} MiB (all processes)")
    lines.extend(_execution_lines(report))
    if report.faults:
        lines.append("")
        lines.append("FAULTS")
        counts = ", ".join(f"{k} {v:,}" for k, v in sorted(report.faults.items())
                           if isinstance(v, int | float) and not isinstance(v, bool))
        if counts:
            lines.append(f"  injected by the stations: {counts}")
        for klass, entry in report.faults.get("malformed", {}).items():
            lines.append(f"  malformed {klass:<20} tried {entry.get('tried', 0):,}, answered as expected "
                         f"{entry.get('matched', 0):,}, unanswered {entry.get('unanswered', 0):,}")
        lines.extend(_csms_fault_lines(report.faults))
    if report.audit:
        audit = report.audit
        ok = not audit.get("missing_events") and not audit.get("duplicated_events") and not audit.get("energy_mismatches")
        lines.append("")
        lines.append("AUDIT (what every station sent vs what the CSMS recorded)")
        lines.append(f"  {'✓' if ok else '✗'} transactions checked {audit.get('checked_transactions', 0):,}, "
                     f"missing events {audit.get('missing_events', 0)}, duplicated {audit.get('duplicated_events', 0)}, "
                     f"energy mismatches {audit.get('energy_mismatches', 0)}")
    return "\n".join(lines)


def _connection_failure_lines(metrics: MetricsSnapshot, never_online: dict[str, Any]) -> list[str]:
    """Failed connection attempts by cause (with what the common ones mean) and the stations
    that never came online."""
    from ..net.transport import connect_failure_hint

    causes = metrics.connect_failures
    total = sum(causes.values()) or metrics.counters.get("connect_failures", 0)
    lines = [f"  {'connect failures':<20}{total:>10,}"]
    for cause, n in sorted(causes.items(), key=lambda item: (-item[1], item[0])):
        hint = connect_failure_hint(cause)
        lines.append(f"    {cause:<18}{n:>10,}" + (f"   {hint}" if hint else ""))
    refused = ", ".join(f"{k} {v:,}" for k, v in sorted(metrics.handshake_failures.items())) or "none"
    lines.append(f"  {'handshakes refused':<20}{sum(metrics.handshake_failures.values()):>10,}"
                 + (f"   {refused}" if metrics.handshake_failures else ""))
    if never_online:
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(never_online.get("reasons", {}).items()))
        by_plan = int(never_online.get("by_plan", 0))
        note = f" ({by_plan:,} kept off on purpose by the fault plan)" if by_plan else ""
        lines.append(f"  {'never online':<20}{int(never_online.get('stations', 0)):>10,}{note}   {reasons}")
    return lines


def _speed_lines(speed: Any) -> list[str]:
    """One line saying what ``speed`` changed (none at speed 1 with real protocol timings)."""
    if not isinstance(speed, dict):
        return []
    factor, protocol = float(speed.get("factor", 1.0)), float(speed.get("protocol_factor", 1.0))
    if factor == 1.0 and protocol == 1.0:
        return []
    timings = ", ".join(speed.get("protocol_timings", ())) or "protocol timings"
    if protocol == 1.0:
        tail = f"protocol timings real ({timings})"
    else:
        tail = f"protocol timings x{protocol:g} too ({timings}): a load no real fleet makes"
    return [f"  {'speed':<20}{'x' + format(factor, 'g'):>10}   drivers, sessions, energy, fault schedules; {tail}"]


_ROLE_LABELS = {"stations": "station workers", "csms": "CSMS workers", "supervisor": "supervisor"}


def _execution_lines(report: Report) -> list[str]:
    """Fleet's own load per role, the timer-driven calls timed from when they were due,
    and a warning for each role that limited the figures (see :mod:`fleet.run.execution`)."""
    roles = report.execution.get("roles", {})
    lines: list[str] = []
    if roles:
        lines.append(f"  {'fleet itself':<24}{'CPU mean':>9}{'peak':>7}   loop lag{'p50':>6}{'p99':>8}{'max':>8}"
                     f"   schedule lag{'p99':>9}{'max':>9}  (ms)")
        for role, label in _ROLE_LABELS.items():
            figures = roles.get(role)
            if figures is None:
                continue
            name = f"{label} ({figures.get('processes', 1)})" if role != "supervisor" else label
            scheduled = (f"{_ms(figures['schedule_lag_p99_ms']):>9}{_ms(figures['schedule_lag_max_ms']):>9}"
                         if "schedule_lag_p99_ms" in figures else f"{'-':>9}{'-':>9}")
            lines.append(f"  {name:<24}{figures.get('cpu_mean', 0):>8,.0f}%{figures.get('cpu_peak', 0):>6,.0f}%"
                         f"{'':>11}{_ms(figures.get('loop_lag_p50_ms', 0)):>6}{_ms(figures.get('loop_lag_p99_ms', 0)):>8}"
                         f"{_ms(figures.get('loop_lag_max_ms', 0)):>8}{'':>15}{scheduled}")
            steady = figures.get("steady")
            if steady:
                lines.append(f"  {'  steady state':<24}{steady.get('cpu_mean', 0):>8,.0f}%{steady.get('cpu_peak', 0):>6,.0f}%"
                             f"{'':>11}{_ms(steady.get('loop_lag_p50_ms', 0)):>6}{_ms(steady.get('loop_lag_p99_ms', 0)):>8}"
                             f"{_ms(steady.get('loop_lag_max_ms', 0)):>8}")
        machine = report.execution.get("machine") or {}
        if machine:
            lines.append(f"  {'machine (' + str(machine.get('cores', '?')) + ' cores)':<24}"
                         f"{machine.get('busy_mean', 0):>8,.0f}%{machine.get('busy_peak', 0):>6,.0f}%   of all cores busy")
    intended = report.metrics.intended
    actions = sorted(key.partition(":")[2] for key in intended if key.startswith("due:"))
    if actions:
        lines.append(f"  {'timer-driven calls':<24}{'calls':>9}   round trip{'p99':>8}{'max':>9}"
                     f"   from due time{'p99':>9}{'max':>9}  (ms)")
        for action in actions:
            since_due = summarize(action, "out", decode_histogram(intended[f"due:{action}"]), {})
            round_trip = summarize(action, "out", decode_histogram(intended.get(f"rtt:{action}", "")), {})
            lines.append(f"  {action:<24}{since_due.count:>9,}{'':>13}{_ms(round_trip.p99_ms):>8}{_ms(round_trip.max_ms):>9}"
                         f"{'':>16}{_ms(since_due.p99_ms):>9}{_ms(since_due.max_ms):>9}")
    for note in report.execution.get("notes", []):
        lines.append(f"  note: {note}")
    for warning in report.execution.get("warnings", []):
        lines.append(f"  ⚠ {warning}")
    return lines


def _csms_fault_lines(faults: dict[str, Any]) -> list[str]:
    """The built-in CSMS's faults: its restarts (with the time until the fleet was back)
    and the boots it refused."""
    lines = []
    for restart in faults.get("csms_restarts", []):
        when = f"CSMS restart at {restart.get('at_s', 0):,.1f} s"
        if restart.get("by") == "control":
            when += " (control API)"
        if "skipped" in restart:
            lines.append(f"  {when}: skipped ({restart['skipped']})")
            continue
        down = f"down {restart.get('downtime_s', 0):g} s"
        before = restart.get("online_before")
        if restart.get("fleet_back_after_s") is not None:
            back = f"fleet back after {restart['fleet_back_after_s']:,.2f} s ({before:,} stations)"
        elif before is None:
            back = "recovery not timed (the station count was unknown)"
        else:
            back = f"fleet not back by the end ({before:,} stations online before, lowest {restart.get('lowest_online')})"
        lines.append(f"  {when}, {down}, {back}")
    refusals = faults.get("boot_refusals")
    if refusals:
        per_status = ", ".join(f"{status} to {n:,} stations ({refusals.get('answers', {}).get(status, 0):,} answers)"
                               for status, n in refusals.get("stations", {}).items())
        lines.append(f"  boots refused by the CSMS: {per_status}; accepted later {refusals.get('accepted_later', 0):,}")
    return lines


def _action_table(metrics: MetricsSnapshot) -> list[str]:
    """One row per action and direction, an Aggregated row of the fleet's calls, latencies in ms."""
    elapsed = max(metrics.ended_at - metrics.started_at, 1e-9)
    lines = [f"  {'action':<34}{'calls':>9}{'calls/s':>9}{'p50':>8}{'p90':>8}{'p99':>8}{'p99.9':>8}{'max':>8}  errors"]
    total = new_histogram()
    total_errors: dict[str, int] = {}
    for stats in metrics.action_stats():
        name = stats.action if stats.direction == "out" else f"{stats.action} (in)"
        errors = ", ".join(f"{code} {n}" for code, n in sorted(stats.errors.items())) or "-"
        if stats.direction == "out":
            total.add(metrics.histogram(f"out:{stats.action}"))
            for code, n in stats.errors.items():
                total_errors[code] = total_errors.get(code, 0) + n
        lines.append(
            f"  {name:<34}{stats.count:>9,}{stats.count / elapsed:>9,.1f}{_ms(stats.p50_ms):>8}{_ms(stats.p90_ms):>8}"
            f"{_ms(stats.p99_ms):>8}{_ms(stats.p999_ms):>8}{_ms(stats.max_ms):>8}  {errors}"
        )
    agg = summarize("Aggregated", "out", total, total_errors)
    errors = ", ".join(f"{code} {n}" for code, n in sorted(agg.errors.items())) or "-"
    lines.append(
        f"  {'Aggregated':<34}{agg.count:>9,}{agg.count / elapsed:>9,.1f}{_ms(agg.p50_ms):>8}{_ms(agg.p90_ms):>8}"
        f"{_ms(agg.p99_ms):>8}{_ms(agg.p999_ms):>8}{_ms(agg.max_ms):>8}  {errors}"
    )
    lines.append("  (latencies in ms)")
    lines.append("")
    return lines


def _version_table(metrics: MetricsSnapshot) -> list[str]:
    """Stations and calls per OCPP version: only for a fleet of more than one version (a
    fleet of one has its figures in the tables above)."""
    versions = metrics.version_stats()
    if len(versions) < 2:
        return []
    lines = ["OCPP VERSIONS (stations: spawned / accepted by the CSMS at least once; calls the stations made)",
             f"  {'version':<10}{'stations':>10}{'online':>9}{'calls':>10}{'p50':>8}{'p99':>8}{'max':>8}"
             f"{'errors':>8}  error codes"]
    for v in versions:
        codes = ", ".join(f"{code} {n}" for code, n in sorted(v.error_codes.items()))
        if v.violations:
            codes = ", ".join(filter(None, (codes, f"violations received {v.violations}")))
        lines.append(f"  {v.version:<10}{v.stations:>10,}{v.online:>9,}{v.calls:>10,}{_ms(v.p50_ms):>8}"
                     f"{_ms(v.p99_ms):>8}{_ms(v.max_ms):>8}{v.errors:>8,}  {codes or '-'}")
    lines.append("  (latencies in ms)")
    lines.append("")
    return lines
