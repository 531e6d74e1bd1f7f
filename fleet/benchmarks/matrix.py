"""``fleet bench --matrix``: a fixed list of closed-loop cases, printed as the README's table.

fleet and the ``ocpp`` package side by side at 100 and 1,000 stations for Heartbeat
and TransactionEvent, then fleet alone at 5,000 and at 20,000 connected stations
(the scale case: connect+boot time and the peak RSS of every process, stations
and CSMS together). Each case measures for :data:`SECONDS` seconds; the whole matrix
takes about four minutes on two cores. The layout is the default one of
``fleet bench``: a station process per core and one CSMS process (two at 20,000:
a process holds at most 20,000 open files).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from typing import Any

import msgspec
import trio

from ..exit_codes import RUN_FAILED
from .load import BenchError, CaseResult, default_csms_workers, run_case
from .ocpp_peer import missing_requirement

__all__ = ["CASES", "SECONDS", "markdown_table", "run_matrix"]

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
        failure: BaseException | None = None
        try:
            row = trio.run(functools.partial(run_case, implementation, stations, call, seconds,
                                             workers=workers, csms_workers=csms_workers))
        except* BenchError as group:  # (raised inside the case's nursery: in a group)
            failure = group.exceptions[0]
            while isinstance(failure, BaseExceptionGroup) and failure.exceptions:
                failure = failure.exceptions[0]
        if failure is not None:
            print(f"failed: {failure}", flush=True)
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
