"""The control API end to end: a real control server, the real CSMS actor, real stations
(:class:`fleet.actors.station.Station`) speaking OCPP-J over real websockets, and the trio client.

Every command of the API is exercised, plus malformed input, oversized messages and the token.
Each station command is checked where it lands: on the CSMS side (the connector statuses,
transactions, boots and connections the CSMS recorded, or the station's device model as the
CSMS reads it with GetVariables). The stations run a profile without automatic sessions, so
what they do is what the test tells them.

One case needs the stand-in of ``standins.py``: how the backend maps a ``LookupError`` raised
by a station to ``not_found``; no command of a real station raises one (why: see that file).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from fleet.actors.csms import Csms, open_csms
from fleet.actors.csms.records import StationRecord, TransactionRecord
from fleet.actors.station import Station, load_profile
from fleet.control import (
    ControlConnectionError,
    ControlRequestError,
    ControlServer,
    LocalBackend,
    open_trio_client,
    serve_control,
)
from fleet.control.client import TrioControlClient
from fleet.control.messages import (
    COMMANDS,
    MAX_MESSAGE_SIZE,
    Ack,
    AddStationsResult,
    AuthCs,
    AuthList,
    CsmsConnectionsResult,
    CsmsPendingResult,
    FleetSnapshot,
    RemoveStationsResult,
    SendResult,
    ServerInfo,
    StationDetail,
    SubscribeResult,
)
from fleet.control.server import is_loopback
from fleet.metrics import Metrics
from fleet.ocpp import ErrorCode, OcppError
from fleet.profiles import SessionGenerator, StationProfile
from fleet.run.fleetfile import shipped_profiles_dir

sys.path.insert(0, str(Path(__file__).parent))
from standins import LookupFailingStation
from waiting import wait_until

#: The stations' profile: one EVSE with one connector, no automatic sessions, a quick reboot.
MANUAL = StationProfile(name="manual", sessions=SessionGenerator(enabled=False), reboot_delay=0.1)


class Fleet:
    """What a test gets: the CSMS, the stations, the backend, the server and a client."""

    def __init__(self, csms: Csms, stations: dict[str, Station], backend: LocalBackend,
                 server: ControlServer, client: TrioControlClient, nursery: trio.Nursery) -> None:
        self.csms = csms
        self.stations = stations
        self.backend = backend
        self.server = server
        self.client = client
        self.nursery = nursery

    async def request(self, command: str, **fields: Any) -> Any:
        return await self.client.request(command, **fields)

    async def error(self, command: str, **fields: Any) -> ControlRequestError:
        with pytest.raises(ControlRequestError) as caught:
            await self.client.request(command, **fields)
        return caught.value

    def record(self, station_id: str) -> StationRecord:
        """What the CSMS knows about ``station_id``."""
        record = self.csms.station(station_id)
        assert record is not None, station_id
        return record

    def connector(self, station_id: str, evse_id: int = 1, connector_id: int = 1) -> str | None:
        """The connector's last status the CSMS received."""
        return next((c.status for c in self.record(station_id).connectors
                     if (c.evse_id, c.connector_id) == (evse_id, connector_id)), None)

    def transactions(self, station_id: str) -> list[TransactionRecord]:
        return list(self.record(station_id).transactions.values())


def _shipped_profile(name: str) -> StationProfile:
    """A shipped profile by name or path, without its automatic sessions."""
    path = shipped_profiles_dir() / Path(name if name.endswith(".toml") else f"{name}.toml").name
    if not path.is_file():
        raise LookupError(f"no profile {name!r}")
    return msgspec.structs.replace(load_profile(path), sessions=SessionGenerator(enabled=False))


@asynccontextmanager
async def running_fleet(n: int = 2, *, connect: bool = True, spawn: bool = True,
                        auth: dict[str, str] | None = None) -> AsyncIterator[Fleet]:
    metrics = Metrics()
    async with open_csms(port=0, auth=auth) as csms, trio.open_nursery() as nursery:
        stations: dict[str, Station] = {}
        for i in range(1, n + 1):
            sid = f"CS{i:03d}"
            station = Station(sid, csms.url, profile=MANUAL, password=(auth or {}).get(sid), observer=metrics,
                              seed=i, auto_connect=connect)
            await nursery.start(station.run)
            stations[sid] = station

        async def spawn_stations(profile: str, ids: list[str], connect_now: bool) -> dict[str, Any]:
            kind = _shipped_profile(profile)
            made = {}
            for sid in ids:
                station = Station(sid, csms.url, profile=kind, observer=metrics, auto_connect=connect_now)
                await nursery.start(station.run)
                made[sid] = station
            return made

        backend = LocalBackend(stations, csms, metrics=metrics, spawn=spawn_stations if spawn else None,
                               phase=lambda: "running")
        server = await nursery.start(serve_control, backend)
        if connect:
            await wait_until(lambda: all(s.state == "available" for s in stations.values()), timeout=10)
        async with open_trio_client(server.url) as client:
            yield Fleet(csms, stations, backend, server, client, nursery)
        for station in backend.stations.values():
            await station.shutdown()
        nursery.cancel_scope.cancel()


