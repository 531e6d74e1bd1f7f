"""Closed-loop load benchmark: N stations, each with exactly one CALL in flight.

``fleet bench --stations N --duration S --call ACTION`` (see :mod:`fleet.commands.bench`)
runs :func:`run_case`: the parent process starts

* K CSMS processes (``python -m fleet.benchmarks.load csms``): the built-in
  :class:`~fleet.actors.csms.Csms`, all on one port below 32768 (SO_REUSEPORT; the
  kernel spreads the connections over them) — unless ``--csms URL`` names one;
* W station processes (``python -m fleet.benchmarks.load stations``), each a trio
  loop holding a slice of the stations (fewer than 20,000 per process: one open
  file per websocket, and the open-file limit is 20,000).

A station here is deliberately light: a websocket from
:func:`fleet.net.transport.open_station_websocket`, an
:class:`~fleet.net.connection.OcppConnection` running a
:class:`~fleet.ocpp.Session` (full validation of what it sends and receives, as
always), and one trio task running the loop; no behaviours of the full
:class:`~fleet.actors.station.Station` actor add noise.

The run, driven by the parent over each child's stdin/stdout (one JSON object a line):

1. **Connect + boot.** At ``t0`` the parent tells every station process to
   connect; each connects its stations (at most :data:`CONNECT_CONCURRENCY` handshakes
   at a time per process), sends a BootNotification, waits for Accepted and reports
   the wall-clock instant its last station booted. *connect+boot* = the latest such
   instant - ``t0``. Booted stations wait idle until every process is done. To a
   CSMS on 127.0.0.1 the station processes bind their sockets to source ports of
   their own slice of the ephemeral range (:class:`SourcePorts`): beyond about
   14,000 connections to one port the kernel's own choice costs up to 1 ms a connect.
2. **Garbage collection.** Every process (stations and CSMS) runs with the
   collector disabled during the ramp (everything allocated is long-lived state);
   once all stations are booted it collects once, moves what is alive to the
   permanent generation (``gc.freeze()``) and collects rarely from then on
   (``gc.set_threshold(50000, 50, 1000)``): a closed loop of a few seconds is a
   throughput figure, so the collector runs rarely. (``fleet run`` measures
   latency and collects on a clock instead: :mod:`fleet.run.heap`.)
3. **Closed loop.** The parent picks a common wall-clock window
   ``[start, start + duration)`` a short warm-up after "go"; every station sends its
   next CALL as soon as the previous one is answered. Each process counts the calls
   that *complete* inside the window and records their latency (from just before the
   request is built to the typed response in hand) in an HDR histogram; the parent
   adds the histograms up exactly. calls/s = calls in the window, all processes /
   window length.
4. **Memory and CPU.** The parent reads every process's peak RSS (``VmHWM`` in
   ``/proc/<pid>/status``; MB here are 2**20 bytes) once all stations are booted and
   again after the window, their CPU time at both ends of the window
   (``/proc/<pid>/stat``) and how busy the whole machine was (``/proc/stat``: other
   load on the machine lowers the figures, so it is reported), then ends the
   processes (they exit at once; the kernel closes their sockets).

Measured this way the CSMS and the stations share the machine's cores, as they do
in the figures of the ``ocpp`` package this is compared with (:mod:`.ocpp_peer`,
the same protocol and layout in asyncio).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import trio

from ..metrics import new_histogram
from .calls import ACTIONS as ACTIONS_BY_VERSION
from .calls import CALLS, ID_TOKEN, MeterSim, now_utc, transaction_id
from .ocpp_peer_needs import NOTES, missing_requirement

__all__ = [
    "ACTIONS",
    "ACTIONS_BY_VERSION",
    "CONNECT_CONCURRENCY",
    "ID_TOKEN",
    "MAX_STATIONS_PER_PROCESS",
    "BenchError",
    "BenchSettingsError",
    "CaseResult",
    "MeterSim",
    "SourcePorts",
    "check_case",
    "default_csms_workers",
    "now_utc",
    "run_case",
    "split",
    "transaction_id",
]

#: The calls a station can loop on in OCPP 2.0.1 (station -> CSMS, realistic payloads; other
#: versions: :data:`.calls.ACTIONS`).
ACTIONS = ACTIONS_BY_VERSION["2.0.1"]
#: The OCPP version of the closed loop unless told otherwise.
DEFAULT_VERSION = "2.0.1"
#: Handshakes in progress at a time, per station process (measured at 20,000 stations: 200, 500,
#: 1,000 and 2,000 boot in about the same time, with a little less CPU from 500 on).
CONNECT_CONCURRENCY = 500
#: Most stations (= sockets) one process may hold: the open-file limit is 20,000.
MAX_STATIONS_PER_PROCESS = 19_000
#: Seconds a station's websocket handshake may take.
HANDSHAKE_TIMEOUT = 60.0
#: Seconds a CALL waits for its answer (a closed loop at thousands of stations queues a while).
CALL_TIMEOUT = 60.0
#: Where the built-in CSMS serves (path prefix of the station URLs).
PATH = "/ocpp"
#: Station ids: ``BENCH-000000`` ...
STATION_PREFIX = "BENCH-"

# ============================================================================ shared parts


class BenchError(Exception):
    """The benchmark could not run (a process failed, a phase timed out, a bad setting)."""


class BenchSettingsError(BenchError):
    """A bad setting: refused before any process starts (``fleet bench`` exits with USAGE)."""


def station_id(index: int) -> str:
    return f"{STATION_PREFIX}{index:06d}"


def split(total: int, parts: int) -> list[tuple[int, int]]:
    """``total`` stations over ``parts`` processes: (first index, count) each, sizes within 1."""
    parts = max(1, min(parts, total))
    base, extra = divmod(total, parts)
    out = []
    first = 0
    for i in range(parts):
        n = base + (1 if i < extra else 0)
        out.append((first, n))
        first += n
    return out


class CaseResult(msgspec.Struct):
    """The figures of one implementation in one case.

    Attributes:
        implementation: ``"fleet"`` or ``"ocpp"``.
        stations: stations asked for; ``booted``: of them, connected and Accepted.
        call: the action of the closed loop.
        ocpp_version: the OCPP version the stations spoke.
        workers, csms_workers: station processes and CSMS processes (0: an external CSMS).
        csms: ``"built-in"``, ``"ocpp"`` (the peer's own CSMS) or the external URL.
        connect_boot_s: from the order to connect until the last station was booted.
        window_s: length of the measurement window; ``calls``: calls completed in it.
        calls_per_s: ``calls / window_s``.
        p50_ms ... max_ms, mean_ms: latency of those calls (HDR histograms merged exactly).
        errors: failed calls and failed connections by kind (whole run).
        rss_mb: peak RSS (VmHWM) of every process over the whole run; ``total_rss_mb`` their sum.
        booted_rss_mb: the sum of the processes' peak RSS when all stations were booted
            (before the closed loop, whose calls in flight add their own buffers).
        cpu_us_per_call: CPU time per call in the window, station processes and CSMS processes.
        cpu_busy_pct: how busy the machine's cores were during the window (all processes).
        other_cpu_pct: of that, what the benchmark's processes did not use (the kernel's
            softirq work not charged to a process, the parent, and anything else running:
            a high figure means the machine was not quiet and the figures are low).
        ramp_other_cpu_pct: the same as ``other_cpu_pct``, during connect+boot.
        ramp_cpu_s: CPU seconds the station and CSMS processes used to connect and boot (read
            when the parent learns that all are booted, so slightly more than the ramp itself).
        csms_received: CALLs the CSMS processes counted (whole run), by action.
        notes: how this implementation was run.
    """

    implementation: str
    stations: int
    call: str
    workers: int
    csms_workers: int
    csms: str
    booted: int = 0
    connect_boot_s: float = 0.0
    window_s: float = 0.0
    calls: int = 0
    calls_per_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0
    errors: dict[str, int] = {}
    rss_mb: dict[str, float] = {}
    total_rss_mb: float = 0.0
    booted_rss_mb: float = 0.0
    cpu_us_per_call: dict[str, float] = {}
    ramp_cpu_s: dict[str, float] = {}
    cpu_busy_pct: float = 0.0
    other_cpu_pct: float = 0.0
    ramp_other_cpu_pct: float = 0.0
    csms_received: dict[str, int] = {}
    notes: str = ""
    ocpp_version: str = DEFAULT_VERSION

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


# ============================================================== child processes: control


class _Control:
    """The child's end of the control channel: JSON lines on stdin (commands) and stdout (events).

    Stdout is taken over for the channel; anything else printed goes to stderr.
    """

    def __init__(self) -> None:
        self._out = os.dup(1)
        os.dup2(2, 1)
        self._buffer = b""

    def send(self, event: str, **fields: Any) -> None:
        data = msgspec.json.encode({"event": event, **fields}) + b"\n"
        while data:
            written = os.write(self._out, data)
            data = data[written:]

    def next_line(self) -> dict[str, Any] | None:
        if b"\n" not in self._buffer:
            return None
        line, _, self._buffer = self._buffer.partition(b"\n")
        decoded = msgspec.json.decode(line) if line.strip() else {}
        return decoded if isinstance(decoded, dict) else {}

    def feed(self, data: bytes) -> None:
        self._buffer += data


class _TrioControl(_Control):
    def __init__(self) -> None:
        super().__init__()
        self._in = trio.lowlevel.FdStream(os.dup(0))

    async def receive(self) -> dict[str, Any]:
        """The next command (``{"cmd": "exit"}`` when the parent has gone)."""
        while True:
            line = self.next_line()
            if line is not None:
                return line
            data = await self._in.receive_some(65536)
            if not data:
                return {"cmd": "exit"}
            self.feed(data)


def child_setup() -> None:
    """Common start of every child process: the parent decides when it ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group; the parent stops us
    gc.disable()  # until the ramp is over


