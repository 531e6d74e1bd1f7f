"""``fleet tui``: the terminal dashboard, attached to a running fleet or CSMS."""

from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import urlsplit

from ..exit_codes import USAGE

HELP = "watch and drive a running fleet or CSMS in a terminal dashboard (attaches to its control API)"
EXAMPLE = "fleet tui ws://127.0.0.1:7700/ --token \"$FLEET_CONTROL_TOKEN\""

#: The environment variable read when --token is not given.
TOKEN_ENV = "FLEET_CONTROL_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", nargs="?", default="ws://127.0.0.1:7700/", metavar="CONTROL_URL",
                        help="the control API of a running `fleet run` or `fleet csms` (default ws://127.0.0.1:7700/)")
    parser.add_argument("--token", metavar="T",
                        help=f"the control API's token (default: ${TOKEN_ENV}); needed when it listens beyond loopback")


def main(args: argparse.Namespace) -> int:
    from ..tui import run_dashboard

    url = args.url if "://" in args.url else f"ws://{args.url}/"
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("ws", "wss") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # e.g. a port out of range
        valid = False
    if not valid:
        print(f"fleet tui: {args.url!r}: expected the control API's URL, ws://HOST:PORT/ or wss://HOST:PORT/ "
              "(as `fleet run` and `fleet csms` print it)", file=sys.stderr)
        return USAGE
    return run_dashboard(url, args.token or os.environ.get(TOKEN_ENV) or None)
