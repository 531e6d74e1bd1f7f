"""``fleet bench --matrix``: a fixed list of closed-loop cases, printed as the README's table.

fleet and the ``ocpp`` package side by side at 100 and 1,000 stations for Heartbeat
and TransactionEvent, then fleet alone at 5,000 and at 20,000 connected stations
(the scale case: connect+boot time and the peak RSS of every process, stations
and CSMS together). Each case measures for :data:`SECONDS` seconds; the whole matrix
takes about four minutes on two cores. The layout is the default one of
``fleet bench``: a station process per core and one CSMS process (two at 20,000:
a process holds at most 20,000 open files).

``fleet bench --versions``: the closed loops of each OCPP version side by side in one run
(:data:`VERSION_CASES`: Heartbeat and MeterValues in 2.0.1, 1.6 and 2.1, fleet and the
``ocpp`` package's module of the same version), printed with the ratios that hold on a
shared machine: fleet ÷ ``ocpp`` per version, and each version ÷ 2.0.1 per implementation.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import trio

from ..exit_codes import RUN_FAILED
from .load import BenchError, CaseResult, default_csms_workers, run_case
from .ocpp_peer import missing_requirement

__all__ = ["CASES", "SECONDS", "VERSION_CASES", "markdown_table", "run_matrix", "run_versions", "versions_table"]

#: Seconds of measurement per case.
SECONDS = 10.0

#: (implementation, stations, call); "peer" is replaced by the peer's name.
CASES: tuple[tuple[str, int, str], ...] = (
    ("fleet", 100, "Heartbeat"),
    ("peer", 100, "Heartbeat"),
    ("fleet", 1000, "Heartbeat"),
    ("peer", 1000, "Heartbeat"),
    ("fleet", 100, "TransactionEvent"),
    ("peer", 100, "TransactionEvent"),
    ("fleet", 1000, "TransactionEvent"),
    ("peer", 1000, "TransactionEvent"),
    ("fleet", 5000, "Heartbeat"),
    ("fleet", 20000, "Heartbeat"),
)

HEADER = ("implementation", "stations", "call", "calls/s", "p50 ms", "p99 ms", "connect+boot s", "total RSS MB")


def _ms(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def markdown_table(rows: list[CaseResult]) -> str:
    """The README table: one line per case; then fleet ÷ ocpp for the cases run by both."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        name = r.implementation if r.implementation == "fleet" else f"`{r.implementation}` package"
        errors = f" ({r.error_count} errors)" if r.error_count else ""
        booted = "" if r.booted == r.stations else f" ({r.booted:,} booted)"
        lines.append(
            f"| {name} | {r.stations:,}{booted} | {r.call} | {r.calls_per_s:,.0f}{errors} | {_ms(r.p50_ms)} | "
            f"{_ms(r.p99_ms)} | {r.connect_boot_s:.2f} | {r.total_rss_mb:,.0f} |"
        )
    scale = [r for r in rows if r.stations >= 5000 and r.booted_rss_mb]
    if scale:
        lines += ["", "Peak RSS of all processes (stations and CSMS) once every station was connected and booted, "
                  "before the closed loop: " + "; ".join(f"{r.stations:,} stations {r.booted_rss_mb:,.0f} MB"
                                                          for r in scale) + "."]
    pairs = _pairs(rows)
    if pairs:
        lines += ["", "| stations | call | fleet ÷ ocpp calls/s | p99 ocpp ÷ fleet | RSS fleet ÷ ocpp |",
                  "|---|---|---|---|---|"]
        for fleet, peer in pairs:
            lines.append(
                f"| {fleet.stations:,} | {fleet.call} | {fleet.calls_per_s / peer.calls_per_s:.1f}x | "
                f"{peer.p99_ms / fleet.p99_ms:.1f}x | {fleet.total_rss_mb / peer.total_rss_mb:.2f} |"
            )
    return "\n".join(lines)


def _pairs(rows: list[CaseResult]) -> list[tuple[CaseResult, CaseResult]]:
    fleet = {(r.stations, r.call): r for r in rows if r.implementation == "fleet"}
    out = []
    for r in rows:
        mine = fleet.get((r.stations, r.call))
        if r.implementation != "fleet" and mine is not None and r.calls_per_s and mine.p99_ms and r.total_rss_mb:
            out.append((mine, r))
    return out


