"""Ad hoc payment via a QR code on a 2.1 station whose profile switches it on
(``[web_payment]``; OCPP 2.1 use case C25, settlement as C24): :class:`WebPayments`.

NotifyWebPaymentStarted (the CSMS saw a driver scan the QR code of an EVSE and sent them to
pay) is answered without parameters (C25.FR.27), and the simulated driver plugs in at that
EVSE (when it is free). The CSMS then starts the transaction for the payment
(RequestStartTransaction with the payment's ``pspRef`` as idToken of type DirectPayment,
C25.FR.23; answered as any remote start). When such a paid transaction (or the transaction
the plugged-in vehicle started, once it carries the payment's idToken) first sends an event, a VAT number
the driver entered (the profile's ``vat_number``) is checked with VatNumberValidation
(C18.FR.08); when it ends, after its Ended event, the station reports the settlement:
NotifySettlement with the ``pspRef``, status Settled, the amount (the final cost including
tax the station calculated, 0 without local cost), the time, the transaction id and the
VAT number and company the CSMS accepted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from ....ocpp.v21 import (
    GenericStatus,
    NotifySettlementRequest,
    NotifyWebPaymentStartedRequest,
    NotifyWebPaymentStartedResponse,
    PaymentStatus,
    VatNumberValidationRequest,
)
from ....profiles import WebPayment as WebPaymentSettings
from ..hardware import EvseState, TxState

if TYPE_CHECKING:
    from .dialect import V21Dialect

__all__ = ["DIRECT_PAYMENT", "WebPayments", "notify_web_payment_started"]

#: The idToken type of an ad hoc payment (its value is the payment's pspRef).
DIRECT_PAYMENT = "DirectPayment"


class WebPayments:
    """Web payments and their settlement on one station (see the module's description).

    Args:
        dialect: the station's 2.1 dialect.
        settings: the profile's ``[web_payment]``.
    """

    __slots__ = ("checked", "dialect", "settings", "vat")

    def __init__(self, dialect: V21Dialect, settings: WebPaymentSettings) -> None:
        self.dialect = dialect
        self.settings = settings
        #: transaction id -> the VAT number and company the CSMS accepted for it
        self.vat: dict[str, tuple[str, Any]] = {}
        #: the running paid transactions whose VAT number was sent to be checked
        self.checked: set[str] = set()

    @staticmethod
    def paid(tx: TxState) -> bool:
        """Whether ``tx`` is paid ad hoc (its idToken is of type DirectPayment)."""
        return tx.id_token is not None and str(tx.id_token.type) == DIRECT_PAYMENT

    def started(self, request: NotifyWebPaymentStartedRequest) -> NotifyWebPaymentStartedResponse:
        """NotifyWebPaymentStarted: answered; the driver plugs in at the EVSE (if it is free)."""
        station = self.dialect.station
        evse = station.evse_by_id(request.evse_id)
        if evse is not None and evse.plugged is None and evse.tx is None and evse.operative:
            station.defer(lambda: self._plug(evse))
        return NotifyWebPaymentStartedResponse()

    def _plug(self, evse: EvseState) -> None:
        if evse.plugged is None and evse.tx is None:
            self.dialect.plug_vehicle(evse)

    def paid_event(self, evse: EvseState, tx: TxState) -> None:
        """An event of a paid transaction: at the first, the driver's VAT number (if any) is checked."""
        vat_number = self.settings.vat_number
        transaction_id = tx.id
        if not vat_number or transaction_id in self.checked:
            return
        self.checked.add(transaction_id)

        def answered(result: Any) -> None:
            if not isinstance(result, Exception) and result.status == GenericStatus.ACCEPTED:
                self.vat[transaction_id] = (result.vat_number, result.company)

        self.dialect.station.send(VatNumberValidationRequest(vat_number=vat_number, evse_id=evse.id),
                                  on_result=answered)

    def transaction_ended(self, evse: EvseState, tx: TxState) -> None:
        """A paid transaction ended (its Ended event queued): NotifySettlement follows it."""
        assert tx.id_token is not None
        amount = 0.0
        cost = self.dialect.local_cost.shown(evse) if self.dialect.local_cost is not None else None
        if cost is not None and cost.transaction_id == tx.id and cost.final:
            total = cost.incl_tax if cost.incl_tax is not None else cost.excl_tax
            amount = total if total is not None else 0.0
        vat_number, company = self.vat.pop(tx.id, (None, UNSET))
        self.checked.discard(tx.id)
        self.dialect.station.send(NotifySettlementRequest(
            psp_ref=tx.id_token.id_token, status=PaymentStatus.SETTLED, settlement_amount=amount,
            settlement_time=self.dialect.station.clock(), transaction_id=tx.id,
            vat_number=vat_number if vat_number is not None else UNSET, vat_company=company,
        ), durable=True)


def web_payment_on(dialect: V21Dialect) -> bool:
    """Whether the profile switches web payment on."""
    return dialect.web_payment is not None


def notify_web_payment_started(dialect: V21Dialect,
                               request: NotifyWebPaymentStartedRequest) -> NotifyWebPaymentStartedResponse:
    """NotifyWebPaymentStarted: see :meth:`WebPayments.started`."""
    payments = dialect.web_payment
    assert payments is not None
    return payments.started(request)
