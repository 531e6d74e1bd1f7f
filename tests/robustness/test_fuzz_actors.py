"""Bad input survived: the frame decoder, the CSMS actor and the station actor under attack.

Everything goes over real sockets on 127.0.0.1 (port 0) except the decoder fuzz.
Each attack runs beside a healthy fleet that must see no error at all; the
handshake and idle timeouts are shortened so that attacks that wait for them end
quickly.
"""

from __future__ import annotations

import json
import logging
import random
from functools import partial
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed
from waiting import wait_until

import fleet.net.transport
from fleet.actors.csms import open_csms
from fleet.actors.station import Station
from fleet.actors.station.v201.handlers import CSMS_INITIATED
from fleet.chaos.attacks import (
    RAW_CLASSES,
    RAW_EXPECTED,
    STATION_CLASSES,
    WEBSOCKET_CLASSES,
    HostileCsms,
    raw_attack,
    websocket_attack,
)
from fleet.chaos.suite import chaos_profile, fuzz_decoder, probe_csms
from fleet.malformed import random_request
from fleet.net.transport import Accepted, serve_ocpp
from fleet.ocpp import V201, ConnectionLost, ErrorCode, ProtocolViolation, RemoteCallError, Session
from fleet.profiles import station_password
from fleet.run.audit import audit_transactions

SPEED = 50.0
PROFILE = chaos_profile()


def healthy_fleet(url: str, count: int) -> list[Station]:
    return [Station(f"H{i}", url, profile=PROFILE, seed=i, speed=SPEED, protocol_speed=SPEED, audit=True) for i in range(count)]


def assert_healthy(stations: list[Station]) -> None:
    for station in stations:
        snapshot = station.snapshot()
        c = snapshot.counters
        assert snapshot.connected and snapshot.registration == "Accepted", (station.station_id, snapshot.last_error)
        assert (c.disconnects, c.connect_failures, c.requests_failed, c.events_dropped) == (0, 0, 0, 0), \
            (station.station_id, c, snapshot.last_error)


async def stop(stations: list[Station]) -> None:
    async with trio.open_nursery() as nursery:
        for station in stations:
            nursery.start_soon(station.shutdown, 2.0)


def audit(stations: list[Station], csms: Any) -> dict[str, Any]:
    sent = {s.station_id: s.transaction_records() for s in stations}
    recorded = {sid: {tx: {"seq": [e.seq_no for e in t.events], "energy": t.energy_wh}
                      for tx, t in r.transactions.items()} for sid, r in csms.stations().items()}
    return audit_transactions(sent, recorded)


@pytest.fixture
def fleet_errors(caplog: pytest.LogCaptureFixture) -> Any:
    """The errors fleet's actors log (exceptions they caught): none allowed."""
    caplog.set_level(logging.ERROR, logger="fleet")
    yield caplog
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("fleet")]
    assert not errors, [r.getMessage() for r in errors[:5]]


# -------------------------------------------------------------------- decoder


def test_the_decoder_never_raises() -> None:
    result = fuzz_decoder(4000, seed=7)
    assert result["inputs"] == 8000 and result["exceptions"] == 0, result["samples"]
    assert result["answers"] > 4000


@pytest.mark.parametrize(
    "data",
    [
        b'[2,"\x83","Heartbeat",{}]',  # not UTF-8 in the id: once crashed the CSMS (UnicodeDecodeError)
        b'[2,"a","Heartbeat",{"customData":{"vendorId":"\xc0"}}]',  # ... in the payload
        b'[3,"a",{"currentTime":"\xff"}]',
        bytearray(b'[2,"a","DataTransfer",{"vendorId":"\xed\xa0\x80"}]'),  # an encoded surrogate
        '[2,"\ud800","Heartbeat",{}]',  # a lone surrogate in a str (no websocket delivers one)
    ],
)
def test_text_that_is_not_utf8_is_an_rpc_framework_error(data: Any) -> None:
    for role in ("csms", "station"):
        session = Session(V201, role=role)  # type: ignore[arg-type]
        events = session.receive_frame(data, 0.0)
        assert [type(e) for e in events] == [ProtocolViolation]
        assert events[0].code == ErrorCode.RPC_FRAMEWORK_ERROR
        assert session.data_to_send() == ['[4,"-1","RpcFrameworkError","frame is not valid UTF-8",{}]']


