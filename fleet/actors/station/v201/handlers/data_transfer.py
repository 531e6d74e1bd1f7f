"""OCPP 2.0.1, block P DataTransfer: fleet's own vendor id answers ``echo``.

Each handler is ``handler(dialect, request) -> response`` (see :mod:`fleet.actors.station.v201.handlers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec import UNSET

from .....ocpp.v201 import (
    DataTransferRequest,
    DataTransferResponse,
    DataTransferStatus,
)

if TYPE_CHECKING:
    from ..dialect import V201Dialect

__all__ = ["VENDOR_ID", "data_transfer"]


VENDOR_ID = "fleet"


def data_transfer(st: V201Dialect, request: DataTransferRequest) -> DataTransferResponse:
    if request.vendor_id != VENDOR_ID:
        return st.messages.DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID)
    if request.message_id == "echo":
        if request.data is UNSET:
            return st.messages.DataTransferResponse(status=DataTransferStatus.ACCEPTED)
        return st.messages.DataTransferResponse(status=DataTransferStatus.ACCEPTED, data=request.data)
    return st.messages.DataTransferResponse(status=DataTransferStatus.UNKNOWN_MESSAGE_ID)
