"""The control API of a multi-process fleet run (``fleet run``).

The supervisor runs no station itself, so its :class:`FleetBackend` forwards
commands over the supervisor<->worker wire (:mod:`fleet.run.wire`) to the process that
can answer them; every worker answers with a :class:`~fleet.control.backend.LocalBackend`
over its own actors, wrapped in a :class:`WorkerControl`::

    control client ──ws/JSON──▶ ControlServer ─▶ FleetBackend (supervisor)
                                                   │ ControlRequest(id, command, body)
                                                   ▼ ControlReply(id, result | code) / ControlPush(subscription, event)
                        station worker i: WorkerControl ─▶ REGISTRY ─▶ LocalBackend(its stations)
                        CSMS process k:   WorkerControl ─▶ REGISTRY ─▶ LocalBackend(csms=its Csms)

A control command travels as its Struct (JSON in ``body``); the worker decodes it and
runs it through the same registry (:data:`fleet.control.commands.REGISTRY`) as a
server in one process. The plumbing between the supervisor and its workers (rows,
metrics, starting stations, subscriptions, ...) are the supervisor's own commands
(:class:`WorkerCommand`), typed Structs too, answered by the handlers a worker
registers for their types (:class:`WorkerHandlers`).

Routing:

* station commands (``station``, ``plug``, ``send``, ``subscribe``, ...) go to the
  worker that owns the station. Ownership follows the plan's deterministic slicing
  (``plan.stations(shard=..., worker=(i, W))``: the ``p``-th station of the shard
  belongs to worker ``p % W``), updated as stations are added, removed or renamed;
* ``snapshot`` takes states and counters from the supervisor's
  :class:`~fleet.run.supervisor.FleetStatus` (the workers' once-a-second
  reports), latency per action from the workers' merged metrics (pulled in the
  background at most once a second, so a busy worker never delays a snapshot),
  and, only when rows are asked for, merges the workers' sorted rows (a worker
  too slow to answer contributes its previous rows);
* ``add_stations`` picks free ids fleet-wide, registers their passwords and id
  tokens with the built-in CSMS, and has the least loaded worker start them;
  ``remove_stations`` asks each owner to retire its stations;
* CSMS commands go to the built-in CSMS processes as their registration says
  (:class:`~fleet.control.commands.OnCsms`): lists are gathered from all of them and
  joined, settings are broadcast, and ``csms_send`` goes to the process that holds
  the station's connection. Against an external CSMS they answer ``unsupported``.

Everything is bounded: each link has at most :data:`MAX_PENDING` requests in
flight and an outbox of :data:`OUTBOX` messages (beyond: ``busy``), every
forwarded request has a deadline (then ``busy``), a worker that goes away fails its
requests with ``internal_error`` and ends its subscriptions, and subscription
events pass through bounded channels that drop rather than wait.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

import msgspec
import trio

from .. import __version__
from ..control import messages as m
from ..control.backend import EventStream, LocalBackend, RateTracker, fault_targets
from ..control.commands import REGISTRY, OnCsms, StationCommand
from ..control.errors import ControlError
from ..control.handles import StationHandle
from ..control.messages import (
    RESULT_TYPES,
    Ack,
    ActionLatency,
    AddStationsResult,
    BootStatus,
    Command,
    ControlEvent,
    ErrorCode,
    FaultResult,
    FleetSnapshot,
    RemoveStationsResult,
    ServerInfo,
    StationDetail,
    StationRow,
    encode,
)
from ..faults import RecoveryClock
from ..metrics import MetricsSnapshot
from .wire import ControlPush, ControlReply, ControlRequest, WireStream

if TYPE_CHECKING:
    from ..profiles import StationProfile
    from .fleetfile import FleetPlan
    from .supervisor import FleetStatus

__all__ = [
    "MAX_PENDING",
    "OUTBOX",
    "REQUEST_TIMEOUT",
    "ExportMetrics",
    "FleetBackend",
    "HasStation",
    "MergeIdTokens",
    "Online",
    "Rows",
    "SetPasswords",
    "Spawn",
    "Steady",
    "WorkerCommand",
    "WorkerControl",
    "WorkerHandlers",
    "WorkerLink",
    "WorkerSubscribe",
    "WorkerUnsubscribe",
    "station_seed",
]

logger = logging.getLogger("fleet.control")

#: Seconds a forwarded command may take (``send`` / ``csms_send``: their own timeout plus a margin).
REQUEST_TIMEOUT: Final = 10.0
#: Seconds a worker gets to send its rows for a snapshot (then its previous rows are used).
ROWS_TIMEOUT: Final = 3.0
#: Seconds between two pulls of the workers' metrics (only while snapshots are asked for).
METRICS_INTERVAL: Final = 1.0
#: Requests in flight per worker.
MAX_PENDING: Final = 128
#: Requests waiting to be written to one worker.
OUTBOX: Final = 256
#: Events buffered per subscription on the supervisor (beyond: dropped).
EVENT_BUFFER: Final = 1024
#: Subscriptions one worker serves at once.
MAX_WORKER_SUBSCRIPTIONS: Final = 256
#: The margin added to a ``send`` / ``csms_send`` timeout; the default when it gives none.
SEND_MARGIN: Final = 5.0
DEFAULT_SEND_TIMEOUT: Final = 60.0

#: Seconds between two counts of the stations online while the fleet recovers from a CSMS restart.
RECOVERY_POLL: Final = 0.1

_event_decoder: Final = msgspec.json.Decoder(ControlEvent)
_rows_decoder: Final = msgspec.json.Decoder(list[StationRow])
_subscription_numbers = itertools.count(1)

class WorkerCommand(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base of the supervisor's own commands for its workers (not part of the control API)."""


