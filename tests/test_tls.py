"""Security profiles 2 and 3 over real wss:// on 127.0.0.1: the client certificate is bound to
the station id (OCPP 2.0.1 A00.FR.405), and every TLS failure says what went wrong and what to do.

Certificates come from ``trustme`` (a throw-away CA per test).
"""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trustme

from fleet import cli, exit_codes
from fleet.actors.csms import open_csms
from fleet.exit_codes import RUN_FAILED
from fleet.net.transport import (
    ConnectFailure,
    HandshakeRefused,
    client_ssl_context,
    open_station_websocket,
    server_ssl_context,
)
from fleet.ocpp import v201

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, str]:
    """A CA, the CSMS's certificate for 127.0.0.1, and station certificates with CN = CS001 / CS002
    (as one file with the key, and as separate certificate and key files)."""
    ca = trustme.CA()
    files = {"ca": tmp_path / "ca.pem", "server": tmp_path / "server.pem"}
    ca.cert_pem.write_to_path(files["ca"])
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(files["server"])
    for cn in ("CS001", "CS002"):
        issued = ca.issue_cert(cn, common_name=cn)
        files[cn] = tmp_path / f"{cn}.pem"
        files[f"{cn}-cert"] = tmp_path / f"{cn}-cert.pem"
        files[f"{cn}-key"] = tmp_path / f"{cn}-key.pem"
        issued.private_key_and_cert_chain_pem.write_to_path(files[cn])
        issued.cert_chain_pems[0].write_to_path(files[f"{cn}-cert"])
        issued.private_key_pem.write_to_path(files[f"{cn}-key"])
    other = trustme.CA()  # a CA the CSMS does not trust
    other.issue_cert("CS002", common_name="CS002").private_key_and_cert_chain_pem.write_to_path(tmp_path / "rogue.pem")
    files["rogue"] = tmp_path / "rogue.pem"
    files["misnamed-server"] = tmp_path / "misnamed-server.pem"
    ca.issue_cert("csms.example").private_key_and_cert_chain_pem.write_to_path(files["misnamed-server"])
    return {name: str(path) for name, path in files.items()}


def boot() -> v201.BootNotificationRequest:
    return v201.BootNotificationRequest(
        charging_station=v201.ChargingStation(model="M", vendor_name="V"), reason=v201.BootReason.POWER_UP
    )


async def boot_status(url: str, station_id: str, context: ssl.SSLContext) -> str:
    """Connect, boot and return the BootNotification status (raw frames: no Session needed)."""
    async with open_station_websocket(url, station_id, ssl_context=context, connect_timeout=5) as (ws, _):
        await ws.send_message('[2,"b1","BootNotification",{"chargingStation":{"model":"M","vendorName":"V"},'
                              '"reason":"PowerUp"}]')
        with trio.fail_after(5):
            answer = await ws.get_message()
    assert '"b1"' in answer, answer
    return "Accepted" if '"Accepted"' in answer else answer


async def test_profile_3_binds_the_client_certificate_to_the_station_id(pki: dict[str, str]) -> None:
    profile3 = server_ssl_context(pki["server"], client_ca=pki["ca"])
    async with open_csms(port=0, ssl_context=profile3) as csms:
        # CS001's certificate presented for CS002: refused before any websocket (HTTP 403)
        cs001 = client_ssl_context(pki["ca"], pki["CS001"])
        with pytest.raises(HandshakeRefused) as refused:
            async with open_station_websocket(csms.url, "CS002", ssl_context=cs001, connect_timeout=5):
                pytest.fail("CS002 got a websocket with CS001's certificate")
        assert refused.value.status == 403
        assert "CN must be the station id" in str(refused.value)
        assert csms.station("CS002") is None
        assert csms.statistics().refused.get("403") == 1
        # each station with its own certificate is accepted (certificate and key as one file or two)
        assert await boot_status(csms.url, "CS001", cs001) == "Accepted"
        cs002 = client_ssl_context(pki["ca"], pki["CS002-cert"], pki["CS002-key"])
        assert await boot_status(csms.url, "CS002", cs002) == "Accepted"
        assert csms.statistics().refused.get("403") == 1
        # a certificate with the right CN from a CA the CSMS does not trust: the TLS handshake fails
        rogue = client_ssl_context(pki["ca"], pki["rogue"])
        with pytest.raises(ConnectFailure) as failed:
            async with open_station_websocket(csms.url, "CS002", ssl_context=rogue, connect_timeout=5):
                pytest.fail("a certificate of an untrusted CA got a websocket")
        assert failed.value.cause == "tls"
        assert csms.statistics().refused.get("tls") == 1
        assert csms.client_certificates_required


