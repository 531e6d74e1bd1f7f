"""The control API of multi-process runs: ``fleet run`` (the supervisor forwarding to its
worker processes) and ``fleet csms``, driven with the trio client.

Real fleets: worker processes, the built-in CSMS process, stations speaking OCPP-J over
real websockets on 127.0.0.1, the supervisor's control server. Stations of the test
profile run no automatic sessions, so what they do is what the test tells them.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from fleet_runs import controlled_run, write_fleet_file
from trio_websocket import open_websocket_url
from waiting import wait_until, wait_until_on_pilot

from fleet import exit_codes
from fleet.cli import build_parser
from fleet.commands import run as run_command
from fleet.control import ControlError, ControlRequestError, open_trio_client
from fleet.control.client import TrioControlClient
from fleet.control.messages import (
    AddStationsResult,
    CsmsConnectionsResult,
    FleetSnapshot,
    SendResult,
    ServerInfo,
    StationDetail,
    SubscribeResult,
)
from fleet.run.fleet_backend import WorkerLink
from fleet.run.fleetfile import load_fleet
from fleet.run.report import Report
from fleet.run.supervisor import RunOptions, run_fleet
from fleet.run.wire import ControlReply, ControlRequest, WireStream

MANUAL_PROFILE = """
name = "manual"
heartbeat_interval = 300
[security]
profile = 1
password = "pw-{station_id}"
[[evses]]
max_power = 22000
[sessions]
enabled = false
id_tokens = [{ id_token = "OK-1" }]
"""

#: A profile file that is not part of the fleet, for add_stations.
EXTRA_PROFILE = """
name = "extra"
[security]
profile = 1
password = "x-{station_id}"
[sessions]
enabled = false
id_tokens = [{ id_token = "EXTRA-1" }]
"""

GET_HEARTBEAT_INTERVAL = {
    "getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]
}


def write_fleet(tmp_path: Path, count: int, *, csms: str | None = None) -> Path:
    return write_fleet_file(tmp_path, {"manual": MANUAL_PROFILE, "extra": EXTRA_PROFILE}, count, seed=3,
                            station_id="T{index:04d}", csms=csms)


class Run:
    """A running fleet and a control client attached to its supervisor."""

    def __init__(self, client: TrioControlClient, url: str) -> None:
        self.client = client
        self.url = url
        self.report: Report | None = None

    async def request(self, command: str, **fields: Any) -> Any:
        return await self.client.request(command, **fields)

    async def error(self, command: str, **fields: Any) -> ControlRequestError:
        with pytest.raises(ControlRequestError) as caught:
            await self.client.request(command, **fields)
        return caught.value

    async def until(self, predicate: Any, what: str, timeout: float = 10.0) -> FleetSnapshot:
        """Poll snapshots until ``predicate(snapshot)`` holds."""
        async def matching() -> FleetSnapshot | None:
            snapshot = await self.request("snapshot", rows=False)
            return snapshot if predicate(snapshot) else None

        snapshot: FleetSnapshot = await wait_until(matching, what=what, timeout=timeout, period=0.1)
        return snapshot

    async def station_until(self, station_id: str, predicate: Any, timeout: float = 10.0) -> StationDetail:
        async def matching() -> StationDetail | None:
            detail = await self.request("station", station_id=station_id)
            return detail if predicate(detail) else None

        detail: StationDetail = await wait_until(matching, what=f"station {station_id}", timeout=timeout, period=0.05)
        return detail


@asynccontextmanager
async def running_fleet(tmp_path: Path, count: int = 20, *, workers: int = 2, csms: str | None = None,
                        csms_workers: int = 1, control_port: int = 0,
                        control_fallback: bool = False) -> AsyncIterator[Run]:
    plan = load_fleet(write_fleet(tmp_path, count, csms=csms))
    options = RunOptions(workers=workers, csms_workers=csms_workers, control_port=control_port,
                         control_fallback=control_fallback, stop_timeout=10)
    async with controlled_run(plan, options) as (url, reports):
        assert url.startswith("ws://127.0.0.1:")
        async with open_trio_client(url) as client:
            fleet = Run(client, url)
            await fleet.until(lambda s: s.states.get("available", 0) == count and s.phase == "running",
                              "every station accepted", 20)
            yield fleet
    fleet.report = reports[0]


# ------------------------------------------------------------------ fleet run


async def test_a_fleet_run_is_driven_through_its_supervisor(tmp_path: Path) -> None:
    async with running_fleet(tmp_path) as fleet:
        info = await fleet.request("info")
        assert isinstance(info, ServerInfo) and info.kind == "fleet" and info.csms and info.stations == 20
        assert "csms_send" in info.commands and "add_stations" in info.commands

        # Snapshot: rows from both workers, merged in id order, paged; aggregates without rows.
        snap = await fleet.request("snapshot")
        assert isinstance(snap, FleetSnapshot) and snap.kind == "fleet" and snap.total == 20
        assert snap.rows is not None and [r.id for r in snap.rows] == [f"T{i:04d}" for i in range(20)]
        assert all(r.profile == "manual" and r.state == "available" for r in snap.rows)
        page = await fleet.request("snapshot", offset=5, limit=3)
        assert [r.id for r in page.rows] == ["T0005", "T0006", "T0007"]
        light = await fleet.request("snapshot", rows=False)
        assert light.rows is None and light.states == {"available": 20} and light.csms_connected == 20
        assert light.phase == "running"
        fleet_with_latency = await fleet.until(
            lambda s: any(a.action == "BootNotification" and a.count == 20 for a in s.actions), "latency per action")
        assert all(a.direction == "out" for a in fleet_with_latency.actions)

        # Station detail, from the worker that runs it (odd and even ids live in different workers).
        for sid in ("T0004", "T0007"):
            detail = await fleet.request("station", station_id=sid)
            assert isinstance(detail, StationDetail) and detail.row.id == sid and detail.row.state == "available"
            assert detail.evses[0].connectors[0].status == "Available"
            assert any(v.variable == "Identity" and v.value == sid for v in detail.variables)

        # Subscribe to a station's frames, then drive it: plug, start (the transaction), stop.
        subscribed = await fleet.request("subscribe", station_id="T0007")
        assert isinstance(subscribed, SubscribeResult)
        await fleet.request("plug", station_id="T0007", evse_id=1)
        await fleet.request("start_transaction", station_id="T0007", evse_id=1, id_token="OK-1")
        charging = await fleet.station_until("T0007", lambda d: d.row.state == "charging")
        tx_id = charging.evses[0].transaction.id  # type: ignore[union-attr]
        events = []

        def occupied(e: Any) -> bool:
            return e.kind == "request" and e.action == "StatusNotification" and e.payload["connectorStatus"] == "Occupied"

        with trio.fail_after(10):
            async for event in fleet.client.events():
                events.append(event)
                kinds = {(e.action, e.kind) for e in events}
                if ("TransactionEvent", "response") in kinds and any(occupied(e) for e in events):
                    break
        requests = [e for e in events if e.kind == "request"]
        started = next(e for e in requests if e.action == "TransactionEvent")
        assert started.source == "station" and started.direction == "out" and started.station_id == "T0007"
        assert started.frame is not None and started.frame[0] == 2 and started.frame[2] == "TransactionEvent"
        assert started.frame[3]["eventType"] == "Started" and started.frame[3]["transactionInfo"]["transactionId"] == tx_id
        await fleet.request("unsubscribe", subscription=subscribed.subscription)

        # The CSMS process saw it: connections, the transaction, and a GetVariables it sends is answered.
        connections = await fleet.request("csms_connections")
        assert isinstance(connections, CsmsConnectionsResult)
        assert sorted(c.station_id for c in connections.connections) == [f"T{i:04d}" for i in range(20)]
        seen = await fleet.request("subscribe", station_id="T0007", source="csms")
        await fleet.request("stop_transaction", station_id="T0007", evse_id=1)
        await fleet.station_until("T0007", lambda d: d.evses[0].transaction is None)
        with trio.fail_after(10):
            async for event in fleet.client.events():  # (after what is left of the station-side subscription)
                if event.source == "csms" and event.action == "TransactionEvent" and event.kind == "request":
                    assert event.direction == "in" and event.station_id == "T0007"
                    assert event.payload["eventType"] == "Ended"
                    assert event.payload["transactionInfo"]["transactionId"] == tx_id
                    break
        await fleet.request("unsubscribe", subscription=seen.subscription)
        answered = await fleet.request("csms_send", station_id="T0012", action="GetVariables",
                                       payload=GET_HEARTBEAT_INTERVAL, tag="gv-1")
        assert isinstance(answered, SendResult) and answered.outcome == "response" and answered.tag == "gv-1"
        assert answered.response["getVariableResult"][0]["attributeStatus"] == "Accepted"
        pending = await fleet.request("csms_pending")
        assert pending.pending == []

        # `send` as a station: the caller's message id and tag come back with the CSMS's answer.
        sent = await fleet.request("send", station_id="T0003", action="Heartbeat", payload={},
                                   message_id="hb-own-1", tag={"n": 1})
        assert sent.outcome == "response" and sent.message_id == "hb-own-1" and sent.tag == {"n": 1}
        assert "currentTime" in sent.response

        # Auth: the list the built-in CSMS checks, never the passwords.
        auth = await fleet.request("get_auth_list")
        assert auth.enabled and len(auth.station_ids) == 20
        assert (await fleet.request("get_auth_cs", station_id="T0001")).has_password

        # Bad input gets an error and the run goes on.
        assert (await fleet.error("station", station_id="NOPE")).code == "not_found"
        assert (await fleet.error("plug", station_id="NOPE")).code == "not_found"
        assert (await fleet.error("send", station_id="T0001", action="NoSuchAction", payload={})).code == \
            "unknown_action"
        assert (await fleet.error("send", station_id="T0001", action="BootNotification",
                                  payload={"reason": 5})).code == "invalid_payload"
        assert (await fleet.error("csms_send", station_id="NOPE", action="Reset",
                                  payload={"type": "Immediate"})).code == "not_connected"
        assert (await fleet.error("subscribe")).code == "bad_request"
        assert (await fleet.error("no_such_command")).code == "unknown_command"
        assert (await fleet.error("plug", station_id="T0001", evse_id="one")).code == "bad_request"
        async with open_websocket_url(fleet.url) as ws:
            for raw, code in (("not json", "bad_request"), ("[1, 2]", "bad_request"),
                              ('{"type": "snapshot", "id": 9, "rows": "yes"}', "bad_request")):
                await ws.send_message(raw)
                with trio.fail_after(5):
                    reply = msgspec.json.decode(await ws.get_message())
                assert reply["type"] == "error" and reply["code"] == code, reply
        after = await fleet.request("snapshot", rows=False)
        assert after.total == 20 and after.phase == "running"

    report = fleet.report
    assert report is not None and report.fleet["workers_without_final_report"] == []
    assert report.audit["ok"] and report.audit["checked_transactions"] == 1, report.audit


async def test_stations_are_added_and_removed_while_running(tmp_path: Path) -> None:
    """... with two built-in CSMS processes sharing the port: CSMS settings reach both, and
    CSMS commands find the process that holds a station's connection."""
    async with running_fleet(tmp_path, 6, csms_workers=2) as fleet:
        # From the fleet's own profile and from a profile file it did not have (its password and
        # id token reach the built-in CSMS, so the new stations are accepted and can charge).
        added = await fleet.request("add_stations", profile="manual", count=3)
        assert isinstance(added, AddStationsResult)
        assert added.station_ids == ["manual-00001", "manual-00002", "manual-00003"]
        extra = await fleet.request("add_stations", profile=str(tmp_path / "extra.toml"), count=2, prefix="X")
        assert extra.station_ids == ["X00001", "X00002"]
        snap = await fleet.until(lambda s: s.states.get("available", 0) == 11, "added stations accepted")
        assert snap.total == 11
        rows = (await fleet.request("snapshot")).rows
        assert [r.id for r in rows] == [*(f"T{i:04d}" for i in range(6)), "X00001", "X00002", "manual-00001",
                                        "manual-00002", "manual-00003"]
        assert [r.profile for r in rows][-5:] == ["extra", "extra", "manual", "manual", "manual"]
        assert (await fleet.request("get_auth_cs", station_id="X00002")).has_password
        connections = await fleet.request("csms_connections")
        assert len(connections.connections) == 11
        for sid in ("T0001", "T0004", "manual-00003", "X00002"):
            reply = await fleet.request("csms_send", station_id=sid, action="GetVariables",
                                        payload=GET_HEARTBEAT_INTERVAL, message_id=f"gv-{sid}")
            assert reply.outcome == "response" and reply.message_id == f"gv-{sid}"
        await fleet.request("plug", station_id="X00001")
        await fleet.request("start_transaction", station_id="X00001", id_token="EXTRA-1")
        await fleet.station_until("X00001", lambda d: d.row.state == "charging")

        # Ids are unique fleet-wide, whichever worker starts them.
        again = await fleet.request("add_stations", profile="manual", count=1)
        assert again.station_ids == ["manual-00004"]
        assert (await fleet.error("add_stations", profile="no-such-profile")).code == "bad_request"
        assert (await fleet.error("connect", station_id="T0001", new_station_id="T0002")).code == "conflict"

        # Removing: the stations end their transactions and close; unknown ids come back as missing.
        removed = await fleet.request("remove_stations", station_ids=["X00001", "T0002", "manual-00002", "ghost"])
        assert sorted(removed.removed) == ["T0002", "X00001", "manual-00002"] and removed.missing == ["ghost"]
        assert (await fleet.error("station", station_id="X00001")).code == "not_found"
        snap = await fleet.until(lambda s: s.total == 9 and sum(s.states.values()) == 9, "removed stations gone")
        rows = (await fleet.request("snapshot")).rows
        assert "T0002" not in {r.id for r in rows} and len(rows) == 9

        async def removed_disconnected() -> bool:
            connected = await fleet.request("csms_connections")
            return not {"X00001", "T0002"} & {c.station_id for c in connected.connections}

        await wait_until(removed_disconnected, what="the CSMS without X00001 and T0002", timeout=10, period=0.1)
        # A removed id is free again.
        assert (await fleet.request("add_stations", profile="manual", count=1)).station_ids == ["manual-00002"]

    report = fleet.report
    assert report is not None
    assert report.audit["ok"] and report.audit["checked_transactions"] == 1, report.audit
    assert report.fleet["stations"] == 10


