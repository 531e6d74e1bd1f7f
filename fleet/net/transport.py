"""The websocket edge of fleet: OCPP-J handshakes (websockets from :mod:`fleet.net.websocket`).

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
import logging
import socket
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import trio

from ..ocpp import V201, VERSIONS, ProtocolVersion, select_subprotocol
from .connect import open_tcp
from .websocket import (
    ConnectionClosed,
    HandshakeError,
    HandshakeRequest,
    Rejected,
    Unanswered,
    WebSocket,
    client_handshake,
    server_handshake,
)

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "STATION_ID_PLACEHOLDER",
    "Accepted",
    "AuthCheck",
    "ConnectFailure",
    "HandshakeError",
    "HandshakeRefused",
    "TlsFileError",
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

logger = logging.getLogger("fleet.net.transport")


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


class ConnectFailure(OSError):
    """A station's connection attempt failed for a reason fleet recognised.

    Attributes:
        cause: the kind of failure, for counters: ``"tls"`` (the TLS handshake failed,
            or the CSMS closed the TLS connection without answering: the certificates
            do not fit).
        message: what went wrong and what to do, in one line (also ``str(exc)``).
    """

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause
        self.message = message

    def __str__(self) -> str:
        return self.message


#: OpenSSL verify codes of a CSMS certificate no CA the station trusts vouches for.
_UNTRUSTED = {2, 18, 19, 20, 21}
_CLIENT_CERT_HINT = (
    "under security profile 3 the CSMS wants a client certificate signed by a CA it trusts, with the "
    "station id as CN: fleet station --cert FILE --key FILE (fleet run presents none)"
)


def _ssl_error(error: BaseException | None) -> ssl.SSLError | None:
    """The :class:`ssl.SSLError` behind ``error`` (trio wraps it in BrokenResourceError)."""
    for _ in range(8):  # (a short chain; bounded in case of a cycle)
        if error is None or isinstance(error, ssl.SSLError):
            return error
        error = error.__cause__ or error.__context__
    return None


def _tls_failure(error: BaseException | None, where: str) -> ConnectFailure:
    """A readable :class:`ConnectFailure` for a TLS handshake with ``where`` that failed with ``error``."""
    head = f"TLS handshake with {where} failed"
    cause = _ssl_error(error)
    if isinstance(cause, ssl.SSLCertVerificationError):
        why = (cause.verify_message or cause.reason or str(cause)).rstrip(".")
        if cause.verify_code in _UNTRUSTED:
            hint = "pass the CSMS's CA with --ca FILE (fleet run: set SSL_CERT_FILE=FILE)"
        elif cause.verify_code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
            hint = "connect with a host name or address the CSMS's certificate holds"
        else:
            hint = "the CSMS's certificate is not valid for the station"
        return ConnectFailure("tls", f"{head}: certificate verify failed: {why} — {hint}")
    if isinstance(cause, ssl.SSLError) and not isinstance(cause, ssl.SSLEOFError):
        why = (cause.reason or str(cause)).lower().replace("_", " ")
        if "alert" in why and ("certificate" in why or "unknown ca" in why):
            return ConnectFailure("tls", f"{head}: the CSMS refused the station's certificate ({why}) — {_CLIENT_CERT_HINT}")
        if "wrong version number" in why or "record layer failure" in why:
            return ConnectFailure("tls", f"{head}: {why} — the server does not speak TLS there (a ws:// CSMS?)")
        return ConnectFailure("tls", f"{head}: {why}")
    return ConnectFailure(
        "tls", f"{head}: the CSMS closed the connection during the handshake — {_CLIENT_CERT_HINT}"
    )


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


#: Where the station id goes in a CSMS URL template (``ws://host/ocpp/{station_id}/``).
STATION_ID_PLACEHOLDER = "{station_id}"


def station_url(csms_url: str, station_id: str) -> str:
    """The URL a station connects to, the id percent-encoded as a path segment: OCPP-J's
    ``<csms url>/<station id>`` (a trailing slash of ``csms_url`` dropped), or, when
    ``csms_url`` is a template with ``{station_id}``, the template with the id in its place
    and nothing else changed (``ws://host/ocpp/{station_id}/`` keeps its trailing slash)."""
    quoted = urllib.parse.quote(station_id, safe="")
    if STATION_ID_PLACEHOLDER in csms_url:
        return csms_url.replace(STATION_ID_PLACEHOLDER, quoted)
    return csms_url.rstrip("/") + "/" + quoted


class TlsFileError(ValueError):
    """A TLS file (CA, certificate or key) that cannot be used; nothing was started.

    Attributes:
        role: the file at fault: ``"ca"``, ``"cert"`` or ``"key"``.
        path: that file (``None`` when it does not exist or was not given).
        problem: what is wrong and what to do; ``{ca}``, ``{cert}`` and ``{key}`` in it
            stand for the names of the options that give those files.
    """

    NAMES: ClassVar[dict[str, str]] = {"ca": "CA", "cert": "certificate", "key": "key"}

    def __init__(self, role: str, path: str | None, problem: str) -> None:
        self.role = role
        self.path = path
        self.problem = problem
        super().__init__(self.describe(self.NAMES))

    def describe(self, names: Mapping[str, str]) -> str:
        """The message, with the files named by ``names`` (role -> e.g. an option such as ``--ca``)."""
        problem = self.problem
        for role in ("ca", "cert", "key"):
            problem = problem.replace("{" + role + "}", names.get(role, role))
        where = names.get(self.role, self.role)
        return f"{where} {self.path}: {problem}" if self.path else f"{where}: {problem}"


def _pem_text(role: str, path: str) -> str:
    """The text of a PEM file, or :class:`TlsFileError` naming it (missing, a directory, unreadable)."""
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return file.read(1 << 20)
    except FileNotFoundError:
        raise TlsFileError(role, None, "no such file: " + path) from None
    except OSError as exc:
        raise TlsFileError(role, path, f"cannot read it: {exc.strerror or exc}") from None


def _encrypted_key(path: str) -> str:
    raise TlsFileError("key", path, "the private key is encrypted: give an unencrypted key (PEM)")


def _check_ca(ca: str) -> None:
    if "-----BEGIN CERTIFICATE-----" not in _pem_text("ca", ca):
        raise TlsFileError("ca", ca, "no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)")


def _load_cert_chain(context: ssl.SSLContext, certfile: str, keyfile: str | None) -> None:
    """``context.load_cert_chain`` with a readable error naming the file at fault."""
    cert_text = _pem_text("cert", certfile)
    if "-----BEGIN CERTIFICATE-----" not in cert_text:
        raise TlsFileError("cert", certfile, "no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)")
    if keyfile is None:
        if "PRIVATE KEY-----" not in cert_text:
            raise TlsFileError("cert", certfile, "no private key in it and no {key} given: pass its key with {key} FILE")
    elif "PRIVATE KEY-----" not in _pem_text("key", keyfile):
        raise TlsFileError("key", keyfile, "no PEM private key in it (expected -----BEGIN ... PRIVATE KEY-----)")
    try:
        context.load_cert_chain(certfile, keyfile, password=functools.partial(_encrypted_key, keyfile or certfile))
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise TlsFileError("key", keyfile or certfile, "does not match the certificate given with {cert}") from None
        raise TlsFileError("cert", certfile, f"cannot load the certificate and its key: {exc}") from None


def server_ssl_context(certfile: str, keyfile: str | None = None, client_ca: str | None = None) -> ssl.SSLContext:
    """TLS for the CSMS: profile 2 (server certificate) or, with ``client_ca``, profile 3
    (client certificates required and verified against that CA; :func:`serve_ocpp` then
    also requires the certificate's CN to be the station id of the path).

    Raises:
        TlsFileError: a file is missing, unreadable, not PEM, or the key does not match.
    """
    # Not create_default_context: that would also trust the system's CAs for client certificates.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_cert_chain(context, certfile, keyfile)
    if client_ca:
        _check_ca(client_ca)
        try:
            context.load_verify_locations(client_ca)
        except ssl.SSLError as exc:
            raise TlsFileError("ca", client_ca, f"not a usable CA certificate: {exc}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_ssl_context(
    ca: str | None = None, certfile: str | None = None, keyfile: str | None = None
) -> ssl.SSLContext:
    """TLS for a station: verify the CSMS against ``ca`` (default: the system's CAs); present
    ``certfile`` as client certificate for security profile 3.

    Raises:
        TlsFileError: a file is missing, unreadable, not PEM, or the key does not match;
            a key without a certificate.
    """
    if ca:
        _check_ca(ca)
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    except ssl.SSLError as exc:
        raise TlsFileError("ca", ca, f"not a usable CA certificate: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if keyfile and not certfile:
        raise TlsFileError("key", keyfile, "a key without a certificate: give the certificate with {cert} FILE")
    if certfile:
        _load_cert_chain(context, certfile, keyfile)
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
    if isinstance(exc, ConnectFailure):
        return exc.cause
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


def _peer(stream: trio.abc.Stream) -> str:
    """``host:port`` of the peer of a (TLS over) TCP stream, for logs."""
    try:
        tcp: Any = getattr(stream, "transport_stream", stream)
        host, port = tcp.socket.getpeername()[:2]
    except (AttributeError, OSError, ValueError):
        return "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _tls_refusal(error: BaseException) -> str | None:
    """Why a client's TLS handshake failed on our side, or ``None`` when the client merely
    hung up (a port probe, a station that gave up): not worth counting."""
    cause = _ssl_error(error)
    if cause is None or isinstance(cause, ssl.SSLEOFError):
        return None
    return (cause.reason or str(cause)).lower().replace("_", " ")


def _certificate_mismatch(stream: trio.abc.Stream, station_id: str) -> str | None:
    """Why the client certificate on ``stream`` does not belong to ``station_id``, or ``None``.

    Security profile 3 (OCPP 2.0.1 A00.FR.405, A00.FR.511): the CN of the station's
    certificate is the station's identity, here the id in the path. Without a client
    certificate (plain ``ws://``, or TLS that asks for none) there is nothing to bind.
    """
    getpeercert = getattr(stream, "getpeercert", None)
    if getpeercert is None:
        return None
    certificate = getpeercert()
    if not certificate:
        return None
    names = [value for rdn in certificate.get("subject", ()) for key, value in rdn if key == "commonName"]
    if names == [station_id]:
        return None
    shown = ", ".join(repr(name) for name in names) or "none"
    return f"client certificate CN {shown} is not the station id {station_id!r} (security profile 3)"


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
    on_refused: Callable[[int | str, str], None] | None = None,
    handler_nursery: trio.Nursery | None = None,
    reuse_port: bool = False,
    versions: Sequence[ProtocolVersion] | None = None,
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
        on_refused: told (HTTP status, station id or path) of each refused handshake;
            ``("tls", peer address)`` for a failed TLS handshake (e.g. no or an untrusted
            client certificate; not for a peer that merely hung up), and ``403`` for a
            client certificate whose CN is not the station id of the path (security
            profile 3, OCPP 2.0.1 A00.FR.405: each is logged as a warning too).
        reuse_port: share the port with other processes (SO_REUSEPORT).
        versions: the OCPP versions accepted, in order of preference (default: every
            version of :data:`fleet.ocpp.VERSIONS`); a station offering none is refused.
    """

    def refused(status: int | str, who: str) -> None:
        if on_refused is not None:
            on_refused(status, who)

    async def handle(stream: trio.abc.Stream) -> None:
        with trio.move_on_after(HANDSHAKE_TIMEOUT) as waited:
            if isinstance(stream, trio.SSLStream):
                try:
                    await stream.do_handshake()
                except trio.BrokenResourceError as error:
                    why = _tls_refusal(error)
                    if why is not None:
                        refused("tls", _peer(stream))
                        logger.warning("refused a TLS connection from %s: %s", _peer(stream), why)
                    raise
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
        mismatch = _certificate_mismatch(stream, station_id)
        if mismatch is not None:  # security profile 3: the certificate is bound to the station id
            refused(403, station_id)
            logger.warning("refused station %r from %s: %s", station_id, _peer(stream), mismatch)
            await request.reject(403, body=f"{mismatch}\n".encode())
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
        offered = list(request.proposed_subprotocols)
        if versions is None:
            version = select_subprotocol(offered)
        else:
            version = next((v for v in versions if v.subprotocol in offered), None)
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
    subprotocols: tuple[str, ...] = (V201.subprotocol,),
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    connect_timeout: float = HANDSHAKE_TIMEOUT,
) -> AsyncIterator[tuple[WebSocket, ProtocolVersion]]:
    """Connect a station to a CSMS; yield the websocket and the negotiated version.

    ``subprotocols`` are the versions offered, in order of preference: by default OCPP
    2.0.1 only, what a bare client built on its types speaks (fleet's station offers its
    profile's versions).

    Raises:
        HandshakeRefused: HTTP refusal (e.g. 401, 403, 404) or no common subprotocol.
        ConnectFailure: (an ``OSError``) a failure fleet classified: ``cause="tls"`` for
            TLS (certificates that do not fit), with a readable ``message``.
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
    where = f"[{parts.hostname}]:{port}" if ":" in parts.hostname else f"{parts.hostname}:{port}"
    headers = [basic_auth_header(station_id, password)] if password is not None else []
    with trio.fail_after(connect_timeout):  # connect, TLS and the handshake: a server may stall in any
        stream: trio.abc.Stream = await open_tcp(parts.hostname, port)  # (direct to an IP literal)
        try:
            if secure:
                assert ssl_context is not None
                stream = trio.SSLStream(stream, ssl_context, server_hostname=parts.hostname, https_compatible=True)
                try:
                    await stream.do_handshake()
                except trio.BrokenResourceError as error:
                    raise _tls_failure(error, where) from None
            try:
                websocket = await client_handshake(stream, host=host_header, target=target, subprotocols=subprotocols,
                                                   extra_headers=headers, max_message_size=max_message_size)
            except Unanswered as error:
                if not secure:
                    raise
                if _ssl_error(error.error) is not None:  # e.g. the CSMS's TLS alert about our certificate
                    raise _tls_failure(error.error, where) from None
                raise ConnectFailure("tls", f"the CSMS {where} closed the TLS connection without answering "
                                            f"the websocket handshake — {_CLIENT_CERT_HINT}") from None
        except Rejected as error:
            with trio.CancelScope(shield=True):
                await stream.aclose()
            hint = ""
            if secure and error.status_code == 403:
                hint = " (forbidden: under security profile 3 the client certificate's CN must be the station id)"
            raise HandshakeRefused(error.status_code,
                                   f"the CSMS refused the connection: HTTP {error.status_code}{hint}") from None
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