def _run_one(case: Callable[[], Awaitable[CaseResult]]) -> CaseResult | None:
    """Run one case; on a :class:`BenchError` print why and give ``None``."""
    failure: BaseException | None = None
    try:
        return trio.run(case)
    except* BenchError as group:  # (raised inside the case's nursery: in a group)
        failure = group.exceptions[0]
        while isinstance(failure, BaseExceptionGroup) and failure.exceptions:
            failure = failure.exceptions[0]
    print(f"failed: {failure}", flush=True)
    return None


def run_matrix(*, json_path: str | None = None, peer: str = "ocpp", machine: str = "",
               seconds: float = SECONDS) -> int:
    """Run :data:`CASES` (the peer's cases are skipped, with a note, when it is not installed)."""
    workers = os.cpu_count() or 1
    problem = missing_requirement()
    if problem:
        print(f"note: the peer's cases are skipped: {problem}", file=sys.stderr)
    rows: list[CaseResult] = []
    print(f"fleet bench --matrix on {machine}: closed loop, one call in flight per station, "
          f"{seconds:g} s of measurement per case, {workers} station processes", flush=True)
    for implementation, stations, call in CASES:
        if implementation == "peer":
            if problem:
                continue
            implementation = peer
        csms_workers = default_csms_workers(stations)
        print(f"  {implementation:<6} {stations:>6,} stations  {call:<17}", end="", flush=True)
        row = _run_one(functools.partial(run_case, implementation, stations, call, seconds,
                                         workers=workers, csms_workers=csms_workers))
        if row is None:
            return RUN_FAILED
        rows.append(row)
        print(f"{row.calls_per_s:>8,.0f} calls/s  p50 {row.p50_ms:7.1f} ms  p99 {row.p99_ms:7.1f} ms  "
              f"connect+boot {row.connect_boot_s:5.2f} s  RSS {row.total_rss_mb:6,.0f} MB  "
              f"(not ours: {row.ramp_other_cpu_pct:.0f}% of the machine during the ramp, "
              f"{row.other_cpu_pct:.0f}% during the window)"
              + (f"  errors {row.errors}" if row.errors else ""), flush=True)
    print()
    print(markdown_table(rows))
    notes = {r.implementation: r.notes for r in rows if r.notes}
    for name, note in notes.items():
        print(f"\n{name}: {note}")
    if json_path:
        document: dict[str, Any] = {
            "machine": machine, "seconds_per_case": seconds, "workers": workers,
            "rows": [msgspec.to_builtins(r) for r in rows],
            "ratios": [{"stations": f.stations, "call": f.call, "calls_per_s": f.calls_per_s / p.calls_per_s,
                        "p99": p.p99_ms / f.p99_ms, "rss": f.total_rss_mb / p.total_rss_mb}
                       for f, p in _pairs(rows)],
        }
        with open(json_path, "w") as f:
            json.dump(document, f, indent=2)
    return 0 if all(r.booted == r.stations and not r.error_count for r in rows) else 1


#: (call, OCPP version) of ``fleet bench --versions``, each run by fleet and then by the peer.
VERSION_CASES: tuple[tuple[str, str], ...] = tuple(
    (call, version) for call in ("Heartbeat", "MeterValues") for version in ("2.0.1", "1.6", "2.1"))

VERSION_HEADER = ("call", "OCPP", "implementation", "calls/s", "p50 ms", "p99 ms", "CPU µs/call stations",
                  "CPU µs/call CSMS", "connect+boot s", "total RSS MB")


