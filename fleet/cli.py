"""The ``fleet`` command line: one subcommand per module in :mod:`fleet.commands`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .program import is_interrupt

__all__ = ["main"]

#: Subcommands in the order ``fleet --help`` lists them. Each module defines
#: ``HELP`` (one line), ``EXAMPLE`` (one command line), ``add_arguments(parser)``
#: and ``main(args) -> int``.
COMMANDS = ("run", "csms", "station", "bench", "report", "tui", "chaos")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleet",
        description="OCPP 2.0.1 charging-station fleet simulator and CSMS.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    lines = ["commands:"]
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"fleet.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"fleet.commands.{name}":
                continue
            raise
        sub = subparsers.add_parser(
            name,
            help=module.HELP,
            description=f"{module.HELP}\n\nexample:\n  {module.EXAMPLE}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(handler=module.main)
        lines.append(f"  {name:<9} {module.HELP}\n            e.g. {module.EXAMPLE}")
    parser.epilog = "\n".join(lines)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except BaseException as exc:
        if is_interrupt(exc):  # Ctrl-C, also when raised inside a nursery
            return 130
        raise


if __name__ == "__main__":
    sys.exit(main())
