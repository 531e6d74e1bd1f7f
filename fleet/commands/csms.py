"""``fleet csms``: run the built-in CSMS until SIGINT or SIGTERM.

It serves the control API too (port 7700 by default, see
:mod:`fleet.commands.control_options`): ``fleet tui`` shows its stations and drives it.
"""

from __future__ import annotations

import argparse
import functools
import signal
import ssl
import sys
from typing import Any

import trio

from ..actors.csms import DEFAULT_FLOOD_CLOSE_AFTER, DEFAULT_MAX_CALL_RATE, Csms
from ..actors.csms.auth import AuthFileError, TokenStatus, load_auth_file, load_id_tokens
from ..actors.csms.dialects import DIALECTS
from ..actors.csms.policy import Registration
from ..exit_codes import RUN_FAILED, USAGE
from ..net.transport import TlsFileError, server_ssl_context
from .checks import listen_problem, output_file_problem, port, positive_int
from .control_options import (
    ControlSettings,
    add_control_arguments,
    control_line,
    control_port_problem,
    control_settings,
    first_error,
)

HELP = (
    f"run an OCPP CSMS ({' and '.join(DIALECTS)} on one port) that answers every station message "
    "and records what stations send"
)
EXAMPLE = "fleet csms --port 9000 --auth-file stations.toml --boot Accepted --heartbeat-interval 60"


