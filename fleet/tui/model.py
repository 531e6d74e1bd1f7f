"""The dashboard's plain model: no Textual, no I/O.

The app pulls a :class:`~fleet.control.messages.FleetSnapshot` twice a second and
hands it to :meth:`DashboardModel.update`; widgets read from the model when they
render. Nothing here is updated per OCPP message.

* :class:`StationTableModel`: the stations, filtered and sorted for the table;
  the table renders only the visible slice of :attr:`StationTableModel.view`.
* :class:`TableSnapshot` / :class:`TableRow`: how the dashboard decodes a snapshot
  with rows (a row's connectors stay raw JSON until the row is drawn).
* :class:`History`: the series of the overview's charts over the last two minutes
  (calls/s, failed/s, p50/p99 per action), from the snapshots the app polls anyway.
* :func:`payload_skeleton` / :func:`validate_payload`: the request composer's
  JSON skeleton of an action's required fields, and its validation with the
  action's own decoder.
"""

from __future__ import annotations

import datetime
import enum
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import msgspec

from ..control.messages import FleetSnapshot, StationRow
from ..ocpp import VERSIONS_BY_NAME, ProtocolVersion
from ..ocpp.constraints import URI_PATTERN

__all__ = [
    "COLUMNS",
    "CONNECTOR_LETTERS",
    "Column",
    "DashboardModel",
    "History",
    "StationTableModel",
    "TableRow",
    "TableSnapshot",
    "connector_glyphs",
    "connector_legend",
    "not_started",
    "payload_skeleton",
    "span_text",
    "sparkline",
    "validate_payload",
    "version_named",
]

STATES = ("idle", "connecting", "booting", "pending", "rejected", "available", "charging", "faulted",
          "offline", "closed")


#: The letters of the stations table's connector column (the first letter of the OCPP status).
CONNECTOR_LETTERS = {"A": "Available", "O": "Occupied", "F": "Faulted", "U": "Unavailable", "R": "Reserved"}


def connector_legend() -> str:
    """One line that says what the connector column's letters mean."""
    letters = "  ".join(f"{letter} {status.lower()}" for letter, status in CONNECTOR_LETTERS.items())
    return f"CONN, one letter per connector: {letters}"


def connector_glyphs(statuses: Sequence[str]) -> str:
    """One letter per connector: A(vailable) O(ccupied) F(aulted) U(navailable) R(eserved)."""
    return "".join((s[:1] or "?").upper() for s in statuses)


class TableRow(msgspec.Struct, frozen=True, gc=False):
    """A :class:`~fleet.control.messages.StationRow` as the dashboard decodes it: the same JSON,
    but the connectors stay raw JSON (decoded, with a cache, only for the rows drawn or when
    sorting by them). A list per row would make 20,000 objects for the garbage collector to
    track twice a second; this row makes none."""

    id: str
    profile: str = ""
    state: str = "idle"
    connectors: msgspec.Raw = msgspec.Raw(b"[]")
    ocpp_version: str = ""
    power_w: float = 0.0
    energy_wh: float = 0.0
    soc: float | None = None
    tx_id: str | None = None
    last_error: str = ""
    calls: int = 0
    errors: int = 0
    reconnects: int = 0
    queued: int = 0


class TableSnapshot(FleetSnapshot, frozen=True):
    """A :class:`~fleet.control.messages.FleetSnapshot` whose rows are :class:`TableRow`."""

    rows: list[TableRow] | None = None  # type: ignore[assignment]


_glyph_cache: dict[bytes, str] = {}


#: Either kind of row: the tables take both.
AnyRow = StationRow | TableRow


def row_glyphs(row: StationRow | TableRow) -> str:
    """The connector letters of a row (either kind of row)."""
    connectors = row.connectors
    if isinstance(connectors, list):
        return connector_glyphs(connectors)
    key = bytes(connectors)
    glyphs = _glyph_cache.get(key)
    if glyphs is None:
        try:
            statuses = msgspec.json.decode(key, type=list[str])
        except msgspec.DecodeError:
            statuses = []
        if len(_glyph_cache) > 10_000:
            _glyph_cache.clear()
        glyphs = _glyph_cache[key] = connector_glyphs(statuses)
    return glyphs


