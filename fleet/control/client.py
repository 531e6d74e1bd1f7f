"""Clients of the control API: :class:`ControlClient` (asyncio, for Textual and scripts)
and :func:`open_trio_client` (trio, for tests and trio scripts).

Both send ``{"type": ..., "id": n, ...fields}``, match each reply to its command
by ``id``, decode ``result`` into the command's result Struct
(:data:`~fleet.control.messages.RESULT_TYPES`) and raise :class:`ControlRequestError`
for an ``error`` reply. Subscription events arrive on :meth:`ControlClient.events`
(a bounded buffer: when the reader falls behind, the oldest events are dropped and
counted in ``dropped``).

Example (asyncio)::

    async with ControlClient("ws://127.0.0.1:7700/", token="s3cret") as client:
        fleet = await client.request("snapshot", rows=False)
        print(fleet.states, fleet.calls_per_s)
        await client.request("plug", station_id="CS00001", evse_id=1)
        reply = await client.request("send", station_id="CS00001", action="Heartbeat", payload={})
        print(reply.outcome, reply.response)
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from typing import Any, Final

import msgspec

from .messages import RESULT_TYPES, ControlEvent, Error, encode, reply_decoder

__all__ = [
    "ControlClient",
    "ControlConnectionError",
    "ControlRequestError",
    "TrioControlClient",
    "open_trio_client",
]

#: Largest reply accepted (a snapshot of 20,000 stations is about 5 MB).
MAX_REPLY_SIZE: Final = 256 * 1024 * 1024


class ControlRequestError(Exception):
    """The server answered a command with an ``error`` reply."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}


class ControlConnectionError(ConnectionError):
    """The control connection is closed (or could not be opened)."""


class _Core:
    """Library-independent part: ids, encoding, reply decoding."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.commands: dict[int, str] = {}
        self.result_types: dict[int, Any] = {}
        self._decoder = reply_decoder()

    def prepare(self, command: str, fields: dict[str, Any], result_type: Any = None) -> tuple[int, str]:
        rid = next(self._ids)
        self.commands[rid] = command
        if result_type is not None:
            self.result_types[rid] = result_type
        return rid, encode({**fields, "type": command, "id": rid}).decode()

    def decode(self, data: str | bytes) -> tuple[str, Any, Any]:
        """``("result", id, value)``, ``("error", id, ControlRequestError)`` or ``("event", None, ControlEvent)``."""
        reply = self._decoder.decode(data)
        if isinstance(reply, Error):
            self.commands.pop(reply.id, None)  # type: ignore[arg-type]
            self.result_types.pop(reply.id, None)  # type: ignore[arg-type]
            return "error", reply.id, ControlRequestError(reply.code, reply.message, reply.details)
        if hasattr(reply, "subscription"):
            return "event", None, reply.event
        command = self.commands.pop(reply.id, None)
        result_type = self.result_types.pop(reply.id, None) or RESULT_TYPES.get(command or "", Any)
        return "result", reply.id, msgspec.json.decode(reply.result, type=result_type)


class ControlClient:
    """An asyncio client of the control API (uses ``websockets``).

    Args:
        url: ``ws://host:port/``.
        token: the server's token, if it requires one.
        event_buffer: events kept for a slow reader of :meth:`events`.
        open_timeout: seconds to connect.
    """

    def __init__(self, url: str, token: str | None = None, *, event_buffer: int = 10_000, open_timeout: float = 10) -> None:
        self.url = url
        self.token = token
        self.open_timeout = open_timeout
        self.dropped = 0
        self._core = _Core()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._events: asyncio.Queue[ControlEvent | None] = asyncio.Queue(maxsize=event_buffer)
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._closed_reason: str | None = None

    async def __aenter__(self) -> ControlClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._closed_reason is None

    async def connect(self) -> None:
        """Open the connection.

        Raises:
            ControlConnectionError: refused (401: bad token), unreachable, or too slow.
        """
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus, WebSocketException

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        try:
            self._ws = await connect(
                self.url,
                additional_headers=headers,
                compression=None,
                max_size=MAX_REPLY_SIZE,
                open_timeout=self.open_timeout,
                ping_interval=20,
                ping_timeout=60,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            hint = " (wrong or missing token)" if status == 401 else ""
            raise ControlConnectionError(f"{self.url}: HTTP {status}{hint}") from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise ControlConnectionError(f"{self.url}: {exc}") from None
        self._closed_reason = None
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def close(self) -> None:
        """Close the connection (pending requests fail)."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None

    async def request(self, command: str, /, **fields: Any) -> Any:
        """Send ``command`` with ``fields`` and return its result Struct.

        Raises:
            ControlRequestError: the server answered with an error.
            ControlConnectionError: the connection closed first.
        """
        return await self.request_as(None, command, **fields)

    async def request_as(self, result_type: Any, command: str, /, **fields: Any) -> Any:
        """:meth:`request`, with the result decoded as ``result_type`` (``None``: the command's own
        result type); e.g. a leaner Struct of the same JSON (the dashboard's stations table)."""
        from websockets.exceptions import ConnectionClosed

        if not self.connected:
            raise ControlConnectionError(self._closed_reason or "not connected")
        rid, text = self._core.prepare(command, fields, result_type)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            try:
                await self._ws.send(text)
            except ConnectionClosed as exc:  # (closed before our reader noticed: as the trio client says it)
                raise ControlConnectionError(self._closed_reason or f"connection closed: {exc}") from None
            return await future
        finally:
            self._pending.pop(rid, None)

    async def events(self) -> AsyncIterator[ControlEvent]:
        """Events of every subscription of this client, until the connection closes."""
        while True:
            event = await self._events.get()
            if event is None:
                self._events.put_nowait(None)  # wake other readers too
                return
            yield event

    def _push_event(self, event: ControlEvent | None) -> None:
        while True:
            try:
                self._events.put_nowait(event)
                return
            except asyncio.QueueFull:
                self._events.get_nowait()
                self.dropped += 1

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        reason = "connection closed"
        try:
            async for message in self._ws:
                try:
                    kind, rid, value = self._core.decode(message)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue  # not ours to crash on
                if kind == "event":
                    self._push_event(value)
                    continue
                future = self._pending.get(rid)
                if future is not None and not future.done():
                    if kind == "error":
                        future.set_exception(value)
                    else:
                        future.set_result(value)
        except ConnectionClosed as exc:
            reason = f"connection closed: {exc}"
        finally:
            self._closed_reason = reason
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ControlConnectionError(reason))
            self._push_event(None)


