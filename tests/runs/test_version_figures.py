"""Figures per OCPP version: counted by the stations' observer, in the report (JSON and text),
in thresholds, in Prometheus, merged across workers and shards."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import msgspec
import pytest
import trio
from waiting import wait_until

from fleet.actors.csms import Csms
from fleet.actors.csms.dialects import DIALECTS
from fleet.actors.station import Station
from fleet.metrics import Metrics, MetricsSnapshot, VersionFigures, VersionObserver
from fleet.net.connection import ConnectionObserver
from fleet.ocpp import CallTimeout
from fleet.profiles import StationProfile
from fleet.run.fleetfile import load_fleet
from fleet.run.prometheus import render_metrics
from fleet.run.report import Report, merge_reports, render_summary
from fleet.run.supervisor import FleetStatus, RunOptions, run_fleet
from fleet.run.thresholds import ThresholdError, evaluate, parse_threshold

REPO = Path(__file__).resolve().parents[2]


def test_version_thresholds_parse_into_a_version_scope_and_refuse_what_is_not_kept_per_version() -> None:
    assert parse_threshold("v16.errors==0").version == "1.6"
    assert parse_threshold("v201.p99<200ms").version == "2.0.1"
    threshold = parse_threshold("steady.v21.p99 < 1s")
    assert (threshold.version, threshold.steady, threshold.value, threshold.action) == ("2.1", True, 1000.0, None)
    assert parse_threshold("stations>=10").version is None
    for bad, said in (("v20.errors==0", "unknown OCPP version 'v20'"),
                      ("v16.StartTransaction.p99<1s", "not kept per version"),
                      ("v16.connects<3", "not per version"),
                      ("steady.v16.stations>0", "whole run only"),
                      ("Heartbeat.online>0", "not per action")):
        with pytest.raises(ThresholdError, match=said):
            parse_threshold(bad)


def _figures(calls_ms: list[float], failures: dict[str, int] | None = None, *, stations: int = 1,
             online: int = 1) -> VersionFigures:
    metrics = Metrics()
    observer = metrics.for_version("x")
    for ms in calls_ms:
        observer.call_completed("Heartbeat", True, ms / 1000)
    figures = metrics.export().versions.get("x", VersionFigures())
    return msgspec.structs.replace(figures, errors=failures or {}, stations=stations, online=online)


def test_a_version_threshold_measures_its_version_and_fails_without_it() -> None:
    metrics = MetricsSnapshot(started_at=0.0, ended_at=10.0, versions={
        "1.6": _figures([5, 5, 5, 900], {"Timeout": 2}, stations=4, online=3),
        "2.0.1": _figures([1, 2, 3], stations=5, online=5),
    })
    checks = ["v16.errors==2", "v16.timeouts==2", "v16.count==4", "v16.p99>500ms", "v201.p99<10ms",
              "v201.errors==0", "v16.stations==4", "v16.online==3", "stations==9", "online==8", "v16.error_rate>30%",
              "v21.errors==0", "v21.stations==0"]
    results = {r.expression: r for r in evaluate([parse_threshold(c) for c in checks], metrics)}
    assert [c for c in checks[:-2] if not results[c].ok] == []
    for absent in ("v21.errors==0", "v21.stations==0"):  # no 2.1 station: nothing to say, so failed
        assert not results[absent].ok and results[absent].actual is None
        assert "no OCPP 2.1 station" in results[absent].reason


def test_the_text_report_shows_versions_only_for_a_fleet_of_several() -> None:
    one = Report(fleet={"stations": 3}, metrics=MetricsSnapshot(versions={"2.0.1": _figures([1, 2], stations=3)}))
    assert "OCPP VERSIONS" not in render_summary(one)
    two = Report(fleet={"stations": 5}, metrics=MetricsSnapshot(versions={
        "2.0.1": _figures([1, 2], stations=3, online=3),
        "1.6": _figures([4], {"FormationViolation": 1}, stations=2, online=1)}))
    text = render_summary(two.with_derived())
    assert "OCPP VERSIONS" in text
    rows = [line.split() for line in text.splitlines() if line.startswith(("  1.6 ", "  2.0.1 "))]
    assert [row[:4] for row in rows] == [["1.6", "2", "1", "1"], ["2.0.1", "3", "3", "2"]]  # oldest first
    assert "FormationViolation 1" in text


def test_the_steady_window_counts_by_version_while_it_is_open() -> None:
    metrics = Metrics()
    sixteen = metrics.for_version("1.6")
    assert metrics.for_version("1.6") is sixteen and isinstance(sixteen, VersionObserver)
    sixteen.call_completed("Heartbeat", True, 0.01)
    metrics.start_steady()
    twenty = metrics.for_version("2.0.1")  # a version first seen inside the window
    sixteen.call_completed("Heartbeat", True, 0.02)
    twenty.call_failed("Heartbeat", CallTimeout())
    sixteen.violation("FormationViolation")
    steady = metrics.end_steady()
    sixteen.call_completed("Heartbeat", True, 0.03)
    assert steady is not None
    window = {v.version: v for v in steady.version_stats()}
    assert (window["1.6"].calls, window["1.6"].violations, window["2.0.1"].failed) == (1, 1, 1)
    whole = {v.version: v for v in metrics.export().version_stats()}
    assert (whole["1.6"].calls, whole["1.6"].errors, whole["2.0.1"].error_codes) == (3, 1, {"Timeout": 1})
    assert metrics.export().histograms.keys() == {"out:Heartbeat"}  # and the process's figures as before
    assert metrics.export().histogram("out:Heartbeat").get_total_count() == 3


class _Counting:
    """An observer that counts by version and how often a station asked for a version's observer."""

    def __init__(self) -> None:
        self.metrics = Metrics()
        self.asked: list[str] = []

    def for_version(self, version: str) -> ConnectionObserver:
        self.asked.append(version)
        return self.metrics.for_version(version)

    def call_completed(self, action: str, outgoing: bool, latency: float) -> None:
        raise AssertionError("a station with a by-version observer counts through it")

    def call_failed(self, action: str, error: object) -> None:
        raise AssertionError("a station with a by-version observer counts through it")

    def violation(self, code: str) -> None:
        raise AssertionError("a station with a by-version observer counts through it")