# ----------------------------------------------------------------------- CSMS


async def test_the_csms_survives_every_attack_beside_a_healthy_fleet(
    monkeypatch: pytest.MonkeyPatch, fleet_errors: Any
) -> None:
    monkeypatch.setattr(fleet.net.transport, "HANDSHAKE_TIMEOUT", 0.5)
    attackers = [f"ATTACK{i}" for i in range(len(RAW_CLASSES) * 3 + len(WEBSOCKET_CLASSES))]
    ids = [f"H{i}" for i in range(4)] + attackers
    passwords = {sid: station_password(PROFILE, sid) or "" for sid in ids}
    rng = random.Random(3)
    raw: dict[str, list[str]] = {k: [] for k in RAW_CLASSES}
    table: dict[str, dict[str, Any]] = {}
    async with open_csms(port=0, auth=passwords, idle_timeout=0.5) as csms, trio.open_nursery() as nursery:
        healthy = healthy_fleet(csms.url, 4)
        for station in healthy:
            await nursery.start(station.run)

        async def attack_raw(klass: str, station_id: str, seed: int) -> None:
            outcome = await raw_attack(klass, "127.0.0.1", csms.port or 0, "/ocpp", random.Random(seed),
                                       credentials=(station_id, passwords[station_id]), deadline=5.0)
            raw[klass].append(outcome)

        async def attack_websocket(klass: str, station_id: str, seed: int) -> None:
            await websocket_attack(csms.url, station_id, passwords[station_id], random.Random(seed), table,
                                   classes=(klass,), attempts=6, timeout=3.0)

        async with trio.open_nursery() as attacks:
            names = iter(attackers)
            for klass in RAW_CLASSES:
                for _ in range(3):  # each its own id: a second connection of one id would replace the first
                    attacks.start_soon(attack_raw, klass, next(names), rng.getrandbits(32))
            for klass in WEBSOCKET_CLASSES:
                attacks.start_soon(attack_websocket, klass, next(names), rng.getrandbits(32))

        for klass, outcomes in raw.items():
            assert len(outcomes) == 3 and set(outcomes) <= RAW_EXPECTED[klass], (klass, outcomes)
        assert raw["silent_websocket"] == ["close 1008"] * 3  # the idle timeout closed them
        assert raw["bad_auth"] == ["http 401"] * 3
        for klass in WEBSOCKET_CLASSES:
            entry = table[klass]
            assert entry["tried"] >= 6 and entry["matched"] == entry["tried"], (klass, entry)
        assert set(table["oversize"]["outcomes"]) == {"closed"}
        # Every attacker is gone; only the healthy fleet is connected; no record for unauthenticated ids.
        await wait_until(lambda: csms.statistics().connected == len(healthy), what="only the healthy fleet connected",
                         show=lambda: csms.statistics().connected)
        assert set(csms.stations()) <= set(ids)
        assert_healthy(healthy)
        await stop(healthy)
        result = audit(healthy, csms)
        assert result["ok"] and result["missing_events"] == 0, result["problems"]


# -------------------------------------------------------------------- station


