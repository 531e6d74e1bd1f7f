"""Websocket data frames in their common case, written and read without wsproto (RFC 6455 section 5).

Almost every frame of an OCPP connection is the same simple one: a whole text
message in one frame (FIN set, no RSV bits, opcode 1), a few hundred bytes,
masked from the station, unmasked from the CSMS, no extension. wsproto handles
every frame through several layers of pure-Python objects; in a load test with
thousands of connections per process that was about a tenth of the CPU. This
module writes those frames as bytes and reads them with a small strict parser
that recognizes ONLY that case (and says when a frame of that case is not all
there yet, for the reader to wait for the rest).

The rule that keeps it safe (as in :mod:`fleet.net.handshake_head`):
:func:`decode_frame` answers ``None`` for anything it does not fully take (a
control frame, a fragment, an RSV bit, the wrong mask bit, a length not in its
shortest form, a payload over the limit, text that is not UTF-8...), and the caller hands those very bytes, and all after them, to
wsproto, so every refusal and close code stays wsproto's. What it reads is a
subset of what wsproto reads, with the same message, and the bytes
:func:`encode_frame` writes are the bytes wsproto writes (with the same masking
key).
"""

from __future__ import annotations

import os
import struct
import weakref
from collections.abc import Callable

__all__ = ["BINARY", "TEXT", "UNKNOWN_END", "MaskingKeys", "decode_frame", "encode_frame", "mask"]

#: Opcodes of the data frames (RFC 6455 section 5.2).
TEXT = 0x1
BINARY = 0x2

_FIN = 0x80
_MASKED = 0x80
_LENGTH_16 = 126  # (the 7-bit length field's marks for a 16-bit or 64-bit length after it)
_LENGTH_64 = 127
_TEXT_HEAD = _FIN | TEXT
_BINARY_HEAD = _FIN | BINARY
#: Largest payload :func:`mask` XORs as one integer; a longer one goes lane by lane
#: through ``bytes.translate`` (measured: the integer is faster up to about 400 bytes).
_INTEGER_MASK_LIMIT = 384
_IDENTITY = bytes(range(256))
#: ``_XOR[b]``: the translation table that XORs every byte with ``b``.
_XOR = tuple((int.from_bytes(_IDENTITY) ^ int.from_bytes(bytes((b,)) * 256)).to_bytes(256) for b in range(256))
#: :func:`decode_frame`'s end of a simple frame whose head is not all there yet.
UNKNOWN_END = -1
_HEAD_NOT_ALL_THERE = (None, UNKNOWN_END)
_SIMPLE_FIRST = frozenset((_TEXT_HEAD, _BINARY_HEAD))
_HEAD_16 = struct.Struct("!BBH")
_HEAD_64 = struct.Struct("!BBQ")


def mask(payload: bytes, key: bytes) -> bytes:
    """``payload`` XOR the 4-byte ``key`` repeated (RFC 6455 section 5.3): masks and unmasks."""
    size = len(payload)
    if size <= _INTEGER_MASK_LIMIT:
        if not size:
            return b""
        keys = (key * ((size >> 2) + 1))[:size]
        return (int.from_bytes(payload) ^ int.from_bytes(keys)).to_bytes(size)
    masked = bytearray(payload)
    for lane in range(4):  # (bytes lane, lane + 4, lane + 8... all XOR the key's byte ``lane``)
        masked[lane::4] = masked[lane::4].translate(_XOR[key[lane]])
    return bytes(masked)


def encode_frame(opcode: int, payload: bytes, masking_key: bytes | None) -> bytes:
    """One whole data frame (FIN set, no RSV bits) of ``opcode`` carrying ``payload``, its length
    in the shortest form, masked with ``masking_key`` (a client's 4 fresh bytes; ``None`` for a
    server's unmasked frame)."""
    size = len(payload)
    first = _FIN | opcode
    if masking_key is None:
        if size < _LENGTH_16:
            return bytes((first, size)) + payload
        if size <= 0xFFFF:
            return _HEAD_16.pack(first, _LENGTH_16, size) + payload
        return _HEAD_64.pack(first, _LENGTH_64, size) + payload
    if size < _LENGTH_16:
        head = bytes((first, _MASKED | size))
    elif size <= 0xFFFF:
        head = _HEAD_16.pack(first, _MASKED | _LENGTH_16, size)
    else:
        head = _HEAD_64.pack(first, _MASKED | _LENGTH_64, size)
    return b"".join((head, masking_key, mask(payload, masking_key)))


def decode_frame(data: bytes, start: int, masked: bool, limit: int) -> tuple[str | bytes | None, int] | None:
    """The message of the simple frame at ``data[start:]`` and the offset after it; ``None`` when
    that frame is not the simple case (the caller then leaves these bytes to wsproto); or, when
    what there is of it is simple but not all of it is there yet, ``None`` and the offset where
    it will end (:data:`UNKNOWN_END` while its head is not all there).

    The simple case: FIN set, no RSV bits, opcode text or binary, the mask bit ``masked`` (a
    server reads masked frames, a client unmasked ones), the length in its shortest form, a
    payload of at most ``limit`` bytes, and for text valid UTF-8 (a ``str``; binary as ``bytes``).
    """
    end = len(data)
    if end - start < 2:
        return _HEAD_NOT_ALL_THERE if end > start and data[start] in _SIMPLE_FIRST else None
    first = data[start]
    if first != _TEXT_HEAD and first != _BINARY_HEAD:
        return None
    second = data[start + 1]
    if (second >= _MASKED) is not masked:
        return None
    size = second & 0x7F
    at = start + 2
    if size == _LENGTH_16:
        if end - at < 2:
            return _HEAD_NOT_ALL_THERE
        size = (data[at] << 8) | data[at + 1]
        if size < _LENGTH_16:
            return None
        at += 2
    elif size == _LENGTH_64:
        if end - at < 8:
            return _HEAD_NOT_ALL_THERE
        size = int.from_bytes(data[at : at + 8])
        if size <= 0xFFFF:
            return None
        at += 8
    if size > limit:
        return None
    if masked:
        stop = at + 4 + size
        if stop > end:
            return None, stop
        payload = mask(data[at + 4 : stop], data[at : at + 4])
    else:
        stop = at + size
        if stop > end:
            return None, stop
        payload = data[at:stop]
    if first == _BINARY_HEAD:
        return payload, stop
    try:
        return payload.decode(), stop
    except UnicodeDecodeError:
        return None


class MaskingKeys:
    """Fresh masking keys for a client's frames: 4 bytes each, unpredictable as RFC 6455
    section 5.3 asks, taken from ``os.urandom`` ``batch`` bytes at a time (one system call
    for many frames, not one per frame). A forked child draws its own: what the parent
    had drawn and not used yet is dropped in the child. For one thread (a process's
    trio loop): two threads taking at once could be handed the same key.
    """

    __slots__ = ("__weakref__", "_at", "_batch", "_pool")

    def __init__(self, batch: int = 1024) -> None:
        self._batch = batch - batch % 4
        self._pool = b""
        self._at = 0
        os.register_at_fork(after_in_child=_forget_in_child(weakref.ref(self)))

    def take(self) -> bytes:
        """The next 4-byte key (never handed out before)."""
        at = self._at
        if at >= len(self._pool):
            self._pool, at = os.urandom(self._batch), 0
        self._at = at + 4
        return self._pool[at : at + 4]

    def _forget(self) -> None:
        self._pool, self._at = b"", 0


def _forget_in_child(keys: weakref.ref[MaskingKeys]) -> Callable[[], None]:
    def forget() -> None:
        held = keys()
        if held is not None:
            held._forget()

    return forget
