"""A real ``fleet run`` whose built-in CSMS listens on several ports (``--csms-ports``): the
stations are spread evenly over the ports' URLs, every CSMS port serves its share, a CSMS
restart brings the fleet back on every port, the audit is clean and the report lists the
URLs. And process counts that cannot hold the fleet within the open-files limit are refused
before anything starts."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trio
from busy_fleet import ONLINE, write_busy_fleet
from test_interrupt import Run
from waiting import wait_until

from fleet import exit_codes
from fleet.control.client import open_trio_client

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]

STATIONS = 36
PORTS = 3


def write_fleet(tmp_path: Path) -> Path:
    return write_busy_fleet(tmp_path, count=STATIONS, seed=5, station_id="PORT")


def established_on(ports: set[int]) -> Counter[int]:
    """Established TCP connections whose local end is one of ``ports`` (the CSMS's side), by port."""
    counts: Counter[int] = Counter()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        port = int(fields[1].rsplit(":", 1)[1], 16)
        if port in ports and fields[3] == "01":
            counts[port] += 1
    return counts


async def test_a_run_on_several_csms_ports_spreads_the_stations_and_stays_audited(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "fleet", "run", str(write_fleet(tmp_path)), "--workers", "2", "--csms-workers", "3",
         "--csms-ports", str(PORTS), "--control-port", "0", "--report", str(report_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "FLEET_CONTROL_TOKEN": ""},
    )
    run = Run(process)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run.collect)
        with trio.fail_after(30):
            url = (await run.wait_for(r"^control on (ws://\S+)")).group(1)
        async with open_trio_client(url) as client:
            async def online() -> bool:
                snapshot = await client.request("snapshot", rows=False)
                return sum(snapshot.states.get(s, 0) for s in ONLINE) == STATIONS and snapshot.csms_connected == STATIONS

            await wait_until(online, timeout=45, period=0.1, what="every station online")
            ids = [row.id for row in (await client.request("snapshot")).rows]
            urls = Counter([(await client.request("station", station_id=sid)).url for sid in ids])
            assert len(urls) == PORTS and set(urls.values()) == {STATIONS // PORTS}, urls
            ports = {urlsplit(u).port for u in urls}
            assert len(ports) == PORTS and None not in ports
            if Path("/proc/net/tcp").exists():  # each port's share is served on that port
                assert established_on({p for p in ports if p}) == Counter({p: STATIONS // PORTS for p in ports if p})

            # The CSMS restart fault: every process drops its port's stations and listens there again.
            restarted = await client.request("restart_csms", downtime=1.0)
            assert restarted.dropped == STATIONS
            await wait_until(online, timeout=60, period=0.1, what="every station back online after the restart")

            async def charging() -> bool:
                return (await client.request("snapshot", rows=False)).states.get("charging", 0) > 0

            await wait_until(charging, timeout=30, period=0.1, what="a transaction to audit")
        process.send_signal(signal.SIGINT)
        with trio.fail_after(30):
            code = await process.wait()
    assert code == exit_codes.INTERRUPTED, run.output
    report = json.loads(report_path.read_text())
    fleet = report["fleet"]
    assert sorted(fleet["csms_urls"]) == sorted(urls) and fleet["csms_workers"] == 3 and fleet["workers"] == 2
    assert all(u in fleet["csms"][0] for u in urls)
    assert fleet["workers_without_final_report"] == []
    assert report["faults"]["csms_restarts"][0]["connections_closed"] == STATIONS
    audit = report["audit"]
    assert audit["checked_transactions"] >= 1
    assert audit["missing_events"] == 0 and audit["duplicated_events"] == 0 and audit["ok"], audit


def _open_files(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


@pytest.mark.parametrize(("argv", "line"), [
    (["--workers", "2"], "2,000 stations need at least 3 station worker processes (--workers): a process holds "
                         "at most 900 connections (open-files limit 1,000)"),
    (["--csms-workers", "2"], "2,000 stations need at least 3 CSMS processes (--csms-workers): a process holds "
                              "at most 900 connections (open-files limit 1,000)"),
])
def test_process_counts_too_low_for_the_open_files_limit_are_refused(argv: list[str], line: str) -> None:
    result = subprocess.run([sys.executable, "-m", "fleet", "run", "--stations", "2000", *argv, "--no-control"],
                            cwd=str(REPO), capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                            preexec_fn=lambda: _open_files(1000))
    assert result.returncode == exit_codes.USAGE, (result.returncode, result.stderr)
    assert result.stderr.strip() == f"fleet run: {line}"
    assert result.stdout == ""


def test_one_port_for_more_stations_than_a_port_takes_is_refused() -> None:
    # (60,000 exceed 45% of any port range: at most 65,535 ports)
    result = subprocess.run([sys.executable, "-m", "fleet", "run", "--stations", "60000", "--csms-ports", "1",
                             "--no-control"], cwd=str(REPO), capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == exit_codes.USAGE, (result.returncode, result.stderr)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("fleet run: 60,000 stations need at least ") and "CSMS ports (--csms-ports)" in line
