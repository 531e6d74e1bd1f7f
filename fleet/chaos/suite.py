"""The robustness suite: fleet's CSMS and stations under attack, nothing lost.

:func:`run_suite` runs, in one process and only on 127.0.0.1:

1. the frame decoder (:class:`~fleet.ocpp.Session`, both roles) fed random bytes,
   random JSON, mangled frames and every malformed class;
2. the built-in CSMS serving a *healthy* fleet (no faults) and a *faulted* fleet
   (random disconnects, a partition, slow, silent and late answers, malformed
   traffic, boot loops, Pending/Rejected boots, clock skew), while raw attackers hit
   it with garbage before, at and after the handshake, and the CSMS calls stations
   (meeting the slow, silent and late ones);
3. a hostile CSMS attacking *victim* stations (random frames, every malformed class,
   random valid requests of every action, garbage answers), beside the healthy fleet;
4. a CSMS restart: every station reconnects with its back-off and jitter (a mass
   reconnect), timed until the whole fleet is back;
5. the nothing-lost audit of every transaction of both fleets against what the CSMS
   recorded;
6. floods (:mod:`.flood`): one station floods the CSMS, and a hostile CSMS floods one
   station, while healthy stations' round trips are compared with a baseline.

The :class:`SuiteReport` counts the inputs tried per class, the answers, crashes
(must be 0), the healthy fleet's errors (must be 0) and lost events (must be 0).
:func:`probe_csms` sends the malformed classes to any CSMS and reports its answers.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import msgspec
import trio

from ..actors.csms import Csms
from ..actors.station import Station
from ..faults import (
    MALFORMED_CLASSES,
    FaultSpec,
    RecoveryClock,
    boot_statuses,
    merge_fault_records,
    record_probe,
)
from ..malformed import directions, expected_answers, make_probe, random_request
from ..net import transport
from ..ocpp import V201, VERSIONS_BY_NAME, ProtocolVersion, Session
from ..ocpp.errors import ErrorCode
from ..profiles import RetryBackoff, SampledData, SessionGenerator, StationProfile, station_password
from ..run.audit import audit_transactions
from .attacks import (
    RAW_CLASSES,
    RAW_EXPECTED,
    STATION_CLASSES,
    WEBSOCKET_CLASSES,
    HostileCsms,
    random_bytes_probe,
    random_json_probe,
    raw_attack,
    websocket_attack,
)

__all__ = ["SuiteConfig", "SuiteReport", "chaos_faults", "chaos_profile", "probe_csms", "render_report", "run_suite"]

logger = logging.getLogger("fleet.chaos")

#: Raw attacks that wait for the server's handshake or idle timeout.
_SLOW_RAW: Final = frozenset({"silent_tcp", "partial_handshake", "silent_websocket", "garbage_bytes"})
#: Station groups of the suite.
HEALTHY: Final = "HEALTHY{:03d}"
FAULTED: Final = "FAULTY{:03d}"
VICTIM: Final = "VICTIM{:03d}"
ATTACKER: Final = "ATTACK{:03d}"
IDLER: Final = "IDLE{:03d}"


class SuiteConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How big and how long the suite is.

    Attributes:
        seed: seed of every random choice (stations, faults, attacks).
        healthy: stations with no faults, against the built-in CSMS.
        faulted: stations with faults, against the built-in CSMS.
        victims: stations against the hostile CSMS.
        attackers: concurrent raw attackers against the built-in CSMS.
        attack_seconds: how long the attack phase lasts (real seconds).
        speed: simulated seconds per real second of the stations' timers, protocol timings
            included (a robustness suite, not a load: it hurries reconnections and retries).
        decoder_inputs: random inputs fed to the frame decoder (per role).
        idle_timeout: the CSMS's limit for connections that never send a message.
        csms_call_timeout: the CSMS's call timeout (late answers come after it).
        csms_downtime: seconds the CSMS stays down when it restarts.
        settle_timeout: seconds to wait for the fleet to reconnect and drain its queues.
        faults: the faulted fleet's faults (default: :func:`chaos_faults`).
        flood_seconds: seconds of each flood (:mod:`.flood`); 0 skips the floods.
        ocpp_version: the OCPP version the suite's stations, attackers and hostile CSMS speak
            (the floods speak 2.0.1).
    """

    seed: int = 1
    healthy: int = 20
    faulted: int = 20
    victims: int = 4
    attackers: int = 4
    attack_seconds: float = 20.0
    speed: float = 20.0
    decoder_inputs: int = 20000
    idle_timeout: float = 3.0
    csms_call_timeout: float = 2.0
    csms_downtime: float = 2.0
    settle_timeout: float = 60.0
    faults: FaultSpec | None = None
    flood_seconds: float = 6.0
    ocpp_version: str = V201.name


