"""The fast path of the opening handshake against wsproto/h11, head by head, over loopback TCP.

Each request head of the corpus goes once to :func:`server_handshake` (fast path first) and once
to the h11 path alone (what fleet did before the fast path), in the same chunks; both must end the
same way: the same request read (target, headers, subprotocols), the same bytes answered (the 101
of ``accept``, the refusal of ``reject``, the 400/426 of a bad head). Each response head likewise
goes to :func:`client_handshake` and to a client that reads with wsproto/h11 alone: the same
subprotocol, or the same error with the same message. Each case also says whether the fast path
must take it (``FAST``) or leave it to h11 (``H11``), so a fast path that declines everything fails.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request

from fleet.net import handshake_head
from fleet.net.websocket import (
    HandshakeError,
    HandshakeRequest,
    Rejected,
    WebSocket,
    _client_answer,
    _server_handshake_h11,
    client_handshake,
    server_handshake,
)

LIMIT = 64 * 1024
FAST, H11 = "fast", "h11"
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
OFFERED = ("ocpp2.0.1", "ocpp1.6")


def _accept_of(key: bytes) -> bytes:  # (written out here, not taken from the code under test)
    return base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())


def _request(*lines: bytes, first: bytes = b"GET /ocpp/CS1 HTTP/1.1", end: bytes = b"\r\n") -> bytes:
    return end.join((first, *lines)) + end + end


CANONICAL = (b"Host: 127.0.0.1:9000", b"Upgrade: websocket", b"Connection: Upgrade", b"Sec-WebSocket-Key: " + KEY,
             b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Protocol: ocpp2.0.1, ocpp1.6",
             b"authorization: Basic Q1MxOnNlY3JldA==")
C = dict(enumerate(CANONICAL))


def _with(**replaced: bytes | None) -> tuple[bytes, ...]:
    """The canonical header lines with some replaced (``h0``...``h6``) or dropped (``None``)."""
    lines = [replaced.get(f"h{i}", line) for i, line in enumerate(CANONICAL)]
    return tuple(line for line in lines if line is not None)


# (name, head, split offsets, close after sending, which path must take it)
REQUESTS: list[tuple[str, bytes, Sequence[int], bool, str]] = [
    ("canonical", _request(*CANONICAL), (), False, FAST),
    ("split in three, last in the blank line", _request(*CANONICAL), (10, 60, -3), False, FAST),
    ("split every 16 bytes", _request(*CANONICAL), tuple(range(16, 300, 16)), False, FAST),
    ("names in any case", _request(b"host: a.example", b"UPGRADE: WebSocket", b"connection: keep-alive, Upgrade",
                                   b"sec-websocket-key: " + KEY, b"SEC-WEBSOCKET-VERSION: 13",
                                   b"sec-websocket-protocol: ocpp1.6"), (), False, FAST),
    ("extra headers and an extension offer", _request(*CANONICAL, b"User-Agent: x/1.0", b"Origin: http://a",
                                                      b"Sec-WebSocket-Extensions: permessage-deflate; "
                                                      b"client_max_window_bits", b"Pragma: no-cache"), (), False, FAST),
    ("blanks around values", _request(*_with(h1=b"Upgrade:   websocket  ", h3=b"Sec-WebSocket-Key:\t" + KEY + b" ",
                                             h5=b"Sec-WebSocket-Protocol:\tocpp2.0.1 ,  ocpp1.6\t")), (), False, FAST),
    ("two subprotocol headers", _request(*_with(h5=b"Sec-WebSocket-Protocol: ocpp2.1"),
                                         b"Sec-WebSocket-Protocol: ocpp2.0.1, ocpp1.6"), (), False, FAST),
    ("no subprotocol", _request(*_with(h5=None)), (), False, FAST),
    ("a query", _request(*CANONICAL, first=b"GET /ocpp/CS1?x=1&y=%20 HTTP/1.1"), (), False, FAST),
    # valid, but not the common case: h11 reads them
    ("a short key", _request(*_with(h3=b"Sec-WebSocket-Key: abc")), (), False, H11),
    ("obs-text in a value", _request(*CANONICAL, b"X-Site: caf\xe9"), (), False, H11),
    ("a continuation line", _request(*CANONICAL, b"X-Note: a", b"  b"), (), False, H11),
    ("content-length 0", _request(*CANONICAL, b"Content-Length: 0"), (), False, H11),
    ("bytes after the head", _request(*CANONICAL) + b"\x81\x82abcd\x00\x00", (), False, H11),
    ("a head over the fast limit", _request(*CANONICAL, b"X-Pad: " + b"a" * 12_000), (), False, H11),
    ("bare LF line ends", _request(*CANONICAL, end=b"\n"), (), False, H11),
    ("HTTP/1.0", _request(*CANONICAL, first=b"GET /ocpp/CS1 HTTP/1.0"), (), False, H11),
    ("an empty value", _request(*CANONICAL, b"X-Empty:"), (), False, H11),
    ("a repeated key", _request(*CANONICAL, b"Sec-WebSocket-Key: " + KEY), (), False, H11),
    # invalid: refused by h11 or wsproto, the same way on both paths
    ("POST", _request(*CANONICAL, first=b"POST /ocpp/CS1 HTTP/1.1"), (), False, H11),
    ("lower-case get", _request(*CANONICAL, first=b"get /ocpp/CS1 HTTP/1.1"), (), False, H11),
    ("two spaces in the request line", _request(*CANONICAL, first=b"GET  /ocpp/CS1 HTTP/1.1"), (), False, H11),
    ("a space in the target", _request(*CANONICAL, first=b"GET /ocpp/C S1 HTTP/1.1"), (), False, H11),
    ("no Host", _request(*_with(h0=None)), (), False, H11),
    ("two Hosts", _request(*CANONICAL, b"Host: b.example"), (), False, H11),
    ("no key", _request(*_with(h3=None)), (), False, H11),
    ("version 8", _request(*_with(h4=b"Sec-WebSocket-Version: 8")), (), False, H11),
    ("no version", _request(*_with(h4=None)), (), False, H11),
    ("Connection: close", _request(*_with(h2=b"Connection: close")), (), False, H11),
    ("no Connection", _request(*_with(h2=None)), (), False, H11),
    ("Upgrade: h2c", _request(*_with(h1=b"Upgrade: h2c")), (), False, H11),
    ("no Upgrade", _request(*_with(h1=None)), (), False, H11),
    ("transfer-encoding gzip", _request(*CANONICAL, b"Transfer-Encoding: gzip"), (), False, H11),
    ("a NUL in a value", _request(*CANONICAL, b"X-Bad: a\x00b"), (), False, H11),
    ("a header without a colon", _request(*CANONICAL, b"X-Bad"), (), False, H11),
    ("a leading blank line", b"\r\n" + _request(*CANONICAL), (), False, H11),
    ("a TLS hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", (), False, H11),
    ("garbage with a blank line", b"\x16\x03\x01 not http at all\r\n\r\n", (), False, H11),
    ("an endless head", b"GET /ocpp/CS1 HTTP/1.1\r\nX-Pad: " + b"a" * 17_000, (), False, H11),
    ("half a head, then the end", _request(*CANONICAL)[:50], (), True, H11),
    ("nothing, then the end", b"", (), True, H11),
]


def _chunks(data: bytes, offsets: Sequence[int]) -> list[bytes]:
    cuts = sorted({o if o >= 0 else len(data) + o for o in offsets if -len(data) < o < len(data)})
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


async def _tcp_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    listener = trio.socket.socket()
    with listener:
        await listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = trio.socket.socket()
        await client.connect(listener.getsockname())
        server, _ = await listener.accept()
    return trio.SocketStream(client), trio.SocketStream(server)


async def _read_to_end(stream: trio.SocketStream) -> bytes:
    answer = b""
    with trio.fail_after(5):
        while chunk := await stream.receive_some(65536):
            answer += chunk
    return answer


ServerSide = Callable[[trio.SocketStream], Awaitable[HandshakeRequest | None]]


async def _fast_server(stream: trio.SocketStream) -> HandshakeRequest | None:
    return await server_handshake(stream, max_message_size=LIMIT)


async def _h11_server(stream: trio.SocketStream) -> HandshakeRequest | None:
    return await _server_handshake_h11(stream, LIMIT, pending=b"", ended=False)


async def _serve(handshake: ServerSide, chunks: list[bytes], close: bool, reject: bool) -> tuple[Any, ...]:
    """What the server read and what the client received back."""
    client, server = await _tcp_pair()
    read: list[Any] = []

    async def run() -> None:
        request = await handshake(server)
        if request is None:
            read.append(None)
            return
        read.append((request.path, request.headers, request.proposed_subprotocols, request.through_h11))
        if reject:
            await request.reject(401, extra_headers=[(b"www-authenticate", b'Basic realm="fleet"')], body=b"no\n")
        else:
            offered = request.proposed_subprotocols
            websocket = await request.accept(subprotocol=offered[-1] if offered else None)
            await websocket.abort()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            for chunk in chunks:
                await client.send_all(chunk)
                await trio.testing.wait_all_tasks_blocked()  # the server has read it
            if close:
                await client.send_eof()
        answer = await _read_to_end(client)
    await client.aclose()
    return read[0], answer


@pytest.mark.parametrize(("head", "offsets", "close", "path"), [case[1:] for case in REQUESTS],
                         ids=[case[0] for case in REQUESTS])
async def test_a_request_head_ends_as_it_does_through_h11(head: bytes, offsets: Sequence[int], close: bool,
                                                          path: str) -> None:
    chunks = _chunks(head, offsets)
    fast_read, fast_answer = await _serve(_fast_server, chunks, close, reject=False)
    h11_read, h11_answer = await _serve(_h11_server, chunks, close, reject=False)
    assert fast_answer == h11_answer
    if h11_read is None:
        assert fast_read is None
        return
    assert fast_read[:3] == h11_read[:3]
    assert fast_read[3] is (path == H11)  # the fast path took what it must, and only that
    assert fast_answer.startswith(b"HTTP/1.1 101 ")
    fast_refusal = await _serve(_fast_server, chunks, close, reject=True)
    h11_refusal = await _serve(_h11_server, chunks, close, reject=True)
    assert fast_refusal[1] == h11_refusal[1] and h11_refusal[1].startswith(b"HTTP/1.1 401 ")


def _response(*lines: bytes, first: bytes = b"HTTP/1.1 101 Switching Protocols", end: bytes = b"\r\n") -> bytes:
    return end.join((first, *lines)) + end + end


ACCEPTED = (b"Upgrade: websocket", b"Connection: Upgrade", b"Sec-WebSocket-Accept: {accept}",
            b"Sec-WebSocket-Protocol: ocpp1.6")


def _answer_with(**replaced: bytes | None) -> tuple[bytes, ...]:
    lines = [replaced.get(f"h{i}", line) for i, line in enumerate(ACCEPTED)]
    return tuple(line for line in lines if line is not None)


# (name, answer ("{accept}" stands for the right token), split offsets, close after, which path)
RESPONSES: list[tuple[str, bytes, Sequence[int], bool, str]] = [
    ("canonical", _response(*ACCEPTED), (), False, FAST),
    ("split in three, last in the blank line", _response(*ACCEPTED), (5, 40, -2), False, FAST),
    ("split every 8 bytes", _response(*ACCEPTED), tuple(range(8, 200, 8)), False, FAST),
    ("names and values in any case", _response(b"upgrade: WebSocket", b"CONNECTION: keep-alive, upgrade",
                                               b"sec-websocket-accept: {accept}", b"SEC-WEBSOCKET-PROTOCOL: ocpp2.0.1"),
     (), False, FAST),
    ("extra headers", _response(*ACCEPTED, b"Server: csms/1", b"Date: Fri, 04 Dec 2026 19:00:00 GMT"), (), False, FAST),
    ("blanks around values", _response(*_answer_with(h0=b"Upgrade:\t websocket ", h2=b"Sec-WebSocket-Accept:  {accept}\t",
                                                     h3=b"Sec-WebSocket-Protocol: ocpp1.6  ")), (), False, FAST),
    ("no subprotocol", _response(*_answer_with(h3=None)), (), False, FAST),
    ("no reason", _response(*ACCEPTED, first=b"HTTP/1.1 101"), (), False, FAST),
    ("another reason", _response(*ACCEPTED, first=b"HTTP/1.1 101 OK go"), (), False, FAST),
    # valid, but not the common case
    ("a continuation line", _response(*ACCEPTED, b"X-Note: a", b"\tb"), (), False, H11),
    ("obs-text in a value", _response(*ACCEPTED, b"Server: caf\xe9"), (), False, H11),
    ("bare LF line ends", _response(*ACCEPTED, end=b"\n"), (), False, H11),
    ("a head over the fast limit", _response(*ACCEPTED, b"X-Pad: " + b"a" * 12_000), (), False, H11),
    ("HTTP/1.0", _response(*ACCEPTED, first=b"HTTP/1.0 101 Switching Protocols"), (), False, H11),
    ("an empty value", _response(*ACCEPTED, b"X-Empty:"), (), False, H11),
    # invalid
    ("a bad accept token", _response(*_answer_with(h2=b"Sec-WebSocket-Accept: " + _accept_of(KEY))), (), False, H11),
    ("no accept token", _response(*_answer_with(h2=None)), (), False, H11),
    ("an unoffered subprotocol", _response(*_answer_with(h3=b"Sec-WebSocket-Protocol: ocpp2.1")), (), False, H11),
    ("two subprotocols", _response(*_answer_with(h3=b"Sec-WebSocket-Protocol: ocpp1.6, ocpp2.0.1")), (), False, H11),
    ("no Upgrade", _response(*_answer_with(h0=None)), (), False, H11),
    ("Upgrade: h2c", _response(*_answer_with(h0=b"Upgrade: h2c")), (), False, H11),
    ("Connection: close", _response(*_answer_with(h1=b"Connection: close")), (), False, H11),
    ("an extension", _response(*ACCEPTED, b"Sec-WebSocket-Extensions: permessage-deflate"), (), False, H11),
    ("content-length in a 101", _response(*ACCEPTED, b"Content-Length: 0"), (), False, H11),
    ("a repeated accept", _response(*ACCEPTED, b"Sec-WebSocket-Accept: {accept}"), (), False, H11),
    ("401 with a body", _response(b'WWW-Authenticate: Basic realm="x"', b"Content-Length: 3",
                                  first=b"HTTP/1.1 401 Unauthorized") + b"no\n", (), False, H11),
    ("404 without a body", _response(b"Content-Length: 0", first=b"HTTP/1.1 404 Not Found"), (), False, H11),
    ("200", _response(b"Content-Length: 2", first=b"HTTP/1.1 200 OK") + b"ok", (), False, H11),
    ("100 Continue", _response(first=b"HTTP/1.1 100 Continue"), (), False, H11),
    ("a header without a colon", _response(*ACCEPTED, b"X-Bad"), (), False, H11),
    ("a status of four digits", _response(*ACCEPTED, first=b"HTTP/1.1 1010 Switching"), (), False, H11),
    ("garbage", b"\x15\x03\x03\x00\x02\x02\x28", (), False, H11),
    ("an endless head", b"HTTP/1.1 101 Switching Protocols\r\nX-Pad: " + b"a" * 17_000, (), False, H11),
    ("half a head, then the end", _response(*ACCEPTED)[:40], (), True, H11),
    ("nothing, then the end", b"", (), True, H11),
]

ClientSide = Callable[[trio.SocketStream], Awaitable[WebSocket]]


async def _fast_client(stream: trio.SocketStream) -> WebSocket:
    return await client_handshake(stream, host="127.0.0.1:9000", target="/ocpp/CS1", subprotocols=OFFERED,
                                  max_message_size=LIMIT)


async def _h11_client(stream: trio.SocketStream) -> WebSocket:
    protocol = WSConnection(ConnectionType.CLIENT)
    await stream.send_all(protocol.send(Request(host="127.0.0.1:9000", target="/ocpp/CS1", subprotocols=list(OFFERED))))
    return await _client_answer(stream, protocol, target="/ocpp/CS1", max_message_size=LIMIT)


async def _connect(handshake: ClientSide, answer: bytes, offsets: Sequence[int], close: bool) -> tuple[Any, ...]:
    """How the client's handshake ended against a server that answers ``answer``."""
    client, server = await _tcp_pair()

    async def answer_it() -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += await server.receive_some(65536)
        match = re.search(rb"\r\nSec-WebSocket-Key: ([^\r]+)\r\n", request)
        assert match is not None
        for chunk in _chunks(answer.replace(b"{accept}", _accept_of(match[1])), offsets):
            await server.send_all(chunk)
            await trio.testing.wait_all_tasks_blocked()  # the client has read it
        if close:
            await server.send_eof()

    outcome: tuple[Any, ...]
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(answer_it)
            try:
                websocket = await handshake(client)
                outcome = ("open", websocket.subprotocol, websocket.through_h11)
            except Rejected as error:
                outcome = ("Rejected", error.status_code, [(bytes(k).lower(), bytes(v)) for k, v in error.headers])
            except HandshakeError as error:
                outcome = (type(error).__name__, str(error))
    await client.aclose()
    await server.aclose()
    return outcome


