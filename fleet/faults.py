"""Fault injection: seeded, reproducible trouble for testing a CSMS (and fleet itself).

A ``[faults]`` table says what goes wrong, how often and for which share of the
stations. It goes in a station profile (for that profile's stations) or at the
top level of a fleet file (for every group; a profile's own values win, field by
field)::

    [faults]
    disconnect_rate = 6            # random link drops per station per (simulated) hour
    partition_share = 0.2          # 20 % of the fleet cut off...
    partition_at = 30              # ...30 s after the run started...
    partition_duration = 20        # ...for 20 s
    csms_restart_at = 60           # the built-in CSMS restarts (mass reconnect)
    csms_downtime = 5
    slow_share = 0.1               # 10 % of the stations answer the CSMS slowly...
    response_delay = [1, 5]        # ...after 1 to 5 s
    silent_share = 0.02            # 2 % never answer the CSMS's calls
    late_share = 0.05              # 5 % of the answers come after the CSMS's timeout...
    late_delay = 35                # ...35 s late
    malformed_rate = 20            # malformed frames per station per (simulated) hour...
    malformed_share = 0.1          # ...from 10 % of the stations
    malformed_classes = ["not_json", "schema_invalid", "duplicate_id"]
    boot_loop_share = 0.02         # 2 % reboot again and again
    boot_pending_share = 0.05      # the built-in CSMS answers Pending to 5 %...
    boot_rejected_share = 0.01     # ...and Rejected to 1 %
    clock_skew = [-300, 300]       # each station's clock is off by up to 5 minutes

Every choice is drawn from the station's seed (itself derived from the fleet seed
and the station id): which stations a share picks (:class:`StationFaults`), and
every random time and delay (:class:`FaultInjector`, on a random stream of its
own, so enabling a fault never changes the sessions a station generates). The
same seed gives the same faults.

Times: rates and the boot-loop interval count *simulated* time, like every other
station timer (a run at ``speed = 60`` plays an hour of disconnects in a minute);
run-level times (``partition_at``, ``csms_restart_at``, ...) and answer delays are
real seconds, like the run's ``duration`` and the CSMS's call timeout.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import inspect
import math
import random
import socket
import struct
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Final, Protocol

import msgspec
import trio

from .malformed import MALFORMED_CLASSES, Direction, MalformedClass, Probe, ProbeRun, make_probe, outcome_ok

if TYPE_CHECKING:
    from .net.connection import OcppConnection

__all__ = [
    "MALFORMED_CLASSES",
    "FaultInjector",
    "FaultSpec",
    "FaultyWebSocket",
    "MalformedClass",
    "RecoveryClock",
    "StationFaults",
    "abort_websocket",
    "boot_statuses",
    "csms_side_faults",
    "fault_spec",
    "merge_fault_records",
    "merge_faults",
    "parse_fault_options",
    "pick_share",
]

#: A number, or ``[min, max]`` drawn uniformly (as in profiles).
FaultRange = float | tuple[float, float]
_Share = Annotated[float, msgspec.Meta(ge=0, le=1)]
_NonNegative = Annotated[float, msgspec.Meta(ge=0)]



def _check_range(name: str, value: FaultRange, minimum: float | None = 0.0) -> None:
    low, high = value if isinstance(value, tuple) else (value, value)
    if low > high:
        raise ValueError(f"`{name}`: expected [min, max] with min <= max, got [{low}, {high}]")
    if minimum is not None and low < minimum:
        raise ValueError(f"`{name}`: expected values >= {minimum}, got {low}")


def _draw(rng: random.Random, value: FaultRange) -> float:
    if isinstance(value, tuple):
        low, high = value
        return low if low == high else rng.uniform(low, high)
    return float(value)


class FaultSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The ``[faults]`` table: which faults, how often, for which share of the stations.

    Everything defaults to "no fault": an empty table (or none) injects nothing.

    Attributes:
        disconnect_rate: random link drops per station per hour of simulated time: the
            TCP connection is reset with no websocket close (as when a cellular link
            drops), and the station reconnects with its back-off (``[retry_backoff]``).
        partition_share: share of the stations (0..1) cut off by a network partition:
            their connection drops at ``partition_at`` and every connection attempt fails
            until the partition ends; then they reconnect with their back-off.
        partition_at: when the partition begins, seconds (real) after the run started
            (fault times count from when fleet's processes are up, before the ramp begins).
        partition_duration: how long it lasts, seconds (real); 0: no partition.
        csms_restart_at: when the built-in CSMS restarts, seconds (real) after the run
            started: it stops listening and drops every connection, so every station
            reconnects with its back-off and jitter (a mass reconnect); the report gives
            the time until as many stations are online again as before. Its processes
            keep what they recorded (the listener goes down, not the state, as for a
            CSMS whose state lives in a database), so the audit stays whole. Not set: no
            restart. CSMS-side faults (this and the boot shares) need the built-in CSMS:
            ``fleet run --csms URL`` refuses them (restart a CSMS you run yourself).
        csms_downtime: seconds (real) the built-in CSMS stays down when it restarts.
        slow_share: share of the stations that answer the CSMS's calls slowly.
        response_delay: a slow station's delay per answer, seconds (real), ``[min, max]``
            drawn uniformly for each answer.
        silent_share: share of the stations that never answer the CSMS's calls (their
            websocket stays up, they keep sending their own messages).
        late_share: share of the answers (of every station) sent late, ``late_delay``
            seconds after the call: after the CSMS's call timeout, so the CSMS must drop them.
        late_delay: seconds (real) before a late answer; make it longer than the CSMS's
            call timeout (fleet's CSMS: 10 s by default).
        malformed_rate: malformed frames each chosen station sends the CSMS per hour of
            simulated time (0: none). Each is one of ``malformed_classes``, drawn at random;
            the CSMS's answers are recorded per class against the CALLERROR a conformant
            CSMS gives (see :mod:`fleet.malformed`).
        malformed_share: share of the stations that send malformed frames.
        malformed_classes: which classes: ``not_json``, ``wrong_message_type``,
            ``unknown_action``, ``schema_invalid``, ``oversize``, ``duplicate_id``,
            ``concurrent_calls``.
        oversize_bytes: size of an ``oversize`` frame, bytes (larger than the CSMS's
            frame limit; fleet's is 256 KiB).
        answer_timeout: seconds (real) to wait for the CSMS's answer to a malformed frame.
        boot_loop_share: share of the stations stuck in a boot loop: each reboots
            (BootNotification reason Watchdog) ``boot_loop_interval`` after every
            accepted boot, ending its transactions as a reboot does.
        boot_loop_interval: seconds (simulated) from an accepted boot to the next reboot,
            ``[min, max]``.
        boot_pending_share: share of the stations the built-in CSMS answers Pending at
            boot (they retry at the CSMS's boot retry interval).
        boot_rejected_share: share of the stations it answers Rejected.
        boot_refusal_duration: seconds (real) after the run started from which the
            built-in CSMS accepts those stations after all; 0: never (the whole run).
        clock_skew: seconds added to each chosen station's clock (every timestamp it
            sends), drawn once per station: a number, or ``[min, max]`` (may be negative).
        clock_skew_share: share of the stations with a skewed clock.
    """

    disconnect_rate: _NonNegative = 0.0
    partition_share: _Share = 0.0
    partition_at: _NonNegative = 0.0
    partition_duration: _NonNegative = 0.0
    csms_restart_at: _NonNegative | None = None
    csms_downtime: _NonNegative = 5.0
    slow_share: _Share = 0.0
    response_delay: FaultRange = (1.0, 5.0)
    silent_share: _Share = 0.0
    late_share: _Share = 0.0
    late_delay: _NonNegative = 35.0
    malformed_rate: _NonNegative = 0.0
    malformed_share: _Share = 1.0
    malformed_classes: list[MalformedClass] = msgspec.field(default_factory=lambda: list(MALFORMED_CLASSES))
    oversize_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 1024 * 1024
    answer_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    boot_loop_share: _Share = 0.0
    boot_loop_interval: FaultRange = (30.0, 120.0)
    boot_pending_share: _Share = 0.0
    boot_rejected_share: _Share = 0.0
    boot_refusal_duration: _NonNegative = 0.0
    clock_skew: FaultRange = 0.0
    clock_skew_share: _Share = 1.0

    def __post_init__(self) -> None:
        _check_range("response_delay", self.response_delay)
        _check_range("boot_loop_interval", self.boot_loop_interval)
        _check_range("clock_skew", self.clock_skew, minimum=None)
        if self.boot_pending_share + self.boot_rejected_share > 1.0:
            raise ValueError("`boot_pending_share` + `boot_rejected_share`: expected at most 1")

    @property
    def station_side(self) -> bool:
        """Whether any fault acts in the stations (everything but the CSMS-side ones)."""
        return bool(
            self.disconnect_rate > 0
            or (self.partition_share > 0 and self.partition_duration > 0)
            or self.slow_share > 0
            or self.silent_share > 0
            or self.late_share > 0
            or (self.malformed_rate > 0 and self.malformed_share > 0 and self.malformed_classes)
            or self.boot_loop_share > 0
            or (self.clock_skew != 0.0 and self.clock_skew != (0.0, 0.0) and self.clock_skew_share > 0)
        )

    @property
    def csms_side(self) -> bool:
        """Whether any fault needs the built-in CSMS (restart, Pending/Rejected boots)."""
        return self.csms_restart_at is not None or self.boot_pending_share > 0 or self.boot_rejected_share > 0

    @property
    def enabled(self) -> bool:
        """Whether the table injects anything at all."""
        return self.station_side or self.csms_side