# ---------------------------------------------------------------- reading


async def test_info_lists_every_command() -> None:
    async with running_fleet(1, connect=False) as fleet:
        info = await fleet.request("info")
        assert isinstance(info, ServerInfo)
        assert info.kind == "fleet" and info.csms and info.stations == 1
        assert set(info.commands) == set(COMMANDS)


async def _charge(fleet: Fleet, station_id: str, id_token: str = "TAG-1") -> TransactionRecord:
    """Plug a vehicle in and start a transaction; return it as the CSMS recorded it."""
    await fleet.request("plug", station_id=station_id, evse_id=1)
    await fleet.request("start_transaction", station_id=station_id, evse_id=1, id_token=id_token)
    # (the station charges once it sent the event with the token; the CSMS may record it a moment later)
    await wait_until(lambda: any(t.started and t.id_token == id_token for t in fleet.transactions(station_id)))
    await wait_until(lambda: fleet.stations[station_id].state == "charging")
    [tx] = fleet.transactions(station_id)
    return tx


async def test_snapshot_rows_states_metrics_and_paging() -> None:
    async with running_fleet(3) as fleet:
        await fleet.request("send", station_id="CS001", action="Heartbeat", payload={})
        tx = await _charge(fleet, "CS002")
        snap = await fleet.request("snapshot")
        assert isinstance(snap, FleetSnapshot)
        assert snap.total == 3 and snap.kind == "fleet" and snap.phase == "running"
        assert snap.states == {"available": 2, "charging": 1}
        assert snap.rows is not None and [r.id for r in snap.rows] == ["CS001", "CS002", "CS003"]
        charging = snap.rows[1]
        assert (charging.state, charging.tx_id, charging.connectors, charging.profile) == (
            "charging", tx.transaction_id, ["Occupied"], "manual")
        assert charging.power_w > 0 and charging.energy_wh >= 0
        assert snap.csms_connected == 3
        # every station booted through the metrics observer: BootNotification and Heartbeat latencies
        actions = {(a.direction, a.action): a for a in snap.actions}
        assert actions[("out", "BootNotification")].count == 3
        assert actions[("out", "Heartbeat")].count == 1 and actions[("out", "Heartbeat")].p99_ms > 0
        assert actions[("out", "TransactionEvent")].count >= 1
        assert snap.completed == sum(a.count for a in snap.actions if a.direction == "out")
        page = await fleet.request("snapshot", offset=1, limit=1)
        assert [r.id for r in page.rows] == ["CS002"] and page.total == 3
        bare = await fleet.request("snapshot", rows=False)
        assert bare.rows is None and bare.states == snap.states


async def test_station_detail_and_unknown_station() -> None:
    async with running_fleet(1) as fleet:
        tx = await _charge(fleet, "CS001", "TAG1")
        detail = await fleet.request("station", station_id="CS001")
        assert isinstance(detail, StationDetail)
        assert detail.row.id == "CS001" and detail.url == fleet.csms.url
        assert [(e.id, [(c.id, c.status) for c in e.connectors]) for e in detail.evses] == [(1, [(1, "Occupied")])]
        assert detail.evses[0].transaction is not None and detail.evses[0].transaction.id == tx.transaction_id
        assert detail.evses[0].transaction.id_token == tx.id_token == "TAG1"
        assert {(v.component, v.variable) for v in detail.variables} >= {("OCPPCommCtrlr", "HeartbeatInterval")}
        assert (await fleet.error("station", station_id="nope")).code == "not_found"


async def test_csms_only_backend_reports_the_csms_records() -> None:
    async with running_fleet(2) as fleet:
        backend = LocalBackend(csms=fleet.csms)
        assert backend.kind == "csms"
        snap = await backend.snapshot()
        assert snap.kind == "csms" and snap.total == 2
        assert snap.states == {"available": 2}
        assert {a.action for a in snap.actions} >= {"BootNotification"}
        detail = await backend.station("CS001")
        assert detail.row.state == "available"
        model = MANUAL.identity.model
        assert ("ChargingStation", "model", model) in {(v.component, v.variable, v.value) for v in detail.variables}
        info = await backend.info()
        assert "plug" not in info.commands and "csms_send" in info.commands
        await fleet.stations["CS002"].close()
        await wait_until(lambda: not fleet.csms.is_connected("CS002"))
        snap = await backend.snapshot()
        assert snap.states == {"available": 1, "offline": 1}


