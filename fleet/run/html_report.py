"""The report of a run as one HTML page (``fleet report html``, ``fleet run --html``).

The page is self-contained: the charting library (plotly.js, from the ``plotly``
package) and the figures are inlined, so it opens without a network. It shows the
verdict first (thresholds, problems), then the timeline's charts (throughput, latency
percentiles per action, errors, stations by state, connections, fleet's own load), the
per-action table, connections, execution, faults and audit, and the text summary.

Everything taken from the report is escaped: text through :func:`html.escape`, the
charts' data as JSON whose ``<``, ``>`` and ``&`` are written as ``\\u003c`` ... so
nothing in a station id or an error reason can close the script that holds it.
"""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from ..metrics import ActionStats, MetricsSnapshot, decode_histogram, summarize
from .report import Report, render_summary
from .thresholds import measured_text
from .timeline import SKETCH_ERROR, Timeline, TimelinePoint, add_sketches, sketch_count, sketch_percentiles

__all__ = ["chart_figures", "render_html", "write_html"]

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d232b; background: #f5f6f8; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 2px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #5b6572; margin: 0 0 12px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
.verdict { font-size: 18px; font-weight: 600; padding: 10px 14px; border-radius: 6px; margin: 8px 0 12px; }
.pass { background: #e3f4e8; color: #17652f; } .fail { background: #fbe4e4; color: #9b1c1c; }
.none { background: #eceff3; color: #3a4450; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #eceff3; vertical-align: top; }
th { font-weight: 600; color: #3a4450; background: #f8f9fb; }
td.n, th.n { text-align: right; }
.ok { color: #17652f; font-weight: 700; } .bad { color: #9b1c1c; font-weight: 700; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 12px; }
.chart { height: 320px; background: #fff; border: 1px solid #dde1e6; border-radius: 6px; }
.note { color: #5b6572; } .warn { color: #8a5300; }
pre { background: #f8f9fb; padding: 10px; overflow-x: auto; font-size: 12px; }
"""

_CONFIG = {"displaylogo": False, "responsive": True}

_START = """
const figures = JSON.parse(document.getElementById("fleet-figures").textContent);
for (const figure of figures) {
  Plotly.newPlot(figure.id, figure.data, figure.layout, figure.config);
}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _json_for_script(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``<``, ``>`` or ``&`` in it)."""
    text = msgspec.json.encode(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _script_text(code: str) -> str:
    """Code for a ``<script>`` element: a ``</script`` inside it would end the element early."""
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


# ------------------------------------------------------------------ the charts


def _times(points: list[TimelinePoint]) -> list[str]:
    return [datetime.datetime.fromtimestamp(p.at, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S") for p in points]


def _label(key: str) -> str:
    direction, _, action = key.partition(":")
    return action if direction == "out" else f"{action} (in)"


def _layout(title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        "margin": {"l": 56, "r": 12, "t": 36, "b": 36},
        "xaxis": {"type": "date", "title": {"text": "time (UTC)"}},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        "legend": {"font": {"size": 11}},
        "hovermode": "x unified",
    }
    layout.update(extra)
    return layout


def _line(name: str, x: list[str], y: Iterable[float | None], **extra: Any) -> dict[str, Any]:
    return {"type": "scatter", "mode": "lines+markers", "name": name, "x": x, "y": list(y), "marker": {"size": 4},
            **extra}


def chart_figures(timeline: Timeline, *, stations: int = 0,
                  steady: tuple[float, float] | None = None) -> list[dict[str, Any]]:
    """The timeline's charts, as plotly figures (``id``, ``data``, ``layout``, ``config``).

    Args:
        stations: the fleet's size: the stations not counted in a point are shown as not
            started (the ramp).
        steady: the steady-state window (wall-clock start and end), shaded on every chart.
    """
    points = timeline.points
    x = _times(points)
    seconds = [max(p.seconds, 1e-9) for p in points]
    keys = sorted({key for p in points for key in p.calls}, key=lambda k: (not k.startswith("out:"), k))
    out_keys = [k for k in keys if k.startswith("out:")]
    totals = [_sum_sketches(p.calls.get(k, "") for k in out_keys) for p in points]
    figures: list[dict[str, Any]] = []

    throughput = [_line(_label(k), x, [sketch_count(p.calls.get(k, "")) / s for p, s in zip(points, seconds, strict=True)])
                  for k in keys]
    throughput.insert(0, _line("all calls by the fleet", x, [sketch_count(t) / s for t, s in zip(totals, seconds, strict=True)],
                               line={"width": 3, "color": "#1d232b"}))
    figures.append(_figure("chart-throughput", throughput, _layout("Throughput: answered calls per second", "calls/s")))

    for name, percentile in (("p50", 50.0), ("p99", 99.0)):
        traces = [_line("all calls by the fleet", x, [_percentile(t, percentile) for t in totals],
                        line={"width": 3, "color": "#1d232b"})]
        traces += [_line(_label(k), x, [_percentile(p.calls.get(k, ""), percentile) for p in points]) for k in keys]
        figures.append(_figure(f"chart-latency-{name}", traces,
                               _layout(f"Round trip {name} per action (ms, within {SKETCH_ERROR:.1%})", "ms")))

    codes = sorted({code for p in points for code in p.errors})
    errors: list[dict[str, Any]] = [
        {"type": "bar", "name": code, "x": x, "y": [p.errors.get(code, 0) / s for p, s in zip(points, seconds, strict=True)]}
        for code in codes]
    errors.insert(0, _line("all errors", x, [sum(p.errors.values()) / s for p, s in zip(points, seconds, strict=True)],
                           line={"width": 2, "color": "#9b1c1c"}))
    figures.append(_figure("chart-errors", errors, _layout(
        "Failed calls per second, by error code" + ("" if codes else " (none)"), "errors/s", barmode="stack")))

    states = sorted({state for p in points for state in p.states})
    stacked: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "stackgroup": "states", "name": state, "x": x,
         "y": [p.states.get(state, 0) for p in points]} for state in states]
    waiting = [max(0, stations - sum(p.states.values())) if p.states else 0 for p in points]
    if any(waiting):
        stacked.append({"type": "scatter", "mode": "lines", "stackgroup": "states", "name": "not started", "x": x,
                        "y": waiting, "line": {"color": "#c3c8cf"}})
    figures.append(_figure("chart-stations", stacked, _layout("Stations by state", "stations")))

    connections = [{"type": "bar", "name": "connects", "x": x, "y": [p.connects for p in points]},
                   {"type": "bar", "name": "disconnects", "x": x, "y": [p.disconnects for p in points]}]
    figures.append(_figure("chart-connections", connections, _layout("Connections opened and lost per interval",
                                                                     f"per {timeline.interval:g} s", barmode="group")))

    roles = [r for r in ("stations", "csms", "supervisor") if any(r in p.execution for p in points)]
    cpu = [_line(f"{role} (busiest process)", x, [p.execution[role].cpu_max if role in p.execution else None
                                                 for p in points]) for role in roles]
    figures.append(_figure("chart-cpu", cpu, _layout("Fleet's own CPU per role", "% of one core")))
    lag = [_line(f"{role} p99", x, [_percentile(p.execution[role].lag, 99.0) if role in p.execution else None
                                    for p in points]) for role in roles]
    figures.append(_figure("chart-lag", lag, _layout("Fleet's own event-loop lag per role (p99)", "ms")))
    if steady is not None:
        window = _times([TimelinePoint(at=steady[0]), TimelinePoint(at=steady[1])])
        for figure in figures:
            figure["layout"]["shapes"] = [{"type": "rect", "xref": "x", "yref": "paper", "x0": window[0], "x1": window[1],
                                           "y0": 0, "y1": 1, "fillcolor": "#2e8b57", "opacity": 0.07, "line": {"width": 0},
                                           "layer": "below"}]
    return figures


def _figure(chart_id: str, data: list[dict[str, Any]], layout: dict[str, Any]) -> dict[str, Any]:
    return {"id": chart_id, "data": data, "layout": layout, "config": _CONFIG}


def _sum_sketches(sketches: Iterable[str]) -> str:
    total = ""
    for sketch in sketches:
        total = add_sketches(total, sketch)
    return total


def _percentile(sketch: str, percentile: float) -> float | None:
    """A percentile in ms, or ``None`` (a gap in the line) when the interval had no value."""
    return sketch_percentiles(sketch, [percentile])[0] if sketch else None


# ------------------------------------------------------------------ the page


def render_html(report: Report) -> str:
    """The whole page."""
    fleet = report.fleet
    title = f"fleet run report: {fleet.get('source', '')}"
    steady = (report.steady.started_at, report.steady.ended_at) if report.steady is not None else None
    figures = chart_figures(report.timeline, stations=int(report.fleet.get("stations") or 0), steady=steady) \
        if report.timeline is not None and report.timeline.points else []
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_STYLE}</style>",
        f"<script>{_script_text(_plotly_js())}</script>",
        "</head><body><main>",
        "<h1>fleet run report</h1>",
        f'<p class="meta">{_e(_meta(report))}</p>',
        _verdict_section(report),
        _timeline_section(report, figures),
        _actions_section(report),
        _connections_section(report),
        _execution_section(report),
        _faults_section(report),
        _audit_section(report),
        "<section><details><summary>The summary as <code>fleet report show</code> prints it</summary>"
        f"<pre>{_e(render_summary(report))}</pre></details></section>",
        "</main>",
        f'<script type="application/json" id="fleet-figures">{_json_for_script(figures)}</script>',
        f"<script>{_START}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_html(report: Report, path: str | Path) -> None:
    """Write :func:`render_html` of ``report`` to ``path``."""
    Path(path).write_text(render_html(report), encoding="utf-8")


def _meta(report: Report) -> str:
    fleet, metrics = report.fleet, report.metrics
    when = ""
    if metrics.started_at:
        start = datetime.datetime.fromtimestamp(metrics.started_at, datetime.UTC)
        when = f"started {start:%Y-%m-%d %H:%M:%S} UTC, "
    elapsed = max(metrics.ended_at - metrics.started_at, 0.0)
    shards = f", merged from {fleet['merged_from']} reports" if fleet.get("merged_from") else ""
    return (f"{fleet.get('source', '?')}: {int(fleet.get('stations') or 0):,} stations, {when}{elapsed:,.1f} s; "
            f"run {fleet.get('run_id', '-')}{shards}")


def _verdict_section(report: Report) -> str:
    failed = [t for t in report.thresholds if not t.ok]
    if report.problems:
        verdict, css = "FAILED: the run could not be carried out as asked", "fail"
    elif failed:
        verdict, css = f"FAILED: {len(failed)} of {len(report.thresholds)} thresholds not met", "fail"
    elif report.thresholds:
        verdict, css = f"PASSED: all {len(report.thresholds)} thresholds met", "pass"
    else:
        verdict, css = "No thresholds were given", "none"
    out = ['<section id="verdict"><h2>Verdict</h2>', f'<div class="verdict {css}">{_e(verdict)}</div>']
    if report.interrupted:
        out.append('<p class="warn">Interrupted (Ctrl-C or SIGTERM): the figures cover the time until the stop.</p>')
    if report.thresholds:
        rows = []
        for t in report.thresholds:
            measured = t.reason if t.reason or t.actual is None else measured_text(t.expression, t.actual)
            mark = '<span class="ok">✓</span>' if t.ok else '<span class="bad">✗</span>'
            rows.append(f"<tr><td>{mark}</td><td><code>{_e(t.expression)}</code></td><td>{_e(measured)}</td></tr>")
        out.append(_table(["", "threshold", "measured"], rows))
    if report.problems:
        out.append("<h3>Problems</h3><ul>" + "".join(f'<li class="bad">{_e(p)}</li>' for p in report.problems) + "</ul>")
    out.append("</section>")
    return "\n".join(out)


def _timeline_section(report: Report, figures: list[dict[str, Any]]) -> str:
    if not figures:
        why = report.fleet.get("timeline") or "this report has no timeline (written by a fleet without one)"
        return f'<section id="timeline"><h2>Over time</h2><p class="note">{_e(why)}</p></section>'
    assert report.timeline is not None
    divs = "".join(f'<div class="chart" id="{_e(f["id"])}"></div>' for f in figures)
    shaded = " The shaded span is the steady state (the window of the steady-state table)." if report.steady else ""
    return (f'<section id="timeline"><h2>Over time</h2><p class="note">One point per {report.timeline.interval:g} s '
            f'(wall clock, UTC); latency percentiles of a point are within {SKETCH_ERROR:.1%}.{shaded}</p>'
            f'<div class="charts">{divs}</div></section>')


def _table(header: list[str], rows: list[str], numeric_from: int = 99) -> str:
    cells = "".join(f'<th class="n">{_e(h)}</th>' if i >= numeric_from else f"<th>{_e(h)}</th>"
                    for i, h in enumerate(header))
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _action_rows(metrics: MetricsSnapshot) -> list[str]:
    elapsed = max(metrics.ended_at - metrics.started_at, 1e-9)
    rows = []
    for stats in metrics.action_stats():
        rows.append(_action_row(stats, elapsed))
    total = metrics.total_histogram("out")
    errors: dict[str, int] = {}
    for stats in metrics.action_stats():
        if stats.direction == "out":
            for code, n in stats.errors.items():
                errors[code] = errors.get(code, 0) + n
    rows.append(_action_row(summarize("Aggregated", "out", total, errors), elapsed, strong=True))
    return rows


def _action_row(stats: ActionStats, elapsed: float, strong: bool = False) -> str:
    name = stats.action if stats.direction == "out" else f"{stats.action} (in)"
    errors = ", ".join(f"{code} {n:,}" for code, n in sorted(stats.errors.items())) or "-"
    figures = [f"{stats.count:,}", f"{stats.count / elapsed:,.1f}", _ms(stats.p50_ms), _ms(stats.p90_ms),
               _ms(stats.p99_ms), _ms(stats.p999_ms), _ms(stats.max_ms)]
    label = f"<strong>{_e(name)}</strong>" if strong else _e(name)
    return (f"<tr><td>{label}</td>" + "".join(f'<td class="n">{_e(v)}</td>' for v in figures)
            + f"<td>{_e(errors)}</td></tr>")


_ACTION_HEADER = ["action", "calls", "calls/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "errors"]


def _actions_section(report: Report) -> str:
    out = ['<section id="actions"><h2>Calls per action</h2>',
           "<p class=\"note\">Whole run: round trip of the calls the fleet made; calls the CSMS made marked (in).</p>",
           _table(_ACTION_HEADER, _action_rows(report.metrics), numeric_from=1)]
    if report.steady is not None:
        window = max(report.steady.ended_at - report.steady.started_at, 0.0)
        out.append(f'<h3>Steady state</h3><p class="note">{window:,.0f} s from the settle time after the ramp until the stop.</p>')
        out.append(_table(_ACTION_HEADER, _action_rows(report.steady), numeric_from=1))
    out.append("</section>")
    return "\n".join(out)


def _connections_section(report: Report) -> str:
    metrics = report.metrics
    counters = metrics.counters
    rows = [f'<tr><td>{name}</td><td class="n">{counters.get(name, 0):,}</td><td></td></tr>'
            for name in ("connects", "disconnects", "reconnects", "violations")]
    causes = metrics.connect_failures
    total = sum(causes.values()) or counters.get("connect_failures", 0)
    detail = ", ".join(f"{cause} {n:,}" for cause, n in sorted(causes.items(), key=lambda item: (-item[1], item[0])))
    rows.append(f'<tr><td>connect failures</td><td class="n">{total:,}</td><td>{_e(detail)}</td></tr>')
    refused = ", ".join(f"{k} {v:,}" for k, v in sorted(metrics.handshake_failures.items()))
    rows.append(f'<tr><td>handshakes refused</td><td class="n">{sum(metrics.handshake_failures.values()):,}</td>'
                f"<td>{_e(refused)}</td></tr>")
    never = report.fleet.get("never_online") or {}
    if never:
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(never.get("reasons", {}).items()))
        ids = "; ".join(f"{reason}: {', '.join(str(i) for i in listed)}" for reason, listed in never.get("ids", {}).items())
        rows.append(f'<tr><td>never online</td><td class="n">{int(never.get("stations", 0)):,}</td>'
                    f"<td>{_e(reasons)}{'<br>' + _e(ids) if ids else ''}</td></tr>")
    if metrics.boot_histogram:
        boot = summarize("boot", "", decode_histogram(metrics.boot_histogram), {})
        rows.append(f'<tr><td>boot time</td><td class="n">{boot.count:,}</td><td>p50 {_ms(boot.p50_ms)} ms, '
                    f"p99 {_ms(boot.p99_ms)} ms, max {_ms(boot.max_ms)} ms</td></tr>")
    states = ", ".join(f"{k} {v:,}" for k, v in sorted(report.stations.items())) or "-"
    rows.append(f'<tr><td>stations at the stop</td><td class="n">{int(report.fleet.get("stations") or 0):,}</td>'
                f"<td>{_e(states)}</td></tr>")
    return '<section id="connections"><h2>Connections</h2>' + _table(["", "count", ""], rows, 1) + "</section>"


_ROLE_LABELS = {"stations": "station workers", "csms": "CSMS workers", "supervisor": "supervisor"}


def _execution_section(report: Report) -> str:
    execution = report.execution
    roles = execution.get("roles", {})
    out = ['<section id="execution"><h2>Execution: fleet itself</h2>']
    if roles:
        rows = []
        for role, label in _ROLE_LABELS.items():
            figures = roles.get(role)
            if not figures:
                continue
            values = [figures.get("processes", 1), f"{figures.get('cpu_mean', 0):,.0f} %", f"{figures.get('cpu_peak', 0):,.0f} %",
                      _ms(figures.get("loop_lag_p50_ms", 0)), _ms(figures.get("loop_lag_p99_ms", 0)),
                      _ms(figures.get("loop_lag_max_ms", 0)),
                      _ms(figures["schedule_lag_p99_ms"]) if "schedule_lag_p99_ms" in figures else "-"]
            rows.append(f"<tr><td>{_e(label)}</td>" + "".join(f'<td class="n">{_e(v)}</td>' for v in values) + "</tr>")
        out.append(_table(["role", "processes", "CPU mean", "CPU peak", "loop lag p50 ms", "loop lag p99 ms",
                           "loop lag max ms", "schedule lag p99 ms"], rows, 1))
    machine = execution.get("machine") or {}
    if machine:
        out.append(f'<p>Machine ({_e(machine.get("cores", "?"))} cores): {machine.get("busy_mean", 0):,.0f} % busy '
                   f'on average, {machine.get("busy_peak", 0):,.0f} % at peak.</p>')
    if report.resources:
        out.append(f'<p>Peak memory: {report.resources.get("total_rss", 0) / 2**20:,.0f} MiB (all processes).</p>')
    out += [f'<p class="note">note: {_e(n)}</p>' for n in execution.get("notes", [])]
    out += [f'<p class="warn">⚠ {_e(w)}</p>' for w in execution.get("warnings", [])]
    out.append("</section>")
    return "\n".join(out)


def _faults_section(report: Report) -> str:
    if not report.faults:
        return ""
    text = msgspec.json.format(msgspec.json.encode(report.faults), indent=2).decode()
    return f'<section id="faults"><h2>Faults</h2><pre>{_e(text)}</pre></section>'


def _audit_section(report: Report) -> str:
    audit = report.audit
    if not audit:
        return ('<section id="audit"><h2>Audit</h2><p class="note">No audit: it needs the built-in CSMS '
                "(what every station sent against what the CSMS recorded).</p></section>")
    ok = not audit.get("missing_events") and not audit.get("duplicated_events") and not audit.get("energy_mismatches")
    mark = '<span class="ok">✓</span>' if ok else '<span class="bad">✗</span>'
    rows = [f'<tr><td>{_e(name)}</td><td class="n">{int(audit.get(key, 0) or 0):,}</td></tr>'
            for name, key in (("transactions checked", "checked_transactions"), ("missing events", "missing_events"),
                              ("duplicated events", "duplicated_events"), ("energy mismatches", "energy_mismatches"))]
    return (f'<section id="audit"><h2>Audit {mark}</h2><p class="note">What every station sent against what the '
            f"CSMS recorded.</p>{_table(['', 'count'], rows, 1)}</section>")
