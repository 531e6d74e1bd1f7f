"""The live figures of a fleet run over its control API: rates that hold between two
worker reports, each station's CALLS / ERR from its own counters, and figures that say
how old they are when a worker cannot report.

Real fleets: worker processes, stations speaking OCPP-J over websockets on 127.0.0.1,
the supervisor's control server. No timing goes into the assertions.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import trio
from fleet_runs import controlled_run, write_fleet_file
from waiting import wait_until

from fleet.actors.csms import open_csms
from fleet.control import open_trio_client
from fleet.control.client import TrioControlClient
from fleet.control.messages import FleetSnapshot, StationDetail
from fleet.ocpp import ErrorCode, OcppError
from fleet.run.fleetfile import load_fleet
from fleet.run.supervisor import RunOptions

PROFILE = """
name = "quiet"
heartbeat_interval = 300
[[evses]]
max_power = 22000
[sessions]
enabled = false
"""


def _plan(tmp_path: Path, count: int, csms: str | None = None) -> Any:
    return load_fleet(write_fleet_file(tmp_path, {"quiet": PROFILE}, count, seed=5, station_id="L{index:03d}",
                                       csms=csms))


async def _snapshot_until(client: TrioControlClient, predicate: Any, timeout: float = 20.0) -> FleetSnapshot:
    async def matching() -> FleetSnapshot | None:
        snapshot = await client.request("snapshot", rows=False)
        return snapshot if predicate(snapshot) else None

    snapshot: FleetSnapshot = await wait_until(matching, what="a matching fleet snapshot", timeout=timeout, period=0.05)
    return snapshot


def _station_workers() -> list[int]:
    """The pids of this process's station worker processes (Linux /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"fleet.run.worker" in argv and b"stations" in argv:
            pids.append(int(entry))
    return pids


async def test_calls_per_s_read_faster_than_the_workers_report_is_never_0_while_calls_flow(
        tmp_path: Path) -> None:
    # Heartbeats every simulated second at speed 20: calls flow all the time.
    options = RunOptions(workers=1, csms_options={"heartbeat_interval": 1}, stop_timeout=10, control_port=0)
    async with controlled_run(_plan(tmp_path, 8), options) as (url, _), open_trio_client(url) as client:
        await _snapshot_until(client, lambda s: s.calls_per_s > 0 and s.states.get("available") == 8)
        reads: list[FleetSnapshot] = []
        with trio.fail_after(30):
            while len({s.completed for s in reads}) < 4:  # reads over at least three of the worker's reports
                reads.append(await client.request("snapshot", rows=False))
                await trio.sleep(0.05)  # the reading rate is the point: several reads per worker report
        assert len(reads) > 2 * len({s.completed for s in reads})  # read faster than the figures change
        rates = [s.calls_per_s for s in reads]
        assert min(rates) > 0, rates
        # And right: the calls answered over the reads, per second, within a factor of the rates shown.
        measured = (reads[-1].completed - reads[0].completed) / (reads[-1].at - reads[0].at)
        mean = sum(rates) / len(rates)
        assert measured / 3 < mean < measured * 3, (measured, rates)
        assert all(s.failed_per_s == 0 for s in reads)

        # A worker that cannot report (stopped): its last rate stays, and the figures say how old they are.
        (pid,) = _station_workers()
        os.kill(pid, signal.SIGSTOP)
        try:
            stale = await _snapshot_until(client, lambda s: s.figures_age_s >= 2)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert stale.calls_per_s > 0
        fresh = await _snapshot_until(client, lambda s: s.figures_age_s < 2)
        assert fresh.completed >= stale.completed


async def test_a_station_rows_calls_and_errors_are_its_own_counters(tmp_path: Path) -> None:
    """Known calls through the control API (answered, and refused by the CSMS): the row's
    CALLS / ERR move by exactly that many, and equal the station's own counters and what
    the CSMS received."""
    async with open_csms(port=0, heartbeat_interval=86_400) as csms:

        def refuse(request: Any, ctx: Any) -> Any:
            raise OcppError(ErrorCode.SECURITY_ERROR, "not today")

        csms.on("DataTransfer", refuse)
        options = RunOptions(workers=2, stop_timeout=10, control_port=0)
        async with controlled_run(_plan(tmp_path, 4, csms.url), options) as (url, _), \
                open_trio_client(url) as client:
            await _snapshot_until(client, lambda s: s.states.get("available") == 4)
            sid = "L002"

            async def answered_every_call() -> StationDetail | None:
                detail = await client.request("station", station_id=sid)
                record = csms.station(sid)
                received = sum(record.messages.values()) if record is not None else -1
                return detail if detail.counters.get("calls") == received else None

            async def settled() -> StationDetail:
                """The station's detail once it has an answer to every call the CSMS received."""
                detail: StationDetail = await wait_until(answered_every_call, timeout=20, period=0.05,
                                                         what=f"{sid} answered for every call the CSMS received")
                return detail

            before = (await settled()).counters
            assert before["calls"] > 0  # its boot and status notifications
            for _ in range(3):
                sent = await client.request("send", station_id=sid, action="Heartbeat", payload={})
                assert sent.outcome == "response", sent
            for n in range(2):
                sent = await client.request("send", station_id=sid, action="DataTransfer",
                                            payload={"vendorId": "com.example", "messageId": f"m{n}"})
                assert sent.outcome == "callerror" and sent.error.code == "SecurityError", sent
            after = await settled()
            assert after.counters["calls"] == before["calls"] + 5
            assert after.counters["calls_failed"] == before["calls_failed"] + 2
            assert (after.row.calls, after.row.errors) == (after.counters["calls"], after.counters["calls_failed"])
            snapshot = await client.request("snapshot")
            row = next(r for r in snapshot.rows if r.id == sid)
            assert (row.calls, row.errors) == (after.counters["calls"], after.counters["calls_failed"])
            others = [r for r in snapshot.rows if r.id != sid]
            assert len(others) == 3 and all(r.calls > 0 and r.errors == 0 for r in others)
