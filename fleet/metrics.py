"""Load-run metrics: round-trip latency per action and direction, counts and errors.

One :class:`Metrics` per process collects everything its stations see (it is the
``observer`` of their connections). Latencies go into HDR histograms (microsecond
resolution, 3 significant digits, up to 10 minutes), which merge exactly: a
worker ships its histograms encoded (:meth:`Metrics.export`) and the supervisor
adds them up (:meth:`MetricsSnapshot.merge`), so fleet-wide percentiles are the
percentiles of all samples, not an average of per-worker percentiles.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import msgspec
from hdrh.histogram import HdrHistogram

from .ocpp import CallFailure, CallTimeout

__all__ = [
    "ActionStats",
    "Metrics",
    "MetricsSnapshot",
    "VersionCounts",
    "VersionFigures",
    "VersionObserver",
    "VersionStats",
    "decode_histogram",
    "encode_histogram",
    "new_histogram",
    "summarize",
]

LOWEST_US = 1
HIGHEST_US = 600_000_000
SIGNIFICANT_DIGITS = 3
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


def new_histogram() -> HdrHistogram:
    """An empty latency histogram (values in microseconds)."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


class ActionStats(msgspec.Struct, frozen=True):
    """Latency summary of one action in one direction.

    Attributes:
        action: the OCPP action.
        direction: ``"out"`` for CALLs the fleet made and the peer answered,
            ``"in"`` for CALLs the peer made.
        count: answered calls.
        p50_ms, p90_ms, p95_ms, p99_ms, p999_ms, max_ms, mean_ms: round-trip latency.
        errors: failed calls by CALLERROR code (timeouts under ``"Timeout"``).
    """

    action: str
    direction: str
    count: int
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    errors: dict[str, int] = {}


def summarize(action: str, direction: str, histogram: HdrHistogram, errors: dict[str, int], *,
              mean: bool = True) -> ActionStats:
    """The :class:`ActionStats` of one histogram; ``mean=False`` leaves ``mean_ms`` 0 (hdrh computes a mean
    by walking every bucket in Python: most of the cost of a once-a-second summary for a live view)."""
    if histogram.get_total_count() == 0:
        return ActionStats(action, direction, 0, 0, 0, 0, 0, 0, 0, 0, dict(errors))
    values = histogram.get_percentile_to_value_dict(list(PERCENTILES))
    p50, p90, p95, p99, p999 = (values[p] / 1000.0 for p in PERCENTILES)
    return ActionStats(
        action,
        direction,
        histogram.get_total_count(),
        p50_ms=p50,
        p90_ms=p90,
        p95_ms=p95,
        p99_ms=p99,
        p999_ms=p999,
        max_ms=histogram.get_max_value() / 1000.0,
        mean_ms=round(histogram.get_mean_value() / 1000.0, 3) if mean else 0.0,
        errors=dict(errors),
    )


class VersionFigures(msgspec.Struct):
    """One OCPP version's part of a run: its stations and their calls (mergeable).

    Attributes:
        stations: stations speaking it, as last counted (at the end of a run: all of them).
        online: of those, the ones the CSMS accepted at least once.
        histogram: encoded round trips of their answered calls (microseconds).
        errors: their failed calls by CALLERROR code (``Timeout`` for timeouts).
        violations: invalid frames they received.
        calls_in: calls the CSMS made to them that they answered.
    """

    stations: int = 0
    online: int = 0
    histogram: str = ""
    errors: dict[str, int] = {}
    violations: int = 0
    calls_in: int = 0

    def merge(self, other: VersionFigures) -> VersionFigures:
        """Both added up (the stations of two workers or shards are different stations)."""
        return VersionFigures(
            stations=self.stations + other.stations,
            online=self.online + other.online,
            histogram=_add_encoded(self.histogram, other.histogram),
            errors=dict(Counter(self.errors) + Counter(other.errors)),
            violations=self.violations + other.violations,
            calls_in=self.calls_in + other.calls_in,
        )


class VersionStats(msgspec.Struct, frozen=True):
    """The summary of one OCPP version's figures (derived from :class:`VersionFigures`).

    Attributes:
        version: the OCPP version (``"1.6"``, ``"2.0.1"``, ``"2.1"``).
        stations, online: its stations, and those accepted by the CSMS at least once.
        calls: its stations' calls that were answered; ``failed``: that failed.
        errors: failed calls plus violations received; ``error_codes``: failed calls by code.
        violations: invalid frames its stations received.
        calls_in: calls the CSMS made to its stations that they answered.
        p50_ms, p99_ms, max_ms, mean_ms: round trips of the answered calls.
    """

    version: str
    stations: int
    online: int
    calls: int
    failed: int
    errors: int
    violations: int
    calls_in: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    error_codes: dict[str, int] = {}


