"""Fault injection: the ``[faults]`` format, seeded lots, and every fault over real sockets on 127.0.0.1.

The stations run against the built-in CSMS (port 0) with ``speed`` > 1, so that rates
per simulated hour give a handful of faults per real second. Assertions count what
happened (never how fast).
"""

from __future__ import annotations

import dataclasses
import datetime
import random
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
from waiting import wait_until

from fleet.actors.csms import open_csms
from fleet.actors.station import Station, load_profile
from fleet.actors.station.v201.directions import TO_CSMS
from fleet.faults import (
    MALFORMED_CLASSES,
    FaultSpec,
    RecoveryClock,
    StationFaults,
    boot_statuses,
    merge_fault_records,
    merge_faults,
    parse_fault_options,
)
from fleet.malformed import EXPECTED, directions, make_probe
from fleet.ocpp import V201, CallTimeout, ErrorCode
from fleet.ocpp.error_codes import ErrorCodes
from fleet.ocpp.v201 import GetLocalListVersionRequest
from fleet.profiles import (
    ProfileError,
    RetryBackoff,
    Security,
    SessionGenerator,
    StationProfile,
)
from fleet.run.fleetfile import FleetError, load_fleet

SPEED = 50.0


def profile(**changes: Any) -> StationProfile:
    fields: dict[str, Any] = {
        "sessions": SessionGenerator(enabled=False),
        "retry_backoff": RetryBackoff(wait_minimum=2, repeat_times=1, random_range=1),
        "ping_interval": 0,
        "reboot_delay": 2.0,
        "security": Security(profile=0, password=None),
    }
    fields.update(changes)
    return StationProfile(**fields)


async def stop(stations: list[Station]) -> None:
    """Shut the stations down together (a graceful close, quicker than cancelling them)."""
    async with trio.open_nursery() as nursery:
        for station in stations:
            nursery.start_soon(station.shutdown, 1.0)


def _late_replies(csms: Any, station_id: str) -> int:
    """Late answers the CSMS's session with that station dropped."""
    link = csms._links.get(station_id)
    return link.conn.session.statistics().late_replies if link is not None else 0


async def settle(stations: list[Station], timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        for station in stations:
            await station.wait_until(lambda s: s.connected and s.registration == "Accepted" and s.queued_events == 0)


# ----------------------------------------------------------------- the format


def test_faults_table_in_a_profile_and_a_fleet_file(tmp_path: Path) -> None:
    (tmp_path / "flaky.toml").write_text(
        '[faults]\ndisconnect_rate = 12\nresponse_delay = [1, 2]\nmalformed_classes = ["not_json", "oversize"]\n'
    )
    loaded = load_profile(tmp_path / "flaky.toml")
    assert loaded.faults.disconnect_rate == 12 and loaded.faults.response_delay == (1.0, 2.0)
    assert loaded.faults.malformed_classes == ["not_json", "oversize"] and loaded.faults.station_side
    assert not StationProfile().faults.enabled  # no table, no faults

    (tmp_path / "fleet.toml").write_text(
        '[fleet]\nseed = 3\n[[group]]\nprofile = "flaky.toml"\ncount = 2\n[[group]]\nprofile = "home-wallbox"\ncount = 2\n'
        "[faults]\ndisconnect_rate = 3\nslow_share = 0.5\ncsms_restart_at = 30\n"
    )
    plan = load_fleet(tmp_path / "fleet.toml")
    flaky, home = plan.profiles
    assert flaky.faults.disconnect_rate == 12 and flaky.faults.slow_share == 0.5  # the profile wins field by field
    assert home.faults.disconnect_rate == 3 and home.faults.slow_share == 0.5
    assert plan.faults.csms_restart_at == 30  # run-level settings come from the fleet's table
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(plan), type=type(plan)) == plan  # travels to the workers

    overridden = plan.with_faults(parse_fault_options(["disconnect_rate=0.5", "partition_share=0.2",
                                                       "malformed_classes=duplicate_id"]))
    assert [p.faults.disconnect_rate for p in overridden.profiles] == [0.5, 0.5]
    assert overridden.profiles[0].faults.malformed_classes == ["duplicate_id"]
    assert merge_faults(FaultSpec(slow_share=0.3), FaultSpec()) == FaultSpec(slow_share=0.3)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[faults]\nslow_share = 1.5\n", "$.faults.slow_share"),
        ("[faults]\nturbulence = 1\n", "turbulence"),
        ('[faults]\nmalformed_classes = ["gibberish"]\n', "$.faults.malformed_classes[0]"),
        ("[faults]\nboot_pending_share = 0.7\nboot_rejected_share = 0.5\n", "boot_rejected_share"),
        ("[faults]\nresponse_delay = [5, 1]\n", "response_delay"),
    ],
)
def test_bad_faults_are_named(tmp_path: Path, text: str, field: str) -> None:
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(ProfileError, match=field.replace("$", r"\$").replace("[", r"\[").replace("]", r"\]")):
        load_profile(tmp_path / "bad.toml")
    (tmp_path / "fleet.toml").write_text('[[group]]\nprofile = "home-wallbox"\ncount = 1\n' + text)
    with pytest.raises(FleetError):
        load_fleet(tmp_path / "fleet.toml")


