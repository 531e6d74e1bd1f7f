"""Nothing lost: the audit compares what every station sent with what the CSMS recorded.

No false errors (a TransactionEvent sent again after its answer was lost is a
retransmission, not a duplicate) and no real loss hidden (an event the CSMS never
got, an event it recorded twice although the station sent it once, an event the
station shed from a full queue: errors).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
from waiting import wait_until

import fleet.net.transport
from fleet import cli
from fleet.actors.csms import open_csms
from fleet.actors.station import Station
from fleet.chaos.suite import SuiteReport
from fleet.faults import FaultSpec
from fleet.profiles import RetryBackoff, SampledData, Security, SessionGenerator, StationProfile
from fleet.run.audit import audit_run, audit_transactions
from fleet.run.fleetfile import load_fleet
from fleet.run.supervisor import RunOptions, run_fleet

SPEED = 50.0


def profile(**changes: Any) -> StationProfile:
    fields: dict[str, Any] = {
        "sessions": SessionGenerator(start_delay=(0, 5), idle_time=(5, 20), session_duration=(60, 200),
                                     plug_in_delay=(1, 2), plug_out_delay=(1, 2)),
        "retry_backoff": RetryBackoff(wait_minimum=2, repeat_times=1, random_range=2),
        "ping_interval": 0,
        "security": Security(profile=0, password=None),
        "sampled_data": SampledData(tx_updated_interval=10),
    }
    fields.update(changes)
    return StationProfile(**fields)


def recorded(csms: Any, *, flags: bool = True) -> dict[str, dict[str, dict[str, Any]]]:
    """The CSMS's records in the audit's shape (with its retransmission flags if ``flags``)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for station_id, record in csms.stations().items():
        out[station_id] = {}
        for tx_id, tx in record.transactions.items():
            entry: dict[str, Any] = {"seq": [e.seq_no for e in tx.events], "energy": tx.energy_wh}
            if flags:
                entry["retransmitted"] = [e.seq_no for e in tx.events if e.retransmission]
            out[station_id][tx_id] = entry
    return out


async def settle_and_stop(stations: list[Station], timeout: float = 15.0) -> None:
    with trio.fail_after(timeout):
        for station in stations:
            await station.wait_until(lambda s: s.connected and s.registration == "Accepted" and s.queued_events == 0)
    async with trio.open_nursery() as nursery:
        for station in stations:
            nursery.start_soon(station.shutdown, 5.0)


# ---------------------------------------------------------------- the rules


def test_the_audit_tells_retransmissions_from_duplicates_and_losses() -> None:
    def audit(sent: dict[str, Any], got: dict[str, Any]) -> dict[str, Any]:
        return audit_transactions({"S": {"T": sent}}, {"S": {"T": got}})

    clean = audit({"seq": [0, 1, 2], "energy": 10.0}, {"seq": [0, 1, 2], "energy": 10.0})
    assert clean["ok"] and clean["retransmissions"] == 0
    # The answer to seqNo 1 was lost; the station sent it again; the CSMS got it twice.
    resent = audit({"seq": [0, 1, 2], "energy": 10.0, "resent": [1]}, {"seq": [0, 1, 1, 2], "energy": 10.0})
    assert resent["ok"] and resent["retransmissions"] == 1 and resent["duplicated_events"] == 0
    # ... and the CSMS found the copy identical: still fine.
    flagged = audit({"seq": [0, 1, 2], "energy": 10.0, "resent": [1]},
                    {"seq": [0, 1, 1, 2], "energy": 10.0, "retransmitted": [1]})
    assert flagged["ok"] and flagged["retransmissions"] == 1
    # Sent once, recorded twice: the CSMS accepted a duplicate.
    twice = audit({"seq": [0, 1, 2], "energy": 10.0}, {"seq": [0, 1, 1, 2], "energy": 10.0})
    assert not twice["ok"] and twice["duplicated_events"] == 1
    # Resent, but the CSMS's second copy differs from the first: a second event, not a retransmission.
    different = audit({"seq": [0, 1, 2], "energy": 10.0, "resent": [1]},
                      {"seq": [0, 1, 1, 2], "energy": 10.0, "retransmitted": []})
    assert not different["ok"] and different["duplicated_events"] == 1
    # Resent once, recorded three times.
    thrice = audit({"seq": [0, 1, 2], "energy": 10.0, "resent": [1]}, {"seq": [0, 1, 1, 1, 2], "energy": 10.0})
    assert not thrice["ok"] and (thrice["retransmissions"], thrice["duplicated_events"]) == (1, 1)
    missing = audit({"seq": [0, 1, 2], "energy": 10.0}, {"seq": [0, 2], "energy": 10.0})
    assert not missing["ok"] and missing["missing_events"] == 1
    disorder = audit({"seq": [0, 1, 2], "energy": 10.0}, {"seq": [0, 2, 1], "energy": 10.0})
    assert not disorder["ok"] and disorder["out_of_order_transactions"] == 1
    strange = audit({"seq": [0, 1], "energy": 10.0}, {"seq": [0, 1, 7], "energy": 10.0})
    assert not strange["ok"] and strange["unexpected_events"] == 1
    energy = audit({"seq": [0, 1], "energy": 10.0}, {"seq": [0, 1], "energy": 9.0})
    assert not energy["ok"] and energy["energy_mismatches"] == 1
    # Still in the station's queue when the run ended: not lost, not delivered either; no energy verdict.
    queued = audit({"seq": [0, 1, 2], "energy": 10.0, "undelivered": [2]}, {"seq": [0, 1], "energy": 5.0})
    assert queued["ok"] and queued["undelivered_events"] == 1 and queued["missing_events"] == 0


