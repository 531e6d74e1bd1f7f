"""OCPP's websockets: wsproto driven inside the connection's own task.

trio-websocket runs a reader task per connection that hands each message to the
reader through a memory channel, and sends through a lock and the stream's
checkpoints: every frame in or out costs two or three extra rounds of the
scheduler and the task switches with them. With thousands of connections per
process that is most of the CPU per message and most of the latency (measured with
1,000 connections in a closed echo loop on 2 cores: 6,400-6,900 round trips/s
through trio-websocket, 19,700 with wsproto driven inline as here).

Here the connection's reader task (the OCPP read loop) parses frames itself in
:meth:`WebSocket.get_message`, and a send writes to the socket at once
(``os.write`` on the non-blocking descriptor; only a full socket buffer makes
it wait). Under TLS the same code goes through the :class:`trio.SSLStream`.

wsproto does the protocol: the opening handshake (h11), frame parsing and
validation, masking, fragmentation, UTF-8 checks and close codes, except for two
common cases done by hand, with the same result as wsproto: the head of the
opening handshake (:mod:`fleet.net.handshake_head`), and the data frames of
:mod:`fleet.net.frame_codec` while the connection is open and no extension was
agreed. A message is sent as one frame written here (byte for byte wsproto's;
masked with keys from a pool of ``os.urandom`` bytes). The reader parses the
bytes it reads itself while wsproto holds none of the stream: frame after frame
as long as each is a whole text or binary message in one frame, in its simplest
form, within the size limit (text valid UTF-8), waiting for the rest of one cut
by the end of a read. From the first other frame on (a ping, pong or close, a
fragment, anything invalid, or a frame larger than a read) the bytes go to
wsproto, which reads the stream until it is back at a message boundary with
nothing held, so every such frame gets wsproto's events and close codes.

The public surface is the part of trio-websocket's ``WebSocketConnection`` fleet
uses, with its exception types (:class:`ConnectionClosed` carrying a :class:`CloseReason`,
:class:`HandshakeError`), so code written against either reads the same.

One task reads at a time: pongs and the peer's close arrive through
:meth:`WebSocket.get_message`, so :meth:`WebSocket.ping` and the closing
handshake of :meth:`WebSocket.aclose` rely on a reader being there, as in any
OCPP connection (the read loop runs for the connection's whole life). Without a
reader, :meth:`WebSocket.aclose` reads the peer's close itself.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import trio
from trio_websocket import CloseReason, ConnectionClosed, HandshakeError
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection, ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from . import frame_codec, handshake_head
from .frame_codec import MaskingKeys
from .handshake_head import NEED_MORE, RequestHead

__all__ = [
    "CloseReason",
    "ConnectionClosed",
    "HandshakeError",
    "HandshakeRequest",
    "Rejected",
    "Unanswered",
    "WebSocket",
    "client_handshake",
    "server_handshake",
]

#: Bytes asked of the socket per read.
RECEIVE_SIZE = 64 * 1024
#: Seconds :meth:`WebSocket.aclose` waits for the peer's close frame.
CLOSE_TIMEOUT = 2.0
#: Work units (one per frame, plus one per 4 KiB of its data) a reader parses before it
#: lets the other tasks run, when the bytes arrive faster than it handles them.
PARSE_BUDGET = 16

Header = tuple[bytes, bytes]

#: The masking keys of this process's client frames (one pool of random bytes for all
#: connections: a pool each would hold 1 KiB per station).
_MASKING_KEYS = MaskingKeys()


class Rejected(HandshakeError):
    """The server answered the opening handshake with an HTTP status instead of 101."""

    def __init__(self, status_code: int, headers: Sequence[Header] = ()) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.headers = list(headers)


class Unanswered(HandshakeError):
    """The server ended the connection without answering the opening handshake at all
    (under TLS: typically a server that refused the client's certificate).

    Attributes:
        error: what the read raised (e.g. ``trio.BrokenResourceError`` from a TLS
            alert), or ``None`` at a clean end of the stream.
    """

    def __init__(self, error: BaseException | None = None) -> None:
        super().__init__("the server closed the connection without answering the handshake")
        self.error = error


class _Endpoint:
    __slots__ = ("socket", "stream", "waited")

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        #: Whether the last :meth:`read` passed a scheduling point (waited for the socket).
        self.waited = False
        # Plain TCP: read and write the non-blocking descriptor directly (no checkpoint
        # unless it would block). Under TLS: through the stream. The descriptor is asked
        # of the socket at each use: once the socket is closed (by whoever) it is -1, and
        # never a number the system has handed to another connection meanwhile.
        self.socket = stream.socket if isinstance(stream, trio.SocketStream) else None

    async def read(self) -> bytes:
        """Some bytes, or ``b""`` at the end of the stream (or when it broke)."""
        sock = self.socket
        if sock is None:
            self.waited = True  # (receive_some always passes a scheduling point)
            try:
                return bytes(await self.stream.receive_some(RECEIVE_SIZE))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return b""
        self.waited = False
        while True:
            fd = sock.fileno()
            if fd < 0:
                return b""
            try:
                return os.read(fd, RECEIVE_SIZE)
            except BlockingIOError:
                pass
            except OSError:
                return b""
            self.waited = True
            try:
                await trio.lowlevel.wait_readable(sock)
            except (trio.ClosedResourceError, OSError):
                return b""

    async def write(self, data: bytes) -> bool:
        """Write all of ``data``; ``False`` if the stream is gone. Callers serialize."""
        sock = self.socket
        if sock is None:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return False
            return True
        view = memoryview(data)
        while view:
            fd = sock.fileno()
            if fd < 0:
                return False
            try:
                view = view[os.write(fd, view) :]
                continue
            except BlockingIOError:
                pass
            except OSError:
                return False
            try:
                await trio.lowlevel.wait_writable(sock)
            except (trio.ClosedResourceError, OSError):
                return False
        return True


class WebSocket:
    """An open websocket (after the opening handshake). Made by :func:`client_handshake`
    or :meth:`HandshakeRequest.accept`.

    Attributes:
        stream: the byte stream under it (TCP, or TLS over TCP).
        subprotocol: the subprotocol agreed in the handshake, if any.
        path: the request target (the server's view; the client's own request).
        through_h11: whether the opening handshake went through wsproto/h11 (a head
            the fast path of :mod:`fleet.net.handshake_head` left to them) or not.
    """

    through_h11 = False  # (set on the instance only when true: the common case costs nothing)

    def __init__(
        self,
        stream: trio.abc.Stream,
        protocol: WSConnection | Connection,
        *,
        subprotocol: str | None,
        path: str,
        max_message_size: int,
    ) -> None:
        self.stream = stream
        self.subprotocol = subprotocol
        self.path = path
        self._endpoint = _Endpoint(stream)
        self._protocol: WSConnection | Connection = protocol
        #: Whether data frames are written here (:mod:`fleet.net.frame_codec`): the handshake
        #: is over and no extension was agreed.
        self._plain = False
        self._past_handshake()
        self._max_message_size = max_message_size
        # (a list: rarely more than one message waits, and an empty deque is 760 bytes)
        self._messages: list[str | bytes] = []
        self._parts: list[str | bytes] = []
        self._size = 0
        self._close_reason: CloseReason | None = None
        self._closed = trio.Event()
        # pings in flight by payload: the event their pong sets (``None``: only noted, :meth:`send_ping`)
        self._pings: OrderedDict[bytes, trio.Event | None] = OrderedDict()
        self._reading = False
        self._writing = False
        self._queued: list[bytes] = []
        self._written: trio.Event | None = None
        self._stream_closed = False
        # wsproto may hold frames not parsed yet: at first, any that came with the handshake's answer
        self._unparsed = True
        #: Whether the reader parses the next bytes read itself (frame_codec): wsproto holds no
        #: bytes and no frame or message begun, the connection is open, no extension agreed.
        self._at_rest = False
        # Bytes read and not parsed yet that the reader holds itself (from ``_held_at`` on):
        # they start at a frame's first byte, wsproto at rest.
        self._held = b""
        self._held_at = 0
        # The start of a simple frame not all read yet (held, with wsproto at rest, until the
        # next read brings the rest); at most :data:`RECEIVE_SIZE`, larger frames are wsproto's.
        self._tail = b""
        #: Reads of the socket so far (messages that came in one read were all sent
        #: before the reader could answer the first of them).
        self.reads = 0
        self._busy = 0  # work units parsed since the reader last let the other tasks run

    # ------------------------------------------------------------------ public

    @property
    def closed(self) -> CloseReason | None:
        """Why the websocket closed, or ``None`` while it is open."""
        return self._close_reason

    @property
    def remote(self) -> str:
        """The peer's address (``host:port``), or ``"?"`` once it is gone."""
        try:
            transport: Any = getattr(self.stream, "transport_stream", self.stream)
            socket = transport.socket
            host, port = socket.getpeername()[:2]
        except (AttributeError, OSError, ValueError):
            return "?"
        return f"{host}:{port}"

    def _past_handshake(self) -> None:
        """Once the handshake is done only the frame protocol is needed: holding it alone lets
        the handshake's h11 machinery go (about 2 KB a connection, on both ends)."""
        protocol = self._protocol
        if isinstance(protocol, WSConnection) and protocol.connection is not None:
            self._protocol = protocol = protocol.connection
        self._plain = isinstance(protocol, Connection) and not protocol._proto.extensions

    @property
    def buffered(self) -> int:
        """Bytes received and not yet taken by the reader (messages and frames not parsed
        yet); the socket is read only once they are taken, so this stays below one read
        (:data:`RECEIVE_SIZE`) plus one message."""
        held = self._size + sum(len(m) for m in self._messages) + len(self._held) - self._held_at + len(self._tail)
        with contextlib.suppress(AttributeError):  # (wsproto's frame buffer)
            held += len(self._protocol._proto._frame_decoder.buffer)  # type: ignore[union-attr]
        return held

    async def get_message(self) -> str | bytes:
        """The next message (text as ``str``, binary as ``bytes``).

        Fair to the other tasks: a message that was already received (the peer sends
        faster than the reader takes) is returned only after a scheduling point, and
        frames are parsed in slices of :data:`PARSE_BUDGET`, so one busy connection
        cannot hold the event loop (nor a cancel scope around the reader) while data
        keeps arriving. A reader that waits for each message, as in OCPP's one call in
        flight, pays nothing for it.

        Raises:
            ConnectionClosed: the websocket closed (messages received before the
                peer's close are still returned first).
        """
        if self._reading:
            raise trio.BusyResourceError("another task is reading this websocket")
        self._reading = True
        endpoint = self._endpoint
        waited = False  # whether this call passed a scheduling point
        try:
            while True:
                if self._messages:
                    if not waited:
                        await trio.lowlevel.checkpoint()  # (before taking it: a cancel loses nothing)
                        self._busy = 0
                    return self._messages.pop(0)
                if self._close_reason is not None:
                    raise ConnectionClosed(self._close_reason)
                if self._held:
                    if self._busy >= PARSE_BUDGET:
                        await trio.lowlevel.checkpoint()
                        self._busy = 0
                        waited = True
                    self._parse_held()
                    continue
                if self._unparsed:
                    if self._busy >= PARSE_BUDGET:
                        await trio.lowlevel.checkpoint()
                        self._busy = 0
                        waited = True
                    await self._handle_events()
                    continue
                data = await endpoint.read()
                if endpoint.waited:
                    waited = True
                    self._busy = 0
                if not data:
                    if self._tail:  # (wsproto reads what came of the last frame, as if it had all along)
                        self._hand_to_wsproto(b"")
                        continue
                    await self._lost("the connection ended without a websocket close")
                    continue
                self.reads += 1
                if self._at_rest:  # (the common case: the frames are parsed here)
                    if self._tail:
                        data, self._tail = self._tail + data, b""
                    self._held, self._held_at = data, 0
                    continue
                try:
                    self._protocol.receive_data(data)
                except RemoteProtocolError as exc:  # (the handshake is over: not expected)
                    await self._lost(f"protocol error: {exc}")
                    continue
                self._unparsed = True
        finally:
            self._reading = False

    async def send_message(self, message: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message.

        Raises:
            ConnectionClosed: the websocket is closed or closing.
        """
        if self._close_reason is not None:
            raise ConnectionClosed(self._close_reason)
        protocol = self._protocol
        if self._plain and protocol.state is ConnectionState.OPEN:  # (the common case: the frame written here)
            if isinstance(message, str):
                opcode, payload = frame_codec.TEXT, message.encode()
            else:
                opcode, payload = frame_codec.BINARY, message
            key = _MASKING_KEYS.take() if protocol.client else None
            await self._send_bytes(frame_codec.encode_frame(opcode, payload, key))
            return
        event: Event = TextMessage(data=message) if isinstance(message, str) else BytesMessage(data=message)
        await self._send(event)

    async def ping(self, payload: bytes | None = None) -> None:
        """Send a ping and wait for its pong (which a reader of this websocket receives).

        Raises:
            ConnectionClosed: the websocket closed first.
            ValueError: a ping with this payload is already in flight.
        """
        if payload is None:
            payload = os.urandom(4)
            while payload in self._pings:
                payload = os.urandom(4)
        answered = trio.Event()
        self._start_ping(payload, answered)
        try:
            await self._send(Ping(payload=payload))
            await answered.wait()  # set by its pong, or when the websocket closes
        finally:
            self._pings.pop(payload, None)
        if self._close_reason is not None:
            raise ConnectionClosed(self._close_reason)

    async def send_ping(self, payload: bytes) -> None:
        """Send a ping and return once it is written; its pong is only noted (see
        :meth:`ping_answered`): nobody waits for it.

        Raises:
            ConnectionClosed: the websocket is closed or closing.
            ValueError: a ping with this payload is already in flight.
        """
        self._start_ping(payload, None)
        await self._send(Ping(payload=payload))

    def _start_ping(self, payload: bytes, answered: trio.Event | None) -> None:
        """Put the ping with ``payload`` in flight (its pong sets ``answered``, if any).

        Raises:
            ConnectionClosed: the websocket is closed or closing.
            ValueError: a ping with this payload is already in flight.
        """
        if self._close_reason is not None:
            raise ConnectionClosed(self._close_reason)
        if payload in self._pings:
            raise ValueError(f"payload {payload!r} is already in flight")
        self._pings[payload] = answered

    def ping_answered(self, payload: bytes) -> bool:
        """Whether the ping with ``payload`` has had its pong (or a later ping's; also when
        it was never sent)."""
        return payload not in self._pings

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close: send a close frame, wait for the peer's, then close the stream; the closing
        handshake gets :data:`CLOSE_TIMEOUT` (a full socket or a silent peer cannot hold it
        longer). Does nothing more if the websocket is closed already."""
        if self._close_reason is None:
            self._close_reason = CloseReason(code, reason)
            with trio.move_on_after(CLOSE_TIMEOUT):
                if self._protocol.state is ConnectionState.OPEN:
                    await self._send(CloseConnection(code=code, reason=reason), closing=True)
                if self._reading:
                    await self._closed.wait()  # the reader sees the peer's close
                else:
                    await self._drain_until_closed()
        self._closed.set()
        await self._close_stream()

    async def abort(self) -> None:
        """Close the stream at once, with no closing handshake (as when a link drops)."""
        if self._close_reason is None:
            self._close_reason = CloseReason(1006, "aborted")
        self._closed.set()
        await self._close_stream()

    # --------------------------------------------------------------- internals

    async def _answer_handshake(self, answer: bytes) -> None:
        """Write the server's 101, the first bytes of a websocket no other task holds yet
        (what :meth:`_send` does with an ``AcceptConnection``, without wsproto)."""
        try:
            ok = await self._endpoint.write(answer)
        except BaseException:
            with trio.CancelScope(shield=True):
                await self._lost("a send was cancelled half-way")
            raise
        if not ok:
            await self._lost("the connection broke while sending")
            assert self._close_reason is not None
            raise ConnectionClosed(self._close_reason)

    async def _handle_events(self) -> None:
        """Handle the parsed frames, up to :data:`PARSE_BUDGET` work units (the rest stay
        in wsproto's buffer, ``_unparsed``, for the next slice)."""
        for event in self._protocol.events():
            kind = type(event)
            if kind is TextMessage or kind is BytesMessage:
                self._busy += 1 + (len(event.data) >> 12)  # type: ignore[attr-defined]
                await self._on_message(event)  # type: ignore[arg-type]
            else:
                self._busy += 1
                if kind is Ping:
                    await self._send(event.response())  # type: ignore[attr-defined]
                elif kind is Pong:
                    self._on_pong(bytes(event.payload))  # type: ignore[attr-defined]
                elif kind is CloseConnection:
                    await self._on_close(event)  # type: ignore[arg-type]
            if self._busy >= PARSE_BUDGET:
                return
        self._unparsed = False
        self._at_rest = self._wsproto_at_rest()

    def _wsproto_at_rest(self) -> bool:
        """Whether the reader may parse the next bytes itself: wsproto holds none of the
        stream (no bytes, no frame or message begun), the connection is open and plain."""
        protocol = self._protocol
        if not self._plain or protocol.state is not ConnectionState.OPEN:
            return False
        frames = protocol._proto  # type: ignore[union-attr]
        decoder = frames._frame_decoder
        return not decoder.buffer and decoder.header is None and frames._message_decoder.opcode is None

    def _hand_to_wsproto(self, data: bytes) -> None:
        """wsproto reads the stream from here on (``data``, after what the reader held of a last
        frame), until it is at rest again (:meth:`_handle_events`)."""
        if self._tail:
            data, self._tail = self._tail + data, b""
        self._at_rest = False
        self._protocol.receive_data(data)
        self._unparsed = True

    def _parse_held(self) -> None:
        """Parse the simple frames of the held bytes (up to :data:`PARSE_BUDGET` work units, as
        :meth:`_handle_events`); from the first other frame on, the bytes go to wsproto."""
        data, start = self._held, self._held_at
        end = len(data)
        masked = not self._protocol.client  # (a server reads masked frames, a client unmasked ones)
        limit = self._max_message_size
        decode = frame_codec.decode_frame
        messages = self._messages
        while True:
            frame = decode(data, start, masked, limit)
            if frame is None:  # (not the simple case: wsproto reads it, and all after it)
                self._held, self._held_at = b"", 0
                self._hand_to_wsproto(data[start:] if start else data)
                return
            message, stop = frame
            if message is None:  # (a simple frame not all there yet)
                self._held, self._held_at = b"", 0
                if stop - start <= RECEIVE_SIZE:  # (also UNKNOWN_END: its head is not all there)
                    self._tail = data[start:] if start else data
                else:  # (a large one: wsproto reads it as it comes)
                    self._hand_to_wsproto(data[start:] if start else data)
                return
            messages.append(message)
            self._busy += 1 + ((stop - start) >> 12)
            start = stop
            if start == end:
                self._held, self._held_at = b"", 0
                return
            if self._busy >= PARSE_BUDGET:
                self._held_at = start
                return

    async def _on_message(self, event: TextMessage | BytesMessage) -> None:
        if self._close_reason is not None:
            return
        self._size += len(event.data)
        if self._size > self._max_message_size:
            self._parts, self._size = [], 0
            self._close_reason = CloseReason(1009, f"message larger than {self._max_message_size} bytes")
            await self._send(CloseConnection(code=1009, reason=self._close_reason.reason), closing=True)
            self._closed.set()
            await self._close_stream()
            return
        self._parts.append(bytes(event.data) if isinstance(event.data, bytearray) else event.data)
        if event.message_finished:
            parts, self._parts, self._size = self._parts, [], 0
            if len(parts) == 1:
                self._messages.append(parts[0])
            elif isinstance(event, TextMessage):
                self._messages.append("".join(parts))  # type: ignore[arg-type]
            else:
                self._messages.append(b"".join(parts))  # type: ignore[arg-type]

    def _on_pong(self, payload: bytes) -> None:
        if payload not in self._pings:
            return
        while self._pings:  # a pong answers its ping and every earlier one
            key, answered = self._pings.popitem(last=False)
            if answered is not None:
                answered.set()
            if key == payload:
                break

    async def _on_close(self, event: CloseConnection) -> None:
        if self._close_reason is None:
            self._close_reason = CloseReason(event.code, event.reason or None)
        if self._protocol.state is ConnectionState.REMOTE_CLOSING:
            await self._send(event.response(), closing=True)
        self._closed.set()
        await self._close_stream()

    async def _lost(self, why: str) -> None:
        if self._close_reason is None:
            self._close_reason = CloseReason(1006, why)
        self._closed.set()
        await self._close_stream()

    async def _drain_until_closed(self) -> None:
        """Read (and drop) until the peer's close frame, in slices like :meth:`get_message`:
        a peer still flooding while we close cannot hold the event loop either."""
        if self._held or self._tail:  # (bytes the reader held: wsproto reads them, and all after them)
            held, self._held, self._held_at = self._held[self._held_at :], b"", 0
            try:
                self._hand_to_wsproto(held)
            except LocalProtocolError:  # (closed already)
                return
        while not self._closed.is_set():
            if not self._unparsed:
                data = await self._endpoint.read()
                if not data:
                    return
                try:
                    self._protocol.receive_data(data)
                except RemoteProtocolError:
                    return
            await trio.lowlevel.checkpoint()
            self._unparsed = False
            units = 0
            try:
                for event in self._protocol.events():
                    if type(event) is CloseConnection:
                        self._closed.set()
                        break
                    data_of = getattr(event, "data", b"")
                    units += 1 + (len(data_of) >> 12)
                    if units >= PARSE_BUDGET:
                        self._unparsed = True
                        break
            except RemoteProtocolError:
                return

    async def _send(self, event: Event, *, closing: bool = False) -> None:
        try:
            data = self._protocol.send(event)
        except LocalProtocolError:  # the protocol is past sending this (closing, closed)
            if closing:
                return
            raise ConnectionClosed(self._close_reason or CloseReason(1006, "closed")) from None
        await self._send_bytes(data, closing=closing)

    async def _send_bytes(self, data: bytes, *, closing: bool = False) -> None:
        """Write the frame ``data`` (behind the frames other tasks are writing)."""
        if self._writing:  # another task is waiting for the socket: queue behind it
            self._queued.append(data)
            if self._written is None:
                self._written = trio.Event()
            await self._written.wait()
            return
        self._writing = True
        try:
            ok = await self._endpoint.write(data)
            while ok and self._queued:
                queued, self._queued = b"".join(self._queued), []
                ok = await self._endpoint.write(queued)
        except BaseException:
            # Cancelled while the socket was full: part of a frame may be out, so the
            # stream cannot carry another frame. The connection is lost.
            with trio.CancelScope(shield=True):
                await self._lost("a send was cancelled half-way")
            raise
        finally:
            self._writing = False
            if self._written is not None:
                self._written.set()
                self._written = None
        if not ok:
            await self._lost("the connection broke while sending")
            if not closing:
                assert self._close_reason is not None
                raise ConnectionClosed(self._close_reason)

    async def _close_stream(self) -> None:
        if self._stream_closed:
            return
        self._stream_closed = True
        for answered in self._pings.values():
            if answered is not None:
                answered.set()
        with trio.CancelScope(shield=True):
            # (TLS says goodbye over the wire, and a peer that reads nothing could hold that forever)
            with trio.move_on_after(CLOSE_TIMEOUT) as waited:
                await self.stream.aclose()
            if waited.cancelled_caught:
                await trio.aclose_forcefully(self.stream)


# ------------------------------------------------------------------ handshakes


async def _feed(stream: trio.abc.Stream, protocol: WSConnection) -> bool:
    """Read once from ``stream`` into ``protocol``; ``False`` at the end of the stream."""
    try:
        data = await stream.receive_some(RECEIVE_SIZE)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        data = b""
    protocol.receive_data(bytes(data) if data else None)
    return bool(data)


async def _receive(stream: trio.abc.Stream) -> bytes:
    """Some bytes, ``b""`` at the end of the stream; raises what the stream raises."""
    return bytes(await stream.receive_some(RECEIVE_SIZE))


async def client_handshake(
    stream: trio.abc.Stream,
    *,
    host: str,
    target: str,
    subprotocols: Sequence[str] = (),
    extra_headers: Sequence[Header] = (),
    max_message_size: int,
) -> WebSocket:
    """Open a websocket over ``stream`` (TCP or TLS, connected): send the request, read the answer.

    The common case (plain arguments, a well-formed 101) is written and read by
    :mod:`fleet.net.handshake_head`; anything else goes through wsproto/h11, with the
    bytes already read.

    Raises:
        Rejected: the server answered with another HTTP status than 101.
        Unanswered: the stream ended (or broke) before any byte of an answer.
        HandshakeError: the answer was not a valid handshake, or the stream ended first.
    """
    key = handshake_head.new_key()
    request = handshake_head.request_head(host, target, subprotocols, extra_headers, key)
    if request is None:  # (not plain: wsproto writes it, or refuses it)
        protocol = WSConnection(ConnectionType.CLIENT)
        request = protocol.send(Request(host=host, target=target, subprotocols=list(subprotocols),
                                        extra_headers=list(extra_headers)))
        await _send_request(stream, request)
        return await _client_answer(stream, protocol, target=target, max_message_size=max_message_size)
    await _send_request(stream, request)
    buffer = b""
    while True:  # (the common head, up to FAST_HEAD_LIMIT bytes; the caller bounds the time)
        try:
            data = await _receive(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            if not buffer:
                raise Unanswered(exc) from None
            data = b""
        if not data:
            if not buffer:
                raise Unanswered()
            break
        buffer += data
        length = handshake_head.head_length(buffer)
        if length == NEED_MORE:
            continue
        if length > 0:
            accepted = handshake_head.parse_response_head(buffer[:length], key, subprotocols)
            if accepted is not None:
                return WebSocket(stream, Connection(ConnectionType.CLIENT, trailing_data=buffer[length:]),
                                 subprotocol=accepted[0], path=target, max_message_size=max_message_size)
        break
    # Not the common answer: wsproto reads it, as if it had written our request.
    protocol = WSConnection(ConnectionType.CLIENT)
    protocol.send(Request(host=host, target=target, subprotocols=list(subprotocols), extra_headers=list(extra_headers)))
    protocol.handshake._nonce = key  # (the key we sent, for its check of Sec-WebSocket-Accept)
    websocket = await _client_answer(stream, protocol, target=target, max_message_size=max_message_size,
                                     pending=buffer, ended=not data)
    websocket.through_h11 = True
    return websocket


async def _send_request(stream: trio.abc.Stream, request: bytes) -> None:
    try:
        await stream.send_all(request)
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        raise Unanswered(exc) from None  # (a server that closed at once, e.g. after a TLS refusal)


async def _client_answer(
    stream: trio.abc.Stream,
    protocol: WSConnection,
    *,
    target: str,
    max_message_size: int,
    pending: bytes = b"",
    ended: bool = False,
) -> WebSocket:
    """Read the server's answer through wsproto/h11, starting with the bytes ``pending``
    already read (and the end of the stream after them when ``ended``)."""
    answered = bool(pending)
    while True:  # (h11 refuses an answer whose head exceeds 16 KiB; the caller bounds the time)
        try:
            if pending:
                protocol.receive_data(pending)
                pending = b""
                if ended:
                    protocol.receive_data(None)
            elif not answered:
                try:
                    data = await stream.receive_some(RECEIVE_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    raise Unanswered(exc) from None
                if not data:
                    raise Unanswered()
                answered = True
                protocol.receive_data(bytes(data))
                ended = False
            else:
                ended = not await _feed(stream, protocol)
            # (the handshake's events only: frames that came with the 101 stay in the connection for the reader)
            events = list(protocol.handshake.events())
        except RemoteProtocolError as exc:
            raise HandshakeError(f"invalid handshake answer: {exc}") from None
        for event in events:
            if isinstance(event, AcceptConnection):
                websocket = WebSocket(stream, protocol, subprotocol=event.subprotocol, path=target,
                                      max_message_size=max_message_size)
                websocket.through_h11 = True
                return websocket
            if isinstance(event, RejectConnection):
                raise Rejected(event.status_code, event.headers)
        if ended:
            raise HandshakeError("the connection ended during the handshake")


class HandshakeRequest:
    """A client's opening handshake, to accept or reject (:func:`server_handshake`).

    Attributes:
        path: the request target.
        headers: the request's headers, names in lower case.
        proposed_subprotocols: the subprotocols the client offered, in its order.
        through_h11: whether wsproto/h11 read it (not the fast path's common case).
    """

    through_h11 = False  # (set on the instance only when true)

    def __init__(self, stream: trio.abc.Stream, protocol: WSConnection | None, request: Request | RequestHead,
                 max_message_size: int, *, head: bytes = b"") -> None:
        self.stream = stream
        self._max_message_size = max_message_size
        self._protocol: WSConnection | Connection | None = protocol
        self._key: bytes | None = None
        self._head = head  # (the fast path's head: wsproto reads it again only to reject it)
        if isinstance(request, RequestHead):
            self.path = request.target
            self.headers: list[Header] = request.headers
            self.proposed_subprotocols: list[str] = request.subprotocols
            self._key = request.key
        else:
            self.path = request.target
            self.headers = [(bytes(k).lower(), bytes(v)) for k, v in request.extra_headers]
            self.proposed_subprotocols = list(request.subprotocols)
            self.through_h11 = True

    async def accept(self, subprotocol: str | None = None) -> WebSocket:
        """Answer 101 (with ``subprotocol``) and return the open websocket.

        Raises:
            ConnectionClosed: the client went away meanwhile.
        """
        if self._protocol is None:  # the fast path read it: write the 101 directly
            assert self._key is not None
            if subprotocol is not None and subprotocol not in self.proposed_subprotocols:
                raise ConnectionClosed(CloseReason(1006, "closed"))  # (as wsproto's refusal to send it)
            answer = handshake_head.accept_head(self._key, subprotocol)
            websocket = WebSocket(self.stream, Connection(ConnectionType.SERVER), subprotocol=subprotocol,
                                  path=self.path, max_message_size=self._max_message_size)
            self._protocol, self._key, self._head = websocket._protocol, None, b""
            await websocket._answer_handshake(answer)
            return websocket
        websocket = WebSocket(self.stream, self._protocol, subprotocol=subprotocol, path=self.path,
                              max_message_size=self._max_message_size)
        websocket.through_h11 = self.through_h11
        await websocket._send(AcceptConnection(subprotocol=subprotocol))
        websocket._past_handshake()
        self._protocol = websocket._protocol  # (a request kept by its handler keeps no handshake)
        return websocket

    async def reject(self, status: int, *, extra_headers: Sequence[Header] = (), body: bytes = b"") -> None:
        """Answer with an HTTP error ``status`` (and ``body``) and close the stream."""
        protocol = self._protocol
        if protocol is None:  # (read by the fast path: wsproto reads the same head to write the refusal)
            protocol = self._protocol = WSConnection(ConnectionType.SERVER)
            protocol.receive_data(self._head)
            list(protocol.events())
            self._key, self._head = None, b""
        try:
            data = protocol.send(RejectConnection(status_code=status, headers=list(extra_headers),
                                                  has_body=bool(body)))
            if body:
                data += protocol.send(RejectData(data=body, body_finished=True))
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, LocalProtocolError):
            pass
        with trio.CancelScope(shield=True):
            await self.stream.aclose()


async def server_handshake(stream: trio.abc.Stream, *, max_message_size: int) -> HandshakeRequest | None:
    """Read a client's opening handshake from ``stream``. An invalid one is answered (400,
    or 426 for a plain HTTP request) and the stream closed; so is a stream that ends
    first: both return ``None``. Bound the wait with a cancel scope.

    The common case (a well-formed head and nothing after it) is read by
    :mod:`fleet.net.handshake_head`; anything else by wsproto/h11, from the bytes already read.
    """
    buffer = b""
    while True:
        try:
            data = await _receive(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if not data:
            break
        buffer += data
        length = handshake_head.head_length(buffer)
        if length == NEED_MORE:
            continue
        if length == len(buffer):  # (a client waits for the 101: nothing may follow the head)
            head = handshake_head.parse_request_head(buffer)
            if head is not None:
                return HandshakeRequest(stream, None, head, max_message_size, head=buffer)
        break
    return await _server_handshake_h11(stream, max_message_size, pending=buffer, ended=not data)


async def _server_handshake_h11(
    stream: trio.abc.Stream, max_message_size: int, *, pending: bytes, ended: bool
) -> HandshakeRequest | None:
    """:func:`server_handshake` through wsproto/h11, starting with the bytes ``pending``
    already read (and the end of the stream after them when ``ended``)."""
    protocol = WSConnection(ConnectionType.SERVER)
    first = True
    while True:
        try:
            if first:
                first = False
                if pending:
                    protocol.receive_data(pending)
                if ended:
                    protocol.receive_data(None)
            else:
                ended = not await _feed(stream, protocol)
            events = list(protocol.events())
        except RemoteProtocolError as exc:
            hint = exc.event_hint if isinstance(exc.event_hint, RejectConnection) else RejectConnection(status_code=400)
            with trio.CancelScope(shield=True):
                with trio.move_on_after(1):
                    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, LocalProtocolError):
                        await stream.send_all(protocol.send(hint))
                await stream.aclose()
            return None
        for event in events:
            if isinstance(event, Request):
                return HandshakeRequest(stream, protocol, event, max_message_size)
        if ended:
            with trio.CancelScope(shield=True):
                await stream.aclose()
            return None
