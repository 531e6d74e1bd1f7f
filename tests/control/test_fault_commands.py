"""The control API's fault commands (``disconnect``, ``partition``, ``restart_csms``,
``set_boot_status``) end to end, in both backends:

* :class:`LocalBackend` over real station actors and the real CSMS in this process, and
  over a CSMS alone (``fleet csms``: the CSMS acts the faults out from its side);
* ``fleet run``'s supervisor (:class:`FleetBackend`) forwarding to worker processes, with
  the built-in CSMS in two processes, and against an external CSMS.

Everything is checked on the CSMS's side (its connections and records), and every
malformed variant gets an error reply. Real websockets on 127.0.0.1 only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from fleet_runs import controlled_run, write_fleet_file
from waiting import wait_until

from fleet.actors.csms import Csms, open_csms
from fleet.actors.station import Station
from fleet.control import ControlRequestError, LocalBackend, open_trio_client, serve_control
from fleet.control.client import TrioControlClient
from fleet.control.messages import FaultResult
from fleet.faults import pick_share
from fleet.profiles import RetryBackoff, Security, SessionGenerator, StationProfile
from fleet.run.fleetfile import load_fleet
from fleet.run.report import Report
from fleet.run.supervisor import RunOptions

SPEED = 10.0

MANUAL_PROFILE = """
name = "manual"
heartbeat_interval = 300
boot_retry_interval = 10
[retry_backoff]
wait_minimum = 2
repeat_times = 1
random_range = 2
[security]
profile = 1
password = "pw-{station_id}"
[[evses]]
max_power = 22000
[sessions]
enabled = false
id_tokens = [{ id_token = "OK-1" }]
"""


def profile() -> StationProfile:
    return StationProfile(sessions=SessionGenerator(enabled=False), ping_interval=0, boot_retry_interval=10,
                          retry_backoff=RetryBackoff(wait_minimum=2, repeat_times=1, random_range=2),
                          security=Security(profile=0, password=None))


async def request(client: TrioControlClient, command: str, **fields: Any) -> Any:
    return await client.request(command, **fields)


async def error(client: TrioControlClient, command: str, **fields: Any) -> ControlRequestError:
    with pytest.raises(ControlRequestError) as caught:
        await client.request(command, **fields)
    return caught.value


def connections(csms: Csms, station_id: str) -> int:
    record = csms.station(station_id)
    return record.connections if record is not None else 0


@asynccontextmanager
async def local_fleet(n: int, *, csms_only: bool = False) -> AsyncIterator[tuple[Csms, dict[str, Station],
                                                                                TrioControlClient]]:
    """Stations and the CSMS in this process; the control server over both (or the CSMS alone)."""
    async with open_csms(port=0, boot_retry_interval=1) as csms, trio.open_nursery() as nursery:
        stations = {f"L{i:02d}": Station(f"L{i:02d}", csms.url, profile=profile(), seed=i, speed=SPEED, protocol_speed=SPEED)
                    for i in range(n)}
        for station in stations.values():
            await nursery.start(station.run)
        await wait_until(lambda: all(s.online() for s in stations.values()), what="every station accepted", timeout=10)
        backend = LocalBackend(csms=csms, seed=3) if csms_only else LocalBackend(dict(stations), csms, seed=3)
        server = await nursery.start(serve_control, backend)
        async with open_trio_client(server.url) as client:
            yield csms, stations, client
        async with trio.open_nursery() as closing:
            for station in stations.values():
                closing.start_soon(station.shutdown, 1.0)
        nursery.cancel_scope.cancel()


# ------------------------------------------------------------------ LocalBackend


async def test_fault_commands_on_stations_in_this_process() -> None:
    async with local_fleet(6) as (csms, stations, client):
        # disconnect by id: the link drops without a close handshake (the CSMS sees 1006), then comes back.
        result = await request(client, "disconnect", station_ids=["L01", "L02"])
        assert isinstance(result, FaultResult) and result.station_ids == ["L01", "L02"] and result.dropped == 2
        await wait_until(lambda: all(connections(csms, s) == 2 and csms.is_connected(s) for s in ("L01", "L02")),
                         what="dropped links back", timeout=10)
        reasons = [csms.station(s).disconnect_reason for s in ("L01", "L02")]  # type: ignore[union-attr]
        assert all("1006" in str(r) for r in reasons), reasons
        assert connections(csms, "L00") == 1  # the others untouched

        # disconnect a seeded share: exactly the stations the seed picks.
        share = await request(client, "disconnect", share=0.5, seed=9)
        assert share.station_ids == pick_share(stations, 0.5, 9, "disconnect") and len(share.station_ids) == 3
        again = await request(client, "disconnect", share=0.5, seed=9)
        assert again.station_ids == share.station_ids  # same seed, same stations
        default_seed = await request(client, "disconnect", share=0.5)
        assert default_seed.station_ids == pick_share(stations, 0.5, 3, "disconnect")  # the backend's seed

        # partition: offline at the CSMS for the whole window, refused attempts, then back.
        await wait_until(lambda: all(s.online() for s in stations.values()), what="fleet back before the partition", timeout=10)
        failures = stations["L03"].snapshot().counters.connect_failures
        cut = await request(client, "partition", station_ids=["L03"], duration=1.5)
        assert cut.station_ids == ["L03"] and cut.dropped == 1 and cut.until is not None
        for _ in range(10):
            await trio.sleep(0.1)
            assert not csms.is_connected("L03")
        await wait_until(lambda: csms.is_connected("L03") and stations["L03"].online(), what="partitioned station back", timeout=10)
        assert stations["L03"].snapshot().counters.connect_failures > failures

        # set_boot_status: the CSMS answers the next boot Pending (a reset makes one), then the usual again.
        assert (await request(client, "set_boot_status", status="Pending", station_ids=["L04"])).station_ids == ["L04"]
        await request(client, "reset", station_id="L04")
        # The CSMS records its answer before the station has read it: wait for both sides.
        await wait_until(lambda: csms.station("L04").registration_status == "Pending"  # type: ignore[union-attr]
                         and stations["L04"].state == "pending", what="L04 answered Pending and waiting", timeout=10)
        await request(client, "set_boot_status", status=None, station_ids=["L04"])
        await wait_until(lambda: stations["L04"].online(), what="L04 accepted again", timeout=10)

        # restart_csms: the CSMS drops everyone and listens again; the fleet comes back.
        restarted = await request(client, "restart_csms", downtime=0.5)
        assert restarted.command == "restart_csms" and restarted.dropped == 6
        assert (await error(client, "restart_csms", downtime=0.5)).code == "conflict"  # down already
        await wait_until(lambda: all(s.online() for s in stations.values()) and csms.statistics().connected == 6,
                         what="fleet back after the restart", timeout=10)
        assert csms.statistics().restarts == 1

        # Malformed and impossible variants: error replies, nothing done.
        for command, fields, code in (
            ("disconnect", {}, "bad_request"),
            ("disconnect", {"station_ids": ["L01"], "share": 0.5}, "bad_request"),
            ("disconnect", {"station_ids": ["L01", "NOPE"]}, "not_found"),
            ("disconnect", {"station_ids": []}, "bad_request"),
            ("disconnect", {"share": 1.5}, "bad_request"),
            ("disconnect", {"share": "half"}, "bad_request"),
            ("partition", {"station_ids": ["L01"]}, "bad_request"),
            ("partition", {"station_ids": ["L01"], "duration": 0}, "bad_request"),
            ("partition", {"station_ids": ["L01"], "duration": 99999}, "bad_request"),
            ("partition", {"share": 0.5, "duration": 1, "bogus": 1}, "bad_request"),
            ("restart_csms", {"downtime": -1}, "bad_request"),
            ("set_boot_status", {"status": "Maybe", "station_ids": ["L01"]}, "bad_request"),
            ("set_boot_status", {"station_ids": ["L01"]}, "bad_request"),
            ("set_boot_status", {"status": None}, "bad_request"),
            ("set_boot_status", {"status": "Pending", "station_ids": ["NOPE"]}, "not_found"),
        ):
            failure = await error(client, command, **fields)
            assert failure.code == code, (command, fields, failure.code, failure.message)
        assert "NOPE" in (await error(client, "partition", station_ids=["NOPE"], duration=1)).message
        assert all(connections(csms, s) >= 1 and csms.is_connected(s) for s in stations)


async def test_a_csms_alone_acts_the_faults_out_from_its_side() -> None:
    """``fleet csms``: no simulated stations in the server, so the CSMS drops the links."""
    async with local_fleet(3, csms_only=True) as (csms, stations, client):
        info = await request(client, "info")
        assert {"disconnect", "partition", "restart_csms", "set_boot_status"} <= set(info.commands)
        dropped = await request(client, "disconnect", station_ids=["L00"])
        assert dropped.dropped == 1
        await wait_until(lambda: stations["L00"].snapshot().counters.disconnects == 1 and stations["L00"].online(),
                         what="L00 dropped and back", timeout=10)
        assert (await error(client, "disconnect", station_ids=["NEVER-SEEN"])).code == "not_found"

        cut = await request(client, "partition", station_ids=["L01"], duration=1.5)
        assert cut.dropped == 1
        # L01 lost its link and a new connection was refused (whether it is still offline once both
        # are seen depends on how long that took: the partition lasts 1.5 s, so that is not asserted).
        await wait_until(lambda: csms.statistics().refused.get("partition", 0) >= 1
                         and stations["L01"].snapshot().counters.disconnects >= 1,
                         what="L01 cut and a connection of it refused", timeout=5)
        await wait_until(lambda: stations["L01"].online() and csms.is_connected("L01"), what="L01 back after the partition", timeout=10)

        everyone = await request(client, "set_boot_status", status="Rejected")
        assert everyone.station_ids == []
        for station_id in stations:  # a reset makes them boot again
            reset = await request(client, "csms_send", station_id=station_id, action="Reset",
                                  payload={"type": "Immediate"})
            assert reset.outcome == "response"
        await wait_until(lambda: all(s.state == "rejected" for s in stations.values()), what="every station rejected", timeout=10)
        await request(client, "set_boot_status", status="Accepted")
        await wait_until(lambda: all(s.online() for s in stations.values()), what="every station accepted again", timeout=10)


async def test_fault_commands_without_a_csms_are_unsupported_where_they_need_one() -> None:
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        station = Station("U00", csms.url, profile=profile(), seed=1, speed=SPEED, protocol_speed=SPEED)
        await nursery.start(station.run)
        await wait_until(station.online, what="accepted", timeout=10)
        server = await nursery.start(serve_control, LocalBackend({"U00": station}))
        async with open_trio_client(server.url) as client:
            assert (await error(client, "restart_csms")).code == "unsupported"
            assert (await error(client, "set_boot_status", status="Pending")).code == "unsupported"
            assert (await request(client, "disconnect", station_ids=["U00"])).dropped == 1
            await wait_until(lambda: connections(csms, "U00") == 2 and station.online(), what="U00 back", timeout=10)
        await station.shutdown(1.0)
        nursery.cancel_scope.cancel()


# ------------------------------------------------------------------ fleet run


def write_fleet(tmp_path: Path, count: int, *, csms: str | None = None) -> Path:
    return write_fleet_file(tmp_path, {"manual": MANUAL_PROFILE}, count, seed=5, station_id="F{index:04d}",
                            csms=csms, speed=SPEED)


class Run:
    def __init__(self, client: TrioControlClient) -> None:
        self.client = client
        self.report: Report | None = None

    async def connected(self) -> dict[str, float]:
        """Station id -> when its connection to the built-in CSMS was accepted."""
        rows = (await request(self.client, "csms_connections")).connections
        return {row.station_id: row.connected_at for row in rows}

    async def until_available(self, count: int, timeout: float = 20.0) -> None:
        """Every station accepted, as the workers reported (about once a second)."""
        async def available() -> bool:
            return (await request(self.client, "snapshot", rows=False)).states.get("available", 0) == count

        await wait_until(available, what=f"{count} stations available", timeout=timeout, period=0.1)

    async def until_online(self, station_ids: list[str], timeout: float = 20.0) -> None:
        """These stations accepted and connected to the CSMS now (asked of their workers and the CSMS)."""
        async def offline() -> list[str]:
            connected = await self.connected()
            return [station_id for station_id in station_ids
                    if (await request(self.client, "station", station_id=station_id)).row.state != "available"
                    or station_id not in connected]

        async def all_online() -> bool:
            return not await offline()

        await wait_until(all_online, what=f"{station_ids} online", timeout=timeout, period=0.1)


@asynccontextmanager
async def fleet_run(tmp_path: Path, count: int, *, csms: str | None = None, csms_workers: int = 1) -> AsyncIterator[Run]:
    plan = load_fleet(write_fleet(tmp_path, count, csms=csms))
    options = RunOptions(workers=2, csms_workers=csms_workers, control_port=0, stop_timeout=10)
    async with controlled_run(plan, options) as (url, reports), open_trio_client(url) as client:
        fleet = Run(client)
        await fleet.until_available(count)
        yield fleet
    fleet.report = reports[0]


async def test_fault_commands_through_the_supervisor_of_a_fleet_run(tmp_path: Path) -> None:
    ids = [f"F{i:04d}" for i in range(12)]
    async with fleet_run(tmp_path, 12, csms_workers=2) as fleet:
        client = fleet.client
        info = await request(client, "info")
        assert {"disconnect", "partition", "restart_csms", "set_boot_status"} <= set(info.commands)

        # disconnect: stations of both workers drop their links and reconnect (new CSMS connections).
        before = await fleet.connected()
        dropped = await request(client, "disconnect", station_ids=["F0001", "F0002"])
        assert dropped.station_ids == ["F0001", "F0002"] and dropped.dropped == 2
        async def reconnected() -> dict[str, float] | None:
            now = await fleet.connected()
            return now if all(now.get(s, 0) > before[s] for s in ("F0001", "F0002")) else None

        now = await wait_until(reconnected, what="F0001 and F0002 connected again", timeout=15, period=0.1)
        assert now["F0000"] == before["F0000"]
        share = await request(client, "disconnect", share=0.25)
        assert share.station_ids == pick_share(ids, 0.25, 5, "disconnect") and len(share.station_ids) == 3

        # partition: the station has no connection at the CSMS during the window, then it is back.
        await fleet.until_online(ids)
        cut = await request(client, "partition", station_ids=["F0003"], duration=2.0)
        assert cut.dropped == 1
        for _ in range(6):
            await trio.sleep(0.25)
            assert "F0003" not in await fleet.connected()
        async def f0003_connected() -> bool:
            return "F0003" in await fleet.connected()

        await wait_until(f0003_connected, what="F0003 connected after the partition", timeout=15, period=0.1)

        # set_boot_status on both CSMS processes: the next boot of F0004 is answered Pending.
        await request(client, "set_boot_status", status="Pending", station_ids=["F0004"])
        await request(client, "reset", station_id="F0004")
        async def f0004_pending() -> bool:
            return (await request(client, "station", station_id="F0004")).row.state == "pending"

        await wait_until(f0004_pending, what="F0004 pending", timeout=15, period=0.1)
        await request(client, "set_boot_status", status=None, station_ids=["F0004"])
        await fleet.until_online(ids)

        # restart_csms: both CSMS processes go down and come back; the supervisor times the return.
        restarted = await request(client, "restart_csms", downtime=1.0)
        assert restarted.dropped == 12
        assert (await error(client, "restart_csms")).code == "conflict"
        await fleet.until_online(ids)

        # Malformed variants get errors; the run goes on.
        assert (await error(client, "disconnect", station_ids=["F0001", "GHOST"])).code == "not_found"
        assert (await error(client, "disconnect")).code == "bad_request"
        assert (await error(client, "partition", share=0.1)).code == "bad_request"
        assert (await error(client, "set_boot_status", status="Pending", station_ids=["GHOST"])).code == "not_found"
        assert (await error(client, "set_boot_status", status="Bogus")).code == "bad_request"
        assert (await error(client, "restart_csms", downtime="soon")).code == "bad_request"

    report = fleet.report
    assert report is not None and report.fleet["workers_without_final_report"] == []
    restarts = report.faults["csms_restarts"]
    assert len(restarts) == 1 and restarts[0]["by"] == "control" and restarts[0]["online_before"] == 12
    assert restarts[0]["fleet_back_after_s"] is not None
    refusals = report.faults["boot_refusals"]
    assert refusals["station_ids"] == {"Pending": ["F0004"]} and refusals["accepted_later"] == 1


async def test_against_an_external_csms_only_the_station_faults_apply(tmp_path: Path) -> None:
    async with open_csms(port=0) as csms, fleet_run(tmp_path, 4, csms=csms.url) as fleet:
        client = fleet.client
        assert (await error(client, "restart_csms")).code == "unsupported"
        assert (await error(client, "set_boot_status", status="Pending")).code == "unsupported"
        assert "restart_csms" not in (await request(client, "info")).commands
        dropped = await request(client, "disconnect", station_ids=["F0002"])
        assert dropped.dropped == 1
        await wait_until(lambda: connections(csms, "F0002") == 2 and csms.is_connected("F0002"), what="F0002 back", timeout=15)
        assert "1006" in str(csms.station("F0002").disconnect_reason)  # type: ignore[union-attr]
