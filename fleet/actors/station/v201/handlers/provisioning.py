"""OCPP 2.0.1, block B Provisioning: the device model's variables and reports, Reset,
SetNetworkProfile.

Each handler is ``handler(dialect, request) -> response`` (see :mod:`fleet.actors.station.v201.handlers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from .....ocpp import ErrorCode, RemoteProtocolError
from .....ocpp.v201 import BootReason as _BootReason
from .....ocpp.v201 import (
    GenericDeviceModelStatus,
    GetBaseReportRequest,
    GetBaseReportResponse,
    GetReportRequest,
    GetReportResponse,
    GetVariablesRequest,
    GetVariablesResponse,
    OCPPTransport,
    OCPPVersion,
    Reason,
    Reset,
    ResetRequest,
    ResetResponse,
    ResetStatus,
    SetNetworkProfileRequest,
    SetNetworkProfileResponse,
    SetNetworkProfileStatus,
    SetVariablesRequest,
    SetVariablesResponse,
    TriggerReason,
)
from ..device_model import VarDef
from .common import _chunks, _info, _now

if TYPE_CHECKING:
    from ..dialect import V201Dialect

__all__ = ["get_base_report", "get_report", "get_variables", "reset", "set_network_profile", "set_variables"]


def get_variables(st: V201Dialect, request: GetVariablesRequest) -> GetVariablesResponse:
    limit = st.model.get_int("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables", default=50)
    if len(request.get_variable_data) > limit:
        raise RemoteProtocolError(ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, f"at most {limit} variables per request")
    return st.messages.GetVariablesResponse(get_variable_result=[st.model.get(d) for d in request.get_variable_data])


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
    return st.messages.SetVariablesResponse(set_variable_result=results)


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
        st.station.send(st.messages.NotifyReportRequest(**fields), followup=True)


def get_base_report(st: V201Dialect, request: GetBaseReportRequest) -> GetBaseReportResponse:
    data = st.model.base_report(request.report_base)
    if not data:
        return st.messages.GetBaseReportResponse(status=GenericDeviceModelStatus.EMPTY_RESULT_SET)
    _send_report(st, request.request_id, data)
    return st.messages.GetBaseReportResponse(status=GenericDeviceModelStatus.ACCEPTED)


def get_report(st: V201Dialect, request: GetReportRequest) -> GetReportResponse:
    variables = request.component_variable if request.component_variable is not UNSET else None
    criteria = request.component_criteria if request.component_criteria is not UNSET else None
    data = st.model.custom_report(variables, criteria)
    if not data:
        return st.messages.GetReportResponse(status=GenericDeviceModelStatus.EMPTY_RESULT_SET)
    _send_report(st, request.request_id, data)
    return st.messages.GetReportResponse(status=GenericDeviceModelStatus.ACCEPTED)


def reset(st: V201Dialect, request: ResetRequest) -> ResetResponse:
    if request.evse_id is not UNSET:
        evse = st.station.evse_by_id(request.evse_id)
        if evse is None:
            return st.messages.ResetResponse(status=ResetStatus.REJECTED, status_info=_info("UnknownEvse"))
        if evse.tx is not None and request.type == Reset.ON_IDLE:
            return st.messages.ResetResponse(status=ResetStatus.SCHEDULED)
        st.station.defer(lambda: st.force_end(evse, TriggerReason.RESET_COMMAND, Reason.IMMEDIATE_RESET))
        return st.messages.ResetResponse(status=ResetStatus.ACCEPTED)
    if request.type == Reset.ON_IDLE and st.station.any_transaction():
        st.station.schedule_reset_on_idle(_BootReason.REMOTE_RESET)
        return st.messages.ResetResponse(status=ResetStatus.SCHEDULED)
    st.station.request_reboot(_BootReason.REMOTE_RESET)
    return st.messages.ResetResponse(status=ResetStatus.ACCEPTED)


def set_network_profile(st: V201Dialect, request: SetNetworkProfileRequest) -> SetNetworkProfileResponse:
    data = request.connection_data
    current = st.model.get_int("SecurityCtrlr", "SecurityProfile")
    if not 0 <= request.configuration_slot < 8:
        return st.messages.SetNetworkProfileResponse(status=SetNetworkProfileStatus.REJECTED, status_info=_info("InvalidSlot"))
    if data.security_profile < current:
        return st.messages.SetNetworkProfileResponse(status=SetNetworkProfileStatus.REJECTED,
                                         status_info=_info("SecurityProfileDowngrade"))
    if data.ocpp_version != OCPPVersion.OCPP20 or data.ocpp_transport != OCPPTransport.JSON:
        return st.messages.SetNetworkProfileResponse(status=SetNetworkProfileStatus.REJECTED, status_info=_info("Unsupported"))
    if not data.ocpp_csms_url.startswith(("ws://", "wss://")):
        return st.messages.SetNetworkProfileResponse(status=SetNetworkProfileStatus.REJECTED, status_info=_info("InvalidURL"))
    st.network_profiles[request.configuration_slot] = data
    return st.messages.SetNetworkProfileResponse(status=SetNetworkProfileStatus.ACCEPTED)
