"""The same closed loop built on the ``ocpp`` package (mobilityhouse; its v16, v201 and v21) and ``websockets`` (asyncio).

``fleet bench --peer ocpp`` runs it beside fleet, in the same process layout and
with the same control protocol as :mod:`fleet.benchmarks.load`: K CSMS processes
sharing one port (``reuse_port=True``), W station processes, same stations, same
action, same payloads, same measurement window, same GC tuning after the ramp.

Both ends are the package's ``ChargePoint`` of the version the stations speak
(``ocpp.v16``, ``ocpp.v201`` or ``ocpp.v21``; its CSMS serves all three and picks the class
by the negotiated subprotocol) run as its users run it, with its defaults: every message validated against the OCPP JSON schemas on both sides
(``jsonschema``, in asyncio's default thread pool), ``websockets`` with its
defaults (permessage-deflate compression on, keepalive pings every 20 s). The CSMS's
handlers only build the response; they record nothing (fleet's CSMS records every
message in its station records). Two things are the harness's, the same as fleet's:
the listen backlog (4,096, as fleet's CSMS) and, to a CSMS on 127.0.0.1, sockets
bound to source ports of the process's own slice (:class:`~.load.SourcePorts`).

``ocpp`` and ``websockets`` are dev dependencies of fleet: they are imported only
in the child processes; :func:`missing_requirement` says what to install.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import socket
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar, cast

from ..metrics import new_histogram
from ..net.transport import station_url
from .load import (
    CALL_TIMEOUT,
    HANDSHAKE_TIMEOUT,
    ID_TOKEN,
    BenchError,
    MeterSim,
    SourcePorts,
    _Control,
    _encode,
    child_exit,
    child_main,
    local_window,
    now_utc,
    station_id,
    transaction_id,
    tune_gc,
)
from .ocpp_peer_needs import NOTES, missing_requirement

__all__ = ["NOTES", "missing_requirement"]

SUBPROTOCOL = "ocpp2.0.1"
_F = TypeVar("_F", bound=Callable[..., Any])
class _AsyncioControl(_Control):
    def __init__(self) -> None:
        super().__init__()
        self._reader: asyncio.StreamReader | None = None

    async def receive(self) -> dict[str, Any]:
        if self._reader is None:
            loop = asyncio.get_running_loop()
            reader = self._reader = asyncio.StreamReader()
            pipe = os.fdopen(os.dup(0), "rb", buffering=0)
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
        while True:
            line = self.next_line()
            if line is not None:
                return line
            data = await self._reader.read(65536)
            if not data:
                return {"cmd": "exit"}
            self.feed(data)


def _iso(moment: Any) -> str:
    return str(moment.isoformat())


def _v16() -> Any:
    from ocpp import v16

    return v16


def _v201() -> Any:
    from ocpp import v201

    return v201


def _v21() -> Any:
    from ocpp import v21

    return v21


def _boot_2x(package: Any, sid: str) -> Any:
    return package.call.BootNotification(
        charging_station=package.datatypes.ChargingStationType(
            vendor_name="fleet-bench", model="Bench-22", serial_number=sid, firmware_version="1.0.0"),
        reason=package.enums.BootReasonEnumType.power_up,
    )


def _boot_16(package: Any, sid: str) -> Any:
    return package.call.BootNotification(charge_point_vendor="fleet-bench", charge_point_model="Bench-22",
                                         charge_point_serial_number=sid, firmware_version="1.0.0")


def _accepted_2x(package: Any) -> Any:
    return package.enums.RegistrationStatusEnumType.accepted


def _accepted_16(package: Any) -> Any:
    return package.enums.RegistrationStatus.accepted


def _ocpp_requests_16(package: Any, action: str, index: int) -> Callable[[], Any]:
    """A 1.6 station's next request (the readings of the 2.x loop, as 1.6 strings)."""
    call, datatypes, enums = package.call, package.datatypes, package.enums
    if action == "Heartbeat":
        return lambda: call.Heartbeat()
    if action != "MeterValues":
        raise BenchError(f"no {action} loop in OCPP 1.6")
    meter = MeterSim(index)
    periodic = enums.ReadingContext.sample_periodic

    def meter_values() -> Any:
        meter.advance()
        return call.MeterValues(connector_id=1, meter_value=[datatypes.MeterValue(
            timestamp=_iso(now_utc()), sampled_value=[
                datatypes.SampledValue(value=str(meter.energy_wh), context=periodic,
                                       measurand=enums.Measurand.energy_active_import_register,
                                       unit=enums.UnitOfMeasure.wh),
                datatypes.SampledValue(value=str(meter.power_w), context=periodic,
                                       measurand=enums.Measurand.power_active_import, unit=enums.UnitOfMeasure.w),
                datatypes.SampledValue(value=str(meter.current_a), context=periodic,
                                       measurand=enums.Measurand.current_import, phase=enums.Phase.l1,
                                       unit=enums.UnitOfMeasure.a),
                datatypes.SampledValue(value=str(meter.voltage_v), context=periodic,
                                       measurand=enums.Measurand.voltage, phase=enums.Phase.l1_n,
                                       unit=enums.UnitOfMeasure.v),
                datatypes.SampledValue(value=str(meter.soc), context=periodic, measurand=enums.Measurand.soc,
                                       location=enums.Location.ev, unit=enums.UnitOfMeasure.percent),
            ])])

    return meter_values


