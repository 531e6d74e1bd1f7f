"""OCPP 2.0.1, block N Diagnostics: GetLog (a timed upload; a location containing ``fail`` makes it
fail), variable monitoring, CustomerInformation.

Each handler is ``handler(dialect, request) -> response`` (see :mod:`fleet.actors.station.v201.handlers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from .....ocpp.v201 import (
    ClearMonitoringResult,
    ClearMonitoringStatus,
    ClearVariableMonitoringRequest,
    ClearVariableMonitoringResponse,
    ComponentVariable,
    CustomerInformationRequest,
    CustomerInformationResponse,
    CustomerInformationStatus,
    Data,
    GenericDeviceModelStatus,
    GenericStatus,
    GetLogRequest,
    GetLogResponse,
    GetMonitoringReportRequest,
    GetMonitoringReportResponse,
    IdToken,
    LogStatus,
    Monitor,
    MonitoringBase,
    MonitoringCriterion,
    MonitoringData,
    SetMonitoringBaseRequest,
    SetMonitoringBaseResponse,
    SetMonitoringLevelRequest,
    SetMonitoringLevelResponse,
    SetMonitoringResult,
    SetMonitoringStatus,
    SetVariableMonitoringRequest,
    SetVariableMonitoringResponse,
    UploadLogStatus,
    VariableMonitoring,
)
from ..device_model import _lookup_key
from .common import _chunks, _info, _now
from .firmware import _fails

if TYPE_CHECKING:
    from ..dialect import V201Dialect

__all__ = [
    "clear_variable_monitoring",
    "customer_information",
    "get_log",
    "get_monitoring_report",
    "set_monitoring_base",
    "set_monitoring_level",
    "set_variable_monitoring",
]


def get_log(st: V201Dialect, request: GetLogRequest) -> GetLogResponse:
    busy = st.log_status == UploadLogStatus.UPLOADING
    request_id = request.request_id
    location = request.log.remote_location
    filename = f"{st.station.station_id}-{request.log_type}-{request_id}.log"[:255]

    def notify(status: UploadLogStatus) -> None:
        st.log_status = status
        st.log_request_id = request_id
        st.station.send(st.messages.LogStatusNotificationRequest(status=status, request_id=request_id), durable=True)

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
    return st.messages.GetLogResponse(status=status, filename=filename)


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
    return st.messages.SetVariableMonitoringResponse(set_monitoring_result=results)


def clear_variable_monitoring(st: V201Dialect, request: ClearVariableMonitoringRequest) -> ClearVariableMonitoringResponse:
    results = []
    for monitor_id in request.id:
        if st.monitors.pop(monitor_id, None) is not None:
            results.append(ClearMonitoringResult(status=ClearMonitoringStatus.ACCEPTED, id=monitor_id))
        else:
            results.append(ClearMonitoringResult(status=ClearMonitoringStatus.NOT_FOUND, id=monitor_id))
    return st.messages.ClearVariableMonitoringResponse(clear_monitoring_result=results)


def set_monitoring_base(st: V201Dialect, request: SetMonitoringBaseRequest) -> SetMonitoringBaseResponse:
    st.monitoring_base = str(request.monitoring_base)
    if request.monitoring_base in (MonitoringBase.FACTORY_DEFAULT, MonitoringBase.HARD_WIRED_ONLY):
        st.monitors.clear()
    return st.messages.SetMonitoringBaseResponse(status=GenericDeviceModelStatus.ACCEPTED)


def set_monitoring_level(st: V201Dialect, request: SetMonitoringLevelRequest) -> SetMonitoringLevelResponse:
    if not 0 <= request.severity <= 9:
        return st.messages.SetMonitoringLevelResponse(status=GenericStatus.REJECTED, status_info=_info("InvalidSeverity"))
    st.monitoring_level = request.severity
    return st.messages.SetMonitoringLevelResponse(status=GenericStatus.ACCEPTED)


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
        entry[1].append(st.variable_monitoring(monitor_id, data))
    if not grouped:
        return st.messages.GetMonitoringReportResponse(status=GenericDeviceModelStatus.EMPTY_RESULT_SET)
    monitors = [MonitoringData(component=data.component, variable=data.variable, variable_monitoring=items)
                for data, items in grouped.values()]
    parts = _chunks(monitors, st.model.get_int("DeviceDataCtrlr", "ItemsPerMessage", "GetReport", default=50))
    generated = _now()
    for seq, part in enumerate(parts):
        fields: dict[str, Any] = {"request_id": request.request_id, "seq_no": seq, "generated_at": generated,
                                  "monitor": part}
        if seq < len(parts) - 1:
            fields["tbc"] = True
        st.station.send(st.messages.NotifyMonitoringReportRequest(**fields), followup=True)
    return st.messages.GetMonitoringReportResponse(status=GenericDeviceModelStatus.ACCEPTED)


def customer_information(st: V201Dialect, request: CustomerInformationRequest) -> CustomerInformationResponse:
    if not request.report and not request.clear:
        return st.messages.CustomerInformationResponse(status=CustomerInformationStatus.REJECTED,
                                           status_info=_info("NothingRequested"))
    token: IdToken | None = request.id_token if request.id_token is not UNSET else None
    identifier = request.customer_identifier if request.customer_identifier is not UNSET else None
    if token is None and identifier is None and request.customer_certificate is UNSET:
        return st.messages.CustomerInformationResponse(status=CustomerInformationStatus.INVALID, status_info=_info("NoCustomer"))
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
        st.station.send(st.messages.NotifyCustomerInformationRequest(data=data, seq_no=0, generated_at=_now(),
                                                 request_id=request.request_id), followup=True)
    return st.messages.CustomerInformationResponse(status=CustomerInformationStatus.ACCEPTED)