class SuiteReport(msgspec.Struct, kw_only=True):
    """What the suite found.

    Attributes:
        config: the configuration it ran with.
        inputs: inputs tried, per target and class.
        crashes: actor tasks that died of an exception (must be 0), with ``crash_details``.
        internal_errors: errors the actors logged (exceptions they caught), with samples.
        decoder: the frame decoder fuzz: inputs per role, exceptions.
        csms_raw: attacks at the handshake: per class, tried / as expected / outcomes.
        csms_websocket: attacks over a websocket: per class, tried / matched / outcomes.
        csms_from_stations: the faulted stations' malformed traffic: per class, the same.
        stations_attacked: the hostile CSMS's attacks on stations: per class, the same.
        handler_errors: station handlers that failed on a valid request (action: count).
        healthy: the healthy fleet during the attack: errors must be 0.
        faults: what fault injection did (merged over the faulted fleet).
        csms_calls: the CSMS's calls to stations: answered, timed out, failed.
        mass_reconnect: the CSMS restart: stations, downtime, seconds until the fleet was back.
        audit: the nothing-lost audit (missing, duplicated, retransmissions, ...).
        memory: resident memory before and after, and the limits that bound it.
        flood: the floods: per direction the healthy round trips (baseline and flood),
            what the flooder got back, the memory held for it, and the goals met.
        lost_events: missing events in the audit (must be 0).
        passed: no crash, healthy fleet without errors, nothing lost, fleet back,
            every attack answered as expected.
        problems: why it did not pass.
    """

    config: dict[str, Any] = {}
    inputs: dict[str, dict[str, int]] = {}
    crashes: int = 0
    crash_details: list[str] = []
    internal_errors: int = 0
    internal_error_samples: list[str] = []
    decoder: dict[str, Any] = {}
    csms_raw: dict[str, Any] = {}
    csms_websocket: dict[str, Any] = {}
    csms_from_stations: dict[str, Any] = {}
    stations_attacked: dict[str, Any] = {}
    handler_errors: dict[str, int] = {}
    healthy: dict[str, Any] = {}
    faults: dict[str, Any] = {}
    csms_calls: dict[str, int] = {}
    mass_reconnect: dict[str, Any] = {}
    audit: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    flood: dict[str, Any] = {}
    lost_events: int = 0
    passed: bool = False
    problems: list[str] = []


# ------------------------------------------------------------------ set-up


def chaos_profile(*, password: bool = True, ocpp_version: str = V201.name) -> StationProfile:
    """The suite's stations: one 22 kW EVSE, short sessions, a visible back-off, speaking ``ocpp_version``."""
    from ..profiles import EvseProfile, Security

    return StationProfile(
        name="chaos",
        ocpp_version=ocpp_version,
        heartbeat_interval=60,
        ping_interval=0,
        message_timeout=10,
        reboot_delay=10.0,
        security=Security(profile=1 if password else 0, password="fleet-{station_id}-password" if password else None),
        retry_backoff=RetryBackoff(wait_minimum=10, repeat_times=2, random_range=10),
        sampled_data=SampledData(tx_updated_interval=30),
        evses=[EvseProfile(max_power=22000)],
        sessions=SessionGenerator(start_delay=(0, 20), idle_time=(10, 60), session_duration=(120, 400),
                                  plug_in_delay=(1, 5), plug_out_delay=(1, 5), energy_demand=(2000, 20000)),
    )


def chaos_faults(config: SuiteConfig) -> FaultSpec:
    """The faulted fleet's default faults, timed to fit ``config``'s attack phase."""
    attack = config.attack_seconds
    return FaultSpec(
        disconnect_rate=60.0,
        partition_share=0.25,
        partition_at=attack * 0.25,
        partition_duration=attack * 0.25,
        slow_share=0.2,
        response_delay=(0.1, config.csms_call_timeout * 0.8),
        silent_share=0.1,
        late_share=0.1,
        late_delay=config.csms_call_timeout + 1.0,
        malformed_rate=600.0,
        malformed_share=0.5,
        oversize_bytes=300 * 1024,
        answer_timeout=3.0,
        boot_loop_share=0.1,
        boot_loop_interval=(120.0, 240.0),
        boot_pending_share=0.1,
        boot_rejected_share=0.05,
        boot_refusal_duration=attack * 0.3,
        clock_skew=(-600.0, 600.0),
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class _ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.samples) < 10:
            self.samples.append(f"{record.name}: {record.getMessage()}"[:300])


