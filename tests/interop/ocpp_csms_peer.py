# mypy: disable-error-code="untyped-decorator,misc"
"""A CSMS built on the ``ocpp`` package (asyncio + websockets), the peer of fleet's Station.

Run: ``python ocpp_csms_peer.py [--heartbeat 1] [--boot Pending,Accepted] [--boot-retry 1]``.
It listens on 127.0.0.1, port chosen by the OS, path ``/ocpp/<stationId>``,
subprotocol ``ocpp2.0.1`` (``OCPP_PEER_VERSION``: see :mod:`peer_common`), prints ``{"event": "listening", "port": N}`` and then
the JSON-line events of :mod:`peer_common`; commands on stdin name the station
(``"station_id"``). Answers:

* BootNotification: the ``--boot`` statuses in turn per station (the last one repeats);
  ``--naive-time`` gives ``currentTime`` without a UTC offset (not RFC 3339, but what
  the ``ocpp`` package's README example sends);
* Authorize / TransactionEvent with an idToken: ``Invalid`` for tokens starting
  with ``BAD``, else ``Accepted``;
* DataTransfer: ``Accepted``; every notification: its (empty) response.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
from typing import Any

import websockets
from ocpp.routing import on
from peer_common import SUBPROTOCOL, RecordingChargePoint, call_result, emit, now, read_commands
from websockets.typing import Subprotocol


def make_csms_side(args: argparse.Namespace, boots: dict[str, int]) -> type[RecordingChargePoint]:
    statuses = [s.strip() for s in args.boot.split(",") if s.strip()]

    def token_status(id_token: dict[str, Any]) -> str:
        return "Invalid" if id_token.get("id_token", "").startswith("BAD") else "Accepted"

    class CsmsSide(RecordingChargePoint):
        @on("BootNotification")
        def on_boot_notification(self, charging_station: Any, reason: str, **kwargs: Any) -> Any:
            n = boots.get(self.id, 0)
            boots[self.id] = n + 1
            status = statuses[min(n, len(statuses) - 1)]
            interval = args.heartbeat if status == "Accepted" else args.boot_retry
            current_time = datetime.datetime.now().isoformat() if args.naive_time else now()
            return call_result.BootNotification(current_time=current_time, interval=interval, status=status)

        @on("Heartbeat")
        def on_heartbeat(self, **kwargs: Any) -> Any:
            return call_result.Heartbeat(current_time=now())

        @on("StatusNotification")
        def on_status_notification(self, **kwargs: Any) -> Any:
            return call_result.StatusNotification()

        @on("Authorize")
        def on_authorize(self, id_token: dict[str, Any], **kwargs: Any) -> Any:
            return call_result.Authorize(id_token_info={"status": token_status(id_token)})

        @on("TransactionEvent")
        def on_transaction_event(self, id_token: dict[str, Any] | None = None, **kwargs: Any) -> Any:
            if id_token is None:
                return call_result.TransactionEvent()
            return call_result.TransactionEvent(id_token_info={"status": token_status(id_token)})

        @on("MeterValues")
        def on_meter_values(self, **kwargs: Any) -> Any:
            return call_result.MeterValues()

        @on("NotifyReport")
        def on_notify_report(self, **kwargs: Any) -> Any:
            return call_result.NotifyReport()

        @on("NotifyEvent")
        def on_notify_event(self, **kwargs: Any) -> Any:
            return call_result.NotifyEvent()

        @on("SecurityEventNotification")
        def on_security_event(self, **kwargs: Any) -> Any:
            return call_result.SecurityEventNotification()

        @on("FirmwareStatusNotification")
        def on_firmware_status(self, **kwargs: Any) -> Any:
            return call_result.FirmwareStatusNotification()

        @on("LogStatusNotification")
        def on_log_status(self, **kwargs: Any) -> Any:
            return call_result.LogStatusNotification()

        @on("NotifyMonitoringReport")
        def on_notify_monitoring_report(self, **kwargs: Any) -> Any:
            return call_result.NotifyMonitoringReport()

        @on("DataTransfer")
        def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> Any:
            return call_result.DataTransfer(status="Accepted")

    return CsmsSide


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--heartbeat", type=int, default=300)
    parser.add_argument("--boot", default="Accepted")
    parser.add_argument("--boot-retry", type=int, default=1)
    parser.add_argument("--naive-time", action="store_true",
                        help="answer BootNotification with a local time without offset (as the ocpp README does)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    boots: dict[str, int] = {}
    stations: dict[str, RecordingChargePoint] = {}
    csms_side = make_csms_side(args, boots)

    async def on_connect(websocket: Any) -> None:
        path = websocket.request.path
        station_id = path.rstrip("/").rsplit("/", 1)[-1]
        emit(
            event="connected",
            station_id=station_id,
            path=path,
            subprotocol=websocket.subprotocol,
            authorization=websocket.request.headers.get("Authorization"),
        )
        station = csms_side(station_id, websocket, response_timeout=10)
        stations[station_id] = station
        try:
            await station.start()
        except websockets.ConnectionClosed as exc:
            emit(event="disconnected", station_id=station_id, code=exc.rcvd.code if exc.rcvd else None)
        finally:
            if stations.get(station_id) is station:
                del stations[station_id]

    async def run(command: dict[str, Any]) -> None:
        station = stations.get(command.get("station_id", ""))
        if station is None:
            emit(event="result", id=command["id"], ok=False, error="NotConnected")
            return
        await station.execute(command)

    async with websockets.serve(on_connect, "127.0.0.1", 0, subprotocols=[Subprotocol(SUBPROTOCOL)]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        emit(event="listening", port=port)
        await read_commands(run)


if __name__ == "__main__":
    asyncio.run(main())