def _kw(value: float) -> str:
    return f"{value / 1000:.1f}"


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the stations table: title, width, how to show and sort a row."""

    key: str
    title: str
    width: int
    text: Callable[[AnyRow], str]
    sort: Callable[[AnyRow], Any]
    right: bool = False


COLUMNS: tuple[Column, ...] = (  # plain attributes sort with attrgetter: a C call per row, not a lambda
    Column("id", "STATION", 18, attrgetter("id"), attrgetter("id")),
    Column("profile", "PROFILE", 12, attrgetter("profile"), attrgetter("profile")),
    Column("state", "STATE", 10, attrgetter("state"), attrgetter("state")),
    Column("connectors", "CONN", 5, row_glyphs, row_glyphs),
    Column("power", "kW", 6, lambda r: _kw(r.power_w) if r.power_w else "-", attrgetter("power_w"), True),
    Column("energy", "kWh", 8, lambda r: _kw(r.energy_wh) if r.energy_wh else "-", attrgetter("energy_wh"), True),
    Column("soc", "SoC%", 5, lambda r: f"{r.soc:.0f}" if r.soc is not None else "-",
           lambda r: -1.0 if r.soc is None else r.soc, True),
    Column("tx", "TRANSACTION", 13, lambda r: r.tx_id or "", lambda r: r.tx_id or ""),
    Column("calls", "CALLS", 7, lambda r: str(r.calls), attrgetter("calls"), True),
    Column("errors", "ERR", 5, lambda r: str(r.errors) if r.errors else "", attrgetter("errors"), True),
    Column("reconnects", "RECON", 5, lambda r: str(r.reconnects) if r.reconnects else "", attrgetter("reconnects"),
           True),
    Column("ocpp", "OCPP", 6, attrgetter("ocpp_version"), attrgetter("ocpp_version")),
    Column("last_error", "LAST ERROR", 40, attrgetter("last_error"), attrgetter("last_error")),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)


def _parse_filter(text: str) -> list[Callable[[AnyRow], bool]]:
    """``state:charging,faulted profile:ac ocpp:1.6,2.1 error:timeout id:CS1 word`` -> predicates (all must hold).

    A bare word matches the id; ``error:`` alone matches any station with an error.
    """
    tests: list[Callable[[AnyRow], bool]] = []
    for token in text.split():
        field, sep, value = token.partition(":")
        if not sep:
            field, value = "id", token
        field, needle = field.lower(), value.lower()
        if field in ("state", "s"):
            wanted = {v for v in needle.split(",") if v}
            tests.append(lambda r, w=wanted: r.state in w)  # type: ignore[misc]
        elif field in ("profile", "p"):
            tests.append(lambda r, n=needle: n in r.profile.lower())  # type: ignore[misc]
        elif field in ("ocpp", "version", "v"):
            versions = {v for v in needle.split(",") if v}
            tests.append(lambda r, w=versions: r.ocpp_version in w)  # type: ignore[misc]
        elif field in ("error", "err", "e"):
            if needle:
                tests.append(lambda r, n=needle: n in r.last_error.lower())  # type: ignore[misc]
            else:
                tests.append(lambda r: bool(r.last_error) or r.errors > 0)
        else:
            tests.append(lambda r, n=needle: n in r.id.lower())  # type: ignore[misc]
    return tests


class StationTableModel:
    """The stations, filtered and sorted; :attr:`view` is what the table shows."""

    def __init__(self) -> None:
        self.rows: list[AnyRow] = []
        self.view: list[AnyRow] = []
        self.filter_text = ""
        self.sort_key = "id"
        self.reverse = False
        self._tests: list[Callable[[AnyRow], bool]] = []
        self._index: dict[str, int] | None = None
        self.last_update_ms = 0.0

    def set_rows(self, rows: Sequence[AnyRow]) -> None:
        self.rows = rows if isinstance(rows, list) else list(rows)
        self._recompute()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._tests = _parse_filter(text)
        self._recompute()

    def set_sort(self, key: str, reverse: bool | None = None) -> None:
        """Sort by column ``key``; the same key again flips the direction (unless ``reverse`` is given)."""
        if key not in COLUMN_KEYS:
            raise KeyError(key)
        if reverse is None:
            reverse = not self.reverse if key == self.sort_key else False
        self.sort_key, self.reverse = key, reverse
        self._recompute()

    def cycle_sort(self, step: int) -> None:
        index = (COLUMN_KEYS.index(self.sort_key) + step) % len(COLUMN_KEYS)
        self.set_sort(COLUMN_KEYS[index], reverse=False)

    def _recompute(self) -> None:
        started = time.perf_counter()
        rows = self.rows
        tests = self._tests
        if len(tests) == 1:
            rows = list(filter(tests[0], rows))  # the common case: one C loop calling one predicate
        elif tests:
            rows = [r for r in rows if all(t(r) for t in tests)]
        column = COLUMNS[COLUMN_KEYS.index(self.sort_key)]
        self.view = sorted(rows, key=column.sort, reverse=self.reverse)  # timsort: near O(n) when sorted
        self._index = None
        self.last_update_ms = (time.perf_counter() - started) * 1000

    def index_of(self, station_id: str) -> int | None:
        """The position of ``station_id`` in :attr:`view` (``None`` if filtered out)."""
        if self._index is None:
            self._index = {r.id: i for i, r in enumerate(self.view)}
        return self._index.get(station_id)

    def ocpp_version_of(self, station_id: str) -> str:
        """The OCPP version of station ``station_id`` as its row says (empty if unknown)."""
        for row in self.rows:
            if row.id == station_id:
                return row.ocpp_version
        return ""


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 24) -> str:
    """``values`` (the last ``width`` of them) as block characters scaled to their maximum."""
    data = list(values)[-width:]
    if not data:
        return ""
    top = max(data)
    if top <= 0:
        return _BARS[0] * len(data)
    return "".join(_BARS[min(len(_BARS) - 1, int(v / top * (len(_BARS) - 1) + 0.5))] for v in data)


#: Snapshots the overview's charts cover: 2 minutes at the dashboard's 2 Hz.
HISTORY_LENGTH = 240


class History:
    """The last ``length`` values of the figures the overview plots, with when each snapshot was taken."""

    def __init__(self, length: int = HISTORY_LENGTH) -> None:
        self.length = length
        self.at: deque[float] = deque(maxlen=length)  # the snapshots' wall-clock times
        self.calls_per_s: deque[float] = deque(maxlen=length)
        self.failed: deque[float] = deque(maxlen=length)  # failed calls per second
        self.p50: dict[str, deque[float]] = {}
        self.p99: dict[str, deque[float]] = {}
        self.rate: dict[str, deque[float]] = {}

    def add(self, snapshot: FleetSnapshot) -> None:
        # Rates as the server computed them from its sources' totals: they hold between
        # two updates, so a poll faster than the updates plots no false zeros.
        self.at.append(snapshot.at)
        self.calls_per_s.append(snapshot.calls_per_s)
        self.failed.append(snapshot.failed_per_s)
        for action in snapshot.actions:
            key = f"{action.direction}:{action.action}"
            for series, value in ((self.p50, action.p50_ms), (self.p99, action.p99_ms), (self.rate, action.rate)):
                series.setdefault(key, deque(maxlen=self.length)).append(value)


    @property
    def span_s(self) -> float:
        """Seconds between the oldest and the newest snapshot kept."""
        return self.at[-1] - self.at[0] if len(self.at) > 1 else 0.0


def span_text(seconds: float) -> str:
    """``45 s``, ``2 min``: how long a chart's window is."""
    return f"{seconds:.0f} s" if seconds < 100 else f"{seconds / 60:.0f} min"


