"""The station's answers to every CSMS-to-station action of OCPP 2.0.1.

Each handler is a plain function ``handler(station, request) -> response``: it
runs synchronously in the connection's reader task (so the answer leaves at
once), may change the station's state, and queues what follows the answer
(NotifyReport parts, triggered messages, status notification sequences) or
defers it to the station's main loop (transactions, resets). A handler never
raises except with an :class:`~fleet.ocpp.OcppError` meant as the CALLERROR.

Simulated parts: certificates are stored as text (their hash data derived from
a SHA-256 of the PEM, not parsed X.509); firmware updates and log uploads run a
timed sequence of status notifications (a location containing ``fail`` makes the
download or upload fail); the CSR of SignCertificate is a placeholder.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from ....ocpp import ErrorCode, RemoteProtocolError
from ....ocpp.v201 import BootReason as _BootReason
from ....ocpp.v201 import (
    CancelReservationRequest,
    CancelReservationResponse,
    CancelReservationStatus,
    CertificateHashData,
    CertificateHashDataChain,
    CertificateSignedRequest,
    CertificateSignedResponse,
    CertificateSignedStatus,
    CertificateSigningUse,
    ChangeAvailabilityRequest,
    ChangeAvailabilityResponse,
    ChangeAvailabilityStatus,
    ChargingLimitSource,
    ChargingProfilePurpose,
    ChargingProfileStatus,
    ChargingRateUnit,
    ClearCacheRequest,
    ClearCacheResponse,
    ClearCacheStatus,
    ClearChargingProfileRequest,
    ClearChargingProfileResponse,
    ClearChargingProfileStatus,
    ClearDisplayMessageRequest,
    ClearDisplayMessageResponse,
    ClearMessageStatus,
    ClearMonitoringResult,
    ClearMonitoringStatus,
    ClearVariableMonitoringRequest,
    ClearVariableMonitoringResponse,
    ComponentVariable,
    CostUpdatedRequest,
    CostUpdatedResponse,
    CustomerInformationRequest,
    CustomerInformationResponse,
    CustomerInformationStatus,
    Data,
    DataTransferRequest,
    DataTransferResponse,
    DataTransferStatus,
    DeleteCertificateRequest,
    DeleteCertificateResponse,
    DeleteCertificateStatus,
    DisplayMessageStatus,
    FirmwareStatus,
    FirmwareStatusNotificationRequest,
    GenericDeviceModelStatus,
    GenericStatus,
    GetBaseReportRequest,
    GetBaseReportResponse,
    GetCertificateIdUse,
    GetChargingProfilesRequest,
    GetChargingProfilesResponse,
    GetChargingProfileStatus,
    GetCompositeScheduleRequest,
    GetCompositeScheduleResponse,
    GetDisplayMessagesRequest,
    GetDisplayMessagesResponse,
    GetDisplayMessagesStatus,
    GetInstalledCertificateIdsRequest,
    GetInstalledCertificateIdsResponse,
    GetInstalledCertificateStatus,
    GetLocalListVersionRequest,
    GetLocalListVersionResponse,
    GetLogRequest,
    GetLogResponse,
    GetMonitoringReportRequest,
    GetMonitoringReportResponse,
    GetReportRequest,
    GetReportResponse,
    GetTransactionStatusRequest,
    GetTransactionStatusResponse,
    GetVariablesRequest,
    GetVariablesResponse,
    HashAlgorithm,
    IdToken,
    InstallCertificateRequest,
    InstallCertificateResponse,
    InstallCertificateStatus,
    LogStatus,
    LogStatusNotificationRequest,
    MessageTrigger,
    Monitor,
    MonitoringBase,
    MonitoringCriterion,
    MonitoringData,
    NotifyCustomerInformationRequest,
    NotifyDisplayMessagesRequest,
    NotifyMonitoringReportRequest,
    NotifyReportRequest,
    OCPPTransport,
    OCPPVersion,
    OperationalStatus,
    PublishFirmwareRequest,
    PublishFirmwareResponse,
    ReadingContext,
    Reason,
    ReportChargingProfilesRequest,
    RequestStartStopStatus,
    RequestStartTransactionRequest,
    RequestStartTransactionResponse,
    RequestStopTransactionRequest,
    RequestStopTransactionResponse,
    ReservationStatusUpdateRequest,
    ReservationUpdateStatus,
    ReserveNowRequest,
    ReserveNowResponse,
    ReserveNowStatus,
    Reset,
    ResetRequest,
    ResetResponse,
    ResetStatus,
    SendLocalListRequest,
    SendLocalListResponse,
    SendLocalListStatus,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
    SetDisplayMessageRequest,
    SetDisplayMessageResponse,
    SetMonitoringBaseRequest,
    SetMonitoringBaseResponse,
    SetMonitoringLevelRequest,
    SetMonitoringLevelResponse,
    SetMonitoringResult,
    SetMonitoringStatus,
    SetNetworkProfileRequest,
    SetNetworkProfileResponse,
    SetNetworkProfileStatus,
    SetVariableMonitoringRequest,
    SetVariableMonitoringResponse,
    SetVariablesRequest,
    SetVariablesResponse,
    SignCertificateRequest,
    StatusInfo,
    TriggerMessageRequest,
    TriggerMessageResponse,
    TriggerMessageStatus,
    TriggerReason,
    UnlockConnectorRequest,
    UnlockConnectorResponse,
    UnlockStatus,
    UnpublishFirmwareRequest,
    UnpublishFirmwareResponse,
    UnpublishFirmwareStatus,
    Update,
    UpdateFirmwareRequest,
    UpdateFirmwareResponse,
    UpdateFirmwareStatus,
    UploadLogStatus,
    VariableMonitoring,
)
from ..hardware import EvseState, Reservation
from .device_model import VarDef, _lookup_key

if TYPE_CHECKING:
    from .dialect import V201Dialect

__all__ = ["CSMS_INITIATED", "HANDLERS", "STATION_INITIATED", "Handler"]

#: A default handler: ``handler(dialect, request) -> response``.
Handler = Callable[["V201Dialect", Any], Any]


#: Actions the CSMS sends to a station (DataTransfer goes both ways).
CSMS_INITIATED = frozenset({
    "CancelReservation", "CertificateSigned", "ChangeAvailability", "ClearCache", "ClearChargingProfile",
    "ClearDisplayMessage", "ClearVariableMonitoring", "CostUpdated", "CustomerInformation", "DataTransfer",
    "DeleteCertificate", "GetBaseReport", "GetChargingProfiles", "GetCompositeSchedule", "GetDisplayMessages",
    "GetInstalledCertificateIds", "GetLocalListVersion", "GetLog", "GetMonitoringReport", "GetReport",
    "GetTransactionStatus", "GetVariables", "InstallCertificate", "PublishFirmware", "RequestStartTransaction",
    "RequestStopTransaction", "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile", "SetDisplayMessage",
    "SetMonitoringBase", "SetMonitoringLevel", "SetNetworkProfile", "SetVariableMonitoring", "SetVariables",
    "TriggerMessage", "UnlockConnector", "UnpublishFirmware", "UpdateFirmware",
})
#: Actions a station sends to the CSMS.
STATION_INITIATED = frozenset({
    "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer", "FirmwareStatusNotification",
    "Get15118EVCertificate", "GetCertificateStatus", "Heartbeat", "LogStatusNotification", "MeterValues",
    "NotifyChargingLimit", "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
    "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
    "PublishFirmwareStatusNotification", "ReportChargingProfiles", "ReservationStatusUpdate",
    "SecurityEventNotification", "SignCertificate", "StatusNotification", "TransactionEvent",
})

#: Vendor id of fleet's own DataTransfer messages (``echo`` answers with the data it got).
VENDOR_ID = "fleet"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _info(reason: str, detail: str = "") -> StatusInfo:
    return StatusInfo(reason_code=reason, additional_info=detail[:512]) if detail else StatusInfo(reason_code=reason)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    size = max(size, 1)
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


# ------------------------------------------------------------- device model


def get_variables(st: V201Dialect, request: GetVariablesRequest) -> GetVariablesResponse:
    limit = st.model.get_int("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables", default=50)
    if len(request.get_variable_data) > limit:
        raise RemoteProtocolError(ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, f"at most {limit} variables per request")
    return GetVariablesResponse(get_variable_result=[st.model.get(d) for d in request.get_variable_data])


def set_variables(st: V201Dialect, request: SetVariablesRequest) -> SetVariablesResponse:
    limit = st.model.get_int("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables", default=50)
    if len(request.set_variable_data) > limit:
        raise RemoteProtocolError(ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, f"at most {limit} variables per request")
    results = []
    changed: list[VarDef] = []
    for data in request.set_variable_data:
        result, definition = st.model.set(data)
        results.append(result)
        if definition is not None:
            changed.append(definition)
    for definition in changed:
        st.variable_changed(definition)
    return SetVariablesResponse(set_variable_result=results)


def _send_report(st: V201Dialect, request_id: int, data: list[Any]) -> None:
    size = st.model.get_int("DeviceDataCtrlr", "ItemsPerMessage", "GetReport", default=50)
    parts = _chunks(data, size)
    generated = _now()
    for seq, part in enumerate(parts):
        fields: dict[str, Any] = {"request_id": request_id, "generated_at": generated, "seq_no": seq}
        if part:
            fields["report_data"] = part
        if seq < len(parts) - 1:
            fields["tbc"] = True
        st.station.send(NotifyReportRequest(**fields), followup=True)


def get_base_report(st: V201Dialect, request: GetBaseReportRequest) -> GetBaseReportResponse:
    data = st.model.base_report(request.report_base)
    if not data:
        return GetBaseReportResponse(status=GenericDeviceModelStatus.EMPTY_RESULT_SET)
    _send_report(st, request.request_id, data)
    return GetBaseReportResponse(status=GenericDeviceModelStatus.ACCEPTED)


def get_report(st: V201Dialect, request: GetReportRequest) -> GetReportResponse:
    variables = request.component_variable if request.component_variable is not UNSET else None
    criteria = request.component_criteria if request.component_criteria is not UNSET else None
    data = st.model.custom_report(variables, criteria)
    if not data:
        return GetReportResponse(status=GenericDeviceModelStatus.EMPTY_RESULT_SET)
    _send_report(st, request.request_id, data)
    return GetReportResponse(status=GenericDeviceModelStatus.ACCEPTED)


# -------------------------------------------------------------- monitoring


def set_variable_monitoring(st: V201Dialect, request: SetVariableMonitoringRequest) -> SetVariableMonitoringResponse:
    results = []
    for data in request.set_monitoring_data:
        k = _lookup_key(data.component, data.variable)
        definition = st.model.catalog.defs.get(k)
        fields: dict[str, Any] = {"type": data.type, "component": data.component, "variable": data.variable,
                                  "severity": data.severity}
        if data.id is not UNSET:
            fields["id"] = data.id
        if definition is None:
            unknown_component = k[:4] not in st.model.catalog.components
            fields["status"] = SetMonitoringStatus.UNKNOWN_COMPONENT if unknown_component else SetMonitoringStatus.UNKNOWN_VARIABLE
        elif not definition.supports_monitoring or (
            definition.data_type not in (Data.INTEGER, Data.DECIMAL)
            and data.type in (Monitor.UPPER_THRESHOLD, Monitor.LOWER_THRESHOLD)
        ):
            fields["status"] = SetMonitoringStatus.UNSUPPORTED_MONITOR_TYPE
        elif not 0 <= data.severity <= 9 or (data.type in (Monitor.DELTA, Monitor.PERIODIC,
                                                           Monitor.PERIODIC_CLOCK_ALIGNED) and data.value <= 0):
            fields["status"] = SetMonitoringStatus.REJECTED
            fields["status_info"] = _info("InvalidValue")
        elif data.id is not UNSET and data.id not in st.monitors:
            fields["status"] = SetMonitoringStatus.REJECTED
            fields["status_info"] = _info("UnknownMonitorId")
        elif data.id is UNSET and any(
            m[0] == k and m[1].type == data.type and m[1].severity == data.severity for m in st.monitors.values()
        ):
            fields["status"] = SetMonitoringStatus.DUPLICATE
        else:
            monitor_id = data.id if data.id is not UNSET else st.next_monitor_id
            st.next_monitor_id = max(st.next_monitor_id, monitor_id + 1)
            st.monitors[monitor_id] = (k, data)
            fields["id"] = monitor_id
            fields["status"] = SetMonitoringStatus.ACCEPTED
        results.append(SetMonitoringResult(**fields))
    return SetVariableMonitoringResponse(set_monitoring_result=results)


def clear_variable_monitoring(st: V201Dialect, request: ClearVariableMonitoringRequest) -> ClearVariableMonitoringResponse:
    results = []
    for monitor_id in request.id:
        if st.monitors.pop(monitor_id, None) is not None:
            results.append(ClearMonitoringResult(status=ClearMonitoringStatus.ACCEPTED, id=monitor_id))
        else:
            results.append(ClearMonitoringResult(status=ClearMonitoringStatus.NOT_FOUND, id=monitor_id))
    return ClearVariableMonitoringResponse(clear_monitoring_result=results)


def set_monitoring_base(st: V201Dialect, request: SetMonitoringBaseRequest) -> SetMonitoringBaseResponse:
    st.monitoring_base = str(request.monitoring_base)
    if request.monitoring_base in (MonitoringBase.FACTORY_DEFAULT, MonitoringBase.HARD_WIRED_ONLY):
        st.monitors.clear()
    return SetMonitoringBaseResponse(status=GenericDeviceModelStatus.ACCEPTED)


def set_monitoring_level(st: V201Dialect, request: SetMonitoringLevelRequest) -> SetMonitoringLevelResponse:
    if not 0 <= request.severity <= 9:
        return SetMonitoringLevelResponse(status=GenericStatus.REJECTED, status_info=_info("InvalidSeverity"))
    st.monitoring_level = request.severity
    return SetMonitoringLevelResponse(status=GenericStatus.ACCEPTED)


_CRITERIA = {
    MonitoringCriterion.THRESHOLD_MONITORING: {Monitor.UPPER_THRESHOLD, Monitor.LOWER_THRESHOLD},
    MonitoringCriterion.DELTA_MONITORING: {Monitor.DELTA},
    MonitoringCriterion.PERIODIC_MONITORING: {Monitor.PERIODIC, Monitor.PERIODIC_CLOCK_ALIGNED},
}


def get_monitoring_report(st: V201Dialect, request: GetMonitoringReportRequest) -> GetMonitoringReportResponse:
    wanted_types: set[Monitor] | None = None
    if request.monitoring_criteria is not UNSET:
        wanted_types = set()
        for criterion in request.monitoring_criteria:
            wanted_types |= _CRITERIA.get(criterion, set())
    filters: list[ComponentVariable] = request.component_variable if request.component_variable is not UNSET else []
    grouped: dict[Any, tuple[Any, list[VariableMonitoring]]] = {}
    for monitor_id, (k, data) in sorted(st.monitors.items()):
        if wanted_types is not None and data.type not in wanted_types:
            continue
        if filters and not any(_lookup_key(cv.component, cv.variable if cv.variable is not UNSET else data.variable)
                               == k for cv in filters):
            continue
        entry = grouped.setdefault(k, (data, []))
        entry[1].append(VariableMonitoring(id=monitor_id, transaction=data.transaction is True, value=data.value,
                                           type=data.type, severity=data.severity))
    if not grouped:
        return GetMonitoringReportResponse(status=GenericDeviceModelStatus.EMPTY_RESULT_SET)
    monitors = [MonitoringData(component=data.component, variable=data.variable, variable_monitoring=items)
                for data, items in grouped.values()]
    parts = _chunks(monitors, st.model.get_int("DeviceDataCtrlr", "ItemsPerMessage", "GetReport", default=50))
    generated = _now()
    for seq, part in enumerate(parts):
        fields: dict[str, Any] = {"request_id": request.request_id, "seq_no": seq, "generated_at": generated,
                                  "monitor": part}
        if seq < len(parts) - 1:
            fields["tbc"] = True
        st.station.send(NotifyMonitoringReportRequest(**fields), followup=True)
    return GetMonitoringReportResponse(status=GenericDeviceModelStatus.ACCEPTED)


# ------------------------------------------------------------- provisioning


def reset(st: V201Dialect, request: ResetRequest) -> ResetResponse:
    if request.evse_id is not UNSET:
        evse = st.station.evse_by_id(request.evse_id)
        if evse is None:
            return ResetResponse(status=ResetStatus.REJECTED, status_info=_info("UnknownEvse"))
        if evse.tx is not None and request.type == Reset.ON_IDLE:
            return ResetResponse(status=ResetStatus.SCHEDULED)
        st.station.defer(lambda: st.force_end(evse, TriggerReason.RESET_COMMAND, Reason.IMMEDIATE_RESET))
        return ResetResponse(status=ResetStatus.ACCEPTED)
    if request.type == Reset.ON_IDLE and st.station.any_transaction():
        st.station.schedule_reset_on_idle(_BootReason.REMOTE_RESET)
        return ResetResponse(status=ResetStatus.SCHEDULED)
    st.station.request_reboot(_BootReason.REMOTE_RESET)
    return ResetResponse(status=ResetStatus.ACCEPTED)


def set_network_profile(st: V201Dialect, request: SetNetworkProfileRequest) -> SetNetworkProfileResponse:
    data = request.connection_data
    current = st.model.get_int("SecurityCtrlr", "SecurityProfile")
    if not 0 <= request.configuration_slot < 8:
        return SetNetworkProfileResponse(status=SetNetworkProfileStatus.REJECTED, status_info=_info("InvalidSlot"))
    if data.security_profile < current:
        return SetNetworkProfileResponse(status=SetNetworkProfileStatus.REJECTED,
                                         status_info=_info("SecurityProfileDowngrade"))
    if data.ocpp_version != OCPPVersion.OCPP20 or data.ocpp_transport != OCPPTransport.JSON:
        return SetNetworkProfileResponse(status=SetNetworkProfileStatus.REJECTED, status_info=_info("Unsupported"))
    if not data.ocpp_csms_url.startswith(("ws://", "wss://")):
        return SetNetworkProfileResponse(status=SetNetworkProfileStatus.REJECTED, status_info=_info("InvalidURL"))
    st.network_profiles[request.configuration_slot] = data
    return SetNetworkProfileResponse(status=SetNetworkProfileStatus.ACCEPTED)


def _trigger_status(st: V201Dialect, evse: EvseState, connector_id: int | None) -> None:
    for connector in evse.connectors:
        if connector_id is None or connector.connector_id == connector_id:
            st.send_status(evse, connector, followup=True)


def trigger_message(st: V201Dialect, request: TriggerMessageRequest) -> TriggerMessageResponse:
    accepted = TriggerMessageResponse(status=TriggerMessageStatus.ACCEPTED)
    rejected = TriggerMessageResponse(status=TriggerMessageStatus.REJECTED)
    evse: EvseState | None = None
    connector_id: int | None = None
    if request.evse is not UNSET and request.evse.id != 0:
        evse = st.station.evse_by_id(request.evse.id)
        if evse is None:
            return TriggerMessageResponse(status=TriggerMessageStatus.REJECTED, status_info=_info("UnknownEvse"))
        if request.evse.connector_id is not UNSET:
            connector_id = request.evse.connector_id
            if evse.connector(connector_id) is None:
                return TriggerMessageResponse(status=TriggerMessageStatus.REJECTED,
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
            st.station.send(FirmwareStatusNotificationRequest(**fields), followup=True)
            return accepted
        case MessageTrigger.LOG_STATUS_NOTIFICATION:
            log_fields: dict[str, Any] = {"status": st.log_status}
            if st.log_status != UploadLogStatus.IDLE and st.log_request_id is not None:
                log_fields["request_id"] = st.log_request_id
            st.station.send(LogStatusNotificationRequest(**log_fields), followup=True)
            return accepted
        case MessageTrigger.SIGN_CHARGING_STATION_CERTIFICATE:
            st.station.send(SignCertificateRequest(csr=_fake_csr(st.station.station_id),
                                           certificate_type=CertificateSigningUse.CHARGING_STATION_CERTIFICATE),
                    followup=True)
            return accepted
        case _:
            # SignV2GCertificate, SignCombinedCertificate (no ISO 15118),
            # PublishFirmwareStatusNotification (not a local controller)
            return TriggerMessageResponse(status=TriggerMessageStatus.NOT_IMPLEMENTED)


def _fake_csr(station_id: str) -> str:
    body = hashlib.sha256(station_id.encode()).hexdigest()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}\n-----END CERTIFICATE REQUEST-----\n"


# --------------------------------------------------------------- availability


def change_availability(st: V201Dialect, request: ChangeAvailabilityRequest) -> ChangeAvailabilityResponse:
    operative = request.operational_status == OperationalStatus.OPERATIVE
    accepted = ChangeAvailabilityResponse(status=ChangeAvailabilityStatus.ACCEPTED)
    if request.evse is UNSET or request.evse.id == 0:
        if not operative and st.station.any_transaction():
            st.station.schedule_station_operative(False)
            return ChangeAvailabilityResponse(status=ChangeAvailabilityStatus.SCHEDULED)
        st.station.schedule_station_operative(None)
        if st.station.station_operative() != operative:
            st.station.defer(lambda: st.station.set_station_operative(operative))
        return accepted
    evse = st.station.evse_by_id(request.evse.id)
    if evse is None:
        return ChangeAvailabilityResponse(status=ChangeAvailabilityStatus.REJECTED, status_info=_info("UnknownEvse"))
    if request.evse.connector_id is not UNSET:
        connector = evse.connector(request.evse.connector_id)
        if connector is None:
            return ChangeAvailabilityResponse(status=ChangeAvailabilityStatus.REJECTED,
                                              status_info=_info("UnknownConnector"))
        if not operative and evse.tx is not None and evse.plugged == connector.connector_id:
            evse.pending_operative = False
            return ChangeAvailabilityResponse(status=ChangeAvailabilityStatus.SCHEDULED)
        connector.operative = operative
        st.station.defer(lambda: st.update_evse(evse))
        return accepted
    if not operative and evse.tx is not None:
        evse.pending_operative = False
        return ChangeAvailabilityResponse(status=ChangeAvailabilityStatus.SCHEDULED)
    evse.pending_operative = None
    evse.operative = operative
    st.station.defer(lambda: st.update_evse(evse))
    return accepted


def unlock_connector(st: V201Dialect, request: UnlockConnectorRequest) -> UnlockConnectorResponse:
    evse = st.station.evse_by_id(request.evse_id)
    if evse is None or evse.connector(request.connector_id) is None:
        return UnlockConnectorResponse(status=UnlockStatus.UNKNOWN_CONNECTOR)
    if evse.tx is not None and evse.plugged == request.connector_id and evse.authorized is not None:
        return UnlockConnectorResponse(status=UnlockStatus.ONGOING_AUTHORIZED_TRANSACTION)
    return UnlockConnectorResponse(status=UnlockStatus.UNLOCKED)


# --------------------------------------------------------------- transactions


def request_start_transaction(st: V201Dialect, request: RequestStartTransactionRequest) -> RequestStartTransactionResponse:
    rejected = RequestStartTransactionResponse(status=RequestStartStopStatus.REJECTED)
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
            return RequestStartTransactionResponse(status=RequestStartStopStatus.REJECTED,
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
        return RequestStartTransactionResponse(status=RequestStartStopStatus.ACCEPTED, transaction_id=evse.tx.id)
    return RequestStartTransactionResponse(status=RequestStartStopStatus.ACCEPTED)


def request_stop_transaction(st: V201Dialect, request: RequestStopTransactionRequest) -> RequestStopTransactionResponse:
    for evse in st.station.evses:
        if evse.tx is not None and evse.tx.id == request.transaction_id:
            st.station.defer(functools.partial(st.stop_transaction_on, evse, TriggerReason.REMOTE_STOP, Reason.REMOTE))
            return RequestStopTransactionResponse(status=RequestStartStopStatus.ACCEPTED)
    return RequestStopTransactionResponse(status=RequestStartStopStatus.REJECTED, status_info=_info("UnknownTransaction"))


def get_transaction_status(st: V201Dialect, request: GetTransactionStatusRequest) -> GetTransactionStatusResponse:
    if request.transaction_id is UNSET:
        return GetTransactionStatusResponse(messages_in_queue=st.station.queue.has_transaction(None))
    ongoing = any(e.tx is not None and e.tx.id == request.transaction_id for e in st.station.evses)
    return GetTransactionStatusResponse(
        messages_in_queue=st.station.queue.has_transaction(request.transaction_id), ongoing_indicator=ongoing
    )


def cost_updated(st: V201Dialect, request: CostUpdatedRequest) -> CostUpdatedResponse:
    for evse in st.station.evses:
        if evse.tx is not None and evse.tx.id == request.transaction_id:
            evse.tx.total_cost = request.total_cost
    return CostUpdatedResponse()


# ------------------------------------------------------------ smart charging


def set_charging_profile(st: V201Dialect, request: SetChargingProfileRequest) -> SetChargingProfileResponse:
    if not st.model.get_bool("SmartChargingCtrlr", "Enabled"):
        return SetChargingProfileResponse(status=ChargingProfileStatus.REJECTED, status_info=_info("Disabled"))
    status, reason = st.charging_profiles.install(
        request.evse_id,
        request.charging_profile,
        _now(),
        evse_ids=[e.id for e in st.station.evses],
        transactions={e.id: e.tx.id for e in st.station.evses if e.tx is not None},
        max_stack_level=st.model.get_int("SmartChargingCtrlr", "ProfileStackLevel", default=8),
        max_periods=st.model.get_int("SmartChargingCtrlr", "PeriodsPerSchedule", default=24),
    )
    if status == ChargingProfileStatus.ACCEPTED:
        st.station.defer(st.limits_changed)
        return SetChargingProfileResponse(status=status)
    return SetChargingProfileResponse(status=status, status_info=_info(reason))


def clear_charging_profile(st: V201Dialect, request: ClearChargingProfileRequest) -> ClearChargingProfileResponse:
    profile_id = request.charging_profile_id if request.charging_profile_id is not UNSET else None
    criteria = request.charging_profile_criteria if request.charging_profile_criteria is not UNSET else None
    if st.charging_profiles.clear(profile_id, criteria):
        st.station.defer(st.limits_changed)
        return ClearChargingProfileResponse(status=ClearChargingProfileStatus.ACCEPTED)
    return ClearChargingProfileResponse(status=ClearChargingProfileStatus.UNKNOWN)


def get_charging_profiles(st: V201Dialect, request: GetChargingProfilesRequest) -> GetChargingProfilesResponse:
    evse_id = request.evse_id if request.evse_id is not UNSET else None
    found = st.charging_profiles.query(evse_id, request.charging_profile)
    if not found:
        return GetChargingProfilesResponse(status=GetChargingProfileStatus.NO_PROFILES)
    groups = sorted(found.items())
    for n, (evse, profiles) in enumerate(groups):
        fields: dict[str, Any] = {"request_id": request.request_id, "charging_limit_source": ChargingLimitSource.CSO,
                                  "charging_profile": profiles, "evse_id": evse}
        if n < len(groups) - 1:
            fields["tbc"] = True
        st.station.send(ReportChargingProfilesRequest(**fields), followup=True)
    return GetChargingProfilesResponse(status=GetChargingProfileStatus.ACCEPTED)


def get_composite_schedule(st: V201Dialect, request: GetCompositeScheduleRequest) -> GetCompositeScheduleResponse:
    unit = request.charging_rate_unit if request.charging_rate_unit is not UNSET else ChargingRateUnit.W
    if request.evse_id == 0:
        voltage, phases = st.station.evses[0].voltage, st.station.evses[0].phases
        max_power = sum(e.max_power_w for e in st.station.evses)
        tx_id = None
        tx_start = None
    else:
        evse = st.station.evse_by_id(request.evse_id)
        if evse is None:
            return GetCompositeScheduleResponse(status=GenericStatus.REJECTED, status_info=_info("UnknownEvse"))
        voltage, phases, max_power = evse.voltage, evse.phases, evse.max_power_w
        tx_id = evse.tx.id if evse.tx is not None else None
        tx_start = evse.tx.started_wall if evse.tx is not None else None
    if request.duration < 0:
        return GetCompositeScheduleResponse(status=GenericStatus.REJECTED, status_info=_info("InvalidDuration"))
    schedule = st.charging_profiles.composite(
        request.evse_id, _now().replace(microsecond=0), request.duration, unit, voltage=voltage, phases=phases,
        max_power=max_power, transaction_id=tx_id, transaction_start=tx_start,
        evse_share=sum(1 for e in st.station.evses if e.tx is not None) or 1,
    )
    return GetCompositeScheduleResponse(status=GenericStatus.ACCEPTED, schedule=schedule)


# ---------------------------------------------------------------- authorization


def clear_cache(st: V201Dialect, request: ClearCacheRequest) -> ClearCacheResponse:
    if not st.model.get_bool("AuthCacheCtrlr", "Enabled"):
        return ClearCacheResponse(status=ClearCacheStatus.REJECTED, status_info=_info("Disabled"))
    st.auth_cache.clear()
    return ClearCacheResponse(status=ClearCacheStatus.ACCEPTED)


def send_local_list(st: V201Dialect, request: SendLocalListRequest) -> SendLocalListResponse:
    if not st.model.get_bool("LocalAuthListCtrlr", "Enabled"):
        return SendLocalListResponse(status=SendLocalListStatus.FAILED, status_info=_info("Disabled"))
    entries = request.local_authorization_list if request.local_authorization_list is not UNSET else []
    if request.update_type == Update.FULL:
        st.local_list = {e.id_token.id_token: e.id_token_info for e in entries if e.id_token_info is not UNSET}
    else:
        if request.version_number <= st.local_list_version:
            return SendLocalListResponse(status=SendLocalListStatus.VERSION_MISMATCH)
        for entry in entries:
            if entry.id_token_info is UNSET:
                st.local_list.pop(entry.id_token.id_token, None)
            else:
                st.local_list[entry.id_token.id_token] = entry.id_token_info
    st.local_list_version = request.version_number
    return SendLocalListResponse(status=SendLocalListStatus.ACCEPTED)


def get_local_list_version(st: V201Dialect, request: GetLocalListVersionRequest) -> GetLocalListVersionResponse:
    if not st.model.get_bool("LocalAuthListCtrlr", "Enabled"):
        return GetLocalListVersionResponse(version_number=0)
    return GetLocalListVersionResponse(version_number=st.local_list_version)


# ------------------------------------------------------------------ reservation


def reserve_now(st: V201Dialect, request: ReserveNowRequest) -> ReserveNowResponse:
    if not st.model.get_bool("ReservationCtrlr", "Enabled"):
        return ReserveNowResponse(status=ReserveNowStatus.REJECTED, status_info=_info("Disabled"))
    delay = (request.expiry_date_time - _now()).total_seconds()
    if delay <= 0:
        return ReserveNowResponse(status=ReserveNowStatus.REJECTED, status_info=_info("Expired"))
    # a new reservation with a known id replaces the old one
    for evse in st.station.evses:
        if evse.reservation is not None and evse.reservation.id == request.id:
            evse.reservation = None
            st.station.cancel_timer(("reservation", request.id))
            st.station.defer(functools.partial(st.refresh_status, evse))

    def fits(evse: EvseState) -> bool:
        return request.connector_type is UNSET or any(c.type == str(request.connector_type) for c in evse.connectors)

    if request.evse_id is not UNSET:
        candidate = st.station.evse_by_id(request.evse_id)
        if candidate is None or not fits(candidate):
            return ReserveNowResponse(status=ReserveNowStatus.REJECTED, status_info=_info("UnknownEvse"))
        candidates = [candidate]
    else:
        if not st.model.get_bool("ReservationCtrlr", "NonEvseSpecific"):
            return ReserveNowResponse(status=ReserveNowStatus.REJECTED)
        candidates = [e for e in st.station.evses if fits(e)]
        if not candidates:
            return ReserveNowResponse(status=ReserveNowStatus.REJECTED, status_info=_info("NoMatchingConnector"))
    chosen: EvseState | None = None
    status = ReserveNowStatus.OCCUPIED
    for evse in candidates:
        if any(c.faulted for c in evse.connectors):
            status = ReserveNowStatus.FAULTED
        elif not (evse.operative and st.station.station_operative()):
            status = ReserveNowStatus.UNAVAILABLE
        elif not evse.free:
            status = ReserveNowStatus.OCCUPIED
        else:
            chosen = evse
            break
    if chosen is None:
        return ReserveNowResponse(status=status)
    group = request.group_id_token if request.group_id_token is not UNSET else None
    reservation = Reservation(request.id, chosen.id, request.id_token, group)
    chosen.reservation = reservation
    target = chosen

    def expire() -> None:
        if target.reservation is reservation:
            target.reservation = None
            st.station.send(ReservationStatusUpdateRequest(reservation_id=reservation.id,
                                                   reservation_update_status=ReservationUpdateStatus.EXPIRED),
                    durable=True)
            st.refresh_status(target)

    st.station.set_timer(("reservation", request.id), delay, expire)
    st.station.defer(lambda: st.refresh_status(target))
    return ReserveNowResponse(status=ReserveNowStatus.ACCEPTED)


def cancel_reservation(st: V201Dialect, request: CancelReservationRequest) -> CancelReservationResponse:
    for evse in st.station.evses:
        if evse.reservation is not None and evse.reservation.id == request.reservation_id:
            evse.reservation = None
            st.station.cancel_timer(("reservation", request.reservation_id))
            st.station.defer(functools.partial(st.refresh_status, evse))
            return CancelReservationResponse(status=CancelReservationStatus.ACCEPTED)
    return CancelReservationResponse(status=CancelReservationStatus.REJECTED)


# ------------------------------------------------------- firmware and logs


def _fails(location: str) -> bool:
    return "fail" in location.lower()


def update_firmware(st: V201Dialect, request: UpdateFirmwareRequest) -> UpdateFirmwareResponse:
    busy = st.firmware_status not in (FirmwareStatus.IDLE, FirmwareStatus.INSTALLED, FirmwareStatus.DOWNLOAD_FAILED,
                                      FirmwareStatus.INSTALLATION_FAILED, FirmwareStatus.INVALID_SIGNATURE,
                                      FirmwareStatus.INSTALL_VERIFICATION_FAILED)
    if st.firmware_status == FirmwareStatus.INSTALL_REBOOTING:
        return UpdateFirmwareResponse(status=UpdateFirmwareStatus.REJECTED, status_info=_info("Rebooting"))
    request_id = request.request_id
    firmware = request.firmware
    step = st.station.profile.firmware_step

    def notify(status: FirmwareStatus) -> None:
        st.firmware_status = status
        st.firmware_request_id = request_id
        st.station.send(FirmwareStatusNotificationRequest(status=status, request_id=request_id), durable=True)

    def then(seconds: float, action: Callable[[], None]) -> None:
        st.station.sim_timer("fw", seconds, action)

    def install() -> None:
        if st.station.any_transaction():
            if st.firmware_status != FirmwareStatus.INSTALL_SCHEDULED:
                notify(FirmwareStatus.INSTALL_SCHEDULED)
            then(max(step, 1.0), install)
            return
        notify(FirmwareStatus.INSTALLING)

        def reboot() -> None:
            notify(FirmwareStatus.INSTALL_REBOOTING)
            st.firmware_installed(f"{st.station.profile.identity.firmware_version}+fw{request_id}"[:50])
            st.station.reboot(_BootReason.FIRMWARE_UPDATE)

        then(step, reboot)

    def downloaded() -> None:
        notify(FirmwareStatus.DOWNLOADED)
        if firmware.signature is not UNSET:
            if "invalid" in firmware.signature.lower():
                then(step, lambda: notify(FirmwareStatus.INVALID_SIGNATURE))
                return
            then(step, lambda: notify(FirmwareStatus.SIGNATURE_VERIFIED))
        wait = 0.0
        if firmware.install_date_time is not UNSET:
            wait = max(0.0, (firmware.install_date_time - _now()).total_seconds())
        if wait > 0:

            def scheduled() -> None:
                notify(FirmwareStatus.INSTALL_SCHEDULED)
                st.station.set_timer("fw", wait, install)

            then(step, scheduled)
        else:
            then(2 * step if firmware.signature is not UNSET else step, install)

    def download() -> None:
        notify(FirmwareStatus.DOWNLOADING)
        if _fails(firmware.location):
            then(step, lambda: notify(FirmwareStatus.DOWNLOAD_FAILED))
        else:
            then(step, downloaded)

    wait = max(0.0, (firmware.retrieve_date_time - _now()).total_seconds())
    if wait > 0:
        notify(FirmwareStatus.DOWNLOAD_SCHEDULED)
        st.station.set_timer("fw", wait, download)
    else:
        st.station.set_timer("fw", 0.0, download)
    if busy:
        return UpdateFirmwareResponse(status=UpdateFirmwareStatus.ACCEPTED_CANCELED)
    return UpdateFirmwareResponse(status=UpdateFirmwareStatus.ACCEPTED)


def get_log(st: V201Dialect, request: GetLogRequest) -> GetLogResponse:
    busy = st.log_status == UploadLogStatus.UPLOADING
    request_id = request.request_id
    location = request.log.remote_location
    filename = f"{st.station.station_id}-{request.log_type}-{request_id}.log"[:255]

    def notify(status: UploadLogStatus) -> None:
        st.log_status = status
        st.log_request_id = request_id
        st.station.send(LogStatusNotificationRequest(status=status, request_id=request_id), durable=True)

    step = st.station.profile.firmware_step
    if "://" not in location:
        st.station.sim_timer("log", 0.0, lambda: notify(UploadLogStatus.BAD_MESSAGE))
    else:
        outcome = UploadLogStatus.UPLOAD_FAILURE if _fails(location) else UploadLogStatus.UPLOADED

        def uploading() -> None:
            notify(UploadLogStatus.UPLOADING)
            st.station.sim_timer("log", step, lambda: notify(outcome))

        st.station.sim_timer("log", 0.0, uploading)
    status = LogStatus.ACCEPTED_CANCELED if busy else LogStatus.ACCEPTED
    return GetLogResponse(status=status, filename=filename)


def publish_firmware(st: V201Dialect, request: PublishFirmwareRequest) -> PublishFirmwareResponse:
    return PublishFirmwareResponse(status=GenericStatus.REJECTED, status_info=_info("NotALocalController"))


def unpublish_firmware(st: V201Dialect, request: UnpublishFirmwareRequest) -> UnpublishFirmwareResponse:
    return UnpublishFirmwareResponse(status=UnpublishFirmwareStatus.NO_FIRMWARE)


# ---------------------------------------------------------------- certificates


def _hash_data(pem: str) -> CertificateHashData:
    digest = hashlib.sha256(pem.strip().encode()).hexdigest()
    key_digest = hashlib.sha256((pem.strip() + "#key").encode()).hexdigest()
    return CertificateHashData(hash_algorithm=HashAlgorithm.SHA256, issuer_name_hash=digest,
                               issuer_key_hash=key_digest, serial_number=digest[:20])


def _is_pem(text: str) -> bool:
    return "-----BEGIN CERTIFICATE-----" in text and "-----END CERTIFICATE-----" in text


def install_certificate(st: V201Dialect, request: InstallCertificateRequest) -> InstallCertificateResponse:
    if not _is_pem(request.certificate):
        return InstallCertificateResponse(status=InstallCertificateStatus.REJECTED, status_info=_info("InvalidFormat"))
    hash_data = _hash_data(request.certificate)
    st.certificates = [c for c in st.certificates if c[1].serial_number != hash_data.serial_number]
    st.certificates.append((str(request.certificate_type), hash_data, request.certificate))
    return InstallCertificateResponse(status=InstallCertificateStatus.ACCEPTED)


def delete_certificate(st: V201Dialect, request: DeleteCertificateRequest) -> DeleteCertificateResponse:
    wanted = request.certificate_hash_data
    kept = [
        c for c in st.certificates
        if not (c[1].serial_number == wanted.serial_number and c[1].issuer_name_hash == wanted.issuer_name_hash
                and c[1].issuer_key_hash == wanted.issuer_key_hash)
    ]
    if len(kept) == len(st.certificates):
        return DeleteCertificateResponse(status=DeleteCertificateStatus.NOT_FOUND)
    st.certificates = kept
    return DeleteCertificateResponse(status=DeleteCertificateStatus.ACCEPTED)


def get_installed_certificate_ids(st: V201Dialect, request: GetInstalledCertificateIdsRequest) -> GetInstalledCertificateIdsResponse:
    types = {str(t) for t in request.certificate_type} if request.certificate_type is not UNSET else None
    chains = []
    for use, hash_data, _ in st.certificates:
        if types is not None and use not in types:
            continue
        try:
            certificate_type = GetCertificateIdUse(use)
        except ValueError:
            continue
        chains.append(CertificateHashDataChain(certificate_hash_data=hash_data, certificate_type=certificate_type))
    if not chains:
        return GetInstalledCertificateIdsResponse(status=GetInstalledCertificateStatus.NOT_FOUND)
    return GetInstalledCertificateIdsResponse(status=GetInstalledCertificateStatus.ACCEPTED,
                                              certificate_hash_data_chain=chains)


def certificate_signed(st: V201Dialect, request: CertificateSignedRequest) -> CertificateSignedResponse:
    if not _is_pem(request.certificate_chain):
        return CertificateSignedResponse(status=CertificateSignedStatus.REJECTED, status_info=_info("InvalidFormat"))
    use = str(request.certificate_type) if request.certificate_type is not UNSET else "ChargingStationCertificate"
    st.certificates.append((use, _hash_data(request.certificate_chain), request.certificate_chain))
    return CertificateSignedResponse(status=CertificateSignedStatus.ACCEPTED)


# ------------------------------------------------------------ display messages


def set_display_message(st: V201Dialect, request: SetDisplayMessageRequest) -> SetDisplayMessageResponse:
    message = request.message
    if not st.model.get_bool("DisplayMessageCtrlr", "Enabled"):
        return SetDisplayMessageResponse(status=DisplayMessageStatus.REJECTED, status_info=_info("Disabled"))
    if str(message.message.format) not in st.model.get_list("DisplayMessageCtrlr", "SupportedFormats"):
        return SetDisplayMessageResponse(status=DisplayMessageStatus.NOT_SUPPORTED_MESSAGE_FORMAT)
    if str(message.priority) not in st.model.get_list("DisplayMessageCtrlr", "SupportedPriorities"):
        return SetDisplayMessageResponse(status=DisplayMessageStatus.NOT_SUPPORTED_PRIORITY)
    if message.transaction_id is not UNSET and not any(
        e.tx is not None and e.tx.id == message.transaction_id for e in st.station.evses
    ):
        return SetDisplayMessageResponse(status=DisplayMessageStatus.UNKNOWN_TRANSACTION)
    capacity = st.model.get_int("DisplayMessageCtrlr", "DisplayMessages", default=32)
    if message.id not in st.display_messages and len(st.display_messages) >= capacity:
        return SetDisplayMessageResponse(status=DisplayMessageStatus.REJECTED, status_info=_info("Full"))
    st.display_messages[message.id] = message
    return SetDisplayMessageResponse(status=DisplayMessageStatus.ACCEPTED)


def get_display_messages(st: V201Dialect, request: GetDisplayMessagesRequest) -> GetDisplayMessagesResponse:
    found = []
    for message_id, message in sorted(st.display_messages.items()):
        if request.id is not UNSET and message_id not in request.id:
            continue
        if request.priority is not UNSET and message.priority != request.priority:
            continue
        if request.state is not UNSET and message.state != request.state:
            continue
        found.append(message)
    if not found:
        return GetDisplayMessagesResponse(status=GetDisplayMessagesStatus.UNKNOWN)
    parts = _chunks(found, 10)
    for n, part in enumerate(parts):
        fields: dict[str, Any] = {"request_id": request.request_id, "message_info": part}
        if n < len(parts) - 1:
            fields["tbc"] = True
        st.station.send(NotifyDisplayMessagesRequest(**fields), followup=True)
    return GetDisplayMessagesResponse(status=GetDisplayMessagesStatus.ACCEPTED)


def clear_display_message(st: V201Dialect, request: ClearDisplayMessageRequest) -> ClearDisplayMessageResponse:
    if st.display_messages.pop(request.id, None) is None:
        return ClearDisplayMessageResponse(status=ClearMessageStatus.UNKNOWN)
    return ClearDisplayMessageResponse(status=ClearMessageStatus.ACCEPTED)


# ------------------------------------------------------------------ customers


def customer_information(st: V201Dialect, request: CustomerInformationRequest) -> CustomerInformationResponse:
    if not request.report and not request.clear:
        return CustomerInformationResponse(status=CustomerInformationStatus.REJECTED,
                                           status_info=_info("NothingRequested"))
    token: IdToken | None = request.id_token if request.id_token is not UNSET else None
    identifier = request.customer_identifier if request.customer_identifier is not UNSET else None
    if token is None and identifier is None and request.customer_certificate is UNSET:
        return CustomerInformationResponse(status=CustomerInformationStatus.INVALID, status_info=_info("NoCustomer"))
    lines = []
    if token is not None:
        info = st.local_list.get(token.id_token)
        cached = st.auth_cache.get(token.id_token)
        lines.append(f"idToken {token.id_token}: local list {info.status if info else 'absent'}, "
                     f"cache {cached.status if cached else 'absent'}")
        if request.clear:
            st.local_list.pop(token.id_token, None)
            st.auth_cache.pop(token.id_token, None)
    if identifier is not None:
        lines.append(f"customer {identifier}: no data stored")
    if request.customer_certificate is not UNSET:
        lines.append(f"certificate {request.customer_certificate.serial_number}: no data stored")
    if request.report:
        data = "; ".join(lines)[:512]
        st.station.send(NotifyCustomerInformationRequest(data=data, seq_no=0, generated_at=_now(),
                                                 request_id=request.request_id), followup=True)
    return CustomerInformationResponse(status=CustomerInformationStatus.ACCEPTED)


def data_transfer(st: V201Dialect, request: DataTransferRequest) -> DataTransferResponse:
    if request.vendor_id != VENDOR_ID:
        return DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID)
    if request.message_id == "echo":
        if request.data is UNSET:
            return DataTransferResponse(status=DataTransferStatus.ACCEPTED)
        return DataTransferResponse(status=DataTransferStatus.ACCEPTED, data=request.data)
    return DataTransferResponse(status=DataTransferStatus.UNKNOWN_MESSAGE_ID)


#: Action -> default handler ``(station, request) -> response``.
HANDLERS: dict[str, Handler] = {
    "CancelReservation": cancel_reservation,
    "CertificateSigned": certificate_signed,
    "ChangeAvailability": change_availability,
    "ClearCache": clear_cache,
    "ClearChargingProfile": clear_charging_profile,
    "ClearDisplayMessage": clear_display_message,
    "ClearVariableMonitoring": clear_variable_monitoring,
    "CostUpdated": cost_updated,
    "CustomerInformation": customer_information,
    "DataTransfer": data_transfer,
    "DeleteCertificate": delete_certificate,
    "GetBaseReport": get_base_report,
    "GetChargingProfiles": get_charging_profiles,
    "GetCompositeSchedule": get_composite_schedule,
    "GetDisplayMessages": get_display_messages,
    "GetInstalledCertificateIds": get_installed_certificate_ids,
    "GetLocalListVersion": get_local_list_version,
    "GetLog": get_log,
    "GetMonitoringReport": get_monitoring_report,
    "GetReport": get_report,
    "GetTransactionStatus": get_transaction_status,
    "GetVariables": get_variables,
    "InstallCertificate": install_certificate,
    "PublishFirmware": publish_firmware,
    "RequestStartTransaction": request_start_transaction,
    "RequestStopTransaction": request_stop_transaction,
    "ReserveNow": reserve_now,
    "Reset": reset,
    "SendLocalList": send_local_list,
    "SetChargingProfile": set_charging_profile,
    "SetDisplayMessage": set_display_message,
    "SetMonitoringBase": set_monitoring_base,
    "SetMonitoringLevel": set_monitoring_level,
    "SetNetworkProfile": set_network_profile,
    "SetVariableMonitoring": set_variable_monitoring,
    "SetVariables": set_variables,
    "TriggerMessage": trigger_message,
    "UnlockConnector": unlock_connector,
    "UnpublishFirmware": unpublish_firmware,
    "UpdateFirmware": update_firmware,
}

assert set(HANDLERS) == CSMS_INITIATED, "every CSMS-initiated action has a default handler"

