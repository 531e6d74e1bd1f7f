"""The raw OCPP log: every frame sent and received, as JSON lines.

Each line is ``{"time": ISO-8601, "station": id, "direction": "in"|"out", "frame": text}``.
Off by default; when on, lines are buffered and written in batches so a busy
fleet does not make a system call per frame.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import IO, Literal

import msgspec

__all__ = ["OcppLog"]


class _Line(msgspec.Struct):
    time: str
    station: str
    direction: str
    frame: str


class OcppLog:
    """A JSON-lines writer of raw frames; use as a context manager or call :meth:`close`.

    Args:
        path: the file to append to (``"-"`` for standard output).
        flush_every: lines buffered before they are written.
    """

    def __init__(self, path: str | Path, *, flush_every: int = 256) -> None:
        self.path = str(path)
        self._file: IO[bytes]
        if self.path == "-":
            import sys

            self._file = sys.stdout.buffer
            self._owned = False
        else:
            self._file = open(self.path, "ab")  # noqa: SIM115 - closed in close()
            self._owned = True
        self._encoder = msgspec.json.Encoder()
        self._buffer = bytearray()
        self._pending = 0
        self._flush_every = flush_every
        self.lines = 0

    def write(self, station_id: str, direction: Literal["in", "out"], frame: str) -> None:
        """Record one frame (buffered)."""
        stamp = datetime.datetime.fromtimestamp(time.time(), datetime.UTC).isoformat(timespec="milliseconds")
        self._encoder.encode_into(_Line(stamp, station_id, direction, frame), self._buffer, -1)
        self._buffer.extend(b"\n")
        self.lines += 1
        self._pending += 1
        if self._pending >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        """Write buffered lines to the file."""
        if self._buffer:
            self._file.write(self._buffer)
            self._file.flush()
            self._buffer.clear()
        self._pending = 0

    def close(self) -> None:
        """Flush and close the file."""
        self.flush()
        if self._owned:
            self._file.close()

    def __enter__(self) -> OcppLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