def not_started(states: dict[str, int], total: int) -> int:
    """Stations of the run not started yet (the ramp has not reached them): the total less those counted by state."""
    return max(0, total - sum(states.values()))


class DashboardModel:
    """Everything the dashboard shows, refreshed from snapshots."""

    def __init__(self) -> None:
        self.snapshot: FleetSnapshot | None = None
        self.table = StationTableModel()
        self.history = History()
        self.connected = False
        self.status = "connecting…"
        self.ticks = 0
        self.last_poll_ms = 0.0
        self.run_ended = False  # the run behind the dashboard has ended: the snapshot is its last

    def update(self, snapshot: FleetSnapshot) -> None:
        self.snapshot = snapshot
        self.history.add(snapshot)
        if snapshot.rows is not None:
            self.table.set_rows(snapshot.rows)
        self.ticks += 1


# ------------------------------------------------------------- the composer


def _skeleton_of(info: Any, depth: int = 0) -> Any:
    t = msgspec.inspect
    if depth > 8:
        return None
    if isinstance(info, t.UnionType):
        options = [o for o in info.types if not isinstance(o, t.NoneType)]
        return _skeleton_of(options[0], depth) if options else None
    if isinstance(info, t.Metadata):
        return _skeleton_of(info.type, depth)
    if isinstance(info, t.StructType):
        return {f.encode_name: _skeleton_of(f.type, depth + 1) for f in info.fields if f.required}
    if isinstance(info, t.EnumType):
        return next(iter(info.cls)).value
    if isinstance(info, (t.ListType, t.SetType, t.FrozenSetType, t.VarTupleType)):
        return [_skeleton_of(info.item_type, depth + 1)] if (info.min_length or 0) > 0 else []
    if isinstance(info, t.DateTimeType):
        return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    if isinstance(info, t.BoolType):
        return False
    if isinstance(info, t.IntType):
        return max(0, info.ge or 0, (info.gt or -1) + 1)
    if isinstance(info, t.FloatType):
        return float(max(0.0, info.ge or 0.0))
    if isinstance(info, t.StrType):
        if info.pattern == URI_PATTERN:  # format: uri (OCPP 1.6's locations)
            return "https://example.com/"
        return "x" * (info.min_length or 0) if info.min_length else ""
    if isinstance(info, t.LiteralType):
        return info.values[0]
    if isinstance(info, t.DictType):
        return {}
    return None


