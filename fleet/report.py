"""The report of a load run: JSON for machines (``--report``), a table for people.

The JSON keeps the encoded HDR histograms, so reports of shards run on several
machines merge exactly (``fleet report merge``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from .metrics import ActionStats, MetricsSnapshot, decode_histogram, new_histogram, summarize
from .thresholds import ThresholdResult

__all__ = ["Report", "load_report", "merge_reports", "render_summary", "write_report"]


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

    def with_derived(self) -> Report:
        """This report with ``actions`` recomputed from the histograms."""
        return msgspec.structs.replace(self, actions=self.metrics.action_stats())


def write_report(report: Report, path: str | Path) -> None:
    """Write the report as indented JSON."""
    Path(path).write_bytes(msgspec.json.format(msgspec.json.encode(report.with_derived()), indent=2) + b"\n")


def load_report(path: str | Path) -> Report:
    """Read a report written by :func:`write_report`."""
    try:
        return msgspec.json.decode(Path(path).read_bytes(), type=Report)
    except (OSError, msgspec.DecodeError) as exc:
        raise ValueError(f"{path}: not a fleet report: {exc}") from None


def merge_reports(reports: list[Report]) -> Report:
    """The exact merge of several shard reports (histograms added, counts summed)."""
    if not reports:
        raise ValueError("nothing to merge")
    metrics = reports[0].metrics
    stations: dict[str, int] = dict(reports[0].stations)
    for other in reports[1:]:
        metrics = metrics.merge(other.metrics)
        for state, n in other.stations.items():
            stations[state] = stations.get(state, 0) + n
    fleet = dict(reports[0].fleet)
    fleet["merged_from"] = len(reports)
    fleet["stations"] = sum(int(r.fleet.get("stations", 0)) for r in reports)
    audit: dict[str, Any] = {}
    for key in ("checked_transactions", "missing_events", "duplicated_events", "energy_mismatches"):
        values = [r.audit.get(key) for r in reports if key in r.audit]
        if values:
            audit[key] = sum(int(v) for v in values if v is not None)
    return Report(fleet=fleet, metrics=metrics, stations=stations, audit=audit).with_derived()


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def render_summary(report: Report) -> str:
    """The end-of-run summary: thresholds first (✓/✗), then OCPP, CONNECTIONS and EXECUTION."""
    lines: list[str] = []
    if report.thresholds:
        lines.append("THRESHOLDS")
        for t in report.thresholds:
            lines.append(f"  {'✓' if t.ok else '✗'} {t.expression:<32} actual {t.actual:,.3f}")
        lines.append("")
    metrics = report.metrics
    elapsed = max(metrics.ended_at - metrics.started_at, 1e-9)
    lines.append("OCPP, whole run (round trip of the calls the fleet made; calls the CSMS made marked 'in')")
    lines.extend(_action_table(metrics))
    if report.steady is not None:
        window = max(report.steady.ended_at - report.steady.started_at, 0.0)
        lines.append(f"OCPP, steady state ({window:,.0f} s from the settle time after the ramp until the stop)")
        lines.extend(_action_table(report.steady))
    lines.append("CONNECTIONS")
    counters = metrics.counters
    for name in ("connects", "disconnects", "reconnects", "violations"):
        lines.append(f"  {name:<20}{counters.get(name, 0):>10,}")
    flood = {name[6:]: n for name, n in sorted(counters.items()) if name.startswith("flood_") and n}
    if flood:  # the built-in CSMS's flood policy acted (see fleet csms)
        lines.append(f"  {'floods (CSMS)':<20}" + ", ".join(f"{name} {n:,}" for name, n in flood.items()))
    failures = ", ".join(f"{k}: {v}" for k, v in sorted(metrics.handshake_failures.items())) or "none"
    lines.append(f"  {'handshake failures':<20}{failures:>10}")
    if metrics.boot_histogram:
        boot = summarize("boot", "", decode_histogram(metrics.boot_histogram), {})
        lines.append(f"  {'boot time':<20}p50 {_ms(boot.p50_ms)} ms, p99 {_ms(boot.p99_ms)} ms, max {_ms(boot.max_ms)} ms ({boot.count:,} booted)")
    lines.append("")
    lines.append("EXECUTION")
    fleet = report.fleet
    lines.append(f"  {'stations':<20}{fleet.get('stations', 0):>10,}   by state: "
                 + (", ".join(f"{k} {v:,}" for k, v in sorted(report.stations.items())) or "-"))
    lines.append(f"  {'duration':<20}{elapsed:>10,.1f} s")
    if report.resources:
        total_rss = report.resources.get("total_rss", 0)
        lines.append(f"  {'peak RSS':<20}{total_rss / 2**20:>10,.0f} MiB (all processes)")
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
