"""The processes and ports of a run (fleet.run.capacity): the open-files limit and the
ephemeral port range decide how many station workers, CSMS processes and CSMS ports a
fleet needs, and counts that cannot hold it are refused with what is needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fleet.run.capacity import (
    CapacityError,
    MachineLimits,
    ProcessPlan,
    connections_per_port,
    connections_per_process,
    ephemeral_ports,
    plan_processes,
)

#: The machine of issue 14: 2 cores, 20,000 open files per process, Linux's default port range.
TWO_CORES = MachineLimits(cores=2, open_files=20_000, ephemeral_ports=60999 - 32768 + 1)


def test_the_limits_leave_room_for_a_process_s_other_files_and_a_margin_of_ports() -> None:
    assert connections_per_process(20_000) == 19_000
    assert connections_per_process(1024) == 922  # a tenth kept back from a small limit
    assert connections_per_port(28_232) == 12_704  # under the even half of the range


@pytest.mark.parametrize(("stations", "expected"), [
    (12, ProcessPlan(workers=2, csms_workers=1, csms_ports=1)),
    (1_000, ProcessPlan(workers=2, csms_workers=1, csms_ports=1)),
    (12_000, ProcessPlan(workers=2, csms_workers=2, csms_ports=1)),  # one port, as before
    (20_000, ProcessPlan(workers=2, csms_workers=2, csms_ports=2)),  # past one port's capacity
    (30_000, ProcessPlan(workers=2, csms_workers=3, csms_ports=3)),
    (50_000, ProcessPlan(workers=3, csms_workers=4, csms_ports=4)),
    (100_000, ProcessPlan(workers=6, csms_workers=8, csms_ports=8)),
])
def test_chosen_counts_hold_the_fleet_within_the_limits(stations: int, expected: ProcessPlan) -> None:
    plan = plan_processes(stations, TWO_CORES)
    assert plan == expected
    per_process = connections_per_process(TWO_CORES.open_files)
    assert -(-stations // plan.workers) <= per_process
    assert -(-stations // plan.csms_workers) <= per_process
    assert -(-stations // plan.csms_ports) <= connections_per_port(TWO_CORES.ephemeral_ports)
    assert plan.csms_workers % plan.csms_ports == 0  # every port has as many processes


def test_a_station_worker_per_core_even_for_a_small_fleet_but_never_more_than_stations() -> None:
    assert plan_processes(1, TWO_CORES).workers == 1
    assert plan_processes(500, MachineLimits(cores=8, open_files=20_000, ephemeral_ports=28_232)).workers == 8


def test_a_generous_limit_still_needs_a_port_per_share_of_the_port_range() -> None:
    plenty = MachineLimits(cores=8, open_files=1_048_576, ephemeral_ports=28_232)
    assert plan_processes(100_000, plenty) == ProcessPlan(workers=8, csms_workers=8, csms_ports=8)


def test_processes_spread_evenly_over_the_ports() -> None:
    plan = plan_processes(40, TWO_CORES, csms_workers=6, csms_ports=3)
    assert plan == ProcessPlan(workers=2, csms_workers=6, csms_ports=3)
    assert [plan.port_index(k) for k in range(6)] == [0, 1, 2, 0, 1, 2]
    # Processes given, ports chosen: the fewest ports that share the processes evenly.
    assert plan_processes(100_000, TWO_CORES, csms_workers=8).csms_ports == 8
    assert plan_processes(30_000, TWO_CORES, csms_workers=4).csms_ports == 4
    assert plan_processes(20_000, TWO_CORES, csms_workers=4).csms_ports == 2
    # Ports given, processes chosen: a multiple of the ports.
    assert plan_processes(100_000, TWO_CORES, csms_ports=9) == ProcessPlan(workers=6, csms_workers=9, csms_ports=9)
    assert plan_processes(20_000, TWO_CORES, csms_ports=3) == ProcessPlan(workers=2, csms_workers=3, csms_ports=3)


def test_an_external_csms_takes_station_workers_only() -> None:
    assert plan_processes(100_000, TWO_CORES, builtin=False) == ProcessPlan(workers=6, csms_workers=0, csms_ports=0)
    with pytest.raises(CapacityError, match="--csms-ports goes with the built-in CSMS"):
        plan_processes(10, TWO_CORES, csms_ports=2, builtin=False)


@pytest.mark.parametrize(("options", "words"), [
    ({"workers": 5}, ["100,000 stations need at least 6 station worker processes (--workers)", "19,000", "20,000"]),
    ({"csms_workers": 5}, ["100,000 stations need at least 8 CSMS processes (--csms-workers)", "8 ports", "12,704"]),
    ({"csms_ports": 4}, ["100,000 stations need at least 8 CSMS ports (--csms-ports)", "12,704"]),
    ({"csms_workers": 6, "csms_ports": 8}, ["--csms-ports 8 needs at least 8 CSMS processes (--csms-workers)"]),
])
def test_counts_too_low_are_refused_with_what_the_fleet_needs(options: dict[str, int], words: list[str]) -> None:
    with pytest.raises(CapacityError) as refused:
        plan_processes(100_000, TWO_CORES, **options)
    line = str(refused.value)
    assert "\n" not in line
    for word in words:
        assert word in line, (word, line)


def test_a_small_open_files_limit_asks_for_more_processes_on_the_ports_given() -> None:
    small = MachineLimits(cores=2, open_files=10_000, ephemeral_ports=28_232)
    with pytest.raises(CapacityError, match=r"need at least 16 CSMS processes \(--csms-workers\) on 8 ports"):
        plan_processes(100_000, small, csms_workers=8, csms_ports=8)


def test_a_csms_process_per_port_at_least() -> None:
    plenty = MachineLimits(cores=2, open_files=1_048_576, ephemeral_ports=28_232)
    with pytest.raises(CapacityError, match=r"need at least 8 CSMS processes .* a process listens on one"):
        plan_processes(100_000, plenty, csms_workers=1)


def test_the_port_range_is_read_from_proc_where_it_exists(tmp_path: Path) -> None:
    range_file = tmp_path / "ip_local_port_range"
    range_file.write_text("1024\t65535\n")
    assert ephemeral_ports(str(range_file)) == 64_512
    assert ephemeral_ports(str(tmp_path / "missing")) == 28_232  # Linux's default range elsewhere
    range_file.write_text("garbage\n")
    assert ephemeral_ports(str(range_file)) == 28_232


def test_a_worker_raises_its_soft_open_files_limit_to_the_hard_one() -> None:
    script = (
        "import resource\n"
        "from fleet.run.capacity import raise_open_files_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))\n"
        "raised = raise_open_files_limit()\n"
        "print(raised, resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True)
    raised, soft, hard = (int(v) for v in out.stdout.split())
    if hard > 256:
        assert raised == soft == min(hard, 1_048_576)


def test_the_default_wind_down_time_grows_with_the_stations_per_core() -> None:
    from fleet.run.supervisor import STOP_TIMEOUT, wind_down_timeout

    assert wind_down_timeout(10, 2) == pytest.approx(STOP_TIMEOUT, abs=0.1)
    assert wind_down_timeout(50_000, 2) == pytest.approx(STOP_TIMEOUT + 50)  # 50,000 did not wind down in 30 s
    assert wind_down_timeout(100_000, 2) > wind_down_timeout(100_000, 8)
