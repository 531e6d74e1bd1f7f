"""The control server: JSON commands over a websocket, answered by a :class:`ControlBackend`.

Each connection reads commands, decodes each into its Struct (a field the command
does not have is refused, ``bad_request``), runs it through the command registry
(:data:`fleet.control.commands.REGISTRY`) in its own task (at most
:data:`MAX_IN_FLIGHT` at once; reading waits beyond that), and answers each with
one ``result`` or ``error`` carrying the command's ``id``. A bad command gets an
``error`` reply and the connection goes on; a message larger than
``max_message_size`` closes the connection (1009). Subscriptions push ``event``
messages from their own tasks; they end with ``unsubscribe`` or the connection.

Authentication: with a ``token``, every handshake must carry it, as
``Authorization: Bearer <token>`` or ``?token=<token>``; anything else gets HTTP
401. Without a token the server only listens on a loopback address.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import ipaddress
import itertools
import logging
import urllib.parse
from typing import Any, Final

import msgspec
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, WebSocketServer

from ..net.transport import open_listeners
from .backend import ControlBackend
from .commands import REGISTRY
from .errors import ControlError
from .messages import (
    COMMANDS,
    MAX_MESSAGE_SIZE,
    Ack,
    ControlEvent,
    Error,
    ErrorCode,
    Event,
    Result,
    Subscribe,
    SubscribeResult,
    Unsubscribe,
    command_decoder,
    encode,
)

__all__ = [
    "DEFAULT_CONTROL_PORT",
    "MAX_IN_FLIGHT",
    "MAX_SUBSCRIPTIONS",
    "ControlServer",
    "is_loopback",
    "serve_control",
]

logger = logging.getLogger("fleet.control")

#: The port ``fleet run`` / ``fleet csms`` serve the control API on, and ``fleet tui`` attaches to.
DEFAULT_CONTROL_PORT: Final = 7700
#: Commands of one connection running at once.
MAX_IN_FLIGHT: Final = 64
#: Subscriptions of one connection.
MAX_SUBSCRIPTIONS: Final = 32
#: Seconds a client may take to complete its opening handshake.
HANDSHAKE_TIMEOUT: Final = 10.0


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _token_of(request: WebSocketRequest) -> str | None:
    for name, value in request.headers:
        if name.lower() == b"authorization":
            scheme, _, credentials = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    query = urllib.parse.urlsplit(request.path).query
    values = urllib.parse.parse_qs(query).get("token")
    return values[0] if values else None


class ControlServer:
    """Serves a :class:`ControlBackend` over websocket.

    Args:
        backend: what the commands drive.
        host: the address to listen on (loopback by default).
        port: the port (0 picks a free one; read :attr:`port` once running).
        token: the shared secret clients must present; required unless ``host`` is loopback.
        max_message_size: largest command accepted, in bytes.

    Raises:
        ValueError: no ``token`` for a non-loopback ``host``.
    """

    def __init__(
        self,
        backend: ControlBackend,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token: str | None = None,
        max_message_size: int = MAX_MESSAGE_SIZE,
    ) -> None:
        if not token and not is_loopback(host):
            raise ValueError(
                f"the control API on {host} (not a loopback address) needs a token: anyone who reaches it "
                "could drive the fleet"
            )
        self.backend = backend
        self.host = host
        self.token = token or None
        self.max_message_size = max_message_size
        self._requested_port = port
        self.port: int | None = None
        self.connections = 0

    @property
    def url(self) -> str:
        """``ws://host:port/`` (without the token)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port if self.port is not None else self._requested_port}/"

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; ``task_status.started(port)`` once listening."""
        listeners = await open_listeners(self.host, self._requested_port)
        server = WebSocketServer(
            self._handle,
            listeners,
            max_message_size=self.max_message_size,
            connect_timeout=HANDSHAKE_TIMEOUT,
            disconnect_timeout=2,
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            self.port = server.port
            logger.info("control API on %s (token %s)", self.url, "required" if self.token else "off")
            task_status.started(server.port)

    async def _handle(self, request: WebSocketRequest) -> None:
        if self.token is not None:
            offered = _token_of(request)
            if offered is None or not hmac.compare_digest(offered.encode(), self.token.encode()):
                await request.reject(
                    401, extra_headers=[(b"www-authenticate", b'Bearer realm="fleet"')], body=b"unauthorized\n"
                )
                return
        websocket = await request.accept()
        self.connections += 1
        try:
            await _Connection(websocket, self.backend).serve()
        finally:
            self.connections -= 1


class _Connection:
    """One client: its commands in flight and its subscriptions."""

    _ids = itertools.count(1)

    def __init__(self, websocket: WebSocketConnection, backend: ControlBackend) -> None:
        self.websocket = websocket
        self.backend = backend
        self.in_flight = trio.Semaphore(MAX_IN_FLIGHT)
        self.subscriptions: dict[str, tuple[str | None, trio.CancelScope]] = {}
        self.decoder = command_decoder()

    async def serve(self) -> None:
        async with trio.open_nursery() as nursery:
            try:
                while True:
                    try:
                        data = await self.websocket.get_message()
                    except ConnectionClosed:
                        break
                    await self.in_flight.acquire()
                    nursery.start_soon(self._run, nursery, data)
            finally:
                nursery.cancel_scope.cancel()

    async def _send(self, message: Any) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.websocket.send_message(encode(message).decode())

    async def _run(self, nursery: trio.Nursery, data: str | bytes) -> None:
        try:
            reply = await self._execute(nursery, data)
            if reply is not None:
                await self._send(reply)
        finally:
            self.in_flight.release()

    def _bad(self, data: str | bytes, exc: Exception) -> Error:
        """The error reply for a message that did not decode as a command."""
        try:
            raw = msgspec.json.decode(data)
        except msgspec.DecodeError as bad_json:
            return Error(code=ErrorCode.BAD_REQUEST, message=f"not JSON: {bad_json}")
        if not isinstance(raw, dict):
            return Error(code=ErrorCode.BAD_REQUEST, message="a command is a JSON object with a \"type\" field")
        rid = raw.get("id")
        rid = rid if isinstance(rid, (int, str)) and not isinstance(rid, bool) else None
        kind = raw.get("type")
        if kind is None:
            return Error(id=rid, code=ErrorCode.BAD_REQUEST, message="missing \"type\": which command?")
        if not isinstance(kind, str) or kind not in COMMANDS:
            return Error(
                id=rid,
                code=ErrorCode.UNKNOWN_COMMAND,
                message=f"unknown command {kind!r}; commands: {', '.join(sorted(COMMANDS))}",
            )
        return Error(id=rid, code=ErrorCode.BAD_REQUEST, message=f"{kind}: {exc}")

    async def _execute(self, nursery: trio.Nursery, data: str | bytes) -> Any:
        try:
            command = self.decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return self._bad(data, exc)
        rid = command.id
        name = type(command).__struct_config__.tag
        try:
            if isinstance(command, Subscribe):
                return await self._subscribe(nursery, command)
            if isinstance(command, Unsubscribe):
                return Result(id=rid, result=self._unsubscribe(command))
            return Result(id=rid, result=await REGISTRY.run(self.backend, command))
        except ControlError as exc:
            return Error(id=rid, code=exc.code, message=exc.message, details=exc.details)
        except Exception as exc:
            logger.exception("control command %s failed", name)
            return Error(id=rid, code=ErrorCode.INTERNAL_ERROR, message=f"{name} failed: {exc!r}")

    async def _subscribe(self, nursery: trio.Nursery, command: Subscribe) -> Error | None:
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            return Error(id=command.id, code=ErrorCode.BUSY, message=f"at most {MAX_SUBSCRIPTIONS} subscriptions")
        subscription = f"s{next(self._ids)}"
        await nursery.start(functools.partial(self._pump, command, subscription))
        return None  # the pump sent the result, before any event

    async def _pump(self, command: Subscribe, subscription: str, *, task_status: trio.TaskStatus[None]) -> None:
        with trio.CancelScope() as scope:
            self.subscriptions[subscription] = (command.station_id, scope)
            try:
                async with self.backend.subscribe(command.station_id, source=command.source) as events:
                    await self._send(Result(
                        id=command.id, result=SubscribeResult(subscription, command.station_id, command.source)
                    ))
                    task_status.started()
                    try:
                        async for event in events:
                            await self._send(Event(subscription=subscription, event=event))
                    except Exception:
                        logger.exception("subscription %s failed", subscription)
                    await self._send(Event(
                        subscription=subscription, event=ControlEvent(command.station_id or "", "ended")
                    ))
            finally:
                self.subscriptions.pop(subscription, None)

    def _unsubscribe(self, command: Unsubscribe) -> Ack:
        if command.subscription is None and command.station_id is None:
            raise ControlError(ErrorCode.BAD_REQUEST, "give subscription or station_id")
        ended = [
            sid for sid, (station_id, _) in self.subscriptions.items()
            if sid == command.subscription or (command.station_id is not None and station_id == command.station_id)
        ]
        if not ended:
            raise ControlError(ErrorCode.NOT_FOUND, "no such subscription")
        for sid in ended:
            self.subscriptions.pop(sid)[1].cancel()
        return Ack(message=f"ended {', '.join(ended)}")


async def serve_control(
    backend: ControlBackend,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    token: str | None = None,
    task_status: trio.TaskStatus[ControlServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a :class:`ControlServer` until cancelled; ``task_status.started(server)`` once listening."""
    server = ControlServer(backend, host, port, token=token)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        task_status.started(server)