# ---------------------------------------------------------------- station commands, seen by the CSMS


async def test_plug_transactions_and_unplug_reach_the_csms() -> None:
    async with running_fleet(2) as fleet:
        def ack(reply: Any) -> None:
            assert isinstance(reply, Ack) and reply.ok and reply.station_id == "CS001"

        ack(await fleet.request("plug", station_id="CS001", evse_id=1, connector_id=1))
        await wait_until(lambda: fleet.connector("CS001") == "Occupied")
        ack(await fleet.request("unplug", station_id="CS001"))
        await wait_until(lambda: fleet.connector("CS001") == "Available")

        before = {t.transaction_id for t in fleet.transactions("CS001")}  # plugging in may start one (TxStartPoint)
        ack(await fleet.request("plug", station_id="CS001"))
        ack(await fleet.request("start_transaction", station_id="CS001", id_token="TAG9"))

        def authorized() -> list[TransactionRecord]:
            return [t for t in fleet.transactions("CS001") if t.transaction_id not in before and t.id_token == "TAG9"]

        await wait_until(lambda: bool(authorized()) and authorized()[0].started)
        [tx] = authorized()
        assert (tx.evse_id, tx.connector_id, tx.ended) == (1, 1, False)
        ack(await fleet.request("stop_transaction", station_id="CS001", reason="Local"))
        await wait_until(lambda: authorized()[0].ended)
        assert authorized()[0].stopped_reason == "Local"
        ack(await fleet.request("unplug", station_id="CS001"))
        await wait_until(lambda: fleet.connector("CS001") == "Available")

        # the other station saw none of it
        other = fleet.record("CS002")
        assert other.transactions == {} and other.connections == 1 and "TransactionEvent" not in other.messages
        for command in ("plug", "close", "reset", "connect", "unplug", "start_transaction", "stop_transaction"):
            assert (await fleet.error(command, station_id="CS404")).code == "not_found"


async def test_reset_reboots_the_station_as_the_csms_sees_it() -> None:
    async with running_fleet(1) as fleet:
        first = fleet.record("CS001")
        assert first.boot is not None and first.boot.reason == "PowerUp" and first.connections == 1
        assert (await fleet.request("reset", station_id="CS001", reset_type="OnIdle")).ok
        await wait_until(lambda: (fleet.record("CS001").boot or first.boot).reason == "LocalReset")
        record = fleet.record("CS001")
        assert record.connections == 2 and record.connected and record.messages["BootNotification"] == 2
        assert record.boot is not None and record.boot.at > first.boot.at


async def test_retry_backoff_lands_in_the_device_model_the_csms_reads() -> None:
    async with running_fleet(1) as fleet:
        ack = await fleet.request("set_retry_backoff", station_id="CS001", minimum=2, repeat=3, random_range=0)
        assert isinstance(ack, Ack) and ack.ok
        names = ("RetryBackOffWaitMinimum", "RetryBackOffRepeatTimes", "RetryBackOffRandomRange")
        reply = await fleet.request("csms_send", station_id="CS001", action="GetVariables", payload={
            "getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": n}} for n in names]})
        assert reply.outcome == "response"
        values = {r["variable"]["name"]: r.get("attributeValue") for r in reply.response["getVariableResult"]}
        assert values == {"RetryBackOffWaitMinimum": "2", "RetryBackOffRepeatTimes": "3",
                          "RetryBackOffRandomRange": "0"}


async def test_close_and_connect_with_a_new_password_as_the_csms_sees_them() -> None:
    async with running_fleet(1, auth={"CS001": "first-secret-0001"}) as fleet:
        assert (await fleet.request("close", station_id="CS001")).ok
        await wait_until(lambda: not fleet.csms.is_connected("CS001"))
        assert fleet.record("CS001").connections == 1
        # the CSMS now wants another password: the station gets in with it, and only with it
        fleet.csms.set_station_password("CS001", "second-secret-0002")
        refused = fleet.csms.statistics().refused.get("401", 0)
        await fleet.request("connect", station_id="CS001", password="wrong-secret-0003")
        await wait_until(lambda: fleet.csms.statistics().refused.get("401", 0) > refused,
                         what="the CSMS refusing the wrong password with 401")
        assert not fleet.csms.is_connected("CS001") and fleet.record("CS001").connections == 1
        await fleet.request("connect", station_id="CS001", password="second-secret-0002")
        await wait_until(lambda: fleet.csms.is_connected("CS001"))
        assert fleet.record("CS001").connections == 2


