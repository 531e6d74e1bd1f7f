"""What a control server drives: the :class:`ControlBackend` protocol and :class:`LocalBackend`.

The server (:mod:`fleet.control.server`) decodes each command into its Struct and
runs it through the registry (:data:`fleet.control.commands.REGISTRY`), which calls
the backend as the command's route says: :meth:`ControlBackend.on_station` with the
station's handler, :meth:`ControlBackend.on_csms` with the CSMS's, or one of the
backend's own typed methods for the commands about the whole fleet. Each returns the
result Struct of :mod:`fleet.control.messages` or raises :class:`ControlError`.
Two backends:

* :class:`LocalBackend` (here): station actors and/or a CSMS in this process (it also
  answers, in each worker process, what ``fleet run``'s supervisor forwards);
* :class:`~fleet.run.fleet_backend.FleetBackend` (``fleet run``'s supervisor),
  which forwards to its worker processes.

:class:`LocalBackend` reaches the actors only through their typed handles
(:class:`~fleet.control.handles.StationHandle`, :class:`~fleet.control.handles.CsmsHandle`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import trio

from .. import __version__
from ..net.events import Connected, Disconnected, OcppMessage
from .commands import DEFAULT_ID_TOKEN, REGISTRY, OnCsms, StationCommand, decode_ocpp_request, jsonable
from .errors import ControlError, actor_errors
from .handles import CsmsHandle, StationHandle
from .messages import (
    Ack,
    ActionLatency,
    AddStationsResult,
    BootStatus,
    ControlEvent,
    ErrorCode,
    FaultResult,
    FleetSnapshot,
    RemoveStationsResult,
    ServerInfo,
    StationDetail,
    StationRow,
)
from .views import (
    detail_from_record,
    detail_from_station,
    profile_name,
    row_from_record,
    row_from_station_snapshot,
)

if TYPE_CHECKING:
    from ..actors.station import StationSnapshot
    from ..metrics import Metrics

__all__ = [
    "DEFAULT_ID_TOKEN",
    "ControlBackend",
    "ControlError",
    "EventStream",
    "LocalBackend",
    "RateTracker",
    "control_event",
    "decode_ocpp_request",
    "fault_targets",
    "ocpp_frame",
    "row_from_station_snapshot",
]


#: The stations' handle type of a :class:`LocalBackend`.
H = TypeVar("H", bound=StationHandle)


class EventStream(Protocol):
    """What a subscription yields: :class:`ControlEvent` until the source ends."""

    def __aiter__(self) -> AsyncIterator[ControlEvent]: ...


class ControlBackend(Protocol):
    """What the registry's routes call (see :mod:`fleet.control.commands`).

    Every method raises :class:`ControlError` for a failure the caller should see
    (unknown station: ``not_found``, no CSMS here: ``unsupported``, ...).
    """

    async def on_station(
        self, command: StationCommand, handler: Callable[[StationHandle, Any], Awaitable[Any]]
    ) -> Any:
        """Run ``handler`` on the station ``command.station_id`` (or have its owner run ``command``)."""
        ...

    async def on_csms(self, command: Any, route: OnCsms[Any]) -> Any:
        """Run ``route.handler`` on the CSMS (or have the CSMS processes run ``command``)."""
        ...

    def subscribe(
        self, station_id: str | None, *, source: str = "auto"
    ) -> AbstractAsyncContextManager[EventStream]: ...

    async def info(self) -> ServerInfo: ...

    async def snapshot(self, *, rows: bool = True, offset: int = 0, limit: int | None = None) -> FleetSnapshot: ...

    async def station(self, station_id: str) -> StationDetail: ...

    async def connect(
        self,
        station_id: str,
        *,
        url: str | None = None,
        password: str | None = None,
        new_station_id: str | None = None,
    ) -> Ack: ...

    async def add_stations(
        self, profile: str, count: int = 1, *, prefix: str | None = None, connect: bool = True
    ) -> AddStationsResult: ...

    async def remove_stations(self, station_ids: list[str]) -> RemoveStationsResult: ...

    async def disconnect(
        self, station_ids: list[str] | None = None, *, share: float | None = None, seed: int | None = None
    ) -> FaultResult: ...

    async def partition(
        self, duration: float, station_ids: list[str] | None = None, *, share: float | None = None,
        seed: int | None = None,
    ) -> FaultResult: ...

    async def restart_csms(self, downtime: float = 5.0) -> FaultResult: ...

    async def set_boot_status(self, status: BootStatus | None, station_ids: list[str] | None = None) -> FaultResult: ...


# ------------------------------------------------------------------ helpers


def fault_targets(
    command: str, known: Iterable[str], station_ids: list[str] | None, share: float | None, seed: int
) -> list[str]:
    """The stations a fault command hits: ``station_ids`` (each must be ``known``), or a
    seeded ``share`` of the ``known`` ones (:func:`fleet.faults.pick_share`, drawn apart
    for each ``command``).

    Raises:
        ControlError: ``bad_request`` (neither or both given), ``not_found`` (an unknown id).
    """
    from ..faults import pick_share

    if (station_ids is None) == (share is None):
        raise ControlError(ErrorCode.BAD_REQUEST, f"{command}: give station_ids or share (one of them)")
    if station_ids is not None:
        ids = list(dict.fromkeys(station_ids))
        have = known if isinstance(known, (Mapping, set, frozenset)) else set(known)
        unknown = [sid for sid in ids if sid not in have]
        if unknown:
            shown = ", ".join(repr(sid) for sid in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            raise ControlError(ErrorCode.NOT_FOUND, f"{command}: no station {shown}", {"unknown": unknown[:1000]})
        return ids
    return pick_share(known, float(share or 0.0), seed, command)


async def _each(ids: list[str], act: Callable[[str], Awaitable[Any]]) -> int:
    """``act(id)`` for every id at once; how many returned a true value. A station that
    is not running (``conflict``) just does not count; another error is raised once
    every id had its turn."""
    hits = 0
    errors: list[ControlError] = []

    async def one(sid: str) -> None:
        nonlocal hits
        try:
            with actor_errors():
                if await act(sid):
                    hits += 1
        except ControlError as exc:
            if exc.code != ErrorCode.CONFLICT:
                errors.append(exc)

    async with trio.open_nursery() as nursery:
        for sid in ids:
            nursery.start_soon(one, sid)
    if errors:
        raise errors[0]
    return hits




def ocpp_frame(event: OcppMessage) -> list[Any]:
    """The OCPP-J frame of an :class:`~fleet.net.events.OcppMessage` (as a JSON array)."""
    if event.kind == "request":
        return [2, event.message_id, event.action, event.payload]
    if event.kind == "response":
        return [3, event.message_id, event.payload]
    error = event.payload if isinstance(event.payload, Mapping) else {}
    return [4, event.message_id, error.get("code", ""), error.get("description", ""), error.get("details") or {}]


def control_event(event: Any, source: str = "station") -> ControlEvent | None:
    """The :class:`ControlEvent` of a :mod:`fleet.net.events` event (``None`` for other objects)."""
    if isinstance(event, OcppMessage):
        return ControlEvent(
            station_id=event.station_id,
            kind=event.kind,
            at=event.at or time.time(),
            direction=event.direction,
            source=source,
            action=event.action,
            message_id=event.message_id,
            payload=event.payload,
            tag=jsonable(event.tag),
            frame=ocpp_frame(event),
            ocpp_version=event.ocpp_version,
        )
    if isinstance(event, Connected):
        return ControlEvent(event.station_id, "connected", event.at, source=source, ocpp_version=event.ocpp_version)
    if isinstance(event, Disconnected):
        return ControlEvent(event.station_id, "disconnected", event.at, source=source, reason=event.reason)
    return None


class _MappedEvents:
    """Async iterator of ControlEvents over a receive channel of fleet events."""

    def __init__(self, receive: Any, source: str) -> None:
        self._receive = receive
        self._source = source

    def __aiter__(self) -> _MappedEvents:
        return self

    async def __anext__(self) -> ControlEvent:
        while True:
            try:
                raw = await self._receive.receive()
            except (trio.EndOfChannel, trio.ClosedResourceError, StopAsyncIteration):
                raise StopAsyncIteration from None
            event = control_event(raw, self._source)
            if event is not None:
                return event


class RateTracker:
    """Per-second rates of running totals, from samples ``(time taken, total)``.

    A rate is the change of a total over about the last ``window`` seconds of its
    samples, divided by the time between them, where the times are those at which the
    totals were *taken* (at their source, e.g. a worker's status): a reader that asks
    more often than the totals change gets the same rate again (never 0 between two
    updates), and a sample that arrives late still counts over the time it covers.
    """

    def __init__(self, window: float = 3.0, min_interval: float = 0.25) -> None:
        self.window = window
        self.min_interval = min_interval
        self._samples: dict[str, deque[tuple[float, float]]] = {}
        self._rates: dict[str, float] = {}

    def rate(self, key: str, total: float, at: float | None = None) -> float:
        """The rate of ``key`` given its ``total`` taken at ``at`` (default: now, ``time.monotonic()``)."""
        at = time.monotonic() if at is None else at
        samples = self._samples.get(key)
        if samples is None or (samples and total < samples[-1][1]):  # new, or the total started anew
            self._samples[key] = deque([(at, total)])
            self._rates[key] = 0.0
            return 0.0
        newest_at = samples[-1][0]
        if at <= newest_at:  # the same figures again (or older ones)
            return self._rates[key]
        while len(samples) > 1 and samples[1][0] <= at - self.window:
            samples.popleft()
        base_at, base_total = samples[0]
        rate = self._rates[key] = (total - base_total) / (at - base_at)
        if at - newest_at >= self.min_interval:
            samples.append((at, total))
        return rate




# ---------------------------------------------------------------- LocalBackend

#: spawn(profile, station_ids, connect) -> the new station actors by id, started.
SpawnStations = Callable[[str, list[str], bool], Awaitable[Mapping[str, H]]]
#: retire(station_id, station): stop one station for good.
RetireStation = Callable[[str, H], Awaitable[None]]


class LocalBackend(Generic[H]):
    """A :class:`ControlBackend` over actors in this process.

    Args:
        stations: station id -> station actor (a live mapping: stations added or
            removed by the owner show at the next snapshot).
        csms: a CSMS actor, for the CSMS commands and, without stations, the snapshot.
        metrics: the process's :class:`fleet.metrics.Metrics` (latency per action, errors by code).
        profiles: station id -> profile name, where the snapshots do not say.
        spawn: makes and starts stations for ``add_stations``; without it ``add_stations``
            is ``unsupported``.
        retire: stops a station for ``remove_stations`` (default: its ``close()``).
        phase: returns the run's phase for snapshots.
        kind: ``fleet`` or ``csms`` (default: ``csms`` when there is a CSMS and no stations).
        seed: the default seed of the fault commands' ``share`` draws.
    """

    def __init__(
        self,
        stations: MutableMapping[str, H] | None = None,
        csms: CsmsHandle | None = None,
        *,
        metrics: Metrics | None = None,
        profiles: MutableMapping[str, str] | None = None,
        spawn: SpawnStations[H] | None = None,
        retire: RetireStation[H] | None = None,
        phase: Callable[[], str] | None = None,
        kind: str | None = None,
        seed: int = 0,
    ) -> None:
        self.stations: MutableMapping[str, H] = stations if stations is not None else {}
        self.csms = csms
        self.metrics = metrics
        self.profiles: MutableMapping[str, str] = profiles if profiles is not None else {}
        self.spawn = spawn
        self.retire = retire
        self.phase = phase
        self.kind = kind or ("csms" if csms is not None and stations is None else "fleet")
        self.seed = seed
        self._rates = RateTracker()
        self._stats_cache: tuple[float, list[Any]] = (0.0, [])
        self._row_cache: dict[str, tuple[StationSnapshot, StationRow]] = {}

    # ----------------------------------------------------------- lookups

    def _station(self, station_id: str) -> H:
        station = self.stations.get(station_id)
        if station is None:
            raise ControlError(ErrorCode.NOT_FOUND, f"no station {station_id!r}")
        return station

    def _csms(self) -> CsmsHandle:
        if self.csms is None:
            raise ControlError(ErrorCode.UNSUPPORTED, "this server runs no CSMS")
        return self.csms

    # ----------------------------------------------------------- the registry's routes

    async def on_station(
        self, command: StationCommand, handler: Callable[[StationHandle, Any], Awaitable[Any]]
    ) -> Any:
        station = self._station(command.station_id)
        with actor_errors():
            return await handler(station, command)

    async def on_csms(self, command: Any, route: OnCsms[Any]) -> Any:
        csms = self._csms()
        with actor_errors():
            return await route.handler(csms, command)

    # ----------------------------------------------------------- reading

    async def info(self) -> ServerInfo:
        commands = REGISTRY.names(stations=bool(self.stations) or self.kind != "csms", csms=self.csms is not None)
        return ServerInfo(self.kind, __version__, commands, len(self.stations), self.csms is not None)

    def _all_rows(self) -> list[StationRow]:
        if self.kind == "csms" and not self.stations:
            records = self.csms.stations() if self.csms is not None else {}
            return [row_from_record(records[sid]) for sid in sorted(records)]
        profiles = self.profiles
        cache = self._row_cache
        fresh: dict[str, tuple[StationSnapshot, StationRow]] = {}
        rows = []
        for sid in sorted(self.stations):
            station = self.stations[sid]
            try:
                snap = station.snapshot()
            except Exception as exc:  # a broken actor must not break the dashboard
                rows.append(StationRow(sid, profiles.get(sid, ""), "faulted", last_error=f"snapshot failed: {exc}"))
                continue
            cached = cache.get(sid)
            if cached is not None and cached[0] is snap:  # an unchanged (published, frozen) snapshot
                row = cached[1]
            else:
                row = row_from_station_snapshot(snap, profiles.get(sid) or profile_name(station))
            fresh[sid] = (snap, row)
            rows.append(row)
        self._row_cache = fresh
        return rows

    def _action_stats(self, now: float) -> tuple[float, list[Any]]:
        """The latency per action (exported at most once a second) and when it was taken."""
        if self.metrics is None:
            return now, []
        cached_at, stats = self._stats_cache
        if now - cached_at >= 1.0:
            stats = self.metrics.export().action_stats(mean=False)  # the snapshot carries no mean
            self._stats_cache = (now, stats)
            cached_at = now
        return cached_at, stats

    async def snapshot(self, *, rows: bool = True, offset: int = 0, limit: int | None = None) -> FleetSnapshot:
        now = time.monotonic()
        all_rows = self._all_rows()
        states: dict[str, int] = {}
        for row in all_rows:
            states[row.state] = states.get(row.state, 0) + 1
        actions: list[ActionLatency] = []
        errors: dict[str, int] = {}
        counters: dict[str, int] = {}
        completed = failed = 0
        metrics = self.metrics
        if metrics is not None:
            completed, failed = int(metrics.completed), int(metrics.failed)
            counters = {str(k): int(v) for k, v in dict(metrics.counters).items()}
            taken_at, stats = self._action_stats(now)
            for stat in stats:
                err = sum(stat.errors.values())
                for code, n in stat.errors.items():
                    errors[code] = errors.get(code, 0) + n
                actions.append(ActionLatency(
                    stat.action, stat.direction, stat.count,
                    round(self._rates.rate(f"{stat.direction}:{stat.action}", stat.count, taken_at), 2),
                    stat.p50_ms, stat.p99_ms, err,
                ))
        elif self.csms is not None and self.kind == "csms":
            csms_stats = self.csms.statistics()
            completed = sum(csms_stats.messages.values())
            failed = csms_stats.calls_failed
            for action, n in csms_stats.messages.items():
                rate = round(self._rates.rate(f"in:{action}", n, now), 2)
                actions.append(ActionLatency(action, "in", n, rate))
            counters = {"connections": csms_stats.connections, "replaced": csms_stats.replaced,
                        "violations": csms_stats.violations, "calls_sent": csms_stats.calls_sent}
            for status, n in csms_stats.refused.items():
                counters[f"refused_{status}"] = n
        else:
            completed = sum(r.calls - r.errors for r in all_rows)
            failed = sum(r.errors for r in all_rows)
        reconnects = counters.get("reconnects", sum(r.reconnects for r in all_rows))
        csms_connected = len(self.csms.connections()) if self.csms is not None else 0
        page: list[StationRow] | None = None
        if rows:
            page = all_rows[offset:] if limit is None else all_rows[offset : offset + limit]
        return FleetSnapshot(
            at=time.time(),
            kind=self.kind,
            phase=self.phase() if self.phase is not None else "",
            total=len(all_rows),
            states=states,
            calls_per_s=round(self._rates.rate("calls", completed, now), 2),
            failed_per_s=round(self._rates.rate("failed", failed, now), 2),
            completed=completed,
            failed=failed,
            actions=actions,
            errors=errors,
            reconnects=reconnects,
            counters=counters,
            csms_connected=csms_connected,
            rows=page,
        )

    async def station(self, station_id: str) -> StationDetail:
        station = self.stations.get(station_id)
        if station is not None:
            profile = self.profiles.get(station_id) or profile_name(station)
            return detail_from_station(station, station.snapshot(), profile)
        if self.csms is not None:
            record = self.csms.station(station_id)
            if record is not None:
                return detail_from_record(record)
        raise ControlError(ErrorCode.NOT_FOUND, f"no station {station_id!r}")

    @asynccontextmanager
    async def subscribe(self, station_id: str | None, *, source: str = "auto") -> AsyncIterator[EventStream]:
        if station_id is None:
            csms = self._csms() if source != "station" else None
            if csms is None:
                raise ControlError(ErrorCode.BAD_REQUEST, "subscribe to stations one at a time: give station_id")
            async with csms.subscribe() as receive:
                yield _MappedEvents(receive, "csms")
            return
        station = self.stations.get(station_id)
        if source == "station" or (source == "auto" and station is not None):
            station = self._station(station_id)
            async with station.subscribe() as receive:
                yield _MappedEvents(receive, "station")
            return
        csms = self._csms() if source == "csms" else self.csms
        if csms is None:
            raise ControlError(ErrorCode.NOT_FOUND, f"no station {station_id!r}")
        async with csms.subscribe(station_id) as receive:
            yield _MappedEvents(receive, "csms")

    # ----------------------------------------------------------- stations

    async def connect(
        self,
        station_id: str,
        *,
        url: str | None = None,
        password: str | None = None,
        new_station_id: str | None = None,
    ) -> Ack:
        station = self._station(station_id)
        if new_station_id is not None and new_station_id != station_id and new_station_id in self.stations:
            raise ControlError(ErrorCode.CONFLICT, f"station id {new_station_id!r} is taken")
        with actor_errors():
            await station.connect(url, password, new_station_id)
        if new_station_id is not None and new_station_id != station_id:
            self.stations[new_station_id] = self.stations.pop(station_id)
            if station_id in self.profiles:
                self.profiles[new_station_id] = self.profiles.pop(station_id)
            return Ack(station_id=new_station_id, message=f"{station_id} is now {new_station_id}")
        return Ack(station_id=station_id)

    async def add_stations(
        self, profile: str, count: int = 1, *, prefix: str | None = None, connect: bool = True
    ) -> AddStationsResult:
        if self.spawn is None:
            raise ControlError(ErrorCode.UNSUPPORTED, "this server cannot add stations")
        stem = prefix if prefix is not None else profile.rsplit("/", 1)[-1].removesuffix(".toml") + "-"
        ids: list[str] = []
        n = 1
        while len(ids) < count:
            candidate = f"{stem}{n:05d}"
            if candidate not in self.stations:
                ids.append(candidate)
            n += 1
        try:
            added = await self.spawn(profile, ids, connect)
        except ControlError:
            raise
        except (LookupError, ValueError, OSError) as exc:
            raise ControlError(ErrorCode.BAD_REQUEST, f"cannot add stations from {profile!r}: {exc}") from None
        for sid, station in added.items():
            self.stations[sid] = station
            self.profiles[sid] = profile
        return AddStationsResult(list(added))

    async def remove_stations(self, station_ids: list[str]) -> RemoveStationsResult:
        removed: list[str] = []
        missing: list[str] = []
        for sid in station_ids:
            station = self.stations.pop(sid, None)
            if station is None:
                missing.append(sid)
                continue
            self.profiles.pop(sid, None)
            removed.append(sid)
            if self.retire is not None:
                await self.retire(sid, station)
            else:
                with suppress(ControlError), actor_errors():
                    await station.close()
        return RemoveStationsResult(removed, missing)

    # ----------------------------------------------------------- fault commands
    #
    # With stations in this process they act in the stations (the link drops at the
    # station's end, a partitioned station cannot connect); a CSMS alone (``fleet csms``)
    # does it from its side (it drops the connections, and a partitioned station's new
    # connections right after their handshake).

    async def disconnect(
        self, station_ids: list[str] | None = None, *, share: float | None = None, seed: int | None = None
    ) -> FaultResult:
        seed = self.seed if seed is None else seed
        if self.stations or self.csms is None:
            ids = fault_targets("disconnect", self.stations, station_ids, share, seed)
            stations = self.stations
            dropped = await _each(ids, lambda sid: stations[sid].drop_connection())
        else:
            csms = self.csms
            known = self._csms_known(station_ids)
            ids = fault_targets("disconnect", known, station_ids, share, seed)
            dropped = await _each(ids, lambda sid: csms.drop_connection(sid))
        return FaultResult("disconnect", sorted(ids), dropped,
                           message=f"dropped {dropped} links of {len(ids)} stations (the others were not connected)")

    async def partition(
        self, duration: float, station_ids: list[str] | None = None, *, share: float | None = None,
        seed: int | None = None,
    ) -> FaultResult:
        seed = self.seed if seed is None else seed
        if self.stations or self.csms is None:
            ids = fault_targets("partition", self.stations, station_ids, share, seed)
            stations = self.stations
            dropped = await _each(ids, lambda sid: stations[sid].partition(duration))
        else:
            csms = self.csms
            ids = fault_targets("partition", self._csms_known(station_ids), station_ids, share, seed)
            dropped = await _each(ids, lambda sid: csms.partition(sid, duration))
        return FaultResult("partition", sorted(ids), dropped, until=time.time() + duration,
                           message=f"{len(ids)} stations cut off for {duration:g} s ({dropped} links dropped)")

    def _csms_known(self, station_ids: list[str] | None) -> set[str]:
        """Stations a CSMS alone can name: those it ever saw (ids), those connected now (a share)."""
        csms = self._csms()
        if station_ids is not None:
            return set(csms.stations())
        return {c.station_id for c in csms.connections()}

    async def restart_csms(self, downtime: float = 5.0) -> FaultResult:
        csms = self._csms()
        with actor_errors():
            closed = await csms.restart(downtime)
        return FaultResult("restart_csms", dropped=closed, until=time.time() + downtime,
                           message=f"the CSMS is down ({closed} connections closed); it listens again "
                                   f"in {downtime:g} s")

    async def set_boot_status(self, status: BootStatus | None, station_ids: list[str] | None = None) -> FaultResult:
        csms = self._csms()
        if station_ids is None:
            if status is None:
                raise ControlError(ErrorCode.BAD_REQUEST,
                                   "set_boot_status: the answer for every station cannot be null: give a status "
                                   "(or station_ids, to restore the usual answer for them)")
            with actor_errors():
                csms.set_boot_status(status)
            return FaultResult("set_boot_status", message=f"every station's boot is answered {status}")
        ids = list(dict.fromkeys(station_ids))
        if self.stations:  # a fleet in this process: its stations, or any the CSMS saw
            fault_targets("set_boot_status", set(self.stations) | set(csms.stations()), ids, None, 0)
        for sid in ids:
            with actor_errors():
                csms.set_boot_status(status, sid)
        answer = status if status is not None else "the usual answer"
        return FaultResult("set_boot_status", sorted(ids),
                           message=f"{len(ids)} stations get {answer} at their next BootNotification")