def ocpp_versions(text: str) -> list[str]:
    """OCPP versions the CSMS speaks, comma-separated, in order of preference (``2.0.1,1.6``;
    ``ocpp1.6`` is read as ``1.6``)."""
    names = [name.strip().removeprefix("ocpp") for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected OCPP versions such as {','.join(DIALECTS)}, got {text!r}")
    for name in names:
        if name not in DIALECTS:
            raise argparse.ArgumentTypeError(
                f"the CSMS does not speak OCPP {name!r}; it speaks {', '.join(DIALECTS)}"
            )
    if len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"a version is named twice in {text!r}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port, default=9000, help="port (default 9000; 0 picks a free one)")
    parser.add_argument("--path", default="/ocpp", help="route; stations connect at <path>/<stationId> (default /ocpp)")
    parser.add_argument(
        "--auth-file",
        metavar="F",
        help='station passwords, TOML ([stations] CS001 = "secret") or JSON ({"CS001": "secret"}); '
        "without it any station is accepted",
    )
    parser.add_argument("--tls-cert", metavar="C", help="server certificate (PEM): serve wss:// (security profile 2)")
    parser.add_argument("--tls-key", metavar="K", help="private key of --tls-cert (PEM), if not in that file")
    parser.add_argument(
        "--tls-client-ca", metavar="CA", help="require client certificates signed by this CA (security profile 3)"
    )
    parser.add_argument(
        "--ocpp-versions",
        type=ocpp_versions,
        metavar="V,V",
        help=f"the OCPP versions served, in order of preference: a station offering several gets the first "
        f"of them (default: all, {','.join(DIALECTS)})",
    )
    parser.add_argument("--ocpp-log", metavar="F", help="write every OCPP frame to F as JSON lines ('-' = stdout)")
    parser.add_argument(
        "--boot",
        choices=[s.value for s in Registration],
        default="Accepted",
        help="BootNotification answer (default Accepted)",
    )
    parser.add_argument(
        "--heartbeat-interval", type=positive_int, default=300, metavar="S", help="heartbeat interval given at boot (default 300)"
    )
    parser.add_argument(
        "--boot-retry-interval",
        type=positive_int,
        default=30,
        metavar="S",
        help="interval given with a Pending or Rejected boot (default 30)",
    )
    parser.add_argument(
        "--id-tokens",
        metavar="F",
        help='id-token list, TOML ([tokens] TAG1 = "Accepted") or JSON; tokens not in it are Unknown',
    )
    parser.add_argument(
        "--unknown-token-status",
        choices=[s.value for s in TokenStatus],
        metavar="STATUS",
        help="answer for tokens not in the list: an AuthorizationStatus such as Accepted, Invalid, Unknown "
        "(default: Accepted without --id-tokens, Unknown with it)",
    )
    parser.add_argument(
        "--reuse-port", action="store_true", help="set SO_REUSEPORT so several processes can share the port"
    )
    flood = parser.add_argument_group(
        "floods (per connection; every CALL is answered, in order: pipelined CALLs, sent before the answer to "
        "the previous one, are answered and counted; beyond the rate a CALL gets a CALLERROR GenericError "
        "instead of being handled; after --flood-close-after of those the connection is closed with 1008)"
    )
    flood.add_argument("--max-call-rate", type=float, default=DEFAULT_MAX_CALL_RATE, metavar="R",
                       help=f"CALLs per second a station may send on average, across its connections (default "
                       f"{DEFAULT_MAX_CALL_RATE:g}; 0: no limit)")
    flood.add_argument("--call-burst", type=int, metavar="N",
                       help="CALLs a station may send at once above the rate (default: 2 s worth)")
    flood.add_argument("--flood-close-after", type=int, default=DEFAULT_FLOOD_CLOSE_AFTER, metavar="N",
                       help=f"refused CALLs before the connection is closed with 1008 (default "
                       f"{DEFAULT_FLOOD_CLOSE_AFTER}; 0: never)")
    add_control_arguments(parser)


class _ControlBindError(OSError):
    """The control API cannot listen where asked."""


async def _serve_control(nursery: trio.Nursery, csms: Csms, control: ControlSettings) -> None:
    from ..control import LocalBackend, serve_control

    backend: LocalBackend[Any] = LocalBackend(csms=csms)
    serve = functools.partial(serve_control, backend, control.host, token=control.token)
    try:
        server = await nursery.start(functools.partial(serve, control.port))
    except (OSError, ExceptionGroup) as failure:
        exc = first_error(failure)
        if not isinstance(exc, OSError):
            raise
        if not control.fallback:
            raise _ControlBindError(f"control API: cannot listen on {control.host}:{control.port}: {exc}") from None
        server = await nursery.start(functools.partial(serve, 0))
    print(control_line(server.url, control.token), flush=True)


def _build(args: argparse.Namespace) -> Csms:
    if (args.tls_key or args.tls_client_ca) and not args.tls_cert:
        raise ValueError("--tls-key and --tls-client-ca need --tls-cert")
    if not args.host:
        raise ValueError("--host: expected an address to listen on, e.g. 127.0.0.1")
    if args.ocpp_log and args.ocpp_log != "-":
        problem = output_file_problem(args.ocpp_log)
        if problem:
            raise ValueError(f"--ocpp-log {args.ocpp_log}: {problem}")
    ssl_context = _tls_context(args)
    return Csms(
        args.host,
        args.port,
        args.path,
        auth=load_auth_file(args.auth_file) if args.auth_file else None,
        ssl_context=ssl_context,
        reuse_port=args.reuse_port,
        boot_status=args.boot,
        heartbeat_interval=args.heartbeat_interval,
        boot_retry_interval=args.boot_retry_interval,
        id_tokens=load_id_tokens(args.id_tokens) if args.id_tokens else None,
        unknown_token_status=args.unknown_token_status,
        ocpp_log=args.ocpp_log,
        max_call_rate=args.max_call_rate or None,
        call_burst=args.call_burst,
        flood_close_after=args.flood_close_after or None,
        dialects={name: DIALECTS[name] for name in args.ocpp_versions} if args.ocpp_versions else DIALECTS,
    )


def _tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The CSMS's TLS context from ``--tls-cert``/``--tls-key``/``--tls-client-ca``.

    Raises:
        ValueError: a missing, unreadable or unfit file, or a key/CA without ``--tls-cert``
            (the message names the option).
    """
    if (args.tls_key or args.tls_client_ca) and not args.tls_cert:
        raise ValueError("--tls-key and --tls-client-ca need --tls-cert")
    if not args.tls_cert:
        return None
    try:
        return server_ssl_context(args.tls_cert, args.tls_key, args.tls_client_ca)
    except TlsFileError as exc:
        raise ValueError(exc.describe({"ca": "--tls-client-ca", "cert": "--tls-cert", "key": "--tls-key"})) from None


def _authentication_line(csms: Csms) -> str | None:
    """What the CSMS asks of stations, when it is worth a warning or not obvious."""
    if csms.client_certificates_required:
        basic = " and HTTP Basic auth (--auth-file)" if csms.get_auth_list() is not None else ""
        return ("security profile 3: stations authenticate by client certificate (signed by --tls-client-ca; "
                f"its CN must equal the station id){basic}")
    if csms.get_auth_list() is None:
        return "no --auth-file: accepting every station without authentication"
    return None


async def _serve(csms: Csms, control: ControlSettings | None = None) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(csms.run)
            print(f"listening on {csms.url}", flush=True)
            async with trio.open_nursery() as control_nursery:
                if control is not None:
                    await _serve_control(control_nursery, csms, control)
                async for _ in signals:
                    break
                control_nursery.cancel_scope.cancel()
            csms.stop()


def _busy_port(args: argparse.Namespace, control: ControlSettings | None) -> str | None:
    """Why the CSMS or its control API cannot listen where the options say (before anything starts)."""
    problem = listen_problem(args.host, args.port, reuse_port=args.reuse_port)
    if problem:
        return f"--port {args.port}: {problem}"
    return control_port_problem(control)


def main(args: argparse.Namespace) -> int:
    try:
        control = control_settings(args)
        csms = _build(args)
    except AuthFileError as exc:
        print(f"fleet csms: {exc}", file=sys.stderr)
        return USAGE
    except (ValueError, OSError) as exc:  # OSError includes ssl.SSLError
        print(f"fleet csms: error: {exc}", file=sys.stderr)
        return USAGE
    busy = _busy_port(args, control)
    if busy:
        print(f"fleet csms: error: {busy}", file=sys.stderr)
        return USAGE
    authentication = _authentication_line(csms)
    if authentication is not None:
        print(f"fleet csms: {authentication}", file=sys.stderr)
    failure: BaseException | None = None
    control_failure: BaseException | None = None
    try:
        trio.run(_serve, csms, control)
    except* _ControlBindError as group:
        control_failure = first_error(group)
    except* OSError as group:
        failure = first_error(group)
    if control_failure is not None:
        print(f"fleet csms: {control_failure}", file=sys.stderr)
        return RUN_FAILED
    if failure is not None:
        print(f"fleet csms: cannot listen on {args.host}:{args.port}: {failure}", file=sys.stderr)
        return RUN_FAILED
    return 0
