# PYTHON_ARGCOMPLETE_OK
"""The ``fleet`` command line: one subcommand per module in :mod:`fleet.commands`.

Shell completion through argcomplete: ``eval "$(register-python-argcomplete fleet)"``
(README "The command line").
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

import argcomplete

from . import __version__, exit_codes
from .program import is_interrupt

__all__ = ["EXIT_CODES", "main"]

#: The exit codes, as ``fleet --help`` and every command's ``--help`` list them (README "Exit codes").
EXIT_CODES = f"""exit codes:
  {exit_codes.OK:<4} passed: carried out, every threshold held
  {exit_codes.THRESHOLDS_FAILED:<4} a threshold failed (or could not be measured)
  {exit_codes.USAGE:<4} bad argument, option, profile, fleet file or report; nothing was started
  {exit_codes.RUN_FAILED:<4} the run could not be carried out (no station online, a worker died, ...)
  {exit_codes.INTERRUPTED:<4} interrupted by Ctrl-C or SIGTERM (what was measured is still reported)"""


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line naming the option and what was expected, exit code USAGE."""

    def error(self, message: str) -> NoReturn:
        self.exit(exit_codes.USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


#: Subcommands in the order ``fleet --help`` lists them. Each module defines
#: ``HELP`` (one line), ``EXAMPLE`` (one command line), ``add_arguments(parser)``
#: and ``main(args) -> int``.
COMMANDS = ("run", "csms", "station", "bench", "report", "tui", "chaos", "certs")


def add_output_options(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``-v``/``-q``, accepted before the subcommand and after it (``fleet -v run``, ``fleet run -v``).

    Only the top parser has defaults (0, False): a subcommand's parser leaves them out of the
    namespace (:data:`argparse.SUPPRESS`), so it does not reset what was given before it."""
    parser.add_argument("-v", "--verbose", action="count", default=0 if top else argparse.SUPPRESS,
                        help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="no progress output and only errors in the log; fleet run prints its summary only")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fleet",
        description="OCPP 2.0.1 charging-station fleet simulator and CSMS.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fleet {__version__}")
    add_output_options(parser, top=True)
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
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        add_output_options(sub)
        sub.set_defaults(handler=module.main)
        lines.append(f"  {name:<9} {module.HELP}\n            e.g. {module.EXAMPLE}")
    parser.epilog = "\n".join(lines) + "\n\n" + EXIT_CODES
    return parser


def log_level(args: argparse.Namespace) -> int:
    """WARNING by default; ``-v`` INFO, ``-vv`` DEBUG; ``-q`` ERROR."""
    if args.quiet and not args.verbose:
        return logging.ERROR
    return logging.WARNING - 10 * min(int(args.verbose), 2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argcomplete.autocomplete(parser)  # (returns at once unless the shell asks for completions)
    args = parser.parse_args(argv)
    logging.basicConfig(level=log_level(args), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return exit_codes.USAGE
    try:
        return int(args.handler(args) or 0)
    except BaseException as exc:
        if is_interrupt(exc):  # Ctrl-C, also when raised inside a nursery
            return exit_codes.INTERRUPTED
        raise


if __name__ == "__main__":
    sys.exit(main())
