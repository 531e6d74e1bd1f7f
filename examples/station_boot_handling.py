"""A charging station's boot handling: Pending and Rejected, notifications, TriggerMessage, Reset.

The Python version of the reference's "CS for compliance testing" example flow.
fleet's station does the protocol part by itself; this program shows it and adds
the notifications a real station sends:

* BootNotification answered **Rejected**: the station sends nothing else and boots
  again after the interval the CSMS gave; **Pending**: it boots again after the
  interval, answers the CSMS's requests meanwhile (the CSMS may configure it, or
  ask for the boot at once with TriggerMessage BootNotification) and sends no
  status or transaction messages; **Accepted**: it reports its connectors and
  heartbeats.
* Once accepted, this program sends a NotifyEvent with the connector's
  ``AvailabilityState`` and, after a power-up, the SecurityEventNotification
  ``StartupOfTheDevice`` (after a reset fleet's station reports ``ResetOrReboot``
  by itself).
* TriggerMessage: the station answers and sends what was asked (StatusNotification,
  Heartbeat, MeterValues, ...; BootNotification only while not accepted).
* Reset: the station answers, reboots, reconnects and boots again (reason ``RemoteReset``).

Try it against ``examples/basic_csms.py`` answering Rejected, then Pending, then Accepted::

    python examples/basic_csms.py --port 9000 --boot-statuses Rejected,Pending,Accepted --boot-retry-interval 5
    python examples/station_boot_handling.py ws://127.0.0.1:9000/ocpp CS001

Stop it with Ctrl-C, or give ``--duration SECONDS``.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import itertools
import math
import sys
from collections.abc import Callable

import trio

from fleet.actors.station import Station, StationSnapshot, open_station
from fleet.net.events import Connected, Disconnected, FleetEvent, OcppMessage
from fleet.ocpp import CallFailure
from fleet.ocpp.v201 import (
    EVSE,
    Component,
    EventData,
    EventNotification,
    EventTrigger,
    NotifyEventRequest,
    RegistrationStatus,
    SecurityEventNotificationRequest,
    Variable,
)
from fleet.profiles import RetryBackoff, Security, SessionGenerator, StationProfile
from fleet.program import run_program

Log = Callable[[str], None]


def profile_for(password: str | None) -> StationProfile:
    return StationProfile(
        name="boot-handling-example",
        sessions=SessionGenerator(enabled=False),
        security=Security(profile=1 if password else 0, password=None),
        retry_backoff=RetryBackoff(wait_minimum=1, repeat_times=2, random_range=1),
        boot_retry_interval=10,  # when a Pending/Rejected answer gives interval 0
        reboot_delay=1.0,
    )


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class BootHandler:
    """Follows the station's events; sends the notifications once the station is accepted."""

    def __init__(self, station: Station, log: Log) -> None:
        self.station = station
        self.log = log
        self.power_up = True
        self.seq = itertools.count()
        self.event_ids = itertools.count(1)

    async def follow(self, events: trio.MemoryReceiveChannel[FleetEvent], nursery: trio.Nursery) -> None:
        async for event in events:
            if isinstance(event, Connected):
                self.log(f"connected (OCPP {event.ocpp_version})")
            elif isinstance(event, Disconnected):
                self.log(f"disconnected: {event.reason}")
            elif isinstance(event, OcppMessage):
                if event.direction == "out" and event.kind == "request" and event.action == "BootNotification":
                    self.log(f"BootNotification (reason {event.payload.reason})")
                elif event.direction == "in" and event.kind == "response" and event.action == "BootNotification":
                    status, interval = event.payload.status, event.payload.interval
                    if status == RegistrationStatus.ACCEPTED:
                        self.log(f"Accepted: heartbeat every {interval} s")
                        nursery.start_soon(self.announce, self.power_up)
                        self.power_up = False
                    elif status == RegistrationStatus.PENDING:
                        self.log(f"Pending: boots again in {interval} s; answers the CSMS meanwhile")
                    else:
                        self.log(f"Rejected: sends nothing and boots again in {interval} s")
                elif event.direction == "in" and event.kind == "request" and event.action == "TriggerMessage":
                    self.log(f"CSMS triggers {event.payload.requested_message}")
                elif event.direction == "out" and event.kind == "response" and event.action == "TriggerMessage":
                    self.log(f"trigger {event.payload.status}")
                elif event.direction == "in" and event.kind == "request" and event.action == "Reset":
                    self.log(f"CSMS asks for a Reset ({event.payload.type})")
                elif event.direction == "out" and event.kind == "response" and event.action == "Reset":
                    self.log(f"reset {event.payload.status}: rebooting, then reconnecting and booting again")

    async def announce(self, power_up: bool) -> None:
        """The notifications a station sends after it was accepted."""
        station = self.station
        try:
            if power_up:
                await station.call(SecurityEventNotificationRequest(
                    type="StartupOfTheDevice", timestamp=now(), tech_info=f"{station.station_id} powered up"))
                self.log("sent SecurityEventNotification StartupOfTheDevice")
            connector = station.snapshot().evses[0].connectors[0]
            await station.call(NotifyEventRequest(
                generated_at=now(),
                seq_no=next(self.seq),
                event_data=[EventData(
                    event_id=next(self.event_ids),
                    timestamp=now(),
                    trigger=EventTrigger.DELTA,
                    actual_value=connector.status,
                    event_notification_type=EventNotification.HARD_WIRED_NOTIFICATION,
                    component=Component(name="Connector", evse=EVSE(id=1, connector_id=connector.connector_id)),
                    variable=Variable(name="AvailabilityState"),
                )],
            ))
        except CallFailure as exc:
            self.log(f"notification failed: {exc}")
            return
        self.log(f"sent NotifyEvent AvailabilityState {connector.status}")


async def run(
    url: str,
    station_id: str,
    *,
    password: str | None = None,
    duration: float | None = None,
    log: Log = print,
    task_status: trio.TaskStatus[Station] = trio.TASK_STATUS_IGNORED,
) -> StationSnapshot:
    """Run the station for ``duration`` seconds (``None``: until cancelled); its last snapshot."""
    async with open_station(station_id, url, profile=profile_for(password), password=password,
                            auto_connect=False) as station:
        handler = BootHandler(station, log)
        task_status.started(station)
        with trio.move_on_after(math.inf if duration is None else duration):
            async with station.subscribe() as events, trio.open_nursery() as nursery:
                nursery.start_soon(handler.follow, events, nursery)
                await station.connect()  # subscribed first, so no event is missed
                await trio.sleep_forever()
        snapshot = station.snapshot()
    log(f"{station_id}: {snapshot.counters.boots} boot answers, {snapshot.counters.reboots} reboots, "
        f"state {snapshot.state}")
    return snapshot




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A charging station's boot handling (fleet example).")
    parser.add_argument("url", help="the CSMS URL without the station id, e.g. ws://127.0.0.1:9000/ocpp")
    parser.add_argument("station_id", help="the station id, e.g. CS001")
    parser.add_argument("--password", help="HTTP Basic auth password (security profile 1)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: Ctrl-C)")
    args = parser.parse_args(argv)
    station = functools.partial(run, args.url, args.station_id, password=args.password, duration=args.duration,
                                log=lambda line: print(line, flush=True))
    return run_program(station)


if __name__ == "__main__":
    sys.exit(main())
