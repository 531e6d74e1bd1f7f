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
from pathlib import Path

from ..run.fleetfile import csms_url_problem

__all__ = [
    "csms_url",
    "non_negative_int",
    "non_negative_number",
    "output_file_problem",
    "port",
    "positive_int",
    "positive_number",
    "seed",
]


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


def csms_url(text: str) -> str:
    """A CSMS URL: ``ws://`` or ``wss://`` with a host."""
    problem = csms_url_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


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
