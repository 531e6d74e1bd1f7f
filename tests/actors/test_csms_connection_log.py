"""`fleet csms` says what happens to connections at INFO: a line per station connect,
disconnect and refused handshake (with the reason), rate-limited with a count."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
import trio
from waiting import wait_until

from fleet.actors.csms import open_csms
from fleet.actors.csms.connection_log import LOGGER_NAME, ConnectionLog
from fleet.net.transport import HandshakeRefused, open_station_websocket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER_NAME]


def test_a_burst_is_cut_to_a_few_lines_and_a_count(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    clock = Clock()
    log = ConnectionLog(lines_per_window=3, window=1.0, clock=clock)
    for i in range(1000):
        log.connected(f"CS{i}", "127.0.0.1:1", "2.0.1")
    log.refused(401, "CS9")
    assert messages(caplog) == [f"CS{i} connected from 127.0.0.1:1 (OCPP 2.0.1)" for i in range(3)] + [
        "refused CS9: wrong or missing password (HTTP 401)"]
    caplog.clear()
    clock.now += 1.0  # the next window: the count of what was held back first
    log.disconnected("CS0", "closed")
    assert messages(caplog) == ["... and 997 more stations connected in the last 1 s", "CS0 disconnected (closed)"]


def test_nothing_is_counted_or_formatted_when_info_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    log = ConnectionLog(lines_per_window=1)
    for i in range(10):
        log.connected(f"CS{i}", "127.0.0.1:1", "2.0.1")
    log.flush()
    assert messages(caplog) == []


async def test_the_csms_logs_connects_disconnects_and_refused_handshakes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    async with open_csms(port=0, auth={"CS1": "secret"}) as csms:
        async with open_station_websocket(csms.url, "CS1", password="secret"):
            await wait_until(lambda: csms.is_connected("CS1"), what="CS1 connected")
        with pytest.raises(HandshakeRefused):
            async with open_station_websocket(csms.url, "CS2", password="wrong"):
                pass
        with pytest.raises(HandshakeRefused):
            async with open_station_websocket(csms.url, "CS1", password="secret", subprotocols=("ocpp0.1",)):
                pass
        await wait_until(lambda: any("disconnected" in m for m in messages(caplog)), what="the disconnect line")
    lines = messages(caplog)
    assert any(m.startswith("CS1 connected from 127.0.0.1:") and m.endswith("(OCPP 2.0.1)") for m in lines), lines
    assert any(m.startswith("CS1 disconnected (") for m in lines), lines
    assert "refused CS2: wrong or missing password (HTTP 401)" in lines
    assert "refused CS1: no OCPP subprotocol in common" in lines


async def test_the_count_of_a_burst_is_said_without_waiting_for_another_connection(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    log = ConnectionLog(lines_per_window=1, window=0.05)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(log.run)
        for i in range(5):
            log.refused(404, f"/nowhere/{i}")
        await wait_until(lambda: "... and 4 more handshakes refused in the last 0.05 s" in messages(caplog),
                         what="the count line")
        nursery.cancel_scope.cancel()


def test_fleet_csms_v_prints_connection_lines() -> None:
    """`fleet csms -v` (INFO): a line as a station connects and disconnects."""
    csms = subprocess.Popen([sys.executable, "-m", "fleet", "csms", "--port", "0", "--no-control", "-v"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert csms.stdout is not None
        line = csms.stdout.readline()
        assert line.startswith("listening on ws://127.0.0.1:"), line
        url = line.split()[-1]

        async def connect() -> None:
            async with open_station_websocket(url, "CS7"):
                pass

        trio.run(connect)
    finally:
        csms.terminate()
        _, err = csms.communicate(timeout=30)
    assert "CS7 connected from 127.0.0.1:" in err and "CS7 disconnected (" in err, err