def version_stats(version: str, figures: VersionFigures) -> VersionStats:
    """The :class:`VersionStats` of one version's figures."""
    histogram = decode_histogram(figures.histogram)
    answered = histogram.get_total_count()
    failed = sum(figures.errors.values())
    p50 = p99 = 0.0
    if answered:
        values = histogram.get_percentile_to_value_dict([50.0, 99.0])
        p50, p99 = values[50.0] / 1000.0, values[99.0] / 1000.0
    return VersionStats(
        version, figures.stations, figures.online, answered, failed, failed + figures.violations, figures.violations,
        figures.calls_in, p50, p99, histogram.get_max_value() / 1000.0 if answered else 0.0,
        round(histogram.get_mean_value() / 1000.0, 3) if answered else 0.0, dict(figures.errors),
    )


class MetricsSnapshot(msgspec.Struct):
    """Everything a process measured, in a form that merges exactly and travels as JSON.

    Attributes:
        started_at, ended_at: wall-clock bounds of the measurement (seconds since the epoch).
        histograms: ``"<direction>:<action>"`` -> HDR histogram, encoded (base64, compressed).
        errors: ``"<direction>:<action>"`` -> CALLERROR code -> count.
        counters: connects, disconnects, reconnects, violations, ... -> count.
        handshake_failures: handshakes the CSMS refused: HTTP status (as text; ``"subprotocol"``
            when no OCPP subprotocol was agreed) -> count (a subset of ``connect_failures``).
        connect_failures: failed connection attempts by cause (``refused``, ``timeout``,
            ``tls``, ``http_401``, ... see :func:`fleet.net.transport.connect_failure_cause`) -> count.
        boot_histogram: encoded histogram of connect-to-Accepted times (microseconds).
        last_boot_at: wall-clock time of the last station's first Accepted boot (0: none):
            with every station booted, when the fleet was all online.
        schedule_histogram: encoded histogram of how late timer-driven sends (heartbeats,
            meter values, transaction events) and the ramp's connects went out versus when
            they were due (microseconds).
        intended: ``"due:<action>"`` -> encoded histogram of the time from when a
            timer-driven call was due to its answer (schedule lag plus round trip: what
            coordinated omission hides from the round trip alone), and ``"rtt:<action>"``
            -> the round trip of the same calls.
        versions: OCPP version (``"1.6"``) -> its stations and their calls (see
            :class:`VersionFigures`; empty in reports made before fleet counted by version).
    """

    started_at: float = 0.0
    ended_at: float = 0.0
    histograms: dict[str, str] = {}
    errors: dict[str, dict[str, int]] = {}
    counters: dict[str, int] = {}
    handshake_failures: dict[str, int] = {}
    boot_histogram: str = ""
    last_boot_at: float = 0.0
    connect_failures: dict[str, int] = {}
    schedule_histogram: str = ""
    intended: dict[str, str] = {}
    versions: dict[str, VersionFigures] = {}

    def merge(self, other: MetricsSnapshot) -> MetricsSnapshot:
        """The exact union of two snapshots (histograms added, counters summed)."""
        histograms = dict(self.histograms)
        for key, encoded in other.histograms.items():
            histograms[key] = _add_encoded(histograms.get(key, ""), encoded)
        errors = {k: dict(v) for k, v in self.errors.items()}
        for key, codes in other.errors.items():
            target = errors.setdefault(key, {})
            for code, n in codes.items():
                target[code] = target.get(code, 0) + n
        starts = [t for t in (self.started_at, other.started_at) if t]
        return MetricsSnapshot(
            started_at=min(starts) if starts else 0.0,
            ended_at=max(self.ended_at, other.ended_at),
            histograms=histograms,
            errors=errors,
            counters=dict(Counter(self.counters) + Counter(other.counters)),
            handshake_failures=dict(Counter(self.handshake_failures) + Counter(other.handshake_failures)),
            boot_histogram=_add_encoded(self.boot_histogram, other.boot_histogram),
            last_boot_at=max(self.last_boot_at, other.last_boot_at),
            connect_failures=dict(Counter(self.connect_failures) + Counter(other.connect_failures)),
            schedule_histogram=_add_encoded(self.schedule_histogram, other.schedule_histogram),
            intended=_merge_encoded(self.intended, other.intended),
            versions=_merge_versions(self.versions, other.versions),
        )

    def histogram(self, key: str) -> HdrHistogram:
        """The decoded histogram for ``"<direction>:<action>"`` (empty if none)."""
        return decode_histogram(self.histograms.get(key, ""))

    def total_histogram(self, direction: str = "out") -> HdrHistogram:
        """All actions of a direction in one histogram."""
        total = new_histogram()
        for key, encoded in self.histograms.items():
            if key.startswith(direction + ":"):
                total.add(decode_histogram(encoded))
        return total

    def action_stats(self, *, mean: bool = True) -> list[ActionStats]:
        """One :class:`ActionStats` per action and direction, sorted by direction then action
        (``mean=False``: without the mean, for the live views that show none)."""
        keys = sorted(set(self.histograms) | set(self.errors))
        out = []
        for key in keys:
            direction, _, action = key.partition(":")
            out.append(summarize(action, direction, self.histogram(key), self.errors.get(key, {}), mean=mean))
        return out

    def version_stats(self) -> list[VersionStats]:
        """One :class:`VersionStats` per OCPP version, oldest version first."""
        return [version_stats(name, self.versions[name]) for name in sorted(self.versions, key=_version_key)]

    def error_count(self) -> int:
        """Failed calls of every kind, plus protocol violations received."""
        return sum(sum(codes.values()) for codes in self.errors.values()) + self.counters.get("violations", 0)


