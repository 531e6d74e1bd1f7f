"""RemoteStartTransaction, RemoteStopTransaction, UnlockConnector and TriggerMessage
(1.6 Core 5.11, 5.12, 5.17; Remote Trigger 5.17)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Final

from msgspec import UNSET

from .....ocpp.v16 import (
    ChargingProfilePurpose,
    DiagnosticsStatus,
    DiagnosticsStatusNotificationRequest,
    ExtendedMessageTrigger,
    FirmwareStatus,
    FirmwareStatusNotificationRequest,
    LogStatusNotificationRequest,
    MessageTrigger,
    ReadingContext,
    Reason,
    RemoteStartStopStatus,
    RemoteStartTransactionRequest,
    RemoteStartTransactionResponse,
    RemoteStopTransactionRequest,
    RemoteStopTransactionResponse,
    SignCertificateRequest,
    TriggerMessageRequest,
    TriggerMessageResponse,
    TriggerMessageStatus,
    UnlockConnectorRequest,
    UnlockConnectorResponse,
    UnlockStatus,
    UploadLogStatus,
)
from ..smart_charging import to_store

if TYPE_CHECKING:
    from ..dialect import V16Dialect

__all__ = ["remote_start_transaction", "remote_stop_transaction", "trigger", "trigger_message", "unlock_connector"]

#: firmware statuses a triggered FirmwareStatusNotification reports (else Idle)
_FIRMWARE_BUSY: Final = frozenset({FirmwareStatus.DOWNLOADING, FirmwareStatus.DOWNLOADED, FirmwareStatus.INSTALLING})


def remote_start_transaction(st: V16Dialect, request: RemoteStartTransactionRequest) -> RemoteStartTransactionResponse:
    """Accepted when the connector (or, none named, the first with a vehicle waiting, else
    the first free one) can start a transaction for the idTag."""
    rejected = RemoteStartTransactionResponse(status=RemoteStartStopStatus.REJECTED)
    if not st.station.online():
        return rejected  # Pending: not allowed before the CSMS accepted the boot (1.6, 4.2)
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
    if request.charging_profile is not UNSET:
        # a TxProfile for the transaction this starts (installed when it starts)
        if request.charging_profile.charging_profile_purpose != ChargingProfilePurpose.TX_PROFILE:
            return rejected
        evse.pending_tx_profile = to_store(request.charging_profile)
    st.station.defer(functools.partial(st.remote_start, evse, request.id_tag))
    return RemoteStartTransactionResponse(status=RemoteStartStopStatus.ACCEPTED)


def remote_stop_transaction(st: V16Dialect, request: RemoteStopTransactionRequest) -> RemoteStopTransactionResponse:
    evse = st.evse_of_transaction(request.transaction_id)
    if evse is None or not st.station.online():  # (not while Pending, 1.6 4.2)
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
    if not trigger(st, request.requested_message, connector_id):
        return TriggerMessageResponse(status=TriggerMessageStatus.NOT_IMPLEMENTED)
    return TriggerMessageResponse(status=TriggerMessageStatus.ACCEPTED)


def trigger(st: V16Dialect, message: str, connector_id: int | None) -> bool:
    """Queue the ``message`` TriggerMessage or ExtendedTriggerMessage asks for (of
    ``connector_id``, or of all connectors); False if the station cannot send it."""
    station = st.station
    match message:
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
            target = st.connectors.get(connector_id) if connector_id else None
            for evse in [target[0]] if target is not None else station.evses:
                st.meter_values(evse, measurands, ReadingContext.TRIGGER, followup=True)
        case MessageTrigger.DIAGNOSTICS_STATUS_NOTIFICATION:
            uploading = st.diagnostics_status == DiagnosticsStatus.UPLOADING  # else Idle (1.6, 4.4)
            station.send(DiagnosticsStatusNotificationRequest(
                status=DiagnosticsStatus.UPLOADING if uploading else DiagnosticsStatus.IDLE), followup=True)
        case MessageTrigger.FIRMWARE_STATUS_NOTIFICATION:
            busy = st.firmware_status in _FIRMWARE_BUSY  # else Idle (1.6, 4.5)
            station.send(FirmwareStatusNotificationRequest(
                status=FirmwareStatus(st.firmware_status) if busy else FirmwareStatus.IDLE), followup=True)
        case ExtendedMessageTrigger.LOG_STATUS_NOTIFICATION:
            uploading = st.log_status == UploadLogStatus.UPLOADING
            fields: dict[str, Any] = {"status": UploadLogStatus.UPLOADING if uploading else UploadLogStatus.IDLE}
            if uploading and st.log_request_id is not None:
                fields["request_id"] = st.log_request_id
            station.send(LogStatusNotificationRequest(**fields), followup=True)
        case ExtendedMessageTrigger.SIGN_CHARGE_POINT_CERTIFICATE:
            station.send(SignCertificateRequest(csr=st.certificate_request()), followup=True)
        case _:
            return False
    station.wake()
    return True
