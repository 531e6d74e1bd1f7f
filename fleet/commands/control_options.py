"""The control-API options shared by ``fleet run`` and ``fleet csms`` (not a subcommand).

Both serve the control API (:mod:`fleet.control`) by default, on 127.0.0.1 port
7700 — where ``fleet tui`` looks first — or, when that port is taken (a second
run, a ``fleet csms`` next to a ``fleet run``), on a free port; either way they
print ``control on ws://HOST:PORT/``. ``--control-port 0`` always picks a free
port, an explicit port must be free, ``--no-control`` turns the API off. Off the
loopback address a token is required (``--control-token`` or
``$FLEET_CONTROL_TOKEN``; the environment keeps it out of ``ps``).
"""

from __future__ import annotations

import argparse
import os

from msgspec import Struct

from ..control.server import DEFAULT_CONTROL_PORT, is_loopback
from .checks import listen_problem
from .checks import port as port_number
from .tui import TOKEN_ENV

__all__ = [
    "ControlSettings",
    "add_control_arguments",
    "control_line",
    "control_port_problem",
    "control_settings",
    "first_error",
]


class ControlSettings(Struct, frozen=True):
    """Where to serve the control API: ``fallback``: take a free port when ``port`` is taken."""

    host: str
    port: int
    token: str | None
    fallback: bool


def add_control_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("control API (what `fleet tui` and scripts attach to)")
    group.add_argument("--control-port", type=port_number, metavar="P",
                       help=f"serve the control API on port P (default {DEFAULT_CONTROL_PORT}, or a free port when "
                            "it is taken; 0: a free port); the URL is printed as 'control on ws://...'")
    group.add_argument("--control-host", default="127.0.0.1", metavar="H",
                       help="address of the control API (default 127.0.0.1; any other address needs a token)")
    group.add_argument("--control-token", metavar="T",
                       help=f"token clients must present (default: ${TOKEN_ENV}); required off loopback")
    group.add_argument("--no-control", action="store_true", help="do not serve the control API")


def control_settings(args: argparse.Namespace) -> ControlSettings | None:
    """The settings from the parsed options (``None``: no control API).

    Raises:
        ValueError: a non-loopback host without a token, or a bad port (the message says which).
    """
    if args.no_control:
        return None
    token = args.control_token or os.environ.get(TOKEN_ENV) or None
    host = args.control_host
    if not token and not is_loopback(host):
        raise ValueError(f"--control-host {host} is not a loopback address: anyone who reaches it could drive "
                         f"this process; give --control-token (or ${TOKEN_ENV})")
    port = args.control_port
    if port is not None and not 0 <= port <= 65535:
        raise ValueError(f"--control-port {port}: expected 0..65535")
    if port is None:
        return ControlSettings(host, DEFAULT_CONTROL_PORT, token, fallback=True)
    return ControlSettings(host, port, token, fallback=False)


def control_port_problem(control: ControlSettings | None) -> str | None:
    """Why the control API cannot listen on the port ``--control-port`` asked for (``None``: it
    can, or no port was asked for: the default one falls back to a free port)."""
    if control is None or control.fallback:
        return None
    problem = listen_problem(control.host, control.port)
    return f"--control-port {control.port}: {problem}" if problem else None


def control_line(url: str, token: str | None) -> str:
    """The line announcing the control API (``fleet run --tui`` reads it back)."""
    return f"control on {url}" + (" (token required)" if token else "")


def first_error(error: BaseException) -> BaseException:
    """The first exception that is not a group, inside ``error`` (trio nurseries nest them)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error