def test_a_retransmission_to_another_csms_process_is_not_a_duplicate() -> None:
    stations = [{"transactions": {"S": {"T": {"seq": [0, 1, 2], "energy": 3.0, "resent": [1]}}}}]
    processes = [{"transactions": {"S": {"T": {"seq": [0, 1], "energy": 2.0}}}},
                 {"transactions": {"S": {"T": {"seq": [1, 2], "energy": 3.0}}}}]
    result = audit_run(stations, processes)
    assert result["ok"] and result["retransmissions"] == 1


# ------------------------------------------------------------ over sockets


async def test_an_answer_lost_with_the_connection_is_retransmitted_not_duplicated() -> None:
    lost: list[int] = []
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        default = csms.default_handler("TransactionEvent")

        async def lose_the_first_answer(request: Any, ctx: Any) -> Any:
            if not lost:  # recorded already; the connection goes before the answer
                lost.append(request.seq_no)
                await ctx.connection.aclose(1001, "answer lost")
            return default(request, ctx)

        csms.on("TransactionEvent", lose_the_first_answer)
        station = Station("LOSS", csms.url, profile=profile(sessions=SessionGenerator(enabled=False)), seed=1,
                          speed=SPEED, protocol_speed=SPEED, audit=True)
        await nursery.start(station.run)
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.registration == "Accepted")
        await station.plug(1)
        await station.start_transaction(1, "TOKEN", authorize=False)
        await station.stop_transaction(1)
        await settle_and_stop([station])
    (tx_id, sent), = station.transaction_records().items()
    assert sent["resent"] == lost and station.snapshot().counters.events_dropped == 0
    tx = csms.stations()["LOSS"].transactions[tx_id]
    assert tx.duplicate_seq_nos() == lost and tx.retransmissions == 1
    assert [e.seq_no for e in tx.events if e.retransmission] == lost
    result = audit_transactions({"LOSS": station.transaction_records()}, recorded(csms))
    assert result["ok"] and result["retransmissions"] == 1 and result["duplicated_events"] == 0
    # Without the station's resend log the same copy would be a duplicate: the log is what tells them apart.
    blind = audit_transactions({"LOSS": {tx_id: {"seq": sent["seq"], "energy": sent["energy"]}}}, recorded(csms))
    assert not blind["ok"] and blind["duplicated_events"] == 1


async def test_random_disconnects_lose_nothing() -> None:
    spec = FaultSpec(disconnect_rate=3600.0 * 3 / SPEED)
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        stations = [Station(f"R{i}", csms.url, profile=profile(), seed=i, speed=SPEED, protocol_speed=SPEED, audit=True, faults=spec,
                            fault_epoch=time.time()) for i in range(8)]
        for station in stations:
            await nursery.start(station.run)

        def drops() -> list[int]:
            return [(s.fault_records() or {}).get("disconnects", 0) for s in stations]

        # Faults until every station lost its link and there are eight drops a station on average
        # (over two minutes of simulated time) with transactions at every station under way: counted, not timed.
        await wait_until(lambda: min(drops()) >= 1 and sum(drops()) >= 8 * len(stations)
                         and all(s.transaction_records() for s in stations), timeout=60,
                         what="link drops in the middle of transactions at every station",
                         show=lambda: {"drops": drops(), "transactions": [len(s.transaction_records()) for s in stations]})
        for station in stations:
            await station.stop_faults()
        await settle_and_stop(stations)
    injected = sum((s.fault_records() or {}).get("disconnects", 0) for s in stations)
    resent = sum(len(r.get("resent", [])) for s in stations for r in s.transaction_records().values())
    result = audit_transactions({s.station_id: s.transaction_records() for s in stations}, recorded(csms))
    assert injected >= 8 and result["checked_transactions"] >= 8
    assert result["ok"], result["problems"]
    assert (result["missing_events"], result["duplicated_events"], result["undelivered_events"]) == (0, 0, 0)
    assert result["retransmissions"] <= resent
    assert all(s.snapshot().counters.events_dropped == 0 for s in stations)


