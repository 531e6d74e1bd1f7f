"""Pass/fail expressions on a run's metrics, for CI gates (``--threshold``).

Grammar: ``[steady.][vNN.|Action.]metric[.cause] op value[unit]``, e.g. ``p99<200ms``,
``BootNotification.p99<1s``, ``errors==0``, ``reconnects<10``, ``steady.p99<50ms``,
``connect_failures==0``, ``connect_failures.http_401==0``, ``v16.errors==0``, ``v201.p99<200ms``.

Thresholds are checked against the whole run; with the ``steady.`` prefix, against
the steady-state window only (from a settle time after the ramp until the stop).

- latency metrics (``p50 p90 p95 p99 p99.9 max mean``) are round-trip times of the
  CALLs the fleet made, over all actions or over one action; units ``us``, ``ms``
  (default) or ``s``;
- counts: ``count`` (answered calls), ``errors`` (failed calls and violations),
  ``timeouts``, ``connects``, ``disconnects``, ``reconnects``, ``violations``,
  ``connect_failures`` (failed connection attempts; ``connect_failures.<cause>`` for one
  cause: ``refused``, ``timeout``, ``tls``, ``http`` (any HTTP refusal), ``http_401``,
  ``http_404``, ... ``subprotocol``, ``closed``, ``dns``, ``network``, ``partition``,
  ``aborted``, ``other``), ``handshake_failures`` (the handshakes the CSMS refused: HTTP
  refusals and no subprotocol agreed), ``lost`` (events missing in the audit), ``rate``
  (answered calls per second), ``error_rate`` (failed / all calls, in ``%``).

A version scope (``v16`` for OCPP 1.6, ``v201`` for 2.0.1, ``v21`` for 2.1) measures the
stations of that version only: the latency metrics, ``count``, ``errors``, ``timeouts``,
``rate``, ``error_rate`` and ``violations`` of their calls, and two counts of stations,
``stations`` (spawned) and ``online`` (accepted by the CSMS at least once), which also
work without a scope (all versions).

A threshold never passes without data: one on an action that made no call, on calls when
there were none, on a steady-state window the run did not have, or on ``lost`` without an
audit (it needs the built-in CSMS), or on a version no station of the run spoke fails,
and its ``reason`` says why. ``count`` and the
connection counts are measured as they are (0 is a count).

A bad expression is refused when parsed, before anything starts: a bad form, an unknown
metric or cause, or an action that no OCPP version fleet speaks has (see
:data:`KNOWN_ACTIONS`).

Fleet's own load (see :mod:`fleet.run.execution`): ``fleet.[role.]metric op value[unit]``,
e.g. ``fleet.loop_lag.p99<50ms``, ``fleet.cpu<90%``, ``fleet.schedule_lag.p99<1s``,
``fleet.stations.loop_lag.max<500ms``; the role (``stations``, ``csms``,
``supervisor``) defaults to the worst of them. Metrics: ``cpu`` (the busiest
process's mean over the run, % of one core), ``cpu_peak`` (its busiest second),
``loop_lag.pNN`` / ``loop_lag.max`` and ``schedule_lag.pNN`` / ``schedule_lag.max``
(how late timer-driven sends and the ramp's connects went out).

A bad expression is refused when parsed, before anything starts.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable
from typing import Any, Final

import msgspec
from hdrh.histogram import HdrHistogram

from ..metrics import MetricsSnapshot, VersionFigures, decode_histogram
from ..ocpp import PROTOCOLS, VERSIONS

__all__ = [
    "KNOWN_ACTIONS",
    "Threshold",
    "ThresholdError",
    "ThresholdResult",
    "evaluate",
    "measured_text",
    "parse_threshold",
]

_PATTERN: Final = re.compile(
    r"^\s*(?P<steady>steady\.)?(?:(?P<version>v\d+)\.)?(?:(?P<scope>[A-Z][A-Za-z0-9]*)\.)?"
    r"(?P<metric>p\d+(?:\.\d+)?|[a-z_]+)(?:\.(?P<cause>[a-z0-9_]+))?\s*"
    r"(?P<op><=|>=|==|!=|<|>)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>us|ms|s|%)?\s*$"
)
_OPS: Final[dict[str, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_LATENCY: Final = {"max", "mean"}
_COUNTS: Final = {
    "count",
    "errors",
    "timeouts",
    "connects",
    "disconnects",
    "reconnects",
    "violations",
    "connect_failures",
    "handshake_failures",
    "lost",
    "rate",
    "error_rate",
    "stations",
    "online",
}
#: Metrics measured from the fleet's calls: without a call they have nothing to say.
_CALL_METRICS: Final = {"errors", "timeouts", "rate", "error_rate"}
#: Metrics an action scope applies to (the others count connections or the audit).
_SCOPED: Final = {"count", "errors", "timeouts", "rate", "error_rate"}
#: Metrics a version scope applies to.
_VERSION_SCOPED: Final = _SCOPED | {"violations", "stations", "online"}
#: Counted over the whole run only (the steady-state window records calls and failed attempts).
_WHOLE_RUN_ONLY: Final = {"connects", "disconnects", "reconnects", "lost", "stations", "online"}
#: A version scope (``v16``) -> the OCPP version it names (``"1.6"``).
VERSION_SCOPES: Final[dict[str, str]] = {"v" + name.replace(".", ""): name for name in PROTOCOLS}
#: The causes of ``connect_failures.<cause>`` besides ``http_<status>`` (fleet.net.transport).
_CAUSES: Final = {
    "refused", "timeout", "tls", "http", "subprotocol", "closed", "dns", "network", "partition", "aborted", "other",
}
#: OCPP version -> the actions it has: an action scope must name one of them.
KNOWN_ACTIONS: Final[dict[str, frozenset[str]]] = {v.name: frozenset(v.actions) for v in VERSIONS.values()}
_TO_MS: Final = {"us": 0.001, "ms": 1.0, "s": 1000.0, None: 1.0}
_FLEET_PATTERN: Final = re.compile(
    r"^\s*fleet\.(?:(?P<role>stations|csms|supervisor)\.)?"
    r"(?P<metric>cpu|cpu_peak|(?:loop_lag|schedule_lag)\.(?:p\d+(?:\.\d+)?|max))\s*"
    r"(?P<op><=|>=|==|!=|<|>)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>us|ms|s|%)?\s*$"
)


class ThresholdError(ValueError):
    """An expression that is not a valid threshold."""


class Threshold(msgspec.Struct, frozen=True):
    """A parsed threshold.

    Attributes:
        expression: the text as given.
        steady: checked against the steady-state window instead of the whole run.
        action: the action it is scoped to, or ``None`` for all.
        version: the OCPP version it is scoped to (``"1.6"``), or ``None`` for all.
        metric: the metric name (``p99``, ``errors``, ...).
        op: the comparison.
        value: the bound, in milliseconds for latencies.
        cause: for ``connect_failures.<cause>``, the cause.
    """

    expression: str
    action: str | None
    metric: str
    op: str
    value: float
    steady: bool = False
    cause: str | None = None
    version: str | None = None

    @property
    def unit(self) -> str:
        """The unit of the measured value (and of ``value``): ``ms`` for latencies and lags,
        ``%`` for shares, ``calls/s`` for the rate, ``""`` for counts."""
        metric = self.metric
        if metric in ("fleet.cpu", "fleet.cpu_peak", "error_rate"):
            return "%"
        if metric.startswith("fleet.") or metric in _LATENCY or re.fullmatch(r"p\d+(?:\.\d+)?", metric):
            return "ms"
        return "calls/s" if metric == "rate" else ""


class ThresholdResult(msgspec.Struct, frozen=True):
    """A threshold checked against a run: ``ok``, the measured ``actual`` value, and
    ``reason`` when it could not be measured (no data for its action or window; ``actual``
    is then ``None``, ``null`` in JSON, and the threshold failed)."""

    expression: str
    ok: bool
    actual: float | None
    reason: str = ""


def parse_threshold(expression: str) -> Threshold:
    """Parse one expression; raises :class:`ThresholdError` naming what is wrong."""
    if expression.strip().startswith("fleet."):
        return _parse_fleet(expression)
    match = _PATTERN.match(expression)
    if match is None:
        raise ThresholdError(
            f"threshold {expression!r}: expected '[steady.][vNN.|Action.]metric op value[unit]', e.g. 'p99<200ms', "
            "'errors==0' or 'v16.errors==0'"
        )
    metric, unit, scope, cause = match["metric"], match["unit"], match["scope"], match["cause"]
    is_latency = metric in _LATENCY or re.fullmatch(r"p\d+(?:\.\d+)?", metric) is not None
    if not is_latency and metric not in _COUNTS:
        known = ", ".join(sorted(_COUNTS | _LATENCY | {"p50", "p90", "p95", "p99", "p99.9"}))
        raise ThresholdError(f"threshold {expression!r}: unknown metric {metric!r} (known: {known})")
    version = _check_version(expression, match["version"], scope, metric, is_latency)
    if scope is not None:
        _check_action(expression, scope)
        if not is_latency and metric not in _SCOPED:
            raise ThresholdError(f"threshold {expression!r}: {metric} is counted for the whole fleet, not per action; "
                                 f"write {metric}{match['op']}{match['value']}")
    if cause is not None:
        if metric != "connect_failures":
            raise ThresholdError(f"threshold {expression!r}: only connect_failures takes a cause "
                                 f"(e.g. connect_failures.http_401==0)")
        if cause not in _CAUSES and re.fullmatch(r"http_[1-5]\d\d", cause) is None:
            raise ThresholdError(f"threshold {expression!r}: unknown cause {cause!r} (known: "
                                 f"{', '.join(sorted(_CAUSES))}, http_<status> such as http_401)")
    if match["steady"] and metric in _WHOLE_RUN_ONLY:
        raise ThresholdError(f"threshold {expression!r}: {metric} is counted over the whole run only, "
                             f"not in the steady-state window")
    if is_latency:
        if unit == "%":
            raise ThresholdError(f"threshold {expression!r}: a latency takes us, ms or s, not %")
        percentile = float(metric[1:]) if metric.startswith("p") else 0.0
        if metric.startswith("p") and not 0 < percentile <= 100:
            raise ThresholdError(f"threshold {expression!r}: percentile must be in (0, 100]")
        value = float(match["value"]) * _TO_MS[unit]
    else:
        if unit not in (None, "%") or (unit == "%" and metric != "error_rate"):
            raise ThresholdError(f"threshold {expression!r}: {metric} takes no unit")
        value = float(match["value"])
    return Threshold(expression.strip(), scope, metric, match["op"], value, steady=bool(match["steady"]), cause=cause,
                     version=version)


def measured_text(expression: str, actual: float) -> str:
    """``actual`` with the unit of the threshold ``expression`` (``20.7 ms``, ``12``, ``0.50 %``,
    ``310.2 calls/s``); a number alone if the expression no longer parses."""
    try:
        unit = parse_threshold(expression).unit
    except ThresholdError:
        return f"{actual:,.3f}"
    if unit == "ms":
        return f"{actual:,.2f} ms" if actual < 1 else f"{actual:,.1f} ms"
    if unit == "%":
        return f"{actual:,.2f} %"
    if unit == "calls/s":
        return f"{actual:,.1f} calls/s"
    return f"{actual:,.0f}" if actual == int(actual) else f"{actual:,.3f}"


def _check_version(expression: str, scope: str | None, action: str | None, metric: str, is_latency: bool) -> str | None:
    """The OCPP version a ``vNN.`` scope names (``None`` without one); refuse an unknown
    version, a version with an action, and a metric not kept per version."""
    if scope is None:
        return None
    version = VERSION_SCOPES.get(scope)
    if version is None:
        known = ", ".join(f"{s} (OCPP {v})" for s, v in VERSION_SCOPES.items())
        raise ThresholdError(f"threshold {expression!r}: unknown OCPP version {scope!r} (known: {known})")
    if action is not None:
        raise ThresholdError(f"threshold {expression!r}: per-action figures are not kept per version; write "
                             f"{action}.{metric}... or {scope}.{metric}...")
    if not is_latency and metric not in _VERSION_SCOPED:
        raise ThresholdError(f"threshold {expression!r}: {metric} is counted for the whole fleet, not per version")
    return version


def _check_action(expression: str, action: str) -> None:
    """Refuse an action no known OCPP version has (a typo would otherwise measure nothing)."""
    known = set().union(*KNOWN_ACTIONS.values())
    if action in known:
        return
    close = difflib.get_close_matches(action, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    versions = ", ".join(f"OCPP {name}" for name in KNOWN_ACTIONS)
    raise ThresholdError(f"threshold {expression!r}: {action} is not an action of {versions}{hint}")


def _parse_fleet(expression: str) -> Threshold:
    """A threshold on fleet's own load: ``fleet.[role.]metric op value[unit]``.

    The role, if any, is kept as the threshold's ``action``; the metric is the whole
    ``fleet.`` name (``fleet.cpu``, ``fleet.loop_lag.p99``, ...)."""
    match = _FLEET_PATTERN.match(expression)
    if match is None:
        raise ThresholdError(
            f"threshold {expression!r}: expected 'fleet.[stations.|csms.|supervisor.]metric op value', metric one of "
            "cpu, cpu_peak (in %), loop_lag.p99, loop_lag.max, schedule_lag.p99, ... (in us, ms or s), "
            "e.g. 'fleet.loop_lag.p99<50ms' or 'fleet.cpu<90%'"
        )
    metric, unit = match["metric"], match["unit"]
    if metric.startswith("cpu"):
        if unit not in (None, "%"):
            raise ThresholdError(f"threshold {expression!r}: {metric} is a share of one core, in %")
        value = float(match["value"])
    else:
        if unit == "%":
            raise ThresholdError(f"threshold {expression!r}: a lag takes us, ms or s, not %")
        which = metric.partition(".")[2]
        if which != "max" and not 0 < float(which[1:]) <= 100:
            raise ThresholdError(f"threshold {expression!r}: percentile must be in (0, 100]")
        value = float(match["value"]) * _TO_MS[unit]
    return Threshold(expression.strip(), match["role"], "fleet." + metric, match["op"], value)


def _measure_fleet(threshold: Threshold, execution: dict[str, Any] | None) -> float | None:
    """The worst (or the named role's) figure of a ``fleet.`` threshold; ``None`` without figures."""
    roles: dict[str, Any] = (execution or {}).get("roles", {})
    if threshold.action is not None:
        roles = {threshold.action: roles[threshold.action]} if threshold.action in roles else {}
    metric = threshold.metric.removeprefix("fleet.")
    values: list[float] = []
    for figures in roles.values():
        if metric in ("cpu", "cpu_peak"):
            values.append(float(figures.get("cpu_mean" if metric == "cpu" else "cpu_peak", 0.0)))
            continue
        kind, _, which = metric.partition(".")
        encoded = figures.get(kind, "")
        if not encoded:
            continue
        histogram = decode_histogram(encoded)
        micros = histogram.get_max_value() if which == "max" else histogram.get_value_at_percentile(float(which[1:]))
        values.append(float(micros) / 1000.0)
    return max(values) if values else None


def _measure(threshold: Threshold, metrics: MetricsSnapshot, lost: int | None, where: str) -> tuple[float, str]:
    # (not measured: NaN here, with the reason; the result says None)
    """The measured value, and why it could not be measured (``""`` when it could)."""
    metric = threshold.metric
    scope = threshold.action
    if metric == "lost":
        if lost is None:
            return math.nan, "no audit in this run (it needs the built-in CSMS)"
        return float(lost), ""
    if metric == "connect_failures":
        causes = metrics.connect_failures
        if threshold.cause is None:
            return float(sum(causes.values())), ""
        if threshold.cause == "http":
            return float(sum(n for c, n in causes.items() if c.startswith("http_"))), ""
        return float(causes.get(threshold.cause, 0)), ""
    if metric == "handshake_failures":
        return float(sum(metrics.handshake_failures.values())), ""
    if threshold.version is not None:
        return _measure_version(threshold, metrics.versions.get(threshold.version), metrics, where)
    if metric in ("stations", "online"):
        return float(sum(f.stations if metric == "stations" else f.online for f in metrics.versions.values())), ""
    if metric in ("connects", "disconnects", "reconnects", "violations"):
        return float(metrics.counters.get(metric, 0)), ""
    if scope:
        answered = metrics.histogram(f"out:{scope}").get_total_count()
        failed_by_code = metrics.errors.get(f"out:{scope}", {})
    else:
        answered = metrics.total_histogram("out").get_total_count()
        failed_by_code = {}
        for key, codes in metrics.errors.items():
            if key.startswith("out:"):
                for code, n in codes.items():
                    failed_by_code[code] = failed_by_code.get(code, 0) + n
    failed = sum(failed_by_code.values())
    calls = f"{scope} calls" if scope else "calls"
    if metric in _LATENCY or metric.startswith("p"):
        if answered == 0:
            if failed:
                return math.nan, f"no {scope + ' ' if scope else ''}call answered {where} ({failed:,} failed)"
            return math.nan, f"no {calls} {where}"
        return _latency_ms(metric, metrics.histogram(f"out:{scope}") if scope else metrics.total_histogram("out"))
    if metric in _CALL_METRICS and answered + failed == 0:
        return math.nan, f"no {calls} {where}"
    if metric == "count":
        return float(answered), ""
    if metric == "rate":
        elapsed = max(metrics.ended_at - metrics.started_at, 1e-9)
        return float(answered) / elapsed, ""
    if metric == "errors":
        return float(failed + (0 if scope else metrics.counters.get("violations", 0))), ""
    if metric == "error_rate":
        return 100.0 * failed / (answered + failed), ""
    return float(failed_by_code.get("Timeout", 0)), ""  # timeouts


def _latency_ms(metric: str, histogram: HdrHistogram) -> tuple[float, str]:
    """A latency metric (``max``, ``mean``, ``pNN``) of ``histogram``, in ms."""
    if metric == "max":
        return float(histogram.get_max_value()) / 1000.0, ""
    if metric == "mean":
        return float(histogram.get_mean_value()) / 1000.0, ""
    return float(histogram.get_value_at_percentile(float(metric[1:]))) / 1000.0, ""


def _measure_version(threshold: Threshold, figures: VersionFigures | None, metrics: MetricsSnapshot,
                     where: str) -> tuple[float, str]:
    """A ``vNN.`` threshold measured on its version's figures (see :func:`_measure`)."""
    metric, name = threshold.metric, f"OCPP {threshold.version}"
    if figures is None:
        return math.nan, f"no {name} station {where}"
    if metric == "stations":
        return float(figures.stations), ""
    if metric == "online":
        return float(figures.online), ""
    if metric == "violations":
        return float(figures.violations), ""
    histogram = decode_histogram(figures.histogram)
    answered = histogram.get_total_count()
    failed = sum(figures.errors.values())
    if metric in _LATENCY or metric.startswith("p"):
        if answered == 0:
            return math.nan, f"no {name} call answered {where}" + (f" ({failed:,} failed)" if failed else "")
        return _latency_ms(metric, histogram)
    if metric in _CALL_METRICS and answered + failed == 0:
        return math.nan, f"no {name} calls {where}"
    if metric == "count":
        return float(answered), ""
    if metric == "rate":
        return float(answered) / max(metrics.ended_at - metrics.started_at, 1e-9), ""
    if metric == "errors":
        return float(failed + figures.violations), ""
    if metric == "error_rate":
        return 100.0 * failed / (answered + failed), ""
    return float(figures.errors.get("Timeout", 0)), ""  # timeouts


def evaluate(
    thresholds: list[Threshold],
    metrics: MetricsSnapshot,
    *,
    lost: int | None = 0,
    steady: MetricsSnapshot | None = None,
    settle: float | None = None,
    execution: dict[str, Any] | None = None,
) -> list[ThresholdResult]:
    """Check each threshold against a run's metrics (``steady.`` ones against ``steady``,
    ``fleet.`` ones against ``execution``, the report's figures of fleet's own load).

    ``lost`` is ``None`` when the run had no audit; ``settle`` (seconds after the ramp until
    the steady-state window opens) only words the reason when there was no such window.
    A threshold that cannot be measured fails with ``actual`` ``None`` and a ``reason``.
    """
    results = []
    for threshold in thresholds:
        if threshold.metric.startswith("fleet."):
            results.append(_evaluate_fleet(threshold, execution))
            continue
        if threshold.steady and steady is None:
            when = f" ({settle:g} s after the ramp)" if settle is not None else ""
            results.append(ThresholdResult(threshold.expression, False, None,
                                           f"the run ended before its steady-state window opened{when}"))
            continue
        where = "in the steady-state window" if threshold.steady else "in this run"
        actual, reason = _measure(threshold, steady if threshold.steady and steady is not None else metrics, lost, where)
        ok = not reason and _OPS[threshold.op](actual, threshold.value)
        results.append(ThresholdResult(threshold.expression, ok, None if reason else actual, reason))
    return results


def _evaluate_fleet(threshold: Threshold, execution: dict[str, Any] | None) -> ThresholdResult:
    actual = _measure_fleet(threshold, execution)
    if actual is None:
        where = f"the {threshold.action} processes" if threshold.action else "fleet's processes"
        return ThresholdResult(threshold.expression, False, None,
                               reason=f"no figures of {where} for {threshold.metric}")
    return ThresholdResult(threshold.expression, _OPS[threshold.op](actual, threshold.value), actual)
