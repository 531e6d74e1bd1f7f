"""The CSMS's log of station connections: one INFO line per station connect, disconnect and
refused handshake (with the reason), and no flood when thousands arrive at once.

Of each kind, at most :data:`LINES_PER_WINDOW` lines are written per :data:`WINDOW` seconds;
the rest are counted and said in one line per kind when the window ends
(``... and 4,980 more stations connected in the last 1 s``). Nothing is formatted when INFO
is off for the logger (``fleet.csms.connections``): ``fleet csms -v`` shows them. Connections
come and go far more rarely than messages: none of this is on the per-message path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import trio

__all__ = ["LINES_PER_WINDOW", "LOGGER_NAME", "WINDOW", "ConnectionLog"]

LOGGER_NAME = "fleet.csms.connections"
#: Lines of one kind written per window; the rest are counted.
LINES_PER_WINDOW = 20
#: Seconds of a window.
WINDOW = 1.0

#: What a refused handshake's status means (the status as the transport reports it).
REFUSALS: dict[str, str] = {
    "400": "no OCPP subprotocol in common",
    "401": "wrong or missing password (HTTP 401)",
    "403": "client certificate not issued to this station id (HTTP 403)",
    "404": "unknown path (HTTP 404)",
    "tls": "TLS handshake failed",
    "partition": "partitioned by a fault",
}
#: Refusals the transport already logs as a warning with their details: not said twice.
WARNED = frozenset({"403", "tls"})
#: How the held-back count of each kind is said.
_HELD = {"connect": "stations connected", "disconnect": "stations disconnected", "refused": "handshakes refused"}


class ConnectionLog:
    """Rate-limited INFO lines about connections; :meth:`run` says what was held back."""

    def __init__(self, logger: logging.Logger | None = None, *, lines_per_window: int = LINES_PER_WINDOW,
                 window: float = WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger if logger is not None else logging.getLogger(LOGGER_NAME)
        self.lines_per_window = lines_per_window
        self.window = window
        self._clock = clock
        self._window_start = clock()
        self._written = {kind: 0 for kind in _HELD}
        self._held = {kind: 0 for kind in _HELD}

    def connected(self, station_id: str, remote: str, version: str) -> None:
        if self.logger.isEnabledFor(logging.INFO) and self._admit("connect"):
            self.logger.info("%s connected from %s (OCPP %s)", station_id, remote, version)

    def disconnected(self, station_id: str, reason: str) -> None:
        if self.logger.isEnabledFor(logging.INFO) and self._admit("disconnect"):
            self.logger.info("%s disconnected (%s)", station_id, reason)

    def refused(self, status: int | str, who: str) -> None:
        """A refused handshake: ``status`` as :func:`fleet.net.transport.serve_ocpp` reports it
        (an HTTP status, ``"tls"``), ``who``: the station id, path or peer address."""
        if str(status) not in WARNED and self.logger.isEnabledFor(logging.INFO) and self._admit("refused"):
            reason = REFUSALS.get(str(status), f"HTTP {status}")
            self.logger.info("refused %s: %s", who, reason)

    def _admit(self, kind: str) -> bool:
        now = self._clock()
        if now - self._window_start >= self.window:
            self.flush()
            self._window_start = now
        if self._written[kind] < self.lines_per_window:
            self._written[kind] += 1
            return True
        self._held[kind] += 1
        return False

    def flush(self) -> None:
        """Say how many lines of each kind were held back in the window, and start a new one."""
        for kind, count in self._held.items():
            if count:
                self.logger.info("... and %s more %s in the last %g s", f"{count:,}", _HELD[kind], self.window)
                self._held[kind] = 0
        for kind in self._written:
            self._written[kind] = 0

    async def run(self) -> None:
        """Every window, say what was held back (so a burst's count does not wait for the next
        connection); runs until cancelled."""
        while True:
            await trio.sleep(self.window)
            if any(self._held.values()):
                self.flush()
                self._window_start = self._clock()