def versions_table(rows: list[CaseResult]) -> str:
    """The versions table, then the ratios within the run: fleet ÷ ``ocpp`` per version and call,
    and each version ÷ 2.0.1 per implementation and call."""
    lines = ["| " + " | ".join(VERSION_HEADER) + " |", "|" + "---|" * len(VERSION_HEADER)]
    for r in rows:
        name = r.implementation if r.implementation == "fleet" else f"`{r.implementation}` package"
        errors = f" ({r.error_count} errors)" if r.error_count else ""
        cpu = r.cpu_us_per_call
        lines.append(f"| {r.call} | {r.ocpp_version} | {name} | {r.calls_per_s:,.0f}{errors} | {_ms(r.p50_ms)} | "
                     f"{_ms(r.p99_ms)} | {cpu.get('stations', 0):,.0f} | {cpu.get('csms', 0):,.0f} | "
                     f"{r.connect_boot_s:.2f} | {r.total_rss_mb:,.0f} |")
    by = {(r.call, r.ocpp_version, r.implementation): r for r in rows}
    ratio_lines = []
    for (call, version, implementation), r in by.items():
        mine = by.get((call, version, "fleet"))
        if implementation != "fleet" and mine is not None:
            ratio_lines.append(_ratio_line(call, version, f"fleet ÷ `{implementation}`", mine, r))
    for (call, version, implementation), r in by.items():
        base = by.get((call, "2.0.1", implementation))
        if version != "2.0.1" and base is not None:
            ratio_lines.append(_ratio_line(call, version, f"{implementation}: {version} ÷ 2.0.1", r, base))
    if ratio_lines:
        lines += ["", "| call | OCPP | ratio | calls/s | p99 | station CPU per call | CSMS CPU per call | total RSS |",
                  "|---|---|---|---|---|---|---|---|", *ratio_lines]
    return "\n".join(lines)


def _ratio_line(call: str, version: str, label: str, this: CaseResult, other: CaseResult) -> str:
    """One row of ratios, ``this`` ÷ ``other``, each figure (``-`` where ``other`` has none)."""
    def ratio(a: float, b: float, suffix: str = "") -> str:
        return f"{a / b:.2f}{suffix}" if b else "-"

    return (f"| {call} | {version} | {label} | {ratio(this.calls_per_s, other.calls_per_s, 'x')} | "
            f"{ratio(this.p99_ms, other.p99_ms)} | "
            f"{ratio(this.cpu_us_per_call.get('stations', 0.0), other.cpu_us_per_call.get('stations', 0.0))} | "
            f"{ratio(this.cpu_us_per_call.get('csms', 0.0), other.cpu_us_per_call.get('csms', 0.0))} | "
            f"{ratio(this.total_rss_mb, other.total_rss_mb)} |")


def run_versions(*, stations: int, seconds: float, json_path: str | None = None, peer: str = "ocpp",
                 machine: str = "", workers: int | None = None) -> int:
    """Run :data:`VERSION_CASES` (the peer's cases skipped, with a note, when it is not installed)."""
    workers = workers or os.cpu_count() or 1
    problem = missing_requirement()
    if problem:
        print(f"note: the peer's cases are skipped: {problem}", file=sys.stderr)
    implementations = ["fleet"] + ([] if problem else [peer])
    rows: list[CaseResult] = []
    print(f"fleet bench --versions on {machine}: {stations:,} stations, closed loop, one call in flight per station, "
          f"{seconds:g} s of measurement per case, {workers} station processes, 1 CSMS process", flush=True)
    for call, version in VERSION_CASES:
        for implementation in implementations:
            print(f"  {call:<12} {version:<6} {implementation:<6}", end="", flush=True)
            row = _run_one(functools.partial(run_case, implementation, stations, call, seconds, workers=workers,
                                             csms_workers=default_csms_workers(stations), version=version))
            if row is None:
                return RUN_FAILED
            rows.append(row)
            print(f"{row.calls_per_s:>8,.0f} calls/s  p50 {row.p50_ms:7.1f} ms  p99 {row.p99_ms:7.1f} ms  "
                  f"CPU µs/call {row.cpu_us_per_call}  RSS {row.total_rss_mb:6,.0f} MB  "
                  f"(not ours: {row.other_cpu_pct:.0f}% of the machine during the window)"
                  + (f"  errors {row.errors}" if row.errors else ""), flush=True)
    print()
    print(versions_table(rows))
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"machine": machine, "seconds_per_case": seconds, "workers": workers, "stations": stations,
                       "rows": [msgspec.to_builtins(r) for r in rows]}, f, indent=2)
    return 0 if all(r.booted == r.stations and not r.error_count for r in rows) else 1
