"""Fleet files: which stations to simulate, where they connect, and how fast to start them.

A fleet file is TOML::

    [fleet]
    seed = 42                      # every random choice of the run derives from it
    ramp = 500                     # stations started per second (all workers together)
    duration = 60                  # seconds, after the ramp; 0 = until Ctrl-C
    csms = ["ws://127.0.0.1:9000/ocpp"]   # optional: one or several CSMS URLs; stations are
                                          # spread over them round-robin. Absent: the built-in CSMS.
    station_id = "CS{index:06d}"   # default id pattern; {index} counts from 0 over the whole fleet
    speed = 1                      # simulated seconds per real second of the simulated world (drivers,
                                   # sessions, energy, fault schedules); protocol timings stay real
    speed_protocol = false         # true: compress the protocol timings by `speed` too (back-off,
                                   # heartbeat, meter-value and retry intervals): a load no real fleet makes

    [[group]]
    profile = "home-wallbox.toml"  # a station profile, relative to this file (or a shipped name)
    count = 1000
    station_id = "HOME{index:05d}" # optional: this group's own pattern ({index} counts within the group)

    [faults]                       # optional: fault injection for every group (see fleet.faults);
    disconnect_rate = 6            # a profile's own [faults] values win, field by field

Stations are numbered over the whole fleet in file order, and that order alone
decides which worker, shard and CSMS URL a station belongs to, so a run is
reproducible and ``--shard I/N`` slices are disjoint and complete.
"""

from __future__ import annotations

import hashlib
import math
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import msgspec

from ..actors.station import load_profile
from ..faults import FaultSpec, merge_faults
from ..net.transport import STATION_ID_PLACEHOLDER
from ..profiles import ProfileError, StationProfile

__all__ = [
    "BUILTIN_CSMS",
    "FleetConfig",
    "FleetError",
    "FleetFile",
    "FleetPlan",
    "Group",
    "StationSpec",
    "csms_url_problem",
    "load_fleet",
    "load_fleet_or_profile",
    "shipped_profiles_dir",
]

#: Marker for "the built-in CSMS started by ``fleet run``".
BUILTIN_CSMS = "builtin"


#: What ``speed`` compresses: the world the stations simulate.
SIMULATED_WORLD = ("plug-in, idle and session times", "energy and SoC", "EV connection timeout", "fault schedules",
                   "firmware and log steps")
#: What ``speed`` leaves real unless ``speed_protocol`` is set: the protocol's own timings.
PROTOCOL_TIMINGS = ("reconnect back-off", "boot retries", "heartbeat interval", "meter-value intervals",
                    "message retry intervals", "reboot time")
#: Never compressed.
ALWAYS_REAL = ("call timeouts", "websocket pings", "handshake timeouts", "clock-aligned meter values")


class FleetError(ValueError):
    """A fleet file that cannot be used; the message names the file, the field and what was expected."""


class FleetConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The ``[fleet]`` table.

    Attributes:
        seed: seed of every random choice in the run.
        ramp: stations started per second, all workers together (``> 0``).
        duration: seconds the fleet runs once ramped up; ``0`` runs until interrupted.
        csms: CSMS URLs (``ws://`` or ``wss://``); empty means the built-in CSMS.
        station_id: the default station-id pattern, a Python format string with ``{index}``.
        speed: simulated seconds per real second of the simulated world: drivers and
            vehicles (plug-in, idle and session times, energy, SoC), fault schedules,
            firmware and log steps; ``60`` plays an hour of it in a minute. Protocol
            timings stay real, so the stations offer the load real ones would.
        speed_protocol: compress the protocol timings by ``speed`` as well (reconnect
            back-off, boot retries, the heartbeat interval the CSMS sets, meter-value
            and message retry intervals, the reboot time): a load no real fleet makes,
            e.g. to hurry a functional test. Call timeouts and pings stay real anyway.
        password: one password every station sends (HTTP Basic, user = its station id), in
            place of its profile's ``[security] password`` pattern, as CSMSs that enrol
            unknown stations with one shared token want (``{station_id}`` in it is still
            replaced). A station of security profile 0 then uses profile 1; one of profile 3
            keeps its client certificate.
    """

    seed: int = 1
    ramp: Annotated[float, msgspec.Meta(gt=0)] = 200.0
    duration: Annotated[float, msgspec.Meta(ge=0)] = 60.0
    csms: list[str] = []
    station_id: str = "CS{index:06d}"
    speed: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    speed_protocol: bool = False
    password: Annotated[str, msgspec.Meta(min_length=1)] | None = None

    def protocol_speed(self) -> float:
        """The factor the stations divide their protocol timings by (1: real)."""
        return self.speed if self.speed_protocol else 1.0

    def speed_record(self) -> dict[str, object]:
        """What ``speed`` changed, for the report: the factor, what it compressed, what stayed real."""
        protocol = self.protocol_speed()
        return {
            "factor": self.speed,
            "simulated_world": list(SIMULATED_WORLD),
            "protocol_factor": protocol,
            "protocol_timings": list(PROTOCOL_TIMINGS),
            "protocol_timings_real": protocol == 1.0,
            "always_real": list(ALWAYS_REAL),
        }


class Group(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One ``[[group]]``: a profile and how many stations run it.

    Attributes:
        profile: path of the station profile (relative to the fleet file), or the
            name of a shipped profile (``home-wallbox``, ``public-ac-post``, ``dc-fast``).
        count: number of stations (``>= 0``; no upper limit).
        station_id: this group's id pattern; ``{index}`` then counts within the group.
    """

    profile: str
    count: Annotated[int, msgspec.Meta(ge=0)]
    station_id: str | None = None


class FleetFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A whole fleet file: ``[fleet]``, the ``[[group]]`` list and an optional ``[faults]`` table."""

    fleet: FleetConfig = FleetConfig()
    group: Annotated[list[Group], msgspec.Meta(min_length=1)] = []
    faults: FaultSpec = FaultSpec()


class StationSpec(msgspec.Struct, frozen=True, array_like=True):
    """One station of the plan.

    Attributes:
        index: position in the whole fleet (0-based).
        station_id: its id.
        group: index of its group (and profile) in the plan.
        csms_url: where it connects (``BUILTIN_CSMS`` until the run resolves it).
        seed: its own seed, derived from the fleet seed and its id.
    """

    index: int
    station_id: str
    group: int
    csms_url: str
    seed: int


class FleetPlan(msgspec.Struct, frozen=True):
    """A validated fleet: its settings, its profiles and how to enumerate its stations.

    Attributes:
        source: the file it came from (for messages).
        config: the ``[fleet]`` settings.
        groups: the groups, each with its loaded profile.
        profiles: the profile of each group, in group order (its ``faults`` already
            merged with the fleet's ``[faults]`` table).
        faults: the fleet file's ``[faults]`` table (the run-level settings, such as
            ``csms_restart_at``, are read from it).
    """

    source: str
    config: FleetConfig
    groups: list[Group]
    profiles: list[StationProfile]
    faults: FaultSpec = FaultSpec()

    @property
    def size(self) -> int:
        """Number of stations in the fleet."""
        return sum(g.count for g in self.groups)

    def shard_size(self, shard: tuple[int, int] = (0, 1)) -> int:
        """Number of stations in shard ``I/N`` (those :meth:`stations` yields for it)."""
        shard_index, shard_count = shard
        return len(range(shard_index, self.size, shard_count))

    def stations(self, *, shard: tuple[int, int] = (0, 1), worker: tuple[int, int] = (0, 1)) -> Iterator[StationSpec]:
        """The stations of one shard (``I/N``) and, within it, of one worker (``i/W``), in order.

        Slicing is by the station's index: shard ``I`` of ``N`` takes indexes with
        ``index % N == I``; worker ``i`` of ``W`` then takes every ``W``-th of those.
        """
        shard_index, shard_count = shard
        worker_index, worker_count = worker
        urls = self.config.csms or [BUILTIN_CSMS]
        index = 0
        position = 0  # position within the shard
        for group_number, group in enumerate(self.groups):
            pattern = group.station_id or self.config.station_id
            for local in range(group.count):
                if index % shard_count == shard_index:
                    if position % worker_count == worker_index:
                        counter = local if group.station_id else index
                        station_id = pattern.format(index=counter)
                        yield StationSpec(index, station_id, group_number, urls[index % len(urls)], _seed(self.config.seed, station_id))
                    position += 1
                index += 1

    def with_overrides(
        self,
        *,
        stations: int | None = None,
        csms: list[str] | None = None,
        ramp: float | None = None,
        duration: float | None = None,
        seed: int | None = None,
        speed: float | None = None,
        speed_protocol: bool | None = None,
        password: str | None = None,
    ) -> FleetPlan:
        """This plan with command-line overrides; ``stations`` rescales the group counts
        proportionally (largest remainders), keeping at least the given total.

        Raises:
            FleetError: an override out of its field's bounds (the same checks as a fleet file's).
        """
        config = msgspec.structs.replace(
            self.config,
            **{k: v for k, v in {"csms": csms, "ramp": ramp, "duration": duration, "seed": seed, "speed": speed,
                                 "speed_protocol": speed_protocol, "password": password}.items() if v is not None},
        )
        try:
            config = msgspec.convert(msgspec.to_builtins(config), FleetConfig)
        except msgspec.ValidationError as exc:
            raise FleetError(f"{self.source} with the command-line options: {exc}".replace("`$.", "`$.fleet.")) from None
        _check_urls(config.csms, f"{self.source} with the command-line options")
        _check_config(config, f"{self.source} with the command-line options")
        groups = self.groups
        if stations is not None:
            if stations < 0:
                raise FleetError(f"stations: expected a count >= 0, got {stations}")
            groups = _rescale(groups, stations)
        return FleetPlan(self.source, config, groups, _with_password(self.profiles, config.password), self.faults)

    def with_faults(self, faults: FaultSpec) -> FleetPlan:
        """This plan with ``faults`` (e.g. from ``--fault`` options) over the fleet's and
        every profile's ``[faults]``: each field ``faults`` sets (not default) wins."""
        profiles = [msgspec.structs.replace(p, faults=merge_faults(p.faults, faults)) for p in self.profiles]
        return FleetPlan(self.source, self.config, self.groups, profiles, merge_faults(self.faults, faults))


