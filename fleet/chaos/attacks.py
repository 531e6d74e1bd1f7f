"""Hostile peers: raw attackers against a CSMS, and a hostile CSMS against stations.

Everything here talks to real sockets (the suite uses 127.0.0.1 only) and records
what the other side did with each input, by class:

* :func:`raw_attack` — before or at the websocket handshake: garbage bytes, a
  garbage HTTP request, oversize or countless headers, bad Basic auth, no OCPP
  subprotocol, TCP connections that never speak, handshakes left half done,
  websockets that never send a frame. The outcome is what came back: an HTTP
  status, a websocket close code, a reset, a close, or ``open`` (still holding
  the connection at the deadline: a defect).
* :func:`websocket_attack` — after a valid handshake: random bytes, random JSON
  and every malformed class of :mod:`.malformed`, checked against the CALLERROR
  a conformant CSMS answers (in the OCPP version the attacker speaks).
* :class:`HostileCsms` — a CSMS that attacks the stations connecting to it: it
  sends them random bytes and JSON, every malformed class, random *valid* requests
  of every CSMS action (fuzzing the station's handlers), and answers their own
  requests with garbage now and then (invalid payloads, CALLERRORs, unknown ids,
  no answer at all), each station in the OCPP version it negotiated.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import random
import string
from typing import Any, Final

import msgspec
import trio

from ..faults import MALFORMED_CLASSES, record_probe
from ..malformed import (
    ANY_ERROR,
    CLOSED,
    RESULT,
    Direction,
    Expect,
    Probe,
    ProbeRun,
    directions,
    make_probe,
    random_request,
    spell_probe,
)
from ..net.transport import Accepted, HandshakeError, HandshakeRefused, open_station_websocket, serve_ocpp
from ..net.websocket import ConnectionClosed, WebSocket
from ..ocpp import V201, ProtocolVersion
from ..ocpp.errors import ErrorCode

__all__ = [
    "RAW_CLASSES",
    "STATION_CLASSES",
    "WEBSOCKET_CLASSES",
    "HostileCsms",
    "random_response",
    "raw_attack",
    "websocket_attack",
]

#: Attacks at or before the handshake, and what a sound server does (any of these).
RAW_EXPECTED: Final[dict[str, frozenset[str]]] = {
    "garbage_bytes": frozenset({"closed", "reset", "http 400"}),
    "garbage_request": frozenset({"closed", "reset", "http 400"}),
    "oversize_headers": frozenset({"closed", "reset", "http 400", "http 413", "http 431"}),
    "many_headers": frozenset({"closed", "reset", "http 400", "http 413", "http 431"}),
    "bad_auth": frozenset({"http 401"}),
    "no_subprotocol": frozenset({"close 1002", "http 400"}),
    "silent_tcp": frozenset({"closed", "reset"}),
    "partial_handshake": frozenset({"closed", "reset", "http 408"}),
    "silent_websocket": frozenset({"close 1008", "close 1000", "close 1001", "closed", "reset"}),
}
RAW_CLASSES: Final = tuple(RAW_EXPECTED)
#: Attacks over an established websocket.
WEBSOCKET_CLASSES: Final = ("random_bytes", "random_json", *MALFORMED_CLASSES)
#: What the hostile CSMS sends stations.
STATION_CLASSES: Final = ("random_bytes", "random_json", *MALFORMED_CLASSES, "valid_random")

_RPC = str(ErrorCode.RPC_FRAMEWORK_ERROR)
_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder()


# --------------------------------------------------------------- random input


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return rng.choice((None, True, False))
    if kind == 1:
        return rng.choice((0, -1, 2**63, rng.randint(-10**6, 10**6), rng.uniform(-1e9, 1e9)))
    if kind == 2:
        return "".join(rng.choice(string.printable + "äé€\u2028") for _ in range(rng.randint(0, 40)))
    if kind == 3:
        return rng.choice(("", "2", "Heartbeat", "-1"))
    if kind in (4, 5):
        return {"".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(1, 8))): _random_json(rng, depth + 1)
                for _ in range(rng.randint(0, 4))}
    return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))]


def random_bytes_probe(rng: random.Random) -> Probe:
    """A binary frame (OCPP-J uses text frames) of random bytes, or of a frame with a byte
    that is not UTF-8 in one of its strings: RpcFrameworkError, or a close."""
    if rng.random() < 0.5:
        data = rng.randbytes(rng.randint(1, 2048))
        variant = "random"
    else:
        bad = bytes([rng.choice((0x80, 0x83, 0xC0, 0xFF, 0xED))])
        data = rng.choice((b'[2,"' + bad + b'","Heartbeat",{}]', b'[2,"fault-x","Heartbeat",{"customData":{"vendorId":"'
                           + bad + b'"}}]', b'[2,"fault-y","DataTransfer",{"vendorId":"x","data":"' + bad + b'"}]'))
        variant = "invalid_utf8"
    return Probe("random_bytes", variant, (data,), (Expect("-1", frozenset({_RPC, CLOSED})),), survive=False)


def random_json_probe(rng: random.Random) -> Probe:
    """A random JSON text that is no frame (not an array, or an array whose first element
    is not a number and whose second is not an id): RpcFrameworkError with id ``-1``."""
    value = _random_json(rng)
    if isinstance(value, list):
        first = _random_json(rng, 3)
        while isinstance(first, (int, float)) and not isinstance(first, bool):
            first = str(first)
        value = [first, *(v for v in value[1:] if not isinstance(v, str))]
    return Probe("random_json", type(value).__name__, (_encoder.encode(value).decode(),),
                 (Expect("-1", frozenset({_RPC})),))


def random_response(action: str, rng: random.Random, version: ProtocolVersion = V201) -> dict[str, Any]:
    """A random valid response payload of ``action`` in ``version`` (wire names)."""
    response_type = version.actions[action][1]
    info = msgspec.inspect.type_info(response_type)
    from ..malformed import _random_value

    decoder = version.response_decoder(action)
    for attempt in range(20):
        payload = _random_value(info, rng, 0, 0.3 if attempt < 15 else 0.0)
        try:
            decoder.decode(_encoder.encode(payload))
        except msgspec.ValidationError:
            continue
        return payload  # type: ignore[no-any-return]
    raise ValueError(f"no valid random {action} response found")


def _probe_for(klass: str, rng: random.Random, direction: Direction, oversize_bytes: int) -> Probe:
    """A probe of ``klass`` towards ``direction``, its codes spelled as the direction's version spells them."""
    if klass == "random_bytes":
        return spell_probe(random_bytes_probe(rng), direction.version)
    if klass == "random_json":
        return spell_probe(random_json_probe(rng), direction.version)
    if klass == "valid_random":
        action = rng.choice(direction.actions)
        message_id = f"fault-{rng.getrandbits(64):016x}"
        payload = _encoder.encode(random_request(direction.version, action, rng)).decode()
        frame = f'[2,"{message_id}","{action}",{payload}]'
        # Any answer will do, so long as it is not InternalError (a handler that failed).
        return Probe("valid_random", action, (frame,), (Expect(message_id, frozenset({RESULT, ANY_ERROR})),))
    return make_probe(klass, rng, direction, oversize_bytes=oversize_bytes)