@pytest.mark.parametrize(("answer", "offsets", "close", "path"), [case[1:] for case in RESPONSES],
                         ids=[case[0] for case in RESPONSES])
async def test_a_response_head_ends_as_it_does_through_h11(answer: bytes, offsets: Sequence[int], close: bool,
                                                           path: str) -> None:
    fast = await _connect(_fast_client, answer, offsets, close)
    reference = await _connect(_h11_client, answer, offsets, close)
    if reference[0] == "open":
        assert fast[:2] == reference[:2]
        assert fast[2] is (path == H11)  # the fast path took what it must, and only that
    else:
        assert path == H11 and fast == reference


def test_the_fast_heads_are_byte_for_byte_what_wsproto_writes() -> None:
    key = handshake_head.new_key()
    headers = [(b"authorization", b"Basic Q1MxOnNlY3JldA=="), (b"X-Trace", b"a b")]
    ours = handshake_head.request_head("127.0.0.1:9000", "/ocpp/CS1?x=1", OFFERED, headers, key)
    client = WSConnection(ConnectionType.CLIENT)
    theirs = client.send(Request(host="127.0.0.1:9000", target="/ocpp/CS1?x=1", subprotocols=list(OFFERED),
                                 extra_headers=headers))
    nonce = re.search(rb"Sec-WebSocket-Key: ([^\r]+)", theirs)
    assert nonce is not None and ours == theirs.replace(nonce[1], key)
    parsed = handshake_head.parse_request_head(ours)
    assert parsed is not None and parsed.key == key
    for subprotocol in (None, "ocpp1.6"):
        server = WSConnection(ConnectionType.SERVER)
        server.receive_data(ours)
        list(server.events())
        assert handshake_head.accept_head(key, subprotocol) == server.send(AcceptConnection(subprotocol=subprotocol))


