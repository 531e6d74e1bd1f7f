# mypy: disable-error-code="untyped-decorator,misc"
"""A charging station built on the ``ocpp`` package (asyncio + websockets), the peer of fleet's CSMS.

Run: ``python ocpp_station_peer.py <csms url> <station id> [--password P] [--ocpp-version 1.6]``.
It connects to ``<csms url>/<station id>`` offering ``ocpp2.0.1`` (``ocpp2.1`` with ``OCPP_PEER_VERSION=2.1``:
see :mod:`peer_common`; ``ocpp1.6`` with ``--ocpp-version 1.6``; with HTTP Basic auth when a password is
given), prints ``{"event": "connected", "subprotocol": ...}``
(or ``{"event": "refused", "status": 401}``), then the JSON-line events of
:mod:`peer_common`; it sends the CALLs the test writes on stdin.

It answers the CSMS's requests from a small device model, and after answering
some of them does what a station does next (in the background):

* TriggerMessage: sends the requested Heartbeat / StatusNotification / BootNotification;
* RequestStartTransaction: TransactionEvent Started (RemoteStart, with the remoteStartId);
* RequestStopTransaction: TransactionEvent Ended (RemoteStop, stoppedReason Remote);
* ChangeAvailability: StatusNotification Unavailable or Available;
* GetBaseReport: two NotifyReport parts (``tbc`` on the first).

As an OCPP 1.6 charge point (:class:`StationSide16`) it answers from a few configuration
keys, and after answering:

* TriggerMessage: sends the requested Heartbeat / StatusNotification / BootNotification;
* RemoteStartTransaction: StartTransaction (meterStart 0) on the connector asked for (1 by default);
* RemoteStopTransaction: StopTransaction (reason Remote, meterStop 1000) of a transaction it started;
* ChangeAvailability: StatusNotification Unavailable or Available.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import logging
from typing import Any

import websockets
from ocpp.routing import after, on
from ocpp.v16 import call_result as call_result16
from peer_common import (
    SUBPROTOCOL,
    RecordingChargePoint,
    RecordingChargePoint16,
    call_result,
    emit,
    now,
    read_commands,
)
from websockets.typing import Subprotocol

VARIABLES: dict[tuple[str, str], str] = {
    ("OCPPCommCtrlr", "HeartbeatInterval"): "300",
    ("OCPPCommCtrlr", "RetryBackOffWaitMinimum"): "5",
    ("SecurityCtrlr", "Identity"): "",
    ("AuthCtrlr", "Enabled"): "true",
}
BOOT = {"chargingStation": {"model": "PeerModel", "vendorName": "ocpp-package"}, "reason": "Triggered"}


class StationSide(RecordingChargePoint):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        VARIABLES[("SecurityCtrlr", "Identity")] = self.id
        self.seq = itertools.count(100)
        self.transactions: set[str] = set()

    # ------------------------------------------------------------ device model

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **kwargs: Any) -> Any:
        results = []
        for data in get_variable_data:
            component, variable = data["component"], data["variable"]
            result: dict[str, Any] = {"component": component, "variable": variable}
            value = VARIABLES.get((component["name"], variable["name"]))
            if value is None:
                known = any(c == component["name"] for c, _ in VARIABLES)
                result["attribute_status"] = "UnknownVariable" if known else "UnknownComponent"
            else:
                result["attribute_status"] = "Accepted"
                result["attribute_value"] = value
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on("SetVariables")
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **kwargs: Any) -> Any:
        results = []
        for data in set_variable_data:
            component, variable = data["component"], data["variable"]
            name = (component["name"], variable["name"])
            if name in VARIABLES:
                VARIABLES[name] = data["attribute_value"]
                status = "Accepted"
            else:
                status = "UnknownVariable"
            results.append({"attribute_status": status, "component": component, "variable": variable})
        return call_result.SetVariables(set_variable_result=results)

    @on("GetBaseReport")
    def on_get_base_report(self, request_id: int, report_base: str, **kwargs: Any) -> Any:
        return call_result.GetBaseReport(status="Accepted")

    @after("GetBaseReport")
    def after_get_base_report(self, request_id: int, report_base: str, **kwargs: Any) -> None:
        items = [
            {
                "component": {"name": component},
                "variable": {"name": variable},
                "variable_attribute": [{"type": "Actual", "value": value, "mutability": "ReadWrite"}],
            }
            for (component, variable), value in VARIABLES.items()
        ]
        self.send_soon("NotifyReport", {"request_id": request_id, "generated_at": now(), "seq_no": 0,
                                        "tbc": True, "report_data": items[:2]})
        self.send_soon("NotifyReport", {"request_id": request_id, "generated_at": now(), "seq_no": 1,
                                        "report_data": items[2:]})

    # ------------------------------------------------------------- provisioning

    @on("Reset")
    def on_reset(self, type: str, **kwargs: Any) -> Any:
        return call_result.Reset(status="Accepted")

    @on("TriggerMessage")
    def on_trigger_message(self, requested_message: str, **kwargs: Any) -> Any:
        status = "Accepted" if requested_message in ("Heartbeat", "StatusNotification", "BootNotification") else "NotImplemented"
        return call_result.TriggerMessage(status=status)

    @after("TriggerMessage")
    def after_trigger_message(self, requested_message: str, **kwargs: Any) -> None:
        if requested_message == "Heartbeat":
            self.send_soon("Heartbeat", {})
        elif requested_message == "StatusNotification":
            self.send_soon("StatusNotification", {"timestamp": now(), "connector_status": "Available",
                                                  "evse_id": 1, "connector_id": 1})
        elif requested_message == "BootNotification":
            self.send_soon("BootNotification", BOOT)

    @on("ChangeAvailability")
    def on_change_availability(self, operational_status: str, **kwargs: Any) -> Any:
        return call_result.ChangeAvailability(status="Accepted")

    @after("ChangeAvailability")
    def after_change_availability(self, operational_status: str, evse: dict[str, Any] | None = None,
                                  **kwargs: Any) -> None:
        status = "Available" if operational_status == "Operative" else "Unavailable"
        self.send_soon("StatusNotification", {"timestamp": now(), "connector_status": status,
                                              "evse_id": (evse or {}).get("id", 1), "connector_id": 1})

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, message_id: str | None = None, data: Any = None,
                         **kwargs: Any) -> Any:
        if vendor_id != "fleet-interop":
            return call_result.DataTransfer(status="UnknownVendorId")
        return call_result.DataTransfer(status="Accepted", data={"echo": data, "messageId": message_id})

    @on("ClearCache")
    def on_clear_cache(self, **kwargs: Any) -> Any:
        return call_result.ClearCache(status="Accepted")

    # ------------------------------------------------------------- transactions

    @on("RequestStartTransaction")
    def on_request_start(self, id_token: dict[str, Any], remote_start_id: int, **kwargs: Any) -> Any:
        return call_result.RequestStartTransaction(status="Accepted")

    @after("RequestStartTransaction")
    def after_request_start(self, id_token: dict[str, Any], remote_start_id: int, evse_id: int = 1,
                            **kwargs: Any) -> None:
        transaction_id = f"REMOTE-{remote_start_id}"
        self.transactions.add(transaction_id)
        self.send_soon("TransactionEvent", {
            "event_type": "Started", "timestamp": now(), "trigger_reason": "RemoteStart", "seq_no": next(self.seq),
            "transaction_info": {"transaction_id": transaction_id, "remote_start_id": remote_start_id,
                                 "charging_state": "Charging"},
            "evse": {"id": evse_id, "connector_id": 1}, "id_token": id_token,
        })

    @on("RequestStopTransaction")
    def on_request_stop(self, transaction_id: str, **kwargs: Any) -> Any:
        return call_result.RequestStopTransaction(
            status="Accepted" if transaction_id in self.transactions else "Rejected"
        )

    @after("RequestStopTransaction")
    def after_request_stop(self, transaction_id: str, **kwargs: Any) -> None:
        if transaction_id in self.transactions:
            self.transactions.discard(transaction_id)
            self.send_soon("TransactionEvent", {
                "event_type": "Ended", "timestamp": now(), "trigger_reason": "RemoteStop", "seq_no": next(self.seq),
                "transaction_info": {"transaction_id": transaction_id, "stopped_reason": "Remote"},
            })


class StationSide16(RecordingChargePoint16):
    """An OCPP 1.6 charge point with one connector."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration = {"HeartbeatInterval": "300", "MeterValueSampleInterval": "60",
                              "NumberOfConnectors": "1"}
        self.transactions: set[int] = set()

    @on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None, **kwargs: Any) -> Any:
        names = key if key else list(self.configuration)
        known = [{"key": name, "readonly": name == "NumberOfConnectors", "value": self.configuration[name]}
                 for name in names if name in self.configuration]
        unknown = [name for name in names if name not in self.configuration]
        return call_result16.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str, **kwargs: Any) -> Any:
        if key not in self.configuration:
            return call_result16.ChangeConfiguration(status="NotSupported")
        if key == "NumberOfConnectors":
            return call_result16.ChangeConfiguration(status="Rejected")
        self.configuration[key] = value
        return call_result16.ChangeConfiguration(status="Accepted")

    @on("Reset")
    def on_reset(self, type: str, **kwargs: Any) -> Any:
        return call_result16.Reset(status="Accepted")

    @on("ClearCache")
    def on_clear_cache(self, **kwargs: Any) -> Any:
        return call_result16.ClearCache(status="Accepted")

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, message_id: str | None = None, data: Any = None,
                         **kwargs: Any) -> Any:
        if vendor_id != "fleet-interop":
            return call_result16.DataTransfer(status="UnknownVendorId")
        return call_result16.DataTransfer(status="Accepted", data=f"echo:{message_id}:{data}")

    @on("TriggerMessage")
    def on_trigger_message(self, requested_message: str, **kwargs: Any) -> Any:
        known = ("Heartbeat", "StatusNotification", "BootNotification")
        return call_result16.TriggerMessage(status="Accepted" if requested_message in known else "NotImplemented")

    @after("TriggerMessage")
    def after_trigger_message(self, requested_message: str, connector_id: int | None = None,
                              **kwargs: Any) -> None:
        if requested_message == "Heartbeat":
            self.send_soon("Heartbeat", {})
        elif requested_message == "StatusNotification":
            self.send_soon("StatusNotification", {"connectorId": connector_id or 1, "errorCode": "NoError",
                                                  "status": "Available", "timestamp": now()})
        elif requested_message == "BootNotification":
            self.send_soon("BootNotification", {"chargePointVendor": "ocpp-package", "chargePointModel": "Peer16"})

    @on("ChangeAvailability")
    def on_change_availability(self, connector_id: int, type: str, **kwargs: Any) -> Any:
        return call_result16.ChangeAvailability(status="Accepted")

    @after("ChangeAvailability")
    def after_change_availability(self, connector_id: int, type: str, **kwargs: Any) -> None:
        status = "Available" if type == "Operative" else "Unavailable"
        self.send_soon("StatusNotification", {"connectorId": connector_id, "errorCode": "NoError", "status": status,
                                              "timestamp": now()})

    @on("RemoteStartTransaction")
    def on_remote_start(self, id_tag: str, **kwargs: Any) -> Any:
        return call_result16.RemoteStartTransaction(status="Accepted")

    @after("RemoteStartTransaction")
    def after_remote_start(self, id_tag: str, connector_id: int = 1, **kwargs: Any) -> None:
        self.send_soon("StartTransaction", {"connectorId": connector_id, "idTag": id_tag, "meterStart": 0,
                                            "timestamp": now()},
                       then=lambda answer: self.transactions.add(answer.transaction_id))

    @on("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id: int, **kwargs: Any) -> Any:
        return call_result16.RemoteStopTransaction(
            status="Accepted" if transaction_id in self.transactions else "Rejected")

    @after("RemoteStopTransaction")
    def after_remote_stop(self, transaction_id: int, **kwargs: Any) -> None:
        if transaction_id in self.transactions:
            self.transactions.discard(transaction_id)
            self.send_soon("StopTransaction", {"transactionId": transaction_id, "meterStop": 1000,
                                               "timestamp": now(), "reason": "Remote"})


#: The peer's class and subprotocol, by OCPP version.
SIDES: dict[str, tuple[type[RecordingChargePoint], str]] = {
    "2.0.1": (StationSide, SUBPROTOCOL),  # (2.1 with OCPP_PEER_VERSION=2.1)
    "1.6": (StationSide16, "ocpp1.6"),
}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("station_id")
    parser.add_argument("--password")
    parser.add_argument("--ocpp-version", choices=list(SIDES), default="2.0.1")
    args = parser.parse_args()
    side, subprotocol = SIDES[args.ocpp_version]
    logging.basicConfig(level=logging.ERROR)
    headers = {}
    if args.password:
        token = base64.b64encode(f"{args.station_id}:{args.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    try:
        async with websockets.connect(
            f"{args.url}/{args.station_id}", subprotocols=[Subprotocol(subprotocol)], additional_headers=headers,
            open_timeout=5,
        ) as websocket:
            emit(event="connected", subprotocol=websocket.subprotocol)
            station = side(args.station_id, websocket, response_timeout=10)
            reader = asyncio.ensure_future(station.start())
            commands = asyncio.ensure_future(read_commands(station.execute))
            done, _ = await asyncio.wait({reader, commands}, return_when=asyncio.FIRST_COMPLETED)
            for task in (reader, commands):
                task.cancel()
            if reader in done and isinstance(reader.exception(), websockets.ConnectionClosed):
                closed = reader.exception()
                emit(event="disconnected", code=closed.rcvd.code if closed.rcvd else None)
    except websockets.InvalidStatus as exc:
        emit(event="refused", status=exc.response.status_code)


if __name__ == "__main__":
    asyncio.run(main())
