"""Load runs end to end: worker processes, the built-in CSMS, reports, thresholds, shards, merge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.metrics import new_histogram
from fleet.run.fleetfile import FleetError, load_fleet
from fleet.run.report import load_report, merge_reports, write_report
from fleet.run.supervisor import RunOptions, run_fleet
from fleet.run.thresholds import ThresholdError, evaluate, parse_threshold

REPO = Path(__file__).resolve().parents[2]

PROFILES = Path(__file__).resolve().parents[2] / "profiles"

BUSY_PROFILE = """
name = "busy"
heartbeat_interval = 30
[sampled_data]
tx_updated_interval = 10
[[evses]]
max_power = 22000
[sessions]
start_delay = [0, 5]
idle_time = [5, 20]
session_duration = [30, 90]
plug_in_delay = [1, 2]
plug_out_delay = [1, 2]
authorization_failure_share = 0.1
id_tokens = [{ id_token = "OK-1" }]
invalid_id_tokens = [{ id_token = "BAD-1" }]
"""


def write_fleet(tmp_path: Path, count: int, *, duration: float = 4, speed: float = 20) -> Path:
    (tmp_path / "busy.toml").write_text(BUSY_PROFILE)
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        f"[fleet]\nseed = 7\nramp = 400\nduration = {duration}\nspeed = {speed}\n\n"
        f'[[group]]\nprofile = "busy.toml"\ncount = {count}\nstation_id = "T{{index:04d}}"\n'
    )
    return fleet


async def test_a_few_hundred_stations_with_transactions_match_what_the_csms_recorded(tmp_path: Path) -> None:
    plan = load_fleet(write_fleet(tmp_path, 300))
    thresholds = [parse_threshold("errors==0"), parse_threshold("BootNotification.count>=300"),
                  parse_threshold("p99<0.001ms")]
    live: list[tuple[int, float | None, int]] = []
    report = await run_fleet(plan, RunOptions(workers=2, thresholds=thresholds),
                             on_status=lambda s: live.append((s.recent_calls, s.recent_p99_ms, s.completed)))
    assert report.fleet["stations"] == 300 and report.fleet["workers"] == 2
    # The live summary's p99 covers the calls of the last seconds of both workers (never more than so far).
    assert any(calls > 0 and p99 is not None and p99 > 0 for calls, p99, _ in live), live
    assert all(calls <= completed for calls, _, completed in live), live
    assert report.fleet["workers_without_final_report"] == []
    assert sum(report.stations.values()) == 300
    # Every call the fleet made and got answered is a call the CSMS received, action by action.
    received = report.fleet["csms_received"]
    answered = {s.action: s.count for s in report.actions if s.direction == "out"}
    for action in ("BootNotification", "StatusNotification", "Authorize", "TransactionEvent"):
        assert answered.get(action, 0) > 0, action
        assert answered[action] == received[action], (action, answered[action], received[action])
    # The audit saw every transaction complete and in order.
    assert report.audit["checked_transactions"] > 0
    assert report.audit["ok"], report.audit["problems"]
    verdicts = {t.expression: t.ok for t in report.thresholds}
    assert verdicts == {"errors==0": True, "BootNotification.count>=300": True, "p99<0.001ms": False}


async def test_shard_reports_merge_exactly(tmp_path: Path) -> None:
    plan = load_fleet(write_fleet(tmp_path, 40, duration=2))
    reports = []
    for index in range(2):
        report = await run_fleet(plan, RunOptions(workers=1, shard=(index, 2)))
        path = tmp_path / f"shard-{index}.json"
        write_report(report, path)
        reports.append(load_report(path))
    merged = merge_reports(reports)
    assert merged.fleet["stations"] == 40
    for key in set(reports[0].metrics.histograms) | set(reports[1].metrics.histograms):
        expected = new_histogram()
        for r in reports:
            expected.add(r.metrics.histogram(key))
        got = merged.metrics.histogram(key)
        assert got.get_total_count() == expected.get_total_count()
        for percentile in (50, 90, 99, 99.9, 100):
            assert got.get_value_at_percentile(percentile) == expected.get_value_at_percentile(percentile)
    boots = merged.metrics.histogram("out:BootNotification").get_total_count()
    assert boots >= 40
    # When the last station first booted: within each shard's run, and the later of the two merged.
    for r in reports:
        assert r.metrics.started_at < r.metrics.last_boot_at <= r.metrics.ended_at
    assert merged.metrics.last_boot_at == max(r.metrics.last_boot_at for r in reports)


def test_shards_are_disjoint_and_complete() -> None:
    plan = load_fleet(PROFILES / "mixed-fleet.toml").with_overrides(stations=997)
    ids = [s.station_id for s in plan.stations()]
    parts = [[s.station_id for w in range(3) for s in plan.stations(shard=(i, 4), worker=(w, 3))] for i in range(4)]
    assert sorted(i for part in parts for i in part) == sorted(ids) and len(set(ids)) == 997


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[fleet]\nramp = "fast"\n[[group]]\nprofile = "home-wallbox"\ncount = 1\n', "$.fleet.ramp"),
        ('[fleet]\n[[group]]\nprofile = "home-wallbox"\ncount = -1\n', "$.group[0].count"),
        ('[fleet]\nturbo = true\n[[group]]\nprofile = "home-wallbox"\ncount = 1\n', "turbo"),
        ('[[group]]\nprofile = "no-such-profile"\ncount = 1\n', "$.group[0].profile"),
        ('[fleet]\nstation_id = "CS{nope}"\n[[group]]\nprofile = "home-wallbox"\ncount = 1\n', "$.fleet.station_id"),
        ('[fleet]\ncsms = ["http://x"]\n[[group]]\nprofile = "home-wallbox"\ncount = 1\n', "$.fleet.csms"),
        ("[fleet\n", "not valid TOML"),
    ],
)
def test_bad_fleet_files_name_the_file_and_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(FleetError) as info:
        load_fleet(path)
    assert str(path) in str(info.value) and field in str(info.value)


def test_bad_profile_in_a_fleet_names_the_profile_file(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("[[evses]]\nmax_power = -5\n")
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('[[group]]\nprofile = "broken.toml"\ncount = 1\n')
    with pytest.raises(FleetError) as info:
        load_fleet(fleet)
    assert "broken.toml" in str(info.value) and "max_power" in str(info.value)


@pytest.mark.parametrize("text", ["p99<<3ms", "p101<1s", "latency<5ms", "p99<5%", "errors==0ms", "Boot.p99"])
def test_bad_thresholds_are_refused(text: str) -> None:
    with pytest.raises(ThresholdError):
        parse_threshold(text)


def test_thresholds_evaluate_against_metrics() -> None:
    from fleet.metrics import Metrics

    metrics = Metrics()
    for ms in range(1, 101):
        metrics.call_completed("Heartbeat", True, ms / 1000)
    metrics.count("reconnects", 3)
    snapshot = metrics.export()
    results = evaluate([parse_threshold(t) for t in ("p99<200ms", "Heartbeat.p50<=51ms", "Heartbeat.max<0.05s",
                                                     "reconnects<3", "errors==0", "count==100")], snapshot)
    assert [r.ok for r in results] == [True, True, False, False, True, True]


def test_fleet_run_cli_exit_code_follows_thresholds(tmp_path: Path) -> None:
    fleet = write_fleet(tmp_path, 10, duration=1)
    report_path = tmp_path / "report.json"
    base = [sys.executable, "-m", "fleet", "run", str(fleet), "--workers", "1", "--quiet", "--report", str(report_path)]
    passing = subprocess.run([*base, "--threshold", "errors==0"], capture_output=True, text=True, timeout=120)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "✓ errors==0" in passing.stdout
    data = json.loads(report_path.read_text())
    assert data["fleet"]["stations"] == 10 and data["actions"]
    failing = subprocess.run([*base, "--threshold", "BootNotification.p50<0.001ms"], capture_output=True, text=True,
                             timeout=120)
    assert failing.returncode == 1 and "✗ BootNotification.p50<0.001ms" in failing.stdout
    bad = subprocess.run([*base, "--threshold", "p99<<1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "threshold" in bad.stderr


def test_steady_thresholds_use_the_steady_window_and_fail_without_one() -> None:
    from fleet.metrics import Metrics

    metrics = Metrics()
    metrics.call_completed("Heartbeat", True, 0.5)  # a slow call during the ramp
    metrics.start_steady()
    for _ in range(10):
        metrics.call_completed("Heartbeat", True, 0.002)
    steady = metrics.end_steady()
    assert steady is not None and steady.histogram("out:Heartbeat").get_total_count() == 10
    checks = [parse_threshold("steady.p99<50ms"), parse_threshold("p99<50ms")]
    assert [r.ok for r in evaluate(checks, metrics.export(), steady=steady)] == [True, False]
    assert [r.ok for r in evaluate(checks[:1], metrics.export())] == [False]


async def test_faults_from_the_command_line_reach_the_stations_and_nothing_is_lost(tmp_path: Path) -> None:
    from fleet.faults import parse_fault_options

    fleet = write_fleet(tmp_path, 30, duration=4, speed=30)
    # Reconnect back-off is a protocol timing, real at any speed (5-10 s by default): wait 0
    # so a station dropped by the fault reconnects within the run, however late the drop.
    (tmp_path / "busy.toml").write_text(BUSY_PROFILE + "[retry_backoff]\nwait_minimum = 0\nrandom_range = 0\n")
    plan = load_fleet(fleet)
    plan = plan.with_faults(parse_fault_options(["disconnect_rate=300", "malformed_rate=300", "malformed_share=0.5",
                                                 "malformed_classes=not_json,unknown_action"]))
    report = await run_fleet(plan, RunOptions(workers=2))
    assert report.faults["disconnects"] > 0
    assert set(report.faults["malformed"]) <= {"not_json", "unknown_action"}
    for entry in report.faults["malformed"].values():
        assert entry["tried"] > 0 and entry["matched"] == entry["tried"] - entry.get("unanswered", 0)
    assert report.metrics.counters.get("reconnects", 0) > 0
    assert report.audit["ok"], report.audit["problems"]


def test_bad_fault_option_is_refused_before_anything_starts(tmp_path: Path) -> None:
    fleet = write_fleet(tmp_path, 2, duration=1)
    bad = subprocess.run([sys.executable, "-m", "fleet", "run", str(fleet), "--no-control", "--fault", "warp_speed=9"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "warp_speed" in bad.stderr


async def test_a_fleet_of_three_ocpp_versions_against_one_csms_loses_nothing() -> None:
    """The shipped mixed-versions fleet (1.6J, 2.0.1, and 2.1-or-2.0.1 stations), rescaled,
    against the built-in CSMS serving every version on one port: each version's transaction
    messages reach it, and the audit holds 1.6's transactions (ids the CSMS assigned) as it
    holds 2.x's."""
    plan = load_fleet(REPO / "profiles" / "mixed-versions.toml").with_overrides(
        stations=24, duration=6, ramp=200, speed=60, speed_protocol=True)
    versions = {profile.ocpp_versions[0] for profile in plan.profiles}
    assert versions == {"1.6", "2.0.1", "2.1"}
    report = await run_fleet(plan, RunOptions(workers=2))
    assert report.fleet["workers_without_final_report"] == []
    answered = {s.action: s.count for s in report.actions if s.direction == "out"}
    received = report.fleet["csms_received"]
    for action in ("BootNotification", "StartTransaction", "MeterValues", "TransactionEvent"):  # 1.6 and 2.x
        assert answered.get(action, 0) > 0 and answered[action] == received[action], (action, answered, received)
    assert report.audit["ok"], report.audit["problems"]
    assert report.audit["checked_transactions"] >= 24