@pytest.mark.parametrize(("host", "target", "subprotocols", "headers"), [
    ("bücher.example", "/ocpp/CS1", OFFERED, []),  # IDNA: wsproto encodes it
    ("a..b", "/ocpp/CS1", OFFERED, []),  # an empty label: wsproto refuses it
    ("127.0.0.1", "/ocpp/C S1", OFFERED, []),  # h11 refuses the target
    ("127.0.0.1", "/ocpp/CS1", ("ocpp 1.6",), []),
    ("127.0.0.1", "/ocpp/CS1", OFFERED, [(b"x-site", b"caf\xe9")]),
    ("127.0.0.1", "/ocpp/CS1", OFFERED, [(b"x-pad", b" padded")]),  # h11 refuses blanks around a value it writes
    ("127.0.0.1", "/ocpp/CS1", OFFERED, [(b"Host", b"other")]),
    ("127.0.0.1", "/ocpp/CS1", OFFERED, [(b"content-length", b"0")]),
])
def test_arguments_that_are_not_plain_are_left_to_wsproto(host: str, target: str, subprotocols: Sequence[str],
                                                          headers: list[tuple[bytes, bytes]]) -> None:
    assert handshake_head.request_head(host, target, subprotocols, headers, KEY) is None


def test_head_length_waits_hands_over_or_measures() -> None:
    head = _request(*CANONICAL)
    assert handshake_head.head_length(head[:-1]) == handshake_head.NEED_MORE
    assert handshake_head.head_length(head + b"more") == len(head)
    assert handshake_head.head_length(b"\r\n" + head) == handshake_head.NOT_COMMON
    assert handshake_head.head_length(b"GET / HTTP/1.1\nHost: a\n") == handshake_head.NOT_COMMON
    assert handshake_head.head_length(b"G" * (handshake_head.FAST_HEAD_LIMIT + 1)) == handshake_head.NOT_COMMON
    assert handshake_head.head_length(b"G" * handshake_head.FAST_HEAD_LIMIT) == handshake_head.NEED_MORE

