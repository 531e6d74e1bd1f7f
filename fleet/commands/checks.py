"""Checks of command-line values, shared by the commands (not a subcommand).

Each ``type=`` function here refuses a bad value while the arguments are parsed, before
anything starts: argparse then prints one line naming the option and what was expected
and exits with :data:`fleet.exit_codes.USAGE`. :func:`output_file_problem` checks a file
a command will write at its end, so a long run does not lose its results to a typo.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
from collections.abc import Mapping
from pathlib import Path

from ..run.fleetfile import csms_url_problem

__all__ = [
    "SHARD_COUNT_ENV",
    "SHARD_INDEX_ENV",
    "csms_url",
    "listen_problem",
    "non_negative_int",
    "non_negative_number",
    "output_file_problem",
    "password_file",
    "port",
    "positive_int",
    "positive_number",
    "seed",
    "shard",
    "shard_of",
]

#: Where ``--shard auto`` takes its shard from: the index Kubernetes gives each pod of an
#: Indexed Job (0-based, set by Kubernetes) and the number of shards, which the Job's manifest
#: sets to its ``completions`` (Kubernetes does not set it).
SHARD_INDEX_ENV = "JOB_COMPLETION_INDEX"
SHARD_COUNT_ENV = "JOB_COMPLETIONS"


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def positive_number(text: str) -> float:
    """A finite number > 0."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def non_negative_number(text: str) -> float:
    """A finite number >= 0."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number >= 0."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def seed(text: str) -> int:
    """A seed: a whole number that fits in 64 bits (it travels to the workers as one)."""
    value = _integer(text)
    if not -(2**63) <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected a whole number of at most 64 bits, got {text!r}")
    return value


def port(text: str) -> int:
    """A TCP port, 0..65535 (0: a free one)."""
    value = _integer(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0..65535, got {text!r}")
    return value


def shard_of(text: str, environ: Mapping[str, str]) -> tuple[int, int]:
    """The shard ``(I, N)`` of ``--shard``: ``I/N`` (shards count from 0: ``0/2`` and ``1/2``),
    or ``auto``: ``$JOB_COMPLETION_INDEX/$JOB_COMPLETIONS`` from ``environ`` (a pod of a
    Kubernetes Indexed Job runs the shard of its index)."""
    if text == "auto":
        index_text, count_text = environ.get(SHARD_INDEX_ENV, ""), environ.get(SHARD_COUNT_ENV, "")
        missing = [name for name, value in ((SHARD_INDEX_ENV, index_text), (SHARD_COUNT_ENV, count_text))
                   if not value.strip()]
        if missing:
            raise argparse.ArgumentTypeError(
                f"auto: {' and '.join('$' + name for name in missing)} {'is' if len(missing) == 1 else 'are'} "
                f"not set (in a Kubernetes Indexed Job, Kubernetes sets ${SHARD_INDEX_ENV} and the "
                f"manifest ${SHARD_COUNT_ENV}); elsewhere give I/N")
        given = f"auto (${SHARD_INDEX_ENV}={index_text!r}, ${SHARD_COUNT_ENV}={count_text!r})"
        expected = "expected whole numbers"
        parts = [index_text, count_text]
    else:
        given = repr(text)
        expected = "expected I/N, e.g. 0/4, or auto"
        parts = text.split("/")
    try:
        index, count = (int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{given}: {expected}") from None
    if not (count >= 1 and 0 <= index < count):
        raise argparse.ArgumentTypeError(
            f"{given}: need 0 <= I < N (shards count from 0: 0/{max(count, 1)} .. "
            f"{max(count, 1) - 1}/{max(count, 1)})")
    return (index, count)


def shard(text: str) -> tuple[int, int]:
    """``--shard``: :func:`shard_of` with this process's environment."""
    return shard_of(text, os.environ)


def csms_url(text: str) -> str:
    """A CSMS URL: ``ws://`` or ``wss://`` with a host; the endpoint the station id is
    appended to, or a template with ``{station_id}`` (``ws://host/ocpp/{station_id}/``)."""
    problem = csms_url_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def password_file(path: str) -> str:
    """The password in the file ``path``: its first line, without the line end (a password on
    the command line shows in ``ps``; one in a file does not)."""
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline()
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise argparse.ArgumentTypeError(f"{path} is not UTF-8 text") from None
    password = first.rstrip("\r\n")
    if not password:
        raise argparse.ArgumentTypeError(f"{path}: its first line is empty; expected the password")
    return password


def output_file_problem(path: str) -> str | None:
    """Why ``path`` cannot be written (``None``: it can): its directory must exist and be
    writable, and the path must not be a directory. Nothing is created."""
    target = Path(path)
    if target.is_dir():
        return f"{path} is a directory; give a file name"
    directory = target.parent
    if not directory.is_dir():
        return f"directory {str(directory)!r} of {path} does not exist"
    if target.exists():
        if not os.access(target, os.W_OK):
            return f"{path} exists and is not writable"
    elif not os.access(directory, os.W_OK | os.X_OK):
        return f"directory {str(directory)!r} of {path} is not writable"
    return None


def listen_problem(host: str, port: int, *, reuse_port: bool = False) -> str | None:
    """Why nothing can listen on ``host``:``port`` (``None``: a trial listener could, which it
    closes at once). Port 0 (a free one) always can; the host must resolve to an address of
    this machine. The trial socket takes the options the real listener does (``SO_REUSEADDR``,
    ``SO_REUSEPORT`` when ``reuse_port``), so it refuses only what the listener would."""
    if port == 0:
        return None
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        return f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}"
    family, kind, proto, _, address = infos[0]
    try:
        with socket.socket(family, kind, proto) as trial:
            trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port and hasattr(socket, "SO_REUSEPORT"):
                trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            trial.bind(address)
            trial.listen(1)
    except OSError as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None