async def _guarded(name: str, crashes: list[str], run: Callable[..., Awaitable[Any]],
                   *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
    """Run an actor; an exception escaping it is a crash (recorded, not propagated)."""
    try:
        await run(task_status=task_status)
    except Exception as exc:
        crashes.append(f"{name}: {type(exc).__name__}: {exc}"[:300])


def _online(station: Station) -> bool:
    snapshot = station.snapshot()
    return snapshot.connected and snapshot.registration == "Accepted"


def _settled(station: Station) -> bool:
    snapshot = station.snapshot()
    return snapshot.connected and snapshot.registration == "Accepted" and snapshot.queued_events == 0


async def _wait_all(stations: list[Station], predicate: Callable[[Station], bool], timeout: float) -> bool:
    with trio.move_on_after(timeout):
        while not all(predicate(s) for s in stations):
            await trio.sleep(0.05)
        return True
    return False


def _csms_records(csms: Csms) -> dict[str, dict[str, dict[str, Any]]]:
    recorded: dict[str, dict[str, dict[str, Any]]] = {}
    for station_id, record in csms.stations().items():
        recorded[station_id] = {
            tx_id: {"seq": [e.seq_no for e in tx.events], "energy": tx.energy_wh,
                    "retransmitted": [e.seq_no for e in tx.events if e.retransmission]}
            for tx_id, tx in record.transactions.items()
        }
    return recorded


# ----------------------------------------------------------------- decoder


def fuzz_decoder(inputs: int, seed: int, version: ProtocolVersion = V201) -> dict[str, Any]:
    """Feed ``inputs`` random inputs per role to the session of OCPP ``version``; count inputs and exceptions."""
    rng = random.Random(seed)
    result: dict[str, Any] = {"inputs": 0, "exceptions": 0, "answers": 0, "samples": []}
    valid = [f'[2,"m{i}","{a}",{msgspec.json.encode(random_request(version, a, rng)).decode()}]'
             for i, a in enumerate(sorted(version.actions))]
    to_csms, to_station = directions(version)
    for role, direction, supported in (("csms", to_csms, version.initiated_by_station), ("station", to_station, None)):
        session = Session(version, role=role, supported_actions=supported)  # type: ignore[arg-type]
        for n in range(inputs):
            kind = n % 5
            data: str | bytes
            if kind == 0:
                data = rng.randbytes(rng.randint(0, 300))
            elif kind == 1:
                data = random_json_probe(rng).frames[0]
            elif kind == 2:  # a valid frame mangled: a byte changed, cut, or doubled
                frame = bytearray(rng.choice(valid).encode())
                for _ in range(rng.randint(1, 4)):
                    frame[rng.randrange(len(frame))] = rng.randrange(256)
                data = bytes(frame[: rng.randint(1, len(frame))]) if rng.random() < 0.3 else bytes(frame)
            elif kind == 3:
                data = make_probe(rng.choice(MALFORMED_CLASSES[:4]), rng, direction).frames[0]
            else:
                data = rng.choice(valid) if rng.random() < 0.5 else random_bytes_probe(rng).frames[0]
            result["inputs"] += 1
            try:
                session.receive_frame(data, float(n))
                result["answers"] += len(session.data_to_send())
                session.handle_timeouts(float(n))
            except Exception as exc:  # the session must never raise
                result["exceptions"] += 1
                if len(result["samples"]) < 5:
                    result["samples"].append(f"{role}: {type(exc).__name__}: {exc} for {data[:80]!r}")
            if n % 200 == 0:  # answer what the application would, so state stays bounded
                for message_id in list(session.awaiting_reply()):
                    session.reply_error(message_id, "NotSupported")
    return result


# ------------------------------------------------------------------- suite


class _CsmsRunner:
    """Runs the CSMS in a nursery; stops and starts it again (a restart, records kept)."""

    def __init__(self, csms: Csms, nursery: trio.Nursery, crashes: list[str]) -> None:
        self.csms = csms
        self.nursery = nursery
        self.crashes = crashes
        self.stopped = trio.Event()

    async def start(self) -> None:
        self.stopped = trio.Event()
        await self.nursery.start(self._run)

    async def _run(self, *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await _guarded("csms", self.crashes, self.csms.run, task_status=task_status)
        finally:
            self.stopped.set()

    async def stop(self) -> None:
        self.csms.stop()
        await self.stopped.wait()


async def run_suite(config: SuiteConfig | None = None,
                    progress: Callable[[str], None] | None = None) -> SuiteReport:
    """Run the robustness suite (see the module's description) and return its report."""
    config = config or SuiteConfig()
    say = progress or (lambda text: None)
    spec = config.faults or chaos_faults(config)
    report = SuiteReport(config=msgspec.to_builtins(config))
    crashes: list[str] = []
    errors = _ErrorCounter()
    fleet_logger = logging.getLogger("fleet")
    fleet_logger.addHandler(errors)
    rss_start = _rss()
    try:
        say(f"decoder: {config.decoder_inputs:,} random inputs per role")
        report.decoder = fuzz_decoder(config.decoder_inputs, config.seed, VERSIONS_BY_NAME[config.ocpp_version])
        await _run_actors(config, spec, report, crashes, say)
        if config.flood_seconds > 0:
            from .flood import FloodConfig, run_flood

            report.flood = await run_flood(FloodConfig(flood_s=config.flood_seconds), say)
    finally:
        fleet_logger.removeHandler(errors)
    report.crashes = len(crashes) + int(report.decoder.get("exceptions", 0))
    report.crash_details = crashes + list(report.decoder.get("samples", []))
    report.internal_errors = errors.count
    report.internal_error_samples = errors.samples
    report.memory["rss_start"] = rss_start
    report.memory["rss_end"] = _rss()
    report.inputs = {
        "decoder": {"random inputs": int(report.decoder.get("inputs", 0))},
        "csms (handshake)": {k: v["tried"] for k, v in report.csms_raw.items()},
        "csms (websocket)": {k: v["tried"] for k, v in report.csms_websocket.items()},
        "csms (faulted stations)": {k: v["tried"] for k, v in report.csms_from_stations.items()},
        "stations (hostile CSMS)": {k: v["tried"] for k, v in report.stations_attacked.items()},
    }
    _verdict(report)
    return report


async def _run_actors(config: SuiteConfig, spec: FaultSpec, report: SuiteReport, crashes: list[str],
                      say: Callable[[str], None]) -> None:
    rng = random.Random(config.seed)
    version = VERSIONS_BY_NAME[config.ocpp_version]
    profile = chaos_profile(ocpp_version=version.name)
    healthy_ids = [HEALTHY.format(i) for i in range(config.healthy)]
    faulted_ids = [FAULTED.format(i) for i in range(config.faulted)]
    attacker_ids = [ATTACKER.format(i) for i in range(max(config.attackers, 1))]
    # silent websockets each need an id of their own (a second connection of one id replaces the first)
    idler_ids = [IDLER.format(i) for i in range(8 * max(config.attackers, 1))]
    passwords = {sid: station_password(profile, sid) or ""
                 for sid in healthy_ids + faulted_ids + attacker_ids + idler_ids}
    port = _free_port()
    csms = Csms("127.0.0.1", port, auth=passwords, call_timeout=config.csms_call_timeout,
                idle_timeout=config.idle_timeout, boot_retry_interval=2, heartbeat_interval=60)
    seeds = {sid: rng.getrandbits(63) for sid in healthy_ids + faulted_ids + [VICTIM.format(i) for i in range(config.victims)]}
    refused = boot_statuses((sid, seeds[sid], spec) for sid in faulted_ids)
    for station_id, status in refused.items():
        csms.set_boot_status(status, station_id)
    epoch = time.time()

    async with trio.open_nursery() as nursery:
        runner = _CsmsRunner(csms, nursery, crashes)
        await runner.start()
        healthy = [Station(sid, csms.url, profile=profile, seed=seeds[sid], speed=config.speed,
                           protocol_speed=config.speed, audit=True)
                   for sid in healthy_ids]
        faulted = [Station(sid, csms.url, profile=profile, seed=seeds[sid], speed=config.speed,
                           protocol_speed=config.speed, audit=True, faults=spec, fault_epoch=epoch) for sid in faulted_ids]
        hostile = HostileCsms(rng.getrandbits(63), oversize_bytes=spec.oversize_bytes, versions=(version,))
        hostile_url = await nursery.start(functools.partial(_guarded, "hostile CSMS", crashes, hostile.run))
        victim_profile = chaos_profile(password=False, ocpp_version=version.name)
        victims = [Station(VICTIM.format(i), hostile_url, profile=victim_profile, seed=seeds[VICTIM.format(i)],
                           speed=config.speed, protocol_speed=config.speed, handler_timeout=5.0) for i in range(config.victims)]
        stations = healthy + faulted
        async with trio.open_nursery() as fleet:
            for station in stations + victims:
                await fleet.start(functools.partial(_guarded, station.station_id, crashes, station.run))
            say(f"attack: {config.attack_seconds:g} s; {len(healthy)} healthy and {len(faulted)} faulted stations "
                f"on the built-in CSMS, {config.attackers} raw attackers, {len(victims)} stations on a hostile CSMS")
            await _attack_phase(config, spec, csms, healthy, faulted, attacker_ids, idler_ids, passwords, refused,
                                epoch, report, rng)
            report.healthy = _healthy_figures(healthy)
            report.stations_attacked = hostile.attacks
            report.handler_errors = dict(hostile.handler_errors)
            report.memory.update({
                "csms_connections_after_attack": csms.statistics().connected,
                "fleet_stations": len(stations),
                "max_message_size": csms.max_message_size,
                "handshake_timeout_s": transport.HANDSHAKE_TIMEOUT,
                "idle_timeout_s": config.idle_timeout,
            })

            say("faults off; the fleet settles")
            for station in faulted:
                await station.stop_faults()
            for station_id in refused:
                csms.set_boot_status(None, station_id)
            settled = await _wait_all(stations, _settled, config.settle_timeout)

            say(f"mass reconnect: the CSMS restarts ({config.csms_downtime:g} s down)")
            report.mass_reconnect = await _mass_reconnect(config, runner, stations, settled)

            say("the fleet settles; audit")
            drained = await _wait_all(stations, _settled, config.settle_timeout)
            report.faults = merge_fault_records(s.fault_records() or {} for s in faulted)
            report.csms_from_stations = report.faults.pop("malformed", {})
            victims_alive = sum(1 for v in victims if v.snapshot().state != "closed")
            for station in stations + victims:
                fleet.start_soon(station.shutdown, 5.0)
        sent = {s.station_id: s.transaction_records() for s in stations}
        report.audit = audit_transactions(sent, _csms_records(csms))
        report.audit["settled"] = drained
        report.stations_attacked = {k: hostile.attacks[k] for k in STATION_CLASSES if k in hostile.attacks}
        report.memory["victims_running_at_end"] = victims_alive
        report.memory["victims"] = len(victims)
        report.memory["hostile_connections"] = hostile.connections
        report.lost_events = int(report.audit.get("missing_events", 0))
        await runner.stop()
        nursery.cancel_scope.cancel()


async def _attack_phase(config: SuiteConfig, spec: FaultSpec, csms: Csms, healthy: list[Station],
                        faulted: list[Station], attacker_ids: list[str], idler_ids: list[str],
                        passwords: dict[str, str], refused: dict[str, str], epoch: float, report: SuiteReport,
                        rng: random.Random) -> None:
    end = trio.current_time() + config.attack_seconds
    version = VERSIONS_BY_NAME[config.ocpp_version]
    harmless_call = version.actions["GetLocalListVersion"][0]  # no required field in any version
    raw: dict[str, dict[str, Any]] = {k: {"tried": 0, "ok": 0, "outcomes": {}} for k in RAW_CLASSES}
    websocket_table: dict[str, dict[str, Any]] = {}
    calls = {"sent": 0, "answered": 0, "timed_out": 0, "failed": 0}
    host, port, path = "127.0.0.1", csms.port or 0, csms.path
    handshake = transport.HANDSHAKE_TIMEOUT

    slow = 0  # slow raw attacks (they wait for the server's timeouts) running now

    async def one_raw(klass: str, arng: random.Random, station_id: str) -> None:
        deadline = (config.idle_timeout if klass == "silent_websocket" else handshake) + 3.0
        outcome = await raw_attack(klass, host, port, path, arng, credentials=(station_id, passwords[station_id]),
                                   deadline=deadline, subprotocol=version.subprotocol)
        entry = raw[klass]
        entry["tried"] += 1
        entry["ok"] += int(outcome in RAW_EXPECTED[klass])
        entry["outcomes"][outcome] = entry["outcomes"].get(outcome, 0) + 1

    idlers = list(idler_ids)  # free ids for silent websockets

    async def slow_raw(klass: str, seed: int, station_id: str) -> None:
        nonlocal slow
        idler = idlers.pop() if klass == "silent_websocket" and idlers else None
        try:
            await one_raw(klass, random.Random(seed), idler or station_id)
        finally:
            slow -= 1
            if idler is not None:
                idlers.append(idler)

    async def attacker(index: int, background: trio.Nursery) -> None:
        nonlocal slow
        station_id = attacker_ids[index % len(attacker_ids)]
        arng = random.Random(rng.getrandbits(63))
        while trio.current_time() < end:
            if arng.random() < 0.5:
                klass = arng.choice(RAW_CLASSES)
                if klass in _SLOW_RAW:  # run beside: it holds a connection until the server's timeout
                    if slow < len(idler_ids):
                        slow += 1
                        background.start_soon(slow_raw, klass, arng.getrandbits(63), station_id)
                else:
                    await one_raw(klass, arng, station_id)
            else:
                await websocket_attack(csms.url, station_id, passwords[station_id], arng, websocket_table,
                                       attempts=10, timeout=3.0, oversize_bytes=spec.oversize_bytes, version=version)
            await trio.sleep(0.01)

    async def caller() -> None:
        crng = random.Random(rng.getrandbits(63))
        everyone = healthy + faulted
        while trio.current_time() < end:
            await trio.sleep(0.05)
            station = crng.choice(everyone)
            if not csms.is_connected(station.station_id):
                continue
            calls["sent"] += 1
            try:
                await csms.call(station.station_id, harmless_call())
                calls["answered"] += 1
            except Exception as exc:  # CallTimeout, ConnectionLost, ...
                calls["timed_out" if type(exc).__name__ == "CallTimeout" else "failed"] += 1

    async def release_refused() -> None:
        if spec.boot_refusal_duration > 0:
            await trio.sleep(max(0.0, epoch + spec.boot_refusal_duration - time.time()))
            for station_id in refused:
                csms.set_boot_status(None, station_id)

    async with trio.open_nursery() as attack:
        attack.start_soon(release_refused)
        for index in range(config.attackers):
            attack.start_soon(attacker, index, attack)
        for _ in range(4):
            attack.start_soon(caller)
        await trio.sleep_until(end)
        # callers stop at once; attackers finish their current attempt (it has its own deadline)
    report.csms_raw = {k: {**v, "expected": sorted(RAW_EXPECTED[k])} for k, v in raw.items()}
    report.csms_websocket = {k: websocket_table[k] for k in WEBSOCKET_CLASSES if k in websocket_table}
    report.csms_calls = calls


def _healthy_figures(healthy: list[Station]) -> dict[str, Any]:
    errors = disconnects = failures = dropped = 0
    last: list[str] = []
    for station in healthy:
        snapshot = station.snapshot()
        c = snapshot.counters
        failures += c.requests_failed
        dropped += c.events_dropped
        disconnects += c.disconnects
        errors += c.requests_failed + c.events_dropped + c.connect_failures + c.disconnects
        if snapshot.last_error and len(last) < 5:
            last.append(f"{station.station_id}: {snapshot.last_error}")
    return {"stations": len(healthy), "online": sum(1 for s in healthy if _online(s)), "errors": errors,
            "failed_requests": failures, "events_dropped": dropped, "disconnects": disconnects,
            "transactions": sum(s.snapshot().counters.transactions_started for s in healthy),
            "last_errors": last}


async def _mass_reconnect(config: SuiteConfig, runner: _CsmsRunner, stations: list[Station],
                          settled: bool) -> dict[str, Any]:
    before = sum(1 for s in stations if _online(s))
    clock = RecoveryClock()
    down_at = trio.current_time()
    await runner.stop()
    stopped_at = trio.current_time()
    await trio.sleep(config.csms_downtime)
    await runner.start()
    back_at = trio.current_time()
    clock.outage(back_at, before)
    with trio.move_on_after(config.settle_timeout):
        while clock.recovery is None:
            clock.observe(trio.current_time(), sum(1 for s in stations if _online(s)))
            await trio.sleep(0.02)
    reconnects = sum(s.snapshot().counters.connects for s in stations)
    return {
        "stations": len(stations),
        "online_before": before,
        "settled_before": settled,
        "down_s": round(back_at - down_at, 2),
        "closing_s": round(stopped_at - down_at, 2),
        "fleet_back_after_s": round(clock.recovery, 2) if clock.recovery is not None else None,
        "connections_total": reconnects,
    }


def _verdict(report: SuiteReport) -> None:
    problems: list[str] = []
    if report.crashes:
        problems.append(f"{report.crashes} crashes: {report.crash_details[:3]}")
    if report.internal_errors:
        problems.append(f"{report.internal_errors} internal errors logged: {report.internal_error_samples[:3]}")
    if report.healthy.get("errors"):
        problems.append(f"healthy fleet: {report.healthy['errors']} errors: {report.healthy.get('last_errors')}")
    audit = report.audit
    if not audit.get("ok", False):
        problems.append(f"audit: {audit.get('problems', [])[:3]}")
    if audit.get("undelivered_events"):
        problems.append(f"audit: {audit['undelivered_events']} events still queued at the end")
    if report.mass_reconnect.get("fleet_back_after_s") is None:
        problems.append("mass reconnect: the fleet did not come back")
    for name, table in (("csms (websocket)", report.csms_websocket), ("csms (faulted stations)", report.csms_from_stations),
                        ("stations (hostile CSMS)", report.stations_attacked)):
        for klass, entry in table.items():
            if entry["matched"] != entry["tried"]:
                problems.append(f"{name}: {klass}: {entry['tried'] - entry['matched']} of {entry['tried']} "
                                f"not answered as expected: {entry['outcomes']}")
    for klass, entry in report.csms_raw.items():
        if entry["ok"] != entry["tried"]:
            problems.append(f"csms (handshake): {klass}: {entry['outcomes']}")
    if report.handler_errors:
        problems.append(f"station handlers failed: {report.handler_errors}")
    memory = report.memory
    if memory.get("csms_connections_after_attack", 0) > memory.get("fleet_stations", 0):
        problems.append(f"the CSMS still holds {memory['csms_connections_after_attack']} connections "
                        f"for {memory['fleet_stations']} stations after the attack")
    if memory.get("victims_running_at_end", 0) != memory.get("victims", 0):
        problems.append("a station attacked by the hostile CSMS stopped")
    for direction, figures in report.flood.items():
        if isinstance(figures, dict) and "goals" in figures:
            missed = [goal for goal, met in figures["goals"].items() if not met]
            if missed:
                problems.append(f"flood {direction}: goals missed: {', '.join(missed)} "
                                f"(baseline {figures['baseline']}, flood {figures['flood']})")
    report.problems = problems
    report.passed = not problems


# ---------------------------------------------------------- any CSMS


async def probe_csms(url: str, *, station_id: str = "FLEET-CHAOS", password: str | None = None,
                     per_class: int = 10, seed: int = 1, timeout: float = 5.0, oversize_bytes: int = 1024 * 1024,
                     boot: bool = True, version: ProtocolVersion = V201) -> dict[str, dict[str, Any]]:
    """Send ``per_class`` probes of every malformed class (plus random bytes and JSON) to the
    CSMS at ``url`` as ``station_id`` speaking OCPP ``version``, and record its answers per
    class (with what a conformant CSMS answers in ``expected``; the codes as the version
    spells them). With ``boot``, each connection starts with a valid BootNotification (a
    CSMS may ignore a station that has not booted)."""
    rng = random.Random(seed)
    to_csms = directions(version)[0]
    table: dict[str, dict[str, Any]] = {}
    order = [k for k in WEBSOCKET_CLASSES for _ in range(per_class)]
    from ..malformed import Expect, Probe
    from .attacks import _probe_for, _run_probe

    boot_frame = None
    if boot:
        # (required fields only, the same every run: a valid boot in any version)
        payload = random_request(version, "BootNotification", random.Random(0), optional=0.0)
        boot_frame = Probe("boot", "boot", (f'[2,"fault-boot",{msgspec.json.encode("BootNotification").decode()},'
                                            f'{msgspec.json.encode(payload).decode()}]',),
                           (Expect("fault-boot", frozenset({"CALLRESULT"})),))
    position = 0
    failures = 0
    while position < len(order) and failures < 20:
        try:
            async with transport.open_station_websocket(url, station_id, password=password,
                                                        subprotocols=(version.subprotocol,)) as (websocket, _):
                if boot_frame is not None:
                    await _run_probe(websocket, boot_frame, timeout)
                while position < len(order):
                    probe = _probe_for(order[position], rng, to_csms, oversize_bytes)
                    position += 1
                    run = await _run_probe(websocket, probe, timeout)
                    record_probe(table, run)
                    if run.closed:
                        break
        except (OSError, trio.TooSlowError, transport.HandshakeError, transport.HandshakeRefused) as exc:
            failures += 1
            logger.warning("chaos: cannot connect to %s: %s", url, exc)
            await trio.sleep(0.5)
    expected = expected_answers(version)
    rpc = version.error_codes.spell(ErrorCode.RPC_FRAMEWORK_ERROR)
    for klass, entry in table.items():
        entry["expected"] = expected.get(klass, f"{rpc} (id -1)" if klass.startswith("random") else "")
    return {k: table[k] for k in WEBSOCKET_CLASSES if k in table}


# ------------------------------------------------------------------ report


def _outcomes(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1])) or "-"


