"""The websocket opening handshake's common case, read and written without h11 (RFC 6455 section 4).

Thousands of stations connect at once in a load test, and each handshake through
wsproto's h11 machinery costs more CPU than the station's first messages. Nearly
all of them are the same well-formed head: a ``GET`` with ``Host``, ``Upgrade``,
``Connection``, a key, version 13 and the OCPP subprotocols, answered by a 101.
This module builds those heads as bytes and parses them with a small strict
parser that recognizes ONLY that case.

The rule that keeps it safe: each parser answers ``None`` for anything it does not
fully understand (another method or status, an odd header, a duplicate, a size
over :data:`FAST_HEAD_LIMIT`, bare LF line ends, data after a request head...),
and the caller then hands the very same bytes to wsproto/h11, so every refusal,
status code and error message stays theirs. What this module accepts is a subset
of what h11 and wsproto accept, with the same result (target, headers,
subprotocols), and the bytes it writes are the bytes they write.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Sequence

__all__ = [
    "FAST_HEAD_LIMIT",
    "NEED_MORE",
    "NOT_COMMON",
    "RequestHead",
    "accept_head",
    "accept_token",
    "head_length",
    "new_key",
    "parse_request_head",
    "parse_response_head",
    "request_head",
]

#: Largest head (bytes, with its blank line) the fast path reads; a longer one goes to
#: h11 and its own limit (16 KiB for an unfinished head). Ours stays below theirs, so
#: h11 has refused nothing while the fast path still waits for the end of a head.
FAST_HEAD_LIMIT = 8 * 1024
#: :func:`head_length`: the head is not complete yet.
NEED_MORE = 0
#: :func:`head_length`: not the common case; hand the bytes to h11.
NOT_COMMON = -1

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_TARGET = re.compile(rb"[\x21-\x7e]+")
# One header line: a token, a colon, optional blanks, a non-empty printable ASCII value
# (blanks only inside), optional blanks. Narrower than h11's field (no obs-text, no
# control bytes, no empty value, no continuation lines).
_FIELD = re.compile(rb"([-!#$%&'*+.^_`|~0-9a-zA-Z]+):[ \t]*([\x21-\x7e](?:[\x21-\x7e \t]*[\x21-\x7e])?)[ \t]*")
_VALUE = re.compile(rb"[\x21-\x7e](?:[\x21-\x7e \t]*[\x21-\x7e])?")
_REASON = re.compile(rb"[\x20-\x7e\t]*")
_HOST = re.compile(r"[A-Za-z0-9.:\[\]-]+")
#: Headers whose meaning the parsers take: a second one of them is not the common case.
_SINGLE = frozenset(
    (b"host", b"upgrade", b"connection", b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-accept",
     b"sec-websocket-extensions")
)
#: Headers that frame a body (h11 checks them): never in the common case.
_FRAMING = frozenset((b"content-length", b"transfer-encoding"))


def new_key() -> bytes:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes in base64 (RFC 6455 section 4.1)."""
    return base64.b64encode(os.urandom(16))


def accept_token(key: bytes) -> bytes:
    """``Sec-WebSocket-Accept`` for ``key``: base64(sha1(key + GUID))."""
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def head_length(buffer: bytes) -> int:
    """The length of the head at the start of ``buffer`` (through its CRLF CRLF), or
    :data:`NEED_MORE`, or :data:`NOT_COMMON` when h11 must read these bytes: a first
    byte h11 refuses at once, a bare LF (h11 ends lines and heads at those too), or a
    head longer than :data:`FAST_HEAD_LIMIT`. ``buffer`` is not empty."""
    if buffer[0] < 0x21:
        return NOT_COMMON
    end = buffer.find(b"\r\n\r\n")
    head = buffer if end < 0 else buffer[: end + 4]
    if head.count(b"\n") != head.count(b"\r\n"):
        return NOT_COMMON
    if end < 0:
        return NEED_MORE if len(buffer) <= FAST_HEAD_LIMIT else NOT_COMMON
    return end + 4 if end + 4 <= FAST_HEAD_LIMIT else NOT_COMMON


def _comma_list(value: bytes) -> list[str]:
    return [piece.decode("ascii").strip() for piece in value.split(b",")]


def _has_upgrade(value: bytes | None) -> bool:
    return value is not None and any(token.lower() == "upgrade" for token in _comma_list(value))


def _fields(lines: Sequence[bytes]) -> list[tuple[bytes, bytes]] | None:
    """The header lines as (lower-case name, value), or ``None`` if one is not plain or
    repeats a header of :data:`_SINGLE`, or frames a body."""
    fields: list[tuple[bytes, bytes]] = []
    seen: set[bytes] = set()
    for line in lines:
        match = _FIELD.fullmatch(line)
        if match is None:
            return None
        name = match[1].lower()
        if name in _SINGLE:
            if name in seen:
                return None
            seen.add(name)
        elif name in _FRAMING:
            return None
        fields.append((name, match[2]))
    return fields