async def test_station_command_failures_become_error_replies() -> None:
    async with running_fleet(1) as fleet:
        error = await fleet.error("plug", station_id="CS001", evse_id=2)  # the station has one EVSE
        assert error.code == "bad_request" and "EVSE 2" in error.message
        assert (await fleet.error("set_retry_backoff", station_id="CS001")).code == "bad_request"
        await fleet.stations["CS001"].shutdown()  # a station that no longer runs refuses commands
        assert (await fleet.error("start_transaction", station_id="CS001")).code == "conflict"
    # A LookupError raised by a station becomes not_found; a real station raises none (see standins.py).
    backend = LocalBackend({"S": LookupFailingStation("S")})
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_control, backend)
        async with open_trio_client(server.url) as client:
            with pytest.raises(ControlRequestError) as caught:
                await client.request("plug", station_id="S", evse_id=2)
            assert caught.value.code == "not_found"
        nursery.cancel_scope.cancel()


async def test_connect_with_a_new_station_id_renames_it() -> None:
    async with running_fleet(1, connect=False) as fleet:
        ack = await fleet.request("connect", station_id="CS001", new_station_id="CS001B")
        assert ack.station_id == "CS001B"
        assert "CS001B" in fleet.backend.stations and "CS001" not in fleet.backend.stations
        await wait_until(lambda: fleet.csms.is_connected("CS001B"))
        assert fleet.csms.station("CS001") is None
        fleet.backend.stations["OTHER"] = Station("OTHER", fleet.csms.url, profile=MANUAL, auto_connect=False)
        assert (await fleet.error("connect", station_id="CS001B", new_station_id="OTHER")).code == "conflict"
        del fleet.backend.stations["OTHER"]


async def test_add_and_remove_stations() -> None:
    async with running_fleet(1) as fleet:
        added = await fleet.request("add_stations", profile="profiles/home-wallbox.toml", count=3)
        assert isinstance(added, AddStationsResult)
        assert added.station_ids == ["home-wallbox-00001", "home-wallbox-00002", "home-wallbox-00003"]
        await wait_until(lambda: all(fleet.csms.is_connected(s) for s in added.station_ids))
        again = await fleet.request("add_stations", profile="dc-fast", count=1, prefix="CS", connect=False)
        assert again.station_ids == ["CS00001"]
        await trio.sleep(0.2)  # time passing is the point: proves the station does not connect on its own
        assert fleet.csms.station("CS00001") is None  # not connected: the CSMS never heard of it
        snap = await fleet.request("snapshot")
        assert snap.total == 5 and {r.profile for r in snap.rows} == {"manual", "profiles/home-wallbox.toml", "dc-fast"}
        removed = await fleet.request("remove_stations", station_ids=["home-wallbox-00002", "ghost"])
        assert isinstance(removed, RemoveStationsResult)
        assert (removed.removed, removed.missing) == (["home-wallbox-00002"], ["ghost"])
        await wait_until(lambda: not fleet.csms.is_connected("home-wallbox-00002"))
        assert (await fleet.request("snapshot", rows=False)).total == 4
        assert (await fleet.error("add_stations", profile="missing")).code == "bad_request"
        assert (await fleet.error("add_stations", profile="x", count=0)).code == "bad_request"
        assert (await fleet.error("remove_stations", station_ids=[])).code == "bad_request"


async def test_add_stations_unsupported_without_spawn() -> None:
    async with running_fleet(1, connect=False, spawn=False) as fleet:
        assert (await fleet.error("add_stations", profile="p")).code == "unsupported"


# ---------------------------------------------------------------- sending OCPP


async def test_send_as_a_station() -> None:
    async with running_fleet(1) as fleet:
        reply = await fleet.request("send", station_id="CS001", action="Heartbeat", payload={},
                                    message_id="my-id-1", tag={"run": 7, "note": "hb"})
        assert isinstance(reply, SendResult)
        assert (reply.outcome, reply.message_id, reply.tag, reply.error) == ("response", "my-id-1",
                                                                           {"run": 7, "note": "hb"}, None)
        assert "currentTime" in reply.response
        boot = await fleet.request("send", station_id="CS001", action="BootNotification", payload={
            "chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"})
        assert boot.response["status"] == "Accepted" and len(boot.message_id) == 36

        invalid = await fleet.error("send", station_id="CS001", action="Heartbeat", payload={"bogus": 1})
        assert invalid.code == "invalid_payload" and "bogus" in invalid.message
        missing = await fleet.error("send", station_id="CS001", action="Authorize", payload={})
        assert missing.code == "invalid_payload" and "idToken" in missing.message
        assert (await fleet.error("send", station_id="CS001", action="Teleport")).code == "unknown_action"
        assert (await fleet.error("send", station_id="CS404", action="Heartbeat")).code == "not_found"