_DEFAULTS: Final = FaultSpec()


def merge_faults(base: FaultSpec, override: FaultSpec) -> FaultSpec:
    """``base`` (e.g. the fleet file's table) with every field ``override`` (a profile's
    table) sets to something other than the default."""
    changes = {
        field: getattr(override, field)
        for field in override.__struct_fields__
        if getattr(override, field) != getattr(_DEFAULTS, field)
    }
    return msgspec.structs.replace(base, **changes) if changes else base


def fault_spec(values: Mapping[str, Any], base: FaultSpec | None = None) -> FaultSpec:
    """A :class:`FaultSpec` from ``base`` (default: none) with ``values`` set.

    Raises:
        ValueError: an unknown field or a bad value (the message names it).
    """
    fields = msgspec.structs.asdict(base) if base is not None else {}
    fields.update(values)
    try:
        return msgspec.convert(fields, FaultSpec, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"faults: {exc}") from None


def parse_fault_options(options: Iterable[str], base: FaultSpec | None = None) -> FaultSpec:
    """``--fault KEY=VALUE`` options on top of ``base``: ``disconnect_rate=6``,
    ``response_delay=1,5`` (a range), ``malformed_classes=not_json,oversize``.

    Raises:
        ValueError: not ``KEY=VALUE``, an unknown key or a bad value.
    """
    values: dict[str, Any] = {}
    for option in options:
        key, sep, text = option.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"--fault {option!r}: expected KEY=VALUE, e.g. disconnect_rate=6")
        if key not in FaultSpec.__struct_fields__:
            raise ValueError(f"--fault {option!r}: unknown fault {key!r}; known: {', '.join(FaultSpec.__struct_fields__)}")
        text = text.strip()
        if key == "malformed_classes":
            values[key] = [part.strip() for part in text.split(",") if part.strip()]
        elif "," in text:
            values[key] = [float(part) for part in text.split(",")]
        elif text.lower() in ("", "none", "off"):
            values[key] = None if key == "csms_restart_at" else 0
        else:
            values[key] = text
    return fault_spec(values, base)


