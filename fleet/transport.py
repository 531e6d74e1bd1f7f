"""The websocket edge of fleet: OCPP-J handshakes (websockets from :mod:`fleet.websocket`).

Server side (:func:`serve_ocpp`): stations connect at ``<path>/<stationId>``
(case-insensitive path, optional trailing slash, anything else gets 404); the
``ocpp2.0.1`` subprotocol is selected; with an auth list, HTTP Basic credentials
are required (user = the station id of the path) and a bad one gets 401 with
``WWW-Authenticate``. A client that offers no subprotocol we speak completes the
handshake without one and is closed at once, as OCPP-J prescribes.

Client side (:func:`open_station_websocket`): connects to ``<csms url>/<stationId>``
offering our subprotocols, with Basic credentials when a password is given, over
TLS for ``wss://`` (security profiles 2 and 3; never downgraded to ``ws://``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import socket
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio

from .ocpp import VERSIONS, ProtocolVersion, select_subprotocol
from .websocket import (
    ConnectionClosed,
    HandshakeError,
    HandshakeRequest,
    Rejected,
    WebSocket,
    client_handshake,
    server_handshake,
)

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "Accepted",
    "AuthCheck",
    "HandshakeError",
    "HandshakeRefused",
    "basic_auth_header",
    "client_ssl_context",
    "connect_failure_cause",
    "connect_failure_hint",
    "open_listeners",
    "open_station_websocket",
    "parse_basic_auth",
    "serve_ocpp",
    "server_ssl_context",
    "station_id_from_path",
    "station_url",
]

#: Largest websocket message accepted (bytes); larger ones close the connection (1009).
DEFAULT_MAX_MESSAGE_SIZE = 256 * 1024
#: Seconds a client may take to complete its opening handshake.
HANDSHAKE_TIMEOUT = 10.0
REALM = "fleet"


@dataclass(frozen=True, slots=True)
class Accepted:
    """A station that passed the handshake.

    Attributes:
        station_id: the station id from the path.
        version: the OCPP version selected by subprotocol.
        websocket: the open connection.
        remote: the peer's address, for logs.
    """

    station_id: str
    version: ProtocolVersion
    websocket: WebSocket
    remote: str


class HandshakeRefused(Exception):
    """The CSMS refused a station's connection (HTTP status, or no common subprotocol)."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


def station_id_from_path(path: str, prefix: str) -> str | None:
    """The station id in ``path`` if it is ``<prefix>/<id>`` (case-insensitive prefix, optional
    trailing slash, query ignored), else ``None``."""
    path = path.split("?", 1)[0].rstrip("/")
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    if not path.lower().startswith(prefix.lower() + "/"):
        return None
    rest = path[len(prefix) + 1 :]
    if not rest or "/" in rest:
        return None
    return urllib.parse.unquote(rest)


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic ...`` header value, or ``None``."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password


def basic_auth_header(station_id: str, password: str) -> tuple[bytes, bytes]:
    """The ``Authorization`` header a station sends (OCPP security profiles 1 and 2)."""
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return (b"authorization", f"Basic {token}".encode())


def station_url(csms_url: str, station_id: str) -> str:
    """``<csms url>/<station id>``, the id percent-encoded as a path segment."""
    return csms_url.rstrip("/") + "/" + urllib.parse.quote(station_id, safe="")


