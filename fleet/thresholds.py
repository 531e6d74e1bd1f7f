"""Pass/fail expressions on a run's metrics, for CI gates (``--threshold``).

Grammar: ``[steady.][Action.]metric op value[unit]``, e.g. ``p99<200ms``,
``BootNotification.p99<1s``, ``errors==0``, ``reconnects<10``, ``steady.p99<50ms``.

Thresholds are checked against the whole run; with the ``steady.`` prefix, against
the steady-state window only (from a settle time after the ramp until the stop), which
a run that ended before it opened does not have (the threshold then fails).

- latency metrics (``p50 p90 p95 p99 p99.9 max mean``) are round-trip times of the
  CALLs the fleet made, over all actions or over one action; units ``us``, ``ms``
  (default) or ``s``;
- counts: ``count`` (answered calls), ``errors`` (failed calls and violations),
  ``timeouts``, ``connects``, ``disconnects``, ``reconnects``, ``violations``,
  ``handshake_failures``, ``lost`` (events missing in the audit), ``rate``
  (answered calls per second), ``error_rate`` (failed / all calls, in ``%``).

Fleet's own load (see :mod:`fleet.execution`): ``fleet.[role.]metric op value[unit]``,
e.g. ``fleet.loop_lag.p99<50ms``, ``fleet.cpu<90%``, ``fleet.schedule_lag.p99<1s``,
``fleet.stations.loop_lag.max<500ms``; the role (``stations``, ``csms``,
``supervisor``) defaults to the worst of them. Metrics: ``cpu`` (the busiest
process's mean over the run, % of one core), ``cpu_peak`` (its busiest second),
``loop_lag.pNN`` / ``loop_lag.max`` and ``schedule_lag.pNN`` / ``schedule_lag.max``
(how late timer-driven sends and the ramp's connects went out).

A bad expression is refused when parsed, before anything starts.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from typing import Any, Final

import msgspec

from .metrics import MetricsSnapshot, decode_histogram

__all__ = ["Threshold", "ThresholdError", "ThresholdResult", "evaluate", "parse_threshold"]

_PATTERN: Final = re.compile(
    r"^\s*(?P<steady>steady\.)?(?:(?P<scope>[A-Z][A-Za-z0-9]*)\.)?(?P<metric>p\d+(?:\.\d+)?|[a-z_]+)\s*"
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
    "handshake_failures",
    "lost",
    "rate",
    "error_rate",
}
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
        metric: the metric name (``p99``, ``errors``, ...).
        op: the comparison.
        value: the bound, in milliseconds for latencies.
    """

    expression: str
    action: str | None
    metric: str
    op: str
    value: float
    steady: bool = False


class ThresholdResult(msgspec.Struct, frozen=True):
    """A threshold checked against a run: ``ok``, the measured ``actual`` value, and
    ``reason`` when it could not be measured (no data for its action or window)."""

    expression: str
    ok: bool
    actual: float
    reason: str = ""


def parse_threshold(expression: str) -> Threshold:
    """Parse one expression; raises :class:`ThresholdError` naming what is wrong."""
    if expression.strip().startswith("fleet."):
        return _parse_fleet(expression)
    match = _PATTERN.match(expression)
    if match is None:
        raise ThresholdError(
            f"threshold {expression!r}: expected '[Action.]metric op value[unit]', e.g. 'p99<200ms' or 'errors==0'"
        )
    metric, unit = match["metric"], match["unit"]
    is_latency = metric in _LATENCY or re.fullmatch(r"p\d+(?:\.\d+)?", metric) is not None
    if not is_latency and metric not in _COUNTS:
        known = ", ".join(sorted(_COUNTS | _LATENCY | {"p50", "p90", "p95", "p99", "p99.9"}))
        raise ThresholdError(f"threshold {expression!r}: unknown metric {metric!r} (known: {known})")
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
    return Threshold(expression.strip(), match["scope"], metric, match["op"], value, steady=bool(match["steady"]))


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


def _measure(threshold: Threshold, metrics: MetricsSnapshot, lost: int) -> float:
    metric = threshold.metric
    scope = threshold.action
    if metric in _LATENCY or metric.startswith("p"):
        histogram = metrics.histogram(f"out:{scope}") if scope else metrics.total_histogram("out")
        if histogram.get_total_count() == 0:
            return 0.0
        if metric == "max":
            return float(histogram.get_max_value()) / 1000.0
        if metric == "mean":
            return float(histogram.get_mean_value()) / 1000.0
        return float(histogram.get_value_at_percentile(float(metric[1:]))) / 1000.0
    if metric in ("count", "rate", "errors", "error_rate", "timeouts") and scope:
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
    if metric == "count":
        return float(answered)
    if metric == "rate":
        elapsed = max(metrics.ended_at - metrics.started_at, 1e-9)
        return float(answered) / elapsed
    if metric == "errors":
        return float(failed + (0 if scope else metrics.counters.get("violations", 0)))
    if metric == "error_rate":
        total = answered + failed
        return 100.0 * failed / total if total else 0.0
    if metric == "timeouts":
        return float(failed_by_code.get("Timeout", 0))
    if metric == "handshake_failures":
        return float(sum(metrics.handshake_failures.values()))
    if metric == "lost":
        return float(lost)
    count: int = metrics.counters.get(metric, 0)
    return float(count)


def evaluate(
    thresholds: list[Threshold], metrics: MetricsSnapshot, *, lost: int = 0, steady: MetricsSnapshot | None = None,
    execution: dict[str, Any] | None = None,
) -> list[ThresholdResult]:
    """Check each threshold against a run's metrics (``steady.`` ones against ``steady``,
    ``fleet.`` ones against ``execution``, the report's figures of fleet's own load)."""
    results = []
    for threshold in thresholds:
        if threshold.metric.startswith("fleet."):
            results.append(_evaluate_fleet(threshold, execution))
            continue
        if threshold.steady and steady is None:
            results.append(ThresholdResult(threshold.expression, False, math.nan))
            continue
        actual = _measure(threshold, steady if threshold.steady and steady is not None else metrics, lost)
        results.append(ThresholdResult(threshold.expression, _OPS[threshold.op](actual, threshold.value), actual))
    return results


def _evaluate_fleet(threshold: Threshold, execution: dict[str, Any] | None) -> ThresholdResult:
    actual = _measure_fleet(threshold, execution)
    if actual is None:
        where = f"the {threshold.action} processes" if threshold.action else "fleet's processes"
        return ThresholdResult(threshold.expression, False, math.nan,
                               reason=f"no figures of {where} for {threshold.metric}")
    return ThresholdResult(threshold.expression, _OPS[threshold.op](actual, threshold.value), actual)