async def test_send_returns_the_callerror_with_its_tag() -> None:
    async with running_fleet(1) as fleet:
        def refuse(request: Any, ctx: Any) -> Any:
            raise OcppError(ErrorCode.SECURITY_ERROR, "not from you", {"why": "test"})

        fleet.csms.on("DataTransfer", refuse)
        reply = await fleet.request("send", station_id="CS001", action="DataTransfer",
                                    payload={"vendorId": "fleet"}, tag="t-1")
        assert reply.outcome == "callerror" and reply.tag == "t-1" and reply.response is None
        assert (reply.error.code, reply.error.description, reply.error.details) == (
            "SecurityError", "not from you", {"why": "test"})


async def test_send_on_a_closed_station_reports_connection_lost() -> None:
    async with running_fleet(1) as fleet:
        await fleet.request("close", station_id="CS001")
        reply = await fleet.request("send", station_id="CS001", action="Heartbeat", payload={})
        assert reply.outcome == "connection_lost"


async def test_csms_send_and_pending_requests() -> None:
    async with running_fleet(1) as fleet:
        station = fleet.stations["CS001"]
        reply = await fleet.request("csms_send", station_id="CS001", action="Reset",
                                    payload={"type": "Immediate"}, tag=[1, 2])
        assert (reply.outcome, reply.response, reply.tag) == ("response", {"status": "Accepted"}, [1, 2])
        # the station rebooted: the CSMS sees it come back
        await wait_until(lambda: getattr(fleet.record("CS001").boot, "reason", None) == "RemoteReset")
        assert fleet.record("CS001").connections == 2
        await wait_until(lambda: station.state == "available")

        @station.on("ClearCache")
        def refuse(request: Any, ctx: Any) -> Any:
            raise OcppError(ErrorCode.NOT_SUPPORTED, "no cache here")

        unsupported = await fleet.request("csms_send", station_id="CS001", action="ClearCache", payload={})
        assert unsupported.outcome == "callerror" and unsupported.error.code == "NotSupported"
        assert (await fleet.error("csms_send", station_id="CS404", action="ClearCache")).code == "not_connected"
        assert (await fleet.error("csms_send", station_id="CS001", action="Reset", payload={"type": "Later"})
                ).code == "invalid_payload"

        answer = station.default_handler("TriggerMessage")
        release = trio.Event()

        @station.on("TriggerMessage")
        async def slowly(request: Any, ctx: Any) -> Any:
            await release.wait()  # the answer waits until the test has seen the request pending
            result = answer(request, ctx)
            return await result if inspect.isawaitable(result) else result

        heartbeats = fleet.record("CS001").messages.get("Heartbeat", 0)
        results: list[SendResult] = []

        async def trigger() -> None:
            results.append(await fleet.request("csms_send", station_id="CS001", action="TriggerMessage",
                                               payload={"requestedMessage": "Heartbeat"}, message_id="trig-1",
                                               tag="slow"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trigger)
            await wait_until(lambda: bool(fleet.csms.pending_requests()))
            pending = await fleet.request("csms_pending")
            assert isinstance(pending, CsmsPendingResult)
            assert [(p.station_id, p.message_id, p.action, p.tag) for p in pending.pending] == [
                ("CS001", "trig-1", "TriggerMessage", "slow")]
            assert (await fleet.request("csms_pending", station_id="CS002")).pending == []
            release.set()
        assert results[0].outcome == "response" and results[0].tag == "slow"
        assert results[0].response == {"status": "Accepted"}
        assert (await fleet.request("csms_pending")).pending == []
        await wait_until(lambda: fleet.record("CS001").messages.get("Heartbeat", 0) == heartbeats + 1)  # triggered


async def test_csms_connections() -> None:
    async with running_fleet(2) as fleet:
        result = await fleet.request("csms_connections")
        assert isinstance(result, CsmsConnectionsResult)
        assert sorted(c.station_id for c in result.connections) == ["CS001", "CS002"]
        assert all(c.ocpp_version == "2.0.1" and c.connected_at > 0 for c in result.connections)


async def test_auth_list_commands_never_reveal_passwords() -> None:
    async with running_fleet(1, auth={"CS001": "first-secret"}) as fleet:
        auth = await fleet.request("get_auth_list")
        assert auth == AuthList(enabled=True, station_ids=["CS001"])
        cs = await fleet.request("get_auth_cs", station_id="CS001")
        assert cs == AuthCs("CS001", has_password=True, auth_enabled=True)
        assert not (await fleet.request("get_auth_cs", station_id="CS002")).has_password
        await fleet.request("set_auth_cs", station_id="CS002", password="second-secret")
        assert fleet.csms.get_station_password("CS002") == "second-secret"
        await fleet.request("set_auth_list", auth={"A1": "pa-secret", "B2": "pb-secret"})
        assert (await fleet.request("get_auth_list")).station_ids == ["A1", "B2"]
        await fleet.request("set_auth_cs", station_id="A1", password=None)
        assert (await fleet.request("get_auth_list")).station_ids == ["B2"]
        assert (await fleet.error("set_auth_list", auth={"": "x"})).code == "bad_request"
        big = {f"ST{i:05d}": f"password-{i:05d}" for i in range(20_000)}  # about 1 MB: within bounds
        assert (await fleet.request("set_auth_list", auth=big)).ok
        assert len((await fleet.request("get_auth_list")).station_ids) == 20_000
        await fleet.request("set_auth_list", auth=None)
        assert await fleet.request("get_auth_list") == AuthList(enabled=False)
        assert (await fleet.error("set_auth_cs", station_id="A1", password="pw-secret")).code == "conflict"

        # the raw replies of the readers carry no secret
        async with open_websocket_url(fleet.server.url) as ws:
            await fleet.request("set_auth_list", auth={"CS001": "first-secret"})
            for i, command in enumerate(("get_auth_list", "get_auth_cs")):
                await ws.send_message(msgspec.json.encode({"type": command, "id": i, "station_id": "CS001"}
                                                          if command == "get_auth_cs" else {"type": command, "id": i}
                                                          ).decode())
                text = await ws.get_message()
                assert "secret" not in text and '"type":"result"' in text


def _idle_station(station_id: str = "S") -> Station:
    """A real station that is never started (for servers whose stations are not the point)."""
    return Station(station_id, "ws://127.0.0.1:9/ocpp", profile=MANUAL, auto_connect=False)


async def test_csms_commands_unsupported_without_a_csms() -> None:
    backend = LocalBackend({"S": _idle_station()})
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_control, backend)
        async with open_trio_client(server.url) as client:
            info = await client.request("info")
            assert "csms_send" not in info.commands and not info.csms
            for command, fields in (("csms_connections", {}), ("csms_pending", {}), ("get_auth_list", {}),
                                    ("set_auth_list", {"auth": None}), ("get_auth_cs", {"station_id": "S"}),
                                    ("set_auth_cs", {"station_id": "S", "password": "p"}),
                                    ("csms_send", {"station_id": "S", "action": "Reset",
                                                   "payload": {"type": "Immediate"}})):
                with pytest.raises(ControlRequestError) as caught:
                    await client.request(command, **fields)
                assert caught.value.code == "unsupported", command
        nursery.cancel_scope.cancel()