def test_fault_options() -> None:
    spec = parse_fault_options(["disconnect_rate=6", "response_delay=0.5,2", "csms_restart_at=none"])
    assert spec.disconnect_rate == 6 and spec.response_delay == (0.5, 2.0) and spec.csms_restart_at is None
    for bad in ("disconnect_rate", "nope=1", "slow_share=2", "malformed_classes=bogus"):
        with pytest.raises(ValueError):
            parse_fault_options([bad])


# ------------------------------------------------------------------- the lots


def test_lots_are_reproducible_independent_and_follow_the_shares() -> None:
    spec = FaultSpec(partition_share=0.3, partition_duration=5, slow_share=0.2, silent_share=0.1,
                     malformed_rate=10, malformed_share=0.5, boot_loop_share=0.05, boot_pending_share=0.1,
                     boot_rejected_share=0.1, clock_skew=(-60, 60), clock_skew_share=0.5)
    lots = [StationFaults.draw(spec, seed) for seed in range(4000)]
    assert lots == [StationFaults.draw(spec, seed) for seed in range(4000)]
    share = {name: sum(1 for lot in lots if getattr(lot, name)) / len(lots)
             for name in ("partitioned", "slow", "silent", "malformed", "boot_loop")}
    assert share == pytest.approx({"partitioned": 0.3, "slow": 0.2, "silent": 0.1, "malformed": 0.5, "boot_loop": 0.05},
                                  abs=0.03)
    statuses = [lot.boot_status for lot in lots]
    assert statuses.count("Pending") / 4000 == pytest.approx(0.1, abs=0.03)
    assert statuses.count("Rejected") / 4000 == pytest.approx(0.1, abs=0.03)
    skews = [lot.clock_skew for lot in lots if lot.clock_skew]
    assert len(skews) / 4000 == pytest.approx(0.5, abs=0.03) and all(-60 <= s <= 60 for s in skews)
    # Changing one share never changes whom another share picks.
    other = [StationFaults.draw(msgspec.structs.replace(spec, slow_share=0.9), seed) for seed in range(4000)]
    assert [lot.partitioned for lot in other] == [lot.partitioned for lot in lots]
    assert [lot.boot_status for lot in other] == statuses
    # The CSMS side knows the same lots.
    expected = {f"S{seed}": lot.boot_status for seed, lot in enumerate(lots) if lot.boot_status}
    assert boot_statuses((f"S{seed}", seed, spec) for seed in range(4000)) == expected


