"""The CSMS's default answers to every OCPP 2.0.1 message a station sends.

:func:`default_handlers` returns one handler per action in
:data:`STATION_ACTIONS` (the 25 messages a charging station initiates, the
CSMS receives them), each a plain function ``handler(request, ctx) -> response``
as :class:`~fleet.actors.connection.OcppConnection` calls them. Their answers
follow a :class:`CsmsPolicy` (boot status, heartbeat interval, id-token list, ...)
that the :class:`~fleet.actors.csms.Csms` owns and changes at run time.

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
depend on these handlers: see :mod:`fleet.actors.csms.records`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

from msgspec import UNSET

from ....ocpp.v201 import (
    ACTIONS,
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
from ...connection import CallContext, Handler
from ..auth import IdTokenEntry

__all__ = [
    "CSMS_ACTIONS",
    "DEFAULT_BOOT_RETRY_INTERVAL",
    "DEFAULT_HEARTBEAT_INTERVAL",
    "STATION_ACTIONS",
    "CsmsPolicy",
    "check_interval",
    "default_handlers",
]

#: The OCPP 2.0.1 messages a charging station sends (the CSMS receives them).
STATION_ACTIONS: Final = frozenset(
    {
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "DataTransfer",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "SignCertificate",
        "StatusNotification",
        "TransactionEvent",
    }
)
#: The OCPP 2.0.1 messages the CSMS sends (DataTransfer goes both ways).
CSMS_ACTIONS: Final = frozenset(set(ACTIONS) - STATION_ACTIONS | {"DataTransfer"})

#: Seconds between heartbeats the CSMS asks for when it accepts a station.
DEFAULT_HEARTBEAT_INTERVAL: Final = 300
#: Seconds a station not Accepted must wait before its next BootNotification.
DEFAULT_BOOT_RETRY_INTERVAL: Final = 30


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class CsmsPolicy:
    """How the default handlers answer; owned by the CSMS, changed through its setters.

    Args:
        boot_status: the registration status given to every station.
        heartbeat_interval: the ``interval`` of an Accepted BootNotificationResponse.
        boot_retry_interval: the ``interval`` of a Pending or Rejected one.
        id_tokens: the id-token list (case-folded token -> entry; see
            :func:`fleet.actors.csms.auth.parse_id_tokens`), ``None`` for none.
        unknown_token_status: the status of a token not in the list; ``None``
            means Accepted without a list and Unknown with one.
        data_transfer_vendors: vendor ids whose DataTransfer is Accepted.
    """

    def __init__(
        self,
        *,
        boot_status: RegistrationStatus | str = RegistrationStatus.ACCEPTED,
        heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL,
        boot_retry_interval: int = DEFAULT_BOOT_RETRY_INTERVAL,
        id_tokens: Mapping[str, IdTokenEntry] | None = None,
        unknown_token_status: AuthorizationStatus | str | None = None,
        data_transfer_vendors: Collection[str] = (),
    ) -> None:
        self.boot_status = RegistrationStatus(boot_status)
        self.boot_status_of: dict[str, RegistrationStatus] = {}
        self.heartbeat_interval = check_interval(heartbeat_interval, "heartbeat_interval")
        self.boot_retry_interval = check_interval(boot_retry_interval, "boot_retry_interval")
        self.id_tokens: dict[str, IdTokenEntry] | None = dict(id_tokens) if id_tokens is not None else None
        self.unknown_token_status = (
            AuthorizationStatus(unknown_token_status) if unknown_token_status is not None else None
        )
        self.data_transfer_vendors = frozenset(data_transfer_vendors)

    def registration_for(self, station_id: str) -> RegistrationStatus:
        """The registration status station ``station_id`` gets at boot."""
        return self.boot_status_of.get(station_id, self.boot_status)

    def id_token_info(self, id_token: IdToken, now: datetime.datetime | None = None) -> IdTokenInfo:
        """The ``idTokenInfo`` answering ``id_token``."""
        if id_token.type == IdTokenEnum.NO_AUTHORIZATION:
            return IdTokenInfo(status=AuthorizationStatus.ACCEPTED)
        tokens = self.id_tokens
        entry = tokens.get(id_token.id_token.casefold()) if tokens is not None else None
        if entry is None:
            status = self.unknown_token_status
            if status is None:
                status = AuthorizationStatus.ACCEPTED if tokens is None else AuthorizationStatus.UNKNOWN
            return IdTokenInfo(status=status)
        return IdTokenInfo(
            status=entry.status_at(now or _now()),
            cache_expiry_date_time=entry.expires if entry.expires is not None else UNSET,
            group_id_token=(
                IdToken(id_token=entry.group_id, type=IdTokenEnum.CENTRAL) if entry.group_id is not None else UNSET
            ),
        )


def check_interval(value: int, name: str) -> int:
    """``value`` if it is a whole number of seconds >= 0, else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number of seconds >= 0, got {value!r}")
    return value


