"""OCPP 2.0.1, block E/I Transactions and tariffs: GetTransactionStatus, CostUpdated.

Each handler is ``handler(dialect, request) -> response`` (see :mod:`fleet.actors.station.v201.handlers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec import UNSET

from .....ocpp.v201 import (
    CostUpdatedRequest,
    CostUpdatedResponse,
    GetTransactionStatusRequest,
    GetTransactionStatusResponse,
)

if TYPE_CHECKING:
    from ..dialect import V201Dialect

__all__ = ["cost_updated", "get_transaction_status"]


def get_transaction_status(st: V201Dialect, request: GetTransactionStatusRequest) -> GetTransactionStatusResponse:
    if request.transaction_id is UNSET:
        return st.messages.GetTransactionStatusResponse(messages_in_queue=st.station.queue.has_transaction(None))
    ongoing = any(e.tx is not None and e.tx.id == request.transaction_id for e in st.station.evses)
    return st.messages.GetTransactionStatusResponse(
        messages_in_queue=st.station.queue.has_transaction(request.transaction_id), ongoing_indicator=ongoing
    )


def cost_updated(st: V201Dialect, request: CostUpdatedRequest) -> CostUpdatedResponse:
    for evse in st.station.evses:
        if evse.tx is not None and evse.tx.id == request.transaction_id:
            evse.tx.total_cost = request.total_cost
    return st.messages.CostUpdatedResponse()