def version_named(name: str) -> ProtocolVersion:
    """The OCPP version called ``name`` (``"2.0.1"``); the first fleet speaks when ``name`` is
    empty or unknown (a station whose row does not say yet)."""
    return VERSIONS_BY_NAME.get(name) or next(iter(VERSIONS_BY_NAME.values()))


def payload_skeleton(action: str, version: ProtocolVersion) -> dict[str, Any]:
    """A JSON payload of ``action``'s request in ``version`` with its required fields filled with placeholders.

    Raises:
        KeyError: unknown action.
    """
    request_type = version.actions[action][0]
    skeleton = _skeleton_of(msgspec.inspect.type_info(request_type))
    return skeleton if isinstance(skeleton, dict) else {}


class Verdict(enum.Enum):
    OK = "ok"
    BAD_JSON = "bad_json"
    INVALID = "invalid"
    UNKNOWN_ACTION = "unknown_action"


def validate_payload(action: str, text: str, version: ProtocolVersion) -> tuple[Verdict, str, dict[str, Any] | None]:
    """Check ``text`` as ``action``'s request payload in ``version``: (verdict, message, the payload as a dict)."""
    if action not in version.actions:
        return Verdict.UNKNOWN_ACTION, f"{action!r} is not an OCPP {version.name} action", None
    try:
        raw = msgspec.json.decode(text.encode())
    except msgspec.DecodeError as exc:
        return Verdict.BAD_JSON, f"not JSON: {exc}", None
    if not isinstance(raw, dict):
        return Verdict.INVALID, "the payload must be a JSON object", None
    try:
        version.request_decoder(action).decode(text.encode())
    except msgspec.ValidationError as exc:
        return Verdict.INVALID, f"invalid {action} request: {exc}", None
    return Verdict.OK, f"valid {action} request", raw
