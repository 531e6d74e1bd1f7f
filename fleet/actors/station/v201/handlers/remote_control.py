"""OCPP 2.0.1, block F Remote control: TriggerMessage, UnlockConnector,
RequestStart/StopTransaction.

Each handler is ``handler(dialect, request) -> response`` (see :mod:`fleet.actors.station.v201.handlers`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from .....ocpp.v201 import (
    CertificateSigningUse,
    ChargingProfilePurpose,
    ChargingProfileStatus,
    FirmwareStatus,
    MessageTrigger,
    ReadingContext,
    Reason,
    RequestStartStopStatus,
    RequestStartTransactionRequest,
    RequestStartTransactionResponse,
    RequestStopTransactionRequest,
    RequestStopTransactionResponse,
    TriggerMessageRequest,
    TriggerMessageResponse,
    TriggerMessageStatus,
    TriggerReason,
    UnlockConnectorRequest,
    UnlockConnectorResponse,
    UnlockStatus,
    UploadLogStatus,
)
from ...hardware import EvseState
from .common import _info, _now
from .security import _fake_csr

if TYPE_CHECKING:
    from ..dialect import V201Dialect

__all__ = ["request_start_transaction", "request_stop_transaction", "trigger_message", "unlock_connector"]


def _trigger_status(st: V201Dialect, evse: EvseState, connector_id: int | None) -> None:
    for connector in evse.connectors:
        if connector_id is None or connector.connector_id == connector_id:
            st.send_status(evse, connector, followup=True)


def trigger_message(st: V201Dialect, request: TriggerMessageRequest) -> TriggerMessageResponse:
    accepted = st.messages.TriggerMessageResponse(status=TriggerMessageStatus.ACCEPTED)
    rejected = st.messages.TriggerMessageResponse(status=TriggerMessageStatus.REJECTED)
    evse: EvseState | None = None
    connector_id: int | None = None
    if request.evse is not UNSET and request.evse.id != 0:
        evse = st.station.evse_by_id(request.evse.id)
        if evse is None:
            return st.messages.TriggerMessageResponse(status=TriggerMessageStatus.REJECTED, status_info=_info("UnknownEvse"))
        if request.evse.connector_id is not UNSET:
            connector_id = request.evse.connector_id
            if evse.connector(connector_id) is None:
                return st.messages.TriggerMessageResponse(status=TriggerMessageStatus.REJECTED,
                                              status_info=_info("UnknownConnector"))
    evses = [evse] if evse is not None else st.station.evses
    match request.requested_message:
        case MessageTrigger.BOOT_NOTIFICATION:
            if st.station.online():
                return rejected
            st.station.defer(st.station.trigger_boot)
            return accepted
        case MessageTrigger.HEARTBEAT:
            st.station.send_heartbeat(followup=True)
            return accepted
        case MessageTrigger.STATUS_NOTIFICATION:
            for e in evses:
                _trigger_status(st, e, connector_id)
            return accepted
        case MessageTrigger.METER_VALUES:
            measurands = st.model.get_list("AlignedDataCtrlr", "Measurands")
            for e in evses:
                st.meter_values(e, ReadingContext.TRIGGER, measurands, followup=True)
            return accepted
        case MessageTrigger.TRANSACTION_EVENT:
            running = [e for e in evses if e.tx is not None]
            if not running:
                return rejected
            measurands = st.model.get_list("SampledDataCtrlr", "TxUpdatedMeasurands")

            def triggered() -> None:
                for e in running:
                    st.meter_event(e, TriggerReason.TRIGGER, ReadingContext.TRIGGER, measurands)

            st.station.defer(triggered)
            return accepted
        case MessageTrigger.FIRMWARE_STATUS_NOTIFICATION:
            fields: dict[str, Any] = {"status": st.firmware_status}
            if st.firmware_status != FirmwareStatus.IDLE and st.firmware_request_id is not None:
                fields["request_id"] = st.firmware_request_id
            st.station.send(st.messages.FirmwareStatusNotificationRequest(**fields), followup=True)
            return accepted
        case MessageTrigger.LOG_STATUS_NOTIFICATION:
            log_fields: dict[str, Any] = {"status": st.log_status}
            if st.log_status != UploadLogStatus.IDLE and st.log_request_id is not None:
                log_fields["request_id"] = st.log_request_id
            st.station.send(st.messages.LogStatusNotificationRequest(**log_fields), followup=True)
            return accepted
        case MessageTrigger.SIGN_CHARGING_STATION_CERTIFICATE:
            st.station.send(st.messages.SignCertificateRequest(csr=_fake_csr(st.station.station_id),
                                           certificate_type=CertificateSigningUse.CHARGING_STATION_CERTIFICATE),
                    followup=True)
            return accepted
        case _:
            # SignV2GCertificate, SignCombinedCertificate (no ISO 15118),
            # PublishFirmwareStatusNotification (not a local controller)
            return st.messages.TriggerMessageResponse(status=TriggerMessageStatus.NOT_IMPLEMENTED)


def unlock_connector(st: V201Dialect, request: UnlockConnectorRequest) -> UnlockConnectorResponse:
    evse = st.station.evse_by_id(request.evse_id)
    if evse is None or evse.connector(request.connector_id) is None:
        return st.messages.UnlockConnectorResponse(status=UnlockStatus.UNKNOWN_CONNECTOR)
    if evse.tx is not None and evse.plugged == request.connector_id and evse.authorized is not None:
        return st.messages.UnlockConnectorResponse(status=UnlockStatus.ONGOING_AUTHORIZED_TRANSACTION)
    return st.messages.UnlockConnectorResponse(status=UnlockStatus.UNLOCKED)


def request_start_transaction(st: V201Dialect, request: RequestStartTransactionRequest) -> RequestStartTransactionResponse:
    rejected = st.messages.RequestStartTransactionResponse(status=RequestStartStopStatus.REJECTED)
    evse: EvseState | None
    if request.evse_id is not UNSET:
        evse = st.station.evse_by_id(request.evse_id)
    else:
        waiting = [e for e in st.station.evses if e.plugged is not None and e.authorized is None]
        free = [e for e in st.station.evses if e.free and e.operative]
        candidates = waiting or free
        evse = candidates[0] if candidates else None
    if evse is None:
        return rejected
    if not (evse.operative and st.station.station_operative()) or evse.authorized is not None:
        return rejected
    if any(c.faulted for c in evse.connectors):
        return rejected
    if evse.reservation is not None and not evse.reservation.admits(request.id_token):
        return rejected
    if request.charging_profile is not UNSET:
        profile = request.charging_profile
        if profile.charging_profile_purpose != ChargingProfilePurpose.TX_PROFILE:
            return st.messages.RequestStartTransactionResponse(status=RequestStartStopStatus.REJECTED,
                                                   status_info=_info("NotTxProfile"))
        if evse.tx is not None:
            status, _ = st.charging_profiles.install(
                evse.id, profile, _now(), evse_ids=[e.id for e in st.station.evses], transactions={evse.id: evse.tx.id}
            )
            if status != ChargingProfileStatus.ACCEPTED:
                return rejected
        else:
            evse.pending_tx_profile = profile
    group = request.group_id_token if request.group_id_token is not UNSET else None
    target = evse
    st.station.defer(lambda: st.remote_start(target, request.id_token, request.remote_start_id, group))
    if evse.tx is not None:
        return st.messages.RequestStartTransactionResponse(status=RequestStartStopStatus.ACCEPTED, transaction_id=evse.tx.id)
    return st.messages.RequestStartTransactionResponse(status=RequestStartStopStatus.ACCEPTED)


def request_stop_transaction(st: V201Dialect, request: RequestStopTransactionRequest) -> RequestStopTransactionResponse:
    for evse in st.station.evses:
        if evse.tx is not None and evse.tx.id == request.transaction_id:
            st.station.defer(functools.partial(st.stop_transaction_on, evse, TriggerReason.REMOTE_STOP, Reason.REMOTE))
            return st.messages.RequestStopTransactionResponse(status=RequestStartStopStatus.ACCEPTED)
    return st.messages.RequestStopTransactionResponse(status=RequestStartStopStatus.REJECTED, status_info=_info("UnknownTransaction"))