# -------------------------------------------------------------------- raw TCP


def _upgrade(host: str, port: int, path: str, station_id: str, rng: random.Random, *, auth: bytes | None,
             subprotocol: str | None = V201.subprotocol) -> bytes:
    key = base64.b64encode(rng.randbytes(16))
    lines = [
        f"GET {path}/{station_id} HTTP/1.1".encode(),
        f"Host: {host}:{port}".encode(),
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: " + key,
        b"Sec-WebSocket-Version: 13",
    ]
    if subprotocol:
        lines.append(b"Sec-WebSocket-Protocol: " + subprotocol.encode())
    if auth is not None:
        lines.append(b"Authorization: " + auth)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _outcome(data: bytes, closed: bool, reset: bool) -> str:
    if data.startswith(b"HTTP/1.1 "):
        status = data[9:12].decode(errors="replace")
        if status != "101":
            return f"http {status}"
        end = data.find(b"\r\n\r\n")
        frame = data[end + 4:] if end >= 0 else b""
        if len(frame) >= 4 and frame[0] & 0x0F == 0x8:  # a close frame: its code
            return f"close {int.from_bytes(frame[2:4], 'big')}"
        if closed or reset:
            return "closed"
        return "open"
    if reset:
        return "reset"
    return "closed" if closed else "open"