class Rows(WorkerCommand, tag="_rows", frozen=True, kw_only=True):
    """A station worker's rows, sorted by id (at most ``limit``)."""

    limit: int | None = None


class Spawn(WorkerCommand, tag="_spawn", frozen=True, kw_only=True):
    """Start stations of ``profile`` (a msgpack-encoded StationProfile) with these ids."""

    profile: bytes
    station_ids: list[str]
    connect: bool = True


class ExportMetrics(WorkerCommand, tag="_metrics", frozen=True, kw_only=True):
    """A station worker's whole metrics."""


class Online(WorkerCommand, tag="_online", frozen=True, kw_only=True):
    """How many of a station worker's stations are connected and accepted now."""


class HasStation(WorkerCommand, tag="_has_station", frozen=True, kw_only=True):
    """Whether a CSMS process holds ``station_id``'s connection."""

    station_id: str


class SetPasswords(WorkerCommand, tag="_set_passwords", frozen=True, kw_only=True):
    """Passwords of stations added while running."""

    passwords: dict[str, str]


class MergeIdTokens(WorkerCommand, tag="_merge_id_tokens", frozen=True, kw_only=True):
    """Id tokens of a profile added while running."""

    tokens: dict[str, str]


class Steady(WorkerCommand, tag="_steady", frozen=True, kw_only=True):
    """The ramp has settled (``open``) or the fleet is stopping."""

    open: bool


class WorkerSubscribe(WorkerCommand, tag="_subscribe", frozen=True, kw_only=True):
    """Push a station's events as :class:`ControlPush` messages numbered ``subscription``."""

    subscription: int
    station_id: str | None = None
    source: str = "auto"


class WorkerUnsubscribe(WorkerCommand, tag="_unsubscribe", frozen=True, kw_only=True):
    """End subscription ``subscription``."""

    subscription: int


_WorkerCommands = (
    Rows | Spawn | ExportMetrics | Online | HasStation | SetPasswords | MergeIdTokens | Steady
    | WorkerSubscribe | WorkerUnsubscribe
)
#: What the supervisor asks of a worker: a control command, or one of its own.
Outgoing = Command | _WorkerCommands
W = TypeVar("W", bound=WorkerCommand)
_outgoing_decoder: Final[msgspec.json.Decoder[Outgoing]] = msgspec.json.Decoder(Outgoing)


class WorkerHandlers:
    """A worker's handlers of the supervisor's own commands, by command type."""

    def __init__(self) -> None:
        self._handlers: dict[type[WorkerCommand], Callable[[Any], Awaitable[Any]]] = {}

    def on(self, command: type[W], handler: Callable[[W], Awaitable[object]]) -> WorkerHandlers:
        """Answer ``command`` with ``handler(command)``; returns itself (to chain)."""
        self._handlers[command] = handler
        return self

    def handler(self, command: WorkerCommand) -> Callable[[Any], Awaitable[Any]] | None:
        return self._handlers.get(type(command))


