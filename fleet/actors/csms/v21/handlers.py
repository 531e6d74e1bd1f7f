"""The CSMS's default answers to every OCPP 2.1 message a station sends.

The 2.0.1 answers (:func:`fleet.actors.csms.v201.handlers.default_handlers`, built from
2.1's payload types), and for what 2.1 adds:

* GetCertificateChainStatus: each certificate's status Unknown until tomorrow (this
  CSMS has no OCSP responder or CRL);
* OpenPeriodicEventStream: Accepted (what the stream brings is recorded as it comes);
* PullDynamicScheduleUpdate: Rejected (this CSMS keeps no dynamic schedule);
* VatNumberValidation: Rejected (it validates no VAT numbers);
* NotifyPeriodicEventStream, a SEND: taken note of, never answered;
* every other notification (BatterySwap, ClosePeriodicEventStream, NotifyDERAlarm,
  NotifyDERStartStop, NotifyPriorityCharging, NotifySettlement, ReportDERControl):
  the empty response, which is the whole answer.
"""

from __future__ import annotations

import datetime
from typing import Any

from ....net.connection import CallContext, Handler
from ....ocpp import v21
from ....ocpp.v21 import (
    CertificateStatus,
    CertificateStatusEnum,
    ChargingProfileStatus,
    GenericStatus,
    GetCertificateChainStatusRequest,
    GetCertificateChainStatusResponse,
    NotifyPeriodicEventStream,
    OpenPeriodicEventStreamRequest,
    OpenPeriodicEventStreamResponse,
    PullDynamicScheduleUpdateRequest,
    PullDynamicScheduleUpdateResponse,
    StatusInfo,
    VatNumberValidationRequest,
    VatNumberValidationResponse,
)
from ..policy import CsmsPolicy
from ..v201.handlers import default_handlers as v201_default_handlers

__all__ = ["default_handlers"]


def get_certificate_chain_status(
    request: GetCertificateChainStatusRequest, ctx: CallContext
) -> GetCertificateChainStatusResponse:
    """Unknown, for each certificate asked about: this CSMS has no OCSP responder or CRL."""
    tomorrow = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    return GetCertificateChainStatusResponse(certificate_status=[
        CertificateStatus(certificate_hash_data=asked.certificate_hash_data, source=asked.source,
                          status=CertificateStatusEnum.UNKNOWN, next_update=tomorrow)
        for asked in request.certificate_status_requests
    ])


_STREAM_OPENED = OpenPeriodicEventStreamResponse(status=GenericStatus.ACCEPTED)


def open_periodic_event_stream(request: OpenPeriodicEventStreamRequest, ctx: CallContext) -> OpenPeriodicEventStreamResponse:
    """Accepted."""
    return _STREAM_OPENED


_NO_SCHEDULE = PullDynamicScheduleUpdateResponse(
    status=ChargingProfileStatus.REJECTED, status_info=StatusInfo(reason_code="NoSchedule")
)


def pull_dynamic_schedule_update(
    request: PullDynamicScheduleUpdateRequest, ctx: CallContext
) -> PullDynamicScheduleUpdateResponse:
    """Rejected: this CSMS keeps no dynamic schedule."""
    return _NO_SCHEDULE


def vat_number_validation(request: VatNumberValidationRequest, ctx: CallContext) -> VatNumberValidationResponse:
    """Rejected: this CSMS validates no VAT numbers."""
    return VatNumberValidationResponse(
        vat_number=request.vat_number, status=GenericStatus.REJECTED,
        status_info=StatusInfo(reason_code="NoVatService"), evse_id=request.evse_id,  # (C18.FR.10)
    )


def notify_periodic_event_stream(message: NotifyPeriodicEventStream, ctx: CallContext) -> Any:
    """A SEND: nothing to answer (counted and recorded by the CSMS like every message)."""
    return None


def default_handlers(policy: CsmsPolicy) -> dict[str, Handler]:
    """One default handler per action of :data:`~fleet.actors.csms.v21.actions.STATION_ACTIONS`,
    answering per ``policy``."""
    return v201_default_handlers(policy, v21, {
        "GetCertificateChainStatus": get_certificate_chain_status,
        "OpenPeriodicEventStream": open_periodic_event_stream,
        "PullDynamicScheduleUpdate": pull_dynamic_schedule_update,
        "VatNumberValidation": vat_number_validation,
        "NotifyPeriodicEventStream": notify_periodic_event_stream,
    })