async def test_a_station_picks_its_versions_observer_once_per_version_it_speaks_not_per_message() -> None:
    """A station offering 2.1 and 2.0.1 to a CSMS that serves 2.0.1 only: its observer for
    2.1 is asked for when it starts, the one for 2.0.1 when the CSMS selects it; every call
    after that is counted under 2.0.1."""
    csms = Csms("127.0.0.1", 0, dialects={"2.0.1": DIALECTS["2.0.1"]})
    observer = _Counting()
    profile = StationProfile(ocpp_version=("2.1", "2.0.1"))
    async with trio.open_nursery() as nursery:
        await nursery.start(csms.run)
        station = Station("CS-VERSIONS", csms.url, profile=profile, observer=observer)  # type: ignore[arg-type]
        await nursery.start(station.run)
        await wait_until(lambda: observer.metrics.completed >= 2, what="boot and status notification answered")
        await station.shutdown(5.0)
        csms.stop()
    figures = observer.metrics.export().versions
    assert observer.asked == ["2.1", "2.0.1"]
    assert list(figures) == ["2.0.1"]  # nothing was counted under 2.1
    assert decode_count(figures["2.0.1"]) == observer.metrics.completed - figures["2.0.1"].calls_in


def decode_count(figures: VersionFigures) -> int:
    from fleet.metrics import decode_histogram

    return int(decode_histogram(figures.histogram).get_total_count())


async def test_a_fleet_of_three_versions_reports_each_versions_stations_and_calls() -> None:
    """The shipped mixed-versions fleet, rescaled, with two workers against the built-in CSMS:
    the report counts each version's stations (spawned and online) and their calls; the
    versions add up to the fleet; thresholds gate per version; Prometheus has a version label;
    two shards merge to the sum."""
    plan = load_fleet(REPO / "profiles" / "mixed-versions.toml").with_overrides(
        stations=24, duration=6, ramp=200, speed=60, speed_protocol=True)
    spawned = Counter(plan.profiles[spec.group].ocpp_versions[0] for spec in plan.stations())
    checks = ["v16.errors==0", "v16.count>0", "v201.stations>0", "v21.online>0", "StartTransaction.count>0",
              "v16.count<1", "v201.p99<0.001ms"]
    report = await run_fleet(plan, RunOptions(workers=2, thresholds=[parse_threshold(c) for c in checks]))
    assert report.fleet["workers_without_final_report"] == []
    versions = {v.version: v for v in report.versions}
    assert {name: v.stations for name, v in versions.items()} == dict(spawned)
    assert set(spawned) == {"1.6", "2.0.1", "2.1"}
    assert all(v.online == v.stations for v in versions.values()), versions
    # every call of the fleet is counted under exactly one version
    total = report.metrics.total_histogram("out").get_total_count()
    assert sum(v.calls for v in versions.values()) == total > 0
    failed = sum(n for key, codes in report.metrics.errors.items() if key.startswith("out:") for n in codes.values())
    assert sum(v.failed for v in versions.values()) == failed
    answered = {s.action: s.count for s in report.actions if s.direction == "out"}
    assert 0 < answered["StartTransaction"] + answered["StopTransaction"] <= versions["1.6"].calls
    assert 0 < answered["TransactionEvent"] <= versions["2.0.1"].calls + versions["2.1"].calls
    verdicts = {t.expression: t.ok for t in report.thresholds}
    assert verdicts == {**{c: True for c in checks[:5]}, "v16.count<1": False, "v201.p99<0.001ms": False}, \
        report.thresholds
    text = render_summary(report)
    assert "OCPP VERSIONS" in text and "StartTransaction" in text
    scrape = render_metrics(FleetStatus(), report.metrics)
    for name, v in versions.items():
        assert f'fleet_version_stations{{version="{name}"}} {v.stations}' in scrape
        assert f'fleet_version_calls_total{{version="{name}"}} {v.calls}' in scrape
    # two shards of a split merge to the sum (the same run twice stands for two shards)
    shards = [msgspec.structs.replace(report, fleet={**report.fleet, "shard": [i, 2]}) for i in range(2)]
    merged = {v.version: v for v in merge_reports(shards).versions}
    for name, v in versions.items():
        assert (merged[name].stations, merged[name].online, merged[name].calls, merged[name].failed) == \
            (2 * v.stations, 2 * v.online, 2 * v.calls, 2 * v.failed)
        assert (merged[name].max_ms, merged[name].mean_ms) == (v.max_ms, v.mean_ms)