def child_exit(code: int = 0) -> None:
    """End the process at once: the kernel closes its sockets (a graceful close of
    thousands of websockets would only add seconds to every run)."""
    sys.stderr.flush()
    os._exit(code)


def tune_gc() -> None:
    """After the ramp: freeze what it built and collect rarely (see the module's note)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)
    gc.enable()


def local_window(start_wall: float, end_wall: float) -> tuple[float, float]:
    """The wall-clock window as ``time.perf_counter()`` instants of this process."""
    offset = time.perf_counter() - time.time()
    return start_wall + offset, end_wall + offset


# ======================================================= child processes: fleet stations


def ephemeral_ports() -> tuple[int, int]:
    """The kernel's range of ports for outgoing connections, ``[low, high)``."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
        return low, high + 1
    except (OSError, ValueError):
        return 32768, 61000


class SourcePorts(trio.abc.SocketFactory):
    """Binds each outgoing TCP socket to the next free port of ``[low, high)`` on 127.0.0.1.

    Why: with more than about 14,000 connections to one address and port, Linux's
    search for a free ephemeral port (``__inet_hash_connect``: it tries the ports of
    one parity first, then scans) costs 0.5-1 ms of kernel time per ``connect()``
    (measured here: 25 us per connect up to 14,000, 600-800 us beyond). A port
    chosen by the process skips the search. The station processes get disjoint
    slices of the ephemeral range; a port that cannot be bound (in use) is skipped,
    and when the slice runs out the kernel chooses again.
    """

    def __init__(self, low: int, high: int) -> None:
        self.next = low
        self.high = high

    @classmethod
    def parse(cls, text: str | None) -> SourcePorts | None:
        """From ``"LOW-HIGH"`` (``None`` stays ``None``)."""
        if not text:
            return None
        low, _, high = text.partition("-")
        return cls(int(low), int(high))

    def bind(self, sock: socket.socket) -> None:
        """Bind an IPv4 TCP socket to the next free port (or leave it to the kernel when none is left)."""
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        while self.next < self.high:
            port = self.next
            self.next += 1
            try:
                sock.bind(("127.0.0.1", port))
                return
            except OSError:
                continue

    def socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0) -> Any:
        """trio's socket factory hook (:func:`trio.socket.set_custom_socket_factory`)."""
        sock = socket.socket(family, type, proto)
        if family == socket.AF_INET and type & socket.SOCK_STREAM:
            self.bind(sock)
        return trio.socket.from_stdlib_socket(sock)


