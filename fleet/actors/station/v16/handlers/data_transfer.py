"""DataTransfer from the CSMS (1.6 Core 5.6): the simulated station knows no vendor
extension, so it answers UnknownVendorId."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .....ocpp.v16 import DataTransferRequest, DataTransferResponse, DataTransferStatus

if TYPE_CHECKING:
    from ..dialect import V16Dialect

__all__ = ["data_transfer"]


def data_transfer(st: V16Dialect, request: DataTransferRequest) -> DataTransferResponse:
    return DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID)
