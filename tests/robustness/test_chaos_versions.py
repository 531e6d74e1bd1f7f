"""Malformed traffic in each OCPP version: 1.6's CALLERROR codes, 2.1's SEND and CALLRESULTERROR
(silence in 2.1, an unknown message type before), ``fleet chaos --ocpp-version``."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import msgspec
import pytest
import trio

import fleet.net.transport
from fleet import cli
from fleet.actors.csms import Csms
from fleet.chaos.suite import SuiteReport, probe_csms
from fleet.malformed import (
    MALFORMED_CLASSES,
    NO_ANSWER,
    RESULT,
    ProbeRun,
    directions,
    make_probe,
    random_request,
)
from fleet.ocpp import V16, V21, V201, ProtocolVersion, Session

VERSIONS = (V16, V201, V21)
#: Codes OCPP 1.6 does not have: a 1.6 peer must never be expected to send them.
NOT_16 = {"RpcFrameworkError", "FormatViolation", "OccurrenceConstraintViolation", "MessageTypeNotSupported"}


def _harmless_answer(version: ProtocolVersion, action: str) -> object:
    body = {"currentTime": "2025-01-01T00:00:00Z"} if action == "Heartbeat" else (
        {"listVersion": 0} if version is V16 else {"versionNumber": 0})
    return msgspec.convert(body, version.actions[action][1])


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test_every_action_of_every_version_gets_a_valid_random_request(version: ProtocolVersion) -> None:
    """(1.6's URIs and its multiples of 0.1 too: GetDiagnostics, UpdateFirmware and
    SetChargingProfile had none; 2.1's SEND messages are requests of their own.)"""
    for action in sorted(version.actions) + sorted(version.send_actions):
        for seed in range(5):
            random_request(version, action, random.Random(seed))  # raises when it finds none


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test_each_class_is_answered_as_its_version_prescribes_by_that_versions_session(version: ProtocolVersion) -> None:
    """Every probe of every class (but oversize, the websocket's business) towards both roles,
    fed to a session of the receiving role: the answers are the ones the probe expects."""
    for direction in directions(version):
        assert not set(direction.actions) & set(version.send_actions)  # SEND messages are not CALLs
        for klass in MALFORMED_CLASSES:
            if klass == "oversize":
                continue
            for seed in range(30):
                probe = make_probe(klass, random.Random(seed), direction)
                accepted = {code for e in probe.expect for code in e.accept}
                if version is V16:
                    assert not accepted & NOT_16, (klass, probe.variant, accepted)
                session = Session(version, role=direction.name,  # type: ignore[arg-type]
                                  supported_actions=set(direction.actions) | set(direction.sends))
                run = ProbeRun(probe)
                for n, frame in enumerate(probe.frames):
                    session.receive_frame(frame, float(n))
                    for message_id in session.awaiting_reply():
                        session.reply(message_id, _harmless_answer(version, direction.harmless[0]))
                    for answer in session.data_to_send():
                        run.offer(answer)
                run.finish(False)
                assert run.matched, (version.name, direction.name, klass, probe.variant, probe.frames, run.outcomes)


def test_send_and_callresulterror_frames_get_silence_in_2_1_and_an_unknown_type_answer_before() -> None:
    for version, first in ((V21, {NO_ANSWER}), (V201, {"MessageTypeNotSupported"}), (V16, {"GenericError"})):
        for klass in ("send_message", "call_result_error"):
            probe = make_probe(klass, random.Random(3), directions(version)[0])
            assert probe.frames[0].startswith("[6," if klass == "send_message" else "[5,")
            assert [set(e.accept) for e in probe.expect] == [first, {RESULT}], (version.name, klass)


async def test_fleet_csms_answers_every_class_in_each_version_the_attacker_speaks() -> None:
    csms = Csms("127.0.0.1", 0)
    tables = {}
    async with trio.open_nursery() as nursery:
        await nursery.start(csms.run)
        for version in VERSIONS:
            tables[version.name] = await probe_csms(csms.url, station_id=f"ATTACK-{version.name}", per_class=4,
                                                    seed=5, timeout=5.0, version=version)
        csms.stop()
    for name, table in tables.items():
        assert set(table) >= set(MALFORMED_CLASSES), name
        assert {k: e for k, e in table.items() if e["matched"] != e["tried"]} == {}, name
    outcomes = {name: {code for e in table.values() for code in e["outcomes"]} for name, table in tables.items()}
    assert not outcomes["1.6"] & NOT_16 and "ProtocolError" in outcomes["1.6"], outcomes["1.6"]
    assert {"RpcFrameworkError", "MessageTypeNotSupported"} <= outcomes["2.0.1"]
    assert tables["2.1"]["send_message"]["outcomes"][NO_ANSWER] == tables["2.1"]["send_message"]["tried"]
    assert tables["2.1"]["call_result_error"]["outcomes"][NO_ANSWER] == tables["2.1"]["call_result_error"]["tried"]
    assert tables["2.0.1"]["send_message"]["outcomes"]["MessageTypeNotSupported"] == 4
    assert tables["1.6"]["send_message"]["outcomes"]["GenericError"] == 4
    assert "no answer to the SEND" in tables["2.1"]["send_message"]["expected"]
    assert tables["1.6"]["not_json"]["expected"].startswith("ProtocolError")


async def test_the_fleet_chaos_command_probes_a_csms_in_the_version_it_is_told() -> None:
    csms = Csms("127.0.0.1", 0)
    async with trio.open_nursery() as nursery:
        await nursery.start(csms.run)
        done = await trio.run_process(
            [sys.executable, "-m", "fleet", "chaos", "--csms", csms.url, "--ocpp-version", "1.6", "--per-class", "2"],
            capture_stdout=True, capture_stderr=True, check=False)
        csms.stop()
    out = done.stdout.decode()
    assert done.returncode == 0, (out, done.stderr.decode())
    assert "OCPP 1.6" in out and "✓ send_message" in out and "✗" not in out, out
    assert not [code for code in NOT_16 if code in out], out  # neither answered nor expected


@pytest.mark.parametrize("version", ["1.6", "2.1"])
def test_the_robustness_suite_in_another_version(version: str, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The whole suite, small and short, with every station, attacker and the hostile CSMS
    speaking ``version``: every attack answered as the version prescribes, nothing lost."""
    monkeypatch.setattr(fleet.net.transport, "HANDSHAKE_TIMEOUT", 0.5)
    report_path = tmp_path / "chaos.json"
    code = cli.main(["chaos", "--ocpp-version", version, "--seconds", "3", "--healthy", "2", "--faulted", "3",
                     "--victims", "1", "--attackers", "1", "--speed", "40", "--downtime", "0.5", "--idle-timeout",
                     "0.5", "--decoder-inputs", "500", "--flood-seconds", "0", "--report", str(report_path)])
    out = capsys.readouterr().out
    report = msgspec.json.decode(report_path.read_bytes(), type=SuiteReport)
    assert code == 0 and report.passed and f"(OCPP {version}" in out, report.problems
    assert report.config["ocpp_version"] == version
    assert report.crashes == 0 and report.lost_events == 0 and report.healthy["errors"] == 0
    tables = (report.csms_websocket, report.csms_from_stations, report.stations_attacked)
    answers = {code for table in tables for entry in table.values() for code in entry["outcomes"]}
    if version == "1.6":
        assert not answers & NOT_16, answers
    new_types = [table[k] for table in tables for k in ("send_message", "call_result_error") if k in table]
    assert new_types, "no SEND or CALLRESULTERROR was tried"
    silence_or_unknown = {NO_ANSWER} if version == "2.1" else {"GenericError"}
    assert all(set(entry["outcomes"]) <= silence_or_unknown | {RESULT} for entry in new_types), new_types