def _fleet_requests(action: str, index: int, version: str = DEFAULT_VERSION) -> Callable[[], Any]:
    """A factory of the station's next request for ``action`` in OCPP ``version`` (realistic payloads)."""
    if action not in ACTIONS_BY_VERSION[version]:
        raise BenchError(f"unknown call {action!r}; one of {', '.join(ACTIONS_BY_VERSION[version])}")
    return CALLS[version].requests(action, index)


class _FleetStations:
    """The stations of one station process."""

    def __init__(self, url: str, first: int, count: int, action: str, concurrency: int,
                 version: str = DEFAULT_VERSION) -> None:
        from ..ocpp import VERSIONS_BY_NAME

        self.url = url
        self.version = version
        self.subprotocols = (VERSIONS_BY_NAME[version].subprotocol,)
        self.calls_of = CALLS[version]
        self.first = first
        self.count = count
        self.action = action
        self.limiter = trio.CapacityLimiter(concurrency)
        self.booted = 0
        self.failed = 0
        self.ramp_done = trio.Event()
        self.go = trio.Event()
        self.running = True
        self.start = math.inf
        self.end = math.inf
        self.calls = 0
        self.histogram = new_histogram()
        self.errors: Counter[str] = Counter()
        _fleet_requests(action, first, version)  # fail early on an unknown action

    def _settled(self) -> None:
        if self.booted + self.failed == self.count:
            self.ramp_done.set()

    async def run_station(self, index: int, nursery: trio.Nursery) -> None:
        from ..net.connection import OcppConnection
        from ..net.transport import open_station_websocket
        from ..ocpp import Session

        calls = self.calls_of
        sid = station_id(index)
        booted = False
        try:
            await self.limiter.acquire()
            holding = True
            try:
                async with open_station_websocket(self.url, sid, connect_timeout=HANDSHAKE_TIMEOUT,
                                                  subprotocols=self.subprotocols) as (ws, version):
                    session = Session(version, role="station", call_timeout=CALL_TIMEOUT)
                    conn = OcppConnection(ws, session, sid, handlers={})
                    # The connection's task lives in the process's nursery (one nursery fewer per station).
                    nursery.start_soon(conn.serve)
                    response = await conn.call(calls.boot(sid))
                    if response.status != calls.accepted:
                        raise BenchError(f"boot {response.status}")
                    self.limiter.release()
                    holding = False
                    booted = True
                    self.booted += 1
                    self._settled()
                    await self.go.wait()
                    await self._loop(conn, index)
                    await trio.sleep_forever()  # stay connected until the process ends
            finally:
                if holding:
                    self.limiter.release()
        except Exception as exc:
            self.errors[("" if booted else "connect: ") + type(exc).__name__] += 1
            if not booted:
                self.failed += 1
                self._settled()

    async def _loop(self, conn: Any, index: int) -> None:
        from ..ocpp import CallFailure, ConnectionLost

        next_request = _fleet_requests(self.action, index, self.version)
        perf = time.perf_counter
        record = self.histogram.record_value
        call = conn.call
        while self.running:
            began = perf()
            try:
                await call(next_request())
            except ConnectionLost:
                self.errors["ConnectionLost"] += 1
                return
            except CallFailure as exc:
                self.errors[type(exc).__name__] += 1
                continue
            done = perf()
            if self.start <= done < self.end:
                self.calls += 1
                micros = int((done - began) * 1_000_000)
                record(micros if micros > 0 else 1)


