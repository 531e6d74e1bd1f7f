"""``fleet station``: run one simulated charging station against a CSMS.

The station connects, boots, heartbeats, reports its connectors and runs the
profile's behaviour (its automatic transaction generator, if enabled). It stops
after ``--duration`` seconds or on Ctrl-C / SIGTERM: running transactions end
cleanly (TransactionEvent Ended), the queue is delivered and the socket closed.
One status line is printed per change of state (connected, booted, offline,
transactions), never per message.

Each CALLERROR the CSMS answers one of the station's calls with is printed once (action,
code, description; repeats are counted in the last line); each transaction's start and
end once, however often its TransactionEvent (1.6: StartTransaction, StopTransaction)
had to be sent. ``--ocpp-version`` makes it speak another version than its profile's.

Exit status: 0 when the station was accepted by the CSMS and shut down cleanly,
3 when it never got accepted or TransactionEvents were left undelivered at the end
(the CSMS refused or never acknowledged them): the run could not be carried out;
2 for bad arguments or a bad profile (checked before it starts).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections import Counter
from typing import Any

import trio

from ..actors.station import load_profile
from ..actors.station.dialects import DIALECTS, VARIABLE_CHECKS
from ..exit_codes import RUN_FAILED, USAGE
from ..net.events import Connected, Disconnected, OcppMessage
from ..net.ocpp_log import OcppLog
from ..net.transport import TlsFileError, client_ssl_context, connect_failure_hint
from ..profiles import ProfileError, StationProfile
from .checks import csms_url, non_negative_number, output_file_problem, password_file, positive_number, seed

HELP = "run one simulated OCPP charging station (1.6, 2.0.1 or 2.1) against a CSMS"
EXAMPLE = "fleet station ws://127.0.0.1:9000/ocpp CS001 --profile profiles/home-wallbox.toml --duration 60"


def ocpp_versions(text: str) -> tuple[str, ...]:
    """The OCPP versions the station offers, comma-separated, in order of preference
    (``2.1,2.0.1``; ``ocpp1.6`` is read as ``1.6``)."""
    valid = ", ".join(DIALECTS)
    names = [name.strip().removeprefix("ocpp") for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected OCPP versions ({valid}), got {text!r}")
    for name in names:
        if name not in DIALECTS:
            raise argparse.ArgumentTypeError(f"the station does not speak OCPP {name!r}; valid versions: {valid}")
    if len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"a version is named twice in {text!r}")
    return tuple(names)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", type=csms_url,
                        help="the CSMS URL (ws:// or wss://, with port and route); the id is appended after a "
                             "slash, or put where {station_id} is (e.g. 'ws://host/ocpp/{station_id}/')")
    parser.add_argument("station_id", help="the station id")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password", help="Basic-auth password (default: the profile's password pattern)")
    secret.add_argument("--password-file", dest="password", type=password_file, metavar="F",
                        help="read the Basic-auth password from the first line of F")
    parser.add_argument("--profile", metavar="F", help="station profile (TOML); default: a single-EVSE AC wallbox")
    parser.add_argument("--duration", type=non_negative_number, default=0.0, metavar="S",
                        help="stop after S seconds (default: run until Ctrl-C)")
    parser.add_argument("--ocpp-log", metavar="F", help="write every raw frame to F (JSON lines; '-' for stdout)")
    parser.add_argument("--ca", metavar="CA", help="CA file to verify a wss:// CSMS")
    parser.add_argument("--cert", metavar="C", help="client certificate (security profile 3)")
    parser.add_argument("--key", metavar="K", help="client certificate key")
    parser.add_argument("--seed", type=seed, default=None, help="seed of the station's random choices")
    parser.add_argument("--speed", type=positive_number, default=1.0,
                        help="simulated seconds per real second of the driver, sessions and energy (default 1; "
                             "protocol timings such as back-off and heartbeat stay real)")
    parser.add_argument("--no-sessions", action="store_true", help="do not run the automatic transaction generator")
    parser.add_argument("--ocpp-version", type=ocpp_versions, metavar="V[,V]",
                        help=f"the OCPP version spoken instead of the profile's ({', '.join(DIALECTS)}); several, "
                             "comma-separated, are offered in that order and the CSMS picks one")


def _say(station_id: str, text: str) -> None:
    print(f"{station_id}: {text}", flush=True)


def _interesting(event: Any) -> bool:
    if isinstance(event, (Connected, Disconnected)):
        return True
    if isinstance(event, OcppMessage):
        if event.kind == "error" and isinstance(event.payload, dict) and event.payload.get("callerror"):
            return True
        if event.action == "BootNotification":
            return event.kind == "response" or event.kind == "error"
        if event.action == "TransactionEvent" and event.kind == "request" and event.direction == "out":
            return str(getattr(event.payload, "event_type", "")) in ("Started", "Ended")
        # OCPP 1.6: a transaction starts with its StartTransaction (the CSMS names it in
        # the answer) and ends with its StopTransaction
        if event.action == "StartTransaction":
            return event.kind == "response" or (event.kind == "request" and event.direction == "out")
        if event.action == "StopTransaction":
            return event.kind == "request" and event.direction == "out"
    return False


async def _report(station: Any, callerrors: Counter[tuple[str, str, str]]) -> None:
    """Print the station's changes of state; count the CALLERRORs in ``callerrors``."""
    started: set[str] = set()  # transactions whose start (or end) was printed: retries are not news
    ended: set[str] = set()
    connector_of: dict[str, int] = {}  # OCPP 1.6: StartTransaction message id -> its connector
    async with station.subscribe(accept=_interesting) as events:
        async for event in events:
            sid = station.station_id
            if isinstance(event, Connected):
                _say(sid, f"connected to {station.csms_url} (OCPP {event.ocpp_version})")
            elif isinstance(event, Disconnected):
                _say(sid, f"offline ({event.reason})")
            elif event.kind == "error" and event.payload.get("callerror"):
                error = (event.action, str(event.payload.get("code", "")), str(event.payload.get("description", "")))
                callerrors[error] += 1
                if callerrors[error] == 1:
                    _say(sid, f"the CSMS answered {error[0]} with CALLERROR {error[1]}"
                              + (f": {error[2]}" if error[2] else ""))
            elif event.action == "StartTransaction":
                if event.kind == "request":
                    connector_of[event.message_id] = event.payload.connector_id
                else:
                    connector = connector_of.pop(event.message_id, "?")
                    _say(sid, f"transaction {event.payload.transaction_id} started on connector {connector}")
            elif event.action == "StopTransaction":
                transaction_id = str(event.payload.transaction_id)
                if transaction_id not in ended:
                    ended.add(transaction_id)
                    _say(sid, f"transaction {transaction_id} ended ({event.payload.reason})")
            elif event.action == "BootNotification":
                if event.kind == "error":
                    _say(sid, f"boot failed: {event.payload.get('description', '')}")
                else:
                    payload = event.payload
                    _say(sid, f"booted: {payload.status} (heartbeat every {payload.interval} s)")
            else:
                payload = event.payload
                info = payload.transaction_info
                seen = started if str(payload.event_type) == "Started" else ended
                if info.transaction_id in seen:
                    continue
                seen.add(info.transaction_id)
                if seen is started:
                    evse = payload.evse.id if payload.evse else "?"
                    _say(sid, f"transaction {info.transaction_id} started on EVSE {evse} ({payload.trigger_reason})")
                else:
                    _say(sid, f"transaction {info.transaction_id} ended ({info.stopped_reason})")


