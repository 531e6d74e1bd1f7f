"""A CSMS for compliance-style testing: token statuses, local lists, remote stop, reset, password rotation.

The Python version of the reference's CSMS flow for the OCA compliance test
tool. It answers stations with fleet's defaults, shaped by an id-token list, and
drives each station it accepts through a provisioning sequence:

1. Authorize and TransactionEvent answers come from the id-token list: ``VALID-0001``
   Accepted, ``INVALID-0001`` Invalid, ``BLOCKED-0001`` Blocked, ``EXPIRED-0001`` Expired
   (its expiry date has passed), ``GROUP-A-0001`` / ``GROUP-A-0002`` Accepted with the
   group id token ``GROUP-A``; any other token is Unknown. Each answer is logged.
2. Once a station is accepted: GetVariables (heartbeat interval, identity, security
   profile, ...), SetVariables (heartbeat interval, reconnection back-off),
   GetBaseReport ConfigurationInventory (the NotifyReport parts are counted),
   SendLocalList (a full list, version 1), ClearCache.
3. Rotating the station's password: SetVariables ``SecurityCtrlr.BasicAuthPassword``
   with a new random password; once the station accepts it, the CSMS's auth list
   gets the new password (``csms.set_station_password``) and the station, which
   reconnects, must use it. The passwords are never printed.
4. Remote stop: ``--remote-stop-after`` seconds after a transaction starts, the CSMS
   sends Reset OnIdle (Scheduled while the transaction runs: the station reboots
   once it ends) and RequestStopTransaction.

Run it (stations need a password: ``--station ID:PASSWORD``, repeatable)::

    python examples/compliance_csms.py --port 9000 --station CS001:a-long-secret-password

and connect e.g. ``examples/station_device_model.py``::

    python examples/station_device_model.py ws://127.0.0.1:9000/ocpp CS001 --password a-long-secret-password

Stop it with Ctrl-C, or give ``--duration SECONDS``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import trio

from fleet.actors.csms import Csms, open_csms
from fleet.net.events import Connected, Disconnected, FleetEvent, OcppMessage
from fleet.ocpp import CallFailure
from fleet.ocpp.v201 import (
    AuthorizationData,
    AuthorizationStatus,
    AuthorizeRequest,
    AuthorizeResponse,
    ClearCacheRequest,
    Component,
    GetBaseReportRequest,
    GetVariableData,
    GetVariablesRequest,
    IdToken,
    IdTokenEnum,
    IdTokenInfo,
    ReportBase,
    RequestStopTransactionRequest,
    Reset,
    ResetRequest,
    SendLocalListRequest,
    SetVariableData,
    SetVariablesRequest,
    TransactionEvent,
    Update,
    Variable,
)
from fleet.program import run_program

Log = Callable[[str], None]

#: The id-token list (see fleet.actors.csms.auth for the format).
ID_TOKENS: dict[str, Any] = {
    "VALID-0001": "Accepted",
    "INVALID-0001": "Invalid",
    "BLOCKED-0001": "Blocked",
    "EXPIRED-0001": {"status": "Accepted", "expires": "2020-01-01T00:00:00Z"},
    "GROUP-A-0001": {"status": "Accepted", "group": "GROUP-A"},
    "GROUP-A-0002": {"status": "Accepted", "group": "GROUP-A"},
}
#: The local authorization list pushed with SendLocalList: token -> (status, group).
LOCAL_LIST: dict[str, tuple[AuthorizationStatus, str | None]] = {
    "LOCAL-0001": (AuthorizationStatus.ACCEPTED, None),
    "LOCAL-0002": (AuthorizationStatus.ACCEPTED, "GROUP-A"),
    "LOCAL-BLOCKED": (AuthorizationStatus.BLOCKED, None),
}
#: Variables read from every station.
READ = (
    ("OCPPCommCtrlr", "HeartbeatInterval"),
    ("SecurityCtrlr", "Identity"),
    ("SecurityCtrlr", "SecurityProfile"),
    ("AuthCtrlr", "LocalPreAuthorize"),
    ("LocalAuthListCtrlr", "Enabled"),
)


@dataclass
class Outcome:
    """What the CSMS did and saw (keys are station ids, unless said otherwise)."""

    authorizations: list[tuple[str, str, str]] = field(default_factory=list)  # (station, token, status)
    read: dict[str, dict[str, str]] = field(default_factory=dict)  # "Component.Variable" -> value or status
    written: dict[str, dict[str, str]] = field(default_factory=dict)  # "Component.Variable" -> status
    base_report: dict[str, str] = field(default_factory=dict)
    report_items: dict[str, int] = field(default_factory=dict)
    local_list: dict[str, str] = field(default_factory=dict)
    clear_cache: dict[str, str] = field(default_factory=dict)
    password_rotated: dict[str, str] = field(default_factory=dict)
    reconnected_with_new_password: set[str] = field(default_factory=set)
    resets: dict[str, list[str]] = field(default_factory=dict)
    remote_stops: dict[str, str] = field(default_factory=dict)  # transaction id -> status
    failures: list[str] = field(default_factory=list)


class ComplianceCsms:
    """The provisioning logic around a running :class:`~fleet.actors.csms.Csms`."""

    def __init__(
        self,
        csms: Csms,
        *,
        heartbeat_interval: int,
        rotate_passwords: bool,
        remote_stop_after: float | None,
        log: Log,
    ) -> None:
        self.csms = csms
        self.outcome = Outcome()
        self.heartbeat_interval = heartbeat_interval
        self.rotate_passwords = rotate_passwords
        self.remote_stop_after = remote_stop_after
        self.log = log
        self._provisioning: set[str] = set()
        self._awaiting_new_password: set[str] = set()
        self._request_ids = itertools.count(1)
        self._report_requests: dict[int, str] = {}
        default_authorize = csms.default_handler("Authorize")

        def authorize(request: AuthorizeRequest, ctx: Any) -> AuthorizeResponse:
            response: AuthorizeResponse = default_authorize(request, ctx)
            info = response.id_token_info
            token = request.id_token.id_token
            self.outcome.authorizations.append((ctx.station_id, token, str(info.status)))
            group = f" (group {info.group_id_token.id_token})" if info.group_id_token else ""
            self.log(f"{ctx.station_id}: token {token}: {info.status}{group}")
            return response

        csms.on("Authorize", authorize)

    async def call(self, station_id: str, request: Any) -> Any:
        """``csms.call``, logging a failure (and returning ``None``) instead of raising."""
        try:
            return await self.csms.call(station_id, request)
        except CallFailure as exc:
            action = type(request).__name__.removesuffix("Request")
            self.outcome.failures.append(f"{station_id} {action}: {exc}")
            self.log(f"{station_id}: {action} failed: {exc}")
            return None

    def on_event(self, event: FleetEvent, nursery: trio.Nursery) -> None:
        if isinstance(event, Connected):
            self.log(f"{event.station_id}: connected")
            if event.station_id in self._awaiting_new_password:
                self._awaiting_new_password.discard(event.station_id)
                self.outcome.reconnected_with_new_password.add(event.station_id)
                self.log(f"{event.station_id}: reconnected with its new password")
        elif isinstance(event, Disconnected):
            self.log(f"{event.station_id}: disconnected ({event.reason})")
        elif isinstance(event, OcppMessage):
            sid, payload = event.station_id, event.payload
            if event.action == "BootNotification" and event.kind == "response":
                self.log(f"{sid}: boot {payload.status}")
                if payload.status == "Accepted" and sid not in self._provisioning:
                    self._provisioning.add(sid)
                    nursery.start_soon(self.provision, sid)
            elif event.action == "TransactionEvent" and event.kind == "request" and event.direction == "in":
                if payload.event_type == TransactionEvent.STARTED and self.remote_stop_after is not None:
                    nursery.start_soon(self.remote_stop, sid, payload.transaction_info.transaction_id)
                if payload.event_type != TransactionEvent.UPDATED:
                    self.log(f"{sid}: transaction {payload.transaction_info.transaction_id} {payload.event_type}")
            elif event.action == "NotifyReport" and event.kind == "request" and event.direction == "in":
                items = len(payload.report_data) if payload.report_data else 0
                self.outcome.report_items[sid] = self.outcome.report_items.get(sid, 0) + items
                if not payload.tbc:
                    self.log(f"{sid}: base report complete, {self.outcome.report_items[sid]} variables")

    async def provision(self, station_id: str) -> None:
        """The sequence every accepted station goes through (once per boot)."""
        try:
            await self._provision(station_id)
        finally:
            self._provisioning.discard(station_id)

    async def _provision(self, sid: str) -> None:
        outcome = self.outcome
        got = await self.call(sid, GetVariablesRequest(get_variable_data=[
            GetVariableData(component=Component(name=c), variable=Variable(name=v)) for c, v in READ]))
        if got is None:
            return
        read = outcome.read.setdefault(sid, {})
        for (c, v), result in zip(READ, got.get_variable_result, strict=False):
            read[f"{c}.{v}"] = result.attribute_value if result.attribute_value else str(result.attribute_status)
        self.log(f"{sid}: read {read}")

        writes = {
            ("OCPPCommCtrlr", "HeartbeatInterval"): str(self.heartbeat_interval),
            ("OCPPCommCtrlr", "RetryBackOffWaitMinimum"): "2",
            ("OCPPCommCtrlr", "RetryBackOffRandomRange"): "1",
        }
        written = await self.call(sid, SetVariablesRequest(set_variable_data=[
            SetVariableData(attribute_value=value, component=Component(name=c), variable=Variable(name=v))
            for (c, v), value in writes.items()]))
        if written is None:
            return
        results = outcome.written.setdefault(sid, {})
        for (c, v), result in zip(writes, written.set_variable_result, strict=False):
            results[f"{c}.{v}"] = str(result.attribute_status)
        self.log(f"{sid}: set {results}")

        request_id = next(self._request_ids)
        report = await self.call(sid, GetBaseReportRequest(request_id=request_id,
                                                           report_base=ReportBase.CONFIGURATION_INVENTORY))
        if report is None:
            return
        outcome.base_report[sid] = str(report.status)
        outcome.report_items[sid] = 0

        entries = [
            AuthorizationData(
                id_token=IdToken(id_token=token, type=IdTokenEnum.ISO14443),
                id_token_info=IdTokenInfo(status=status, group_id_token=IdToken(id_token=group, type=IdTokenEnum.CENTRAL))
                if group else IdTokenInfo(status=status),
            )
            for token, (status, group) in LOCAL_LIST.items()
        ]
        local = await self.call(sid, SendLocalListRequest(version_number=1, update_type=Update.FULL,
                                                          local_authorization_list=entries))
        if local is None:
            return
        outcome.local_list[sid] = str(local.status)
        cleared = await self.call(sid, ClearCacheRequest())
        if cleared is None:
            return
        outcome.clear_cache[sid] = str(cleared.status)
        self.log(f"{sid}: base report {report.status}, local list {local.status}, clear cache {cleared.status}")
        await self.rotate_password(sid)

    async def rotate_password(self, sid: str) -> None:
        """Give the station a new Basic auth password (once per run)."""
        if not self.rotate_passwords or sid in self.outcome.password_rotated:
            return
        if self.csms.get_station_password(sid) is None:
            self.log(f"{sid}: has no password here, not rotating it")
            return
        password = secrets.token_urlsafe(24)  # 32 characters (OCPP: 16 to 40)
        answer = await self.call(sid, SetVariablesRequest(set_variable_data=[SetVariableData(
            attribute_value=password, component=Component(name="SecurityCtrlr"),
            variable=Variable(name="BasicAuthPassword"))]))
        if answer is None:
            return
        status = str(answer.set_variable_result[0].attribute_status)
        self.outcome.password_rotated[sid] = status
        if status == "Accepted":
            # from now on only the new password opens a connection for this station
            self.csms.set_station_password(sid, password)
            self._awaiting_new_password.add(sid)
            self.log(f"{sid}: password rotated; waiting for it to reconnect with the new one")
        else:
            self.log(f"{sid}: refused the new password ({status})")

    async def remote_stop(self, sid: str, transaction_id: str) -> None:
        """After ``remote_stop_after`` s: Reset OnIdle, then RequestStopTransaction."""
        assert self.remote_stop_after is not None
        await trio.sleep(self.remote_stop_after)
        record = self.csms.station(sid)
        transaction = record.transactions.get(transaction_id) if record is not None else None
        if transaction is None or transaction.ended:
            return
        reset = await self.call(sid, ResetRequest(type=Reset.ON_IDLE))
        if reset is not None:
            self.outcome.resets.setdefault(sid, []).append(str(reset.status))
            self.log(f"{sid}: Reset OnIdle: {reset.status}")
        stopped = await self.call(sid, RequestStopTransactionRequest(transaction_id=transaction_id))
        if stopped is not None:
            self.outcome.remote_stops[transaction_id] = str(stopped.status)
            self.log(f"{sid}: remote stop of {transaction_id}: {stopped.status}")


async def run(
    host: str = "127.0.0.1",
    port: int = 9000,
    *,
    stations: Mapping[str, str] | None = None,
    id_tokens: Mapping[str, Any] = ID_TOKENS,
    duration: float | None = None,
    heartbeat_interval: int = 60,
    rotate_passwords: bool = True,
    remote_stop_after: float | None = 30.0,
    log: Log = print,
    task_status: trio.TaskStatus[ComplianceCsms] = trio.TASK_STATUS_IGNORED,
) -> Outcome:
    """Serve for ``duration`` seconds (``None``: until cancelled); what happened.

    Args:
        stations: station id -> password (HTTP Basic auth); ``None`` accepts any
            station (and then no password can be rotated).
        remote_stop_after: seconds from a transaction's start to the remote stop;
            ``None``: no remote stop (and no Reset OnIdle).

    ``task_status.started(app)`` once it listens (``app.csms``, ``app.outcome``).
    """
    async with open_csms(host, port, auth=dict(stations) if stations is not None else None, id_tokens=id_tokens,
                         heartbeat_interval=heartbeat_interval) as csms:
        app = ComplianceCsms(csms, heartbeat_interval=heartbeat_interval, rotate_passwords=rotate_passwords,
                             remote_stop_after=remote_stop_after, log=log)
        log(f"listening on {csms.url} (stations connect to {csms.url}/<stationId>)")
        async with csms.subscribe() as events, trio.open_nursery() as nursery:
            task_status.started(app)
            with trio.move_on_after(math.inf if duration is None else duration):
                async for event in events:
                    app.on_event(event, nursery)
            nursery.cancel_scope.cancel()
    return app.outcome




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A CSMS for compliance-style testing (fleet example).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000, help="port (0: any free port; default 9000)")
    parser.add_argument("--station", action="append", default=[], metavar="ID:PASSWORD",
                        help="a station and its Basic auth password (repeatable; none: accept any station)")
    parser.add_argument("--heartbeat-interval", type=int, default=60, help="seconds (default 60)")
    parser.add_argument("--remote-stop-after", type=float, default=30.0,
                        help="seconds from a transaction's start to its remote stop (0: never)")
    parser.add_argument("--no-rotate", action="store_true", help="do not rotate the stations' passwords")
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: Ctrl-C)")
    args = parser.parse_args(argv)
    stations: dict[str, str] | None = None
    if args.station:
        stations = {}
        for item in args.station:
            station_id, sep, password = item.partition(":")
            if not sep or not station_id or not password:
                parser.error(f"--station: expected ID:PASSWORD, got {item!r}")
            stations[station_id] = password
    serve = functools.partial(
        run, args.host, args.port, stations=stations, duration=args.duration,
        heartbeat_interval=args.heartbeat_interval, rotate_passwords=not args.no_rotate,
        remote_stop_after=args.remote_stop_after or None, log=lambda line: print(line, flush=True),
    )
    try:
        return run_program(serve)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