def render_table(title: str, table: dict[str, dict[str, Any]], expected: dict[str, str] | None = None) -> list[str]:
    """Lines of a per-class table: tried, as expected, what came back."""
    lines = [title, f"  {'class':<20}{'tried':>7}{'as expected':>13}  answers"]
    for klass, entry in table.items():
        ok = entry.get("matched", entry.get("ok", 0))
        mark = "✓" if ok == entry["tried"] else "✗"
        lines.append(f"{mark} {klass:<20}{entry['tried']:>7,}{ok:>13,}  {_outcomes(entry['outcomes'])}")
        if expected is not None and klass in expected:
            lines.append(f"  {'':<20}{'':>7}{'':>13}  expected: {expected[klass]}")
        if entry.get("mismatches"):
            lines.append(f"  {'':<20}{'':>7}{'':>13}  wrong (expected -> got): {_outcomes(entry['mismatches'])}")
    return lines


def render_report(report: SuiteReport) -> str:
    """The suite's report for people."""
    version = report.config.get("ocpp_version", V201.name)
    lines = [f"ROBUSTNESS SUITE {'PASSED ✓' if report.passed else 'FAILED ✗'} (OCPP {version}: expected codes "
             f"as {version} spells them)", ""]
    lines.append("INPUTS TRIED")
    total = 0
    for target, classes in report.inputs.items():
        count = sum(classes.values())
        total += count
        lines.append(f"  {target:<28}{count:>9,}")
    lines.append(f"  {'total':<28}{total:>9,}")
    lines.append("")
    lines.append(f"  crashes {report.crashes}   internal errors logged {report.internal_errors}   "
                 f"lost events {report.lost_events}")
    lines.append("")
    expected_raw = {k: ", ".join(v.get("expected", [])) for k, v in report.csms_raw.items()}
    lines += render_table("CSMS: ATTACKS AT THE HANDSHAKE", report.csms_raw, expected_raw)
    lines.append("")
    lines += render_table("CSMS: ATTACKS OVER A WEBSOCKET", report.csms_websocket,
                          expected_answers(VERSIONS_BY_NAME.get(version, V201)))
    lines.append("")
    lines += render_table("CSMS: MALFORMED TRAFFIC FROM FAULTED STATIONS", report.csms_from_stations)
    lines.append("")
    lines += render_table("STATIONS: ATTACKS BY A HOSTILE CSMS", report.stations_attacked)
    if report.handler_errors:
        lines.append(f"  station handlers failed: {report.handler_errors}")
    lines.append("")
    h = report.healthy
    lines.append("HEALTHY FLEET BESIDE THE ATTACK")
    lines.append(f"  stations {h.get('stations', 0)}, online {h.get('online', 0)}, transactions {h.get('transactions', 0)}, "
                 f"errors {h.get('errors', 0)} (failed requests {h.get('failed_requests', 0)}, dropped events "
                 f"{h.get('events_dropped', 0)}, disconnects {h.get('disconnects', 0)})")
    lines.append("")
    f = report.faults
    lines.append("FAULTS INJECTED (faulted fleet)")
    lines.append(f"  stations {f.get('stations', 0)}: disconnects {f.get('disconnects', 0)}, partitioned "
                 f"{f.get('partitioned', 0)} (refused attempts {f.get('partition_refusals', 0)}), boot-loop reboots "
                 f"{f.get('reboots', 0)}, slow answers {f.get('slow_answers', 0)}, late {f.get('late_answers', 0)}, "
                 f"never answered {f.get('unanswered', 0)}, clock skew "
                 + ("{:+.0f} to {:+.0f} s".format(*f["clock_skew_s"]) if "clock_skew_s" in f else "-"))
    c = report.csms_calls
    lines.append(f"  CSMS calls to stations: sent {c.get('sent', 0)}, answered {c.get('answered', 0)}, timed out "
                 f"{c.get('timed_out', 0)}, failed {c.get('failed', 0)}")
    m = report.mass_reconnect
    lines.append(f"  mass reconnect: {m.get('online_before', 0)} stations online, CSMS down {m.get('down_s')} s "
                 f"(closing its connections {m.get('closing_s')} s), whole fleet back "
                 f"{m.get('fleet_back_after_s')} s after it listened again")
    lines.append("")
    a = report.audit
    lines.append("NOTHING LOST (every transaction: what the station sent vs what the CSMS recorded)")
    lines.append(f"  {'✓' if a.get('ok') else '✗'} transactions {a.get('checked_transactions', 0)}, missing "
                 f"{a.get('missing_events', 0)}, duplicated {a.get('duplicated_events', 0)}, out of order "
                 f"{a.get('out_of_order_transactions', 0)}, energy mismatches {a.get('energy_mismatches', 0)}, "
                 f"retransmissions {a.get('retransmissions', 0)} (not errors), undelivered {a.get('undelivered_events', 0)}")
    lines.append("")
    mem = report.memory
    lines.append("MEMORY AND LIMITS")
    lines.append(f"  RSS {mem.get('rss_start', 0) / 2**20:,.0f} -> {mem.get('rss_end', 0) / 2**20:,.0f} MiB; "
                 f"max frame {mem.get('max_message_size', 0) // 1024} KiB, handshake timeout "
                 f"{mem.get('handshake_timeout_s')} s, idle timeout {mem.get('idle_timeout_s')} s; CSMS connections "
                 f"after the attack {mem.get('csms_connections_after_attack')} (fleet {mem.get('fleet_stations')})")
    if report.flood:
        from .flood import render_flood

        lines.append("")
        lines += render_flood(report.flood)
    if report.problems:
        lines.append("")
        lines.append("PROBLEMS")
        lines += [f"  - {p}" for p in report.problems]
    return "\n".join(lines)


def render_probe_table(table: dict[str, dict[str, Any]], url: str, version: str = V201.name) -> str:
    """The answers of a CSMS under test (:func:`probe_csms`), spoken in OCPP ``version``."""
    lines = render_table(f"MALFORMED TRAFFIC AGAINST {url} (OCPP {version}; expected codes as {version} spells them)",
                         table, {k: v.get("expected", "") for k, v in table.items()})
    return "\n".join(lines)