# ---------------------------------------------------------------- subscriptions


async def test_subscribe_pushes_events_with_raw_frames_until_unsubscribed() -> None:
    async with running_fleet(1) as fleet:
        sub = await fleet.request("subscribe", station_id="CS001")
        assert isinstance(sub, SubscribeResult) and sub.station_id == "CS001"
        await fleet.request("send", station_id="CS001", action="Heartbeat", payload={}, message_id="hb-7", tag="x")
        events = fleet.client.events()

        async def frames_of(message_id: str, count: int) -> list[Any]:
            """The next ``count`` events of message ``message_id`` (the station's own traffic,
            a status or a heartbeat of its timer, may come in between)."""
            found: list[Any] = []
            with trio.fail_after(5):
                while len(found) < count:
                    event = await events.receive()
                    if event.frame is not None and len(event.frame) > 1 and event.frame[1] == message_id:
                        found.append(event)
            return found

        request, response = await frames_of("hb-7", 2)
        assert (request.kind, request.direction, request.action, request.frame) == (
            "request", "out", "Heartbeat", [2, "hb-7", "Heartbeat", {}])
        assert response.kind == "response" and response.frame[:2] == [3, "hb-7"] and response.tag == "x"
        assert response.source == "station" and "currentTime" in response.payload

        # the CSMS side of the same station
        csms_sub = await fleet.request("subscribe", station_id="CS001", source="csms")
        await fleet.request("csms_send", station_id="CS001", action="GetLocalListVersion", payload={},
                            message_id="list-1")
        seen = await frames_of("list-1", 4)
        assert {(e.source, e.direction, e.kind) for e in seen} == {
            ("csms", "out", "request"), ("csms", "in", "response"),
            ("station", "in", "request"), ("station", "out", "response")}

        await fleet.request("unsubscribe", subscription=sub.subscription)
        await fleet.request("unsubscribe", station_id="CS001")
        assert (await fleet.error("unsubscribe", subscription=csms_sub.subscription)).code == "not_found"
        assert (await fleet.error("unsubscribe")).code == "bad_request"
        while True:  # what was pushed before the unsubscribes were answered (it came first, in order)
            try:
                events.receive_nowait()
            except trio.WouldBlock:
                break
        await fleet.request("send", station_id="CS001", action="Heartbeat", payload={})
        await trio.sleep(0.2)  # time passing is the point: proves no event comes after the unsubscribes
        with pytest.raises(trio.WouldBlock):
            events.receive_nowait()
        assert (await fleet.error("subscribe", station_id="ghost", source="station")).code == "not_found"


