"""The 2.1 station's answers to the tariff requests of the CSMS (use cases I07, I09, I10,
I11): SetDefaultTariff, GetTariffs, ClearTariffs, ChangeTransactionTariff, on its
:class:`~.local_cost.LocalCost`.

Each handler is ``handler(dialect, request) -> response``; they answer only where the
profile switched local cost on (:func:`local_cost_on`; elsewhere the fixed answers of
:data:`.handlers.NOT_SIMULATED` stand). CostUpdated is 2.0.1's handler (the cost the
CSMS sends is kept on the transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from msgspec import UNSET

from ....ocpp.v21 import (
    ChangeTransactionTariffRequest,
    ChangeTransactionTariffResponse,
    ClearTariffsRequest,
    ClearTariffsResponse,
    ClearTariffsResult,
    GetTariffsRequest,
    GetTariffsResponse,
    SetDefaultTariffRequest,
    SetDefaultTariffResponse,
    StatusInfo,
    TariffAssignment,
    TariffChangeStatus,
    TariffClearStatus,
    TariffGetStatus,
    TariffKind,
    TariffSetStatus,
)
from .tariffs import refusal

if TYPE_CHECKING:
    from .dialect import V21Dialect
    from .local_cost import LocalCost

__all__ = ["TARIFF_HANDLERS", "local_cost_on"]


def local_cost_on(dialect: V21Dialect) -> bool:
    """Whether the station's profile switched local cost calculation on."""
    return dialect.local_cost is not None


def _local_cost(dialect: V21Dialect) -> LocalCost:
    cost = dialect.local_cost
    assert cost is not None
    return cost


def set_default_tariff(dialect: V21Dialect, request: SetDefaultTariffRequest) -> SetDefaultTariffResponse:
    """I07: install the tariff on the EVSE (0: every EVSE), unless it is refused."""
    cost = _local_cost(dialect)
    tariff = request.tariff
    if request.evse_id != 0 and dialect.station.evse_by_id(request.evse_id) is None:
        return SetDefaultTariffResponse(status=TariffSetStatus.REJECTED, status_info=StatusInfo(reason_code="UnknownEVSE"))
    refused = refusal(tariff, cost.settings.max_elements)
    if refused is not None:
        return SetDefaultTariffResponse(status=TariffSetStatus(refused))
    if cost.tariffs.has(tariff.tariff_id):
        return SetDefaultTariffResponse(status=TariffSetStatus.DUPLICATE_TARIFF_ID)
    cost.tariffs.install(request.evse_id, tariff)
    return SetDefaultTariffResponse(status=TariffSetStatus.ACCEPTED)


def get_tariffs(dialect: V21Dialect, request: GetTariffsRequest) -> GetTariffsResponse:
    """I09: the default tariffs installed (on the EVSE, or on any), the tariffs of running
    transactions that are not default tariffs (driver tariffs: from an Authorize answer or
    ChangeTransactionTariff), and the driver tariffs of drivers authorized who have not
    started yet."""
    cost = _local_cost(dialect)
    assignments = []
    for tariff, evse_ids in cost.tariffs.assignments(request.evse_id):
        fields: dict[str, Any] = {"tariff_id": tariff.tariff_id, "tariff_kind": TariffKind.DEFAULT_TARIFF,
                                  "evse_ids": evse_ids}
        if tariff.valid_from is not UNSET:
            fields["valid_from"] = tariff.valid_from
        assignments.append(TariffAssignment(**fields))
    defaults = {a.tariff_id for a in assignments}
    for evse in dialect.station.evses:
        if evse.tx is None or request.evse_id not in (0, evse.id):
            continue
        driver_tariff = cost.tariff_of_transaction(evse.tx.id)
        if driver_tariff is None or driver_tariff.tariff_id in defaults:
            continue
        fields = {"tariff_id": driver_tariff.tariff_id, "tariff_kind": TariffKind.DRIVER_TARIFF, "evse_ids": [evse.id]}
        if evse.tx.id_token is not None:
            fields["id_tokens"] = [evse.tx.id_token.id_token]
        assignments.append(TariffAssignment(**fields))
    for evse_id, (pending, id_token) in cost.driver_tariffs.items():
        if request.evse_id in (0, evse_id):  # (authorized, no transaction yet: no EVSE to name, I09)
            assignments.append(TariffAssignment(tariff_id=pending.tariff_id, tariff_kind=TariffKind.DRIVER_TARIFF,
                                                id_tokens=[id_token]))
    if not assignments:
        return GetTariffsResponse(status=TariffGetStatus.NO_TARIFF)
    return GetTariffsResponse(status=TariffGetStatus.ACCEPTED, tariff_assignments=assignments)


def clear_tariffs(dialect: V21Dialect, request: ClearTariffsRequest) -> ClearTariffsResponse:
    """I10: clear the default tariffs matching the ids and/or the EVSE (transactions keep theirs)."""
    cost = _local_cost(dialect)
    tariff_ids = request.tariff_ids if request.tariff_ids is not UNSET else None
    evse_id = request.evse_id if request.evse_id is not UNSET and request.evse_id != 0 else None
    cleared = cost.tariffs.clear(tariff_ids, evse_id)
    if not cleared:
        return ClearTariffsResponse(clear_tariffs_result=[ClearTariffsResult(status=TariffClearStatus.NO_TARIFF)])
    return ClearTariffsResponse(clear_tariffs_result=[
        ClearTariffsResult(status=TariffClearStatus.ACCEPTED, tariff_id=tariff_id) for tariff_id in cleared
    ])


def change_transaction_tariff(
    dialect: V21Dialect, request: ChangeTransactionTariffRequest
) -> ChangeTransactionTariffResponse:
    """I11: apply the tariff to the running transaction from now on (TxNotFound,
    NoCurrencyChange, TooManyElements, ConditionNotSupported otherwise)."""
    cost = _local_cost(dialect)
    evse = next((e for e in dialect.station.evses if e.tx is not None and e.tx.id == request.transaction_id), None)
    if evse is None:
        return ChangeTransactionTariffResponse(status=TariffChangeStatus.TX_NOT_FOUND)
    tariff = request.tariff
    refused = refusal(tariff, cost.settings.max_elements)
    if refused is not None:
        return ChangeTransactionTariffResponse(status=TariffChangeStatus(refused))
    assert evse.tx is not None
    current = cost.tariff_of_transaction(evse.tx.id)
    if current is not None and current.currency != tariff.currency:
        return ChangeTransactionTariffResponse(status=TariffChangeStatus.NO_CURRENCY_CHANGE)
    cost.change_transaction_tariff(evse, tariff)
    return ChangeTransactionTariffResponse(status=TariffChangeStatus.ACCEPTED)


#: The tariff actions answered where local cost is on.
TARIFF_HANDLERS: Final[Mapping[str, Any]] = MappingProxyType({
    "ChangeTransactionTariff": change_transaction_tariff,
    "ClearTariffs": clear_tariffs,
    "GetTariffs": get_tariffs,
    "SetDefaultTariff": set_default_tariff,
})