async def test_against_an_external_csms_the_csms_commands_are_unsupported(tmp_path: Path) -> None:
    """`fleet csms --control-port 0` in its own process, answered through its control API,
    with a fleet run pointed at it."""
    csms = subprocess.Popen(
        [sys.executable, "-m", "fleet", "csms", "--port", "0", "--control-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert csms.stdout is not None
        lines: list[str] = []
        with trio.fail_after(20):
            while not any(line.startswith("control on ") for line in lines):
                lines.append(await trio.to_thread.run_sync(csms.stdout.readline))
        ocpp_url = next(line.split()[-1] for line in lines if line.startswith("listening on "))
        control_url = next(line.split()[2] for line in lines if line.startswith("control on "))
        assert ocpp_url.startswith("ws://127.0.0.1:") and control_url.startswith("ws://127.0.0.1:")
        taken = int(control_url.rsplit(":", 1)[1].strip("/"))
        async with open_trio_client(control_url) as csms_client:
            info = await csms_client.request("info")
            assert info.kind == "csms" and info.csms
            # The run's control port is taken (by the CSMS's control API): it falls back to a free one.
            async with running_fleet(tmp_path, 4, workers=1, csms=ocpp_url, control_port=taken,
                                     control_fallback=True) as fleet:
                assert not fleet.url.endswith(f":{taken}/")
                assert not (await fleet.request("info")).csms
                for command, fields in (("csms_connections", {}), ("get_auth_list", {}),
                                        ("csms_send", {"station_id": "T0001", "action": "Heartbeat"})):
                    assert (await fleet.error(command, **fields)).code == "unsupported"
                assert (await fleet.error("subscribe", station_id="T0001", source="csms")).code == "unsupported"
                connections = await csms_client.request("csms_connections")
                assert sorted(c.station_id for c in connections.connections) == ["T0000", "T0001", "T0002", "T0003"]
                reply = await csms_client.request("csms_send", station_id="T0002", action="GetVariables",
                                                  payload=GET_HEARTBEAT_INTERVAL)
                assert reply.outcome == "response"
                snap = await csms_client.request("snapshot")
                assert snap.kind == "csms" and [r.id for r in snap.rows] == ["T0000", "T0001", "T0002", "T0003"]
    finally:
        csms.terminate()
        csms.wait(10)
    assert csms.returncode == 0  # SIGTERM stops it cleanly


async def test_a_taken_control_port_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    plan = load_fleet(write_fleet(tmp_path, 2))
    with trio.socket.socket() as taken:
        await taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.RaisesGroup(pytest.RaisesExc(OSError, match=f"control API: cannot listen on 127.0.0.1:{port}"),
                                flatten_subgroups=True):
            await run_fleet(plan, RunOptions(workers=1, control_port=port))


# ------------------------------------------------------------------ bounded forwarding


async def test_a_worker_that_does_not_answer_gets_busy_and_a_gone_one_internal_error() -> None:
    supervisor_end, worker_end = trio.testing.memory_stream_pair()
    link = WorkerLink("stations/0", WireStream(supervisor_end))
    worker = WireStream(worker_end)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(link.run)
        started = time.monotonic()
        with pytest.raises(ControlError) as caught:
            await link.request("station", {"station_id": "T1"}, timeout=0.3)
        assert caught.value.code == "busy"
        assert time.monotonic() - started < 5
        request = await worker.receive()
        assert isinstance(request, ControlRequest) and request.command == "station"
        link.deliver(ControlReply(request.id, result=b"{}"))  # too late: nobody waits for it any more

        async def answer_one() -> None:
            message = await worker.receive()
            assert isinstance(message, ControlRequest)
            link.deliver(ControlReply(message.id, code="not_found", message="no station 'T2'"))

        nursery.start_soon(answer_one)
        with pytest.raises(ControlError) as caught:
            await link.request("station", {"station_id": "T2"})
        assert caught.value.code == "not_found"

        async def close_soon() -> None:
            await trio.testing.wait_all_tasks_blocked()  # the request for T3 is out and waits
            link.close("its process ended")

        nursery.start_soon(close_soon)
        with pytest.raises(ControlError) as caught:
            await link.request("station", {"station_id": "T3"}, timeout=30)
        assert caught.value.code == "internal_error"
        with pytest.raises(ControlError) as caught:
            await link.request("station", {"station_id": "T4"})
        assert caught.value.code == "internal_error"
        nursery.cancel_scope.cancel()


# ------------------------------------------------------------------ fleet run --tui


def test_run_with_the_dashboard_stops_the_run_when_it_quits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`fleet run --tui`: the run in its own processes, the dashboard attached to its control
    API; when the dashboard quits the run stops and its summary is printed. (The Textual app is
    replaced by a client that checks the run is there; the app itself is tested below.)"""
    fleet = write_fleet(tmp_path, 4)
    args = build_parser().parse_args(["run", str(fleet), "--tui", "--workers", "1", "--speed", "20",
                                      "--report", str(tmp_path / "report.json")])
    assert args.tui
    argv = run_command.child_argv(args)
    assert argv[1:4] == ["-m", "fleet", "run"] and "--quiet" in argv and "--tui" not in argv
    assert argv[-4:] == ["--control-port", "0", "--nice", str(run_command.RUN_NICENESS)]
    seen: dict[str, Any] = {}

    class Attached:
        def __init__(self, url: str, token: str | None, child: subprocess.Popen[Any], summary: Any = None) -> None:
            seen["url"], seen["child"] = url, child

        def run(self) -> None:
            async def look() -> None:
                async with open_trio_client(seen["url"]) as client:
                    async def four_available() -> bool:
                        return (await client.request("snapshot", rows=False)).states.get("available", 0) >= 4

                    await wait_until(four_available, what="four stations available", timeout=20, period=0.1)
                    seen["rows"] = [r.id for r in (await client.request("snapshot")).rows]
                    # the run is scheduled below the dashboard
                    seen["nice"] = os.getpriority(os.PRIO_PROCESS, seen["child"].pid) - os.getpriority(os.PRIO_PROCESS, 0)

            trio.run(look)

    monkeypatch.setattr(run_command, "run_dashboard_app", Attached)
    code = run_command.main(args)
    out = capsys.readouterr().out
    assert seen["rows"] == ["T0000", "T0001", "T0002", "T0003"]
    assert seen["nice"] == min(run_command.RUN_NICENESS, 19 - os.getpriority(os.PRIO_PROCESS, 0))
    # quitting the dashboard stops the run before its end: Ctrl-C's exit status and summary
    assert seen["child"].returncode == exit_codes.INTERRUPTED and code == exit_codes.INTERRUPTED
    assert "INTERRUPTED" in out
    assert re.match(r"ws://127\.0\.0\.1:\d+/", seen["url"])
    assert "control on" not in out and "round trip of the calls the fleet made" in out and "report written to" in out
    assert (tmp_path / "report.json").is_file()


def test_the_run_dashboard_stays_open_on_the_runs_summary_when_the_run_ends() -> None:
    """(It closed itself when the run ended; now it keeps the last state and shows the summary
    until the user quits: issue 15.)"""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    app = run_command.run_dashboard_app("ws://127.0.0.1:9/", None, child,
                                        summary=lambda: "THRESHOLDS\n  ✓ p99(TransactionEvent) < 500ms  actual 4 ms")

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until_on_pilot(lambda: app.run_end is not None, pilot, timeout=15, period=0.1,
                                      what="the dashboard seeing the run's end")
            await pilot.pause(1.0)
            assert app.is_running  # still open: the user quits
            headline, summary = app.run_end
            assert headline == "the run ended: thresholds passed (exit status 0)" and "✓ p99" in summary
            assert "the run ended" in app.model.status and "reconnecting" not in app.model.status
            await pilot.press("q")
            await wait_until_on_pilot(lambda: not app.is_running, pilot, timeout=15, period=0.1,
                                      what="the dashboard closing on q")

    asyncio.run(main())
    assert child.wait(5) == 0
