"""``fleet station --ocpp-version``: the version (or versions, offered in order) the station
speaks instead of its profile's, checked before anything starts; ``fleet station`` runs as
a subprocess against fleet's CSMS in the test (real websockets on 127.0.0.1, port 0)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trio

from fleet import cli
from fleet.actors.csms import open_csms
from fleet.actors.csms.dialects import DIALECTS as CSMS_DIALECTS
from fleet.cli import build_parser
from fleet.commands.station import ocpp_versions
from fleet.exit_codes import USAGE

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("value", "words"), [
    ("1.5", ["--ocpp-version", "'1.5'", "valid versions: 2.1, 2.0.1, 1.6"]),
    ("2.0.1,2.0", ["'2.0'", "valid versions: 2.1, 2.0.1, 1.6"]),
    ("1.6,ocpp1.6", ["twice"]),
    (",", ["expected OCPP versions (2.1, 2.0.1, 1.6)"]),
])
def test_a_bad_ocpp_version_is_refused_in_one_line_before_anything_starts(
        capsys: pytest.CaptureFixture[str], value: str, words: list[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(["station", "ws://127.0.0.1:1/ocpp", "CS1", "--ocpp-version", value])
    assert refused.value.code == USAGE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)


def test_versions_are_offered_in_the_order_given() -> None:
    assert ocpp_versions("2.1,2.0.1") == ("2.1", "2.0.1")
    assert ocpp_versions("ocpp1.6") == ("1.6",)
    assert ocpp_versions(" 2.0.1 , 1.6 ") == ("2.0.1", "1.6")


def test_a_profile_whose_variables_are_not_of_the_version_asked_is_refused(
        capsys: pytest.CaptureFixture[str]) -> None:
    # a 1.6 profile (its [variables] are 1.6 configuration keys) asked to speak 2.0.1
    rc = cli.main(["station", "ws://127.0.0.1:1/ocpp", "CS1", "--profile", str(REPO / "profiles/ac-wallbox-16.toml"),
                   "--ocpp-version", "2.0.1"])
    err = capsys.readouterr().err
    assert rc == USAGE and len(err.strip().splitlines()) == 1, err
    assert err.startswith("fleet station: --ocpp-version 2.0.1: the profile's [variables] "), err


async def run_station(url: str, station_id: str, *options: str) -> tuple[int, str]:
    with trio.fail_after(40):
        result = await trio.run_process(
            [sys.executable, "-m", "fleet", "station", url, station_id, "--duration", "2", "--no-sessions", *options],
            capture_stdout=True, capture_stderr=True, check=False, cwd=REPO)
    return result.returncode, result.stdout.decode() + result.stderr.decode()


async def test_the_option_overrides_the_profile_s_version() -> None:
    async with open_csms(port=0) as csms:
        # the default profile speaks 2.0.1; --ocpp-version 1.6 makes a 1.6 station of it
        rc, out = await run_station(csms.url, "V16", "--ocpp-version", "1.6")
        assert rc == 0 and "(OCPP 1.6)" in out, out
        record = csms.station("V16")
        assert record is not None and record.ocpp_version == "1.6" and record.messages.get("StatusNotification")
        # a 2.0.1 profile made to speak 2.1
        rc, out = await run_station(csms.url, "V21", "--profile", str(REPO / "profiles/home-wallbox.toml"),
                                    "--ocpp-version", "2.1")
        assert rc == 0 and "(OCPP 2.1)" in out, out
        record = csms.station("V21")
        assert record is not None and record.ocpp_version == "2.1"
    # several offered: a CSMS that does not speak the first takes the next
    async with open_csms(port=0, dialects={name: CSMS_DIALECTS[name] for name in ("2.0.1", "1.6")}) as csms:
        rc, out = await run_station(csms.url, "OFFER", "--ocpp-version", "2.1,2.0.1")
        assert rc == 0 and "(OCPP 2.0.1)" in out, out
        record = csms.station("OFFER")
        assert record is not None and record.ocpp_version == "2.0.1"


QUICK_SESSIONS = """
name = "quick"
[[evses]]
max_power = 11000
[sessions]
start_delay = [0, 0.5]
plug_in_delay = [0, 0.5]
idle_time = [1000, 1000]
session_duration = [1000, 1000]
id_tokens = [{ id_token = "OK-1" }]
"""


async def test_a_1_6_station_prints_its_transactions_start_and_end_once(tmp_path: Path) -> None:
    profile = tmp_path / "quick.toml"
    profile.write_text(QUICK_SESSIONS)
    async with open_csms(port=0) as csms:
        with trio.fail_after(40):
            result = await trio.run_process(
                [sys.executable, "-m", "fleet", "station", csms.url, "TX16", "--profile", str(profile),
                 "--ocpp-version", "1.6", "--duration", "4", "--speed", "5", "--seed", "3"],
                capture_stdout=True, capture_stderr=True, check=False, cwd=REPO)
        record = csms.station("TX16")
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert record is not None and record.ocpp_version == "1.6"
    [transaction_id] = list(record.transactions)
    lines = out.splitlines()
    assert [line for line in lines if " started on connector " in line] == [
        f"TX16: transaction {transaction_id} started on connector 1"]
    assert [line for line in lines if line.startswith(f"TX16: transaction {transaction_id} ended")] == [
        f"TX16: transaction {transaction_id} ended (Local)"]