async def test_events_shed_from_a_full_offline_queue_are_reported_lost() -> None:
    busy = profile(sessions=SessionGenerator(enabled=False), offline_queue_limit=10,
                   sampled_data=SampledData(tx_updated_interval=1))
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        station = Station("SHED", csms.url, profile=busy, seed=1, speed=SPEED, protocol_speed=SPEED, audit=True)
        await nursery.start(station.run)
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.registration == "Accepted")
        await station.plug(1)
        await station.start_transaction(1, "TOKEN", authorize=False)
        await station.close()  # offline: periodic meter values pile up beyond the queue's 10
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.counters.events_dropped >= 5)
        await station.connect()
        await station.stop_transaction(1)
        await settle_and_stop([station])
    dropped = station.snapshot().counters.events_dropped
    result = audit_transactions({"SHED": station.transaction_records()}, recorded(csms))
    assert not result["ok"] and result["missing_events"] == dropped > 0


async def test_a_fleet_run_with_faults_in_its_fleet_file_loses_nothing(tmp_path: Path) -> None:
    (tmp_path / "busy.toml").write_text(
        "heartbeat_interval = 30\nping_interval = 0\n[retry_backoff]\nwait_minimum = 2\nrepeat_times = 1\nrandom_range = 2\n"
        "[sampled_data]\ntx_updated_interval = 10\n[sessions]\nstart_delay = [0, 5]\nidle_time = [5, 20]\n"
        "session_duration = [30, 90]\nplug_in_delay = [1, 2]\nplug_out_delay = [1, 2]\n"
    )
    (tmp_path / "fleet.toml").write_text(
        '[fleet]\nseed = 5\nramp = 400\nduration = 4\nspeed = 20\nspeed_protocol = true\n[[group]]\nprofile = "busy.toml"\ncount = 30\n'
        "[faults]\ndisconnect_rate = 120\nclock_skew = [-30, 30]\n"
    )
    plan = load_fleet(tmp_path / "fleet.toml")
    assert plan.profiles[0].faults.disconnect_rate == 120
    report = await run_fleet(plan, RunOptions(workers=1))
    audit = report.audit
    assert report.metrics.counters.get("disconnects", 0) > 0
    assert audit["checked_transactions"] > 0 and audit["ok"], audit["problems"]
    assert audit["missing_events"] == 0 and audit["duplicated_events"] == 0


def test_the_fleet_chaos_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                 tmp_path: Path) -> None:
    """The whole robustness suite, small and short: no crash, healthy fleet clean, nothing lost."""
    monkeypatch.setattr(fleet.net.transport, "HANDSHAKE_TIMEOUT", 0.5)
    report_path = tmp_path / "chaos.json"
    code = cli.main(["chaos", "--seconds", "3", "--healthy", "3", "--faulted", "4", "--victims", "1",
                     "--attackers", "2", "--speed", "40", "--downtime", "0.5", "--idle-timeout", "0.5",
                     "--decoder-inputs", "2000", "--fault", "disconnect_rate=400", "--report", str(report_path),
                     # The floods' goals are timings (a busy machine misses them): their figures are
                     # tested in test_flood.py, not gated here.
                     "--flood-seconds", "0"])
    out = capsys.readouterr().out
    report = msgspec.json.decode(report_path.read_bytes(), type=SuiteReport)
    assert code == 0 and report.passed and "ROBUSTNESS SUITE PASSED" in out, report.problems
    assert report.crashes == 0 and report.lost_events == 0 and report.healthy["errors"] == 0
    assert report.audit["ok"] and report.audit["checked_transactions"] > 0
    assert report.faults["disconnects"] > 0 and report.mass_reconnect["fleet_back_after_s"] is not None
    assert all(sum(classes.values()) > 0 for classes in report.inputs.values()), report.inputs