class _PeerVersion:
    """What the peer's stations need of one OCPP version: the package (loaded in the child
    only), the boot, the requests of the loop and the boot status to expect."""

    def __init__(self, subprotocol: str, load: Callable[[], Any], boot: Callable[[Any, str], Any],
                 requests: Callable[[Any, str, int], Callable[[], Any]], accepted: Callable[[Any], Any]) -> None:
        self.subprotocol = subprotocol
        self.load = load
        self.boot = boot
        self.requests = requests
        self.accepted = accepted


def _ocpp_requests(package: Any, action: str, index: int) -> Callable[[], Any]:
    """A factory of a 2.x station's next request, as the package's dataclasses (same payloads as fleet's)."""
    call, datatypes, enums = package.call, package.datatypes, package.enums

    if action == "Heartbeat":
        return lambda: call.Heartbeat()
    meter = MeterSim(index)
    tx_id = transaction_id(index)
    periodic = enums.ReadingContextEnumType.sample_periodic

    def meter_values(context: Any = periodic) -> list[Any]:
        meter.advance()
        return [datatypes.MeterValueType(timestamp=_iso(now_utc()), sampled_value=[
            datatypes.SampledValueType(
                value=meter.energy_wh, context=context,
                measurand=enums.MeasurandEnumType.energy_active_import_register,
                unit_of_measure=datatypes.UnitOfMeasureType(unit="Wh")),
            datatypes.SampledValueType(
                value=meter.power_w, context=context, measurand=enums.MeasurandEnumType.power_active_import,
                unit_of_measure=datatypes.UnitOfMeasureType(unit="W")),
            datatypes.SampledValueType(
                value=meter.current_a, context=context, measurand=enums.MeasurandEnumType.current_import,
                phase=enums.PhaseEnumType.l1, unit_of_measure=datatypes.UnitOfMeasureType(unit="A")),
            datatypes.SampledValueType(
                value=meter.voltage_v, context=context, measurand=enums.MeasurandEnumType.voltage,
                phase=enums.PhaseEnumType.l1_n, unit_of_measure=datatypes.UnitOfMeasureType(unit="V")),
            datatypes.SampledValueType(
                value=meter.soc, context=context, measurand=enums.MeasurandEnumType.soc,
                location=enums.LocationEnumType.ev, unit_of_measure=datatypes.UnitOfMeasureType(unit="Percent")),
        ])]

    # (2.0.1's idToken type is an enumeration; the loops of 2.1 send no idToken)
    id_token = datatypes.IdTokenType(id_token=ID_TOKEN, type=enums.IdTokenEnumType.iso14443) \
        if action in ("TransactionEvent", "Authorize") else None
    if action == "TransactionEvent":
        seq = 0
        charging = datatypes.TransactionType(transaction_id=tx_id,
                                             charging_state=enums.ChargingStateEnumType.charging)

        def transaction_event() -> Any:
            nonlocal seq
            seq += 1
            if seq == 1:
                return call.TransactionEvent(
                    event_type=enums.TransactionEventEnumType.started, timestamp=_iso(now_utc()),
                    trigger_reason=enums.TriggerReasonEnumType.authorized, seq_no=0,
                    transaction_info=charging, evse=datatypes.EVSEType(id=1, connector_id=1), id_token=id_token,
                    meter_value=meter_values(enums.ReadingContextEnumType.transaction_begin),
                )
            return call.TransactionEvent(
                event_type=enums.TransactionEventEnumType.updated, timestamp=_iso(now_utc()),
                trigger_reason=enums.TriggerReasonEnumType.meter_value_periodic, seq_no=seq - 1,
                transaction_info=charging, meter_value=meter_values(),
            )

        return transaction_event
    if action == "MeterValues":
        return lambda: call.MeterValues(evse_id=1, meter_value=meter_values())
    if action == "StatusNotification":
        statuses = (enums.ConnectorStatusEnumType.occupied, enums.ConnectorStatusEnumType.available)
        flip = [0]

        def status_notification() -> Any:
            flip[0] ^= 1
            return call.StatusNotification(timestamp=_iso(now_utc()), connector_status=statuses[flip[0]],
                                           evse_id=1, connector_id=1)

        return status_notification
    if action == "Authorize":
        return lambda: call.Authorize(id_token=id_token)
    raise BenchError(f"unknown call {action!r}")