class RequestHead:
    """A client's opening handshake in the common case (:func:`parse_request_head`).

    Attributes:
        target: the request target.
        headers: the headers as wsproto hands them on (names in lower case, without
            ``Host``, ``Sec-WebSocket-Protocol`` and ``Sec-WebSocket-Extensions``).
        subprotocols: the offered subprotocols, in order.
        key: the ``Sec-WebSocket-Key``.
    """

    __slots__ = ("headers", "key", "subprotocols", "target")

    def __init__(self, target: str, headers: list[tuple[bytes, bytes]], subprotocols: list[str], key: bytes) -> None:
        self.target = target
        self.headers = headers
        self.subprotocols = subprotocols
        self.key = key


def parse_request_head(head: bytes) -> RequestHead | None:
    """The request in ``head`` (a whole head, :func:`head_length` long), or ``None`` if it is
    not a well-formed websocket upgrade of the common kind (h11 and wsproto then judge it)."""
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[0] != b"GET" or parts[2] != b"HTTP/1.1" or _TARGET.fullmatch(parts[1]) is None:
        return None
    fields = _fields(lines[1:])
    if fields is None:
        return None
    headers: list[tuple[bytes, bytes]] = []
    subprotocols: list[str] = []
    host = upgrade = connection = key = version = None
    for name, value in fields:
        if name == b"host":
            host = value
            continue
        if name == b"sec-websocket-protocol":
            subprotocols.extend(_comma_list(value))
            continue
        if name == b"sec-websocket-extensions":
            continue  # (offers: fleet accepts none)
        if name == b"upgrade":
            upgrade = value
        elif name == b"connection":
            connection = value
        elif name == b"sec-websocket-key":
            key = value
        elif name == b"sec-websocket-version":
            version = value
        headers.append((name, value))
    if host is None or upgrade is None or key is None or version != b"13" or upgrade.lower() != b"websocket":
        return None
    if not _has_upgrade(connection) or not _is_key(key):
        return None
    try:
        host.decode("idna")  # (what wsproto does with it: a host it cannot read is not ours)
    except UnicodeError:
        return None
    return RequestHead(parts[1].decode("ascii"), headers, subprotocols, key)


def _is_key(key: bytes) -> bool:
    if len(key) != 24:
        return False
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except binascii.Error:
        return False


def accept_head(key: bytes, subprotocol: str | None) -> bytes:
    """The server's 101 for a request with ``key``, selecting ``subprotocol`` (byte for byte
    what wsproto writes)."""
    protocol = b"" if subprotocol is None else b"Sec-WebSocket-Protocol: " + subprotocol.encode("ascii") + b"\r\n"
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_token(key) + b"\r\n" + protocol + b"\r\n"
    )


def _plain_host(host: str) -> bool:
    if _HOST.fullmatch(host) is None:
        return False
    labels = host.split(".")
    return all(0 < len(label) < 64 for label in labels[:-1]) and len(labels[-1]) < 64


def request_head(
    host: str, target: str, subprotocols: Sequence[str], extra_headers: Sequence[tuple[bytes, bytes]], key: bytes
) -> bytes | None:
    """The client's request (byte for byte what wsproto writes for these arguments and
    ``key``), or ``None`` when an argument is not plain (wsproto then writes it, or
    refuses it)."""
    if not target.isascii() or _TARGET.fullmatch(target.encode()) is None or not _plain_host(host):
        return None
    lines = [
        b"GET ", target.encode(), b" HTTP/1.1\r\nHost: ", host.encode(),
        b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ", key,
        b"\r\nSec-WebSocket-Version: 13\r\n",
    ]
    if subprotocols:
        for subprotocol in subprotocols:
            if not subprotocol.isascii() or _TOKEN.fullmatch(subprotocol.encode()) is None:
                return None
        lines += (b"Sec-WebSocket-Protocol: ", ", ".join(subprotocols).encode(), b"\r\n")
    for name, value in extra_headers:
        if type(name) is not bytes or type(value) is not bytes or _TOKEN.fullmatch(name) is None:
            return None
        if name.lower() in _FRAMING or name.lower() == b"host" or _VALUE.fullmatch(value) is None:
            return None
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


def parse_response_head(head: bytes, key: bytes, offered: Sequence[str]) -> tuple[str | None] | None:
    """The server's 101 in ``head`` (a whole head) as ``(subprotocol,)``, or ``None`` if it is
    not a well-formed acceptance of the request with ``key`` offering ``offered`` (another
    status, a bad accept token, an unoffered subprotocol, extensions...: h11 and wsproto
    then judge it)."""
    lines = head[:-4].split(b"\r\n")
    status = lines[0]
    if status[:12] != b"HTTP/1.1 101":
        return None
    if len(status) > 12 and (status[12:13] != b" " or _REASON.fullmatch(status, 13) is None):
        return None
    fields = _fields(lines[1:])
    if fields is None:
        return None
    upgrade = connection = accept = subprotocol = None
    for name, value in fields:
        if name == b"upgrade":
            upgrade = value
        elif name == b"connection":
            connection = value
        elif name == b"sec-websocket-accept":
            accept = value
        elif name == b"sec-websocket-protocol":
            if subprotocol is not None:
                return None
            subprotocol = value.decode("ascii")
        elif name == b"sec-websocket-extensions":
            return None
    if upgrade is None or upgrade.lower() != b"websocket" or not _has_upgrade(connection):
        return None
    if accept != accept_token(key) or (subprotocol is not None and subprotocol not in offered):
        return None
    return (subprotocol,)
