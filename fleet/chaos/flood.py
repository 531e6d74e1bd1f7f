"""One peer floods, the others must not stall: the flood phase of ``fleet chaos``.

Two directions, each measured against a baseline taken in the same run:

* **to the CSMS**: a built-in CSMS (its own process, as ``fleet csms``) serves
  ``healthy`` stations that send a Heartbeat every ``interval`` seconds and time its
  answer. After ``baseline_s`` a flooder (its own process) connects and pipelines
  CALLs as fast as it can (every ``big_every``-th a ``big_bytes`` DataTransfer) while
  reading the answers, for ``flood_s``. The figures: the healthy stations' round
  trips (p50, p99, max, answers) before and during the flood, the CSMS process's
  RSS growth and the bytes it held for the flooder (in user space and in the
  kernel's receive queue), what the flooder got back (answers, CALLERRORs, the close
  code) and the CSMS's flood counters.
* **to the CSMS, with limits**: the same with ``fleet csms``'s flood limits
  (:data:`~fleet.actors.csms.DEFAULT_MAX_CALL_RATE` CALLs/s, a 1008 close after
  :data:`~fleet.actors.csms.DEFAULT_FLOOD_CLOSE_AFTER` refusals): the flooder gets
  CALLERRORs, is closed, connects again and floods again.
* **to a station**: ``healthy`` :class:`~fleet.actors.station.Station` actors and one
  flooded station run in this process (one station worker). The healthy ones talk to
  a built-in CSMS (its own process) that asks a Heartbeat every simulated second
  (``interval`` real seconds); the flooded one to a hostile CSMS (its own process)
  that, after ``baseline_s``, pipelines CALLs at it in the same way. The figures: the
  healthy stations' Heartbeat round trips before and during the flood, this
  process's RSS growth and the bytes held for the hostile CSMS.

Goals: the healthy p99 during the flood within noise of the baseline (at most
``P99_FACTOR`` times it plus ``P99_SLACK_MS``), the max under ``MAX_RTT_MS``, and the
memory held for the flooder bounded (under ``MAX_BUFFERED`` bytes).

Peers run as ``python -m fleet.chaos.flood ROLE CONFIG`` (``csms``, ``flooder``,
``hostile``), so a flooder's own work never shares the measured event loop.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import signal
import sys
import termios
import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
import trio

__all__ = ["FloodConfig", "render_flood", "run_flood"]

#: The goals (see the module's description).
P99_FACTOR: Final = 2.0
P99_SLACK_MS: Final = 10.0
MAX_RTT_MS: Final = 250.0
MAX_BUFFERED: Final = 4 * 1024 * 1024

#: The scenarios, with their titles.
DIRECTIONS: Final = {
    "to_csms": "a station floods the CSMS (no limits)",
    "to_csms_limited": "a station floods the CSMS (fleet csms's limits)",
    "to_station": "a hostile CSMS floods a station",
}
FLOODER: Final = "FLOODER"
FLOODED: Final = "FLOODED"


class FloodConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The flood phase's settings.

    Attributes:
        healthy: healthy stations beside the flooder (each direction).
        interval: seconds between a healthy station's Heartbeats.
        baseline_s: seconds measured before the flood.
        flood_s: seconds of flood.
        big_every: every n-th flood frame is a big DataTransfer.
        big_bytes: the size of its data.
        max_call_rate: the CSMS's limit of CALLs per second per connection
            (``None``: its default; ``0``: no limit).
        call_burst: CALLs above the rate a connection may send at once (``None``: default).
        flood_close_after: refused CALLs before the CSMS closes with 1008 (``None``: default).
    """

    healthy: int = 4
    interval: float = 0.02
    baseline_s: float = 4.0
    flood_s: float = 6.0
    big_every: int = 20
    big_bytes: int = 60_000
    max_call_rate: float | None = None
    call_burst: int | None = None
    flood_close_after: int | None = None


# ---------------------------------------------------------------- figures