#: OCPP version -> how the peer's stations speak it.
VERSIONS: dict[str, _PeerVersion] = {
    "1.6": _PeerVersion("ocpp1.6", _v16, _boot_16, _ocpp_requests_16, _accepted_16),
    "2.0.1": _PeerVersion(SUBPROTOCOL, _v201, _boot_2x, _ocpp_requests, _accepted_2x),
    "2.1": _PeerVersion("ocpp2.1", _v21, _boot_2x, _ocpp_requests, _accepted_2x),
}


# ==================================================================== station process


class _PeerStations:
    def __init__(self, args: argparse.Namespace) -> None:
        self.url = args.url
        self.action = args.call
        self.count = args.count
        self.semaphore = asyncio.Semaphore(args.concurrency)
        self.booted = 0
        self.failed = 0
        self.ramp_done = asyncio.Event()
        self.go = asyncio.Event()
        self.running = True
        self.start = math.inf
        self.end = math.inf
        self.calls = 0
        self.histogram = new_histogram()
        self.errors: Counter[str] = Counter()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.ports = SourcePorts.parse(args.ports)
        self.version = VERSIONS[args.version]
        self.package = self.version.load()

    async def _socket(self) -> dict[str, Any]:
        """``{"sock": ...}``: a socket bound to a port of our slice and connected (as fleet's are), or ``{}``."""
        if self.ports is None:
            return {}
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.ports.bind(sock)
            sock.setblocking(False)
            url = urllib.parse.urlsplit(self.url)
            await asyncio.get_running_loop().sock_connect(sock, (url.hostname, url.port or 80))
        except BaseException:
            sock.close()
            raise
        return {"sock": sock}

    def _settled(self) -> None:
        if self.booted + self.failed == self.count:
            self.ramp_done.set()

    async def run_station(self, index: int) -> None:
        import websockets
        from websockets.typing import Subprotocol

        version, package = self.version, self.package
        sid = station_id(index)
        booted = False
        try:
            async with self.semaphore:
                ws = await websockets.connect(station_url(self.url, sid),
                                              subprotocols=[Subprotocol(version.subprotocol)],
                                              open_timeout=HANDSHAKE_TIMEOUT, **await self._socket())
                cp = package.ChargePoint(sid, ws, response_timeout=CALL_TIMEOUT)
                reader = asyncio.ensure_future(cp.start())
                self.tasks.add(reader)
                response = await cp.call(version.boot(package, sid))
                if response is None or response.status != version.accepted(package):
                    raise BenchError(f"boot {getattr(response, 'status', 'CALLERROR')}")
            booted = True
            self.booted += 1
            self._settled()
            await self.go.wait()
            await self._loop(cp, index)
        except Exception as exc:
            self.errors[("" if booted else "connect: ") + type(exc).__name__] += 1
            if not booted:
                self.failed += 1
                self._settled()

    async def _loop(self, cp: Any, index: int) -> None:
        next_request = self.version.requests(self.package, self.action, index)
        perf = time.perf_counter
        record = self.histogram.record_value
        while self.running:
            began = perf()
            try:
                response = await cp.call(next_request())
            except TimeoutError:
                self.errors["CallTimeout"] += 1
                continue
            if response is None:  # a CALLERROR (the package's default is to suppress it)
                self.errors["RemoteCallError"] += 1
                continue
            done = perf()
            if self.start <= done < self.end:
                self.calls += 1
                micros = int((done - began) * 1_000_000)
                record(micros if micros > 0 else 1)