def decode_histogram(encoded: str) -> HdrHistogram:
    """A histogram from its encoded form (empty for ``""``)."""
    histogram = new_histogram()
    if encoded:
        histogram.decode_and_add(encoded)
    return histogram


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in name.split("."))


def _merge_versions(a: dict[str, VersionFigures], b: dict[str, VersionFigures]) -> dict[str, VersionFigures]:
    merged = dict(a)
    for name, figures in b.items():
        mine = merged.get(name)
        merged[name] = figures if mine is None else mine.merge(figures)
    return merged


def _merge_encoded(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    merged = dict(a)
    for key, encoded in b.items():
        merged[key] = _add_encoded(merged.get(key, ""), encoded)
    return merged


def _add_encoded(a: str, b: str) -> str:
    if not a:
        return b
    if not b:
        return a
    histogram = decode_histogram(a)
    histogram.decode_and_add(b)
    return encode_histogram(histogram)


class VersionCounts:
    """The running figures of one OCPP version's stations in a :class:`Metrics`."""

    __slots__ = ("calls_in", "errors", "histogram", "steady", "violations")

    def __init__(self) -> None:
        self.histogram = new_histogram()
        self.errors: Counter[str] = Counter()
        self.violations = 0
        self.calls_in = 0
        #: the same version's counts in the steady-state window, while it is open
        self.steady: VersionCounts | None = None

    def completed(self, outgoing: bool, latency: float) -> None:
        if outgoing:
            self.histogram.record_value(max(int(latency * 1_000_000), LOWEST_US))
        else:
            self.calls_in += 1
        if self.steady is not None:
            self.steady.completed(outgoing, latency)

    def failed(self, error: CallFailure) -> None:
        self.errors["Timeout" if isinstance(error, CallTimeout) else str(error.code)] += 1
        if self.steady is not None:
            self.steady.failed(error)

    def violation(self) -> None:
        self.violations += 1
        if self.steady is not None:
            self.steady.violation()

    def figures(self, stations: int = 0, online: int = 0) -> VersionFigures:
        histogram = encode_histogram(self.histogram) if self.histogram.get_total_count() else ""
        return VersionFigures(stations, online, histogram, dict(self.errors), self.violations, self.calls_in)


class VersionObserver:
    """The observer of the connections of stations that speak one OCPP version: counts
    everything in the process's :class:`Metrics` and in that version's figures (the
    version is picked once, by :meth:`Metrics.for_version`, not looked up per message)."""

    __slots__ = ("counts", "metrics")

    def __init__(self, metrics: Metrics, counts: VersionCounts) -> None:
        self.metrics = metrics
        self.counts = counts

    def call_completed(self, action: str, outgoing: bool, latency: float) -> None:
        self.metrics.call_completed(action, outgoing, latency)
        counts = self.counts  # (VersionCounts.completed inlined: this runs for every answered call)
        if outgoing:
            micros = int(latency * 1_000_000)
            counts.histogram.record_value(micros if micros > LOWEST_US else LOWEST_US)
        else:
            counts.calls_in += 1
        if counts.steady is not None:
            counts.steady.completed(outgoing, latency)

    def call_failed(self, action: str, error: CallFailure) -> None:
        self.metrics.call_failed(action, error)
        self.counts.failed(error)

    def violation(self, code: str) -> None:
        self.metrics.violation(code)
        self.counts.violation()


class Metrics:
    """The collector of one process; pass it as ``observer`` to connections.

    Recording a latency costs one dictionary look-up and one histogram update. A station
    counts by OCPP version through :meth:`for_version` (one more histogram update).
    """

    def __init__(self, *, recent: bool = True) -> None:
        self.started_at = time.time()
        self._histograms: dict[str, HdrHistogram] = {}
        self._errors: dict[str, Counter[str]] = {}
        self.counters: Counter[str] = Counter()
        self.handshake_failures: Counter[str] = Counter()
        self.connect_failures: Counter[str] = Counter()
        self.boot = new_histogram()
        self.last_boot_at = 0.0
        self.schedule = new_histogram()
        self._intended: dict[str, HdrHistogram] = {}
        # Running totals for live summaries (cheap to read at a few Hz).
        self.completed = 0
        self.failed = 0
        #: While set, every call is also recorded here: the steady-state window of a run.
        self.steady: Metrics | None = None
        #: Our calls since the last :meth:`take_recent` (the live summary's p99); not kept
        #: by the steady-state window, which nobody takes it from.
        self._recent: HdrHistogram | None = new_histogram() if recent else None
        #: OCPP version -> its stations' figures (see :meth:`for_version`)
        self._versions: dict[str, VersionCounts] = {}
        self._version_observers: dict[str, VersionObserver] = {}
        #: OCPP version -> (stations, online), as last counted (:meth:`count_stations`)
        self._stations: dict[str, tuple[int, int]] = {}

    # ConnectionObserver -------------------------------------------------------

    def call_completed(self, action: str, outgoing: bool, latency: float) -> None:
        key = ("out:" if outgoing else "in:") + action
        histogram = self._histograms.get(key)
        if histogram is None:
            histogram = self._histograms[key] = new_histogram()
        micros = max(int(latency * 1_000_000), LOWEST_US)
        histogram.record_value(micros)
        if outgoing and self._recent is not None:
            self._recent.record_value(micros)
        self.completed += 1
        if self.steady is not None:
            self.steady.call_completed(action, outgoing, latency)

    def call_failed(self, action: str, error: CallFailure) -> None:
        key = "out:" + action
        counter = self._errors.get(key)
        if counter is None:
            counter = self._errors[key] = Counter()
        counter["Timeout" if isinstance(error, CallTimeout) else str(error.code)] += 1
        self.failed += 1
        if isinstance(error, CallTimeout):
            self.counters["timeouts"] += 1
        if self.steady is not None:
            self.steady.call_failed(action, error)

    def violation(self, code: str) -> None:
        self.counters["violations"] += 1
        self._errors.setdefault("in:(violation)", Counter())[code] += 1
        if self.steady is not None:
            self.steady.violation(code)

    # By OCPP version -------------------------------------------------------------

    def for_version(self, version: str) -> VersionObserver:
        """The observer for the connections of a station that speaks OCPP ``version``: what
        it counts goes here and into the version's figures too. Ask once per version change,
        not per message."""
        observer = self._version_observers.get(version)
        if observer is None:
            observer = self._version_observers[version] = VersionObserver(self, self._version_counts(version))
        return observer

    def _version_counts(self, version: str) -> VersionCounts:
        counts = self._versions.get(version)
        if counts is None:
            counts = self._versions[version] = VersionCounts()
            if self.steady is not None:
                counts.steady = self.steady._version_counts(version)
        return counts

    def count_stations(self, counts: dict[str, tuple[int, int]]) -> None:
        """The stations now, by OCPP version: ``(stations, online)`` (replaces the last count)."""
        self._stations = dict(counts)

    # The steady-state window ---------------------------------------------------

    def start_steady(self) -> None:
        """From now on, also record every call in a separate window (the run's steady state)."""
        if self.steady is None:
            self.steady = steady = Metrics(recent=False)
            for version, counts in self._versions.items():
                counts.steady = steady._version_counts(version)

    def end_steady(self) -> MetricsSnapshot | None:
        """Close the steady-state window and return what it recorded (``None`` if it never opened)."""
        steady, self.steady = self.steady, None
        for counts in self._versions.values():
            counts.steady = None
        return steady.export() if steady is not None else None

    # Connection lifecycle -----------------------------------------------------

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to a named counter (connects, disconnects, reconnects, ...)."""
        self.counters[name] += n

    def handshake_failed(self, status: int | None) -> None:
        """A connection attempt failed: HTTP ``status``, or ``None`` for a network error."""
        self.handshake_failures[str(status) if status is not None else "other"] += 1

    def connect_failed(self, cause: str) -> None:
        """A station's connection attempt failed, for ``cause`` (``refused``, ``http_401``, ...;
        see :func:`fleet.net.transport.connect_failure_cause`). HTTP refusals and a subprotocol not
        agreed are also counted as handshake failures."""
        self.connect_failures[cause] += 1
        if cause.startswith("http_"):
            self.handshake_failures[cause[5:]] += 1
        elif cause == "subprotocol":
            self.handshake_failures[cause] += 1
        if self.steady is not None:
            self.steady.connect_failed(cause)

    def booted(self, seconds: float) -> None:
        """A station was Accepted ``seconds`` after its connection attempt began (its first
        Accepted boot: the histogram counts the stations booted)."""
        self.boot.record_value(max(LOWEST_US, int(seconds * 1_000_000)))
        self.last_boot_at = time.time()

    # Schedule lag ---------------------------------------------------------------

    def scheduled(self, lateness: float) -> None:
        """A timer-driven send (or a ramp's connect) went out ``lateness`` seconds after it was due."""
        self.schedule.record_value(max(LOWEST_US, int(lateness * 1_000_000)))

    def answered_since_due(self, action: str, since_due: float, round_trip: float) -> None:
        """A timer-driven call was answered ``since_due`` seconds after it was due (schedule
        lag + round trip), ``round_trip`` seconds after it went out."""
        for key, seconds in (("due:" + action, since_due), ("rtt:" + action, round_trip)):
            histogram = self._intended.get(key)
            if histogram is None:
                histogram = self._intended[key] = new_histogram()
            histogram.record_value(max(LOWEST_US, int(seconds * 1_000_000)))

    # Export ---------------------------------------------------------------------

    def export(self) -> MetricsSnapshot:
        """Everything so far, encoded for exact merging."""
        return MetricsSnapshot(
            started_at=self.started_at,
            ended_at=time.time(),
            histograms={k: encode_histogram(h) for k, h in self._histograms.items()},
            errors={k: dict(v) for k, v in self._errors.items()},
            counters=dict(self.counters),
            handshake_failures=dict(self.handshake_failures),
            boot_histogram=encode_histogram(self.boot) if self.boot.get_total_count() else "",
            last_boot_at=self.last_boot_at,
            connect_failures=dict(self.connect_failures),
            schedule_histogram=encode_histogram(self.schedule) if self.schedule.get_total_count() else "",
            intended={k: encode_histogram(h) for k, h in self._intended.items()},
            versions=self._export_versions(),
        )

    def _export_versions(self) -> dict[str, VersionFigures]:
        """Each version with stations or figures (a station that switched versions leaves
        its first version's counts behind, empty ones are left out)."""
        empty = VersionFigures()
        versions = {}
        for name in [*self._versions, *(n for n in self._stations if n not in self._versions)]:
            counts = self._versions.get(name)
            stations, online = self._stations.get(name, (0, 0))
            figures = counts.figures(stations, online) if counts is not None else VersionFigures(stations, online)
            if figures != empty:
                versions[name] = figures
        return versions

    def take_recent(self) -> str:
        """The round trips of our calls since the last call, encoded (``""`` if none), and start anew."""
        recent = self._recent
        if recent is None or not recent.get_total_count():
            return ""
        encoded = encode_histogram(recent)
        recent.reset()
        return encoded

    def live(self) -> dict[str, Any]:
        """Cheap running totals for a status line."""
        return {"completed": self.completed, "failed": self.failed, **self.counters}


def encode_histogram(histogram: HdrHistogram) -> str:
    """The compact text form of a histogram, for JSON and exact merging."""
    encoded = histogram.encode()
    return encoded.decode() if isinstance(encoded, bytes) else str(encoded)
