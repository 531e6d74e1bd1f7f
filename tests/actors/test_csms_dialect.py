"""The CSMS's version-free core and its per-version dialects.

Over real websockets on 127.0.0.1: one CSMS serving two dialects on one port picks each
connection's dialect from its negotiated subprotocol.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Mapping

import msgspec
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from fleet.actors.connection import Handler
from fleet.actors.csms import open_csms
from fleet.actors.csms.dialect import CsmsDialect, Recorder
from fleet.actors.csms.dialects import dialects_by_version
from fleet.actors.csms.policy import CsmsPolicy
from fleet.actors.csms.v201 import DIALECT
from fleet.ocpp import V201, ProtocolVersion, v201
from fleet.transport import station_url

T0 = datetime.datetime(2025, 1, 1, 12, tzinfo=datetime.UTC)


def _time(text: str) -> datetime.datetime:
    return msgspec.json.decode(json.dumps(text), type=datetime.datetime)


# ------------------------------------------------------------ on the wire

#: A second version for the tests: 2.0.1's codec under another name and subprotocol.
TEST_VERSION: ProtocolVersion = dataclasses.replace(V201, name="2.0.1-test", subprotocol="ocpp2.0.1-test")
#: The Heartbeat time the test dialect answers, so a test can tell which dialect answered.
MARK = datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC)


class MarkedDialect:
    """The 2.0.1 dialect under another version, whose Heartbeat answers :data:`MARK`."""

    def __init__(self, version: ProtocolVersion) -> None:
        self.version = version
        self.station_actions: frozenset[str] = DIALECT.station_actions
        self.csms_actions: frozenset[str] = DIALECT.csms_actions
        self.recorders: Mapping[str, Recorder] = DIALECT.recorders
        self.answer_recorders: Mapping[str, Recorder] = DIALECT.answer_recorders

    def default_handlers(self, policy: CsmsPolicy) -> dict[str, Handler]:
        handlers = DIALECT.default_handlers(policy)
        handlers["Heartbeat"] = lambda request, ctx: v201.HeartbeatResponse(current_time=MARK)
        return handlers


def _typed(dialect: CsmsDialect) -> CsmsDialect:  # (under mypy: the test dialect is a CsmsDialect)
    return dialect


async def _heartbeat(url: str, station_id: str, subprotocols: list[str]) -> tuple[str | None, str]:
    """Connect offering ``subprotocols``, send a Heartbeat; the agreed subprotocol and the answer's currentTime."""
    async with open_websocket_url(station_url(url, station_id), subprotocols=subprotocols) as ws:
        await ws.send_message(json.dumps([2, "hb-1", "Heartbeat", {}]))
        with trio.fail_after(5):
            answer = json.loads(await ws.get_message())
        assert answer[:2] == [3, "hb-1"], answer
        return ws.subprotocol, answer[2]["currentTime"]


async def test_one_port_serves_each_connection_in_the_dialect_of_its_subprotocol() -> None:
    dialects = dialects_by_version(DIALECT, _typed(MarkedDialect(TEST_VERSION)))
    async with open_csms(port=0, dialects=dialects) as csms:
        agreed, at = await _heartbeat(csms.url, "NEW", ["ocpp2.0.1-test"])
        assert agreed == "ocpp2.0.1-test" and _time(at) == MARK
        agreed, at = await _heartbeat(csms.url, "OLD", ["ocpp2.0.1"])
        assert agreed == "ocpp2.0.1" and _time(at) != MARK
        # offering both: the CSMS's order of preference decides
        agreed, at = await _heartbeat(csms.url, "BOTH", ["ocpp2.0.1-test", "ocpp2.0.1"])
        assert agreed == "ocpp2.0.1" and _time(at) != MARK
        records = csms.stations()
        assert {sid: r.ocpp_version for sid, r in records.items()} == {"NEW": "2.0.1-test", "OLD": "2.0.1",
                                                                       "BOTH": "2.0.1"}
        assert all(r.messages == {"Heartbeat": 1} for r in records.values())
        assert csms.statistics().messages == {"Heartbeat": 3}
        # while connected, the station's dialect is known; a per-version handler answers its version only
        csms.on("Heartbeat", lambda request, ctx: v201.HeartbeatResponse(current_time=T0), version="2.0.1")
        async with open_websocket_url(station_url(csms.url, "LIVE"), subprotocols=["ocpp2.0.1-test"]) as ws:
            await ws.send_message(json.dumps([2, "hb-2", "Heartbeat", {}]))
            with trio.fail_after(5):
                answer = json.loads(await ws.get_message())
            assert _time(answer[2]["currentTime"]) == MARK
            assert csms.dialect_of("LIVE") is dialects["2.0.1-test"]
            assert [c.ocpp_version for c in csms.connections()] == ["2.0.1-test"]
        agreed, at = await _heartbeat(csms.url, "OLD", ["ocpp2.0.1"])
        assert _time(at) == T0


async def test_a_csms_refuses_a_version_it_has_no_dialect_for() -> None:
    async with open_csms(port=0, dialects=dialects_by_version(MarkedDialect(TEST_VERSION))) as csms:
        async with open_websocket_url(station_url(csms.url, "S201"), subprotocols=["ocpp2.0.1"]) as ws:
            assert ws.subprotocol is None
            with pytest.raises(ConnectionClosed) as info, trio.fail_after(5):
                await ws.get_message()
            assert info.value.reason.code == 1002
        assert csms.station("S201") is None and csms.statistics().refused == {"400": 1}
        agreed, _ = await _heartbeat(csms.url, "STEST", ["ocpp2.0.1", "ocpp2.0.1-test"])
        assert agreed == "ocpp2.0.1-test"