async def test_stations_survive_a_hostile_csms_beside_healthy_stations(fleet_errors: Any) -> None:
    hostile = HostileCsms(seed=11, probe_interval=0.02, garbage_share=0.3, cycle=True, answer_timeout=3.0)
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        url = await nursery.start(hostile.run)
        victims = [Station(f"V{i}", url, profile=chaos_profile(password=False), seed=i, speed=SPEED, protocol_speed=SPEED,
                           handler_timeout=2.0) for i in range(2)]
        healthy = [Station(f"H{i}", csms.url, profile=chaos_profile(password=False), seed=100 + i, speed=SPEED, protocol_speed=SPEED,
                           audit=True) for i in range(3)]
        for station in victims + healthy:
            await nursery.start(station.run)
        await wait_until(lambda: all(hostile.attacks.get(k, {}).get("tried", 0) >= 8 for k in STATION_CLASSES),
                         timeout=30, period=0.1, what="every attack class tried 8 times", show=lambda: hostile.attacks)
        for klass in STATION_CLASSES:
            entry = hostile.attacks[klass]
            assert entry["matched"] == entry["tried"], (klass, entry)
        assert hostile.handler_errors == {}
        assert hostile.garbage > 0 and hostile.answered > 0
        for victim in victims:
            snapshot = victim.snapshot()
            assert snapshot.state != "closed" and snapshot.counters.connects >= 2  # oversize frames: 1009, reconnect
        assert_healthy(healthy)
        await stop(victims + healthy)
        result = audit(healthy, csms)
        assert result["ok"], result["problems"]
        nursery.cancel_scope.cancel()


async def test_random_valid_requests_of_every_action_never_break_a_station(fleet_errors: Any) -> None:
    """Handler fuzz: every CSMS action, random valid payloads, through the CSMS actor. A
    station answers each (a CALLRESULT, or a CALLERROR it means: never InternalError)."""
    rng = random.Random(21)
    codes: dict[str, int] = {}
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        station = Station("FUZZ", csms.url, profile=chaos_profile(password=False), seed=1, speed=SPEED, protocol_speed=SPEED)
        await nursery.start(station.run)
        for action in sorted(CSMS_INITIATED):
            for _ in range(6):
                await wait_until(lambda: csms.is_connected("FUZZ") and station.snapshot().registration == "Accepted",
                                 timeout=10, what="FUZZ connected and accepted")
                try:
                    await csms.call("FUZZ", random_request(V201, action, rng, optional=0.5), action=action, timeout=5)
                    codes["CALLRESULT"] = codes.get("CALLRESULT", 0) + 1
                except RemoteCallError as exc:
                    assert exc.code != ErrorCode.INTERNAL_ERROR, (action, exc)
                    codes[str(exc.code)] = codes.get(str(exc.code), 0) + 1
                except ConnectionLost:  # Reset, a new network profile...: the station went to reconnect
                    codes["lost"] = codes.get("lost", 0) + 1
        assert codes["CALLRESULT"] > 200
        assert station.snapshot().state != "closed"
        await stop([station])


async def test_probing_a_csms_records_its_answers_per_class() -> None:
    """``fleet chaos --csms URL``: a conformant CSMS passes every class; a sloppy one that
    answers FormatViolation to everything (and nothing to what it cannot parse) is caught."""

    async def sloppy(accepted: Accepted) -> None:
        websocket = accepted.websocket
        while True:
            try:
                message = await websocket.get_message()
            except ConnectionClosed:
                return
            try:
                frame = json.loads(message)
                message_id = frame[1]
            except (ValueError, TypeError, KeyError, IndexError):
                continue
            if isinstance(message_id, str):
                await websocket.send_message(json.dumps([4, message_id, "FormatViolation", "", {}]))

    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        good = await probe_csms(csms.url, per_class=3, timeout=1.0, oversize_bytes=300 * 1024)
        assert set(good) == set(WEBSOCKET_CLASSES)
        assert all(e["tried"] == 3 and e["matched"] == 3 and "mismatches" not in e for e in good.values()), good
        port = await nursery.start(partial(serve_ocpp, sloppy, "127.0.0.1", 0, path="/ocpp"))
        bad = await probe_csms(f"ws://127.0.0.1:{port}/ocpp", per_class=3, timeout=0.3, oversize_bytes=300 * 1024)
        nursery.cancel_scope.cancel()
    assert bad["not_json"]["matched"] == 0 and bad["not_json"]["mismatches"] == {"RpcFrameworkError -> no answer": 3}
    assert bad["wrong_message_type"]["mismatches"] == {"MessageTypeNotSupported -> FormatViolation": 3}
    assert bad["concurrent_calls"]["mismatches"] == {"CALLRESULT -> FormatViolation": 6}
    assert bad["oversize"]["matched"] == 3  # a CALLERROR is a fair answer to an oversize frame
