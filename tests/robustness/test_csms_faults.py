"""CSMS-side faults: the built-in CSMS restarts (a mass reconnect, timed) and refuses boots
(Pending/Rejected shares), in the CSMS actor and in ``fleet run``; and a run against an
external CSMS refuses them before it starts.

Real websockets on 127.0.0.1, real worker processes for the runs. Assertions count what
happened (who was refused, that the fleet came back, that nothing was lost), never how fast.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import trio

from fleet.actors.csms import open_csms
from fleet.actors.station import Station
from fleet.faults import boot_statuses, parse_fault_options, pick_share
from fleet.profiles import RetryBackoff, Security, SessionGenerator, StationProfile
from fleet.run.fleetfile import load_fleet
from fleet.run.report import render_summary
from fleet.run.supervisor import RunOptions, check_csms_faults, run_fleet

PROFILE = """
name = "busy"
heartbeat_interval = 30
boot_retry_interval = 10
[retry_backoff]
wait_minimum = 2
repeat_times = 2
random_range = 2
[sampled_data]
tx_updated_interval = 10
[[evses]]
max_power = 22000
[sessions]
start_delay = [0, 5]
idle_time = [5, 20]
session_duration = [30, 90]
plug_in_delay = [1, 2]
plug_out_delay = [1, 2]
id_tokens = [{ id_token = "OK-1" }]
"""


def write_fleet(tmp_path: Path, count: int, *, duration: float, csms: str | None = None,
                speed_protocol: bool = False) -> Path:
    (tmp_path / "busy.toml").write_text(PROFILE)
    fleet = tmp_path / "fleet.toml"
    csms_line = f'csms = ["{csms}"]\n' if csms else ""
    fleet.write_text(
        f"[fleet]\nseed = 11\nramp = 400\nduration = {duration}\nspeed = 20\n"
        f"speed_protocol = {'true' if speed_protocol else 'false'}\n{csms_line}\n"
        f'[[group]]\nprofile = "busy.toml"\ncount = {count}\nstation_id = "R{{index:04d}}"\n'
    )
    return fleet


# ------------------------------------------------------------------ the CSMS actor


async def test_a_restarted_csms_listens_again_on_its_port_and_keeps_its_records() -> None:
    profile = StationProfile(sessions=SessionGenerator(enabled=False), ping_interval=0,
                             retry_backoff=RetryBackoff(wait_minimum=1, repeat_times=1, random_range=1),
                             security=Security(profile=0, password=None))
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        port = csms.port
        stations = [Station(f"S{i}", csms.url, profile=profile, seed=i, speed=10.0, protocol_speed=10.0) for i in range(3)]
        for station in stations:
            await nursery.start(station.run)
        with trio.fail_after(10):
            for station in stations:
                await station.wait_until(lambda s: s.registration == "Accepted" and s.connected)
        before = csms.statistics()
        closed = await csms.restart(0.5)
        assert closed == 3 and not csms.listening and csms.statistics().connected == 0
        with pytest.raises(RuntimeError, match="not listening"):
            await csms.restart(0.5)  # it is down already
        with trio.fail_after(15):
            for station in stations:
                await station.wait_until(lambda s: s.connected and s.registration == "Accepted")
        after = csms.statistics()
        assert csms.listening and csms.port == port and after.restarts == 1
        assert after.connections == before.connections + 3
        assert after.messages["BootNotification"] == before.messages["BootNotification"]  # recorded before, kept
        for station in stations:
            record = csms.station(station.station_id)
            assert record is not None and record.connections == 2 and record.connected
        with pytest.raises(ValueError):
            await csms.restart(-1)
        for station in stations:
            nursery.start_soon(station.shutdown, 1.0)


# ------------------------------------------------------------------ fleet run


async def test_fleet_run_restarts_the_builtin_csms_and_reports_when_the_fleet_was_back(tmp_path: Path) -> None:
    plan = load_fleet(write_fleet(tmp_path, 40, duration=7))
    plan = plan.with_faults(parse_fault_options(["csms_restart_at=3.5", "csms_downtime=1.5"]))
    report = await run_fleet(plan, RunOptions(workers=2, csms_workers=2))
    restarts = report.faults["csms_restarts"]
    assert len(restarts) == 1, restarts
    restart = restarts[0]
    assert restart["by"] == "schedule" and restart["downtime_s"] == 1.5 and restart["at_s"] >= 3.5
    assert restart["online_before"] == 40 and restart["connections_closed"] == 40
    assert restart["lowest_online"] < 40  # the fleet did go down...
    assert restart["fleet_back_after_s"] is not None  # ...and came back
    assert report.metrics.counters["reconnects"] >= 40
    # The CSMS processes kept what they recorded: the audit of every transaction is whole.
    assert report.audit["checked_transactions"] > 0
    assert report.audit["ok"] and report.audit["missing_events"] == 0, report.audit["problems"]
    summary = render_summary(report)
    assert "CSMS restart at" in summary and "down 1.5 s, fleet back after" in summary and "(40 stations)" in summary


async def test_fleet_run_boot_shares_are_answered_pending_and_rejected_by_the_csms(tmp_path: Path) -> None:
    plan = load_fleet(write_fleet(tmp_path, 30, duration=4, speed_protocol=True))  # boot retries in seconds
    plan = plan.with_faults(parse_fault_options([
        "boot_pending_share=0.2", "boot_rejected_share=0.2", "boot_refusal_duration=2.5",
        "csms_restart_at=300",  # after the end: reported as skipped
    ]))
    expected = boot_statuses((s.station_id, s.seed, plan.profiles[s.group].faults) for s in plan.stations())
    pending = sorted(sid for sid, status in expected.items() if status == "Pending")
    rejected = sorted(sid for sid, status in expected.items() if status == "Rejected")
    assert pending and rejected
    report = await run_fleet(plan, RunOptions(workers=2))
    assert "boot_refusals" in report.faults, (report.faults, report.fleet)
    refusals = report.faults["boot_refusals"]
    assert refusals["station_ids"] == {"Pending": pending, "Rejected": rejected}  # exactly the drawn stations
    assert refusals["stations"] == {"Pending": len(pending), "Rejected": len(rejected)}
    assert refusals["answers"]["Pending"] >= len(pending) and refusals["answers"]["Rejected"] >= len(rejected)
    assert refusals["accepted_later"] == len(expected)  # boot_refusal_duration ended the refusals
    assert sum(report.stations.values()) == 30 and not {"pending", "rejected"} & set(report.stations)
    assert report.faults["csms_restarts"] == [{"by": "schedule", "at_s": 300.0, "downtime_s": 5.0,
                                               "skipped": "the run ended before csms_restart_at"}]
    summary = render_summary(report)
    assert f"Pending to {len(pending)} stations" in summary and "skipped" in summary
    assert report.audit["ok"], report.audit["problems"]


def test_pick_share_is_seeded_exact_and_nested() -> None:
    ids = [f"X{i:03d}" for i in range(200)]
    tenth = pick_share(ids, 0.1, seed=4, salt="disconnect")
    assert len(tenth) == 20 and tenth == sorted(tenth)
    assert pick_share(reversed(ids), 0.1, seed=4, salt="disconnect") == tenth  # order does not matter
    assert set(tenth) <= set(pick_share(ids, 0.3, seed=4, salt="disconnect"))  # a larger share: a superset
    assert pick_share(ids, 0.1, seed=5, salt="disconnect") != tenth
    assert pick_share(ids, 0.1, seed=4, salt="partition") != tenth
    assert pick_share(ids, 0.0, seed=4) == [] and len(pick_share(ids, 1.0, seed=4)) == 200


def test_csms_side_faults_are_refused_against_an_external_csms(tmp_path: Path) -> None:
    plan = load_fleet(write_fleet(tmp_path, 2, duration=1, csms="ws://127.0.0.1:9/ocpp"))
    check_csms_faults(plan)  # no CSMS-side fault: fine
    for option in ("csms_restart_at=5", "boot_pending_share=0.5", "boot_rejected_share=0.1"):
        with pytest.raises(ValueError, match=option.split("=")[0]):
            check_csms_faults(plan.with_faults(parse_fault_options([option])))
    fleet = write_fleet(tmp_path, 2, duration=1)
    refused = subprocess.run(
        [sys.executable, "-m", "fleet", "run", str(fleet), "--csms", "ws://127.0.0.1:9/ocpp", "--no-control",
         "--fault", "csms_restart_at=5"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "csms_restart_at" in refused.stderr and "built-in CSMS" in refused.stderr


def test_the_summary_says_when_the_fleet_was_not_back() -> None:
    from fleet.run.report import Report

    faults = {"csms_restarts": [
        {"by": "control", "at_s": 12.0, "downtime_s": 3.0, "online_before": 50, "fleet_back_after_s": None,
         "lowest_online": 7},
        {"by": "schedule", "at_s": 30.0, "downtime_s": 2.0, "online_before": 50, "fleet_back_after_s": 1.25},
    ]}
    summary = render_summary(Report(faults=faults))
    assert "CSMS restart at 12.0 s (control API), down 3 s, fleet not back by the end (50 stations online before" \
        in summary
    assert "CSMS restart at 30.0 s, down 2 s, fleet back after 1.25 s (50 stations)" in summary


def test_pieces_of_a_transaction_from_two_csms_processes_are_joined_in_arrival_order() -> None:
    """After a restart a station may reconnect to the other CSMS process: the later piece must
    not be read as coming first (nor its energy as older)."""
    from fleet.run.audit import audit_run

    sent = [{"transactions": {"S1": {"tx": {"seq": [0, 1, 2, 3], "energy": 40.0}}}}]
    later = {"transactions": {"S1": {"tx": {"seq": [2, 3], "energy": 40.0, "first_at": 200.0}}}}
    earlier = {"transactions": {"S1": {"tx": {"seq": [0, 1], "energy": 10.0, "first_at": 100.0}}}}
    audit = audit_run(sent, [later, earlier])  # CSMS process 0 got the later piece
    assert audit["ok"] and audit["out_of_order_transactions"] == 0 and audit["energy_mismatches"] == 0, audit
