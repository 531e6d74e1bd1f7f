# mypy: disable-error-code="untyped-decorator,misc"
"""An OCPP 1.6 central system built on the ``ocpp`` package (asyncio + websockets), the
peer of fleet's 1.6 Station (the 1.6 sibling of ``ocpp_csms_peer.py``).

Run: ``python ocpp16_csms_peer.py [--heartbeat 1] [--boot Pending,Accepted] [--boot-retry 1]``.
It listens on 127.0.0.1, port chosen by the OS, path ``/ocpp/<stationId>``,
subprotocol ``ocpp1.6``, prints ``{"event": "listening", "port": N}`` and then the
JSON-line events of :mod:`peer_common` (frames checked against the official 1.6
schemas); commands on stdin name the station. Answers:

* BootNotification: the ``--boot`` statuses in turn per station (the last one repeats);
* Authorize / StartTransaction: ``Invalid`` for idTags starting with ``BAD``, else
  ``Accepted``; StartTransaction assigns transaction ids 1001, 1002, ... (per peer);
* every other station-initiated action: its (empty or minimal) response;
* ``--refuse StopTransaction=2`` (or StartTransaction): the first 2 such CALLs of each
  station are answered with the CALLERROR InternalError.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
from typing import Any

import websockets
from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v16 import call_result
from peer_common import RecordingChargePoint16 as Recording16
from peer_common import emit, now, read_commands
from websockets.typing import Subprotocol


def make_csms_side(args: argparse.Namespace, boots: dict[str, int]) -> type[Recording16]:
    statuses = [s.strip() for s in args.boot.split(",") if s.strip()]
    transaction_ids = itertools.count(1001)
    refuse_action, _, refuse_count = args.refuse.partition("=")
    refused: dict[tuple[str, str], int] = {}

    def refuse(station_id: str, action: str) -> None:
        """Raise the CALLERROR ``--refuse`` asks for."""
        if action == refuse_action and refused.get((station_id, action), 0) < int(refuse_count or 0):
            refused[(station_id, action)] = refused.get((station_id, action), 0) + 1
            raise InternalError(description=f"{action} refused for the test")

    def tag_info(id_tag: str) -> dict[str, str]:
        return {"status": "Invalid" if id_tag.startswith("BAD") else "Accepted"}

    class CsmsSide(Recording16):
        @on("BootNotification")
        def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any) -> Any:
            n = boots.get(self.id, 0)
            boots[self.id] = n + 1
            status = statuses[min(n, len(statuses) - 1)]
            interval = args.heartbeat if status == "Accepted" else args.boot_retry
            return call_result.BootNotification(current_time=now(), interval=interval, status=status)

        @on("Heartbeat")
        def on_heartbeat(self, **kwargs: Any) -> Any:
            return call_result.Heartbeat(current_time=now())

        @on("StatusNotification")
        def on_status_notification(self, **kwargs: Any) -> Any:
            return call_result.StatusNotification()

        @on("Authorize")
        def on_authorize(self, id_tag: str, **kwargs: Any) -> Any:
            return call_result.Authorize(id_tag_info=tag_info(id_tag))

        @on("StartTransaction")
        def on_start_transaction(self, id_tag: str, **kwargs: Any) -> Any:
            refuse(self.id, "StartTransaction")
            return call_result.StartTransaction(transaction_id=next(transaction_ids), id_tag_info=tag_info(id_tag))

        @on("StopTransaction")
        def on_stop_transaction(self, **kwargs: Any) -> Any:
            refuse(self.id, "StopTransaction")
            return call_result.StopTransaction()

        @on("MeterValues")
        def on_meter_values(self, **kwargs: Any) -> Any:
            return call_result.MeterValues()

        @on("DataTransfer")
        def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> Any:
            return call_result.DataTransfer(status="Accepted")

        @on("DiagnosticsStatusNotification")
        def on_diagnostics_status(self, **kwargs: Any) -> Any:
            return call_result.DiagnosticsStatusNotification()

        @on("FirmwareStatusNotification")
        def on_firmware_status(self, **kwargs: Any) -> Any:
            return call_result.FirmwareStatusNotification()

        @on("SecurityEventNotification")
        def on_security_event(self, **kwargs: Any) -> Any:
            return call_result.SecurityEventNotification()

        @on("SignCertificate")
        def on_sign_certificate(self, csr: str, **kwargs: Any) -> Any:
            return call_result.SignCertificate(status="Accepted")

        @on("LogStatusNotification")
        def on_log_status(self, **kwargs: Any) -> Any:
            return call_result.LogStatusNotification()

        @on("SignedFirmwareStatusNotification")
        def on_signed_firmware_status(self, **kwargs: Any) -> Any:
            return call_result.SignedFirmwareStatusNotification()

    return CsmsSide


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--heartbeat", type=int, default=300)
    parser.add_argument("--boot", default="Accepted")
    parser.add_argument("--boot-retry", type=int, default=1)
    parser.add_argument("--refuse", default="", help="ACTION=N: answer its first N CALLs with a CALLERROR")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    boots: dict[str, int] = {}
    stations: dict[str, Recording16] = {}
    csms_side = make_csms_side(args, boots)

    async def on_connect(websocket: Any) -> None:
        path = websocket.request.path
        station_id = path.rstrip("/").rsplit("/", 1)[-1]
        emit(event="connected", station_id=station_id, path=path, subprotocol=websocket.subprotocol,
             authorization=websocket.request.headers.get("Authorization"))
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

    async with websockets.serve(on_connect, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        emit(event="listening", port=port)
        await read_commands(run)


if __name__ == "__main__":
    asyncio.run(main())
