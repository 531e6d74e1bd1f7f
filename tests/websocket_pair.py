"""A (client, server) pair of fleet's websockets over a real TCP connection on 127.0.0.1, for
the websocket tests (``from websocket_pair import websocket_pair``)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import trio

from fleet.net.websocket import HandshakeRequest, WebSocket, client_handshake, server_handshake

Decide = Callable[[HandshakeRequest], Awaitable[WebSocket | None]]  # accept (or not) a handshake


async def accept_first_proposed(request: HandshakeRequest) -> WebSocket | None:
    """Accept the handshake with the first subprotocol the client proposed."""
    return await request.accept(subprotocol=request.proposed_subprotocols[0] if request.proposed_subprotocols else None)


@asynccontextmanager
async def websocket_pair(decide: Decide = accept_first_proposed, *, limit: int) -> AsyncIterator[tuple[WebSocket, WebSocket]]:
    """The client proposes ``ocpp2.0.1`` at ``/ocpp/CS1``; ``decide`` answers on the server
    side; both ends take messages up to ``limit`` bytes. Both are aborted at the end."""
    accepted: trio.MemorySendChannel[WebSocket]
    accepted, incoming = trio.open_memory_channel[WebSocket](1)

    async def handle(stream: trio.SocketStream) -> None:
        request = await server_handshake(stream, max_message_size=limit)
        assert request is not None
        websocket = await decide(request)
        if websocket is not None:
            await accepted.send(websocket)
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        client = await client_handshake(stream, host=f"127.0.0.1:{port}", target="/ocpp/CS1",
                                        subprotocols=["ocpp2.0.1"], max_message_size=limit)
        server = await incoming.receive()
        yield client, server
        await client.abort()
        await server.abort()
        nursery.cancel_scope.cancel()
