"""Ctrl-C on a real ``fleet run`` (supervisor, worker processes, the built-in CSMS): the first
SIGINT stops it gracefully within its deadline (transactions ended and delivered, the report
written and marked interrupted, exit 130); a second one stops it at once. No process is left.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from busy_fleet import ONLINE, write_busy_fleet
from waiting import wait_until

from fleet import exit_codes
from fleet.control.client import open_trio_client
from fleet.run.report import Report, merge_reports, render_summary

pytestmark = pytest.mark.timeout(60)

STATIONS = 120


def write_fleet(tmp_path: Path) -> Path:
    return write_busy_fleet(tmp_path, count=STATIONS, seed=3, station_id="INT")


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (the run's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Run:
    """``fleet run`` as a subprocess; its output collected line by line."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.output = ""
        self.ended = False
        self.changed = trio.Event()

    async def collect(self) -> None:
        assert self.process.stdout is not None
        async for chunk in self.process.stdout:
            self.output += chunk.decode(errors="replace")
            self.changed.set()
            self.changed = trio.Event()
        self.ended = True
        self.changed.set()

    async def wait_for(self, pattern: str) -> re.Match[str]:
        while (found := re.search(pattern, self.output, re.MULTILINE)) is None:
            if self.ended:
                raise AssertionError(f"the run ended first:\n{self.output}")
            await self.changed.wait()
        return found


async def online_run(tmp_path: Path, nursery: trio.Nursery) -> tuple[Run, list[int]]:
    """Start the run and return once every station is online and charging began; with its workers."""
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "fleet", "run", str(write_fleet(tmp_path)), "--workers", "1",
         "--control-port", "0", "--report", str(tmp_path / "report.json")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "FLEET_CONTROL_TOKEN": ""},
    )
    run = Run(process)
    nursery.start_soon(run.collect)
    with trio.fail_after(30):
        url = (await run.wait_for(r"^control on (ws://\S+)")).group(1)
    async with open_trio_client(url) as client:
        async def online_and_charging() -> bool:  # the live figures, through the control API
            states = (await client.request("snapshot", rows=False)).states
            return sum(states.get(s, 0) for s in ONLINE) == STATIONS and states.get("charging", 0) > 0

        await wait_until(online_and_charging, timeout=30, period=0.1, what="every station online, one charging")
    workers = children_of(process.pid)
    assert len(workers) == 2  # one station worker, the built-in CSMS
    return run, workers


async def test_ctrl_c_stops_the_run_gracefully_and_writes_an_interrupted_report(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        run, workers = await online_run(tmp_path, nursery)
        run.process.send_signal(signal.SIGINT)
        with trio.fail_after(20):
            await run.wait_for(r"stopping\.\.\. \(Ctrl-C again to stop at once")
            code = await run.process.wait()
    assert code == exit_codes.INTERRUPTED, run.output
    assert "INTERRUPTED" in run.output  # the summary says so
    assert not [pid for pid in workers if alive(pid)]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["interrupted"] is True and report["fleet"]["interrupted"] is True
    assert report["fleet"]["workers_without_final_report"] == []
    audit = report["audit"]  # every transaction ended, and the CSMS recorded every event
    assert audit["checked_transactions"] >= 1
    assert audit["missing_events"] == 0 and audit["duplicated_events"] == 0


async def test_a_second_ctrl_c_stops_the_run_at_once(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        run, workers = await online_run(tmp_path, nursery)
        run.process.send_signal(signal.SIGINT)
        with trio.fail_after(20):
            await run.wait_for(r"stopping\.\.\.")
            run.process.send_signal(signal.SIGINT)
            code = await run.process.wait()
    assert code == exit_codes.INTERRUPTED, run.output
    assert not [pid for pid in workers if alive(pid)]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["interrupted"] is True


def test_a_merge_with_an_interrupted_shard_is_interrupted() -> None:
    def shard(i: int, interrupted: bool = False) -> Report:
        return Report(fleet={"run_id": "r1", "shard": [i, 2], "stations": 1}, interrupted=interrupted)

    merged = merge_reports([shard(0), shard(1, interrupted=True)])
    assert merged.interrupted and render_summary(merged).startswith("INTERRUPTED")
    assert not merge_reports([shard(0), shard(1)]).interrupted
