"""The CSMS's default answers to every OCPP 2.0.1 message a station sends.

:func:`default_handlers` returns one handler per action in
:data:`~fleet.actors.csms.v201.actions.STATION_ACTIONS` (the 25 messages a charging
station initiates, the CSMS receives them), each a plain function
``handler(request, ctx) -> response`` as :class:`~fleet.net.connection.OcppConnection`
calls them. Their answers follow the version-free
:class:`~fleet.actors.csms.policy.CsmsPolicy` (boot status, heartbeat interval,
id-token list, ...) that the :class:`~fleet.actors.csms.Csms` owns and changes at run time.

What they answer:

* BootNotification: the policy's registration status for the station (Accepted by
  default), ``currentTime`` now, ``interval`` = the heartbeat interval when
  Accepted, else the boot retry interval.
* Heartbeat: ``currentTime`` now.
* Authorize, and TransactionEvent carrying an ``idToken``: ``idTokenInfo`` from
  the id-token list (status, group id token, expiry); a token not in the list gets
  the policy's unknown-token status (Accepted when no list is set, else Unknown);
  ``NoAuthorization`` tokens are always Accepted.
* DataTransfer: Accepted for the policy's known vendor ids, else UnknownVendorId.
* Get15118EVCertificate, GetCertificateStatus: Failed (this CSMS has no PKI or
  OCSP responder); SignCertificate: Rejected (it signs nothing);
  NotifyEVChargingNeeds: Rejected (it sends no schedule); NotifyEVChargingSchedule:
  Accepted.
* Every other notification: the empty response, which is the whole answer.

What the CSMS *records* about each message (statuses, transactions...) does not
depend on these handlers: see :mod:`fleet.actors.csms.v201.recorders`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from types import MappingProxyType, ModuleType
from typing import Any, Final

from msgspec import UNSET

from ....net.connection import CallContext, Handler
from ....ocpp import v201
from ....ocpp.v201 import (
    AuthorizationStatus,
    AuthorizeCertificateStatus,
    AuthorizeRequest,
    AuthorizeResponse,
    BootNotificationRequest,
    BootNotificationResponse,
    DataTransferRequest,
    DataTransferResponse,
    DataTransferStatus,
    GenericStatus,
    Get15118EVCertificateRequest,
    Get15118EVCertificateResponse,
    GetCertificateStatus,
    GetCertificateStatusRequest,
    GetCertificateStatusResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    IdToken,
    IdTokenEnum,
    IdTokenInfo,
    Iso15118EVCertificateStatus,
    NotifyEVChargingNeedsRequest,
    NotifyEVChargingNeedsResponse,
    NotifyEVChargingNeedsStatus,
    NotifyEVChargingScheduleRequest,
    NotifyEVChargingScheduleResponse,
    RegistrationStatus,
    SignCertificateRequest,
    SignCertificateResponse,
    StatusInfo,
    TransactionEventRequest,
    TransactionEventResponse,
)
from ..auth import TokenStatus
from ..empty_answers import with_empty_answers
from ..policy import CsmsPolicy

__all__ = ["default_handlers", "id_token_info"]

def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


#: The policy's version-free token statuses as 2.0.1 answers them (the same ten).
_AUTHORIZATION_STATUS: Final[Mapping[str, AuthorizationStatus]] = MappingProxyType(
    {status.value: AuthorizationStatus(status.value) for status in TokenStatus}
)
#: The policy's registration statuses as 2.0.1 answers them.
_REGISTRATION_STATUS: Final[Mapping[str, RegistrationStatus]] = MappingProxyType(
    {status.value: status for status in RegistrationStatus}
)


def id_token_info(policy: CsmsPolicy, id_token: IdToken, now: datetime.datetime | None = None) -> IdTokenInfo:
    """The ``idTokenInfo`` answering ``id_token`` per the policy's id-token list
    (``NoAuthorization`` tokens are always Accepted)."""
    if id_token.type == IdTokenEnum.NO_AUTHORIZATION:
        return IdTokenInfo(status=AuthorizationStatus.ACCEPTED)
    entry = policy.token_entry(id_token.id_token)
    if entry is None:
        return IdTokenInfo(status=_AUTHORIZATION_STATUS[policy.unknown_status()])
    return IdTokenInfo(
        status=_AUTHORIZATION_STATUS[entry.status_at(now or _now())],
        cache_expiry_date_time=entry.expires if entry.expires is not None else UNSET,
        group_id_token=(
            IdToken(id_token=entry.group_id, type=IdTokenEnum.CENTRAL) if entry.group_id is not None else UNSET
        ),
    )


def default_handlers(policy: CsmsPolicy, messages: ModuleType = v201,
                     extra: Mapping[str, Handler] | None = None) -> dict[str, Handler]:
    """One default handler per action of :data:`~fleet.actors.csms.v201.actions.STATION_ACTIONS`,
    answering per ``policy``.

    ``messages`` is the module of the payload types the answers are built from (2.0.1's;
    a later version passes its own, with ``extra``: its handlers of the actions it adds
    or answers differently); each station-initiated action of ``messages`` gets one.
    """

    def boot_notification(request: BootNotificationRequest, ctx: CallContext) -> BootNotificationResponse:
        """Register the station with the policy's status for it."""
        status = _REGISTRATION_STATUS[policy.registration_for(ctx.station_id)]
        accepted = status == RegistrationStatus.ACCEPTED
        return messages.BootNotificationResponse(
            current_time=_now(),
            interval=policy.heartbeat_interval if accepted else policy.boot_retry_interval,
            status=status,
        )

    def heartbeat(request: HeartbeatRequest, ctx: CallContext) -> HeartbeatResponse:
        """Answer with the current time."""
        return messages.HeartbeatResponse(current_time=_now())

    def authorize(request: AuthorizeRequest, ctx: CallContext) -> AuthorizeResponse:
        """Answer from the id-token list."""
        info = id_token_info(policy, request.id_token)
        if request.certificate is not UNSET or request.iso15118_certificate_hash_data is not UNSET:
            return messages.AuthorizeResponse(id_token_info=info, certificate_status=AuthorizeCertificateStatus.ACCEPTED)
        return messages.AuthorizeResponse(id_token_info=info)

    empty_transaction_response = messages.TransactionEventResponse()

    def transaction_event(request: TransactionEventRequest, ctx: CallContext) -> TransactionEventResponse:
        """Acknowledge; answer ``idTokenInfo`` when the event carries an id token."""
        if request.id_token is UNSET:
            return empty_transaction_response
        return messages.TransactionEventResponse(id_token_info=id_token_info(policy, request.id_token))

    def data_transfer(request: DataTransferRequest, ctx: CallContext) -> DataTransferResponse:
        """Accept the known vendors' data; UnknownVendorId for the others."""
        if request.vendor_id in policy.data_transfer_vendors:
            return messages.DataTransferResponse(status=DataTransferStatus.ACCEPTED)
        return messages.DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID)

    def get_15118_ev_certificate(
        request: Get15118EVCertificateRequest, ctx: CallContext
    ) -> Get15118EVCertificateResponse:
        """Failed: this CSMS has no contract-certificate PKI."""
        return messages.Get15118EVCertificateResponse(
            status=Iso15118EVCertificateStatus.FAILED,
            exi_response="",
            status_info=StatusInfo(reason_code="NoCertificateService"),
        )

    def get_certificate_status(
        request: GetCertificateStatusRequest, ctx: CallContext
    ) -> GetCertificateStatusResponse:
        """Failed: this CSMS has no OCSP responder."""
        return messages.GetCertificateStatusResponse(
            status=GetCertificateStatus.FAILED, status_info=StatusInfo(reason_code="NoOcspResponder")
        )

    def sign_certificate(request: SignCertificateRequest, ctx: CallContext) -> SignCertificateResponse:
        """Rejected: this CSMS signs no certificates."""
        return messages.SignCertificateResponse(
            status=GenericStatus.REJECTED, status_info=StatusInfo(reason_code="NoCertificateService")
        )

    def notify_ev_charging_needs(
        request: NotifyEVChargingNeedsRequest, ctx: CallContext
    ) -> NotifyEVChargingNeedsResponse:
        """Rejected: this CSMS sends no charging schedule in return."""
        return messages.NotifyEVChargingNeedsResponse(
            status=NotifyEVChargingNeedsStatus.REJECTED, status_info=StatusInfo(reason_code="NoSchedule")
        )

    def notify_ev_charging_schedule(
        request: NotifyEVChargingScheduleRequest, ctx: CallContext
    ) -> NotifyEVChargingScheduleResponse:
        """Accepted: the EV's schedule is taken note of."""
        return messages.NotifyEVChargingScheduleResponse(status=GenericStatus.ACCEPTED)

    specific: dict[str, Callable[[Any, CallContext], Any]] = {
        "BootNotification": boot_notification,
        "Heartbeat": heartbeat,
        "Authorize": authorize,
        "TransactionEvent": transaction_event,
        "DataTransfer": data_transfer,
        "Get15118EVCertificate": get_15118_ev_certificate,
        "GetCertificateStatus": get_certificate_status,
        "SignCertificate": sign_certificate,
        "NotifyEVChargingNeeds": notify_ev_charging_needs,
        "NotifyEVChargingSchedule": notify_ev_charging_schedule,
    }
    if extra is not None:
        specific.update(extra)
    return with_empty_answers(specific, messages.INITIATED_BY_STATION, messages.ACTIONS)
