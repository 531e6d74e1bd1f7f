"""A basic charging station: connects, boots, heartbeats and runs one transaction.

The Python version of the reference's "basic CS" example flow. The station
connects to ``<csms url>/<station id>``, sends BootNotification and its connector
statuses, heartbeats at the interval the CSMS gives, then a vehicle plugs in, a
driver presents a token (Authorize), the vehicle charges for a while with
periodic meter values (TransactionEvent Updated), the driver stops and unplugs.
The station then stays online, heartbeating, until stopped.

Run it against any OCPP 2.0.1 CSMS, e.g. ``examples/basic_csms.py``::

    python examples/basic_csms.py --port 9000
    python examples/basic_station.py ws://127.0.0.1:9000/ocpp CS001

``--password`` authenticates with HTTP Basic auth (security profile 1).
Stop it with Ctrl-C, or give ``--duration SECONDS``.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from collections.abc import Callable

import trio

from fleet.actors.station import Station, StationSnapshot, open_station
from fleet.net.events import Connected, Disconnected, FleetEvent, OcppMessage
from fleet.ocpp.v201 import TransactionEvent
from fleet.profiles import RetryBackoff, SampledData, Security, SessionGenerator, StationProfile
from fleet.program import run_program

Log = Callable[[str], None]


def profile_for(password: str | None, meter_interval: int) -> StationProfile:
    """One 11 kW AC EVSE; no automatic sessions (this program drives the one transaction)."""
    return StationProfile(
        name="basic-example",
        sessions=SessionGenerator(enabled=False),
        security=Security(profile=1 if password else 0, password=None),
        sampled_data=SampledData(tx_updated_interval=meter_interval),
        retry_backoff=RetryBackoff(wait_minimum=2, repeat_times=3, random_range=1),
    )


async def log_events(events: trio.MemoryReceiveChannel[FleetEvent], log: Log) -> None:
    async for event in events:
        if isinstance(event, Connected):
            log(f"connected (OCPP {event.ocpp_version})")
        elif isinstance(event, Disconnected):
            log(f"disconnected: {event.reason}")
        elif isinstance(event, OcppMessage) and event.direction == "in" and event.kind == "response":
            if event.action == "BootNotification":
                log(f"BootNotification answered {event.payload.status}, interval {event.payload.interval} s")
            elif event.action == "Heartbeat":
                log(f"heartbeat, CSMS time {event.payload.current_time:%H:%M:%S}")
            elif event.action == "Authorize":
                log(f"token answered {event.payload.id_token_info.status}")
        elif (isinstance(event, OcppMessage) and event.direction == "out" and event.action == "TransactionEvent"
              and event.kind == "request" and event.payload.event_type != TransactionEvent.UPDATED):
            log(f"transaction {event.payload.event_type} ({event.payload.trigger_reason})")


async def one_transaction(station: Station, id_token: str, charge_seconds: float, log: Log) -> None:
    """Plug in, authorize ``id_token``, charge ``charge_seconds``, stop and unplug."""
    await station.wait_until(lambda s: s.state == "available")
    log("accepted by the CSMS")
    await station.plug(1)
    await station.start_transaction(1, id_token)
    with trio.move_on_after(30):
        await station.wait_until(lambda s: s.state == "charging")
    snapshot = station.snapshot()
    if snapshot.state != "charging":
        log(f"not charging: {snapshot.last_error or 'no authorization'}")
    else:
        log(f"charging with {id_token}")
        await trio.sleep(charge_seconds)
        energy = station.snapshot().evses[0].energy_wh
        await station.stop_transaction(1)
        log(f"stopped after {energy:.1f} Wh")
    await station.unplug(1)


async def run(
    url: str,
    station_id: str,
    *,
    password: str | None = None,
    duration: float | None = None,
    id_token: str = "TOKEN-0001",
    charge_seconds: float = 20.0,
    meter_interval: int = 5,
    log: Log = print,
    task_status: trio.TaskStatus[Station] = trio.TASK_STATUS_IGNORED,
) -> StationSnapshot:
    """Run the station for ``duration`` seconds (``None``: until cancelled); its last snapshot.

    ``task_status.started(station)`` once the station runs (before it is connected).
    """
    profile = profile_for(password, meter_interval)
    async with open_station(station_id, url, profile=profile, password=password, auto_connect=False) as station:
        task_status.started(station)
        with trio.move_on_after(math.inf if duration is None else duration):
            async with station.subscribe() as events, trio.open_nursery() as nursery:
                nursery.start_soon(log_events, events, log)
                log(f"{station_id}: connecting to {url}/{station_id}")
                await station.connect()  # subscribed first, so no event is missed
                await one_transaction(station, id_token, charge_seconds, log)
                await trio.sleep_forever()
        snapshot = station.snapshot()
    counters = snapshot.counters
    log(f"{station_id}: {counters.boots} boots, {counters.heartbeats} heartbeats, "
        f"{counters.transactions_ended} transactions, {counters.events_sent} transaction events sent")
    return snapshot




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A basic OCPP 2.0.1 charging station (fleet example).")
    parser.add_argument("url", help="the CSMS URL without the station id, e.g. ws://127.0.0.1:9000/ocpp")
    parser.add_argument("station_id", help="the station id, e.g. CS001")
    parser.add_argument("--password", help="HTTP Basic auth password (security profile 1)")
    parser.add_argument("--id-token", default="TOKEN-0001", help="the token the driver presents")
    parser.add_argument("--charge-seconds", type=float, default=20.0, help="how long the vehicle charges")
    parser.add_argument("--meter-interval", type=int, default=5, help="seconds between meter values")
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: Ctrl-C)")
    args = parser.parse_args(argv)
    station = functools.partial(
        run, args.url, args.station_id, password=args.password, duration=args.duration, id_token=args.id_token,
        charge_seconds=args.charge_seconds, meter_interval=args.meter_interval,
        log=lambda line: print(line, flush=True),
    )
    return run_program(station)


if __name__ == "__main__":
    sys.exit(main())