def _empty(response_type: type[Any]) -> Handler:
    """A handler answering with the (field-less) response of a notification."""
    response = response_type()

    def handler(request: Any, ctx: CallContext) -> Any:
        return response

    handler.__name__ = handler.__qualname__ = f"default_{response_type.__name__}"
    handler.__doc__ = f"Answer with an empty {response_type.__name__}."
    return handler


def default_handlers(policy: CsmsPolicy) -> dict[str, Handler]:
    """One default handler per action of :data:`STATION_ACTIONS`, answering per ``policy``."""

    def boot_notification(request: BootNotificationRequest, ctx: CallContext) -> BootNotificationResponse:
        """Register the station with the policy's status for it."""
        status = policy.registration_for(ctx.station_id)
        accepted = status == RegistrationStatus.ACCEPTED
        return BootNotificationResponse(
            current_time=_now(),
            interval=policy.heartbeat_interval if accepted else policy.boot_retry_interval,
            status=status,
        )

    def heartbeat(request: HeartbeatRequest, ctx: CallContext) -> HeartbeatResponse:
        """Answer with the current time."""
        return HeartbeatResponse(current_time=_now())

    def authorize(request: AuthorizeRequest, ctx: CallContext) -> AuthorizeResponse:
        """Answer from the id-token list."""
        info = policy.id_token_info(request.id_token)
        if request.certificate is not UNSET or request.iso15118_certificate_hash_data is not UNSET:
            return AuthorizeResponse(id_token_info=info, certificate_status=AuthorizeCertificateStatus.ACCEPTED)
        return AuthorizeResponse(id_token_info=info)

    empty_transaction_response = TransactionEventResponse()

    def transaction_event(request: TransactionEventRequest, ctx: CallContext) -> TransactionEventResponse:
        """Acknowledge; answer ``idTokenInfo`` when the event carries an id token."""
        if request.id_token is UNSET:
            return empty_transaction_response
        return TransactionEventResponse(id_token_info=policy.id_token_info(request.id_token))

    def data_transfer(request: DataTransferRequest, ctx: CallContext) -> DataTransferResponse:
        """Accept the known vendors' data; UnknownVendorId for the others."""
        if request.vendor_id in policy.data_transfer_vendors:
            return DataTransferResponse(status=DataTransferStatus.ACCEPTED)
        return DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID)

    def get_15118_ev_certificate(
        request: Get15118EVCertificateRequest, ctx: CallContext
    ) -> Get15118EVCertificateResponse:
        """Failed: this CSMS has no contract-certificate PKI."""
        return Get15118EVCertificateResponse(
            status=Iso15118EVCertificateStatus.FAILED,
            exi_response="",
            status_info=StatusInfo(reason_code="NoCertificateService"),
        )

    def get_certificate_status(
        request: GetCertificateStatusRequest, ctx: CallContext
    ) -> GetCertificateStatusResponse:
        """Failed: this CSMS has no OCSP responder."""
        return GetCertificateStatusResponse(
            status=GetCertificateStatus.FAILED, status_info=StatusInfo(reason_code="NoOcspResponder")
        )

    def sign_certificate(request: SignCertificateRequest, ctx: CallContext) -> SignCertificateResponse:
        """Rejected: this CSMS signs no certificates."""
        return SignCertificateResponse(
            status=GenericStatus.REJECTED, status_info=StatusInfo(reason_code="NoCertificateService")
        )

    def notify_ev_charging_needs(
        request: NotifyEVChargingNeedsRequest, ctx: CallContext
    ) -> NotifyEVChargingNeedsResponse:
        """Rejected: this CSMS sends no charging schedule in return."""
        return NotifyEVChargingNeedsResponse(
            status=NotifyEVChargingNeedsStatus.REJECTED, status_info=StatusInfo(reason_code="NoSchedule")
        )

    def notify_ev_charging_schedule(
        request: NotifyEVChargingScheduleRequest, ctx: CallContext
    ) -> NotifyEVChargingScheduleResponse:
        """Accepted: the EV's schedule is taken note of."""
        return NotifyEVChargingScheduleResponse(status=GenericStatus.ACCEPTED)

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
    handlers: dict[str, Handler] = {}
    for action in sorted(STATION_ACTIONS):
        handler = specific.get(action)
        handlers[action] = handler if handler is not None else _empty(ACTIONS[action][1])
    return handlers