async def raw_attack(klass: str, host: str, port: int, path: str, rng: random.Random, *,
                     credentials: tuple[str, str], deadline: float, subprotocol: str = V201.subprotocol) -> str:
    """One raw attack of ``klass``; return what the server did (see :data:`RAW_EXPECTED`).

    ``credentials`` are a valid (station id, password) for the attacks that need to get
    past authentication; ``deadline`` is how long (seconds) to wait for the server's verdict;
    ``subprotocol`` is the OCPP version offered where the handshake offers one.
    """
    station_id, password = credentials
    valid = b"Basic " + base64.b64encode(f"{station_id}:{password}".encode())
    send: list[bytes]
    if klass == "garbage_bytes":
        send = [rng.randbytes(rng.randint(1, 8192))]
    elif klass == "garbage_request":
        send = [rng.choice((b"HELLO\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                            b"GET " + rng.randbytes(64).replace(b"\r", b"").replace(b"\n", b"") + b" HTTP/1.1\r\n\r\n",
                            b"POST /ocpp/X HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"))]
    elif klass == "oversize_headers":
        send = [b"GET " + path.encode() + b"/" + station_id.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Fleet: "
                + b"a" * rng.randint(64 * 1024, 1024 * 1024) + b"\r\n\r\n"]
    elif klass == "many_headers":
        send = [b"GET " + path.encode() + b"/" + station_id.encode() + b" HTTP/1.1\r\n"
                + b"".join(b"X-%d: y\r\n" % i for i in range(rng.randint(5000, 20000))) + b"\r\n"]
    elif klass == "bad_auth":
        auth = rng.choice((
            b"Basic " + base64.b64encode(f"{station_id}:wrong-password".encode()),
            b"Basic " + base64.b64encode(f"SOMEONE-ELSE:{password}".encode()),
            b"Basic !!!not-base64!!!",
            b"Basic " + base64.b64encode(b"no-colon"),
            b"Bearer " + rng.randbytes(12).hex().encode(),
            None,
        ))
        send = [_upgrade(host, port, path, station_id, rng, auth=auth, subprotocol=subprotocol)]
    elif klass == "no_subprotocol":
        send = [_upgrade(host, port, path, station_id, rng, auth=valid, subprotocol=None)]
    elif klass == "silent_tcp":
        send = []
    elif klass == "partial_handshake":
        whole = _upgrade(host, port, path, station_id, rng, auth=valid, subprotocol=subprotocol)
        send = [whole[: rng.randint(1, len(whole) - 5)]]
    elif klass == "silent_websocket":
        send = [_upgrade(host, port, path, station_id, rng, auth=valid, subprotocol=subprotocol)]
    else:
        raise ValueError(f"unknown raw attack {klass!r}")
    data = b""
    closed = reset = False
    try:
        stream = await trio.open_tcp_stream(host, port)
    except OSError:
        return "refused"
    try:
        for chunk in send:
            await stream.send_all(chunk)
        with trio.move_on_after(deadline):
            while True:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    closed = True
                    break
                data += chunk
                if len(data) > 1 << 20:
                    break
                if klass not in ("silent_websocket", "no_subprotocol") and data.startswith(b"HTTP/1.1 ") \
                        and b"\r\n\r\n" in data:
                    break  # the verdict is in
                if klass in ("silent_websocket", "no_subprotocol") and _outcome(data, False, False).startswith("close"):
                    break
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        reset = True
    finally:
        await stream.aclose()
    return _outcome(data, closed, reset)


