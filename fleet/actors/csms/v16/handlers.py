"""The CSMS's default answers to every OCPP 1.6 message a station sends.

:func:`default_handlers` returns one handler per action in
:data:`~fleet.actors.csms.v16.actions.STATION_ACTIONS` (the 14 messages a charge
point initiates), each a plain function ``handler(request, ctx) -> response`` as
:class:`~fleet.net.connection.OcppConnection` calls them, answering per the same
version-free :class:`~fleet.actors.csms.policy.CsmsPolicy` as the 2.0.1 dialect
(boot status per station, heartbeat interval, id-token list, DataTransfer vendors).

What they answer:

* BootNotification: the policy's registration status for the station, ``currentTime``
  now, ``interval`` = the heartbeat interval when Accepted, else the boot retry interval.
* Heartbeat: ``currentTime`` now.
* Authorize, StartTransaction, and StopTransaction carrying an ``idTag``: ``idTagInfo``
  from the id-token list (:func:`id_tag_info`).
* StartTransaction: a ``transactionId`` the CSMS assigns (:class:`.TransactionIds`: an
  integer unique within this CSMS, from the policy's ``transaction_ids``; a repeated
  StartTransaction gets the same one).
* DataTransfer: Accepted for the policy's known vendor ids, else UnknownVendorId.
* SignCertificate: Rejected (this CSMS signs nothing).
* Every other notification (StatusNotification, MeterValues, the status notifications of
  firmware, diagnostics and logs, SecurityEventNotification): the empty response.

What the CSMS *records* about each message does not depend on these handlers: see
:mod:`fleet.actors.csms.v16.recorders`.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from msgspec import UNSET

from ....net.connection import CallContext, Handler
from ....ocpp.v16 import (
    ACTIONS,
    AuthorizationStatus,
    AuthorizeRequest,
    AuthorizeResponse,
    BootNotificationRequest,
    BootNotificationResponse,
    DataTransferRequest,
    DataTransferResponse,
    DataTransferStatus,
    GenericStatus,
    HeartbeatRequest,
    HeartbeatResponse,
    IdTagInfo,
    RegistrationStatus,
    SignCertificateRequest,
    SignCertificateResponse,
    StartTransactionRequest,
    StartTransactionResponse,
    StopTransactionRequest,
    StopTransactionResponse,
)
from ..auth import TokenStatus
from ..empty_answers import with_empty_answers
from ..policy import CsmsPolicy
from .actions import STATION_ACTIONS
from .transaction_ids import TransactionIds

__all__ = ["AUTHORIZATION_STATUS", "default_handlers", "id_tag_info"]

#: OCPP 1.6's idTag (and parentIdTag) is at most 20 characters.
_MAX_ID_TAG = 20


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


#: The authorization statuses 1.6 has.
_IN_1_6: Final = frozenset(status.value for status in AuthorizationStatus)
#: The policy's version-free token statuses as 1.6 answers them: the five 1.6 has keep
#: their name; the others, which 1.6 lacks (Unknown, NoCredit, NotAllowedTypeEVSE,
#: NotAtThisLocation, NotAtThisTime), are Invalid ("not allowed for charging").
AUTHORIZATION_STATUS: Final[Mapping[str, AuthorizationStatus]] = MappingProxyType(
    {
        status.value: (
            AuthorizationStatus(status.value)
            if status.value in _IN_1_6
            else AuthorizationStatus.INVALID
        )
        for status in TokenStatus
    }
)
#: The policy's registration statuses as 1.6 answers them (the same three).
_REGISTRATION_STATUS: Final[Mapping[str, RegistrationStatus]] = MappingProxyType(
    {status.value: status for status in RegistrationStatus}
)


def id_tag_info(policy: CsmsPolicy, id_tag: str, now: datetime.datetime | None = None) -> IdTagInfo:
    """The ``idTagInfo`` answering ``id_tag`` per the policy's id-token list: its status,
    ``expiryDate`` and ``parentIdTag`` (the token's group, when it fits 1.6's 20 characters)."""
    entry = policy.token_entry(id_tag)
    if entry is None:
        return IdTagInfo(status=AUTHORIZATION_STATUS[policy.unknown_status()])
    group = entry.group_id
    return IdTagInfo(
        status=AUTHORIZATION_STATUS[entry.status_at(now or _now())],
        expiry_date=entry.expires if entry.expires is not None else UNSET,
        parent_id_tag=group if group is not None and len(group) <= _MAX_ID_TAG else UNSET,
    )


def default_handlers(policy: CsmsPolicy) -> dict[str, Handler]:
    """One default handler per action of :data:`~fleet.actors.csms.v16.actions.STATION_ACTIONS`,
    answering per ``policy``; the StartTransaction handler hands out this CSMS's transaction ids
    (each call makes a new allocator: call it once per CSMS)."""
    transaction_ids = TransactionIds(*policy.transaction_ids)

    def boot_notification(request: BootNotificationRequest, ctx: CallContext) -> BootNotificationResponse:
        """Register the charge point with the policy's status for it."""
        status = _REGISTRATION_STATUS[policy.registration_for(ctx.station_id)]
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
        return AuthorizeResponse(id_tag_info=id_tag_info(policy, request.id_tag))

    def start_transaction(request: StartTransactionRequest, ctx: CallContext) -> StartTransactionResponse:
        """Assign the transaction its id; answer the idTag from the id-token list (a station
        told anything but Accepted stops the transaction, which keeps its id)."""
        return StartTransactionResponse(
            id_tag_info=id_tag_info(policy, request.id_tag),
            transaction_id=transaction_ids.assign(ctx.station_id, request),
        )

    empty_stop_response = StopTransactionResponse()

    def stop_transaction(request: StopTransactionRequest, ctx: CallContext) -> StopTransactionResponse:
        """Acknowledge; answer ``idTagInfo`` when the request carries an idTag."""
        if request.id_tag is UNSET:
            return empty_stop_response
        return StopTransactionResponse(id_tag_info=id_tag_info(policy, request.id_tag))

    def data_transfer(request: DataTransferRequest, ctx: CallContext) -> DataTransferResponse:
        """Accept the known vendors' data; UnknownVendorId for the others."""
        if request.vendor_id in policy.data_transfer_vendors:
            return DataTransferResponse(status=DataTransferStatus.ACCEPTED)
        return DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID)

    def sign_certificate(request: SignCertificateRequest, ctx: CallContext) -> SignCertificateResponse:
        """Rejected: this CSMS has no certificate authority."""
        return SignCertificateResponse(status=GenericStatus.REJECTED)

    specific: dict[str, Handler] = {
        "BootNotification": boot_notification,
        "Heartbeat": heartbeat,
        "Authorize": authorize,
        "StartTransaction": start_transaction,
        "StopTransaction": stop_transaction,
        "DataTransfer": data_transfer,
        "SignCertificate": sign_certificate,
    }
    return with_empty_answers(specific, STATION_ACTIONS, ACTIONS)