def test_malformed_frames_are_reproducible_from_the_seed() -> None:
    for klass in MALFORMED_CLASSES:
        first = [make_probe(klass, random.Random(seed), TO_CSMS, oversize_bytes=2048) for seed in range(20)]
        again = [make_probe(klass, random.Random(seed), TO_CSMS, oversize_bytes=2048) for seed in range(20)]
        assert first == again and klass in EXPECTED


def test_malformed_frames_follow_the_version_of_their_direction() -> None:
    """A version with its own spellings and message types gets probes in its terms: here a
    made-up version that spells FormatViolation the 1.6 way and allows message type 6."""
    spelled = ErrorCodes.of({c: ("FormationViolation" if c is ErrorCode.FORMAT_VIOLATION else c.value) for c in ErrorCode})
    other = dataclasses.replace(V201, name="test", subprotocol="test", error_codes=spelled,
                                message_types=V201.message_types | {6})
    to_csms, _ = directions(other)
    assert to_csms.version is other and to_csms.actions == TO_CSMS.actions
    schema_codes = {code for seed in range(60)
                    for e in make_probe("schema_invalid", random.Random(seed), to_csms).expect for code in e.accept}
    assert "FormationViolation" in schema_codes and "FormatViolation" not in schema_codes
    v201_codes = {code for seed in range(60)
                  for e in make_probe("schema_invalid", random.Random(seed), TO_CSMS).expect for code in e.accept}
    assert "FormatViolation" in v201_codes and "FormationViolation" not in v201_codes
    types = {make_probe("wrong_message_type", random.Random(seed), to_csms).variant for seed in range(60)}
    assert "type_6" not in types and "type_5" in types  # 6 is a message type of this version


def test_recovery_clock() -> None:
    clock = RecoveryClock()
    clock.observe(1.0, 5)
    assert clock.recovery is None
    clock.outage(10.0, expected=100)
    for now, online in ((10.5, 0), (11.0, 40), (12.0, 99)):
        clock.observe(now, online)
    assert clock.recovery is None and clock.lowest == 0
    clock.observe(13.25, 100)
    assert clock.recovery == 3.25


def test_merged_records() -> None:
    one = {"disconnects": 2, "partitioned": 1, "clock_skew_s": -5.0,
           "malformed": {"not_json": {"tried": 2, "matched": 2, "answers": 2, "unanswered": 0, "closed": 0,
                                      "outcomes": {"RpcFrameworkError": 2}}}}
    two = {"disconnects": 1, "partitioned": 0, "clock_skew_s": 7.0,
           "malformed": {"not_json": {"tried": 1, "matched": 0, "answers": 1, "unanswered": 0, "closed": 0,
                                      "outcomes": {"GenericError": 1}}}}
    merged = merge_fault_records([one, two])
    assert merged["stations"] == 2 and merged["disconnects"] == 3 and merged["clock_skew_s"] == [-5.0, 7.0]
    assert merged["malformed"]["not_json"]["outcomes"] == {"RpcFrameworkError": 2, "GenericError": 1}
    assert merged["malformed"]["not_json"]["tried"] == 3 and merged["malformed"]["not_json"]["matched"] == 2
    # Sums merge again (the supervisor merging its workers' sums).
    again = merge_fault_records([merged, one])
    assert again["stations"] == 3 and again["disconnects"] == 5 and again["clock_skew_s"] == [-5.0, 7.0]
    assert again["malformed"]["not_json"]["outcomes"] == {"RpcFrameworkError": 4, "GenericError": 1}


# --------------------------------------------------------------- over sockets