# ------------------------------------------------------------- over a websocket


async def websocket_attack(
    url: str, station_id: str, password: str | None, rng: random.Random, table: dict[str, dict[str, Any]], *,
    classes: tuple[str, ...] = WEBSOCKET_CLASSES, attempts: int = 20, timeout: float = 5.0,
    oversize_bytes: int = 300 * 1024, version: ProtocolVersion = V201,
) -> None:
    """Open a websocket as ``station_id`` speaking OCPP ``version`` and send ``attempts`` probes
    drawn from ``classes``, recording each outcome in ``table`` (per class, as
    :func:`fleet.faults.record_probe`); reconnect when the CSMS closes the connection."""
    done = 0
    to_csms = directions(version)[0]
    while done < attempts:
        try:
            async with open_station_websocket(url, station_id, password=password,
                                              subprotocols=(version.subprotocol,)) as (websocket, _):
                while done < attempts:
                    probe = _probe_for(rng.choice(classes), rng, to_csms, oversize_bytes)
                    done += 1
                    run = await _run_probe(websocket, probe, timeout)
                    record_probe(table, run)
                    if run.closed:
                        break
        except (OSError, trio.TooSlowError, ConnectionClosed, HandshakeError, HandshakeRefused):
            done += 1  # could not connect: count the attempt, try again
            await trio.sleep(0.05)


async def _run_probe(websocket: WebSocket, probe: Probe, timeout: float) -> ProbeRun:
    run = ProbeRun(probe)
    try:
        for frame in probe.frames:
            await websocket.send_message(frame)
        with trio.move_on_after(timeout):
            while run.waiting:
                message = await websocket.get_message()
                run.offer(message)
    except ConnectionClosed:
        run.connection_closed()
    run.finish(websocket.closed is not None)
    return run


# ------------------------------------------------------------------ hostile CSMS


