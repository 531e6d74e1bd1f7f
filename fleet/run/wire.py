"""Messages between the supervisor and its worker processes, and their framing.

Workers connect to the supervisor over TCP on 127.0.0.1 and exchange msgpack
messages, each prefixed with its length (4 bytes, big-endian). The message types
form one tagged union, decoded once at the edge.

Besides the run itself (:class:`Assign`, :class:`Status`, :class:`Stop`,
:class:`Final_`), the wire carries the control API of a fleet run (see
:mod:`fleet.run.fleet_backend`): the supervisor forwards a command to the
worker that owns the station (:class:`ControlRequest`), the worker answers it
(:class:`ControlReply`) and pushes the events of subscriptions it serves
(:class:`ControlPush`).

A worker's :class:`Status` never waits behind bulk data (a snapshot's rows, a
metrics export, the final report): :meth:`WireStream.send` writes a message of
more than :data:`CHUNK` bytes in parts, and a status goes out between two parts,
at once. The frame header's two top bits say which is which (:data:`URGENT`: a
whole message that may come between the parts of another; :data:`MORE`: a part,
more follow). A status also costs its sender no round of the scheduler when the
socket takes it (it is written straight to the non-blocking descriptor), so a
worker whose loop is saturated still reports on time.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from typing import Any, Final

import msgspec
import trio

from ..metrics import MetricsSnapshot

__all__ = [
    "Assign",
    "ControlPush",
    "ControlReply",
    "ControlRequest",
    "Final_",
    "Hello",
    "Message",
    "Status",
    "Stop",
    "WireStream",
]

_LENGTH: Final = struct.Struct(">I")
MAX_MESSAGE: Final = 256 * 1024 * 1024
#: Header bit: a whole (urgent) message, possibly between the parts of a chunked one.
URGENT: Final = 1 << 31
#: Header bit: a part of a message; more parts follow.
MORE: Final = 1 << 30
_SIZE_MASK: Final = MORE - 1
#: Largest part of a message on the wire: an urgent message waits at most for one part.
CHUNK: Final = 64 * 1024
#: Urgent messages waiting for the part being written (beyond: the oldest are dropped;
#: every status carries running totals, so the next one makes up for a dropped one).
URGENT_QUEUE: Final = 8
#: Seconds one message may take to go out before the stream counts as broken.
SEND_TIMEOUT: Final = 30.0


class Hello(msgspec.Struct, tag="hello"):
    """A worker introduces itself: its role (``"stations"`` or ``"csms"``) and index."""

    role: str
    index: int
    pid: int


class Assign(msgspec.Struct, tag="assign"):
    """The supervisor's orders for a worker.

    Attributes:
        plan: the fleet plan, msgpack-encoded (stations workers) or ``b""``.
        shard: (I, N) slice of the fleet for this machine.
        worker: (i, W) slice of the shard for this worker.
        csms_urls: the CSMS URLs that replace ``BUILTIN_CSMS``.
        ramp: stations per second for this worker.
        options: anything else (CSMS settings, fault injection, ...).
    """

    plan: bytes = b""
    shard: tuple[int, int] = (0, 1)
    worker: tuple[int, int] = (0, 1)
    csms_urls: list[str] = []
    ramp: float = 100.0
    options: dict[str, Any] = {}


class Status(msgspec.Struct, tag="status"):
    """A worker's periodic report (about once a second; sent ahead of bulk data).

    Attributes:
        index: the worker.
        role: ``"stations"`` or ``"csms"``.
        states: stations by state (stations workers) or connected stations (CSMS).
        started: stations started so far.
        total: stations this worker will run.
        metrics: live totals (completed, failed calls, counters).
        rss: the process's resident memory in bytes.
        extra: role-specific figures.
        execution: the process's own load since its last status (``cpu`` %, ``lag_p99_ms``,
            ``lag_max_ms``; see :meth:`fleet.run.execution.LoopMonitor.sample`).
        at: when the worker took ``metrics`` (``time.monotonic()``, the clock every local
            process shares): rates are the counters' differences over these times, whenever
            the reports arrive.
    """

    index: int
    role: str
    states: dict[str, int] = {}
    started: int = 0
    total: int = 0
    metrics: dict[str, int] = {}
    rss: int = 0
    extra: dict[str, Any] = {}
    execution: dict[str, Any] = {}
    at: float = 0.0


class Stop(msgspec.Struct, tag="stop"):
    """Stop: end transactions, close connections, then send :class:`Final_`.

    ``timeout``: seconds the stations get to end their transactions and deliver their
    queues (a Ctrl-C stop is bounded); ``None``: the worker's own setting.
    """

    reason: str = ""
    timeout: float | None = None


class Final_(msgspec.Struct, tag="final"):
    """A worker's last word: its metrics for exact merging and what the audit needs.

    Attributes:
        index: the worker.
        role: ``"stations"`` or ``"csms"``.
        metrics: the worker's whole metrics.
        records: role-specific records (e.g. per-station transaction events sent or recorded).
        rss: peak resident memory in bytes.
        execution: the process's own load over the run (CPU, loop-lag histogram; see
            :meth:`fleet.run.execution.LoopMonitor.summary`).
    """

    index: int
    role: str
    metrics: MetricsSnapshot = msgspec.field(default_factory=MetricsSnapshot)
    records: dict[str, Any] = {}
    rss: int = 0
    execution: dict[str, Any] = {}


class ControlRequest(msgspec.Struct, tag="control"):
    """A control command for a worker (supervisor -> worker).

    Attributes:
        id: the supervisor's request id, echoed in the :class:`ControlReply`.
        command: the command's name (for logs and errors): a control command (``plug``,
            ``station``, ...) or one of the supervisor's own (``_rows``, ``_spawn``, ...).
        fields: unused by workers (the command is in ``body``).
        body: the command, JSON-encoded: a control command as a client sends it (the
            worker runs it through :data:`fleet.control.commands.REGISTRY`) or one of the
            supervisor's own (:class:`fleet.run.fleet_backend.WorkerCommand`).
    """

    id: int
    command: str
    fields: dict[str, Any] = {}
    body: bytes = b""


class ControlReply(msgspec.Struct, tag="control_reply"):
    """The answer to a :class:`ControlRequest` (worker -> supervisor).

    Attributes:
        id: the request's id.
        result: the result, JSON-encoded (it may hold OCPP payloads); empty for an error.
        code: empty on success, else a control-API error code; ``message`` / ``details`` say more.
    """

    id: int
    result: bytes = b""
    code: str = ""
    message: str = ""
    details: dict[str, Any] = {}


class ControlPush(msgspec.Struct, tag="control_push"):
    """An event of a subscription a worker serves (worker -> supervisor).

    Attributes:
        subscription: the supervisor's subscription number.
        event: the :class:`~fleet.control.messages.ControlEvent`, JSON-encoded; empty when ``ended``.
        ended: the subscription is over (its station went away, or it was cancelled).
    """

    subscription: int
    event: bytes = b""
    ended: bool = False


Message = Hello | Assign | Status | Stop | Final_ | ControlRequest | ControlReply | ControlPush

_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final[msgspec.msgpack.Decoder[Message]] = msgspec.msgpack.Decoder(Message)


class WireStream:
    """Length-prefixed messages over a trio stream; :class:`Status` messages go first."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        # Plain TCP: write the non-blocking descriptor directly (no checkpoint unless it
        # would block), as fleet.net.websocket does; any other stream: through send_all.
        self._socket = stream.socket if isinstance(stream, trio.SocketStream) else None
        self._buffer = bytearray()
        self._parts = bytearray()  # the parts of a chunked message received so far
        self._send_lock = trio.Lock()  # one message (of any size) at a time
        self._pen = trio.Lock()  # whoever writes bytes now: frames never mix
        self._urgent: deque[bytes] = deque(maxlen=URGENT_QUEUE)
        self._tail = b""  # the rest of a frame :meth:`send_now` could not write whole
        self._broken = False

    async def send(self, message: Message) -> None:
        """Send one message (a :class:`Status` ahead of any other being written).

        Once its bytes start going out, a cancellation waits until they are out (a
        half-written message would garble the stream for every later one), for at
        most :data:`SEND_TIMEOUT` seconds: a peer that reads nothing for that long is
        gone, and the stream is closed (``trio.BrokenResourceError``).
        """
        body = _encoder.encode(message)
        if len(body) > MAX_MESSAGE:
            raise ValueError(f"wire message of {len(body)} bytes is too large")
        if type(message) is Status:
            await self._send_urgent(_LENGTH.pack(URGENT | len(body)) + body)
            return
        async with self._send_lock:
            self._check()
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + SEND_TIMEOUT
                for offset in range(0, len(body), CHUNK) if body else (0,):
                    part = body[offset : offset + CHUNK]
                    more = MORE if offset + CHUNK < len(body) else 0
                    async with self._pen:
                        await self._flush_urgent()
                        await self._write(_LENGTH.pack(more | len(part)) + part)
                        await self._flush_urgent()
            if scope.cancelled_caught:
                await self._stalled()

    async def _send_urgent(self, frame: bytes) -> None:
        """Write ``frame`` now if nobody is writing (without yielding, if the socket takes
        it), else leave it to the writer, who sends it before its next part."""
        self._check()
        try:
            self._pen.acquire_nowait()
        except trio.WouldBlock:
            self._urgent.append(frame)
            return
        try:
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + SEND_TIMEOUT
                await self._flush_urgent()  # (left by a writer that failed)
                await self._write(frame)
                await self._flush_urgent()  # queued while this one waited for the socket
        finally:
            self._pen.release()
        if scope.cancelled_caught:
            await self._stalled()

    def send_now(self, message: Status) -> None:
        """Write a status at once, from synchronous code (it never yields).

        If someone is writing, or the socket is full, it waits among the urgent
        messages for the next writer; if the socket takes only part of it, the next
        writer sends the rest before anything else.
        """
        self._check()
        body = _encoder.encode(message)
        frame = _LENGTH.pack(URGENT | len(body)) + body
        sock = self._socket
        if sock is None or self._pen.locked() or self._tail or self._urgent:
            self._urgent.append(frame)
            return
        try:
            written = os.write(sock.fileno(), frame)
        except OSError:  # full (BlockingIOError), or closed: the next writer finds out
            self._urgent.append(frame)
            return
        if written < len(frame):
            self._tail = frame[written:]

    async def flush(self) -> None:
        """Write what :meth:`send_now` left waiting, unless someone is writing (who will)."""
        if (self._tail or self._urgent) and not self._pen.locked():
            async with self._pen:
                await self._flush_urgent()

    async def _flush_urgent(self) -> None:
        if self._tail:
            tail, self._tail = self._tail, b""
            await self._write(tail)
        while self._urgent:
            await self._write(self._urgent.popleft())

    def _check(self) -> None:
        if self._broken:
            raise trio.BrokenResourceError("wire stream closed after a stalled send")

    async def _stalled(self) -> None:
        self._broken = True
        await trio.aclose_forcefully(self.stream)
        raise trio.BrokenResourceError("the peer read nothing for too long")

    async def _write(self, data: bytes) -> None:
        sock = self._socket
        if sock is None:
            await self.stream.send_all(data)
            return
        view = memoryview(data)
        while view:
            fd = sock.fileno()
            if fd < 0:
                raise trio.ClosedResourceError("the wire stream is closed")
            try:
                view = view[os.write(fd, view) :]
                continue
            except BlockingIOError:
                pass
            except OSError as exc:
                raise trio.BrokenResourceError(f"wire stream: {exc}") from exc
            await trio.lowlevel.wait_writable(sock)

    async def receive(self) -> Message | None:
        """The next message, or ``None`` at end of stream."""
        buffer = self._buffer
        while True:
            if len(buffer) >= 4:
                (header,) = _LENGTH.unpack_from(buffer)
                length = header & _SIZE_MASK
                if length > MAX_MESSAGE or len(self._parts) + length > MAX_MESSAGE:
                    raise ValueError(f"wire message of {len(self._parts) + length} bytes is too large")
                if len(buffer) >= 4 + length:
                    body = bytes(buffer[4 : 4 + length])
                    del buffer[: 4 + length]
                    if header & URGENT:
                        return _decoder.decode(body)
                    if header & MORE:
                        self._parts += body
                        continue
                    if self._parts:
                        self._parts += body
                        body = bytes(self._parts)
                        self._parts.clear()
                    return _decoder.decode(body)
            chunk = await self.stream.receive_some(1 << 16)
            if not chunk:
                return None
            buffer += chunk

    async def aclose(self) -> None:
        await self.stream.aclose()


def rss_bytes() -> int:
    """Resident memory of this process (Linux), 0 where unknown."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")
