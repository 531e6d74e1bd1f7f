"""Messages between the supervisor and its worker processes, and their framing.

Workers connect to the supervisor over TCP on 127.0.0.1 and exchange msgpack
messages, each prefixed with its length (4 bytes, big-endian). The message types
form one tagged union, decoded once at the edge.

Besides the run itself (:class:`Assign`, :class:`Status`, :class:`Stop`,
:class:`Final_`), the wire carries the control API of a fleet run (see
:mod:`fleet.control.fleet_backend`): the supervisor forwards a command to the
worker that owns the station (:class:`ControlRequest`), the worker answers it
(:class:`ControlReply`) and pushes the events of subscriptions it serves
(:class:`ControlPush`).
"""

from __future__ import annotations

import struct
from typing import Any, Final

import msgspec
import trio

from .metrics import MetricsSnapshot

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
    """A worker's periodic report (about once a second).

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
            ``lag_max_ms``; see :meth:`fleet.execution.LoopMonitor.sample`).
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
            :meth:`fleet.execution.LoopMonitor.summary`).
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
        command: a control command (``plug``, ``station``, ...) or an internal one
            (``_rows``, ``_metrics``, ``_spawn``, ...; see :mod:`fleet.control.fleet_backend`).
        fields: its arguments, already validated by the control server.
    """

    id: int
    command: str
    fields: dict[str, Any] = {}


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
    """Length-prefixed messages over a trio stream."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self._buffer = bytearray()
        self._send_lock = trio.Lock()
        self._broken = False

    async def send(self, message: Message) -> None:
        """Send one message.

        Once its bytes start going out, a cancellation waits until they are out (a
        half-written message would garble the stream for every later one), for at
        most :data:`SEND_TIMEOUT` seconds: a peer that reads nothing for that long is
        gone, and the stream is closed (``trio.BrokenResourceError``).
        """
        body = _encoder.encode(message)
        async with self._send_lock:
            if self._broken:
                raise trio.BrokenResourceError("wire stream closed after a stalled send")
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + SEND_TIMEOUT
                await self.stream.send_all(_LENGTH.pack(len(body)) + body)
            if scope.cancelled_caught:
                self._broken = True
                await trio.aclose_forcefully(self.stream)
                raise trio.BrokenResourceError("the peer read nothing for too long")

    async def receive(self) -> Message | None:
        """The next message, or ``None`` at end of stream."""
        while True:
            if len(self._buffer) >= 4:
                (length,) = _LENGTH.unpack_from(self._buffer)
                if length > MAX_MESSAGE:
                    raise ValueError(f"wire message of {length} bytes is too large")
                if len(self._buffer) >= 4 + length:
                    body = bytes(self._buffer[4 : 4 + length])
                    del self._buffer[: 4 + length]
                    return _decoder.decode(body)
            chunk = await self.stream.receive_some(1 << 16)
            if not chunk:
                return None
            self._buffer += chunk

    async def aclose(self) -> None:
        await self.stream.aclose()


def rss_bytes() -> int:
    """Resident memory of this process (Linux), 0 where unknown."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")