class HostileCsms:
    """A CSMS that attacks the stations connecting to it (at ``ws://127.0.0.1:<port>/ocpp``).

    Args:
        seed: seed of every choice it makes.
        probe_interval: seconds between two attacks on one station.
        garbage_share: share of the stations' requests answered with garbage (an
            invalid payload, a CALLERROR, an unknown message id, not JSON, or nothing).
        oversize_bytes: size of its oversize frames (above the stations' 256 KiB limit).
        answer_timeout: seconds to wait for a station's answer to an attack.
        classes: the attack classes, drawn at random (default :data:`STATION_CLASSES`).
        cycle: take the classes in turn instead of at random (every class early).
        versions: the OCPP versions it serves (default: 2.0.1); each station is attacked in
            the version it negotiated.

    Attributes:
        attacks: per class: tried, matched (the station answered as a conformant
            station must), outcomes (see :func:`fleet.faults.record_probe`).
        answered: the stations' requests answered properly; ``garbage``: with garbage.
        handler_errors: ``InternalError`` answers to valid requests (a station handler failed).
    """

    def __init__(self, seed: int = 1, *, probe_interval: float = 0.2, garbage_share: float = 0.2,
                 oversize_bytes: int = 300 * 1024, answer_timeout: float = 5.0,
                 classes: tuple[str, ...] = STATION_CLASSES, cycle: bool = False,
                 versions: tuple[ProtocolVersion, ...] = (V201,)) -> None:
        self.rng = random.Random(seed)
        self.versions = versions
        self.classes = classes
        self.cycle = cycle
        self._turn = 0
        self.probe_interval = probe_interval
        self.garbage_share = garbage_share
        self.oversize_bytes = oversize_bytes
        self.answer_timeout = answer_timeout
        self.attacks: dict[str, dict[str, Any]] = {}
        self.answered = 0
        self.garbage = 0
        self.handler_errors: dict[str, int] = {}
        self.connections = 0
        self.url = ""

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; ``task_status.started(url)`` once listening."""
        async with trio.open_nursery() as nursery:
            port = await nursery.start(functools.partial(serve_ocpp, self._on_station, "127.0.0.1", 0, path="/ocpp",
                                                         versions=self.versions))
            self.url = f"ws://127.0.0.1:{port}/ocpp"
            task_status.started(self.url)

    async def _on_station(self, accepted: Accepted) -> None:
        self.connections += 1
        link = _HostileLink(self, accepted.websocket, random.Random(self.rng.getrandbits(64)), accepted.version)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(link.attack)
            await link.read()
            nursery.cancel_scope.cancel()


class _HostileLink:
    def __init__(self, owner: HostileCsms, websocket: WebSocket, rng: random.Random, version: ProtocolVersion) -> None:
        self.owner = owner
        self.websocket = websocket
        self.rng = rng
        self.version = version
        self.to_station = directions(version)[1]
        self.run: ProbeRun | None = None

    async def read(self) -> None:
        while True:
            try:
                message = await self.websocket.get_message()
            except ConnectionClosed:
                if self.run is not None:
                    self.run.connection_closed()
                return
            run = self.run
            if run is not None and run.offer(message):
                continue
            try:
                frame = _decoder.decode(message)
            except msgspec.DecodeError:
                continue
            if isinstance(frame, list) and len(frame) == 4 and frame[0] == 2 and isinstance(frame[1], str) \
                    and frame[2] in self.version.actions:
                await self._answer(frame[1], frame[2])

    async def _answer(self, message_id: str, action: str) -> None:
        owner, rng = self.owner, self.rng
        text: str | None
        if rng.random() < owner.garbage_share and action != "BootNotification":
            owner.garbage += 1
            kind = rng.randrange(6)
            if kind == 0:
                text = f'[3,"{message_id}",{_encoder.encode(_random_json(rng)).decode()}]'
            elif kind == 1:
                text = f'[4,"{message_id}","{rng.choice([str(c) for c in ErrorCode])}","chaos",{{}}]'
            elif kind == 2:
                text = f'[3,"fleet-unknown-{rng.getrandbits(32)}",{{}}]'
            elif kind == 3:
                text = "[3," + message_id
            elif kind == 4:
                text = f'[4,"{message_id}",42,null]'
            else:
                text = None  # no answer at all
        else:
            owner.answered += 1
            payload = random_response(action, rng, self.version)
            if action == "BootNotification":
                payload["status"] = "Accepted" if rng.random() < 0.9 else rng.choice(("Pending", "Rejected"))
                payload["interval"] = rng.randint(1, 30)
            text = f'[3,"{message_id}",{_encoder.encode(payload).decode()}]'
        if text is not None:
            with contextlib.suppress(ConnectionClosed):
                await self.websocket.send_message(text)

    async def attack(self) -> None:
        owner, rng = self.owner, self.rng
        while True:
            await trio.sleep(rng.uniform(0.5, 1.5) * owner.probe_interval)
            if owner.cycle:
                klass = owner.classes[owner._turn % len(owner.classes)]
                owner._turn += 1
            else:
                klass = rng.choice(owner.classes)
            probe = _probe_for(klass, rng, self.to_station, owner.oversize_bytes)
            run = ProbeRun(probe)
            self.run = run
            try:
                for frame in probe.frames:
                    await self.websocket.send_message(frame)
                with trio.move_on_after(owner.answer_timeout):
                    await run.done.wait()
            except ConnectionClosed:
                run.connection_closed()
            finally:
                self.run = None
            run.finish(self.websocket.closed is not None)
            record_probe(owner.attacks, run)
            if probe.klass == "valid_random" and ErrorCode.INTERNAL_ERROR in run.outcomes:
                owner.handler_errors[probe.variant] = owner.handler_errors.get(probe.variant, 0) + 1
            if run.closed:
                return