async def test_subscribe_to_connection_events_and_all_csms_stations() -> None:
    async with running_fleet(1, connect=False) as fleet:
        await fleet.request("subscribe", station_id="CS001")
        await fleet.request("subscribe")  # every station, as the CSMS sees them
        await fleet.request("connect", station_id="CS001")
        kinds = []
        with trio.fail_after(5):
            async for event in fleet.client.events():
                kinds.append((event.source, event.kind))
                if ("csms", "connected") in kinds and ("station", "connected") in kinds:
                    break


# ---------------------------------------------------------------- bad input


async def test_malformed_and_unknown_commands_get_error_replies() -> None:
    async with running_fleet(1, connect=False) as fleet, open_websocket_url(fleet.server.url) as ws:
        async def reply_to(text: str | bytes) -> dict[str, Any]:
            await ws.send_message(text)
            with trio.fail_after(5):
                return msgspec.json.decode(await ws.get_message())  # type: ignore[no-any-return]

        cases: list[tuple[str | bytes, str, Any]] = [
            ("{not json", "bad_request", None),
            (b"\xff\xfe", "bad_request", None),
            ("[1, 2]", "bad_request", None),
            ('"snapshot"', "bad_request", None),
            ('{"id": 1}', "bad_request", 1),
            ('{"type": "teleport", "id": "a"}', "unknown_command", "a"),
            ('{"type": 4, "id": 2}', "unknown_command", 2),
            ('{"type": "station", "id": 3}', "bad_request", 3),
            ('{"type": "plug", "id": 4, "station_id": 5}', "bad_request", 4),
            ('{"type": "plug", "id": 5, "station_id": "CS001", "evse": 1}', "bad_request", 5),
            ('{"type": "send", "id": 6, "station_id": "CS001", "action": "Heartbeat", "payload": []}',
             "bad_request", 6),
            ('{"type": "snapshot", "id": [1]}', "bad_request", None),
            ('{"type": "station", "id": 7, "station_id": ""}', "bad_request", 7),
        ]
        for text, code, rid in cases:
            reply = await reply_to(text)
            assert reply["type"] == "error" and reply["code"] == code, (text, reply)
            assert reply["id"] == rid and reply["message"], (text, reply)
        missing = await reply_to('{"type": "station", "id": 3}')
        assert "station_id" in missing["message"]
        unknown = await reply_to('{"type": "teleport"}')
        assert "snapshot" in unknown["message"]  # lists the commands
        ok = await reply_to('{"type": "info", "id": "still-alive"}')
        assert ok["type"] == "result" and ok["id"] == "still-alive"


async def test_oversized_message_closes_the_connection_but_not_the_server() -> None:
    async with running_fleet(1, connect=False) as fleet:
        async with open_websocket_url(fleet.server.url) as ws:
            await ws.send_message('{"type":"info","pad":"' + "x" * MAX_MESSAGE_SIZE + '"}')
            with pytest.raises(ConnectionClosed) as closed, trio.fail_after(5):
                await ws.get_message()
            assert closed.value.reason is not None and closed.value.reason.code == 1009
        assert (await fleet.request("info")).kind == "fleet"


async def test_many_commands_in_flight_are_answered_by_id() -> None:
    async with running_fleet(2) as fleet:
        results: dict[int, Any] = {}

        async def one(i: int) -> None:
            sid = f"CS00{i % 2 + 1}"
            results[i] = await fleet.request("send", station_id=sid, action="Heartbeat", payload={}, tag=i)

        async with trio.open_nursery() as nursery:
            for i in range(100):
                nursery.start_soon(one, i)
        assert sorted(results) == list(range(100))
        assert all(r.tag == i and r.outcome == "response" for i, r in results.items())


# ---------------------------------------------------------------- token


def test_a_token_is_required_beyond_loopback() -> None:
    backend = LocalBackend({})
    for host in ("0.0.0.0", "192.168.1.20", "::", "example.org"):
        with pytest.raises(ValueError, match="token"):
            ControlServer(backend, host)
        ControlServer(backend, host, token="t0ken")  # accepted (nothing is bound here)
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost", "[::1]"):
        assert is_loopback(host)
        ControlServer(backend, host)
    assert not is_loopback("0.0.0.0")


