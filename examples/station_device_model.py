"""A charging station with a device model: variables, a password the CSMS rotates, back-off at run time.

The Python version of the reference's "CS with a device-model variable store"
example flow. fleet's station keeps an OCPP 2.0.1 device model and answers
GetVariables, SetVariables, GetBaseReport and GetReport from it by itself; this
program shows how to shape it and watch it:

* the profile overrides standard variables (``variables``: heartbeat, message
  timeout, local pre-authorization, the authorization cache) and adds vendor
  variables (``custom_variables``: ``ExampleCtrlr.GreetingText``, ``ExampleCtrlr.FanSpeed``),
  which the CSMS can read and set like the standard ones;
* a handler override answers the vendor's DataTransfer (``vendorId`` ``com.example``,
  ``messageId`` ``Greeting``) with the ``GreetingText`` variable;
* when the CSMS sets ``SecurityCtrlr.BasicAuthPassword`` the station answers,
  closes its connection and reconnects with the new password (the log says so;
  it never prints the password);
* the reconnection back-off (``OCPPCommCtrlr.RetryBackOff*``) changes at run time:
  by the CSMS with SetVariables, or by this program (``--backoff 2,3,1``, the
  reference's ``retrybackoff`` command).

Run it against a CSMS, e.g. ``examples/compliance_csms.py`` (which rotates the password)::

    python examples/compliance_csms.py --port 9000 --station CS001:a-long-secret-password
    python examples/station_device_model.py ws://127.0.0.1:9000/ocpp CS001 --password a-long-secret-password

Stop it with Ctrl-C, or give ``--duration SECONDS``.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import trio

from fleet.actors.station import Station, StationSnapshot, open_station
from fleet.net.events import Connected, Disconnected, FleetEvent, OcppMessage
from fleet.ocpp.v201 import DataTransferRequest, DataTransferResponse, DataTransferStatus
from fleet.profiles import CustomVariable, Identity, RetryBackoff, SessionGenerator, StationProfile
from fleet.program import run_program

Log = Callable[[str], None]
VENDOR_ID = "com.example"
BACKOFF = ("RetryBackOffWaitMinimum", "RetryBackOffRepeatTimes", "RetryBackOffRandomRange")

PROFILE = StationProfile(
    name="device-model-example",
    identity=Identity(vendor="ExampleVendor", model="DM-22", firmware_version="3.1.4"),
    sessions=SessionGenerator(enabled=False),
    retry_backoff=RetryBackoff(wait_minimum=1, repeat_times=2, random_range=1),
    reboot_delay=0.5,
    variables={
        "OCPPCommCtrlr.HeartbeatInterval": 120,
        "OCPPCommCtrlr.MessageTimeout[Default]": 20,
        "AuthCtrlr.LocalPreAuthorize": True,  # tokens of the local list start at once, without Authorize
        "AuthCacheCtrlr.Enabled": True,  # so ClearCache is Accepted
        "TxCtrlr.EVConnectionTimeOut": 90,
    },
    custom_variables=[
        CustomVariable(component="ExampleCtrlr", variable="GreetingText", value="Hello from fleet"),
        CustomVariable(component="ExampleCtrlr", variable="FanSpeed", value="40", data_type="integer",
                       unit="Percent"),
    ],
)


def install_handlers(station: Station) -> None:
    """Answer the vendor's DataTransfer here; every other request keeps fleet's default answer."""

    def data_transfer(request: DataTransferRequest, ctx: Any) -> DataTransferResponse:
        if request.vendor_id != VENDOR_ID:
            return DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID)
        if request.message_id != "Greeting":
            return DataTransferResponse(status=DataTransferStatus.UNKNOWN_MESSAGE_ID)
        greeting = station.model.get_str("ExampleCtrlr", "GreetingText")
        return DataTransferResponse(status=DataTransferStatus.ACCEPTED, data=greeting)

    station.on("DataTransfer")(data_transfer)


def variable_name(item: Any) -> str:
    """``Component.Variable`` (with instances and EVSE) of a Get/SetVariableData or result."""
    component, variable = item.component, item.variable
    name = str(component.name)
    if isinstance(component.instance, str):
        name += f"[{component.instance}]"
    if component.evse:  # UNSET is falsy
        name += f"(EVSE {component.evse.id})"
    name += f".{variable.name}"
    if isinstance(variable.instance, str):
        name += f"[{variable.instance}]"
    return name


def backoff_values(station: Station) -> str:
    values = [station.model.get_int("OCPPCommCtrlr", name) for name in BACKOFF]
    return "wait minimum {} s, repeat {} times, random range {} s".format(*values)


async def watch(station: Station, events: trio.MemoryReceiveChannel[FleetEvent], log: Log) -> None:
    """Log the device-model traffic, the password rotation and the reconnections."""
    requests: dict[str, Any] = {}
    async for event in events:
        if isinstance(event, Connected):
            log(f"connected (OCPP {event.ocpp_version})")
        elif isinstance(event, Disconnected):
            log(f"disconnected: {event.reason}")
        elif isinstance(event, OcppMessage):
            if event.direction == "in" and event.kind == "request":
                requests[event.message_id] = event.payload
                if event.action in ("GetBaseReport", "SendLocalList", "ClearCache", "Reset"):
                    log(f"CSMS request {event.action}")
            elif event.direction == "out" and event.kind == "response":
                request = requests.pop(event.message_id, None)
                if event.action == "GetVariables":
                    for result in event.payload.get_variable_result:
                        value = result.attribute_value if isinstance(result.attribute_value, str) else "-"
                        log(f"CSMS read {variable_name(result)} = {value} ({result.attribute_status})")
                elif event.action == "SetVariables" and request is not None:
                    for data, result in zip(request.set_variable_data, event.payload.set_variable_result,
                                            strict=False):
                        name = variable_name(data)
                        secret = name.endswith("BasicAuthPassword")
                        log(f"CSMS set {name} = {'********' if secret else data.attribute_value} "
                            f"({result.attribute_status})")
                        if secret and result.attribute_status == "Accepted":
                            log("new Basic auth password: reconnecting with it")
                        if name.split(".")[-1] in BACKOFF and result.attribute_status == "Accepted":
                            log(f"reconnection back-off now: {backoff_values(station)}")
                elif event.action in ("GetBaseReport", "SendLocalList", "ClearCache", "Reset", "DataTransfer"):
                    log(f"answered {event.action}: {event.payload.status}")
            elif event.direction == "in" and event.kind == "response" and event.action == "BootNotification":
                log(f"BootNotification answered {event.payload.status}")


async def run(
    url: str,
    station_id: str,
    *,
    password: str | None = None,
    duration: float | None = None,
    backoff: Sequence[int] | None = None,
    log: Log = print,
    task_status: trio.TaskStatus[Station] = trio.TASK_STATUS_IGNORED,
) -> StationSnapshot:
    """Run the station for ``duration`` seconds (``None``: until cancelled); its last snapshot.

    Args:
        password: the Basic auth password (default: the profile's ``fleet-<id>-password``).
        backoff: (wait minimum, repeat times, random range) to set once accepted.
    """
    async with open_station(station_id, url, profile=PROFILE, password=password, auto_connect=False) as station:
        install_handlers(station)
        task_status.started(station)
        with trio.move_on_after(math.inf if duration is None else duration):
            async with station.subscribe() as events, trio.open_nursery() as nursery:
                nursery.start_soon(watch, station, events, log)
                await station.connect()  # subscribed first, so no event is missed
                await station.wait_until(lambda s: s.state == "available")
                log(f"accepted; reconnection back-off: {backoff_values(station)}")
                if backoff is not None:
                    wait_minimum, repeat_times, random_range = backoff
                    await station.set_retry_backoff(wait_minimum, repeat_times, random_range)
                    log(f"back-off changed at run time: {backoff_values(station)}")
                await trio.sleep_forever()
        snapshot = station.snapshot()
    log(f"{station_id}: {snapshot.counters.connects} connections, {snapshot.counters.boots} boots")
    return snapshot




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A charging station with a device model (fleet example).")
    parser.add_argument("url", help="the CSMS URL without the station id, e.g. ws://127.0.0.1:9000/ocpp")
    parser.add_argument("station_id", help="the station id, e.g. CS001")
    parser.add_argument("--password", help="HTTP Basic auth password (default fleet-<station id>-password)")
    parser.add_argument("--backoff", help="MIN,REPEAT,RANGE: reconnection back-off to set once accepted")
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: Ctrl-C)")
    args = parser.parse_args(argv)
    backoff = None
    if args.backoff:
        try:
            backoff = [int(part) for part in args.backoff.split(",")]
        except ValueError:
            backoff = []
        if len(backoff) != 3 or min(backoff) < 0:
            parser.error(f"--backoff: expected three whole numbers >= 0 like 2,3,1, got {args.backoff!r}")
    station = functools.partial(run, args.url, args.station_id, password=args.password, duration=args.duration,
                                backoff=backoff, log=lambda line: print(line, flush=True))
    return run_program(station)


if __name__ == "__main__":
    sys.exit(main())