async def _watch_failures(station: Any) -> None:
    last: str | None = None
    while True:
        snapshot = station.snapshot()
        if not snapshot.connected and snapshot.last_error and snapshot.last_error != last:
            last = snapshot.last_error
            hint = connect_failure_hint(station.last_connect_failure or "")
            _say(station.station_id, f"cannot connect: {last}" + (f" ({hint})" if hint else ""))
        await trio.sleep(0.5)


async def _run(args: argparse.Namespace, profile: StationProfile, ssl_context: Any) -> int:
    from ..actors.station import Station

    log = OcppLog(args.ocpp_log) if args.ocpp_log else None
    station = Station(
        args.station_id,
        args.url,
        password=args.password,
        profile=profile,
        ssl_context=ssl_context,
        ocpp_log=log,
        seed=args.seed,
        speed=args.speed,
    )
    callerrors: Counter[tuple[str, str, str]] = Counter()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_report, station, callerrors)
            nursery.start_soon(_watch_failures, station)
            await nursery.start(station.run)
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                with trio.move_on_after(args.duration if args.duration > 0 else math.inf):
                    async for signum in signals:
                        _say(args.station_id, f"stopping ({signal.Signals(signum).name})")
                        break
                await station.shutdown(timeout=5.0)
            nursery.cancel_scope.cancel()
    finally:
        if log is not None:
            log.close()
    snapshot = station.snapshot()
    counters = snapshot.counters
    _say(args.station_id, f"stopped: {counters.boots} boot(s), {counters.transactions_started} transaction(s), "
                          f"{counters.events_sent} event(s) delivered, {snapshot.queued_events} left in queue")
    repeated = [f"{action} {code} {n} times" for (action, code, _), n in sorted(callerrors.items()) if n > 1]
    if repeated:
        _say(args.station_id, f"CALLERRORs repeated: {', '.join(repeated)}")
    if not station.booted:
        _say(args.station_id, "never accepted by the CSMS")
        return RUN_FAILED
    if snapshot.queued_events or counters.events_dropped:
        _say(args.station_id, f"{snapshot.queued_events + counters.events_dropped} transaction message(s) undelivered: "
                              f"{snapshot.queued_events} left in the queue, {counters.events_dropped} given up")
        return RUN_FAILED
    return 0