async def _fleet_stations_main(args: argparse.Namespace) -> None:
    control = _TrioControl()
    control.send("ready", pid=os.getpid())
    command = await control.receive()
    if command.get("cmd") != "connect":
        child_exit()
    ports = SourcePorts.parse(args.ports)
    if ports is not None:
        trio.socket.set_custom_socket_factory(ports)
    stations = _FleetStations(args.url, args.first, args.count, args.call, args.concurrency, args.version)
    async with trio.open_nursery() as nursery:
        for index in range(args.first, args.first + args.count):
            nursery.start_soon(stations.run_station, index, nursery)
        await stations.ramp_done.wait()
        control.send("booted", at=time.time(), booted=stations.booted, failed=stations.failed,
                     errors=dict(stations.errors))
        tune_gc()
        command = await control.receive()
        if command.get("cmd") != "go":
            child_exit()
        stations.start, stations.end = local_window(command["start"], command["end"])
        stations.go.set()
        await trio.sleep(max(0.0, stations.end - time.perf_counter()))
        stations.running = False
        control.send("result", calls=stations.calls, histogram=_encode(stations.histogram),
                     errors=dict(stations.errors))
        while (await control.receive()).get("cmd") != "exit":
            pass
        child_exit()


def _encode(histogram: Any) -> str:
    if histogram.get_total_count() == 0:
        return ""
    encoded = histogram.encode()
    return encoded.decode() if isinstance(encoded, bytes) else str(encoded)