async def test_token_checked_at_the_handshake() -> None:
    backend = LocalBackend({"S": _idle_station()})
    async with trio.open_nursery() as nursery:
        server = ControlServer(backend, "127.0.0.1", 0, token="s3cret-token")
        await nursery.start(server.run)
        for token in (None, "wrong", "s3cret-toke"):
            with pytest.raises(ControlConnectionError, match="401"):
                async with open_trio_client(server.url, token):
                    pass
        with pytest.raises(ControlConnectionError, match="401"):
            async with open_trio_client(server.url, "nope", use_query_token=True):
                pass
        async with open_trio_client(server.url, "s3cret-token") as client:
            assert (await client.request("info")).stations == 1
        async with open_trio_client(server.url, "s3cret-token", use_query_token=True) as client:
            assert (await client.request("info")).stations == 1
        with pytest.raises(ConnectionRejected) as rejected:
            async with open_websocket_url(server.url, extra_headers=[(b"authorization", b"Basic czM=")]):
                pass
        assert rejected.value.status_code == 401
        nursery.cancel_scope.cancel()


async def test_client_requests_fail_cleanly_when_the_server_goes_away() -> None:
    backend = LocalBackend({})
    server_scope = trio.CancelScope()

    async def run_server(*, task_status: trio.TaskStatus[ControlServer]) -> None:
        with server_scope:
            await serve_control(backend, task_status=task_status)

    async with trio.open_nursery() as nursery:
        server = await nursery.start(run_server)
        async with open_trio_client(server.url) as client:
            assert (await client.request("info")).stations == 0
            server_scope.cancel()

            async def answered() -> bool:
                await client.request("info")
                return False  # still answered: ask again

            with pytest.raises(ControlConnectionError):
                await wait_until(answered, what="a request failing with ControlConnectionError", period=0.05)
        with pytest.raises(ControlConnectionError):
            async with open_trio_client(server.url):
                pass
        nursery.cancel_scope.cancel()


# ---------------------------------------------------------------- the real station actor


async def test_the_real_station_actor_through_the_control_api() -> None:
    from fleet.actors.station import Station

    secret = "real-station-secret-0001"
    metrics = Metrics()
    async with open_csms(port=0, auth={"RS001": secret}) as csms, trio.open_nursery() as nursery:
        station = Station("RS001", csms.url, password=secret, observer=metrics, seed=7)
        await nursery.start(station.run)
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.state == "available")
        backend = LocalBackend({"RS001": station}, csms, metrics=metrics)
        server = await nursery.start(serve_control, backend)
        async with open_trio_client(server.url) as client:
            row = (await client.request("snapshot")).rows[0]
            assert (row.id, row.state, row.connectors) == ("RS001", "available", ["Available"])
            assert row.profile == station.profile.name

            await client.request("plug", station_id="RS001", evse_id=1)
            await client.request("start_transaction", station_id="RS001", evse_id=1)
            with trio.fail_after(10):
                await station.wait_until(lambda s: s.state == "charging")
            detail = await client.request("station", station_id="RS001")
            tx = detail.evses[0].transaction
            assert detail.row.state == "charging" and tx is not None and tx.id == detail.row.tx_id
            assert tx.id_token == "FLEETCONTROL" and tx.power_w > 0
            names = {(v.component, v.variable): v.value for v in detail.variables}
            assert names[("SecurityCtrlr", "Identity")] == "RS001"
            assert ("SecurityCtrlr", "BasicAuthPassword") in names
            async with open_websocket_url(server.url) as ws:  # the password never leaves the station
                await ws.send_message('{"type": "station", "id": 1, "station_id": "RS001"}')
                assert secret not in await ws.get_message()

            await client.request("set_retry_backoff", station_id="RS001", minimum=1, repeat=1, random_range=0)
            await client.request("stop_transaction", station_id="RS001", evse_id=1)
            await client.request("unplug", station_id="RS001", evse_id=1)
            with trio.fail_after(10):
                await station.wait_until(lambda s: s.state == "available" and not s.evses[0].transaction_id)

            await client.request("subscribe", station_id="RS001")
            reply = await client.request("send", station_id="RS001", action="Heartbeat", payload={}, tag="real")
            assert reply.outcome == "response" and reply.tag == "real"
            got = await client.request("csms_send", station_id="RS001", action="GetVariables", payload={
                "getVariableData": [{"component": {"name": "SecurityCtrlr"}, "variable": {"name": "Identity"}}]})
            assert got.response["getVariableResult"][0]["attributeValue"] == "RS001"
            kinds = []
            with trio.fail_after(5):
                async for event in client.events():
                    kinds.append((event.direction, event.kind, event.action))
                    if ("in", "request", "GetVariables") in kinds and ("out", "response", "GetVariables") in kinds:
                        break
            assert ("out", "request", "Heartbeat") in kinds

            await client.request("close", station_id="RS001")
            with trio.fail_after(10):
                await station.wait_until(lambda s: s.state == "closed" or not s.connected)
            await client.request("connect", station_id="RS001")
            with trio.fail_after(10):
                await station.wait_until(lambda s: s.state == "available")
            assert (await client.request("snapshot")).rows[0].reconnects >= 1
        await station.shutdown()
        nursery.cancel_scope.cancel()
