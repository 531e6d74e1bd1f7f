"""How the CSMS records what OCPP 2.1 stations send, and what they answer to it: 2.0.1's
recorders (:mod:`..v201.recorders`: the messages both versions share have the same
fields), and what 2.1 adds.

* TransactionEvent: as 2.0.1, plus ``transactionInfo.tariffId``, ``timeSpentCharging``
  and the cost the station calculated (``costDetails``): the running cost of each
  event that carries one, the final cost of the ``Ended`` event
  (:class:`~fleet.actors.csms.records.TransactionCost`);
* OpenPeriodicEventStream / ClosePeriodicEventStream: the station's streams;
  NotifyPeriodicEventStream (a SEND, never answered): each stream's message count, the
  values received, the last message (:class:`~fleet.actors.csms.records.EventStreamRecord`);
* NotifyPriorityCharging: whether a transaction charges with priority;
* BatterySwap: each event (:class:`~fleet.actors.csms.records.BatterySwapRecord`);
  NotifySettlement: each settlement (:class:`~fleet.actors.csms.records.SettlementRecord`);
* answers to what the CSMS sent (:data:`CALL_RECORDERS`): the default tariffs a station
  accepted (SetDefaultTariff), and those it cleared (ClearTariffs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, cast

import msgspec
from msgspec import UNSET

from ....ocpp import v21
from ....ocpp.v21 import (
    BatterySwapRequest,
    ClearTariffsResponse,
    ClosePeriodicEventStreamRequest,
    CostDetails,
    NotifyPeriodicEventStream,
    NotifyPriorityChargingRequest,
    NotifySettlementRequest,
    OpenPeriodicEventStreamRequest,
    SetDefaultTariffResponse,
    TransactionEventRequest,
)
from ..records import BatterySwapRecord, SettlementRecord, StationState, TransactionCost
from ..v201.recorders import ANSWER_RECORDERS
from ..v201.recorders import RECORDERS as V201_RECORDERS
from ..v201.recorders import record_transaction_event as record_v201_transaction_event

__all__ = ["ANSWER_RECORDERS", "CALL_RECORDERS", "RECORDERS", "transaction_cost"]


def transaction_cost(details: CostDetails, seq_no: int, event_type: str) -> TransactionCost:
    """The version-free record of a ``costDetails`` carried by event ``seq_no``."""
    total = details.total_cost
    usage = details.total_usage
    periods = details.charging_periods if details.charging_periods is not UNSET else []
    failure = None
    if details.failure_to_calculate is True:
        failure = details.failure_reason if details.failure_reason is not UNSET else ""
    return TransactionCost(
        seq_no=seq_no,
        event_type=event_type,
        currency=total.currency,
        type_of_cost=str(total.type_of_cost),
        total_excl_tax=total.total.excl_tax if total.total.excl_tax is not UNSET else None,
        total_incl_tax=total.total.incl_tax if total.total.incl_tax is not UNSET else None,
        energy_wh=usage.energy,
        charging_time=usage.charging_time,
        idle_time=usage.idle_time,
        tariff_ids=tuple(p.tariff_id for p in periods if p.tariff_id is not UNSET),
        failure=failure,
        details=details,
    )


def record_transaction_event(state: StationState, request: TransactionEventRequest) -> None:
    """A 2.1 TransactionEvent: as 2.0.1, plus its tariff, charging time and cost."""
    record_v201_transaction_event(state, cast(Any, request))  # (its fields are 2.0.1's, in 2.1 types)
    info = request.transaction_info
    transaction = state.transaction(info.transaction_id)
    if info.tariff_id is not UNSET:
        transaction.tariff_id = info.tariff_id
    if info.time_spent_charging is not UNSET:
        transaction.time_spent_charging = info.time_spent_charging
    if request.cost_details is not UNSET:
        cost = transaction_cost(request.cost_details, request.seq_no, str(request.event_type))
        if request.event_type == v21.TransactionEvent.ENDED:
            transaction.final_cost = cost
        else:
            transaction.running_cost = cost


def record_priority_charging(state: StationState, request: NotifyPriorityChargingRequest) -> None:
    """NotifyPriorityCharging: whether the transaction charges with priority now."""
    transaction = state.transactions.get(request.transaction_id)
    if transaction is not None:  # (no record made for a transaction never seen)
        transaction.priority_charging = request.activated


def record_stream_opened(state: StationState, request: OpenPeriodicEventStreamRequest) -> None:
    """OpenPeriodicEventStream: a stream, its monitor and parameters."""
    data = request.constant_stream_data
    params = data.params
    state.record_event_stream_opened(
        data.id, data.variable_monitoring_id,
        params.interval if params.interval is not UNSET else None,
        params.values if params.values is not UNSET else None,
    )


def record_stream_closed(state: StationState, request: ClosePeriodicEventStreamRequest) -> None:
    """ClosePeriodicEventStream."""
    state.record_event_stream_closed(request.id)


def record_stream_message(state: StationState, message: NotifyPeriodicEventStream) -> None:
    """NotifyPeriodicEventStream (a SEND): counted per stream, its values kept until the next."""
    data = tuple((element.t, element.v) for element in message.data)
    state.record_event_stream_message(message.id, message.basetime, data, message.pending, message)


def record_battery_swap(state: StationState, request: BatterySwapRequest) -> None:
    """BatterySwap: the event, its requestId, the driver's token and the batteries."""
    state.record_battery_swap(BatterySwapRecord(
        event_type=str(request.event_type), request_id=request.request_id, id_token=request.id_token.id_token,
        batteries=tuple((b.evse_id, b.serial_number, b.so_c, b.so_h) for b in request.battery_data),
    ))


