"""``fleet certs``: a test CA, a CSMS certificate and station certificates (CN = station id)
that work for security profiles 2 and 3 over real TLS on 127.0.0.1, as the README's
walk-through uses them."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from fleet import cli
from fleet.actors.csms import open_csms
from fleet.exit_codes import OK, USAGE
from fleet.net.pki import issue
from fleet.net.transport import (
    HandshakeRefused,
    client_ssl_context,
    open_station_websocket,
    server_ssl_context,
)

REPO = Path(__file__).resolve().parents[1]


def test_certs_makes_the_files_keeps_them_and_refuses_what_cannot_be(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    where = tmp_path / "pki"
    assert cli.main(["certs", str(where), "--station", "CS001", "--station", "CS002"]) == OK
    out = capsys.readouterr().out
    assert "4 certificate(s) made" in out and "--tls-client-ca" in out
    for name in ("ca", "csms", "stations/CS001", "stations/CS002"):
        assert (where / f"{name}.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert stat.S_IMODE(os.stat(where / f"{name}.key").st_mode) == 0o600  # keys: owner only
    ca = (where / "ca.pem").read_bytes()
    # again with one more station: the CA and the others are kept
    assert cli.main(["certs", str(where), "--station", "CS001", "--station", "CS003"]) == OK
    assert "1 certificate(s) made, 3 kept" in capsys.readouterr().out
    assert (where / "ca.pem").read_bytes() == ca
    # the stations of a fleet file
    assert cli.main(["certs", str(where), "--fleet", str(REPO / "profiles" / "demo-fleet.toml"), "--stations", "2"]) == OK
    assert len(list((where / "stations").glob("*.pem"))) == 5
    assert cli.main(["certs", str(where), "--station", "a/b"]) == USAGE
    assert cli.main(["certs", str(where), "--stations", "3"]) == USAGE
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "ca.pem").write_text("not a certificate")
    (tmp_path / "broken" / "ca.key").write_text("not a key")
    assert cli.main(["certs", str(tmp_path / "broken")]) == USAGE
    assert "remove ca.pem and ca.key" in capsys.readouterr().err


async def test_profile_2_the_station_verifies_the_csms_by_address_and_by_name(tmp_path: Path) -> None:
    pki = issue(tmp_path, ["CS001"])
    context = server_ssl_context(pki.csms_cert, pki.csms_key)
    async with open_csms(port=0, ssl_context=context, auth={"CS001": "a-long-enough-password"}) as csms:
        trusted = client_ssl_context(pki.ca_cert)
        for host in ("127.0.0.1", "localhost"):
            async with open_station_websocket(f"wss://{host}:{csms.port}/ocpp", "CS001",
                                              password="a-long-enough-password", ssl_context=trusted) as (_, version):
                assert version.name == "2.0.1"
        assert csms.statistics().refused == {}


async def test_profile_3_each_station_certificate_is_bound_to_its_station(tmp_path: Path) -> None:
    pki = issue(tmp_path, ["CS001", "CS002"])
    context = server_ssl_context(pki.csms_cert, pki.csms_key, client_ca=pki.ca_cert)
    async with open_csms(port=0, ssl_context=context) as csms:
        for station_id in ("CS001", "CS002"):
            cert, key = pki.stations[station_id]
            own = client_ssl_context(pki.ca_cert, cert, key)
            async with open_station_websocket(csms.url, station_id, ssl_context=own):
                pass
        cert, key = pki.stations["CS001"]
        with pytest.raises(HandshakeRefused) as refused:  # CS001's certificate for CS002
            async with open_station_websocket(csms.url, "CS002", ssl_context=client_ssl_context(pki.ca_cert, cert, key)):
                pytest.fail("CS002 connected with CS001's certificate")
        assert refused.value.status == 403


async def test_the_readme_walk_through_for_profile_3(tmp_path: Path) -> None:
    """`fleet certs`, then `fleet csms` with the CSMS certificate and the CA, then `fleet station` with
    its certificate: accepted and booted."""
    where = tmp_path / "pki"
    made = await trio.run_process([sys.executable, "-m", "fleet", "certs", str(where), "--station", "CS001"],
                                  capture_stdout=True, capture_stderr=True, check=False, cwd=REPO)
    assert made.returncode == OK, made.stderr.decode()
    csms = await trio.lowlevel.open_process(
        [sys.executable, "-m", "fleet", "csms", "--port", "0", "--no-control", "--tls-cert", str(where / "csms.pem"),
         "--tls-key", str(where / "csms.key"), "--tls-client-ca", str(where / "ca.pem")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    try:
        assert csms.stdout is not None
        out = b""
        with trio.fail_after(15):
            while b"listening on " not in out or not out.endswith(b"\n"):
                chunk = await csms.stdout.receive_some()
                assert chunk, "fleet csms exited before listening"
                out += chunk
        url = out.decode().split("listening on ", 1)[1].split()[0]
        with trio.fail_after(60):
            station = await trio.run_process(
                [sys.executable, "-m", "fleet", "station", url, "CS001", "--duration", "2", "--no-sessions",
                 "--ca", str(where / "ca.pem"), "--cert", str(where / "stations" / "CS001.pem"),
                 "--key", str(where / "stations" / "CS001.key")],
                capture_stdout=True, capture_stderr=True, check=False, cwd=REPO)
    finally:
        csms.send_signal(signal.SIGINT)
        with trio.move_on_after(10):
            await csms.wait()
        if csms.returncode is None:
            csms.kill()
            await csms.wait()
    text = station.stdout.decode()
    assert station.returncode == OK, (text, station.stderr.decode())
    assert "CS001: connected to wss://127.0.0.1:" in text, text
