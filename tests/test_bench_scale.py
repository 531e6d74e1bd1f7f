"""``fleet bench --scale``: one real ``fleet run`` per size, its figures as JSON and a picture."""

from __future__ import annotations

import importlib.util
import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.benchmarks.scale import ScaleConfig, document, plot
from fleet.cli import main as fleet
from fleet.exit_codes import USAGE
from fleet.run.capacity import MachineLimits, plan_processes

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def test_a_tiny_scale_run_records_every_figure_of_its_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scale.json"
    code = fleet(["bench", "--scale", "12", "--duration", "13", "--workers", "2", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "12 stations: all online" in printed
    document = json.loads(out.read_text())
    assert document["machine"] and document["date"]
    assert document["config"]["sizes"] == [12]
    [point] = document["points"]
    assert point["stations"] == point["online"] == 12
    assert point["workers"] == 2 and point["csms_workers"] == 1
    assert 0 < point["online_s"] <= point["seen_online_s"]  # the last first boot, and when the control API showed it
    assert set(point["peak_rss_mb"]) == {"stations", "csms", "total"}
    assert point["peak_rss_mb"]["total"] == pytest.approx(
        point["peak_rss_mb"]["stations"] + point["peak_rss_mb"]["csms"], abs=0.2)
    assert point["steady_calls_per_s"] is not None  # the run had a steady-state window
    assert point["errors"] == 0 and point["audit_ok"] is True and point["exit_code"] == 0
    assert {"stations", "csms"} <= set(point["roles"])
    assert point["roles"]["stations"]["processes"] == 2
    assert {"cpu_mean", "cpu_peak", "loop_lag_p99_ms", "run_cpu_mean", "run_cpu_peak",
            "run_loop_lag_p99_ms"} <= set(point["roles"]["stations"])


@pytest.mark.skipif(not HAVE_MATPLOTLIB, reason="matplotlib (the plot extra) is not installed")
def test_the_curves_are_drawn_into_a_png(tmp_path: Path) -> None:
    roles = {"stations": {"processes": 2, "cpu_mean": 30.0, "cpu_peak": 40.0, "loop_lag_p99_ms": 20.0},
             "csms": {"processes": 2, "cpu_mean": 20.0, "cpu_peak": 30.0, "loop_lag_p99_ms": 5.0}}
    points = [{"stations": n, "online_s": n / 1000, "peak_rss_mb": {"stations": n / 20, "csms": n / 40, "total": n / 13},
               "steady_calls_per_s": n / 25, "steady_p50_ms": 4.0, "steady_p99_ms": 30.0, "roles": roles}
              for n in (1000, 5000, 20000)]
    path = tmp_path / "scale.png"
    plot({"machine": "x86_64, 2 cores", "date": "2026-12-04 17:00 UTC", "points": points}, str(path), note="a note")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sizes_are_checked_before_any_process_starts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        fleet(["bench", "--scale", "1000,zero"])
    assert exit_info.value.code == USAGE
    assert "expected station counts" in capsys.readouterr().err
    assert fleet(["bench", "--plot", "x.png"]) == USAGE
    assert "--plot goes with --scale" in capsys.readouterr().err


def test_csms_processes_follow_the_open_files_limit_and_the_ports() -> None:
    # (the rule of `fleet run`, which the scale benchmark leaves the choice to, on a machine of 2 cores and
    # 20,000 open files per process)
    limits = MachineLimits(cores=2, open_files=20_000, ephemeral_ports=28_232)

    def csms_workers_for(stations: int) -> int:
        return plan_processes(stations, limits).csms_workers

    assert csms_workers_for(1000) == 1
    assert csms_workers_for(20_000) == 2
    assert csms_workers_for(100_000) == 8  # 6 for the open files, 8 for the ports (12,704 each)


def test_counts_that_cannot_hold_the_largest_size_are_refused_before_any_run() -> None:
    def at_most_1000_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1000, 1000))

    result = subprocess.run([sys.executable, "-m", "fleet", "bench", "--scale", "100,2000", "--workers", "1"],
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                            preexec_fn=at_most_1000_files)
    assert result.returncode == USAGE, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.strip() == ("fleet bench --scale: 2,000 stations need at least 3 station worker processes "
                                     "(--workers): a process holds at most 900 connections (open-files limit 1,000)")
    assert "fleet run of" not in result.stdout + result.stderr


def test_the_document_names_no_path_of_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fleets").mkdir()
    inside = tmp_path / "fleets" / "mine.toml"
    assert document(ScaleConfig(sizes=[10], fleet=str(inside)), [])["config"]["fleet"] == "fleets/mine.toml"
    elsewhere = tmp_path.parent / "other-place" / "theirs.toml"
    assert document(ScaleConfig(sizes=[10], fleet=str(elsewhere)), [])["config"]["fleet"] == "theirs.toml"


def test_a_run_whose_stations_are_not_all_accepted_counts_the_most_online_and_ends_with_the_run(
    tmp_path: Path,
) -> None:
    from fleet.benchmarks.scale import run_size

    fleet_file = tmp_path / "half-rejected.toml"
    # Half the stations are never accepted; from 8 s on a partition cuts every station off
    # until the run's end, so the last counts see none online.
    fleet_file.write_text(
        "[fleet]\nseed = 7\nramp = 200\nduration = 12\n\n"
        "[faults]\nboot_rejected_share = 0.5\npartition_share = 1.0\npartition_at = 8\npartition_duration = 60\n\n"
        "[[group]]\nprofile = \"realistic-idle.toml\"\ncount = 10\n"
    )
    lines: list[str] = []
    # An online timeout far past pytest's own: the benchmark must stop polling when the run ends.
    config = ScaleConfig(sizes=[10], fleet=str(fleet_file), duration=12, workers=1, csms_workers=1,
                         online_timeout=3600)
    point = run_size(config, 10, lines.append)
    assert point.online_s is None  # never all online
    assert 0 < point.online < 10, lines  # the most seen online at once, not the last count
    assert any("at most" in line for line in lines), lines