def record_settlement(state: StationState, request: NotifySettlementRequest) -> None:
    """NotifySettlement: the payment reference, status, amount, time, transaction, VAT number."""
    state.record_settlement(SettlementRecord(
        psp_ref=request.psp_ref, status=str(request.status), amount=request.settlement_amount,
        settled_at=request.settlement_time,
        transaction_id=request.transaction_id if request.transaction_id is not UNSET else None,
        vat_number=request.vat_number if request.vat_number is not UNSET else None,
    ))


#: What the CSMS records from each 2.1 action (besides counting it), before the handler answers.
RECORDERS: Final[Mapping[str, Callable[[StationState, Any], None]]] = MappingProxyType(
    dict(V201_RECORDERS) | {
        "TransactionEvent": record_transaction_event,
        "OpenPeriodicEventStream": record_stream_opened,
        "ClosePeriodicEventStream": record_stream_closed,
        "NotifyPeriodicEventStream": record_stream_message,
        "NotifyPriorityCharging": record_priority_charging,
        "BatterySwap": record_battery_swap,
        "NotifySettlement": record_settlement,
    }
)


def _request(action: str, request: Any) -> Any:
    """The request Struct of a CALL the CSMS sent (it may have been given as a mapping)."""
    if isinstance(request, msgspec.Struct):
        return request
    return v21.request_decoder(action).decode(msgspec.json.encode(request))


def record_default_tariff(state: StationState, response: SetDefaultTariffResponse, request: Any) -> None:
    """SetDefaultTariff answered Accepted: the EVSE's default tariff."""
    if response.status == v21.TariffSetStatus.ACCEPTED:
        sent = _request("SetDefaultTariff", request)
        state.record_tariff(sent.evse_id, sent.tariff, sent.tariff.tariff_id)


def record_tariffs_cleared(state: StationState, response: ClearTariffsResponse, request: Any) -> None:
    """ClearTariffs: the tariffs the station says it cleared."""
    state.record_tariffs_cleared({
        result.tariff_id for result in response.clear_tariffs_result
        if result.status == v21.TariffClearStatus.ACCEPTED and result.tariff_id is not UNSET
    })


#: What the CSMS records from a 2.1 station's answer to a CALL it sent.
CALL_RECORDERS: Final[Mapping[str, Callable[[StationState, Any, Any], None]]] = MappingProxyType({
    "SetDefaultTariff": record_default_tariff,
    "ClearTariffs": record_tariffs_cleared,
})
