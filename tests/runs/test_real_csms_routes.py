"""Real CSMSs differ: a CSMS URL template (``ws://host/ocpp/{station_id}/``, its trailing slash
kept) beside OCPP-J's plain endpoint form, and one password shared by the whole fleet
(``--password``, ``--password-file``, ``[fleet] password``) beside the per-station pattern."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest
import trio

from fleet.actors.csms import open_csms
from fleet.exit_codes import OK, USAGE
from fleet.net.transport import HandshakeError, HandshakeRefused, open_station_websocket, station_url
from fleet.profiles import station_password
from fleet.run.fleetfile import FleetError, csms_url_problem, load_fleet

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("csms", "url"),
    [
        ("ws://h:9000/ocpp", "ws://h:9000/ocpp/CS 1"),
        ("ws://h:9000/ocpp/", "ws://h:9000/ocpp/CS 1"),
        ("ws://h:9000/ocpp/{station_id}/", "ws://h:9000/ocpp/CS 1/"),
        ("wss://h/api/v1/{station_id}", "wss://h/api/v1/CS 1"),
        ("ws://h/cs/{station_id}/ocpp?tenant=7", "ws://h/cs/CS 1/ocpp?tenant=7"),
    ],
)
def test_the_station_url_from_an_endpoint_or_a_template(csms: str, url: str) -> None:
    assert station_url(csms, "CS 1") == url.replace("CS 1", "CS%201")


def test_a_template_is_a_valid_csms_url_and_a_stray_placeholder_is_not() -> None:
    assert csms_url_problem("ws://h:9000/ocpp/{station_id}/") is None
    problem = csms_url_problem("ws://h:9000/ocpp/{stationId}/")
    assert problem is not None and "{station_id}" in problem


async def _request_path(url_of: str, station_id: str) -> str:
    """The path a station asks for in its handshake, as a server on 127.0.0.1 sees it."""
    seen: list[str] = []

    async def answer(stream: trio.SocketStream) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = await stream.receive_some()
            if not chunk:
                break
            request += chunk
        seen.append(request.split(b" ")[1].decode())
        await stream.send_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, answer, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        with pytest.raises((HandshakeRefused, HandshakeError, OSError)):
            async with open_station_websocket(url_of.format(port=port, station_id="{station_id}"), station_id):
                pass
        nursery.cancel_scope.cancel()
    return seen[0]


async def test_a_template_keeps_its_trailing_slash_on_the_wire() -> None:
    assert await _request_path("ws://127.0.0.1:{port}/ocpp/{station_id}/", "CS001") == "/ocpp/CS001/"
    assert await _request_path("ws://127.0.0.1:{port}/ocpp/", "CS001") == "/ocpp/CS001"


def test_a_fleet_file_takes_a_template_and_a_shared_password(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text('name = "p"\n[security]\nprofile = 0\n')
    (tmp_path / "q.toml").write_text('name = "q"\n[security]\nprofile = 3\npassword = "x-{station_id}"\n')
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('[fleet]\ncsms = ["ws://127.0.0.1:9/ocpp/{station_id}/"]\npassword = "one-shared-enrolment-token"\n'
                     '[[group]]\nprofile = "p.toml"\ncount = 1\n[[group]]\nprofile = "q.toml"\ncount = 1\n')
    plan = load_fleet(fleet)
    assert plan.config.csms == ["ws://127.0.0.1:9/ocpp/{station_id}/"]
    plain, certificate = plan.profiles
    assert station_password(plain, "CS000000") == "one-shared-enrolment-token"  # profile 0 -> Basic auth
    assert certificate.security.profile == 3 and station_password(certificate, "CS000001") is None
    # the command line's password wins over the file's; without one the patterns stay
    assert station_password(plan.with_overrides(password="from-the-command-line").profiles[0], "A") == \
        "from-the-command-line"
    fleet.write_text('[fleet]\npassword = ""\n[[group]]\nprofile = "p.toml"\ncount = 1\n')
    with pytest.raises(FleetError, match="password"):
        load_fleet(fleet)


def test_a_password_file_must_hold_a_password(tmp_path: Path) -> None:
    from fleet.cli import build_parser

    (tmp_path / "empty").write_text("\n")
    for argv in (["run", "--password-file", str(tmp_path / "missing")], ["run", "--password-file", str(tmp_path / "empty")],
                 ["station", "ws://h/ocpp", "CS1", "--password-file", str(tmp_path / "missing")],
                 ["run", "--password", "a", "--password-file", str(tmp_path / "empty")],
                 ["run", "--csms", "ws://h/ocpp/{id}/"]):
        with pytest.raises(SystemExit) as refused:
            build_parser().parse_args(argv)
        assert refused.value.code == USAGE


async def test_fleet_run_reaches_a_csms_through_a_template_with_a_shared_password(tmp_path: Path) -> None:
    """A CSMS that knows one password for every station, at ``/ocpp/<id>/``: `fleet run` with the
    template and --password-file boots every station (a station with its profile's own password
    would be refused with 401)."""
    (tmp_path / "p.toml").write_text('name = "p"\n')
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('[fleet]\nduration = 1\nramp = 100\n[[group]]\nprofile = "p.toml"\ncount = 2\n')
    secret = tmp_path / "secret"
    secret.write_text("shared-enrolment-token\n")
    ids = ["CS000000", "CS000001"]
    async with open_csms(port=0, auth=dict.fromkeys(ids, "shared-enrolment-token")) as csms:
        template = f"ws://127.0.0.1:{csms.port}/ocpp/{{station_id}}/"
        result = await trio.run_process(
            [sys.executable, "-m", "fleet", "run", str(fleet), "--csms", template, "--password-file", str(secret),
             "--workers", "1", "--no-control", "-q", "--threshold", "BootNotification.count>=2"],
            cwd=str(REPO), capture_stdout=True, capture_stderr=True, check=False)
        assert result.returncode == OK, (result.stdout.decode()[-2000:], result.stderr.decode()[-2000:])
        assert sorted(csms.stations()) == ids
        assert csms.statistics().refused == {}