async def test_profile_2_server_certificate_only_binds_nothing(pki: dict[str, str]) -> None:
    """Without --tls-client-ca no client certificate is asked for, so none is bound."""
    async with open_csms(port=0, ssl_context=server_ssl_context(pki["server"])) as csms:
        assert not csms.client_certificates_required
        assert await boot_status(csms.url, "ANY1", client_ssl_context(pki["ca"])) == "Accepted"


@pytest.mark.parametrize("tls_version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
async def test_no_client_certificate_under_profile_3_says_so(pki: dict[str, str], tls_version: ssl.TLSVersion) -> None:
    profile3 = server_ssl_context(pki["server"], client_ca=pki["ca"])
    async with open_csms(port=0, ssl_context=profile3) as csms:
        no_cert = client_ssl_context(pki["ca"])
        no_cert.maximum_version = tls_version  # 1.2: refused within the TLS handshake; 1.3: right after it
        with pytest.raises(ConnectFailure) as failed:
            async with open_station_websocket(csms.url, "NOCERT", ssl_context=no_cert, connect_timeout=5):
                pytest.fail("a profile-3 client without a certificate got a websocket")
        assert failed.value.cause == "tls"
        assert "client certificate" in failed.value.message and "--cert FILE --key FILE" in failed.value.message
        assert csms.station("NOCERT") is None
        assert csms.statistics().refused.get("tls") == 1  # the CSMS counts the refused TLS handshake


async def test_untrusted_or_misnamed_csms_certificate_says_what_to_do(pki: dict[str, str]) -> None:
    async with open_csms(port=0, ssl_context=server_ssl_context(pki["server"])) as csms:
        port = csms.port
        with pytest.raises(ConnectFailure) as failed:  # the system's CAs do not know trustme's CA
            async with open_station_websocket(csms.url, "NOCA", ssl_context=client_ssl_context(), connect_timeout=5):
                pytest.fail("connected to a CSMS whose CA the station does not trust")
    assert failed.value.cause == "tls"
    message = failed.value.message
    assert message.startswith(f"TLS handshake with 127.0.0.1:{port} failed: certificate verify failed: ")
    assert "pass the CSMS's CA with --ca FILE" in message
    async with open_csms(port=0, ssl_context=server_ssl_context(pki["misnamed-server"])) as csms:
        with pytest.raises(ConnectFailure) as failed:
            async with open_station_websocket(csms.url, "HOST", ssl_context=client_ssl_context(pki["ca"]),
                                              connect_timeout=5):
                pytest.fail("connected to a CSMS whose certificate is for another host")
    assert failed.value.cause == "tls"
    assert "host name" in failed.value.message and "127.0.0.1" in failed.value.message


def _run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = cli.main(list(argv))
    return rc, capsys.readouterr().err


def test_station_tls_file_errors_are_usage_errors(pki: dict[str, str], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = "wss://127.0.0.1:1/ocpp"  # nothing is started: the options are checked first
    missing = str(tmp_path / "x.pem")
    cases = [
        (["--ca", missing], f"fleet station: --ca: no such file: {missing}"),
        (["--ca", pki["ca"], "--cert", pki["CS001-cert"]],
         f"fleet station: --cert {pki['CS001-cert']}: no private key in it and no --key given: "
         "pass its key with --key FILE"),
        (["--cert", pki["CS001-cert"], "--key", pki["CS002-key"]],
         f"fleet station: --key {pki['CS002-key']}: does not match the certificate given with --cert"),
        (["--key", pki["CS001-key"]], "--cert FILE"),
        (["--ca", pki["CS001-key"]], f"fleet station: --ca {pki['CS001-key']}: no PEM certificate in it"),
        (["--cert", missing, "--key", pki["CS001-key"]], f"fleet station: --cert: no such file: {missing}"),
    ]
    for options, expected in cases:
        rc, err = _run_cli(capsys, "station", url, "CS001", *options)
        assert rc == exit_codes.USAGE, (options, err)
        assert expected in err, (options, err)
        assert err.count("\n") == 1 and "Traceback" not in err, err
    rc, err = _run_cli(capsys, "station", "ws://127.0.0.1:1/ocpp", "CS001", "--ca", pki["ca"])
    assert rc == exit_codes.USAGE and "wss://" in err, err


def test_csms_tls_file_errors_are_usage_errors(pki: dict[str, str], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.pem")
    cases = [
        (["--tls-cert", missing], f"--tls-cert: no such file: {missing}"),
        (["--tls-cert", pki["CS001-cert"], "--tls-key", pki["CS002-key"]],
         f"--tls-key {pki['CS002-key']}: does not match the certificate given with --tls-cert"),
        (["--tls-cert", pki["CS001-cert"]], "no --tls-key given"),
        (["--tls-cert", pki["server"], "--tls-client-ca", missing], f"--tls-client-ca: no such file: {missing}"),
    ]
    for options, expected in cases:
        rc, err = _run_cli(capsys, "csms", "--port", "0", "--control-port", "0", *options)
        assert rc == exit_codes.USAGE, (options, err)
        assert expected in err, (options, err)
        assert "Traceback" not in err and "PEM lib" not in err, err


async def test_cli_station_and_csms_say_what_tls_does(pki: dict[str, str]) -> None:
    """End to end: `fleet csms` under profile 3 says what it requires; `fleet station` without
    --ca, or without a client certificate, says why it cannot connect (not a bare exception name)."""
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "fleet", "csms", "--port", "0", "--control-port", "0",
         "--tls-cert", pki["server"], "--tls-client-ca", pki["ca"]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        out = b""
        with trio.fail_after(15):
            while b"listening on " not in out or not out.endswith(b"\n"):
                chunk = await process.stdout.receive_some()
                assert chunk, "fleet csms exited before listening"
                out += chunk
        url = next(x for x in out.decode().splitlines() if x.startswith("listening on ")).removeprefix("listening on ")
        assert url.startswith("wss://127.0.0.1:")
        results: dict[str, subprocess.CompletedProcess[bytes]] = {}

        async def station(name: str, *options: str) -> None:
            results[name] = await trio.run_process(
                [sys.executable, "-m", "fleet", "station", url, "CS001", "--duration", "3", *options],
                capture_stdout=True, capture_stderr=True, check=False, cwd=REPO,
            )

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(station, "no-ca")
                nursery.start_soon(station, "no-cert", "--ca", pki["ca"])
        process.send_signal(signal.SIGINT)
        with trio.fail_after(10):
            await process.wait()
        err = (await process.stderr.receive_some()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert "security profile 3: stations authenticate by client certificate" in err, err
    assert "CN must equal the station id" in err
    assert "accepting every station without authentication" not in err
    no_ca = results["no-ca"].stdout.decode()
    assert "CS001: cannot connect: TLS handshake with 127.0.0.1:" in no_ca, no_ca
    assert "certificate verify failed" in no_ca and "pass the CSMS's CA with --ca FILE" in no_ca, no_ca
    no_cert = results["no-cert"].stdout.decode()
    assert "CS001: cannot connect: the CSMS 127.0.0.1:" in no_cert, no_cert
    assert "client certificate" in no_cert and "--cert FILE --key FILE" in no_cert, no_cert
    assert results["no-ca"].returncode == results["no-cert"].returncode == RUN_FAILED  # never accepted