class TrioControlClient:
    """The trio twin of :class:`ControlClient` (uses trio-websocket); make it with :func:`open_trio_client`."""

    def __init__(self, websocket: Any, event_buffer: int) -> None:
        import trio

        self._ws = websocket
        self._core = _Core()
        self._pending: dict[int, tuple[trio.Event, list[Any]]] = {}
        self._send_events, self._receive_events = trio.open_memory_channel[ControlEvent](event_buffer)
        self.dropped = 0
        self.closed_reason: str | None = None

    async def request(self, command: str, /, **fields: Any) -> Any:
        """Send ``command`` and return its result Struct (raises like :meth:`ControlClient.request`)."""
        import trio
        from trio_websocket import ConnectionClosed

        if self.closed_reason is not None:
            raise ControlConnectionError(self.closed_reason)
        rid, text = self._core.prepare(command, fields)
        done = trio.Event()
        slot: list[Any] = []
        self._pending[rid] = (done, slot)
        try:
            try:
                await self._ws.send_message(text)
            except ConnectionClosed as exc:
                raise ControlConnectionError(f"connection closed: {exc}") from None
            await done.wait()
        finally:
            self._pending.pop(rid, None)
        kind, value = slot
        if kind != "result":
            raise value
        return value

    async def send_raw(self, text: str | bytes) -> None:
        """Send any text (for testing the server's handling of bad input)."""
        await self._ws.send_message(text)

    def events(self) -> Any:
        """The receive channel of subscription events (``async for event in client.events()``)."""
        return self._receive_events

    async def _read(self) -> None:
        import trio
        from trio_websocket import ConnectionClosed

        reason = "connection closed"
        try:
            while True:
                message = await self._ws.get_message()
                try:
                    kind, rid, value = self._core.decode(message)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue
                if kind == "event":
                    try:
                        self._send_events.send_nowait(value)
                    except trio.WouldBlock:
                        self.dropped += 1
                    continue
                entry = self._pending.get(rid)
                if entry is not None:
                    entry[1][:] = [kind, value]
                    entry[0].set()
        except ConnectionClosed as exc:
            reason = f"connection closed: {exc.reason}"
        finally:
            self.closed_reason = reason
            for done, slot in self._pending.values():
                if not done.is_set():
                    slot[:] = ["error", ControlConnectionError(reason)]
                    done.set()
            self._send_events.close()


@asynccontextmanager
async def open_trio_client(
    url: str, token: str | None = None, *, event_buffer: int = 10_000, use_query_token: bool = False
) -> AsyncIterator[TrioControlClient]:
    """Connect to a control server from trio; the client closes with the context.

    Args:
        url: ``ws://host:port/``.
        token: the server's token; sent as ``Authorization: Bearer``, or as
            ``?token=`` with ``use_query_token``.

    Raises:
        ControlConnectionError: refused (e.g. 401) or unreachable.
    """
    try:
        async with _open_trio_client(url, token, event_buffer, use_query_token) as client:
            yield client
    except BaseExceptionGroup as group:  # the body's own exception, not wrapped by our nursery
        if len(group.exceptions) == 1 and isinstance(group.exceptions[0], Exception):
            raise group.exceptions[0] from None
        raise


@asynccontextmanager
async def _open_trio_client(
    url: str, token: str | None, event_buffer: int, use_query_token: bool
) -> AsyncIterator[TrioControlClient]:
    import trio
    from trio_websocket import ConnectionRejected, HandshakeError, open_websocket_url

    headers = None
    if token and use_query_token:
        url = url + ("&" if "?" in url else "?") + "token=" + token
    elif token:
        headers = [(b"authorization", f"Bearer {token}".encode())]
    async with AsyncExitStack() as stack:
        try:
            websocket = await stack.enter_async_context(open_websocket_url(
                url, extra_headers=headers, max_message_size=MAX_REPLY_SIZE, connect_timeout=10, disconnect_timeout=2
            ))
        except ConnectionRejected as exc:
            hint = " (wrong or missing token)" if exc.status_code == 401 else ""
            raise ControlConnectionError(f"{url}: HTTP {exc.status_code}{hint}") from None
        except (OSError, HandshakeError, trio.TooSlowError) as exc:
            raise ControlConnectionError(f"{url}: {exc}") from None
        client = TrioControlClient(websocket, event_buffer)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client._read)
            try:
                yield client
            finally:
                nursery.cancel_scope.cancel()