# =========================================================== child processes: fleet CSMS


async def _fleet_csms_main(args: argparse.Namespace) -> None:
    from ..actors.csms import Csms

    control = _TrioControl()
    csms = Csms(args.host, args.port, PATH, reuse_port=True, call_timeout=CALL_TIMEOUT, handler_timeout=CALL_TIMEOUT)
    async with trio.open_nursery() as nursery:
        await nursery.start(csms.run)
        control.send("listening", pid=os.getpid(), port=csms.port)
        while True:
            command = await control.receive()
            cmd = command.get("cmd")
            if cmd == "tune_gc":
                tune_gc()
            elif cmd == "stats":
                stats = csms.statistics()
                control.send("stats", messages=stats.messages, violations=stats.violations,
                             connected=stats.connected)
            elif cmd == "exit":
                child_exit()


def child_main(argv: Sequence[str] | None, run_stations: Any, run_csms: Any) -> int:
    """``python -m fleet.benchmarks.<load|ocpp_peer> stations|csms ...``."""
    parser = argparse.ArgumentParser(prog="python -m fleet.benchmarks.load")
    sub = parser.add_subparsers(dest="role", required=True)
    st = sub.add_parser("stations")
    st.add_argument("--url", required=True)
    st.add_argument("--first", type=int, required=True)
    st.add_argument("--count", type=int, required=True)
    st.add_argument("--call", default="Heartbeat")
    st.add_argument("--version", default=DEFAULT_VERSION, choices=tuple(ACTIONS_BY_VERSION))
    st.add_argument("--concurrency", type=int, default=CONNECT_CONCURRENCY)
    st.add_argument("--ports", help="LOW-HIGH: bind the websockets to these source ports (127.0.0.1 only)")
    cs = sub.add_parser("csms")
    cs.add_argument("--host", default="127.0.0.1")
    cs.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    child_setup()
    if args.role == "stations":
        run_stations(args)
    else:
        run_csms(args)
    return 0


def _run_fleet_stations(args: argparse.Namespace) -> None:
    trio.run(_fleet_stations_main, args)


def _run_fleet_csms(args: argparse.Namespace) -> None:
    trio.run(_fleet_csms_main, args)


# ======================================================================== the parent


