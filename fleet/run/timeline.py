"""The run's timeline: what happened when, in intervals of a few seconds.

Every process of a run (station workers, CSMS workers, the supervisor) keeps a
:class:`TimelineRecorder`. Per interval it counts the answered calls per action and
direction with their round trips, the failed calls by error code, fleet's own CPU and
event-loop lag per role, and (station workers) the stations by state and the connects
and disconnects. Intervals are aligned on the wall clock (an interval starts at a
multiple of its length in seconds since the epoch), so the timelines of workers and of
shards on other machines merge point by point (:meth:`Timeline.merge`).

Interval length: :data:`INTERVAL` (5 s) by default. A one-hour run keeps 720 points; a
point holds one short string per action and role (about 1.2 kB a point in the report of a
200-station run), so the hour adds about a megabyte to the report, and a 100,000-station
run costs the same as a small one (the recorder's work per interval does not grow with
the stations, and per call it is one list update).

Round trips go into a :class:`latency sketch <encode_sketch>`: counts in logarithmic
slots, 16 per power of two (a slot is at most 1/16 of its lower bound wide). Merging adds
counts, so it is exact; a percentile read from it is the middle of its slot, within
3.2% of the true value (the whole-run HDR histograms of the report are finer, 0.1%).

Recording costs nearly nothing per message: a dictionary look-up and one increment in
a list allocated once per action and interval. The interval closes on a timer
(:meth:`TimelineRecorder.run`), and between calls when the timer is late
(:meth:`TimelineRecorder.rotate_if_due`): calls completed while the loop was too busy to
close it count in the interval that was open.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Final

import msgspec
import trio

from ..metrics import HIGHEST_US, LOWEST_US

__all__ = [
    "INTERVAL",
    "SKETCH_ERROR",
    "RoleLoad",
    "Timeline",
    "TimelinePoint",
    "TimelineRecorder",
    "add_sketches",
    "decode_sketch",
    "encode_sketch",
    "latency_slot",
    "merge_timelines",
    "sketch_count",
    "sketch_percentiles",
    "slot_value",
]

#: Default seconds per timeline point.
INTERVAL: Final = 5.0
#: Slots per power of two in a latency sketch (log2).
SUB_BITS: Final = 4
_SUB: Final = 1 << SUB_BITS
#: Round trips below this many microseconds have a slot each.
_EXACT: Final = 2 * _SUB
#: Most a percentile read from a sketch is off, relative to the true value.
SKETCH_ERROR: Final = 1.0 / (2 * _SUB)


def latency_slot(micros: int) -> int:
    """The sketch slot of a round trip in microseconds (exact below ``2 * 16`` µs)."""
    bits = micros.bit_length()
    if bits <= SUB_BITS + 1:
        return micros
    shift = bits - SUB_BITS - 1
    return (shift << SUB_BITS) + (micros >> shift)


#: Slots of a sketch: up to the highest round trip the histograms keep.
SLOTS: Final = latency_slot(HIGHEST_US) + 1


def slot_value(slot: int) -> float:
    """The middle of a slot, in microseconds."""
    if slot < 2 * _SUB:
        return float(slot)
    shift = (slot >> SUB_BITS) - 1
    low = (slot - (shift << SUB_BITS)) << shift
    return low + (1 << shift) / 2


#: A run of more empty slots than this starts a new segment of an encoded sketch.
_GAP: Final = 4


def encode_sketch(counts: Iterable[tuple[int, int]]) -> str:
    """A sketch as text (``""``: no values): segments ``first_slot:count,count,...`` of
    consecutive slots (an empty field is a count of 0), joined by ``;`` where more than a
    few slots in a row are empty, e.g. ``80:3,9,,12;135:2``."""
    segments: list[str] = []
    fields: list[str] = []
    last = -_GAP - 2
    for slot, n in sorted(counts):
        if not n:
            continue
        if slot - last > _GAP + 1:
            if fields:
                segments.append(",".join(fields))
            fields = [f"{slot}:{n}"]
        else:
            fields += [""] * (slot - last - 1) + [str(n)]
        last = slot
    if fields:
        segments.append(",".join(fields))
    return ";".join(segments)


def decode_sketch(text: str) -> dict[int, int]:
    """Slot -> count of an encoded sketch.

    Raises:
        ValueError: not a sketch.
    """
    out: dict[int, int] = {}
    if not text:
        return out
    for segment in text.split(";"):
        start, colon, rest = segment.partition(":")
        if not colon:
            raise ValueError(f"not a latency sketch: {segment!r}")
        slot = int(start)
        for field in rest.split(","):
            if field:
                n = int(field)
                if n < 0 or slot < 0:
                    raise ValueError(f"not a latency sketch: {segment!r}")
                out[slot] = out.get(slot, 0) + n
            slot += 1
    return out


def add_sketches(a: str, b: str) -> str:
    """The exact sum of two encoded sketches."""
    if not a:
        return b
    if not b:
        return a
    counts = Counter(decode_sketch(a))
    counts.update(decode_sketch(b))
    return encode_sketch(counts.items())


def sketch_count(text: str) -> int:
    """How many values a sketch holds."""
    return sum(decode_sketch(text).values())


def sketch_percentiles(text: str, percentiles: Iterable[float]) -> list[float]:
    """The given percentiles (0-100) of a sketch, in milliseconds (0 for an empty sketch)."""
    counts = sorted(decode_sketch(text).items())
    total = sum(n for _, n in counts)
    out = []
    for p in percentiles:
        if not total:
            out.append(0.0)
            continue
        rank = max(1, math.ceil(p / 100.0 * total))
        seen = 0
        for slot, n in counts:
            seen += n
            if seen >= rank:
                out.append(slot_value(slot) / 1000.0)
                break
    return out


class RoleLoad(msgspec.Struct, omit_defaults=True):
    """Fleet's own load in one interval, for one role (``stations``, ``csms``, ``supervisor``).

    Attributes:
        processes: processes of the role that recorded the interval.
        cpu_max: the busiest process's CPU (% of one core).
        cpu_sum: all of them together (% of one core).
        lag: their event-loop lag, a sketch (see :func:`encode_sketch`).
    """

    processes: int = 0
    cpu_max: float = 0.0
    cpu_sum: float = 0.0
    lag: str = ""

    def merge(self, other: RoleLoad) -> RoleLoad:
        return RoleLoad(processes=self.processes + other.processes, cpu_max=max(self.cpu_max, other.cpu_max),
                        cpu_sum=round(self.cpu_sum + other.cpu_sum, 1), lag=add_sketches(self.lag, other.lag))


class TimelinePoint(msgspec.Struct, omit_defaults=True):
    """One interval of the timeline.

    Attributes:
        at: its start, seconds since the epoch (a multiple of the interval).
        seconds: how long it was recorded (less than the interval at the run's start and
            end, more when a busy loop closed it late); rates are counts over this.
        calls: ``"<direction>:<action>"`` -> round trips of the calls answered in it (a sketch).
        errors: failed calls by code (``Timeout`` for unanswered ones).
        states: stations by state at its end.
        connects, disconnects: connections opened and lost in it.
        execution: fleet's own load by role.
    """

    at: float
    seconds: float = 0.0
    calls: dict[str, str] = {}
    errors: dict[str, int] = {}
    states: dict[str, int] = {}
    connects: int = 0
    disconnects: int = 0
    execution: dict[str, RoleLoad] = {}

    def merge(self, other: TimelinePoint) -> TimelinePoint:
        """The same interval of two processes (or shards) added up."""
        calls = dict(self.calls)
        for key, sketch in other.calls.items():
            calls[key] = add_sketches(calls.get(key, ""), sketch)
        execution = dict(self.execution)
        for role, load in other.execution.items():
            execution[role] = execution[role].merge(load) if role in execution else load
        return TimelinePoint(
            at=self.at, seconds=max(self.seconds, other.seconds), calls=calls,
            errors=dict(Counter(self.errors) + Counter(other.errors)),
            states=dict(Counter(self.states) + Counter(other.states)),
            connects=self.connects + other.connects, disconnects=self.disconnects + other.disconnects,
            execution=execution,
        )


class Timeline(msgspec.Struct):
    """The points of a run (or of one of its processes), by time.

    Attributes:
        interval: seconds per point.
        points: the points, oldest first; an interval in which nothing was recorded has none.
    """

    interval: float = INTERVAL
    points: list[TimelinePoint] = []

    def merge(self, other: Timeline) -> Timeline:
        """Two timelines of the same interval, point by point (aligned by their start time).

        Raises:
            ValueError: their intervals differ.
        """
        if other.interval != self.interval:
            raise ValueError(f"timelines of different intervals ({self.interval:g} s and {other.interval:g} s)")
        points = {p.at: p for p in self.points}
        for p in other.points:
            points[p.at] = points[p.at].merge(p) if p.at in points else p
        return Timeline(interval=self.interval, points=[points[at] for at in sorted(points)])


def merge_timelines(timelines: list[Timeline]) -> Timeline | None:
    """All of them merged (``None`` for none).

    Raises:
        ValueError: their intervals differ.
    """
    merged: Timeline | None = None
    for timeline in timelines:
        merged = timeline if merged is None else merged.merge(timeline)
    return merged


#: Station states and connection totals now (a station worker's running count).
Gauges = Callable[[], tuple[dict[str, int], dict[str, int]]]


class TimelineRecorder:
    """Records one process's timeline; run :meth:`run` in a nursery, :meth:`close` at the end.

    Args:
        role: the process's role, for its own load.
        interval: seconds per point.
        gauges: what a station worker counts (stations by state, and connection totals
            ``connects`` and ``disconnects``), read when an interval closes.
        clock: the wall clock (seconds since the epoch).
    """

    def __init__(self, role: str, *, interval: float = INTERVAL, gauges: Gauges | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if interval <= 0:
            raise ValueError("the timeline's interval must be positive")
        self.role = role
        self.interval = interval
        self.gauges = gauges
        self._clock = clock
        self.points: list[TimelinePoint] = []
        self._out: dict[str, list[int]] = {}
        self._in: dict[str, list[int]] = {}
        self._errors: Counter[str] = Counter()
        self._lag = [0] * SLOTS
        now = clock()
        self._at = math.floor(now / interval) * interval
        self._opened = now
        self.due = self._at + interval
        self._cpu_mark = time.process_time()
        self._connects = self._disconnects = 0

    # Per call -------------------------------------------------------------------

    def call(self, action: str, outgoing: bool, latency: float) -> None:
        """A call answered after ``latency`` seconds (``outgoing``: one the fleet made)."""
        counts = (self._out if outgoing else self._in).get(action)
        if counts is None:
            counts = (self._out if outgoing else self._in)[action] = [0] * SLOTS
        micros = int(latency * 1_000_000)
        if micros < _EXACT:  # (latency_slot inlined: this runs for every call)
            counts[micros if micros >= LOWEST_US else LOWEST_US] += 1
            return
        if micros > HIGHEST_US:
            micros = HIGHEST_US
        shift = micros.bit_length() - SUB_BITS - 1
        counts[(shift << SUB_BITS) + (micros >> shift)] += 1

    def failed(self, code: str) -> None:
        """A call failed with ``code``."""
        self._errors[code] += 1

    def lag(self, micros: int) -> None:
        """The event loop woke ``micros`` late (from :class:`fleet.run.execution.LoopMonitor`)."""
        self._lag[latency_slot(min(max(micros, LOWEST_US), HIGHEST_US))] += 1

    # Closing intervals ------------------------------------------------------------

    def rotate_if_due(self) -> None:
        """Close the interval if its time has come (cheap enough to call between calls)."""
        now = self._clock()
        if now >= self.due:
            self.rotate(now)

    async def run(self) -> None:
        """Close each interval at its end, until cancelled."""
        while True:
            await trio.sleep(max(0.0, self.due - self._clock()))
            self.rotate_if_due()

    def rotate(self, now: float | None = None) -> None:
        """Close the open interval into a point and open the one ``now`` is in."""
        now = self._clock() if now is None else now
        cpu = time.process_time()
        seconds = max(now - self._opened, 1e-9)
        calls = {("out:" if table is self._out else "in:") + action: encode_sketch(enumerate(counts))
                 for table in (self._out, self._in) for action, counts in table.items()}
        share = round(100.0 * (cpu - self._cpu_mark) / seconds, 1)
        lag = encode_sketch(enumerate(self._lag))
        point = TimelinePoint(at=self._at, seconds=round(seconds, 3),
                              calls={k: v for k, v in calls.items() if v}, errors=dict(self._errors),
                              execution={self.role: RoleLoad(processes=1, cpu_max=share, cpu_sum=share, lag=lag)})
        if self.gauges is not None:
            states, totals = self.gauges()
            connects, disconnects = int(totals.get("connects", 0)), int(totals.get("disconnects", 0))
            point.states = dict(states)
            point.connects = max(0, connects - self._connects)
            point.disconnects = max(0, disconnects - self._disconnects)
            self._connects, self._disconnects = connects, disconnects
        self.points.append(point)
        self._out, self._in, self._errors = {}, {}, Counter()
        self._lag = [0] * SLOTS
        self._cpu_mark = cpu
        self._opened = now
        self._at = max(math.floor(now / self.interval) * self.interval, self._at + self.interval)
        self.due = self._at + self.interval

    def close(self) -> Timeline:
        """Close the open interval and return the whole timeline."""
        self.rotate()
        return Timeline(interval=self.interval, points=list(self.points))
