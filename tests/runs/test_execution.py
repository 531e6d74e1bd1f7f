"""Fleet's own load: the loop monitor, the per-role figures of a run, the saturation
warning, the ``fleet.*`` thresholds and their Prometheus export."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trio
import trio.testing

from fleet.metrics import Metrics, decode_histogram, encode_histogram, new_histogram
from fleet.run.execution import LoopMonitor, live_text, saturation_warnings, summarize_roles
from fleet.run.fleetfile import load_fleet
from fleet.run.prometheus import render_metrics
from fleet.run.report import Report, render_summary
from fleet.run.supervisor import FleetStatus, RunOptions, run_fleet
from fleet.run.thresholds import ThresholdError, evaluate, parse_threshold

PROFILE = """
name = "quick"
heartbeat_interval = 10
[[evses]]
max_power = 22000
[sessions]
start_delay = [0, 2]
id_tokens = [{ id_token = "OK-1" }]
"""


def write_fleet(tmp_path: Path, count: int, *, duration: float = 3, speed: float = 10) -> Path:
    (tmp_path / "quick.toml").write_text(PROFILE)
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        f"[fleet]\nseed = 3\nramp = 200\nduration = {duration}\nspeed = {speed}\n\n"
        f'[[group]]\nprofile = "quick.toml"\ncount = {count}\nstation_id = "X{{index:03d}}"\n'
    )
    return fleet


# ------------------------------------------------------------------ the monitor


async def test_a_held_loop_shows_as_lag_under_a_mock_clock(autojump_clock: trio.testing.MockClock) -> None:
    monitor = LoopMonitor(period=0.02)
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)
        await trio.sleep(1.0)
        on_time = monitor.lag.get_max_value()
        autojump_clock.jump(0.5)  # the loop was held 0.5 s: no task ran meanwhile
        await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    assert monitor.lag.get_total_count() >= 50
    assert on_time < 1000, on_time  # virtual time: every wake-up exactly on time (1 us floor)
    assert monitor.lag.get_max_value() >= 480_000  # at least the hold less one period


async def test_a_blocking_task_shows_as_at_least_its_blocking_time() -> None:
    monitor = LoopMonitor(period=0.01)
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)
        await trio.sleep(0.05)
        time.sleep(0.2)  # a task that never yields for 200 ms
        await trio.sleep(0.05)
        sample = monitor.sample()
        nursery.cancel_scope.cancel()
    assert monitor.lag.get_max_value() >= 190_000
    assert sample["lag_max_ms"] >= 190.0
    summary = monitor.summary()
    assert summary["loop_lag"] and summary["cpu_mean"] >= 0.0


def test_warnings_name_the_saturated_role_and_what_to_do() -> None:
    busy = new_histogram()
    for _ in range(100):
        busy.record_value(850_000)
    calm = new_histogram()
    for _ in range(100):
        calm.record_value(2_000)
    processes = {
        "stations": [{"cpu_mean": 97.0, "cpu_peak": 99.5, "loop_lag": encode_histogram(busy)}],
        "csms": [{"cpu_mean": 30.0, "cpu_peak": 45.0, "loop_lag": encode_histogram(calm)}],
        "supervisor": [{"cpu_mean": 2.0, "cpu_peak": 3.0, "loop_lag": encode_histogram(calm)}],
    }
    execution = summarize_roles(processes, {"stations": encode_histogram(busy)})
    assert set(execution["roles"]) == {"stations", "csms", "supervisor"}
    assert execution["roles"]["stations"]["loop_lag_p99_ms"] >= 849
    assert execution["roles"]["stations"]["schedule_lag_p99_ms"] >= 849
    [warning] = execution["warnings"]
    assert warning.startswith("station workers were saturated (CPU 100%")
    assert "loop lag p99 850 ms" in warning and "--workers" in warning
    assert saturation_warnings({"stations": execution["roles"]["csms"]}) == []
    # Late at low CPU: the process waited for a core (the machine was busy), not its own work.
    starved = dict(execution["roles"]["stations"], cpu_peak=27.0)
    [waiting] = saturation_warnings({"stations": starved}, {"cores": 2, "busy_mean": 97.0, "busy_peak": 100.0})
    assert waiting.startswith("station workers were kept waiting for a core (loop lag p99 850 ms at only 27% CPU")
    assert "2 cores were 97% busy" in waiting and "other load" in waiting
    text = render_summary(Report(execution=execution))
    assert "station workers (1)" in text and "⚠ station workers were saturated" in text


def test_the_busiest_second_is_never_below_the_mean() -> None:
    monitor = LoopMonitor()
    end = time.process_time() + 0.1
    while time.process_time() < end:  # busy, shorter than a CPU window: only the mean sees it
        pass
    summary = monitor.summary()
    assert summary["cpu_mean"] > 0.0
    assert summary["cpu_peak"] >= summary["cpu_mean"], summary


async def test_the_steady_window_keeps_its_own_lag(autojump_clock: trio.testing.MockClock) -> None:
    monitor = LoopMonitor(period=0.02)
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)
        await trio.sleep(0.2)
        autojump_clock.jump(0.5)  # the ramp held the loop 0.5 s
        await trio.sleep(0.2)
        monitor.start_steady()
        await trio.sleep(1.0)
        monitor.end_steady()
        await trio.sleep(0.2)
        autojump_clock.jump(0.3)  # the wind-down holds it too: not steady state either
        await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    summary = monitor.summary()
    assert monitor.lag.get_max_value() >= 480_000
    steady = decode_histogram(summary["steady"]["loop_lag"])
    assert 40 <= steady.get_total_count() <= 60, steady.get_total_count()
    assert steady.get_max_value() < 1000, steady.get_max_value()
    assert summary["steady"]["cpu_peak"] >= summary["steady"]["cpu_mean"] >= 0.0


def _lag(micros: int) -> str:
    histogram = new_histogram()
    for _ in range(100):
        histogram.record_value(micros)
    return encode_histogram(histogram)


def test_a_busy_ramp_is_a_note_and_a_busy_steady_state_a_warning() -> None:
    steady_calm = {"cpu_mean": 40.0, "cpu_peak": 60.0, "loop_lag": _lag(3_000)}
    ramp_busy = {"cpu_mean": 70.0, "cpu_peak": 99.0, "loop_lag": _lag(320_000), "steady": steady_calm}
    execution = summarize_roles({"stations": [ramp_busy, ramp_busy]}, {})
    assert execution["roles"]["stations"]["steady"]["loop_lag_p99_ms"] < 5
    assert execution["warnings"] == []
    [note] = execution["notes"]
    assert note.startswith("station workers were busy during the ramp (CPU 99%") and "loop lag p99 3 ms" in note, note
    text = render_summary(Report(execution=execution))
    assert "note: station workers were busy during the ramp" in text and "steady state" in text and "⚠" not in text
    # Busy in the steady state too: the warning, judged on the steady state's figures.
    steady_busy = {"cpu_mean": 95.0, "cpu_peak": 99.0, "loop_lag": _lag(250_000)}
    execution = summarize_roles({"stations": [dict(ramp_busy, steady=steady_busy)]}, {})
    [warning] = execution["warnings"]
    assert warning.startswith("station workers were saturated (CPU 99%") and "loop lag p99 250 ms" in warning
    assert execution["notes"] == []
    # Without a steady-state window (a run shorter than the ramp and its settle): the whole run.
    execution = summarize_roles({"stations": [{k: v for k, v in ramp_busy.items() if k != "steady"}]}, {})
    assert len(execution["warnings"]) == 1 and execution["notes"] == []


# ------------------------------------------------------------------ runs


async def test_a_small_run_reports_each_role_without_a_warning(tmp_path: Path) -> None:
    plan = load_fleet(write_fleet(tmp_path, 20))
    live: list[dict[str, dict[str, float]]] = []
    report = await run_fleet(plan, RunOptions(workers=1, thresholds=[parse_threshold("fleet.loop_lag.p99<10s")]),
                             on_status=lambda s: live.append(dict(s.execution)))
    roles = report.execution["roles"]
    assert set(roles) == {"stations", "csms", "supervisor"}
    for role, figures in roles.items():
        assert figures["processes"] == 1, role
        assert 0.0 <= figures["cpu_mean"] <= figures["cpu_peak"] <= 400.0, (role, figures)
        assert 0.0 <= figures["loop_lag_p50_ms"] <= figures["loop_lag_p99_ms"] <= figures["loop_lag_max_ms"], figures
    # The ramp's connects and the stations' timer-driven calls recorded how late they went out.
    assert roles["stations"]["schedule_lag_p99_ms"] >= 0.0 and report.metrics.schedule_histogram
    assert any(key.startswith("due:") for key in report.metrics.intended), report.metrics.intended
    assert report.execution["warnings"] == []
    assert [t.ok for t in report.thresholds] == [True]
    assert any("stations" in sample and "supervisor" in sample for sample in live), live
    text = render_summary(report)
    assert "station workers (1)" in text and "CSMS workers (1)" in text and "supervisor" in text
    assert "timer-driven calls" in text and "⚠" not in text
    assert report.execution["machine"]["cores"] > 0 and "machine (" in text


async def test_every_role_keeps_a_steady_state_window_after_the_settle_time(tmp_path: Path) -> None:
    plan = load_fleet(write_fleet(tmp_path, 10, duration=4))
    report = await run_fleet(plan, RunOptions(workers=1, station_options={"settle": 1.0}))
    roles = report.execution["roles"]
    for role in ("stations", "csms", "supervisor"):
        steady = roles[role].get("steady")
        assert steady, (role, roles[role])
        assert steady["loop_lag"] and 0.0 <= steady["cpu_mean"] <= steady["cpu_peak"], (role, steady)
    assert report.steady is not None and report.execution["warnings"] == []


async def test_a_saturated_station_worker_gets_the_warning(tmp_path: Path) -> None:
    plan = load_fleet(write_fleet(tmp_path, 5, duration=2))
    # Test hook: every wake-up of the station worker's monitor holds its loop 200 ms.
    options = RunOptions(workers=1, station_options={"debug_saturate": 0.2},
                         thresholds=[parse_threshold("fleet.stations.loop_lag.p99<50ms")])
    report = await run_fleet(plan, options)
    roles = report.execution["roles"]
    assert roles["stations"]["loop_lag_p99_ms"] >= 150.0, roles["stations"]
    warnings = report.execution["warnings"]
    # "were saturated" when the hook had its core, "kept waiting for a core" on a busy machine
    assert any(w.startswith("station workers ") and "fleet's own delay" in w for w in warnings), warnings
    assert [t.ok for t in report.thresholds] == [False]
    assert "⚠ station workers " in render_summary(report)


# ------------------------------------------------------------------ thresholds and export


def _execution(lag_ms: float, cpu: float) -> dict[str, object]:
    histogram = new_histogram()
    histogram.record_value(int(lag_ms * 1000))
    encoded = encode_histogram(histogram)
    return summarize_roles({"stations": [{"cpu_mean": cpu, "cpu_peak": cpu, "loop_lag": encoded}],
                            "supervisor": [{"cpu_mean": 1.0, "cpu_peak": 1.0, "loop_lag": encoded}]},
                           {"stations": encoded})


def test_fleet_thresholds_parse_and_evaluate() -> None:
    lag = parse_threshold("fleet.loop_lag.p99<50ms")
    assert (lag.metric, lag.action, lag.op, lag.value) == ("fleet.loop_lag.p99", None, "<", 50.0)
    assert parse_threshold("fleet.stations.loop_lag.max < 1s").value == 1000.0
    assert parse_threshold("fleet.cpu<90%").value == 90.0
    thresholds = [lag, parse_threshold("fleet.cpu<90%"), parse_threshold("fleet.schedule_lag.p99<100ms"),
                  parse_threshold("fleet.csms.cpu<90%")]
    calm = evaluate(thresholds, Metrics().export(), execution=_execution(3.0, 40.0))
    assert [t.ok for t in calm[:3]] == [True, True, True]
    assert not calm[3].ok and calm[3].actual is None and "csms" in calm[3].reason  # no CSMS figures
    busy = evaluate(thresholds[:3], Metrics().export(), execution=_execution(850.0, 99.0))
    assert [t.ok for t in busy] == [False, False, False]
    assert busy[0].actual == pytest.approx(850.0, rel=0.01)
    [missing] = evaluate([lag], Metrics().export())
    assert not missing.ok and missing.reason


@pytest.mark.parametrize("text", ["fleet.lag<5ms", "fleet.cpu<5ms", "fleet.loop_lag.p99<5%", "fleet.loop_lag.p0<5ms",
                                  "fleet.robots.cpu<5%", "fleet.loop_lag<5ms"])
def test_bad_fleet_thresholds_are_refused(text: str) -> None:
    with pytest.raises(ThresholdError, match="threshold"):
        parse_threshold(text)


def test_prometheus_exports_each_roles_load_and_the_live_line_names_saturation() -> None:
    roles = {"stations": {"cpu": 98.0, "lag_p99_ms": 850.0, "lag_max_ms": 900.0},
             "supervisor": {"cpu": 2.0, "lag_p99_ms": 1.0, "lag_max_ms": 2.0}}
    text = render_metrics(FleetStatus(execution=roles), None)
    assert 'fleet_self_cpu_ratio{role="stations"} 0.9800' in text
    assert 'fleet_self_loop_lag_seconds{role="stations",quantile="0.99"} 0.850000' in text
    assert 'fleet_self_saturated{role="stations"} 1' in text
    assert 'fleet_self_saturated{role="supervisor"} 0' in text
    assert live_text(roles) == "fleet stations CPU 98% lag p99 850 ms SATURATED: stations"
    assert "SATURATED" not in live_text({"stations": {"cpu": 20.0, "lag_p99_ms": 3.0, "lag_max_ms": 5.0}})


def test_the_dashboard_overview_shows_each_roles_load() -> None:
    from rich.text import Text

    from fleet.tui.widgets.throughput import _append_execution

    text = Text()
    _append_execution(text, {"stations": {"cpu": 98.0, "lag_p99_ms": 850.0, "lag_max_ms": 900.0},
                             "csms": {"cpu": 20.0, "lag_p99_ms": 2.0, "lag_max_ms": 3.0}})
    assert "stations CPU 98% lag p99 850 ms SATURATED" in text.plain
    assert "csms CPU 20% lag p99 2 ms  " in text.plain


def test_merged_shard_reports_keep_each_shards_warning() -> None:
    from fleet.run.report import merge_reports

    hot = Report(fleet={"shard": [0, 2]}, execution=_execution(850.0, 99.0))
    calm = Report(fleet={"shard": [1, 2]}, execution=_execution(3.0, 20.0))
    merged = merge_reports([hot, calm])
    warnings = merged.execution["warnings"]
    assert warnings and all(w.startswith("shard 0/2: ") for w in warnings), warnings
    assert warnings[0].startswith("shard 0/2: station workers were saturated")
    assert "⚠ shard 0/2: station workers" in render_summary(merged)
