"""The registry of control commands (:mod:`fleet.control.commands`).

Every command has exactly one route and handler; every field of every command reaches
the station, the CSMS or the backend method that carries it out (a recording stand-in
of each says what it received); a field a command does not have is refused; and, with
real stations, the real CSMS and the control API over a websocket, a command for
connector 2 of a two-connector EVSE ends on connector 2.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, get_args

import msgspec
import pytest
import trio
from fleet_runs import controlled_run, write_fleet_file

from fleet.actors.csms import open_csms
from fleet.actors.csms.dialects import DIALECTS
from fleet.actors.station import Station
from fleet.control import ControlRequestError, LocalBackend, open_trio_client, serve_control
from fleet.control import messages as m
from fleet.control.client import TrioControlClient
from fleet.control.commands import CONNECTION_COMMANDS, REGISTRY, OnBackend, OnCsms, OnStation
from fleet.control.messages import COMMANDS, RESULT_TYPES, Command, StationDetail, command_decoder
from fleet.profiles import ConnectorProfile, EvseProfile, SessionGenerator, StationProfile
from fleet.run.fleetfile import load_fleet
from fleet.run.supervisor import RunOptions

PAYLOAD = {"vendorId": "fleet-test", "messageId": "M-7", "data": "d-7"}

#: One instance of each command, every field set to a value of its own (none is a default).
SAMPLES: dict[type, Any] = {
    m.Info: m.Info(),
    m.Snapshot: m.Snapshot(rows=False, offset=3, limit=5),
    m.Station: m.Station(station_id="S2"),
    m.Connect: m.Connect(station_id="S2", url="ws://127.0.0.1:1/x", password="pw-connect-1", new_station_id="S9"),
    m.Close: m.Close(station_id="S2"),
    m.SetRetryBackoff: m.SetRetryBackoff(station_id="S2", minimum=4, repeat=5, random_range=6),
    m.Plug: m.Plug(station_id="S2", evse_id=3, connector_id=2),
    m.Unplug: m.Unplug(station_id="S2", evse_id=3, connector_id=2),
    m.StartTransaction: m.StartTransaction(station_id="S2", evse_id=3, connector_id=2, id_token="TOK-7"),
    m.StopTransaction: m.StopTransaction(station_id="S2", evse_id=3, reason="Remote"),
    m.Reset: m.Reset(station_id="S2", reset_type="OnIdle"),
    m.AddStations: m.AddStations(profile="some-profile", count=4, prefix="Q", connect=False),
    m.RemoveStations: m.RemoveStations(station_ids=["S1", "S2"]),
    m.Send: m.Send(station_id="S2", action="DataTransfer", payload=PAYLOAD, message_id="mid-1", tag="tag-1",
                   timeout=7.5),
    m.CsmsConnections: m.CsmsConnections(),
    m.CsmsPending: m.CsmsPending(station_id="S2"),
    m.GetAuthList: m.GetAuthList(),
    m.SetAuthList: m.SetAuthList(auth={"S2": "pw-list-0001"}),
    m.GetAuthCs: m.GetAuthCs(station_id="S2"),
    m.SetAuthCs: m.SetAuthCs(station_id="S2", password="pw-cs-0002"),
    m.CsmsSend: m.CsmsSend(station_id="S2", action="DataTransfer", payload=PAYLOAD, message_id="mid-2", tag="tag-2",
                           timeout=8.5),
    m.Disconnect: m.Disconnect(station_ids=["S2"], share=0.5, seed=11),
    m.Partition: m.Partition(duration=12.5, station_ids=["S2"], share=0.25, seed=13),
    m.RestartCsms: m.RestartCsms(downtime=2.5),
    m.SetBootStatus: m.SetBootStatus(status="Pending", station_ids=["S2"]),
}


class Recorder:
    """Records every call it gets: ``calls`` is a list of (method, its arguments)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Any]]] = []

    def record(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((method, [*args, *kwargs.values()]))

    def received(self) -> set[bytes]:
        """Every argument received, as JSON (``False`` and ``0`` stay apart)."""
        return {m.encode(value) for _, values in self.calls for value in values}


class RecordingStation(Recorder):
    """A :class:`~fleet.control.handles.StationHandle` that records what it is asked."""

    profile = StationProfile()
    ocpp_version = "2.0.1"

    async def connect(self, url: str | None = None, password: str | None = None, station_id: str | None = None) -> None:
        self.record("connect", url, password, station_id)

    async def close(self) -> None:
        self.record("close")

    async def set_retry_backoff(self, wait_minimum: int | None = None, repeat_times: int | None = None,
                                random_range: int | None = None) -> None:
        self.record("set_retry_backoff", wait_minimum, repeat_times, random_range)

    async def plug(self, evse_id: int, connector_id: int = 1) -> None:
        self.record("plug", evse_id, connector_id)

    async def unplug(self, evse_id: int, connector_id: int | None = None) -> None:
        self.record("unplug", evse_id, connector_id)

    async def start_transaction(self, evse_id: int, id_token: str, *, token_type: str = "ISO14443",
                                authorize: bool = True, connector_id: int | None = None) -> None:
        self.record("start_transaction", evse_id, id_token, connector_id=connector_id)

    async def stop_transaction(self, evse_id: int, reason: str = "Local") -> None:
        self.record("stop_transaction", evse_id, reason)

    async def reset(self, type: str = "Immediate", reason: str = "LocalReset") -> None:
        self.record("reset", type)

    async def call(self, request: Any, *, action: str | None = None, message_id: str | None = None, tag: Any = None,
                   timeout: float | None = None) -> Any:
        self.record("call", request, action=action, message_id=message_id, tag=tag, timeout=timeout)
        return {}

    async def drop_connection(self, reason: str = "") -> bool:
        self.record("drop_connection")
        return True

    async def partition(self, duration: float) -> bool:
        self.record("partition", duration)
        return True


class RecordingCsms(Recorder):
    """A :class:`~fleet.control.handles.CsmsHandle` that records what it is asked."""

    def connections(self) -> list[Any]:
        self.record("connections")
        return []

    def pending_requests(self, station_id: str | None = None) -> list[Any]:
        self.record("pending_requests", station_id)
        return []

    def is_connected(self, station_id: str) -> bool:
        self.record("is_connected", station_id)
        return True

    def dialect_of(self, station_id: str) -> Any:
        self.record("dialect_of", station_id)
        return DIALECTS["2.0.1"]

    def get_auth_list(self) -> list[str] | None:
        self.record("get_auth_list")
        return []

    def set_auth_list(self, auth: dict[str, str] | None) -> None:
        self.record("set_auth_list", auth)

    def get_station_password(self, station_id: str) -> str | None:
        self.record("get_station_password", station_id)
        return None

    def set_station_password(self, station_id: str, password: str | None) -> None:
        self.record("set_station_password", station_id, password)

    async def call(self, station_id: str, request: Any, *, action: str | None = None, message_id: str | None = None,
                   tag: Any = None, timeout: float | None = None) -> Any:
        self.record("call", station_id, request, action=action, message_id=message_id, tag=tag, timeout=timeout)
        return {}


class RecordingBackend(Recorder):
    """A :class:`~fleet.control.backend.ControlBackend` whose own methods record what they are asked."""

    async def info(self) -> None:
        self.record("info")

    async def snapshot(self, *, rows: bool = True, offset: int = 0, limit: int | None = None) -> None:
        self.record("snapshot", rows=rows, offset=offset, limit=limit)

    async def station(self, station_id: str) -> None:
        self.record("station", station_id)

    async def connect(self, station_id: str, *, url: str | None = None, password: str | None = None,
                      new_station_id: str | None = None) -> None:
        self.record("connect", station_id, url=url, password=password, new_station_id=new_station_id)

    async def add_stations(self, profile: str, count: int = 1, *, prefix: str | None = None,
                           connect: bool = True) -> None:
        self.record("add_stations", profile, count, prefix=prefix, connect=connect)

    async def remove_stations(self, station_ids: list[str]) -> None:
        self.record("remove_stations", station_ids)

    async def disconnect(self, station_ids: list[str] | None = None, *, share: float | None = None,
                         seed: int | None = None) -> None:
        self.record("disconnect", station_ids, share=share, seed=seed)

    async def partition(self, duration: float, station_ids: list[str] | None = None, *, share: float | None = None,
                        seed: int | None = None) -> None:
        self.record("partition", duration, station_ids, share=share, seed=seed)

    async def restart_csms(self, downtime: float = 5.0) -> None:
        self.record("restart_csms", downtime)

    async def set_boot_status(self, status: str | None, station_ids: list[str] | None = None) -> None:
        self.record("set_boot_status", status, station_ids)


def _name(command: type) -> str:
    return str(command.__struct_config__.tag)  # type: ignore[attr-defined]


def test_every_command_has_exactly_one_route() -> None:
    routed = {command for command, _ in REGISTRY}
    assert routed | set(CONNECTION_COMMANDS) == set(get_args(Command))
    assert not routed & set(CONNECTION_COMMANDS)
    assert set(SAMPLES) == routed  # a new command needs a sample here, so the next test covers it
    assert set(RESULT_TYPES) == set(COMMANDS)  # and the type of its result, for the clients
    REGISTRY.check()


@pytest.mark.parametrize("command_type", [command for command, _ in REGISTRY], ids=_name)
async def test_every_field_reaches_what_carries_the_command_out(command_type: type) -> None:
    command = SAMPLES[command_type]
    route = REGISTRY.route(command)
    fields = {name: getattr(command, name) for name in command.__struct_fields__ if name != "id"}
    assert all(value is not None for value in fields.values())
    if isinstance(route, OnBackend):
        recorder: Recorder = RecordingBackend()
        await REGISTRY.run(recorder, command)  # type: ignore[arg-type]
    else:
        bystander, station, csms = RecordingStation(), RecordingStation(), RecordingCsms()
        backend = LocalBackend({"S1": bystander, "S2": station}, csms)  # type: ignore[dict-item,arg-type]
        await REGISTRY.run(backend, command)
        assert not bystander.calls, "a command for S2 reached S1"
        if isinstance(route, OnStation):
            recorder = station
            fields.pop("station_id")  # it chose the station
            assert station.calls
        else:
            assert isinstance(route, OnCsms)
            recorder = csms
            assert not station.calls
    assert recorder.calls, f"{_name(command_type)} reached nothing"
    received = recorder.received()
    lost = [name for name, value in fields.items() if m.encode(value) not in received]
    assert not lost, f"{_name(command_type)}: {lost} did not reach {type(recorder).__name__} {recorder.calls}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_unknown_field_is_refused(name: str) -> None:
    samples = {**SAMPLES, m.Subscribe: m.Subscribe(station_id="S2"), m.Unsubscribe: m.Unsubscribe(subscription="s1")}
    sample = samples[COMMANDS[name]]
    assert command_decoder().decode(m.encode(sample)) == sample
    with pytest.raises(msgspec.ValidationError, match="unknown field `connector_number`"):
        command_decoder().decode(m.encode({**msgspec.to_builtins(sample), "connector_number": 2}))


#: One EVSE with two connectors, no automatic sessions.
TWO_CONNECTORS = StationProfile(
    name="two-connectors",
    evses=[EvseProfile(connectors=[ConnectorProfile(), ConnectorProfile()])],
    sessions=SessionGenerator(enabled=False),
)


@asynccontextmanager
async def _controlled_station() -> AsyncIterator[tuple[Any, Station, TrioControlClient]]:
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        station = Station("TWO", csms.url, profile=TWO_CONNECTORS)
        await nursery.start(station.run)
        server = await nursery.start(serve_control, LocalBackend({"TWO": station}, csms))
        await station.wait_until(lambda snap: snap.state == "available")
        async with open_trio_client(server.url) as client:
            yield csms, station, client
        await station.shutdown()
        nursery.cancel_scope.cancel()


async def _csms_sees(csms: Any, wanted: dict[int, str]) -> None:
    """Wait until the CSMS's last statuses of EVSE 1's connectors are ``wanted``."""
    def statuses() -> dict[int, str]:
        record = csms.station("TWO")
        return {c.connector_id: c.status for c in record.connectors if c.evse_id == 1} if record else {}

    with trio.fail_after(10):
        while statuses() != wanted:
            await trio.sleep(0.02)


async def _error(client: TrioControlClient, command: str, **fields: Any) -> ControlRequestError:
    with pytest.raises(ControlRequestError) as caught:
        await client.request(command, **fields)
    return caught.value


async def test_plug_and_unplug_on_connector_2_end_on_connector_2() -> None:
    async with _controlled_station() as (csms, station, client):
        await _csms_sees(csms, {1: "Available", 2: "Available"})
        await client.request("plug", station_id="TWO", evse_id=1, connector_id=2)
        await _csms_sees(csms, {1: "Unavailable", 2: "Occupied"})  # one vehicle at a time per EVSE
        assert station.snapshot().evses[0].plugged == 2
        # the vehicle is on connector 2: connector 1 cannot be unplugged, nor a driver start there
        error = await _error(client, "unplug", station_id="TWO", evse_id=1, connector_id=1)
        assert error.code == "bad_request" and "connector 2" in error.message
        error = await _error(client, "start_transaction", station_id="TWO", evse_id=1, connector_id=1, id_token="T1")
        assert error.code == "bad_request" and "connector 2" in error.message
        assert (await _error(client, "unplug", station_id="TWO", connector_id=3)).code == "bad_request"
        assert station.snapshot().evses[0].plugged == 2
        await client.request("unplug", station_id="TWO", evse_id=1, connector_id=2)
        await _csms_sees(csms, {1: "Available", 2: "Available"})
        assert station.snapshot().evses[0].plugged is None


async def test_a_transaction_started_on_connector_2_runs_on_connector_2() -> None:
    async with _controlled_station() as (csms, _, client):
        await client.request("plug", station_id="TWO", connector_id=2)
        await client.request("start_transaction", station_id="TWO", connector_id=2, id_token="TAG-2")
        with trio.fail_after(10):
            while not any(t.started and t.id_token == "TAG-2" for t in csms.station("TWO").transactions.values()):
                await trio.sleep(0.02)
        [tx] = [t for t in csms.station("TWO").transactions.values() if t.id_token == "TAG-2"]
        assert (tx.evse_id, tx.connector_id) == (1, 2)


async def test_an_unknown_field_is_refused_over_the_websocket() -> None:
    async with _controlled_station() as (_, station, client):
        error = await _error(client, "plug", station_id="TWO", connector=2)
        assert error.code == "bad_request" and "unknown field `connector`" in error.message
        assert station.snapshot().evses[0].plugged is None  # nothing was done


TWO_CONNECTORS_TOML = """
name = "two-connectors"
[[evses]]
[[evses.connectors]]
[[evses.connectors]]
[sessions]
enabled = false
"""


async def _detail_until(client: TrioControlClient, station_id: str, connectors: list[str]) -> StationDetail:
    """Poll the station's detail until its EVSE 1's connectors have these statuses."""
    with trio.fail_after(10):
        while True:
            detail: StationDetail = await client.request("station", station_id=station_id)
            if [c.status for c in detail.evses[0].connectors] == connectors:
                return detail
            await trio.sleep(0.05)


async def test_connector_2_through_a_fleet_runs_supervisor_and_workers(tmp_path: Path) -> None:
    """The supervisor forwards the command Struct to the station's worker, which runs it
    through the same registry: every field arrives, the station's refusal comes back."""
    fleet_file = write_fleet_file(tmp_path, {"two": TWO_CONNECTORS_TOML}, 4, seed=5, station_id="W{index:02d}")
    options = RunOptions(workers=2, csms_workers=1, control_port=0, stop_timeout=10)
    async with controlled_run(load_fleet(fleet_file), options) as (url, _), open_trio_client(url) as client:
        with trio.fail_after(20):
            while (await client.request("snapshot", rows=False)).states.get("available", 0) < 4:
                await trio.sleep(0.1)
        for sid in ("W00", "W01", "W02", "W03"):  # (in both workers)
            await _detail_until(client, sid, ["Available", "Available"])
        await client.request("plug", station_id="W03", evse_id=1, connector_id=2)
        await _detail_until(client, "W03", ["Unavailable", "Occupied"])
        error = await _error(client, "unplug", station_id="W03", connector_id=1)
        assert error.code == "bad_request" and "connector 2" in error.message
        await client.request("unplug", station_id="W03", connector_id=2)
        await _detail_until(client, "W03", ["Available", "Available"])
        error = await _error(client, "plug", station_id="W02", connector_id=2, cable=True)
        assert error.code == "bad_request" and "unknown field `cable`" in error.message