async def test_random_disconnects_and_a_partition() -> None:
    spec = FaultSpec(disconnect_rate=3600.0 * 4 / SPEED, partition_share=1.0, partition_at=0.8, partition_duration=1.0)
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        epoch = time.time()
        stations = [Station(f"D{i}", csms.url, profile=profile(), seed=i, speed=SPEED, protocol_speed=SPEED, faults=spec, fault_epoch=epoch)
                    for i in range(3)]
        for station in stations:
            await nursery.start(station.run)

        def faults_seen(station: Station) -> bool:
            """What the assertions below check, seen while the faults run."""
            records = station.fault_records() or {}
            counters = station.snapshot().counters
            record = csms.station(station.station_id)
            return (records.get("disconnects", 0) >= 1 and records.get("partition_refusals", 0) >= 1
                    and counters.disconnects >= 2 and counters.connect_failures >= 1
                    and record is not None and record.connections >= 3)

        await wait_until(lambda: all(faults_seen(s) for s in stations), timeout=20,
                         what="a random disconnect, the partition and a refused attempt at every station",
                         show=lambda: {s.station_id: (s.fault_records(), s.snapshot().counters) for s in stations})
        for station in stations:
            await station.stop_faults()
        await settle(stations)
        for station in stations:
            records = station.fault_records()
            assert records is not None and records["disconnects"] >= 1, records
            assert records["partitioned"] == 1 and records["partition_refusals"] >= 1, records
            counters = station.snapshot().counters
            assert counters.disconnects >= 2 and counters.connect_failures >= 1
            record = csms.station(station.station_id)
            assert record is not None and record.connections >= 3 and record.connected
        await stop(stations)


async def test_slow_silent_and_late_answers() -> None:
    async with open_csms(port=0, call_timeout=0.5) as csms, trio.open_nursery() as nursery:
        slow = Station("SLOW", csms.url, profile=profile(), seed=1, speed=SPEED, protocol_speed=SPEED,
                       faults=FaultSpec(slow_share=1.0, response_delay=(0.05, 0.2)))
        silent = Station("SILENT", csms.url, profile=profile(), seed=2, speed=SPEED, protocol_speed=SPEED, faults=FaultSpec(silent_share=1.0))
        late = Station("LATE", csms.url, profile=profile(), seed=3, speed=SPEED, protocol_speed=SPEED,
                       faults=FaultSpec(late_share=1.0, late_delay=0.8))
        for station in (slow, silent, late):
            await nursery.start(station.run)
        await settle([slow, silent, late])
        for _ in range(3):
            assert (await csms.call("SLOW", GetLocalListVersionRequest())).version_number == 0
        violations = csms.statistics().violations
        for station_id in ("SILENT", "LATE"):
            with pytest.raises(CallTimeout):
                await csms.call(station_id, GetLocalListVersionRequest())
        # the late answer arrives after the CSMS gave up: dropped, counted as late
        await wait_until(lambda: _late_replies(csms, "LATE") >= 1, what="the late answer of LATE")
        assert csms.statistics().violations == violations  # (the timeout was its only count)
        assert csms.is_connected("SILENT") and csms.is_connected("LATE")  # the links stay up
        records = {s.station_id: s.fault_records() or {} for s in (slow, silent, late)}
        assert records["SLOW"]["slow_answers"] == 3 and records["SILENT"]["unanswered"] == 1
        assert records["LATE"]["late_answers"] == 1
        await silent.stop_faults()  # no more faults: it answers again
        assert (await csms.call("SILENT", GetLocalListVersionRequest())).version_number == 0
        await stop([slow, silent, late])