# ------------------------------------------------------------- per station


def _stream(seed: int | None, name: str) -> random.Random:
    """An independent random stream for ``name``, derived from the station's seed."""
    if seed is None:
        return random.Random()
    digest = hashlib.blake2b(f"fleet-faults:{name}:{seed}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


class StationFaults(msgspec.Struct, frozen=True):
    """Which faults of a :class:`FaultSpec` befall one station (drawn from its seed).

    Attributes:
        partitioned: cut off by the partition.
        slow: answers the CSMS slowly.
        silent: never answers the CSMS.
        malformed: sends malformed frames.
        boot_loop: reboots again and again.
        boot_status: what the built-in CSMS answers its boots (``Pending``/``Rejected``),
            ``None``: the CSMS's usual answer.
        clock_skew: seconds its clock is off.
    """

    partitioned: bool = False
    slow: bool = False
    silent: bool = False
    malformed: bool = False
    boot_loop: bool = False
    boot_status: str | None = None
    clock_skew: float = 0.0

    @classmethod
    def draw(cls, spec: FaultSpec, seed: int | None) -> StationFaults:
        """The station's lot. Every draw is made whatever the shares, in a fixed order,
        so changing one share never changes which stations another share picks."""
        rng = _stream(seed, "lot")
        partitioned = rng.random() < spec.partition_share and spec.partition_duration > 0
        slow = rng.random() < spec.slow_share
        silent = rng.random() < spec.silent_share
        malformed = rng.random() < spec.malformed_share and spec.malformed_rate > 0 and bool(spec.malformed_classes)
        boot_loop = rng.random() < spec.boot_loop_share
        boot = rng.random()
        boot_status = None
        if boot < spec.boot_pending_share:
            boot_status = "Pending"
        elif boot < spec.boot_pending_share + spec.boot_rejected_share:
            boot_status = "Rejected"
        skewed = rng.random() < spec.clock_skew_share
        skew = _draw(rng, spec.clock_skew)
        return cls(partitioned, slow, silent, malformed, boot_loop, boot_status, skew if skewed else 0.0)


def boot_statuses(stations: Iterable[tuple[str, int | None, FaultSpec]]) -> dict[str, str]:
    """The boot answers the built-in CSMS gives against the usual one: station id ->
    ``Pending``/``Rejected`` for the stations (id, seed, faults) whose lot says so.

    Apply them with ``csms.set_boot_status(status, station_id)``; after
    ``boot_refusal_duration`` remove them with ``csms.set_boot_status(None, station_id)``.
    """
    statuses: dict[str, str] = {}
    for station_id, seed, spec in stations:
        if spec.boot_pending_share > 0 or spec.boot_rejected_share > 0:
            status = StationFaults.draw(spec, seed).boot_status
            if status is not None:
                statuses[station_id] = status
    return statuses


# ------------------------------------------------------------ the websocket


async def abort_websocket(websocket: Any) -> None:
    """Drop a websocket connection abruptly, as when a link dies: the TCP connection
    is reset (SO_LINGER 0) with no websocket close handshake. Either end may do it (a
    station's connection, or the CSMS's connection of a station); a :class:`FaultyWebSocket`
    is unwrapped. The peer sees a reset; this end's reader sees the connection closed."""
    if isinstance(websocket, FaultyWebSocket):
        websocket.aborted = True
        websocket = websocket.websocket
    stream = getattr(websocket, "stream", None)  # the websocket's byte stream
    transport = getattr(stream, "transport_stream", stream)  # under TLS: the TCP stream
    sock = getattr(transport, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # SO_LINGER 0: the peer gets a TCP reset
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if transport is not None:
        try:
            await transport.aclose()
            return
        except Exception:  # fall back to a websocket close
            pass
    with contextlib.suppress(Exception):
        await websocket.aclose(1001, "link dropped")


def pick_share(station_ids: Iterable[str], share: float, seed: int, salt: str = "") -> list[str]:
    """A seeded share of ``station_ids``: ``round(share * n)`` of them, sorted.

    Each station gets a key drawn from ``(seed, salt, station id)`` and the lowest keys
    are taken, so the same seed picks the same stations whatever their order, and a
    larger share picks a superset of a smaller one (``salt`` separates independent
    draws, e.g. ``"disconnect"`` from ``"partition"``).
    """
    ids = list(dict.fromkeys(station_ids))
    count = round(min(max(share, 0.0), 1.0) * len(ids))
    if count <= 0:
        return []

    def key(station_id: str) -> bytes:
        return hashlib.blake2b(f"fleet-pick:{salt}:{seed}:{station_id}".encode(), digest_size=8).digest()

    return sorted(sorted(ids, key=key)[:count])


def csms_side_faults(spec: FaultSpec) -> list[str]:
    """The CSMS-side faults ``spec`` sets (they need the built-in CSMS), by field name."""
    names = []
    if spec.csms_restart_at is not None:
        names.append("csms_restart_at")
    if spec.boot_pending_share > 0:
        names.append("boot_pending_share")
    if spec.boot_rejected_share > 0:
        names.append("boot_rejected_share")
    return names


class FaultyWebSocket:
    """A station's websocket with fault-injection powers (wraps a :class:`~fleet.net.websocket.WebSocket`).

    It is what the station's :class:`~fleet.net.connection.OcppConnection` reads and
    writes; besides passing messages through it can drop the link abruptly (TCP reset,
    no close handshake), send raw frames, and takes the CSMS's answers to those frames
    out of the stream before the session sees them.
    """

    __slots__ = ("_probe", "aborted", "closed", "lose_next", "websocket")

    def __init__(self, websocket: Any) -> None:
        self.websocket = websocket
        self.closed = False
        #: the link was dropped on purpose (fault injection, not the peer)
        self.aborted = False
        #: drop the link when the next message arrives (that message is lost in transit)
        self.lose_next = False
        self._probe: ProbeRun | None = None

    # what OcppConnection uses
    async def get_message(self) -> str | bytes:
        while True:
            try:
                message = await self.websocket.get_message()
            except BaseException:
                self.closed = True
                probe = self._probe
                if probe is not None:
                    probe.connection_closed()
                raise
            if self.lose_next:
                self.lose_next = False
                await self.abort()
                continue  # the next read reports the closed connection
            probe = self._probe
            if probe is not None and probe.offer(message):
                continue
            return message  # type: ignore[no-any-return]

    async def send_message(self, message: str | bytes) -> None:
        await self.websocket.send_message(message)

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        await self.websocket.aclose(code, reason)

    async def ping(self, payload: bytes | None = None) -> None:
        await self.websocket.ping(payload)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.websocket, name)

    # fault powers
    async def abort(self) -> None:
        """Drop the link: reset the TCP connection, no websocket close handshake."""
        self.aborted = True
        await abort_websocket(self.websocket)

    async def probe(self, probe: Probe, timeout: float) -> ProbeRun | None:
        """Send the probe's raw frames and wait (at most ``timeout``) for its answers;
        ``None`` if the connection was gone before the frames went out."""
        if self.closed or self.aborted:
            return None
        run = ProbeRun(probe)
        self._probe = run
        try:
            try:
                for frame in probe.frames:
                    await self.websocket.send_message(frame)
            except Exception:
                return None
            with trio.move_on_after(timeout):
                await run.done.wait()
        finally:
            self._probe = None
        run.finish(self.closed)
        return run


# ------------------------------------------------------------- the injector


async def _answer_later(response: Any, delay: float) -> Any:
    if inspect.isawaitable(response):
        response = await response
    await trio.sleep(delay)
    return response


async def _abort_after(injector: FaultInjector, websocket: FaultyWebSocket, delay: float) -> None:
    await trio.sleep(delay)
    if injector.active:
        await websocket.abort()


async def _never_answer() -> Any:
    await trio.sleep_forever()


_TIMER: Final = "fault"


class FaultTarget(Protocol):
    """What fault injection does to a station (:class:`~fleet.actors.station.Station`
    implements it): its timers, its connection, tasks of its own, a reboot, and the
    malformed traffic of its OCPP version."""

    @property
    def connection(self) -> OcppConnection | None: ...

    @property
    def malformed_direction(self) -> Direction:
        """The traffic the station sends a CSMS (its OCPP version's actions)."""
        ...

    def connected(self) -> bool: ...

    def set_timer(self, name: Any, delay: float, callback: Callable[[], None]) -> None: ...

    def sim_timer(self, name: Any, seconds: float, callback: Callable[[], None]) -> None: ...

    def cancel_timer(self, name: Any) -> None: ...

    def spawn(self, function: Callable[..., Any], *args: Any) -> None: ...

    def reboot(self, reason: str) -> None: ...


class FaultInjector:
    """Applies a :class:`FaultSpec` to one station (the station creates it and calls its hooks).

    Args:
        spec: the faults.
        seed: the station's seed (``None``: random).
        epoch: wall-clock time (``time.time()``) the run started, for the run-level
            schedule (partition); ``None``: when the station starts.
    """

    def __init__(self, spec: FaultSpec, seed: int | None, epoch: float | None = None) -> None:
        self.spec = spec
        self.lot = StationFaults.draw(spec, seed)
        self.rng = _stream(seed, "run")
        self.epoch = epoch
        self.active = False
        self._station: FaultTarget | None = None
        self._partition_until = -math.inf
        self._probing = False
        self._malformed: dict[str, dict[str, Any]] = {}
        self.counts: dict[str, int] = {
            "disconnects": 0, "partition_refusals": 0, "reboots": 0, "slow_answers": 0, "late_answers": 0,
            "unanswered": 0,
        }
        self.skew = datetime.timedelta(seconds=self.lot.clock_skew) if self.lot.clock_skew else None

    @property
    def station(self) -> FaultTarget:
        """The station it acts on (set by :meth:`start`)."""
        station = self._station
        if station is None:
            raise RuntimeError("the fault injector was not started")
        return station

    # ------------------------------------------------------------- lifecycle

    def start(self, station: FaultTarget) -> None:
        """The station runs: arm the timers."""
        self._station = station
        self.active = True
        spec = self.spec
        if spec.disconnect_rate > 0:
            self._arm_disconnect()
        if self.lot.partitioned:
            epoch = self.epoch if self.epoch is not None else time.time()
            delay = max(0.0, epoch + spec.partition_at - time.time())
            station.set_timer((_TIMER, "partition"), delay, self._partition)
        if self.lot.malformed:
            self._arm_malformed()

    def stop(self) -> None:
        """No more faults (the station winds down, or the run settles before its audit)."""
        self.active = False
        self._partition_until = -math.inf
        station = self._station
        if station is not None:
            for name in ("disconnect", "partition", "malformed", "reboot"):
                station.cancel_timer((_TIMER, name))
            conn = station.connection
            if conn is not None and isinstance(conn.websocket, FaultyWebSocket) and conn.websocket.lose_next:
                conn.websocket.lose_next = False  # the drop armed for the next message is off
                conn.close_reason = ""

    # ----------------------------------------------------------------- hooks

    def partitioned(self) -> bool:
        """Whether a connection attempt must fail now (counts the refusal)."""
        if self.active and trio.current_time() < self._partition_until:
            self.counts["partition_refusals"] += 1
            return True
        return False

    def wrap_websocket(self, websocket: Any) -> Any:
        """The station's websocket with the fault powers (a :class:`FaultyWebSocket`)."""
        return FaultyWebSocket(websocket)

    def handler_timeout(self, base: float) -> float:
        """The connection's handler timeout: long enough for the delays injected."""
        if self.lot.silent:
            return math.inf
        longest = base
        if self.lot.slow:
            delay = self.spec.response_delay
            longest = max(longest, (delay[1] if isinstance(delay, tuple) else delay) + base)
        if self.spec.late_share > 0:
            longest = max(longest, self.spec.late_delay + base)
        return longest

    def wrap_handler(self, handler: Any) -> Any:
        """``handler`` with the answer faults (slow, silent, late) of this station."""
        lot, spec = self.lot, self.spec
        if not (lot.slow or lot.silent or spec.late_share > 0):
            return handler

        def faulty(request: Any, context: Any) -> Any:
            if not self.active:
                return handler(request, context)
            if lot.silent:
                self.counts["unanswered"] += 1
                return _never_answer()
            delay = 0.0
            if lot.slow:
                delay = _draw(self.rng, spec.response_delay)
                self.counts["slow_answers"] += 1
            if spec.late_share > 0 and self.rng.random() < spec.late_share:
                delay = max(delay, spec.late_delay)
                self.counts["late_answers"] += 1
            response = handler(request, context)
            if delay <= 0:
                return response
            return _answer_later(response, delay)

        return faulty

    def accepted(self) -> None:
        """The CSMS accepted a boot: a boot-looping station schedules its next reboot."""
        if self.active and self.lot.boot_loop:
            self.station.sim_timer((_TIMER, "reboot"), _draw(self.rng, self.spec.boot_loop_interval), self._reboot)

    def now(self, utc: datetime.datetime) -> datetime.datetime:
        """The station's (skewed) clock reading for the true time ``utc``."""
        return utc + self.skew if self.skew is not None else utc

    def records(self) -> dict[str, Any]:
        """What was injected and how the CSMS answered (see :func:`merge_fault_records`)."""
        lot = self.lot
        return {
            **self.counts,
            "partitioned": int(lot.partitioned),
            "slow": int(lot.slow),
            "silent": int(lot.silent),
            "boot_loop": int(lot.boot_loop),
            "clock_skew_s": lot.clock_skew,
            "malformed": {k: {n: dict(x) if isinstance(x, dict) else x for n, x in v.items()}
                          for k, v in self._malformed.items()},
        }

    # ---------------------------------------------------------------- faults

    def _arm_disconnect(self) -> None:
        delay = self.rng.expovariate(self.spec.disconnect_rate / 3600.0)
        self.station.sim_timer((_TIMER, "disconnect"), delay, self._disconnect)

    def _disconnect(self) -> None:
        if not self.active:
            return
        # Half the drops lose the next message in transit (often the answer to a
        # TransactionEvent, which the station must then send again); the others
        # strike within 0.1 s, whatever is in flight.
        if self._drop("random disconnect (fault injection)", lose_next=self.rng.random() < 0.5,
                      delay=self.rng.uniform(0.0, 0.1)):
            self.counts["disconnects"] += 1
        self._arm_disconnect()

    def _partition(self) -> None:
        if not self.active:
            return
        self._partition_until = trio.current_time() + self.spec.partition_duration
        self._drop("network partition (fault injection)")

    def _reboot(self) -> None:
        if self.active and self.station.connected():
            self.counts["reboots"] += 1
            self.station.reboot("Watchdog")

    def _drop(self, why: str, *, lose_next: bool = False, delay: float = 0.0) -> bool:
        conn = self.station.connection
        if conn is None or conn.closed:
            return False
        websocket = conn.websocket
        if not isinstance(websocket, FaultyWebSocket) or websocket.aborted:
            return False
        conn.close_reason = why
        if lose_next:
            websocket.lose_next = True
        else:
            self.station.spawn(_abort_after, self, websocket, delay)
        return True

    def _arm_malformed(self) -> None:
        delay = self.rng.expovariate(self.spec.malformed_rate / 3600.0)
        self.station.sim_timer((_TIMER, "malformed"), delay, self._malformed_due)

    def _malformed_due(self) -> None:
        if not self.active:
            return
        self._arm_malformed()
        conn = self.station.connection
        if self._probing or conn is None or conn.closed or not isinstance(conn.websocket, FaultyWebSocket) \
                or conn.websocket.closed or conn.websocket.aborted:
            return
        klass = self.rng.choice(self.spec.malformed_classes)
        probe = make_probe(klass, self.rng, self.station.malformed_direction, oversize_bytes=self.spec.oversize_bytes)
        self._probing = True
        self.station.spawn(self._send_probe, conn.websocket, probe)

    async def _send_probe(self, websocket: FaultyWebSocket, probe: Probe) -> None:
        try:
            run = await websocket.probe(probe, self.spec.answer_timeout)
            if run is not None and not (run.closed and websocket.aborted):  # else not the CSMS's doing
                record_probe(self._malformed, run)
        finally:
            self._probing = False


# ----------------------------------------------------------------- records


def record_probe(table: dict[str, dict[str, Any]], run: ProbeRun) -> None:
    """Add a finished probe's outcome to a per-class table: ``tried``, ``matched`` (answered
    as a conformant peer must), ``answers``, ``unanswered``, ``closed`` (the connection
    ended), ``outcomes`` (each answer, by CALLERROR code, ``CALLRESULT``, ``closed`` or
    ``no answer``) and, for the answers that were wrong, ``mismatches``: ``"expected ->
    got"`` with a count."""
    entry = table.get(run.probe.klass)
    if entry is None:
        entry = table[run.probe.klass] = {
            "tried": 0, "matched": 0, "answers": 0, "unanswered": 0, "closed": 0, "outcomes": {},
        }
    entry["tried"] += 1
    entry["matched"] += int(run.matched)
    entry["closed"] += int(run.closed)
    outcomes = entry["outcomes"]
    for outcome in run.outcomes:
        if outcome == "no answer":
            entry["unanswered"] += 1
        elif outcome != "closed":
            entry["answers"] += 1
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if not run.matched:
        wrong = entry.setdefault("mismatches", {})
        keys = [f"{'|'.join(sorted(expect.accept))} -> {outcome}"
                for outcome, expect in zip(run.outcomes, run.probe.expect, strict=True)
                if not outcome_ok(outcome, expect.accept)]
        if not keys:  # every answer right, but the connection had to stay up
            keys = ["connection up -> closed"]
        for key in keys:
            if key in wrong or len(wrong) < 32:
                wrong[key] = wrong.get(key, 0) + 1


def merge_fault_records(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum fault records into one: those of single stations (:meth:`FaultInjector.records`)
    or sums made before (a worker's, for the supervisor). Counts are added, ``stations``
    counted, the clock skew given as ``[min, max]``, the malformed traffic per class with
    its outcomes and mismatches."""
    total: dict[str, Any] = {"stations": 0}
    malformed: dict[str, dict[str, Any]] = {}
    low, high = math.inf, -math.inf
    for record in records:
        total["stations"] += int(record.get("stations", 1))
        for key, value in record.items():
            if key == "stations":
                continue
            if key == "malformed":
                for klass, entry in value.items():
                    target = malformed.setdefault(
                        klass, {"tried": 0, "matched": 0, "answers": 0, "unanswered": 0, "closed": 0, "outcomes": {}}
                    )
                    for name, count in entry.items():
                        if isinstance(count, dict):  # outcomes, mismatches
                            into = target.setdefault(name, {})
                            for outcome, n in count.items():
                                into[outcome] = into.get(outcome, 0) + n
                        else:
                            target[name] = target.get(name, 0) + count
            elif key == "clock_skew_s":
                for skew in value if isinstance(value, (list, tuple)) else (value,):
                    low, high = min(low, skew), max(high, skew)
            elif isinstance(value, (int, float)):
                total[key] = total.get(key, 0) + value
    if low <= high:
        total["clock_skew_s"] = [low, high]
    total["malformed"] = {k: malformed[k] for k in MALFORMED_CLASSES if k in malformed}
    return total


# ---------------------------------------------------------------- recovery


class RecoveryClock:
    """How long the fleet takes to be back after an outage (a CSMS restart, a partition).

    Feed it the number of stations online (connected and accepted) now and then;
    :meth:`outage` marks the moment the CSMS is back (or the partition ends) with the
    number that were online before. :attr:`recovery` is then the seconds until as
    many were online again (``None`` until they are)::

        clock.outage(back_at, online_before)
        ...
        clock.observe(now, online_now)
        report["fleet_back_after_s"] = clock.recovery
    """

    def __init__(self) -> None:
        self.back_at: float | None = None
        self.expected = 0
        self.recovery: float | None = None
        self.lowest: int | None = None

    def outage(self, back_at: float, expected: int) -> None:
        self.back_at = back_at
        self.expected = expected
        self.recovery = None
        self.lowest = None

    def observe(self, now: float, online: int) -> None:
        if self.back_at is None or self.recovery is not None:
            return
        self.lowest = online if self.lowest is None else min(self.lowest, online)
        if now >= self.back_at and online >= self.expected:
            self.recovery = max(0.0, now - self.back_at)
