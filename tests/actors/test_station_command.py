"""``fleet station`` against a CSMS that refuses its TransactionEvents (issue 10).

The CSMS runs in the test (real websockets on 127.0.0.1, port 0) with a TransactionEvent
handler that answers every one with a CALLERROR; ``fleet station`` runs as a subprocess.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import trio

from fleet.actors.csms import open_csms
from fleet.exit_codes import RUN_FAILED
from fleet.ocpp import ErrorCode, OcppError

QUICK_SESSIONS = """
name = "quick"
heartbeat_interval = 300
[[evses]]
max_power = 11000
[sessions]
start_delay = [0, 0.5]
plug_in_delay = [0, 0.5]
idle_time = [1000, 1000]
session_duration = [1000, 1000]
id_tokens = [{ id_token = "OK-1" }]
[variables]
"OCPPCommCtrlr.MessageAttemptInterval[TransactionEvent]" = 1
"""


async def test_station_prints_each_callerror_once_each_transaction_once_and_fails_with_events_undelivered(
    tmp_path: Path,
) -> None:
    profile = tmp_path / "quick.toml"
    profile.write_text(QUICK_SESSIONS)
    refused = 0

    def refuse(request: Any, ctx: Any) -> Any:
        nonlocal refused
        refused += 1
        raise OcppError(ErrorCode.INTERNAL_ERROR, "the database is down")

    async with open_csms(port=0) as csms:
        csms.on("TransactionEvent", refuse)
        with trio.fail_after(50):
            result = await trio.run_process(
                [sys.executable, "-m", "fleet", "station", csms.url, "CMD1", "--profile", str(profile),
                 "--duration", "4", "--speed", "5", "--seed", "3"],
                capture_stdout=True, capture_stderr=True, check=False,
            )
    out = result.stdout.decode()
    assert refused >= 2, out  # the CSMS refused the start (and its retries) and the end
    lines = out.splitlines()
    callerrors = [line for line in lines if "CALLERROR" in line and "answered" in line]
    assert callerrors == ["CMD1: the CSMS answered TransactionEvent with CALLERROR InternalError: the database is down"]
    started = [line for line in lines if " started on EVSE " in line]
    assert len(started) == 1, out  # once per transaction, not per attempt
    assert "undelivered" in out
    assert result.returncode == RUN_FAILED, out + result.stderr.decode()


async def test_station_says_what_a_failed_connection_most_likely_means() -> None:
    from fleet.net.transport import connect_failure_hint

    with trio.fail_after(30):
        result = await trio.run_process(
            [sys.executable, "-m", "fleet", "station", "ws://127.0.0.1:1/ocpp", "CMD2", "--duration", "1"],
            capture_stdout=True, capture_stderr=True, check=False,
        )
    out = result.stdout.decode()
    assert "cannot connect:" in out and connect_failure_hint("refused") in out, out