def _with_password(profiles: list[StationProfile], password: str | None) -> list[StationProfile]:
    """The profiles with the fleet-wide ``password`` in place of their password patterns
    (see :attr:`FleetConfig.password`); as they are without one."""
    if password is None:
        return profiles
    shared = []
    for profile in profiles:
        security = profile.security
        level = 1 if security.profile == 0 else security.profile
        shared.append(msgspec.structs.replace(
            profile, security=msgspec.structs.replace(security, profile=level, password=password)))
    return shared


def _rescale(groups: list[Group], total: int) -> list[Group]:
    weights = [g.count for g in groups]
    weight_sum = sum(weights) or len(groups)
    if sum(weights) == 0:
        weights = [1] * len(groups)
    exact = [total * w / weight_sum for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(groups)), key=lambda i: exact[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[i] += 1
    return [msgspec.structs.replace(g, count=c) for g, c in zip(groups, counts, strict=True)]


def _seed(fleet_seed: int, station_id: str) -> int:
    digest = hashlib.blake2b(f"{fleet_seed}:{station_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shipped_profiles_dir(package: Path | None = None) -> Path:
    """Where the profiles shipped with fleet live: ``profiles/`` of the source tree, or, in an installed
    wheel, ``fleet/shipped_profiles/`` (in the source tree a link to ``profiles/``, whose files the wheel
    carries as package data)."""
    package = package or Path(__file__).resolve().parents[1]  # fleet/
    for candidate in (package.parent / "profiles", package / "shipped_profiles"):
        if candidate.is_dir():
            return candidate
    return package.parent / "profiles"


def _resolve_profile(name: str, base: Path) -> Path:
    candidates = [base / name, shipped_profiles_dir() / name]
    if not name.endswith(".toml"):
        candidates += [base / f"{name}.toml", shipped_profiles_dir() / f"{name}.toml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(name)


def _check_pattern(pattern: str, where: str) -> None:
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None}
        pattern.format(index=0)
    except (ValueError, KeyError, IndexError) as exc:
        raise FleetError(f"{where}: invalid station-id pattern {pattern!r}: {exc}") from None
    if fields != {"index"}:
        raise FleetError(f"{where}: station-id pattern {pattern!r} must contain {{index}} and no other field")


def csms_url_problem(url: str) -> str | None:
    """What is wrong with a CSMS URL (``None``: nothing): it must be ``ws://`` or
    ``wss://`` with a host (and, if given, a port 1..65535). It is the endpoint the station
    id is appended to, or a template with ``{station_id}`` where the id goes (no other
    ``{...}``)."""
    if "{" in url.replace(STATION_ID_PLACEHOLDER, "") or "}" in url.replace(STATION_ID_PLACEHOLDER, ""):
        return (f"CSMS URL {url!r}: the only placeholder of a URL template is {STATION_ID_PLACEHOLDER} "
                f"(e.g. ws://host/ocpp/{STATION_ID_PLACEHOLDER}/)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"CSMS URL {url!r} is not a valid URL (expected e.g. ws://host:9000/ocpp)"
    if parts.scheme not in ("ws", "wss"):
        return f"CSMS URL {url!r} must start with ws:// or wss:// (e.g. ws://host:9000/ocpp)"
    if not parts.hostname:
        return f"CSMS URL {url!r} has no host (expected e.g. ws://host:9000/ocpp)"
    if port == 0:
        return f"CSMS URL {url!r}: port 0 cannot be connected to"
    return None


def _check_urls(urls: list[str], where: str) -> None:
    for url in urls:
        problem = csms_url_problem(url)
        if problem:
            raise FleetError(f"{where}: {problem}")


def _check_config(config: FleetConfig, where: str) -> None:
    """What msgspec's bounds do not say: numbers finite (TOML allows inf and nan)."""
    for name in ("ramp", "duration", "speed"):
        value = getattr(config, name)
        if not math.isfinite(value):
            raise FleetError(f"{where}: `$.fleet.{name}`: expected a finite number, got {value}")


def load_fleet(path: str | Path) -> FleetPlan:
    """Read and validate a fleet file and every profile it names.

    Raises:
        FleetError: with the file, the field (``$.group[1].count`` style) and what was expected.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FleetError(f"{path}: cannot read fleet file: {exc.strerror}") from None
    try:
        fleet = msgspec.toml.decode(raw, type=FleetFile)
    except msgspec.ValidationError as exc:
        raise FleetError(f"{path}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise FleetError(f"{path}: not valid TOML: {exc}") from None
    if not fleet.group:
        raise FleetError(f"{path}: `$.group`: expected at least one [[group]] with a profile and a count")
    _check_pattern(fleet.fleet.station_id, f"{path}: `$.fleet.station_id`")
    _check_urls(fleet.fleet.csms, f"{path}: `$.fleet.csms`")
    _check_config(fleet.fleet, str(path))
    profiles = []
    for i, group in enumerate(fleet.group):
        if group.station_id is not None:
            _check_pattern(group.station_id, f"{path}: `$.group[{i}].station_id`")
        try:
            profile_path = _resolve_profile(group.profile, path.parent)
        except FileNotFoundError:
            raise FleetError(
                f"{path}: `$.group[{i}].profile`: no profile file {group.profile!r} next to the fleet file or shipped"
            ) from None
        try:
            profile = load_profile(profile_path)
        except ProfileError as exc:
            raise FleetError(str(exc)) from None
        if fleet.faults.enabled:
            profile = msgspec.structs.replace(profile, faults=merge_faults(fleet.faults, profile.faults))
        profiles.append(profile)
    return FleetPlan(str(path), fleet.fleet, list(fleet.group), _with_password(profiles, fleet.fleet.password),
                     fleet.faults)


def load_fleet_or_profile(path: str | Path, stations: int | None = None) -> FleetPlan:
    """A fleet file, or a station profile as a fleet of ``stations`` (default 10) stations of it
    (a ``.toml`` file with neither ``[fleet]`` nor ``[[group]]`` is a profile).

    Raises:
        FleetError: the file cannot be read or is not a valid fleet file or profile.
    """
    path = Path(path)
    if path.suffix == ".toml" and path.is_file():
        text = path.read_bytes()
        if b"[[group]]" not in text and b"[fleet]" not in text:
            return plan_from_profile(path, stations or 10)
    return load_fleet(path)


def plan_from_profile(path: str | Path, count: int) -> FleetPlan:
    """A plan of ``count`` stations all running one profile file."""
    path = Path(path)
    try:
        profile_path = _resolve_profile(str(path), Path.cwd())
        profile = load_profile(profile_path)
    except FileNotFoundError:
        raise FleetError(f"{path}: no such profile file") from None
    except ProfileError as exc:
        raise FleetError(str(exc)) from None
    return FleetPlan(str(path), FleetConfig(), [Group(profile=str(path), count=count)], [profile], profile.faults)