async def _stations_main(args: argparse.Namespace) -> None:
    control = _AsyncioControl()
    control.send("ready", pid=os.getpid())
    command = await control.receive()
    if command.get("cmd") != "connect":
        child_exit()
    stations = _PeerStations(args)
    for index in range(args.first, args.first + args.count):
        task = asyncio.ensure_future(stations.run_station(index))
        stations.tasks.add(task)
    await stations.ramp_done.wait()
    control.send("booted", at=time.time(), booted=stations.booted, failed=stations.failed,
                 errors=dict(stations.errors))
    tune_gc()
    command = await control.receive()
    if command.get("cmd") != "go":
        child_exit()
    stations.start, stations.end = local_window(command["start"], command["end"])
    stations.go.set()
    await asyncio.sleep(max(0.0, stations.end - time.perf_counter()))
    stations.running = False
    control.send("result", calls=stations.calls, histogram=_encode(stations.histogram), errors=dict(stations.errors))
    while (await control.receive()).get("cmd") != "exit":
        pass
    child_exit()


# ======================================================================= CSMS process


def _csms_charge_point_class(package: Any) -> Any:
    """The CSMS's charge point class of a 2.x package (``ocpp.v201``, ``ocpp.v21``: the same API)."""
    from ocpp.routing import on as untyped_on

    ChargePoint, call_result, datatypes, enums = package.ChargePoint, package.call_result, package.datatypes, package.enums
    Action = enums.Action

    def on(action: str) -> Callable[[_F], _F]:
        return cast("Callable[[_F], _F]", untyped_on(action))

    def now() -> str:
        return _iso(now_utc())

    accepted = datatypes.IdTokenInfoType(status=enums.AuthorizationStatusEnumType.accepted)

    class CsmsChargePoint(ChargePoint):  # type: ignore[misc,valid-type]
        received: Counter[str] = Counter()

        @on(Action.boot_notification)
        def on_boot_notification(self, charging_station: Any, reason: Any, **kwargs: Any) -> Any:
            self.received["BootNotification"] += 1
            return call_result.BootNotification(current_time=now(), interval=300,
                                                status=enums.RegistrationStatusEnumType.accepted)

        @on(Action.heartbeat)
        def on_heartbeat(self, **kwargs: Any) -> Any:
            self.received["Heartbeat"] += 1
            return call_result.Heartbeat(current_time=now())

        @on(Action.transaction_event)
        def on_transaction_event(self, event_type: Any, timestamp: Any, trigger_reason: Any, seq_no: Any,
                                 transaction_info: Any, id_token: Any = None, **kwargs: Any) -> Any:
            self.received["TransactionEvent"] += 1
            if id_token is not None:
                return call_result.TransactionEvent(id_token_info=accepted)
            return call_result.TransactionEvent()

        @on(Action.status_notification)
        def on_status_notification(self, **kwargs: Any) -> Any:
            self.received["StatusNotification"] += 1
            return call_result.StatusNotification()

        @on(Action.authorize)
        def on_authorize(self, id_token: Any, **kwargs: Any) -> Any:
            self.received["Authorize"] += 1
            return call_result.Authorize(id_token_info=accepted)

        @on(Action.meter_values)
        def on_meter_values(self, **kwargs: Any) -> Any:
            self.received["MeterValues"] += 1
            return call_result.MeterValues()

    return CsmsChargePoint