class _Child:
    """A child process and its control channel, seen from the parent."""

    def __init__(self, name: str, process: trio.Process) -> None:
        self.name = name
        self.process = process
        self.pid = process.pid
        self._send, self._receive = trio.open_memory_channel[dict[str, Any]](1000)
        self.cpu_at_start = 0.0
        self.cpu_at_end = 0.0

    async def read(self) -> None:
        """Forward the child's events to :meth:`expect` (``{"event": "eof"}`` at the end)."""
        assert self.process.stdout is not None
        buffer = b""
        try:
            while True:
                data = await self.process.stdout.receive_some(65536)
                if not data:
                    break
                buffer += data
                while b"\n" in buffer:
                    line, _, buffer = buffer.partition(b"\n")
                    try:
                        event = msgspec.json.decode(line)
                    except msgspec.DecodeError:
                        continue
                    if isinstance(event, dict):
                        await self._send.send(event)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass
        await self._send.send({"event": "eof"})

    async def command(self, cmd: str, **fields: Any) -> None:
        assert self.process.stdin is not None
        try:
            await self.process.stdin.send_all(msgspec.json.encode({"cmd": cmd, **fields}) + b"\n")
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise BenchError(f"{self.name} (pid {self.pid}) has exited") from exc

    async def expect(self, event: str, timeout: float, phase: str) -> dict[str, Any]:
        with trio.move_on_after(timeout):
            message = await self._receive.receive()
            if message.get("event") == "eof":
                await self.process.wait()
                raise BenchError(f"{self.name} (pid {self.pid}) exited with code {self.process.returncode} "
                                 f"during {phase} (see its messages above)")
            if message.get("event") != event:
                raise BenchError(f"{self.name}: expected {event!r} during {phase}, got {message!r}")
            return message
        raise BenchError(f"{self.name}: no {event!r} within {timeout:.0f} s ({phase})")

    def peak_rss_mb(self) -> float:
        return _proc_status_kb(self.pid, "VmHWM") / 1024.0

    def cpu_seconds(self) -> float:
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            return 0.0
        # after the command name: state is field 3, utime 14 and stime 15 (1-based, man proc)
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores, from ``/proc/stat``)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return 0.0
    # cpu user nice system idle iowait irq softirq steal ...
    busy = sum(int(x) for x in fields[1:9]) - int(fields[4]) - int(fields[5])
    return busy / os.sysconf("SC_CLK_TCK")


def _proc_status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


async def _start_child(nursery: trio.Nursery, name: str, command: list[str]) -> _Child:
    process = await trio.lowlevel.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    child = _Child(name, process)
    nursery.start_soon(child.read)
    return child


async def _stop_children(children: list[_Child]) -> None:
    with trio.CancelScope(shield=True):
        for child in children:
            if child.process.returncode is None:
                with contextlib.suppress(BenchError):
                    await child.command("exit")
        with trio.move_on_after(10):
            for child in children:
                await child.process.wait()
        for child in children:
            if child.process.returncode is None:
                child.process.kill()
                await child.process.wait()