async def test_malformed_traffic_answers_are_recorded_per_class() -> None:
    spec = FaultSpec(malformed_rate=3600.0 * 40 / SPEED, oversize_bytes=300 * 1024, answer_timeout=2.0)
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        station = Station("BAD", csms.url, profile=profile(), seed=5, speed=SPEED, protocol_speed=SPEED, faults=spec)
        await nursery.start(station.run)
        def tried_twice() -> dict[str, Any] | None:
            malformed: dict[str, Any] = (station.fault_records() or {})["malformed"]
            return malformed if all(malformed.get(k, {}).get("tried", 0) >= 2 for k in MALFORMED_CLASSES) else None

        malformed = await wait_until(tried_twice, timeout=20, period=0.2, what="every malformed class tried twice",
                                     show=lambda: (station.fault_records() or {})["malformed"])
        await station.stop_faults()
        await settle([station])
        for klass, entry in malformed.items():
            assert entry["matched"] == entry["tried"], (klass, entry)  # the built-in CSMS answers by the book
        assert set(malformed["oversize"]["outcomes"]) == {"closed"}  # 1009: over the frame limit
        assert set(malformed["duplicate_id"]["outcomes"]) == {"CALLRESULT"}
        assert malformed["not_json"]["outcomes"] == {"RpcFrameworkError": malformed["not_json"]["tried"]}
        assert csms.statistics().violations >= sum(
            malformed[k]["tried"] for k in ("not_json", "wrong_message_type", "unknown_action", "schema_invalid"))
        assert station.snapshot().counters.disconnects >= malformed["oversize"]["tried"]
        await stop([station])


async def test_boot_loops_and_refused_boots() -> None:
    loop = FaultSpec(boot_loop_share=1.0, boot_loop_interval=(5.0, 10.0))
    refused = FaultSpec(boot_pending_share=0.5, boot_rejected_share=0.5)
    async with open_csms(port=0, boot_retry_interval=1) as csms, trio.open_nursery() as nursery:
        looping = Station("LOOP", csms.url, profile=profile(reboot_delay=1.0), seed=1, speed=SPEED, protocol_speed=SPEED, faults=loop)
        statuses = boot_statuses((f"REF{i}", i, refused) for i in range(2))
        assert sorted(statuses.values()) in (["Pending", "Rejected"], ["Pending", "Pending"], ["Rejected", "Rejected"])
        for station_id, status in statuses.items():
            csms.set_boot_status(status, station_id)
        refusing = [Station(f"REF{i}", csms.url, profile=profile(), seed=i, speed=SPEED, protocol_speed=SPEED, faults=refused)
                    for i in range(2)]
        assert all(s.faults is None for s in refusing)  # a CSMS-side fault: nothing to do in the station
        for station in (looping, *refusing):
            await nursery.start(station.run)
        with trio.fail_after(10):
            await looping.wait_until(lambda s: s.counters.reboots >= 3)
            for station in refusing:
                wanted = statuses[station.station_id].lower()
                await station.wait_until(lambda s, wanted=wanted: s.state == wanted)
        record = csms.station("LOOP")
        assert record is not None and record.boot is not None and record.boot.reason == "Watchdog"
        for station_id in statuses:
            csms.set_boot_status(None, station_id)
        await settle(refusing)
        await stop([looping, *refusing])


async def test_clock_skew_shifts_the_timestamps_a_station_sends() -> None:
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        station = Station("SKEW", csms.url, profile=profile(), seed=1, speed=SPEED, protocol_speed=SPEED, faults=FaultSpec(clock_skew=3600.0))
        await nursery.start(station.run)
        await settle([station])
        await station.plug(1)
        await station.start_transaction(1, "TOKEN-1", authorize=False)
        await wait_until(lambda: (csms.station("SKEW") or msgspec.UNSET).transactions,  # type: ignore[union-attr]
                         what="the CSMS recording SKEW's transaction")
        record = csms.station("SKEW")
        assert record is not None
        now = datetime.datetime.now(datetime.UTC)
        stamps = [c.timestamp for c in record.connectors]
        stamps += [e.timestamp for tx in record.transactions.values() for e in tx.events]
        assert stamps and all(abs((t - now).total_seconds() - 3600) < 60 for t in stamps), stamps
        assert abs((station.clock() - now).total_seconds() - 3600) < 60
        await stop([station])


def test_a_station_without_faults_has_no_injector() -> None:
    station = Station("PLAIN", "ws://127.0.0.1:1/ocpp", profile=profile())
    assert station.faults is None and station.fault_records() is None
    assert abs((station.clock() - datetime.datetime.now(datetime.UTC)).total_seconds()) < 5