def station_seed(fleet_seed: int, station_id: str) -> int:
    """The seed of a station added while running (derived like the plan's: fleet seed and id)."""
    digest = hashlib.blake2b(f"{fleet_seed}:{station_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


# ================================================================ worker side


class WorkerControl:
    """A worker's end of the control API: runs forwarded commands on its :class:`LocalBackend`.

    Start :meth:`run` in the worker's nursery, hand it every :class:`ControlRequest`
    with :meth:`handle` (never blocks), and :meth:`attach` the backend once the
    worker's actors exist (until then commands answer ``busy``).

    Args:
        wire: the stream to the supervisor.
    """

    def __init__(self, wire: WireStream) -> None:
        self.wire = wire
        self.backend: LocalBackend[Any] | None = None
        self.handlers = WorkerHandlers()
        self._nursery: trio.Nursery | None = None
        self._subscriptions: dict[int, tuple[str | None, trio.CancelScope]] = {}

    def attach(self, backend: LocalBackend[Any], handlers: WorkerHandlers | None = None) -> None:
        """Serve ``backend`` (the control commands, through the registry), plus the
        supervisor's own commands (:class:`Rows`, :class:`Spawn`, ...) by ``handlers``."""
        self.backend = backend
        self.handlers = handlers if handlers is not None else WorkerHandlers()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the command and subscription tasks until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def handle(self, request: ControlRequest) -> None:
        """Answer ``request`` in a task of its own (the supervisor bounds how many are in flight)."""
        if self._nursery is not None:
            self._nursery.start_soon(self._answer, request)

    def end_subscriptions(self, station_id: str) -> None:
        """End the subscriptions to ``station_id`` (it was removed)."""
        for sid, scope in list(self._subscriptions.values()):
            if sid == station_id:
                scope.cancel()

    async def _answer(self, request: ControlRequest) -> None:
        try:
            result = await self._execute(request)
            reply = ControlReply(request.id, result=encode(result))
        except ControlError as exc:
            reply = ControlReply(request.id, code=exc.code, message=exc.message, details=dict(exc.details))
        except Exception as exc:
            logger.exception("control command %s failed in a worker", request.command)
            reply = ControlReply(request.id, code=ErrorCode.INTERNAL_ERROR,
                                 message=f"{request.command} failed: {exc!r}")
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            try:
                await self.wire.send(reply)
            except (TypeError, ValueError):  # details the wire cannot carry
                await self.wire.send(ControlReply(request.id, code=reply.code or ErrorCode.INTERNAL_ERROR,
                                                  message=reply.message or "unencodable result"))

    async def _execute(self, request: ControlRequest) -> Any:
        backend = self.backend
        if backend is None:
            raise ControlError(ErrorCode.BUSY, "this worker is still starting")
        if not request.body:
            raise ControlError(ErrorCode.UNKNOWN_COMMAND, f"a worker does not serve {request.command!r}")
        command = _outgoing_decoder.decode(request.body)
        if isinstance(command, WorkerSubscribe):
            return await self._subscribe(backend, command)
        if isinstance(command, WorkerUnsubscribe):
            scope = self._subscriptions.get(command.subscription)
            if scope is not None:
                scope[1].cancel()
            return None
        if isinstance(command, WorkerCommand):
            handler = self.handlers.handler(command)
            if handler is None:
                raise ControlError(ErrorCode.UNKNOWN_COMMAND, f"a worker does not serve {request.command!r}")
            return await handler(command)
        return await REGISTRY.run(backend, command)

    async def _subscribe(self, backend: LocalBackend[Any], command: WorkerSubscribe) -> None:
        if len(self._subscriptions) >= MAX_WORKER_SUBSCRIPTIONS:
            raise ControlError(ErrorCode.BUSY, f"at most {MAX_WORKER_SUBSCRIPTIONS} subscriptions per worker")
        assert self._nursery is not None
        await self._nursery.start(self._pump, backend, command.subscription, command.station_id, command.source)

    async def _pump(self, backend: LocalBackend[Any], subscription: int, station_id: str | None, source: str,
                    *, task_status: trio.TaskStatus[None]) -> None:
        with trio.CancelScope() as scope:
            self._subscriptions[subscription] = (station_id, scope)
            try:
                async with backend.subscribe(station_id, source=source) as events:
                    task_status.started()
                    async for event in _events(events):
                        await self.wire.send(ControlPush(subscription, encode(event)))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            finally:
                self._subscriptions.pop(subscription, None)
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self.wire.send(ControlPush(subscription, ended=True))


async def _events(stream: EventStream) -> AsyncIterator[ControlEvent]:
    async for event in stream:
        yield event


# ================================================================ supervisor side


class _Pending:
    __slots__ = ("done", "reply")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.reply: ControlReply | None = None


class _Subscription:
    """One subscription of a control client, fed by one or more workers (one per CSMS process)."""

    def __init__(self, parts: int) -> None:
        self.send, self.receive = trio.open_memory_channel[ControlEvent](EVENT_BUFFER)
        self.parts = parts
        self.dropped = 0

    def push(self, event: ControlEvent) -> None:
        try:
            self.send.send_nowait(event)
        except trio.WouldBlock:
            self.dropped += 1
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    def end_part(self) -> None:
        self.parts -= 1
        if self.parts <= 0:
            self.send.close()


class _ChannelEvents:
    """The EventStream of a subscription: ControlEvents until every part ended."""

    def __init__(self, receive: trio.MemoryReceiveChannel[ControlEvent]) -> None:
        self._receive = receive

    def __aiter__(self) -> _ChannelEvents:
        return self

    async def __anext__(self) -> ControlEvent:
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise StopAsyncIteration from None


class WorkerLink:
    """The supervisor's end of one worker's control traffic.

    Run :meth:`run` (it writes the requests) while the worker is connected, hand
    every :class:`ControlReply` / :class:`ControlPush` the worker sends to
    :meth:`deliver`, and :meth:`close` it when the connection ends.
    """

    def __init__(self, name: str, wire: WireStream) -> None:
        self.name = name
        self.wire = wire
        self.closed: str | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._outbox, self._outbox_receive = trio.open_memory_channel[ControlRequest](OUTBOX)
        self._subscriptions: dict[int, _Subscription] = {}
        self._orphans: set[int] = set()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def run(self) -> None:
        """Write queued requests to the worker until closed."""
        async with self._outbox_receive:
            async for request in self._outbox_receive:
                try:
                    await self.wire.send(request)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self.close("its connection broke")
                    return

    async def forward(self, command: Outgoing, *, timeout: float = REQUEST_TIMEOUT) -> bytes:
        """Run ``command`` in the worker (a control command through its registry); return
        its JSON-encoded result. Raises as :meth:`request`."""
        name = str(type(command).__struct_config__.tag)
        return await self.request(name, body=encode(command), timeout=timeout)

    async def request(self, command: str, fields: dict[str, Any] | None = None, *, body: bytes = b"",
                      timeout: float = REQUEST_TIMEOUT) -> bytes:
        """Send the worker the request ``command`` (``body``: the command's JSON; ``fields``:
        what a worker does not read, kept for the wire's compatibility) and return the
        JSON-encoded result of its answer.

        Raises:
            ControlError: the worker's error; ``busy`` when too many requests are in
                flight or no answer came within ``timeout``; ``internal_error`` when the
                worker went away.
        """
        if self.closed is not None:
            raise ControlError(ErrorCode.INTERNAL_ERROR, f"{self.name} is gone: {self.closed}")
        if len(self._pending) >= MAX_PENDING:
            raise ControlError(ErrorCode.BUSY, f"{self.name} has {MAX_PENDING} commands in flight; try again")
        rid = next(self._ids)
        pending = self._pending[rid] = _Pending()
        try:
            try:
                self._outbox.send_nowait(ControlRequest(rid, command, fields or {}, body))
            except trio.WouldBlock:
                raise ControlError(ErrorCode.BUSY, f"{self.name} is not keeping up; try again") from None
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                raise ControlError(ErrorCode.INTERNAL_ERROR, f"{self.name} is gone") from None
            with trio.move_on_after(timeout):
                await pending.done.wait()
        finally:
            self._pending.pop(rid, None)
        reply = pending.reply
        if reply is None:
            if self.closed is not None:
                raise ControlError(ErrorCode.INTERNAL_ERROR, f"{self.name} is gone: {self.closed}")
            raise ControlError(ErrorCode.BUSY, f"{self.name} did not answer {command} within {timeout:g} s")
        if reply.code:
            raise ControlError(reply.code, reply.message, dict(reply.details))
        return reply.result

    def post(self, command: Outgoing) -> None:
        """Send ``command`` without waiting for (or reading) its answer; dropped if the outbox is full."""
        name = str(type(command).__struct_config__.tag)
        with suppress(trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            self._outbox.send_nowait(ControlRequest(0, name, body=encode(command)))

    def add_subscription(self, number: int, subscription: _Subscription) -> None:
        self._subscriptions[number] = subscription

    def drop_subscription(self, number: int) -> None:
        """Stop routing ``number``'s events and tell the worker to end it."""
        if self._subscriptions.pop(number, None) is not None and self.closed is None:
            self._orphans.add(number)
            self.post(WorkerUnsubscribe(subscription=number))

    def deliver(self, message: ControlReply | ControlPush) -> None:
        """Route a message from the worker (never blocks)."""
        if isinstance(message, ControlReply):
            pending = self._pending.get(message.id)
            if pending is not None:
                pending.reply = message
                pending.done.set()
            return
        number = message.subscription
        subscription = self._subscriptions.get(number)
        if subscription is None:
            if message.ended:
                self._orphans.discard(number)
            elif number not in self._orphans and len(self._orphans) < 10_000:
                self._orphans.add(number)  # an event of a subscription nobody reads: end it
                self.post(WorkerUnsubscribe(subscription=number))
            return
        if message.ended:
            del self._subscriptions[number]
            subscription.end_part()
            return
        try:
            event = _event_decoder.decode(message.event)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return
        subscription.push(event)

    def close(self, reason: str) -> None:
        """The worker is gone: fail its requests and end its subscriptions."""
        if self.closed is not None:
            return
        self.closed = reason
        for pending in self._pending.values():
            pending.done.set()
        for subscription in self._subscriptions.values():
            subscription.end_part()
        self._subscriptions.clear()
        self._outbox.close()


def _resolve_profile_path(name: str, base: Path) -> Path | None:
    from .fleetfile import shipped_profiles_dir

    candidates = [Path(name), base / name, shipped_profiles_dir() / name]
    if not name.endswith(".toml"):
        candidates += [Path(f"{name}.toml"), base / f"{name}.toml", shipped_profiles_dir() / f"{name}.toml"]
    return next((c for c in candidates if c.is_file()), None)


def _profile_tokens(profile: StationProfile) -> dict[str, str]:
    tokens = {spec.id_token: "Invalid" for spec in profile.sessions.invalid_id_tokens}
    tokens.update({spec.id_token: "Accepted" for spec in profile.sessions.id_tokens})
    return tokens


class FleetBackend:
    """The :class:`~fleet.control.backend.ControlBackend` of ``fleet run``'s supervisor.

    The supervisor fills :attr:`station_links` / :attr:`csms_links` as workers
    connect, keeps :attr:`status` current (``refresh`` recomputes it from the
    workers' latest reports) and runs :meth:`run` in its nursery.

    Args:
        plan: the fleet plan (for station ownership and profiles).
        shard: the shard this run executes.
        workers: station worker processes.
        csms_workers: built-in CSMS processes (0: an external CSMS).
        status: the supervisor's :class:`FleetStatus` (``total`` is kept up to date
            as stations are added and removed).
        refresh: recomputes and returns ``status``.
    """

    def __init__(
        self,
        plan: FleetPlan,
        *,
        shard: tuple[int, int],
        workers: int,
        csms_workers: int,
        status: FleetStatus,
        refresh: Callable[[], FleetStatus],
    ) -> None:
        self.plan = plan
        self.shard = shard
        self.station_links: list[WorkerLink | None] = [None] * workers
        self.csms_links: list[WorkerLink | None] = [None] * csms_workers
        self.status = status
        self.refresh = refresh
        self._owner: dict[str, int] | None = None
        self._owner_lock = trio.Lock()
        self._rates = RateTracker()
        self._rows_cache: list[list[StationRow]] = [[] for _ in range(workers)]
        self._actions: tuple[list[ActionLatency], dict[str, int]] = ([], {})
        self._merged = MetricsSnapshot()
        self._metrics_at = -math.inf
        self._metrics_running = False
        self._nursery: trio.Nursery | None = None
        #: every CSMS restart (scheduled or by command): when, how long, and how long the
        #: fleet took to be back (``fleet_back_after_s``: ``None`` until it is)
        self.restarts: list[dict[str, Any]] = []
        self._recoveries: list[tuple[dict[str, Any], RecoveryClock]] = []
        self._restarting_until = -math.inf

    @property
    def builtin(self) -> bool:
        """Whether the fleet runs against the built-in CSMS."""
        return bool(self.csms_links)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host background work (metrics pulls) until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    # ------------------------------------------------------------ plumbing

    @staticmethod
    def _usable(link: WorkerLink | None, what: str) -> WorkerLink:
        if link is None:
            raise ControlError(ErrorCode.BUSY, f"{what} has not started yet; try again")
        if link.closed is not None:
            raise ControlError(ErrorCode.INTERNAL_ERROR, f"{link.name} is gone: {link.closed}")
        return link

    async def _owners(self) -> dict[str, int]:
        """Station id -> index of the worker that runs it (built on first use, yielding as it goes)."""
        if self._owner is None:
            async with self._owner_lock:
                if self._owner is None:
                    owner: dict[str, int] = {}
                    workers = len(self.station_links)
                    for position, spec in enumerate(self.plan.stations(shard=self.shard)):
                        owner[spec.station_id] = position % workers
                        if position % 20_000 == 19_999:
                            await trio.sleep(0)
                    self._owner = owner
        return self._owner

    async def _station_link(self, station_id: str) -> WorkerLink:
        index = (await self._owners()).get(station_id)
        if index is None:
            raise ControlError(ErrorCode.NOT_FOUND, f"no station {station_id!r} in this fleet")
        return self._usable(self.station_links[index], f"station worker {index}")

    async def _to_owner(self, station_id: str, command: Command, deadline: float = REQUEST_TIMEOUT) -> Any:
        """Run ``command`` in the worker that owns ``station_id``; its decoded result."""
        link = await self._station_link(station_id)
        raw = await link.forward(command, timeout=deadline)
        return msgspec.json.decode(raw, type=RESULT_TYPES[str(type(command).__struct_config__.tag)])

    @staticmethod
    async def _gather(calls: Sequence[tuple[WorkerLink, Outgoing]], timeout: float) -> list[Any]:
        """Run requests on several workers at once: each result is its bytes or its ControlError."""
        results: list[Any] = [None] * len(calls)

        async def one(i: int, link: WorkerLink, outgoing: Outgoing) -> None:
            try:
                results[i] = await link.forward(outgoing, timeout=timeout)
            except ControlError as exc:
                results[i] = exc

        async with trio.open_nursery() as nursery:
            for i, (link, outgoing) in enumerate(calls):
                nursery.start_soon(one, i, link, outgoing)
        return results

    def _csms(self) -> list[WorkerLink]:
        if not self.builtin:
            raise ControlError(ErrorCode.UNSUPPORTED,
                               "this fleet runs against an external CSMS; CSMS commands need the built-in one")
        return [self._usable(link, f"CSMS process {i}") for i, link in enumerate(self.csms_links)]

    async def _csms_all(self, outgoing: Outgoing, result_type: Any, timeout: float = REQUEST_TIMEOUT) -> list[Any]:
        """``outgoing`` on every CSMS process: the decoded results (raises the first error if all failed)."""
        links = self._csms()
        results = await self._gather([(link, outgoing) for link in links], timeout)
        decoded = [msgspec.json.decode(r, type=result_type) for r in results if isinstance(r, bytes)]
        if not decoded:
            raise next(r for r in results if isinstance(r, ControlError))
        return decoded

    async def _csms_each(self, outgoing: Outgoing, result_type: Any) -> Any:
        """``outgoing`` on every CSMS process, all of which must succeed; the first result."""
        links = self._csms()
        results = await self._gather([(link, outgoing) for link in links], REQUEST_TIMEOUT)
        for result in results:
            if isinstance(result, ControlError):
                raise result
        return msgspec.json.decode(results[0], type=result_type)

    # ------------------------------------------------------------ the registry's routes

    async def on_station(
        self, command: StationCommand, handler: Callable[[StationHandle, Any], Awaitable[Any]]
    ) -> Any:
        """The station's worker runs ``command`` (through its registry, to the same ``handler``)."""
        deadline = REQUEST_TIMEOUT
        if isinstance(command, m.Send):
            deadline = (command.timeout or DEFAULT_SEND_TIMEOUT) + SEND_MARGIN
        return await self._to_owner(command.station_id, cast(Command, command), deadline)

    async def on_csms(self, command: Any, route: OnCsms[Any]) -> Any:
        """Every built-in CSMS process runs ``command``: a read's answers are joined by
        ``route.combine``; a write must succeed in each; a command by connection goes to the
        process holding the station's connection."""
        result_type = RESULT_TYPES[str(type(command).__struct_config__.tag)]
        if route.by_connection:
            return await self._on_connection_holder(command, result_type)
        if route.combine is not None:
            return route.combine(await self._csms_all(command, result_type))
        return await self._csms_each(command, result_type)

    async def _on_connection_holder(self, command: m.CsmsSend, result_type: Any) -> Any:
        links = self._csms()
        if len(links) > 1:  # the station's connection lives in one of them
            ask = HasStation(station_id=command.station_id)
            found = await self._gather([(link, ask) for link in links], REQUEST_TIMEOUT)
            holders = [link for link, r in zip(links, found, strict=True) if r == b"true"]
            if not holders:
                raise ControlError(ErrorCode.NOT_CONNECTED, f"station {command.station_id!r} is not connected")
            links = holders
        raw = await links[0].forward(command, timeout=(command.timeout or DEFAULT_SEND_TIMEOUT) + SEND_MARGIN)
        return msgspec.json.decode(raw, type=result_type)

    async def steady_window(self, open: bool) -> None:
        """Tell every built-in CSMS process the ramp has settled (``open``: its loop
        monitor's steady-state window opens; see :meth:`fleet.run.execution.LoopMonitor.start_steady`)
        or the fleet is stopping (the window closes)."""
        try:
            await self._csms_each(Steady(open=open), bool)
        except ControlError as error:
            logger.debug("the CSMS's steady-state window (open=%s): %s", open, error)

    # ------------------------------------------------------------ reading

    async def info(self) -> ServerInfo:
        commands = REGISTRY.names(stations=True, csms=self.builtin)
        return ServerInfo("fleet", __version__, commands, self.status.total, self.builtin)

    def _want_metrics(self) -> None:
        if self._metrics_running or self._nursery is None:
            return
        if trio.current_time() - self._metrics_at < METRICS_INTERVAL:
            return
        self._metrics_running = True
        self._nursery.start_soon(self._pull_metrics)

    async def _pull_metrics(self) -> None:
        try:
            links = [link for link in self.station_links if link is not None and link.closed is None]
            results = await self._gather([(link, ExportMetrics()) for link in links], REQUEST_TIMEOUT)
            snapshots = [msgspec.json.decode(r, type=MetricsSnapshot) for r in results if isinstance(r, bytes)]
            if not snapshots:
                return  # keep the previous figures
            merged = snapshots[0]
            for snapshot in snapshots[1:]:
                merged = merged.merge(snapshot)
            now = time.monotonic()
            actions: list[ActionLatency] = []
            errors: dict[str, int] = {}
            for stat in merged.action_stats(mean=False):  # the live view shows no mean
                failed = sum(stat.errors.values())
                for code, n in stat.errors.items():
                    errors[code] = errors.get(code, 0) + n
                rate = round(self._rates.rate(f"{stat.direction}:{stat.action}", stat.count, now), 2)
                actions.append(
                    ActionLatency(stat.action, stat.direction, stat.count, rate, stat.p50_ms, stat.p99_ms, failed)
                )
            self._actions = (actions, errors)
            self._merged = merged
        finally:
            self._metrics_at = trio.current_time()
            self._metrics_running = False

    def merged_metrics(self) -> MetricsSnapshot:
        """The workers' histograms merged (at most about a second old); asks for fresh ones."""
        self._want_metrics()
        return self._merged

    async def _rows(self, limit: int | None) -> list[StationRow]:
        calls = []
        indexes = []
        for i, link in enumerate(self.station_links):
            if link is not None and link.closed is None:
                calls.append((link, Rows(limit=limit)))
                indexes.append(i)
        results = await self._gather(calls, ROWS_TIMEOUT)
        for i, result in zip(indexes, results, strict=True):
            if isinstance(result, bytes):
                with suppress(msgspec.DecodeError, msgspec.ValidationError):
                    self._rows_cache[i] = _rows_decoder.decode(result)
        return list(heapq.merge(*self._rows_cache, key=attrgetter("id")))

    async def snapshot(self, *, rows: bool = True, offset: int = 0, limit: int | None = None) -> FleetSnapshot:
        self._want_metrics()
        page: list[StationRow] | None = None
        if rows:
            merged = await self._rows(None if limit is None else offset + limit)
            page = merged[offset:] if limit is None else merged[offset : offset + limit]
        status = self.refresh()  # after the rows (busy workers take up to ROWS_TIMEOUT): the latest figures
        actions, errors = self._actions
        return FleetSnapshot(
            at=time.time(),
            kind="fleet",
            phase=status.phase,
            total=status.total,
            states=dict(status.states),
            calls_per_s=status.calls_per_s,
            failed_per_s=status.failed_per_s,
            figures_age_s=status.figures_age_s,
            completed=status.completed,
            failed=status.failed,
            actions=list(actions),
            errors=dict(errors),
            reconnects=int(status.counters.get("reconnects", 0)),
            counters=dict(status.counters),
            csms_connected=status.csms_connected,
            rows=page,
            execution={role: dict(figures) for role, figures in status.execution.items()},
        )

    async def station(self, station_id: str) -> StationDetail:
        result: StationDetail = await self._to_owner(station_id, m.Station(station_id=station_id))
        return result

    @asynccontextmanager
    async def subscribe(self, station_id: str | None, *, source: str = "auto") -> AsyncIterator[EventStream]:
        if station_id is None:
            raise ControlError(ErrorCode.BAD_REQUEST, "subscribe to stations one at a time: give station_id")
        if source == "csms":
            links = self._csms()
        else:
            links = [await self._station_link(station_id)]
            source = "station"
        number = next(_subscription_numbers)
        subscription = _Subscription(len(links))
        started: list[WorkerLink] = []
        try:
            for link in links:
                link.add_subscription(number, subscription)
                started.append(link)
                await link.forward(WorkerSubscribe(subscription=number, station_id=station_id, source=source))
            yield _ChannelEvents(subscription.receive)
        finally:
            for link in started:
                link.drop_subscription(number)
            subscription.send.close()

    # ------------------------------------------------------------ station commands

    async def connect(
        self,
        station_id: str,
        *,
        url: str | None = None,
        password: str | None = None,
        new_station_id: str | None = None,
    ) -> Ack:
        owners = await self._owners()
        renaming = new_station_id is not None and new_station_id != station_id
        if renaming and new_station_id in owners:
            raise ControlError(ErrorCode.CONFLICT, f"station id {new_station_id!r} is taken")
        command = m.Connect(station_id=station_id, url=url, password=password, new_station_id=new_station_id)
        result: Ack = await self._to_owner(station_id, command)
        if renaming and new_station_id is not None and station_id in owners:
            owners[new_station_id] = owners.pop(station_id)
        return result

    def _profile(self, profile: str) -> tuple[StationProfile, bool]:
        """The profile named ``profile`` (a group's profile of the plan, or a file / shipped name), and
        whether the plan already had it."""
        from ..actors.station import load_profile
        from ..profiles import ProfileError

        stem = profile.rsplit("/", 1)[-1].removesuffix(".toml")
        for group, loaded in zip(self.plan.groups, self.plan.profiles, strict=False):
            if profile in (group.profile, loaded.name) or stem == Path(group.profile).stem:
                return loaded, True
        path = _resolve_profile_path(profile, Path(self.plan.source).parent)
        if path is None:
            names = sorted({g.profile for g in self.plan.groups})
            raise ControlError(ErrorCode.BAD_REQUEST,
                               f"no profile {profile!r}: give a profile of this fleet ({', '.join(names)}), "
                               "a profile file or a shipped profile name")
        try:
            return load_profile(path), False
        except ProfileError as exc:
            raise ControlError(ErrorCode.BAD_REQUEST, f"cannot add stations from {profile!r}: {exc}") from None

    async def add_stations(
        self, profile: str, count: int = 1, *, prefix: str | None = None, connect: bool = True
    ) -> AddStationsResult:
        from ..profiles import station_password

        if self.status.phase in ("stopping", "done"):
            raise ControlError(ErrorCode.CONFLICT, f"the run is {self.status.phase}")
        station_profile, known = self._profile(profile)
        owners = await self._owners()
        links = [(i, link) for i, link in enumerate(self.station_links) if link is not None and link.closed is None]
        if not links:
            raise ControlError(ErrorCode.BUSY, "no station worker is running yet; try again")
        stem = prefix if prefix is not None else profile.rsplit("/", 1)[-1].removesuffix(".toml") + "-"
        ids: list[str] = []
        n = 1
        while len(ids) < count:
            candidate = f"{stem}{n:05d}"
            if candidate not in owners:
                ids.append(candidate)
            n += 1
        load = dict.fromkeys((i for i, _ in links), 0)
        for index in owners.values():
            if index in load:
                load[index] += 1
        index, link = min(links, key=lambda item: (load[item[0]], item[1].in_flight, item[0]))
        for sid in ids:  # reserved while they start
            owners[sid] = index
        try:
            if self.builtin:
                passwords = {sid: pw for sid in ids if (pw := station_password(station_profile, sid)) is not None}
                if passwords:
                    await self._csms_each(SetPasswords(passwords=passwords), int)
                if not known and _profile_tokens(station_profile):
                    tokens = _profile_tokens(station_profile)
                    await self._csms_each(MergeIdTokens(tokens=tokens), bool)
            spawn = Spawn(profile=msgspec.msgpack.encode(station_profile), station_ids=ids, connect=connect)
            raw = await link.forward(spawn, timeout=REQUEST_TIMEOUT + count / 100)
        except ControlError as exc:
            if exc.code != ErrorCode.BUSY:  # they did not start (busy: they may still)
                for sid in ids:
                    owners.pop(sid, None)
            raise
        result = msgspec.json.decode(raw, type=AddStationsResult)
        for sid in set(ids) - set(result.station_ids):
            owners.pop(sid, None)
        self.status.total += len(result.station_ids)
        return result

    async def remove_stations(self, station_ids: list[str]) -> RemoveStationsResult:
        owners = await self._owners()
        by_worker: dict[int, list[str]] = {}
        missing: list[str] = []
        for sid in dict.fromkeys(station_ids):
            index = owners.get(sid)
            if index is None:
                missing.append(sid)
            else:
                by_worker.setdefault(index, []).append(sid)
        calls: list[tuple[WorkerLink, Outgoing]] = []
        for index, ids in by_worker.items():
            link = self._usable(self.station_links[index], f"station worker {index}")
            calls.append((link, m.RemoveStations(station_ids=ids)))
        results = await self._gather(calls, REQUEST_TIMEOUT)
        removed: list[str] = []
        for result in results:
            if isinstance(result, ControlError):
                raise result
            part = msgspec.json.decode(result, type=RemoveStationsResult)
            removed += part.removed
            missing += part.missing
        for sid in removed:
            owners.pop(sid, None)
        self.status.total = max(0, self.status.total - len(removed))
        return RemoveStationsResult(removed, missing)

    # ------------------------------------------------------------ fault commands

    async def disconnect(
        self, station_ids: list[str] | None = None, *, share: float | None = None, seed: int | None = None
    ) -> FaultResult:
        ids, dropped = await self._station_fault("disconnect", station_ids, share, seed,
                                                 lambda part: m.Disconnect(station_ids=part))
        return FaultResult("disconnect", sorted(ids), dropped,
                           message=f"dropped {dropped} links of {len(ids)} stations (the others were not connected)")

    async def partition(
        self, duration: float, station_ids: list[str] | None = None, *, share: float | None = None,
        seed: int | None = None,
    ) -> FaultResult:
        ids, dropped = await self._station_fault("partition", station_ids, share, seed,
                                                 lambda part: m.Partition(duration=duration, station_ids=part))
        return FaultResult("partition", sorted(ids), dropped, until=time.time() + duration,
                           message=f"{len(ids)} stations cut off for {duration:g} s ({dropped} links dropped)")

    async def _station_fault(self, command: str, station_ids: list[str] | None, share: float | None,
                             seed: int | None, part_command: Callable[[list[str]], Command]) -> tuple[list[str], int]:
        """A fault the stations act out: pick them fleet-wide, have each owner act for its own
        (``part_command(ids)``: the command for the owner of ``ids``). The stations hit, and
        the links dropped."""
        owners = await self._owners()
        ids = fault_targets(command, owners, station_ids, share, self.plan.config.seed if seed is None else seed)
        by_worker: dict[int, list[str]] = {}
        for sid in ids:
            by_worker.setdefault(owners[sid], []).append(sid)
        calls: list[tuple[WorkerLink, Outgoing]] = [
            (self._usable(self.station_links[index], f"station worker {index}"), part_command(part))
            for index, part in by_worker.items()
        ]
        results = await self._gather(calls, REQUEST_TIMEOUT + len(ids) / 1000)
        dropped = 0
        for result in results:
            if isinstance(result, ControlError):
                raise result
            dropped += msgspec.json.decode(result, type=FaultResult).dropped
        return ids, dropped

    async def online(self) -> int | None:
        """Stations connected and accepted now, over every station worker (``None``: a
        worker did not answer, so the count would be wrong)."""
        links = [link for link in self.station_links if link is not None and link.closed is None]
        results = await self._gather([(link, Online()) for link in links], ROWS_TIMEOUT)
        if any(not isinstance(r, bytes) for r in results) or len(links) < len(self.station_links):
            return None
        return sum(int(msgspec.json.decode(r)) for r in results)

    async def restart_csms(self, downtime: float = 5.0, *, scheduled: bool = False) -> FaultResult:
        """Restart every built-in CSMS process (each keeps what it recorded) and time the
        fleet's return in the background (in :attr:`restarts`)."""
        links = self._csms()
        if trio.current_time() < self._restarting_until:
            raise ControlError(ErrorCode.CONFLICT, "the CSMS is restarting already; try again once it is back")
        self._restarting_until = math.inf
        try:
            before = await self.online()
            at = time.time()
            results = await self._gather([(link, m.RestartCsms(downtime=downtime)) for link in links],
                                         REQUEST_TIMEOUT + 10)
            back_at = trio.current_time() + downtime
        finally:
            self._restarting_until = trio.current_time() + downtime
        dropped = 0
        for result in results:
            if isinstance(result, bytes):
                dropped += msgspec.json.decode(result, type=FaultResult).dropped
        failed = [r for r in results if isinstance(r, ControlError)]
        record: dict[str, Any] = {
            "by": "schedule" if scheduled else "control", "at": at, "downtime_s": downtime,
            "connections_closed": dropped, "online_before": before, "fleet_back_after_s": None, "lowest_online": None,
        }
        if failed:
            record["errors"] = [f"{e.code}: {e.message}" for e in failed]
        self.restarts.append(record)
        if len(failed) == len(results):
            self._restarting_until = -math.inf
            raise failed[0]
        if before is not None and self._nursery is not None:
            self._nursery.start_soon(self._time_recovery, record, back_at, before)
        return FaultResult("restart_csms", dropped=dropped, until=at + downtime,
                           message=f"the CSMS is down ({dropped} connections closed; {before} stations were online); "
                                   f"it listens again in {downtime:g} s")

    async def _time_recovery(self, record: dict[str, Any], back_at: float, before: int) -> None:
        clock = RecoveryClock()
        clock.outage(back_at, before)
        self._recoveries.append((record, clock))
        while clock.recovery is None and self.status.phase not in ("stopping", "done"):
            online = await self.online()
            if online is not None:
                self._observe_recovery(record, clock, online)
            if clock.recovery is None:
                await trio.sleep(RECOVERY_POLL)

    @staticmethod
    def _observe_recovery(record: dict[str, Any], clock: RecoveryClock, online: int) -> None:
        clock.observe(trio.current_time(), online)
        record["lowest_online"] = clock.lowest
        if clock.recovery is not None:
            record["fleet_back_after_s"] = round(clock.recovery, 2)
            record["online_after"] = clock.expected

    async def settle_recoveries(self) -> None:
        """One last look for the restarts whose fleet is not back yet, before the run
        stops its stations (a fleet back between two polls still gets its figure)."""
        pending = [(record, clock) for record, clock in self._recoveries if clock.recovery is None]
        if pending and (online := await self.online()) is not None:
            for record, clock in pending:
                self._observe_recovery(record, clock, online)

    async def set_boot_status(self, status: BootStatus | None, station_ids: list[str] | None = None) -> FaultResult:
        self._csms()
        if station_ids is not None:
            fault_targets("set_boot_status", await self._owners(), station_ids, None, 0)  # every id is ours
        result: FaultResult = await self._csms_each(m.SetBootStatus(status=status, station_ids=station_ids), FaultResult)
        return result