def _csms_charge_point_class_16(package: Any) -> Any:
    """The CSMS's charge point class of ``ocpp.v16``."""
    from ocpp.routing import on as untyped_on

    call_result, enums = package.call_result, package.enums
    Action = enums.Action

    def on(action: str) -> Callable[[_F], _F]:
        return cast("Callable[[_F], _F]", untyped_on(action))

    def now() -> str:
        return _iso(now_utc())

    class CsmsChargePoint16(package.ChargePoint):  # type: ignore[misc]
        received: Counter[str] = Counter()

        @on(Action.boot_notification)
        def on_boot_notification(self, charge_point_vendor: Any, charge_point_model: Any, **kwargs: Any) -> Any:
            self.received["BootNotification"] += 1
            return call_result.BootNotification(current_time=now(), interval=300,
                                                status=enums.RegistrationStatus.accepted)

        @on(Action.heartbeat)
        def on_heartbeat(self, **kwargs: Any) -> Any:
            self.received["Heartbeat"] += 1
            return call_result.Heartbeat(current_time=now())

        @on(Action.meter_values)
        def on_meter_values(self, connector_id: Any, meter_value: Any, **kwargs: Any) -> Any:
            self.received["MeterValues"] += 1
            return call_result.MeterValues()

    return CsmsChargePoint16


async def _csms_main(args: argparse.Namespace) -> None:
    import websockets
    from websockets.typing import Subprotocol

    control = _AsyncioControl()
    classes = {"ocpp2.1": _csms_charge_point_class(_v21()), SUBPROTOCOL: _csms_charge_point_class(_v201()),
               "ocpp1.6": _csms_charge_point_class_16(_v16())}
    connected = 0

    async def on_connect(websocket: Any) -> None:
        nonlocal connected
        path = websocket.request.path if websocket.request is not None else ""
        station = path.split("?", 1)[0].rstrip("/").rpartition("/")[2]
        charge_point = classes.get(websocket.subprotocol)
        if charge_point is None:
            await websocket.close(1002, "no supported OCPP subprotocol offered")
            return
        connected += 1
        try:
            await charge_point(station, websocket, response_timeout=CALL_TIMEOUT).start()
        except websockets.ConnectionClosed:
            pass
        finally:
            connected -= 1

    async with websockets.serve(on_connect, args.host, args.port, subprotocols=[Subprotocol(s) for s in classes],
                                reuse_port=True, backlog=4096):
        control.send("listening", pid=os.getpid(), port=args.port)
        while True:
            command = await control.receive()
            cmd = command.get("cmd")
            if cmd == "tune_gc":
                tune_gc()
            elif cmd == "stats":
                received = sum((Counter(c.received) for c in classes.values()), Counter())
                control.send("stats", messages=dict(received), violations=0, connected=connected)
            elif cmd == "exit":
                child_exit()


def _run_stations(args: argparse.Namespace) -> None:
    asyncio.run(_stations_main(args))


def _run_csms(args: argparse.Namespace) -> None:
    asyncio.run(_csms_main(args))


if __name__ == "__main__":
    sys.exit(child_main(None, _run_stations, _run_csms))
