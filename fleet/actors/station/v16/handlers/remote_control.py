"""RemoteStartTransaction, RemoteStopTransaction, UnlockConnector and TriggerMessage
(1.6 Core 5.11, 5.12, 5.17; Remote Trigger 5.17)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Final

from msgspec import UNSET

from .....ocpp.v16 import (
    DiagnosticsStatus,
    DiagnosticsStatusNotificationRequest,
    FirmwareStatus,
    FirmwareStatusNotificationRequest,
    MessageTrigger,
    ReadingContext,
    Reason,
    RemoteStartStopStatus,
    RemoteStartTransactionRequest,
    RemoteStartTransactionResponse,
    RemoteStopTransactionRequest,
    RemoteStopTransactionResponse,
    TriggerMessageRequest,
    TriggerMessageResponse,
    TriggerMessageStatus,
    UnlockConnectorRequest,
    UnlockConnectorResponse,
    UnlockStatus,
)

if TYPE_CHECKING:
    from ..dialect import V16Dialect

__all__ = ["remote_start_transaction", "remote_stop_transaction", "trigger_message", "unlock_connector"]

#: firmware statuses a triggered FirmwareStatusNotification reports (else Idle)
_FIRMWARE_BUSY: Final = frozenset({FirmwareStatus.DOWNLOADING, FirmwareStatus.DOWNLOADED, FirmwareStatus.INSTALLING})


def remote_start_transaction(st: V16Dialect, request: RemoteStartTransactionRequest) -> RemoteStartTransactionResponse:
    """Accepted when the connector (or, none named, the first with a vehicle waiting, else
    the first free one) can start a transaction for the idTag."""
    rejected = RemoteStartTransactionResponse(status=RemoteStartStopStatus.REJECTED)
    if request.connector_id is not UNSET:
        target = st.connectors.get(request.connector_id)
    else:
        candidates = [(n, e, c) for n, e, c in st.connectors.all() if e.plugged == c.connector_id and e.tx is None]
        candidates = candidates or [(n, e, c) for n, e, c in st.connectors.all() if e.free and c.operative]
        target = (candidates[0][1], candidates[0][2]) if candidates else None
    if target is None:
        return rejected
    evse, connector = target
    if evse.tx is not None or evse.authorized is not None or connector.faulted:
        return rejected
    if not (connector.operative and evse.operative and st.station.station_operative()):
        return rejected
    if evse.plugged is not None and evse.plugged != connector.connector_id:
        return rejected
    if evse.reservation is not None and evse.reservation.id_token.id_token != request.id_tag:
        return rejected
    st.station.defer(functools.partial(st.remote_start, evse, request.id_tag))
    return RemoteStartTransactionResponse(status=RemoteStartStopStatus.ACCEPTED)


def remote_stop_transaction(st: V16Dialect, request: RemoteStopTransactionRequest) -> RemoteStopTransactionResponse:
    evse = st.evse_of_transaction(request.transaction_id)
    if evse is None:
        return RemoteStopTransactionResponse(status=RemoteStartStopStatus.REJECTED)
    st.station.defer(functools.partial(st.stop_transaction, evse, Reason.REMOTE))
    return RemoteStopTransactionResponse(status=RemoteStartStopStatus.ACCEPTED)


def unlock_connector(st: V16Dialect, request: UnlockConnectorRequest) -> UnlockConnectorResponse:
    """Unlocked (a transaction on the connector stops first, reason UnlockCommand);
    NotSupported for a connector the station does not have."""
    target = st.connectors.get(request.connector_id)
    if target is None:
        return UnlockConnectorResponse(status=UnlockStatus.NOT_SUPPORTED)
    evse, connector = target
    if evse.tx is not None and evse.plugged in (connector.connector_id, None):
        st.station.defer(functools.partial(st.stop_transaction, evse, Reason.UNLOCK_COMMAND))
    return UnlockConnectorResponse(status=UnlockStatus.UNLOCKED)


def trigger_message(st: V16Dialect, request: TriggerMessageRequest) -> TriggerMessageResponse:
    """Accepted, and the message is queued behind the answer; Rejected for an unknown connector."""
    connector_id = request.connector_id if request.connector_id is not UNSET else None
    if connector_id not in (None, 0) and st.connectors.get(connector_id) is None:
        return TriggerMessageResponse(status=TriggerMessageStatus.REJECTED)
    station = st.station
    match request.requested_message:
        case MessageTrigger.BOOT_NOTIFICATION:
            if station.booted:
                station.send(st.boot_request(None), followup=True)
            else:
                station.trigger_boot()
        case MessageTrigger.HEARTBEAT:
            station.send_heartbeat()
        case MessageTrigger.STATUS_NOTIFICATION:
            for n in [connector_id] if connector_id is not None else range(len(st.connectors) + 1):
                st.send_status(n)
        case MessageTrigger.METER_VALUES:
            measurands = st.model.get_list("MeterValuesSampledData")
            evses = [t[0] for t in [st.connectors.get(connector_id)] if t is not None] if connector_id else \
                station.evses
            for evse in evses:
                st.meter_values(evse, measurands, ReadingContext.TRIGGER, followup=True)
        case MessageTrigger.DIAGNOSTICS_STATUS_NOTIFICATION:
            uploading = st.diagnostics_status == DiagnosticsStatus.UPLOADING  # else Idle (1.6, 4.4)
            station.send(DiagnosticsStatusNotificationRequest(
                status=DiagnosticsStatus.UPLOADING if uploading else DiagnosticsStatus.IDLE), followup=True)
        case MessageTrigger.FIRMWARE_STATUS_NOTIFICATION:
            busy = st.firmware_status in _FIRMWARE_BUSY  # else Idle (1.6, 4.5)
            station.send(FirmwareStatusNotificationRequest(
                status=st.firmware_status if busy else FirmwareStatus.IDLE), followup=True)
        case _:
            return TriggerMessageResponse(status=TriggerMessageStatus.NOT_IMPLEMENTED)
    station.wake()
    return TriggerMessageResponse(status=TriggerMessageStatus.ACCEPTED)

