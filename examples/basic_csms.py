"""A basic CSMS: listens for stations, logs who connects and boots, answers with fleet's defaults.

The Python version of the reference's "basic CSMS" example flow. Every message a
station sends is answered by fleet's default handlers (BootNotification Accepted,
Heartbeat with the time, Authorize Accepted, ...) and recorded in the station's
record (``csms.station(station_id)``).

Run it::

    python examples/basic_csms.py --port 9000

and connect a station to ``ws://127.0.0.1:9000/ocpp``, e.g.::

    python examples/basic_station.py ws://127.0.0.1:9000/ocpp CS001

``--boot-statuses Rejected,Pending,Accepted`` answers each station's first
BootNotification Rejected, the second Pending and every later one Accepted (to
try a station's boot handling, see ``examples/station_boot_handling.py``).
Stop it with Ctrl-C, or give ``--duration SECONDS``.

From Python, ``await nursery.start(run, ...)`` gives the running
:class:`~fleet.actors.csms.Csms`, to call stations and read records.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import trio

from fleet.actors.csms import Csms, open_csms
from fleet.net.events import Connected, Disconnected, FleetEvent, OcppMessage
from fleet.ocpp.v201 import BootNotificationResponse, RegistrationStatus, TransactionEvent
from fleet.program import run_program

Log = Callable[[str], None]


def boot_sequence(csms: Csms, statuses: Sequence[str], heartbeat_interval: int, retry_interval: int) -> None:
    """Answer each station's n-th BootNotification with ``statuses[n]`` (the last one repeats)."""
    sequence = [RegistrationStatus(s) for s in statuses]
    boots: dict[str, int] = {}

    def boot_notification(request: Any, ctx: Any) -> BootNotificationResponse:
        n = boots.get(ctx.station_id, 0)
        boots[ctx.station_id] = n + 1
        status = sequence[min(n, len(sequence) - 1)]
        accepted = status == RegistrationStatus.ACCEPTED
        return BootNotificationResponse(
            current_time=datetime.datetime.now(datetime.UTC),
            interval=heartbeat_interval if accepted else retry_interval,
            status=status,
        )

    csms.on("BootNotification", boot_notification)


def describe(event: FleetEvent) -> str | None:
    """A log line for the events worth a line (connections, boots, statuses, transactions)."""
    if isinstance(event, Connected):
        return f"{event.station_id}: connected (OCPP {event.ocpp_version})"
    if isinstance(event, Disconnected):
        return f"{event.station_id}: disconnected ({event.reason})"
    if not isinstance(event, OcppMessage):
        return None
    payload = event.payload
    if event.kind == "request" and event.direction == "in":
        if event.action == "BootNotification":
            station = payload.charging_station
            return (f"{event.station_id}: boots, {station.vendor_name} {station.model} "
                    f"firmware {station.firmware_version or '?'} (reason {payload.reason})")
        if event.action == "StatusNotification":
            return (f"{event.station_id}: EVSE {payload.evse_id} connector {payload.connector_id} "
                    f"is {payload.connector_status}")
        if event.action == "TransactionEvent" and payload.event_type != TransactionEvent.UPDATED:
            return (f"{event.station_id}: transaction {payload.transaction_info.transaction_id} "
                    f"{payload.event_type} ({payload.trigger_reason})")
    if event.kind == "response" and event.direction == "out" and event.action == "BootNotification":
        return f"{event.station_id}: registration {payload.status}, interval {payload.interval} s"
    return None


async def run(
    host: str = "127.0.0.1",
    port: int = 9000,
    *,
    duration: float | None = None,
    heartbeat_interval: int = 60,
    boot_statuses: Sequence[str] = ("Accepted",),
    boot_retry_interval: int = 10,
    log: Log = print,
    task_status: trio.TaskStatus[Csms] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve stations for ``duration`` seconds (``None``: until cancelled), logging what happens.

    ``task_status.started(csms)`` once it listens.
    """
    async with open_csms(
        host, port, heartbeat_interval=heartbeat_interval, boot_retry_interval=boot_retry_interval
    ) as csms:
        if list(boot_statuses) != ["Accepted"]:
            boot_sequence(csms, boot_statuses, heartbeat_interval, boot_retry_interval)
        async with csms.subscribe() as events:
            log(f"listening on {csms.url} (stations connect to {csms.url}/<stationId>)")
            task_status.started(csms)
            with trio.move_on_after(math.inf if duration is None else duration):
                async for event in events:
                    line = describe(event)
                    if line is not None:
                        log(line)
        statistics = csms.statistics()
        log(f"stopping: {statistics.stations} stations seen, {statistics.transactions_ended} transactions ended")




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A basic OCPP 2.0.1 CSMS (fleet example).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000, help="port (0: any free port; default 9000)")
    parser.add_argument("--heartbeat-interval", type=int, default=60, help="seconds (default 60)")
    parser.add_argument("--boot-statuses", default="Accepted",
                        help="answers to each station's BootNotifications in turn, e.g. Pending,Accepted")
    parser.add_argument("--boot-retry-interval", type=int, default=10,
                        help="seconds a Pending or Rejected station waits (default 10)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: Ctrl-C)")
    args = parser.parse_args(argv)
    statuses = [s.strip() for s in args.boot_statuses.split(",") if s.strip()]
    if not statuses or not set(statuses) <= {s.value for s in RegistrationStatus}:
        parser.error(f"--boot-statuses: use Accepted, Pending or Rejected, got {args.boot_statuses!r}")
    serve = functools.partial(
        run, args.host, args.port, duration=args.duration, heartbeat_interval=args.heartbeat_interval,
        boot_statuses=statuses, boot_retry_interval=args.boot_retry_interval,
        log=lambda line: print(line, flush=True),
    )
    try:
        return run_program(serve)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