def main(args: argparse.Namespace) -> int:
    if not args.station_id or "/" in args.station_id:
        print(f"fleet station: station id {args.station_id!r}: expected a non-empty id without '/'", file=sys.stderr)
        return USAGE
    if args.ocpp_log and args.ocpp_log != "-":
        problem = output_file_problem(args.ocpp_log)
        if problem:
            print(f"fleet station: --ocpp-log {args.ocpp_log}: {problem}", file=sys.stderr)
            return USAGE
    try:
        profile = load_profile(args.profile) if args.profile else StationProfile()
    except ProfileError as exc:
        print(f"fleet station: {exc}", file=sys.stderr)
        return USAGE
    if args.no_sessions:
        import msgspec

        profile = msgspec.structs.replace(profile, sessions=msgspec.structs.replace(profile.sessions, enabled=False))
    if args.ocpp_version:
        import msgspec

        versions = args.ocpp_version
        profile = msgspec.structs.replace(profile, ocpp_version=versions[0] if len(versions) == 1 else versions)
        for version in versions:  # the profile's [variables] must be of that version's configuration model
            bad = VARIABLE_CHECKS[version](profile)
            if bad is not None:
                name, what = bad
                print(f"fleet station: --ocpp-version {version}: the profile's [variables] {name!r}: {what}",
                      file=sys.stderr)
                return USAGE
    try:
        ssl_context = _tls_context(args)
    except ValueError as exc:
        print(f"fleet station: {exc}", file=sys.stderr)
        return USAGE
    return trio.run(_run, args, profile, ssl_context)


def _tls_context(args: argparse.Namespace) -> Any:
    """The station's TLS context from ``--ca``/``--cert``/``--key`` (``None``: none given).

    Raises:
        ValueError: a missing, unreadable or unfit file, a key without a certificate, or
            TLS options with a ``ws://`` URL (the message names the option).
    """
    if not (args.ca or args.cert or args.key):
        return None
    if not args.url.startswith("wss://"):
        raise ValueError(f"--ca, --cert and --key are for a wss:// CSMS URL (got {args.url!r})")
    try:
        return client_ssl_context(args.ca, args.cert, args.key)
    except TlsFileError as exc:
        raise ValueError(exc.describe({"ca": "--ca", "cert": "--cert", "key": "--key"})) from None