def _rss_of(pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _summary(rtts: list[float], seconds: float) -> dict[str, Any]:
    if not rtts:
        return {"answers": 0, "answers_per_s": 0.0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(rtts)
    n = len(ordered)
    return {"answers": n, "answers_per_s": round(n / seconds, 1), "p50_ms": round(ordered[n // 2] * 1000, 2),
            "p99_ms": round(ordered[min(n - 1, int(n * 0.99))] * 1000, 2), "max_ms": round(ordered[-1] * 1000, 2)}


def _goals(baseline: dict[str, Any], flood: dict[str, Any], buffered: int) -> dict[str, Any]:
    base_p99 = baseline.get("p99_ms") or 0.0
    p99, worst = flood.get("p99_ms"), flood.get("max_ms")
    return {
        "p99_within_noise": p99 is not None and p99 <= base_p99 * P99_FACTOR + P99_SLACK_MS,
        "max_under_250ms": worst is not None and worst < MAX_RTT_MS,
        "memory_bounded": buffered < MAX_BUFFERED,
    }


def websocket_buffered(websocket: Any) -> int:
    """Bytes a websocket holds that its reader has not taken yet (user space)."""
    held = getattr(websocket, "buffered", None)
    if isinstance(held, int):
        return held
    # (builds before WebSocket.buffered: the same from its fields)
    return sum(len(m) for m in getattr(websocket, "_messages", ())) + int(getattr(websocket, "_size", 0))


def kernel_queued(websocket: Any) -> int:
    """Bytes in the kernel's receive queue of a websocket's socket (0 if unknown)."""
    stream = getattr(websocket, "stream", None)
    sock = getattr(getattr(stream, "transport_stream", stream), "socket", None)
    try:
        fd = sock.fileno() if sock is not None else -1
        if fd < 0:
            return 0
        return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder)
    except (OSError, ValueError):
        return 0


# ----------------------------------------------------------------- peers


def _flood_frame(n: int, config: FloodConfig, action: str) -> str:
    if config.big_every and n % config.big_every == config.big_every - 1:
        data = "x" * config.big_bytes
        return f'[2,"flood-{n}","DataTransfer",{{"vendorId":"fleet.flood","data":"{data}"}}]'
    return f'[2,"flood-{n}","{action}",{{}}]'


class _FloodCount:
    def __init__(self) -> None:
        self.sent = 0
        self.results = 0
        self.errors: dict[str, int] = {}
        self.closes: dict[str, int] = {}
        self.connections = 0
        self.failures: dict[str, int] = {}
        self._closed_for = -1  # the connection whose close is counted (reader and sender both see it)
        self.closed_by_peer = False

    @property
    def answered(self) -> int:
        return self.results + sum(self.errors.values())

    def close(self, exc: Any) -> None:
        if self._closed_for == self.connections:
            return
        self._closed_for = self.connections
        reason = exc.reason
        key = f"{reason.code} {reason.reason or ''}".strip() if reason else "closed"
        self.closes[key] = self.closes.get(key, 0) + 1

    def offer(self, message: str | bytes) -> None:
        text = message if isinstance(message, str) else message.decode(errors="replace")
        if text.startswith('[3,"flood-'):
            self.results += 1
        elif text.startswith('[4,"flood-'):
            try:
                code = str(json.loads(text)[2])
            except (ValueError, IndexError, TypeError):
                code = "?"
            self.errors[code] = self.errors.get(code, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "results": self.results, "errors": self.errors, "answered": self.answered,
                "connections": self.connections, "closes": self.closes, "connect_failures": self.failures}


#: Flood frames prepared at once and written again and again (one write each).
_BLOB_FRAMES: Final = 1000


def _ws_frame(text: str, *, masked: bool) -> bytes:
    """One websocket text frame; a client's is masked with the key 0 (the payload unchanged)."""
    payload = text.encode()
    n = len(payload)
    mask = 0x80 if masked else 0
    if n < 126:
        head = bytes([0x81, mask | n])
    elif n < 65536:
        head = bytes([0x81, mask | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x81, mask | 127]) + n.to_bytes(8, "big")
    return head + (b"\0\0\0\0" if masked else b"") + payload


def _flood_blob(config: FloodConfig, action: str, *, masked: bool) -> bytes:
    return b"".join(_ws_frame(_flood_frame(n, config, action), masked=masked) for n in range(_BLOB_FRAMES))


async def _flood(stream: trio.abc.SendStream, blob: bytes, count: _FloodCount, end: float, stop: trio.Event) -> None:
    """Write ``blob`` (many pipelined CALLs) again and again until ``end`` (trio time) or
    ``stop``: as fast as the peer reads, at almost no cost to this process."""
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        while trio.current_time() < end and not stop.is_set():
            await stream.send_all(blob)
            count.sent += _BLOB_FRAMES


_ERROR = re.compile(rb'\[4,"flood-[0-9]+","([A-Za-z]+)"')


async def _read_raw_answers(stream: trio.abc.ReceiveStream, count: _FloodCount, done: trio.Event) -> None:
    """Count the answers in the server's (unmasked) frames, straight from the bytes, and
    find its close frame's code."""
    tail = b""
    try:
        while True:
            chunk = await stream.receive_some(1 << 20)
            if not chunk:
                break
            data = tail + chunk
            count.results += data.count(b'[3,"flood-')
            for code in _ERROR.findall(data):
                count.errors[code.decode()] = count.errors.get(code.decode(), 0) + 1
            close = data.find(b"\x88")
            if close >= 0 and close + 4 <= len(data) and data[close + 1] < 126:
                code = int.from_bytes(data[close + 2:close + 4], "big")
                if 1000 <= code < 5000:
                    reason = data[close + 4:close + 2 + data[close + 1]].decode(errors="replace")
                    count.closes[f"{code} {reason}".strip()] = count.closes.get(f"{code} {reason}".strip(), 0) + 1
                    count.closed_by_peer = True
                    break
            # The last bytes are read again with the next chunk (an answer cut in two is
            # found then): what they hold is counted then.
            tail = data[-40:]
            count.results -= tail.count(b'[3,"flood-')
            for code in _ERROR.findall(tail):
                count.errors[code.decode()] -= 1
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    finally:
        done.set()


async def _role_flooder(url: str, config: FloodConfig) -> None:
    """Connect as :data:`FLOODER` and flood the CSMS for ``flood_s`` (connecting again
    when it closes the connection); print ``flooding`` once connected, then a JSON line
    of what came back."""
    from ..net.transport import open_station_websocket

    count = _FloodCount()
    blob = _flood_blob(config, "Heartbeat", masked=True)
    end = trio.current_time() + config.flood_s
    first = True
    while trio.current_time() < end:
        try:
            async with open_station_websocket(url, FLOODER) as (websocket, _):
                count.connections += 1
                if first:
                    print("flooding", flush=True)
                    first = False
                async with trio.open_nursery() as nursery:
                    read_all = trio.Event()
                    nursery.start_soon(_read_raw_answers, websocket.stream, count, read_all)
                    await _flood(websocket.stream, blob, count, end, read_all)
                    with trio.move_on_after(1.0):  # the last answers
                        while not read_all.is_set() and count.answered < count.sent:
                            await trio.sleep(0.01)
                    nursery.cancel_scope.cancel()
                await websocket.abort()
        except Exception as exc:  # refused, reset: try again
            count.failures[type(exc).__name__] = count.failures.get(type(exc).__name__, 0) + 1
            await trio.sleep(0.05)
    if first:
        print("flooding", flush=True)
    print(json.dumps(count.as_dict()), flush=True)


def _csms_settings(config: FloodConfig) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for name in ("max_call_rate", "call_burst", "flood_close_after"):
        value = getattr(config, name)
        if value is not None:
            settings[name] = value
    return settings


async def _stdin_lines() -> Any:
    stream = trio.lowlevel.FdStream(os.dup(0))
    buffer = b""
    async with stream:
        while True:
            chunk = await stream.receive_some(4096)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                yield line.decode().strip()


async def _role_csms(config: FloodConfig) -> None:
    """A built-in CSMS on 127.0.0.1:0 (heartbeat interval 1 s); print ``port N``; on the line
    ``stats`` print its statistics and the peak bytes it held for :data:`FLOODER`; exit at EOF."""
    from ..actors.csms import Csms

    csms = Csms("127.0.0.1", 0, heartbeat_interval=1, idle_timeout=None, **_csms_settings(config))
    peak = {"user": 0, "kernel": 0}
    lag = _Phases()

    async def sample() -> None:
        while True:
            link = csms._links.get(FLOODER)  # (diagnostics: the flooder's websocket)
            if link is not None:
                websocket = link.conn.websocket
                peak["user"] = max(peak["user"], websocket_buffered(websocket))
                peak["kernel"] = max(peak["kernel"], kernel_queued(websocket))
            await trio.sleep(0.005)

    async with trio.open_nursery() as nursery:
        port = await nursery.start(csms.run)
        nursery.start_soon(sample)
        nursery.start_soon(_probe_loop_lag, lag)
        print(f"port {port}", flush=True)
        async for line in _stdin_lines():
            if line.startswith("phase "):
                lag.phase = line.split()[1] if line.split()[1] in lag.rtts else None
            elif line == "stats":
                stats = msgspec.to_builtins(csms.statistics())
                loop_lag = {key: _lag_summary(lag, key, 1.0) for key in lag.rtts}
                print(json.dumps({"statistics": stats, "buffered_peak": peak, "loop_lag": loop_lag}), flush=True)
        nursery.cancel_scope.cancel()


async def _role_hostile(config: FloodConfig) -> None:
    """A CSMS that answers the station connecting to it (boot Accepted every simulated
    second) and, on the line ``flood``, pipelines CALLs at it for ``flood_s``; then prints
    a JSON line of what came back. Prints ``port N`` once listening."""
    from ..net.transport import Accepted, serve_ocpp
    from ..net.websocket import ConnectionClosed

    links: list[Any] = []
    count = _FloodCount()
    now = "2026-01-01T00:00:00Z"
    flooding = False  # (then it answers nothing: the flood's writes own the stream)

    async def on_station(accepted: Accepted) -> None:
        websocket = accepted.websocket
        links.append(websocket)
        try:
            while True:
                message = await websocket.get_message()
                text = message if isinstance(message, str) else message.decode(errors="replace")
                if text.startswith("[2,"):
                    if flooding:
                        continue
                    try:
                        frame = json.loads(text)
                        message_id, action = frame[1], frame[2]
                    except (ValueError, IndexError, TypeError):
                        continue
                    if action == "BootNotification":
                        payload = f'{{"currentTime":"{now}","interval":1,"status":"Accepted"}}'
                    elif action == "Heartbeat":
                        payload = f'{{"currentTime":"{now}"}}'
                    elif action in ("StatusNotification", "NotifyEvent", "NotifyReport", "MeterValues",
                                    "SecurityEventNotification", "FirmwareStatusNotification"):
                        payload = "{}"
                    else:
                        await websocket.send_message(f'[4,"{message_id}","NotImplemented","",{{}}]')
                        continue
                    await websocket.send_message(f'[3,"{message_id}",{payload}]')
                else:
                    count.offer(text)
        except ConnectionClosed as exc:
            count.close(exc)

    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_ocpp, on_station, "127.0.0.1", 0)
        print(f"port {port}", flush=True)
        async for line in _stdin_lines():
            if line == "flood" and links:
                count.connections += 1
                websocket = links[-1]
                flooding = True
                blob = _flood_blob(config, "GetLocalListVersion", masked=False)
                await _flood(websocket.stream, blob, count, trio.current_time() + config.flood_s, trio.Event())
                with trio.move_on_after(1.0):
                    while websocket.closed is None and count.answered < count.sent:
                        await trio.sleep(0.01)
                flooding = False
                print(json.dumps(count.as_dict()), flush=True)
        nursery.cancel_scope.cancel()


# ------------------------------------------------------------- the runner


class _Peer:
    """A peer process: its stdout read line by line, its stdin for commands."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._buffer = b""

    @classmethod
    async def start(cls, nursery: trio.Nursery, role: str, config: FloodConfig, *args: str) -> _Peer:
        command = [sys.executable, "-m", "fleet.chaos.flood", role, msgspec.json.encode(config).decode(), *args]
        process = await nursery.start(functools_partial_run_process(command))
        return cls(process)

    async def line(self, timeout: float = 20.0) -> str:
        assert self.process.stdout is not None
        with trio.fail_after(timeout):
            while b"\n" not in self._buffer:
                chunk = await self.process.stdout.receive_some(65536)
                if not chunk:
                    raise RuntimeError(f"flood peer {self.process.args!r} ended early")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode().strip()

    async def send(self, line: str) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(line.encode() + b"\n")

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            if self.process.stdin is not None:
                await self.process.stdin.aclose()
        with trio.move_on_after(5):
            await self.process.wait()
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


def functools_partial_run_process(command: list[str]) -> Callable[..., Any]:
    import functools
    import subprocess

    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return functools.partial(trio.run_process, command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=None, check=False, env=env)


class _Phases:
    """Round trips recorded per phase ("baseline", "flood")."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.rtts: dict[str, list[float]] = {"baseline": [], "flood": []}

    def record(self, seconds: float) -> None:
        if self.phase is not None:
            self.rtts[self.phase].append(seconds)


#: Seconds the loop-lag probe sleeps.
_LAG_TICK: Final = 0.002


async def _probe_loop_lag(phases: _Phases) -> None:
    """Record how late a short sleep wakes up: the longest stretch some task held the
    event loop (plus the time the process waited for a core)."""
    while True:
        started = time.perf_counter()
        await trio.sleep(_LAG_TICK)
        phases.record(max(0.0, time.perf_counter() - started - _LAG_TICK))


def _lag_summary(phases: _Phases, key: str, seconds: float) -> dict[str, Any]:
    summary = _summary(phases.rtts[key], seconds)
    return {"p50_ms": summary["p50_ms"], "p99_ms": summary["p99_ms"], "max_ms": summary["max_ms"]}


async def _healthy_client(url: str, station_id: str, interval: float, phases: _Phases) -> None:
    from ..net.transport import open_station_websocket

    async with open_station_websocket(url, station_id) as (websocket, _):
        n = 0
        next_at = trio.current_time()
        while True:
            sent = time.perf_counter()
            await websocket.send_message(f'[2,"hb-{n}","Heartbeat",{{}}]')
            while True:
                message = await websocket.get_message()
                if isinstance(message, str) and message.startswith(f'[3,"hb-{n}"'):
                    break
            phases.record(time.perf_counter() - sent)
            n += 1
            next_at += interval
            await trio.sleep_until(max(next_at, trio.current_time()))


async def _to_csms(config: FloodConfig, say: Callable[[str], None]) -> dict[str, Any]:
    phases = _Phases()
    async with trio.open_nursery() as nursery:
        csms = await _Peer.start(nursery, "csms", config)
        port = int((await csms.line()).split()[1])
        url = f"ws://127.0.0.1:{port}/ocpp"
        async with trio.open_nursery() as clients:
            for i in range(config.healthy):
                clients.start_soon(_healthy_client, url, f"HEALTHY{i:03d}", config.interval, phases)
            await trio.sleep(0.5)
            say(f"flood to the CSMS: {config.healthy} healthy stations, {config.baseline_s:g} s baseline")
            phases.phase = "baseline"
            await csms.send("phase baseline")
            await trio.sleep(config.baseline_s)
            phases.phase = None
            await csms.send("phase none")
            rss_before = _rss_of(csms.process.pid)
            rss_peak = rss_before
            flooder = await _Peer.start(nursery, "flooder", config, url)
            await flooder.line()  # "flooding"
            say(f"flood to the CSMS: {config.flood_s:g} s of pipelined CALLs (every {config.big_every}th "
                f"{config.big_bytes // 1000} KB)")
            phases.phase = "flood"
            await csms.send("phase flood")
            result_line: list[str] = []

            async def flooder_result() -> None:
                result_line.append(await flooder.line(config.flood_s + 30))

            nursery.start_soon(flooder_result)
            end = trio.current_time() + config.flood_s
            while trio.current_time() < end:
                rss_peak = max(rss_peak, _rss_of(csms.process.pid))
                await trio.sleep(0.02)
            phases.phase = None
            await csms.send("phase none")
            while not result_line:
                await trio.sleep(0.02)
            clients.cancel_scope.cancel()
        await flooder.stop()
        await csms.send("stats")
        stats = json.loads(await csms.line())
        await csms.stop()
    baseline, flood = _summary(phases.rtts["baseline"], config.baseline_s), _summary(phases.rtts["flood"], config.flood_s)
    buffered = stats["buffered_peak"]
    statistics = stats["statistics"]
    held = int(buffered["user"]) + int(buffered["kernel"])
    return {
        "healthy": config.healthy, "baseline": baseline, "flood": flood,
        "flooder": json.loads(result_line[0]),
        "csms_rss_growth": rss_peak - rss_before,
        "buffered_for_flooder_peak": buffered,
        "csms_flood_counters": statistics.get("flood", {}),
        "loop_lag": stats["loop_lag"],
        "goals": _goals(baseline, flood, held),
    }


class _HeartbeatObserver:
    """Records a station's Heartbeat round trips into the current phase."""

    def __init__(self, phases: _Phases) -> None:
        self.phases = phases

    def call_completed(self, action: str, outgoing: bool, latency: float) -> None:
        if outgoing and action == "Heartbeat":
            self.phases.record(latency)

    def call_failed(self, action: str, error: Any) -> None:
        pass

    def violation(self, code: str) -> None:
        pass


async def _to_station(config: FloodConfig, say: Callable[[str], None]) -> dict[str, Any]:
    from ..actors.station import Station
    from ..profiles import StationProfile

    phases = _Phases()
    lag = _Phases()
    speed = 1.0 / config.interval  # the CSMS asks a Heartbeat every simulated second (a protocol timing:
    # compressed on purpose here, the healthy stations are probes, not a realistic load)
    profile = StationProfile(name="flood", heartbeat_interval=1, ping_interval=0)
    sampled = {"user": 0, "kernel": 0}
    async with trio.open_nursery() as nursery:
        csms = await _Peer.start(nursery, "csms", config)
        url = f"ws://127.0.0.1:{int((await csms.line()).split()[1])}/ocpp"
        hostile = await _Peer.start(nursery, "hostile", config)
        hostile_url = f"ws://127.0.0.1:{int((await hostile.line()).split()[1])}/ocpp"
        healthy = [Station(f"HEALTHY{i:03d}", url, profile=profile, seed=i, speed=speed, protocol_speed=speed,
                           observer=_HeartbeatObserver(phases)) for i in range(config.healthy)]
        flooded = Station(FLOODED, hostile_url, profile=profile, seed=99, speed=speed, protocol_speed=speed)
        async with trio.open_nursery() as fleet:
            for station in [*healthy, flooded]:
                await fleet.start(station.run)
            lag_scope = trio.CancelScope()

            async def probe_lag() -> None:
                with lag_scope:
                    await _probe_loop_lag(lag)

            fleet.start_soon(probe_lag)
            with trio.move_on_after(10):
                while not all(s.snapshot().registration == "Accepted" for s in [*healthy, flooded]):
                    await trio.sleep(0.05)
            await trio.sleep(0.5)
            say(f"flood to a station: {config.healthy} healthy stations beside it, {config.baseline_s:g} s baseline")
            phases.phase = lag.phase = "baseline"
            await trio.sleep(config.baseline_s)
            phases.phase = lag.phase = None
            rss_before = rss_peak = _rss_of()
            await hostile.send("flood")
            say(f"flood to a station: {config.flood_s:g} s of pipelined CALLs from a hostile CSMS")
            phases.phase = lag.phase = "flood"
            result_line: list[str] = []

            async def hostile_result() -> None:
                result_line.append(await hostile.line(config.flood_s + 30))

            nursery.start_soon(hostile_result)
            end = trio.current_time() + config.flood_s
            while trio.current_time() < end:
                rss_peak = max(rss_peak, _rss_of())
                conn = flooded.connection
                if conn is not None:
                    sampled["user"] = max(sampled["user"], websocket_buffered(conn.websocket))
                    sampled["kernel"] = max(sampled["kernel"], kernel_queued(conn.websocket))
                await trio.sleep(0.005)
            phases.phase = lag.phase = None
            while not result_line:
                await trio.sleep(0.02)
            conn = flooded.connection
            flood_counters = getattr(conn, "flood_counters", None)  # (builds before the flood policy: none)
            counters = flood_counters.as_dict() if flood_counters is not None else {}
            lag_scope.cancel()
            for station in [*healthy, flooded]:
                fleet.start_soon(station.shutdown, 2.0)
            # (a station may wait for an answer the hostile CSMS never sent: a bound on the whole)
            fleet.cancel_scope.deadline = trio.current_time() + 5.0
        await hostile.stop()
        await csms.stop()
    baseline, flood = _summary(phases.rtts["baseline"], config.baseline_s), _summary(phases.rtts["flood"], config.flood_s)
    return {
        "healthy": config.healthy, "baseline": baseline, "flood": flood,
        "flooder": json.loads(result_line[0]),
        "station_worker_rss_growth": rss_peak - rss_before,
        "buffered_for_flooder_peak": sampled,
        "station_flood_counters": counters,
        "loop_lag": {key: _lag_summary(lag, key, 1.0) for key in lag.rtts},
        "goals": _goals(baseline, flood, sampled["user"] + sampled["kernel"]),
    }


async def run_flood(config: FloodConfig | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every direction (see the module's description); return their figures."""
    from ..actors import csms as csms_module

    config = config or FloodConfig()
    say = progress or (lambda text: None)
    result: dict[str, Any] = {"config": msgspec.to_builtins(config)}
    result["to_csms"] = await _to_csms(config, say)
    limited = msgspec.structs.replace(
        config, max_call_rate=getattr(csms_module, "DEFAULT_MAX_CALL_RATE", None),
        flood_close_after=getattr(csms_module, "DEFAULT_FLOOD_CLOSE_AFTER", None))
    if limited.max_call_rate is not None:  # (builds before the flood policy have none)
        say("flood to the CSMS again, with fleet csms's limits")
        result["to_csms_limited"] = await _to_csms(limited, say)
        result["to_csms_limited"]["limits"] = {"max_call_rate": limited.max_call_rate,
                                               "flood_close_after": limited.flood_close_after}
    result["to_station"] = await _to_station(config, say)
    result["passed"] = all(all(result[d]["goals"].values()) for d in DIRECTIONS if d in result)
    return result


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:,.1f}"


def render_flood(flood: dict[str, Any]) -> list[str]:
    """Lines of the flood figures for people."""
    lines = ["ONE PEER FLOODS, THE OTHERS MUST NOT STALL"]
    for key, title in DIRECTIONS.items():
        d = flood.get(key)
        if not d:
            continue
        b, f, goals = d["baseline"], d["flood"], d["goals"]
        mark = "✓" if all(goals.values()) else "✗"
        limits = d.get("limits")
        if limits:
            title += f": {limits['max_call_rate']:g} CALLs/s, 1008 after {limits['flood_close_after']} refusals"
        lines.append(f"{mark} {title}; {d['healthy']} healthy stations' round trips, baseline vs flood")
        lines.append(f"    baseline  answers {b['answers_per_s']:>6,.0f}/s  p50 {_ms(b['p50_ms'])} ms  p99 {_ms(b['p99_ms'])} ms  "
                     f"max {_ms(b['max_ms'])} ms")
        lines.append(f"    flood     answers {f['answers_per_s']:>6,.0f}/s  p50 {_ms(f['p50_ms'])} ms  p99 {_ms(f['p99_ms'])} ms  "
                     f"max {_ms(f['max_ms'])} ms   (goals: p99 {'✓' if goals['p99_within_noise'] else '✗'}, "
                     f"max < {MAX_RTT_MS:.0f} ms {'✓' if goals['max_under_250ms'] else '✗'})")
        fl = d["flooder"]
        errors = ", ".join(f"{k} {v:,}" for k, v in sorted(fl.get("errors", {}).items())) or "none"
        closes = ", ".join(f"{k}: {v:,}" for k, v in sorted(fl.get("closes", {}).items())) or "none"
        lines.append(f"    flooder   sent {fl['sent']:,} CALLs over {fl.get('connections', 0):,} connections, got "
                     f"{fl['results']:,} CALLRESULTs, CALLERRORs: {errors}; closes: {closes}")
        growth = d.get("csms_rss_growth", d.get("station_worker_rss_growth", 0))
        held = d["buffered_for_flooder_peak"]
        who = "station worker" if key == "to_station" else "CSMS process"
        lines.append(f"    memory    {who} RSS +{growth / 2**20:,.1f} MiB; held for the flooder at most "
                     f"{held['user'] / 1024:,.0f} KiB in the websocket + {held['kernel'] / 1024:,.0f} KiB in the "
                     f"kernel {'✓' if goals['memory_bounded'] else '✗'}")
        lag = d.get("loop_lag")
        if lag:
            b, f = lag["baseline"], lag["flood"]
            lines.append(f"    loop lag  of the {who}: baseline p99 {_ms(b['p99_ms'])} ms, max {_ms(b['max_ms'])} ms; "
                         f"flood p99 {_ms(f['p99_ms'])} ms, max {_ms(f['max_ms'])} ms")
        counters = d.get("csms_flood_counters", d.get("station_flood_counters"))
        if counters:
            lines.append("    counters  " + ", ".join(f"{k} {v:,}" for k, v in counters.items()))
    return lines


# ------------------------------------------------------------- entry point


def _main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.ERROR)
    if argv[0] in ("flooder", "hostile"):
        # On a small machine the flooder's own process would take CPU from the process under
        # test; at a lower priority the figures show how that process shares its loop.
        os.nice(10)
    role, config = argv[0], msgspec.json.decode(argv[1], type=FloodConfig)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner stops its peers
    if role == "csms":
        trio.run(_role_csms, config)
    elif role == "flooder":
        trio.run(_role_flooder, argv[2], config)
    elif role == "hostile":
        trio.run(_role_hostile, config)
    else:
        print(f"unknown role {role!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
