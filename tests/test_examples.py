"""The programs in ``examples/``, run against each other over loopback (127.0.0.1, port 0).

Pairs: the basic station with the basic CSMS; the device-model station with the
compliance CSMS (token statuses, local list, password rotation, remote stop,
Reset OnIdle); the boot-handling station with a basic CSMS answering Rejected,
Pending, then Accepted. Each example's importable ``run`` is driven in-process;
two of them also run as programs (``python examples/...``).
"""

from __future__ import annotations

import functools
import importlib.util
import re
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio
from waiting import wait_state, wait_until

from fleet.net.events import OcppMessage
from fleet.ocpp.v201 import (
    Component,
    DataTransferRequest,
    DataTransferStatus,
    GetVariableData,
    GetVariablesRequest,
    MessageTrigger,
    Reset,
    ResetRequest,
    ResetStatus,
    TriggerMessageRequest,
    TriggerMessageStatus,
    Variable,
)

pytestmark = pytest.mark.timeout(40)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = ("basic_csms", "basic_station", "compliance_csms", "station_device_model", "station_boot_handling")


def load(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` (the examples are programs, not a package)."""
    module_name = f"fleet_example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


basic_csms = load("basic_csms")
basic_station = load("basic_station")
compliance_csms = load("compliance_csms")
station_device_model = load("station_device_model")
station_boot_handling = load("station_boot_handling")


# ------------------------------------------------------- basic station + basic CSMS


async def test_basic_station_boots_heartbeats_and_charges_with_the_basic_csms() -> None:
    csms_log: list[str] = []
    station_log: list[str] = []
    async with trio.open_nursery() as nursery:
        csms = await nursery.start(functools.partial(basic_csms.run, port=0, heartbeat_interval=1,
                                                     log=csms_log.append))
        snapshot = await basic_station.run(csms.url, "CS001", duration=3.5, charge_seconds=1.5, meter_interval=1,
                                           log=station_log.append)
        nursery.cancel_scope.cancel()
    assert snapshot.counters.boots == 1
    assert snapshot.counters.heartbeats >= 2
    assert snapshot.counters.transactions_ended == 1
    assert snapshot.counters.events_dropped == 0
    record = csms.station("CS001")
    assert record is not None and record.boot is not None and record.boot.reason == "PowerUp"
    [transaction] = record.transactions.values()
    assert transaction.ended and transaction.stopped_reason == "Local" and transaction.id_token == "TOKEN-0001"
    assert any(e.trigger_reason == "MeterValuePeriodic" for e in transaction.events)
    assert transaction.energy_wh is not None and transaction.energy_wh > transaction.events[0].energy_wh
    assert "charging with TOKEN-0001" in station_log
    assert any(line.startswith("CS001: boots, fleet SimAC-11") for line in csms_log)
    assert "CS001: registration Accepted, interval 1 s" in csms_log


# ------------------------------------------- device-model station + compliance CSMS


PASSWORD = "device-model-password-01"


async def test_compliance_csms_provisions_the_device_model_station_and_rotates_its_password() -> None:
    csms_log: list[str] = []
    station_log: list[str] = []
    async with trio.open_nursery() as nursery:
        app = await nursery.start(functools.partial(
            compliance_csms.run, port=0, stations={"CS001": PASSWORD}, heartbeat_interval=30,
            remote_stop_after=1.0, log=csms_log.append))
        csms = app.csms
        outcome = app.outcome
        station = await nursery.start(functools.partial(
            station_device_model.run, csms.url, "CS001", password=PASSWORD, backoff=(1, 1, 0),
            log=station_log.append))

        # provisioning, then the password rotation and the reconnection with the new password
        await wait_until(lambda: "CS001" in outcome.reconnected_with_new_password, timeout=10)
        new_password = csms.get_station_password("CS001")
        assert new_password is not None and new_password != PASSWORD and 16 <= len(new_password) <= 40
        assert outcome.password_rotated == {"CS001": "Accepted"}
        assert station.password == new_password
        await wait_state(station, "available")
        assert station.snapshot().counters.connects == 2
        assert station.snapshot().counters.boots == 1  # a reconnection, not a reboot
        record = csms.station("CS001")
        assert record is not None and record.connections == 2 and record.connected

        read = outcome.read["CS001"]
        assert read["SecurityCtrlr.Identity"] == "CS001"
        assert read["AuthCtrlr.LocalPreAuthorize"] == "true"  # the profile's override, seen by the CSMS
        assert read["OCPPCommCtrlr.HeartbeatInterval"] == "30"  # from the boot answer
        assert set(outcome.written["CS001"].values()) == {"Accepted"}
        assert outcome.base_report == {"CS001": "Accepted"}
        await wait_until(lambda: outcome.report_items.get("CS001", 0) > 20)
        assert outcome.local_list == {"CS001": "Accepted"}
        assert outcome.clear_cache == {"CS001": "Accepted"}  # AuthCacheCtrlr.Enabled, overridden by the profile
        assert not outcome.failures

        # the vendor variables and the DataTransfer override
        got = await csms.call("CS001", GetVariablesRequest(get_variable_data=[GetVariableData(
            component=Component(name="ExampleCtrlr"), variable=Variable(name="GreetingText"))]))
        assert got.get_variable_result[0].attribute_value == "Hello from fleet"
        greeting = await csms.call("CS001", DataTransferRequest(vendor_id="com.example", message_id="Greeting"))
        assert (greeting.status, greeting.data) == (DataTransferStatus.ACCEPTED, "Hello from fleet")
        other = await csms.call("CS001", DataTransferRequest(vendor_id="fleet", message_id="echo"))
        assert other.status == DataTransferStatus.UNKNOWN_VENDOR_ID

        # tokens the CSMS refuses: no transaction
        for token, status in (("INVALID-0001", "Invalid"), ("BLOCKED-0001", "Blocked"),
                              ("EXPIRED-0001", "Expired"), ("NOBODY-0001", "Unknown")):
            await station.start_transaction(1, token)
            await wait_until(functools.partial(outcome.authorizations.__contains__, ("CS001", token, status)))
            assert station.snapshot().evses[0].id_token is None
        assert not csms.station("CS001").transactions

        # a group token: charging, then Reset OnIdle (Scheduled) and the remote stop
        await station.plug(1)
        await station.start_transaction(1, "GROUP-A-0001")
        await wait_until(lambda: ("CS001", "GROUP-A-0001", "Accepted") in outcome.authorizations)
        snapshot = await station.wait_until(lambda s: s.evses[0].transaction_id is not None)
        transaction_id = snapshot.evses[0].transaction_id
        await wait_until(lambda: outcome.remote_stops.get(transaction_id) == "Accepted")
        assert outcome.resets == {"CS001": ["Scheduled"]}
        await wait_until(lambda: csms.station("CS001").transactions[transaction_id].ended)
        assert csms.station("CS001").transactions[transaction_id].stopped_reason == "Remote"

        # the scheduled reset: the station reboots, reconnects (with the new password) and boots again
        await wait_until(lambda: csms.station("CS001").boot.reason == "RemoteReset")
        await wait_state(station, "available")
        assert station.snapshot().counters.reboots == 1
        assert csms.get_station_password("CS001") == new_password  # rotated once only
        assert csms.statistics().refused == {}
        nursery.cancel_scope.cancel()

    assert "new Basic auth password: reconnecting with it" in station_log
    assert any(line.startswith("back-off changed at run time") for line in station_log)
    assert "CS001: reconnected with its new password" in csms_log
    assert "CS001: token INVALID-0001: Invalid" in csms_log
    assert "CS001: token GROUP-A-0001: Accepted (group GROUP-A)" in csms_log
    everything = "\n".join(csms_log + station_log)
    assert PASSWORD not in everything and new_password not in everything, "a password was logged"


# ------------------------------------------------ boot-handling station + basic CSMS


async def test_boot_handling_station_through_rejected_and_pending_then_trigger_and_reset() -> None:
    station_log: list[str] = []
    actions: list[str] = []
    security_events: list[str] = []

    async def collect(events: trio.MemoryReceiveChannel[Any]) -> None:
        async for event in events:
            if isinstance(event, OcppMessage) and event.direction == "in" and event.kind == "request":
                actions.append(event.action)
                if event.action == "SecurityEventNotification":
                    security_events.append(event.payload.type)

    async with trio.open_nursery() as nursery:
        csms = await nursery.start(functools.partial(
            basic_csms.run, port=0, boot_statuses=("Rejected", "Pending", "Accepted"), boot_retry_interval=1,
            heartbeat_interval=30, log=lambda line: None))
        async with csms.subscribe("CS001") as events, trio.open_nursery() as collecting:
            collecting.start_soon(collect, events)
            station = await nursery.start(functools.partial(station_boot_handling.run, csms.url, "CS001",
                                                            log=station_log.append))
            await wait_state(station, "rejected")
            await wait_state(station, "pending", timeout=4)
            await wait_state(station, "available", timeout=4)

            def count(action: str) -> int:
                record = csms.station("CS001")
                return record.messages.get(action, 0) if record is not None else 0

            await wait_until(lambda: security_events == ["StartupOfTheDevice"] and count("NotifyEvent") == 1)
            assert actions[:3] == ["BootNotification"] * 3
            assert "BootNotification" not in actions[3:]

            statuses = count("StatusNotification")
            answer = await csms.call("CS001", TriggerMessageRequest(
                requested_message=MessageTrigger.STATUS_NOTIFICATION))
            assert answer.status == TriggerMessageStatus.ACCEPTED
            await wait_until(lambda: count("StatusNotification") == statuses + 1)
            answer = await csms.call("CS001", TriggerMessageRequest(requested_message=MessageTrigger.HEARTBEAT))
            assert answer.status == TriggerMessageStatus.ACCEPTED
            await wait_until(lambda: count("Heartbeat") == 1)
            answer = await csms.call("CS001", TriggerMessageRequest(
                requested_message=MessageTrigger.BOOT_NOTIFICATION))
            assert answer.status == TriggerMessageStatus.REJECTED  # it is accepted already

            answer = await csms.call("CS001", ResetRequest(type=Reset.IMMEDIATE))
            assert answer.status == ResetStatus.ACCEPTED
            await wait_until(lambda: csms.station("CS001").boot.reason == "RemoteReset")
            await wait_state(station, "available")
            await wait_until(lambda: "ResetOrReboot" in security_events and count("NotifyEvent") == 2)
            assert security_events.count("StartupOfTheDevice") == 1
            record = csms.station("CS001")
            assert record is not None and record.connections == 2 and record.registration_status == "Accepted"
            assert station.snapshot().counters.reboots == 1
            collecting.cancel_scope.cancel()
        nursery.cancel_scope.cancel()

    assert any(line.startswith("Rejected: sends nothing and boots again in 1 s") for line in station_log)
    assert any(line.startswith("Pending: boots again in 1 s") for line in station_log)
    assert "sent SecurityEventNotification StartupOfTheDevice" in station_log
    assert station_log.count("sent NotifyEvent AvailabilityState Available") == 2
    assert "CSMS triggers BootNotification" in station_log and "trigger Rejected" in station_log


async def test_boot_handling_station_boots_at_once_when_triggered_while_pending() -> None:
    async with trio.open_nursery() as nursery:
        csms = await nursery.start(functools.partial(
            basic_csms.run, port=0, boot_statuses=("Pending", "Accepted"), boot_retry_interval=600,
            log=lambda line: None))
        station = await nursery.start(functools.partial(station_boot_handling.run, csms.url, "CS002",
                                                        log=lambda line: None))
        await wait_state(station, "pending")
        # while Pending the CSMS may read the device model, and ask for the boot now
        got = await csms.call("CS002", GetVariablesRequest(get_variable_data=[GetVariableData(
            component=Component(name="SecurityCtrlr"), variable=Variable(name="Identity"))]))
        assert got.get_variable_result[0].attribute_value == "CS002"
        answer = await csms.call("CS002", TriggerMessageRequest(requested_message=MessageTrigger.BOOT_NOTIFICATION))
        assert answer.status == TriggerMessageStatus.ACCEPTED
        await wait_state(station, "available")
        record = csms.station("CS002")
        assert record is not None and record.boot is not None and record.boot.reason == "Triggered"
        assert record.messages["BootNotification"] == 2
        nursery.cancel_scope.cancel()


# -------------------------------------------------------------- as programs


@pytest.mark.parametrize("name", NAMES)
def test_example_has_a_docstring_and_a_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = load(name)
    assert module.__doc__ and f"python examples/{name}.py" in module.__doc__
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"])
    assert exit_.value.code == 0
    assert "--duration" in capsys.readouterr().out


#: Arguments for a short run of each program; stations aim at a closed port (they keep retrying).
SHORT_RUNS = {
    "basic_csms": (["--port", "0", "--duration", "0.3"], "listening on ws://127.0.0.1:"),
    "compliance_csms": (["--port", "0", "--duration", "0.3", "--station", "CS001:a-long-secret-password"],
                        "listening on ws://127.0.0.1:"),
    "basic_station": (["ws://127.0.0.1:1/ocpp", "CS001", "--duration", "0.5"], "CS001: 0 boots"),
    "station_device_model": (["ws://127.0.0.1:1/ocpp", "CS001", "--backoff", "2,3,1", "--duration", "0.5"],
                             "CS001: 0 connections"),
    "station_boot_handling": (["ws://127.0.0.1:1/ocpp", "CS001", "--duration", "0.5"], "CS001: 0 boot answers"),
}


@pytest.mark.parametrize("name", NAMES)
def test_example_main_runs_for_its_duration(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    args, expected = SHORT_RUNS[name]
    assert load(name).main(args) == 0
    assert expected in capsys.readouterr().out


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(SystemExit) as exit_:
        basic_csms.main(["--boot-statuses", "Maybe"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        station_device_model.main(["ws://127.0.0.1:1/ocpp", "CS001", "--backoff", "1,2"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        compliance_csms.main(["--station", "CS001"])
    assert exit_.value.code == 2


#: Start a command with SIGINT ignored, as a shell script's background job (``prog &``) starts it.
SIGINT_IGNORED = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); os.execv(sys.executable, sys.argv[1:])"


@pytest.mark.parametrize("sigint", ["default", "inherited ignored"])
async def test_basic_examples_run_as_programs(sigint: str) -> None:
    """The CSMS stops on Ctrl-C (exit 130), also when it inherited SIGINT ignored: it then
    ignored SIGINT and ran on (``make test`` started that way failed here)."""
    command = [sys.executable, "-u", str(EXAMPLES / "basic_csms.py"), "--port", "0", "--heartbeat-interval", "1"]
    if sigint == "inherited ignored":
        command = [sys.executable, "-c", SIGINT_IGNORED, *command]
    csms = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = b""
    try:
        assert csms.stdout is not None
        with trio.fail_after(15):
            while (match := re.search(rb"listening on (ws://127\.0\.0\.1:\d+/ocpp)", output)) is None:
                chunk = await csms.stdout.receive_some()
                assert chunk, output.decode()
                output += chunk
        url = match.group(1).decode()
        with trio.fail_after(20):
            station = await trio.run_process(
                [sys.executable, str(EXAMPLES / "basic_station.py"), url, "CS001", "--duration", "2.5",
                 "--charge-seconds", "1", "--meter-interval", "1"],
                capture_stdout=True, capture_stderr=True, check=False,
            )
        lines = station.stdout.decode()
        assert station.returncode == 0, station.stderr.decode()
        assert "charging with TOKEN-0001" in lines and "1 transactions" in lines
        csms.send_signal(signal.SIGINT)  # Ctrl-C
        with trio.fail_after(10):
            async for chunk in csms.stdout:
                output += chunk
            assert await csms.wait() == 130
        text = output.decode()
        assert "CS001: boots, fleet SimAC-11" in text and "CS001: disconnected" in text
    finally:
        with trio.CancelScope(shield=True):
            csms.kill()
            await csms.wait()