def default_csms_workers(stations: int) -> int:
    """One CSMS process, or as many as the open-file limit asks for."""
    return max(1, -(-stations // int(MAX_STATIONS_PER_PROCESS * 0.9)))


def default_warmup(stations: int) -> float:
    """Seconds between "go" and the window: long enough for every station's first round trip."""
    return min(5.0, max(1.0, stations / 5000))


def check_case(implementation: str, stations: int, call: str, duration: float, *, workers: int,
               csms_workers: int, builtin: bool, version: str = DEFAULT_VERSION) -> None:
    """What :func:`run_case` refuses before any process starts.

    Raises:
        BenchSettingsError: naming the setting and what was expected.
    """
    if version not in ACTIONS_BY_VERSION:
        raise BenchSettingsError(f"unknown OCPP version {version!r}; one of {', '.join(ACTIONS_BY_VERSION)}")
    actions = ACTIONS_BY_VERSION[version]
    if call not in actions:
        in_version = "" if version == DEFAULT_VERSION else f" in OCPP {version}"
        raise BenchSettingsError(f"unknown call {call!r}{in_version}; one of {', '.join(actions)}")
    if stations < 1 or duration <= 0:
        raise BenchSettingsError("--stations must be at least 1 and --duration positive")
    if implementation == "ocpp":
        problem = missing_requirement()
        if problem:
            raise BenchSettingsError(problem)
    elif implementation != "fleet":
        raise BenchSettingsError(f"unknown implementation {implementation!r} (fleet or ocpp)")
    shards = split(stations, workers)
    if max(n for _, n in shards) > MAX_STATIONS_PER_PROCESS:
        need = math.ceil(stations / MAX_STATIONS_PER_PROCESS)
        raise BenchSettingsError(f"{stations} stations need at least {need} station processes (--workers): "
                                 f"a process holds at most {MAX_STATIONS_PER_PROCESS} websockets (open-file limit 20,000)")
    if builtin and stations / max(1, csms_workers) > MAX_STATIONS_PER_PROCESS * 0.9:
        need = math.ceil(stations / (MAX_STATIONS_PER_PROCESS * 0.9))
        raise BenchSettingsError(f"{stations} stations need at least {need} CSMS processes (--csms-workers): "
                                 "each holds its share of the websockets (open-file limit 20,000)")


async def run_case(
    implementation: str,
    stations: int,
    call: str,
    duration: float,
    *,
    workers: int,
    csms_workers: int,
    csms_url: str | None = None,
    warmup: float | None = None,
    concurrency: int = CONNECT_CONCURRENCY,
    progress: Callable[[str], None] | None = None,
    version: str = DEFAULT_VERSION,
) -> CaseResult:
    """Run one closed-loop case with ``implementation`` (``"fleet"`` or ``"ocpp"``), the stations
    speaking OCPP ``version``, and return its figures.

    Raises:
        BenchError: a bad setting, a process that failed, or a phase that timed out.
    """
    builtin = csms_url is None
    check_case(implementation, stations, call, duration, workers=workers, csms_workers=csms_workers, builtin=builtin,
               version=version)
    module = "fleet.benchmarks.ocpp_peer" if implementation == "ocpp" else "fleet.benchmarks.load"
    shards = split(stations, workers)
    say = progress or (lambda _text: None)
    warmup = default_warmup(stations) if warmup is None else warmup
    python = [sys.executable, "-m", module]
    children: list[_Child] = []
    servers: list[_Child] = []
    clients: list[_Child] = []
    result = CaseResult(implementation, stations, call, len(shards), csms_workers if builtin else 0,
                        "built-in" if builtin and implementation == "fleet" else
                        ("ocpp" if builtin else str(csms_url)), ocpp_version=version)
    async with trio.open_nursery() as nursery:
        try:
            if builtin:
                from ..run.supervisor import pick_port

                port = pick_port("127.0.0.1")
                csms_url = f"ws://127.0.0.1:{port}{PATH}"
                for k in range(csms_workers):
                    server = await _start_child(nursery, f"{implementation} csms/{k}",
                                                [*python, "csms", "--port", str(port)])
                    children.append(server)
                    servers.append(server)
                    # one at a time: each must bind before the next (they share the port)
                    await server.expect("listening", 60, "start-up")
            assert csms_url is not None
            low, high = ephemeral_ports()
            span = (high - low) // len(shards)
            bind_ports = urllib.parse.urlsplit(csms_url).hostname == "127.0.0.1"
            for w, (first, count) in enumerate(shards):
                ports = ["--ports", f"{low + w * span}-{low + (w + 1) * span}"] if bind_ports else []
                client = await _start_child(nursery, f"{implementation} stations/{w}", [
                    *python, "stations", "--url", csms_url, "--first", str(first), "--count", str(count),
                    "--call", call, "--version", version, "--concurrency", str(concurrency), *ports,
                ])
                children.append(client)
                clients.append(client)
            for client in clients:
                await client.expect("ready", 60, "start-up")
            say(f"{implementation}: connecting {stations:,} stations")
            for child in children:
                child.cpu_at_start = child.cpu_seconds()
            machine_at_t0 = machine_cpu_seconds()
            t0 = time.time()
            for client in clients:
                await client.command("connect")
            booted_at = 0.0
            booted = 0
            errors: Counter[str] = Counter()
            for client in clients:
                report = await client.expect("booted", 120 + stations / 100, "connect+boot")
                booted_at = max(booted_at, float(report["at"]))
                booted += int(report["booted"])
                errors.update(report.get("errors", {}))
            result.booted = booted
            result.connect_boot_s = booted_at - t0
            result.booted_rss_mb = round(sum(child.peak_rss_mb() for child in children), 1)
            ramp_busy = machine_cpu_seconds() - machine_at_t0
            ramp_s = time.time() - t0
            result.ramp_cpu_s = {"stations": round(sum(c.cpu_seconds() - c.cpu_at_start for c in clients), 2)}
            if servers:
                result.ramp_cpu_s["csms"] = round(sum(c.cpu_seconds() - c.cpu_at_start for c in servers), 2)
            result.ramp_other_cpu_pct = round(max(0.0, 100 * (ramp_busy - sum(result.ramp_cpu_s.values()))
                                                  / (ramp_s * (os.cpu_count() or 1))), 1)
            say(f"{implementation}: {booted:,} booted in {result.connect_boot_s:.2f} s; measuring {duration:g} s")
            if booted == 0:
                raise BenchError(f"no station could connect to {csms_url} and boot: {dict(errors)}")
            for server in servers:
                await server.command("tune_gc")
            start = time.time() + warmup
            end = start + duration
            for client in clients:
                await client.command("go", start=start, end=end)
            await trio.sleep(max(0.0, start - time.time()))
            for child in children:
                child.cpu_at_start = child.cpu_seconds()
            machine_at_start = machine_cpu_seconds()
            await trio.sleep(max(0.0, end - time.time()))
            for child in children:
                child.cpu_at_end = child.cpu_seconds()
            machine_busy = machine_cpu_seconds() - machine_at_start
            ours = sum(c.cpu_at_end - c.cpu_at_start for c in children)
            cores = os.cpu_count() or 1
            result.cpu_busy_pct = round(100 * machine_busy / (duration * cores), 1)
            result.other_cpu_pct = round(max(0.0, 100 * (machine_busy - ours) / (duration * cores)), 1)
            histogram = new_histogram()
            calls = 0
            errors = Counter()
            for client in clients:
                report = await client.expect("result", 60, "the closed loop")
                calls += int(report["calls"])
                if report["histogram"]:
                    histogram.decode_and_add(report["histogram"])
                errors.update(report.get("errors", {}))
            received: Counter[str] = Counter()
            for server in servers:
                await server.command("stats")
                stats = await server.expect("stats", 30, "the final statistics")
                received.update(stats.get("messages", {}))
                if stats.get("violations"):
                    errors["CSMS: protocol violations"] += int(stats["violations"])
            result.rss_mb = {child.name.split(" ", 1)[1]: round(child.peak_rss_mb(), 1) for child in children}
            result.total_rss_mb = round(sum(result.rss_mb.values()), 1)
            result.window_s = end - start
            result.calls = calls
            result.calls_per_s = calls / result.window_s
            if calls:
                values = histogram.get_percentile_to_value_dict([50.0, 95.0, 99.0])
                result.p50_ms = values[50.0] / 1000.0
                result.p95_ms = values[95.0] / 1000.0
                result.p99_ms = values[99.0] / 1000.0
                result.max_ms = histogram.get_max_value() / 1000.0
                result.mean_ms = round(histogram.get_mean_value() / 1000.0, 3)
                result.cpu_us_per_call = {
                    "stations": round(sum(c.cpu_at_end - c.cpu_at_start for c in clients) / calls * 1e6, 1),
                }
                if servers:
                    result.cpu_us_per_call["csms"] = round(
                        sum(c.cpu_at_end - c.cpu_at_start for c in servers) / calls * 1e6, 1)
            result.errors = dict(errors)
            result.csms_received = dict(received)
            if implementation == "ocpp":
                result.notes = NOTES
        finally:
            await _stop_children(children)
            nursery.cancel_scope.cancel()
    return result


if __name__ == "__main__":
    sys.exit(child_main(None, _run_fleet_stations, _run_fleet_csms))
