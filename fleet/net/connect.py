"""Opening a station's TCP connection: straight to an IP address, without a resolver.

:func:`trio.open_tcp_stream` resolves the host (``getaddrinfo``, even for
``"127.0.0.1"``) and runs happy eyeballs: a nursery and a task per attempt. For
an address written as an IP literal, what a load test against ``127.0.0.1`` or
any IP uses, there is one address to try and nothing to race: this connects
the socket directly (about 4% of a station worker's CPU during a ramp went to
that machinery). Hostnames keep :func:`trio.open_tcp_stream`. Either way the
result is the same :class:`trio.SocketStream` (TCP_NODELAY and the rest of its
options), and a failure is the same ``OSError`` trio raises, with the attempt's
own error (e.g. ``ConnectionRefusedError``) in the group it comes from.
"""

from __future__ import annotations

import socket

import trio

__all__ = ["ip_family", "open_tcp"]


def ip_family(host: str) -> socket.AddressFamily | None:
    """``AF_INET`` or ``AF_INET6`` for an IP literal (``"127.0.0.1"``, ``"::1"``), else ``None``."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        return family
    return None


async def open_tcp(host: str, port: int) -> trio.SocketStream:
    """A TCP connection to ``host:port``, direct for an IP literal (see the module).

    Raises:
        OSError: the connection failed.
    """
    family = ip_family(host)
    if family is None:
        return await trio.open_tcp_stream(host, port)
    sock = trio.socket.socket(family, socket.SOCK_STREAM)
    try:
        await sock.connect((host, port))
    except OSError as exc:
        sock.close()
        where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        message = f"all attempts to connect to {where} failed"  # (trio's words for the same failure)
        raise OSError(message) from ExceptionGroup(message, [exc])
    except BaseException:
        sock.close()
        raise
    return trio.SocketStream(sock)
