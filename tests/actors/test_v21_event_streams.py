"""OCPP 2.1 periodic event streams (use cases N11-N15): a 2.1 station whose profile switches
them on opens its streams after boot, the CSMS accepts them, and the monitored values come
as NotifyPeriodicEventStream SENDs, never answered. Real websockets on 127.0.0.1 against
fleet's CSMS; the station's timers run on trio's MockClock, so the sends are counted over
minutes that pass at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from test_v21 import check_2_1_frames
from waiting import wait_until

from fleet.actors.csms import open_csms
from fleet.actors.station import load_profile, open_station
from fleet.net.ocpp_log import OcppLog
from fleet.ocpp import v21
from fleet.profiles import (
    EventStreams,
    PeriodicEventStream,
    ProfileError,
    RetryBackoff,
    Security,
    SessionGenerator,
    StationProfile,
    VehicleProfile,
)

PERIOD = 5  # seconds between two samples of the monitored variable
INTERVAL = 20  # seconds between two NotifyPeriodicEventStream


@pytest.fixture
def mock_clock() -> trio.testing.MockClock:
    """Virtual time that jumps ahead once every task has been idle a little (so loopback I/O
    is never overtaken by a jump)."""
    return trio.testing.MockClock(autojump_threshold=0.02)


def stream_profile(**changes: Any) -> StationProfile:
    fields: dict[str, Any] = {
        "ocpp_version": "2.1",
        "sessions": SessionGenerator(enabled=False, energy_demand=50000.0),
        "retry_backoff": RetryBackoff(wait_minimum=1, repeat_times=2, random_range=0),
        "ping_interval": 0,
        "security": Security(profile=0, password=None),
        "vehicle": VehicleProfile(battery_capacity=90000.0, max_power=7400.0, initial_soc=10.0),
        "event_streams": EventStreams(enabled=True, streams=[
            PeriodicEventStream(component="EVSE", evse=1, variable="Power", period=PERIOD, interval=INTERVAL),
        ]),
    }
    fields.update(changes)
    return StationProfile(**fields)


def frames_of(log_path: Path, direction: str) -> list[list[Any]]:
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    return [json.loads(line["frame"]) for line in lines if line["direction"] == direction]


def test_a_profile_switches_event_streams_on_only_with_2_1_and_for_an_evse_it_has(tmp_path: Path) -> None:
    path = tmp_path / "streams.toml"
    path.write_text('ocpp_version = "1.6"\n\n[event_streams]\nenabled = true\n')
    with pytest.raises(ProfileError, match=r"`\$\.event_streams\.enabled`: .*simulates event_streams"):
        load_profile(path)
    with pytest.raises(msgspec.ValidationError, match=r"\$\.event_streams\.streams\[0\]\.evse"):
        msgspec.convert({"ocpp_version": "2.1", "event_streams": {"streams": [{"component": "EVSE", "evse": 2}]}},
                        type=StationProfile)


async def test_a_stream_opened_after_boot_delivers_the_monitored_values_by_send_never_answered(
    mock_clock: trio.testing.MockClock, tmp_path: Path,
) -> None:
    log_path = tmp_path / "station.jsonl"
    with OcppLog(log_path, flush_every=1) as log:
        async with open_csms(port=0) as csms, open_station(
            "STREAM-1", csms.url, profile=stream_profile(), ocpp_log=log,
        ) as station:
            await station.wait_until(lambda s: s.state == "available")
            await station.plug(1)
            await station.start_transaction(1, "TOKEN-21")
            await station.wait_until(lambda s: s.evses[0].charging_state == "Charging")
            opened = await wait_until(lambda: csms.station("STREAM-1").event_streams.get(1), timeout=10,
                                      what="the stream opened at the CSMS")
            assert opened.open and opened.interval == INTERVAL and opened.values is None
            # 95 s: a message every 20 s after the CSMS accepted the stream (at 20, 40, 60, 80 s)
            await trio.sleep(95)
            stream = await wait_until(lambda: (s := csms.station("STREAM-1").event_streams[1]).messages >= 4 and s,
                                      timeout=2, what="four stream messages")
            assert stream.messages == 4  # (the fifth is due at 100 s)
            assert stream.values_received == stream.messages * INTERVAL // PERIOD
            assert [t for t, _ in stream.last_data] == [0.0, 5.0, 10.0, 15.0] and stream.last_pending == 0
            assert {float(v) for _, v in stream.last_data} == {7400.0}  # the EVSE's power, W
            assert station.dialect.event_streams.sent == 4
            record = csms.station("STREAM-1")
            assert record.messages["NotifyPeriodicEventStream"] == 4
            assert record.messages["OpenPeriodicEventStream"] == 1
            # GetPeriodicEventStream and AdjustPeriodicEventStream
            got = await csms.call("STREAM-1", v21.GetPeriodicEventStreamRequest())
            [data] = got.constant_stream_data
            assert (data.id, data.params.interval, data.variable_monitoring_id) == (1, INTERVAL, opened.variable_monitoring_id)
            never = await csms.call("STREAM-1", v21.AdjustPeriodicEventStreamRequest(
                id=1, params=v21.PeriodicEventStreamParams(interval=0)))
            assert never.status == "Rejected"  # (it would never send)
            adjusted = await csms.call("STREAM-1", v21.AdjustPeriodicEventStreamRequest(
                id=1, params=v21.PeriodicEventStreamParams(values=2)))
            assert adjusted.status == "Accepted"
            unknown = await csms.call("STREAM-1", v21.AdjustPeriodicEventStreamRequest(
                id=99, params=v21.PeriodicEventStreamParams(interval=5)))
            assert unknown.status == "Rejected"
            before = csms.station("STREAM-1").event_streams[1].messages
            await trio.sleep(2 * PERIOD + 1)  # two samples: sent at once (values = 2)
            after = await wait_until(lambda: (s := csms.station("STREAM-1").event_streams[1]).messages > before and s,
                                     timeout=2, what="a message sent at two values")
            assert len(after.last_data) == 2
    outs, ins = frames_of(log_path, "out"), frames_of(log_path, "in")
    sends = [f for f in outs if f[0] == 6]
    assert len(sends) >= 5 and {f[2] for f in sends} == {"NotifyPeriodicEventStream"}
    answered = {f[1] for f in ins if f[0] in (3, 4)}
    assert not answered & {f[1] for f in sends}  # the CSMS answered no SEND
    assert check_2_1_frames(outs, {}) == []


async def test_a_monitor_set_with_a_stream_gets_one_and_clearing_the_monitor_closes_it(
    mock_clock: trio.testing.MockClock,
) -> None:
    profile = stream_profile(event_streams=EventStreams(enabled=True))  # no preconfigured stream
    async with open_csms(port=0) as csms, open_station("STREAM-2", csms.url, profile=profile) as station:
        await station.wait_until(lambda s: s.state == "available")
        assert (await csms.call("STREAM-2", v21.GetPeriodicEventStreamRequest())).constant_stream_data is msgspec.UNSET
        answer = await csms.call("STREAM-2", v21.SetVariableMonitoringRequest(set_monitoring_data=[
            v21.SetMonitoringData(value=10.0, type=v21.Monitor.PERIODIC, severity=7,
                                  component=v21.Component(name="ChargingStation"), variable=v21.Variable(name="Power"),
                                  periodic_event_stream=v21.PeriodicEventStreamParams(interval=30))]))
        [result] = answer.set_monitoring_result
        assert result.status == "Accepted"
        opened = await wait_until(lambda: next(iter(csms.station("STREAM-2").event_streams.values()), None),
                                  timeout=10, what="the stream of the monitor")
        assert opened.variable_monitoring_id == result.id and opened.open
        await trio.sleep(31)
        await wait_until(lambda: csms.station("STREAM-2").event_streams[opened.stream_id].messages >= 1, timeout=2,
                         what="the first message")
        cleared = await csms.call("STREAM-2", v21.ClearVariableMonitoringRequest(id=[result.id]))
        assert cleared.clear_monitoring_result[0].status == "Accepted"
        closed = await wait_until(lambda: not (s := csms.station("STREAM-2").event_streams[opened.stream_id]).open
                                  and s, timeout=10, what="the stream closed")
        assert csms.station("STREAM-2").messages["ClosePeriodicEventStream"] == 1
        assert station.dialect.event_streams.streams == {}
        messages = closed.messages
        await trio.sleep(60)  # nothing more comes
        assert csms.station("STREAM-2").event_streams[opened.stream_id].messages == messages