def server_ssl_context(certfile: str, keyfile: str | None = None, client_ca: str | None = None) -> ssl.SSLContext:
    """TLS for the CSMS: profile 2 (server certificate) or, with ``client_ca``, profile 3
    (client certificates required and verified against that CA)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    if client_ca:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_ssl_context(
    ca: str | None = None, certfile: str | None = None, keyfile: str | None = None
) -> ssl.SSLContext:
    """TLS for a station: verify the CSMS against ``ca`` (default: the system's CAs); present
    ``certfile`` as client certificate for security profile 3."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    return context


AuthCheck = Callable[[str], str | None]

#: Why a station's connection attempt failed (:func:`connect_failure_cause`), besides
#: ``http_<status>`` for an HTTP refusal of the handshake (``http_401``, ``http_404``, ...).
CONNECT_FAILURE_CAUSES = (
    "refused", "timeout", "tls", "subprotocol", "closed", "dns", "network", "partition", "aborted", "other",
)
_HINTS = {
    "refused": "nothing listens there: check the CSMS URL's host and port, and that the CSMS runs",
    "timeout": "no answer in time: a wrong host, a firewall, or a CSMS too busy to answer",
    "tls": "the TLS handshake failed: check ws:// against wss://, the CA (--ca) and the certificates",
    "subprotocol": "the CSMS agreed no OCPP subprotocol we speak (ocpp2.0.1)",
    "closed": "the CSMS closed the connection during the websocket handshake",
    "dns": "the CSMS host name does not resolve",
    "partition": "the run's own fault plan cut the network (partition)",
    "aborted": "attempts still under way when the station stopped or reconnected",
    "http_400": "the CSMS refused the handshake as a bad request",
    "http_401": "wrong password: check the stations' Basic-auth passwords (and that the user is the station id)",
    "http_403": "forbidden: the CSMS does not accept these stations (unknown ids, or a client certificate needed)",
    "http_404": "wrong path: check the route in the CSMS URL (the station id is appended to it)",
}


def connect_failure_cause(exc: BaseException) -> str:
    """The cause of a failed connection attempt, as counted in the report: ``refused``,
    ``timeout``, ``tls``, ``http_<status>`` (the CSMS answered the handshake with that HTTP
    status), ``subprotocol`` (no common OCPP subprotocol), ``closed`` (the connection ended
    during the handshake), ``dns``, ``network`` (another network error) or ``other``."""
    if isinstance(exc, HandshakeRefused):
        return f"http_{exc.status}" if exc.status is not None else "subprotocol"
    if isinstance(exc, trio.TooSlowError):
        return "timeout"
    seen: list[BaseException] = [exc]
    for inner in seen:  # the error, its causes and the members of groups (trio's connect raises those)
        if isinstance(inner, ssl.SSLError | ssl.CertificateError):
            return "tls"
        if isinstance(inner, ConnectionRefusedError):
            return "refused"
        if isinstance(inner, socket.gaierror):
            return "dns"
        if isinstance(inner, TimeoutError):
            return "timeout"
        if len(seen) < 32:
            if isinstance(inner, BaseExceptionGroup):
                seen.extend(inner.exceptions)
            for linked in (inner.__cause__, inner.__context__):
                if linked is not None and linked not in seen:
                    seen.append(linked)
    if isinstance(exc, HandshakeError | ConnectionClosed | trio.BrokenResourceError | trio.ClosedResourceError):
        return "closed"
    if isinstance(exc, OSError):
        return "network"
    return "other"


def connect_failure_hint(cause: str) -> str:
    """What a cause of :func:`connect_failure_cause` most likely means, or ``""``."""
    hint = _HINTS.get(cause, "")
    if not hint and cause.startswith("http_5"):
        hint = "the CSMS failed while answering the handshake: see its logs"
    return hint


def _header(request: HandshakeRequest, name: bytes) -> str | None:
    for key, value in request.headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def serve_ocpp(
    on_station: Callable[[Accepted], Awaitable[None]],
    host: str,
    port: int,
    *,
    path: str = "/ocpp",
    password_of: AuthCheck | None = None,
    auth_required: Callable[[], bool] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    on_refused: Callable[[int, str], None] | None = None,
    handler_nursery: trio.Nursery | None = None,
    reuse_port: bool = False,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve OCPP-J stations until cancelled; ``task_status.started(port)`` once listening.

    Args:
        on_station: called (in its own task) for each accepted station; the
            connection closes when it returns.
        host, port: where to listen (port 0 picks a free one, reported by ``started``).
        path: the route before the station id.
        password_of: station id -> its password (``None`` = unknown station);
            when given, HTTP Basic auth is required.
        auth_required: asked at each handshake whether Basic auth is required
            (so the owner can switch authentication on and off at run time);
            without it, auth is required whenever ``password_of`` is given.
        ssl_context: TLS (security profiles 2 and 3); ``None`` serves plain ``ws://``.
        max_message_size: larger messages close the connection with 1009.
        on_refused: told (HTTP status, station id or path) of each refused handshake.
        reuse_port: share the port with other processes (SO_REUSEPORT).
    """

    def refused(status: int, who: str) -> None:
        if on_refused is not None:
            on_refused(status, who)

    async def handle(stream: trio.abc.Stream) -> None:
        with trio.move_on_after(HANDSHAKE_TIMEOUT) as waited:
            request = await server_handshake(stream, max_message_size=max_message_size)
        if waited.cancelled_caught:
            with trio.CancelScope(shield=True):
                await stream.aclose()
            return
        if request is None:
            return
        station_id = station_id_from_path(request.path, path)
        if station_id is None:
            refused(404, request.path)
            await request.reject(404, body=b"unknown path\n")
            return
        if password_of is not None and (auth_required is None or auth_required()):
            credentials = parse_basic_auth(_header(request, b"authorization"))
            expected = password_of(station_id)
            if (
                credentials is None
                or expected is None
                or credentials[0] != station_id
                or not hmac.compare_digest(credentials[1].encode(), expected.encode())
            ):
                refused(401, station_id)
                await request.reject(
                    401,
                    extra_headers=[(b"www-authenticate", f'Basic realm="{REALM}", charset="UTF-8"'.encode())],
                    body=b"unauthorized\n",
                )
                return
        version = select_subprotocol(list(request.proposed_subprotocols))
        if version is None:
            refused(400, station_id)
            websocket = await request.accept()
            await websocket.aclose(1002, "no supported OCPP subprotocol offered")
            return
        websocket = await request.accept(subprotocol=version.subprotocol)
        try:
            await on_station(Accepted(station_id, version, websocket, websocket.remote))
        finally:
            with trio.CancelScope(shield=True):
                await websocket.aclose()  # (bounded: it closes the stream in any case)

    async def handle_safely(stream: trio.abc.Stream) -> None:
        try:
            await handle(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosed, OSError, ssl.SSLError):
            with trio.CancelScope(shield=True):
                await stream.aclose()

    listeners: list[Any] = list(await open_listeners(host, port, ssl_context=ssl_context, reuse_port=reuse_port))
    bound = getattr(listeners[0], "transport_listener", listeners[0])
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            functools.partial(trio.serve_listeners, handle_safely, listeners, handler_nursery=handler_nursery)
        )
        task_status.started(bound.socket.getsockname()[1])


async def open_listeners(
    host: str, port: int, *, ssl_context: ssl.SSLContext | None = None, reuse_port: bool = False, backlog: int = 4096
) -> list[trio.SocketListener] | list[trio.SSLListener[trio.SocketStream]]:
    """A listening socket on ``host:port`` wrapped for trio (and TLS, with ``ssl_context``).

    With ``reuse_port`` several processes can listen on the same port (SO_REUSEPORT)
    and the kernel spreads incoming connections over them.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = trio.socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        await sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    listener = trio.SocketListener(sock)
    if ssl_context is None:
        return [listener]
    return [trio.SSLListener(listener, ssl_context, https_compatible=True)]


@asynccontextmanager
async def open_station_websocket(
    csms_url: str,
    station_id: str,
    *,
    password: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    subprotocols: tuple[str, ...] = tuple(VERSIONS),
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    connect_timeout: float = HANDSHAKE_TIMEOUT,
) -> AsyncIterator[tuple[WebSocket, ProtocolVersion]]:
    """Connect a station to a CSMS; yield the websocket and the negotiated version.

    Raises:
        HandshakeRefused: HTTP refusal (e.g. 401, 404) or no common subprotocol.
        OSError, trio.TooSlowError, HandshakeError: the connection could not be made.
    """
    url = station_url(csms_url, station_id)
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme == "wss"
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a ws:// or wss:// URL: {csms_url!r}")
    if secure and ssl_context is None:
        ssl_context = client_ssl_context()
    port = parts.port or (443 if secure else 80)
    default_port = port == (443 if secure else 80)
    host_header = parts.hostname if default_port else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # IPv6 literal
        host_header = f"[{parts.hostname}]" if default_port else f"[{parts.hostname}]:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [basic_auth_header(station_id, password)] if password is not None else []
    with trio.fail_after(connect_timeout):  # connect, TLS and the handshake: a server may stall in any
        stream: trio.abc.Stream = await trio.open_tcp_stream(parts.hostname, port)
        try:
            if secure:
                assert ssl_context is not None
                stream = trio.SSLStream(stream, ssl_context, server_hostname=parts.hostname, https_compatible=True)
                await stream.do_handshake()
            websocket = await client_handshake(stream, host=host_header, target=target, subprotocols=subprotocols,
                                               extra_headers=headers, max_message_size=max_message_size)
        except Rejected as error:
            with trio.CancelScope(shield=True):
                await stream.aclose()
            raise HandshakeRefused(error.status_code,
                                   f"the CSMS refused the connection: HTTP {error.status_code}") from None
        except BaseException:
            with trio.CancelScope(shield=True):
                await stream.aclose()
            raise
    try:
        version = VERSIONS.get(websocket.subprotocol or "")
        if version is None:
            raise HandshakeRefused(None, f"the CSMS selected no OCPP subprotocol we speak ({websocket.subprotocol!r})")
        yield websocket, version
    finally:
        with trio.CancelScope(shield=True):
            await websocket.aclose()  # (bounded: it closes the stream in any case)
