"""How the CSMS records what OCPP 1.6 stations send, into its version-free records.

:data:`RECORDERS` maps an action to ``record(state, request)``, run in the
connection's task for each CALL of that action before the handler answers;
:data:`ANSWER_RECORDERS` maps an action to ``record(state, response, request)``, run
once the handler has answered. The records (:mod:`fleet.actors.csms.records`) know
nothing of 1.6; this is how 1.6's messages map onto them:

* a 1.6 **connector** N (1, 2, ...) is EVSE N with its one connector 1: its status is
  recorded under ``(N, 1)``; connector 0, the charge point as a whole, under ``(0, 0)``.
  A StatusNotification without ``timestamp`` is recorded at the time it arrived.
* a **transaction** is recorded under the ``transactionId`` the CSMS assigned, as text
  (``"17"``), once the StartTransaction is answered (the id is in the answer). Its
  events (:class:`~fleet.actors.csms.records.TxEvent`) are the StartTransaction
  (``Started``), each MeterValues carrying its ``transactionId`` (``Updated``) and the
  StopTransaction (``Ended``); 1.6 has no ``seqNo``, so an event's ``seq_no`` is its
  position in the transaction (0 for the start), and a message that repeats the
  transaction's previous one exactly (the station sent it again after a lost answer)
  keeps that one's ``seq_no`` and is flagged ``retransmission``. ``trigger_reason`` is
  ``StartTransaction`` / ``StopTransaction``, or the MeterValues' reading context (its
  first sampled value's that has one: ``Sample.Periodic``, the default, ``Sample.Clock``,
  ``Trigger``...); ``offline`` is always false
  (1.6 does not say).
* **energy**: the transaction's ``energy_wh`` is the energy register in Wh, as in 2.0.1:
  ``meterStart`` at the start, the ``Energy.Active.Import.Register`` readings of its
  MeterValues, ``meterStop`` at the end; so the energy it delivered is
  ``meterStop - meterStart`` (:func:`delivered_wh`). ``stopped_reason`` is the
  StopTransaction's ``reason`` (``Local`` when absent, as 1.6 defines), ``meter_values``
  its ``transactionData`` (or the last MeterValues' readings).
* the station's description at boot is the BootNotificationRequest itself (1.6 gives no
  boot reason: it is recorded as ``""``); DiagnosticsStatusNotification and
  LogStatusNotification set ``log_status``; FirmwareStatusNotification and
  SignedFirmwareStatusNotification set ``firmware_status``.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from msgspec import UNSET, UnsetType

from ....ocpp.v16 import (
    BootNotificationRequest,
    DiagnosticsStatusNotificationRequest,
    FirmwareStatusNotificationRequest,
    LogStatusNotificationRequest,
    Measurand,
    MeterValue,
    MeterValuesRequest,
    SignedFirmwareStatusNotificationRequest,
    StartTransactionRequest,
    StatusNotificationRequest,
    StopTransactionRequest,
    TransactionData,
    ValueFormat,
)
from ..records import StationIdentity, StationState, TransactionRecord, TransactionState, TxEvent
from ..v201.recorders import record_registration  # (version-free: reads the answer's status)

__all__ = [
    "ANSWER_RECORDERS",
    "RECORDERS",
    "connector_key",
    "delivered_wh",
    "energy_wh",
    "record_boot",
    "record_diagnostics_status",
    "record_firmware_status",
    "record_log_status",
    "record_meter_values",
    "record_registration",
    "record_signed_firmware_status",
    "record_start_transaction",
    "record_status",
    "record_stop_transaction",
]

_ENERGY_REGISTER = Measurand.ENERGY_ACTIVE_IMPORT_REGISTER
_STARTED = "StartTransaction"
_STOPPED = "StopTransaction"
_PERIODIC = "Sample.Periodic"


def connector_key(connector_id: int) -> tuple[int, int]:
    """The (EVSE, connector) a 1.6 connector is recorded under: ``(N, 1)``, the charge point ``(0, 0)``."""
    return (connector_id, 1) if connector_id > 0 else (0, 0)


def energy_wh(readings: Sequence[MeterValue] | Sequence[TransactionData]) -> float | None:
    """The last whole-station ``Energy.Active.Import.Register`` reading in ``readings``, in Wh.

    A sampled value counts when its measurand is that register (or absent, the 1.6
    default), it has no phase and its format is not ``SignedData``; its text is read as a
    number (a value that is not one is skipped) and ``kWh`` is converted. ``None`` if there
    is no such reading.
    """
    found: float | None = None
    for reading in readings:
        for sampled in reading.sampled_value:
            measurand = sampled.measurand
            if (measurand is not UNSET and measurand != _ENERGY_REGISTER) or sampled.phase is not UNSET:
                continue
            if sampled.format == ValueFormat.SIGNED_DATA:
                continue
            try:
                value = float(sampled.value)
            except ValueError:
                continue
            if sampled.unit == "kWh":
                value *= 1000.0
            found = value
    return found


def delivered_wh(transaction: TransactionRecord) -> float | None:
    """The energy a 1.6 transaction delivered: its last register reading (``meterStop`` once it
    ended) minus ``meterStart``; ``None`` until both are known."""
    if not transaction.events or transaction.energy_wh is None:
        return None
    start = transaction.events[0]
    if start.event_type != "Started" or start.energy_wh is None:
        return None
    return transaction.energy_wh - start.energy_wh


def record_boot(state: StationState, request: BootNotificationRequest) -> None:
    """A BootNotification: the charge point's description (the request itself; 1.6 gives no reason)."""
    identity = StationIdentity(
        vendor=request.charge_point_vendor,
        model=request.charge_point_model,
        serial_number=_given(request.charge_point_serial_number),
        firmware_version=_given(request.firmware_version),
    )
    state.record_boot(request, "", identity)


def _given(value: str | UnsetType) -> str | None:
    return value if isinstance(value, str) else None


def record_status(state: StationState, request: StatusNotificationRequest) -> None:
    """A StatusNotification: the connector's status (connector 0: the charge point's)."""
    evse_id, connector_id = connector_key(request.connector_id)
    timestamp = request.timestamp
    state.record_connector_status(
        evse_id,
        connector_id,
        str(request.status),
        timestamp if timestamp is not UNSET else datetime.datetime.now(datetime.UTC),
    )


def _add_event(
    state: StationState,
    transaction: TransactionState,
    event_type: str,
    trigger_reason: str,
    energy: float | None,
    timestamp: datetime.datetime,
) -> None:
    """Add one event to ``transaction``: the next ``seq_no``, or the previous event's when it
    repeats that one exactly (flagged a retransmission by the record)."""
    events = transaction.events
    seq_no = 0
    if events:
        last = events[-1]
        seq_no = last.seq_no
        repeat = TxEvent(seq_no, event_type, trigger_reason, False, energy, None, timestamp, 0.0)
        if not repeat.repeats(last):
            seq_no += 1
    elif event_type != "Started":
        seq_no = 1  # (its StartTransaction has not come: 0 stays the start's)
    event = TxEvent(seq_no, event_type, trigger_reason, False, energy, None, timestamp, time.time())
    state.record_transaction_event(transaction, event)


def record_start_transaction(state: StationState, response: Any, request: StartTransactionRequest) -> None:
    """A StartTransaction, once answered (the answer names the transaction): the transaction
    with its connector, idTag, ``meterStart`` and start time."""
    if isinstance(response, dict):
        transaction_id = response.get("transactionId")
    else:
        transaction_id = getattr(response, "transaction_id", None)
    if not isinstance(transaction_id, int) or isinstance(transaction_id, bool):
        return  # not a valid answer: the station got no transaction id, there is no transaction
    transaction = state.transaction(str(transaction_id))
    transaction.evse_id, transaction.connector_id = connector_key(request.connector_id)
    transaction.id_token = request.id_tag
    energy = float(request.meter_start)
    if transaction.energy_wh is None or not transaction.events:
        transaction.energy_wh = energy
    state.record_started(transaction, request.timestamp)
    _add_event(state, transaction, "Started", _STARTED, energy, request.timestamp)


def record_meter_values(state: StationState, request: MeterValuesRequest) -> None:
    """A MeterValues: the connector's last meter values and, when it names a transaction,
    an ``Updated`` event of that transaction with its energy register."""
    readings = tuple(request.meter_value)
    state.record_meter_values(request.connector_id, readings)
    if request.transaction_id is UNSET:
        return
    transaction = state.transaction(str(request.transaction_id))
    transaction.meter_values = readings
    energy = energy_wh(readings)
    if energy is not None:
        transaction.energy_wh = energy
    first = readings[0]
    context = next((str(s.context) for s in first.sampled_value if s.context is not UNSET), _PERIODIC)
    _add_event(state, transaction, "Updated", context, energy, first.timestamp)


def record_stop_transaction(state: StationState, request: StopTransactionRequest) -> None:
    """A StopTransaction: its transaction ends, with ``meterStop``, the reason and ``transactionData``."""
    transaction = state.transaction(str(request.transaction_id))
    energy = float(request.meter_stop)
    transaction.energy_wh = energy
    transaction.stopped_reason = str(request.reason) if request.reason is not UNSET else "Local"
    if request.id_tag is not UNSET:
        transaction.id_token = request.id_tag
    if request.transaction_data is not UNSET and request.transaction_data:
        transaction.meter_values = tuple(request.transaction_data)
    state.record_ended(transaction, request.timestamp)
    _add_event(state, transaction, "Ended", _STOPPED, energy, request.timestamp)


def record_firmware_status(state: StationState, request: FirmwareStatusNotificationRequest) -> None:
    """A FirmwareStatusNotification."""
    state.record_firmware_status(str(request.status))


def record_signed_firmware_status(state: StationState, request: SignedFirmwareStatusNotificationRequest) -> None:
    """A SignedFirmwareStatusNotification (Security Extension): the firmware status too."""
    state.record_firmware_status(str(request.status))


def record_diagnostics_status(state: StationState, request: DiagnosticsStatusNotificationRequest) -> None:
    """A DiagnosticsStatusNotification: the upload of diagnostics, recorded as the log status."""
    state.record_log_status(str(request.status))


def record_log_status(state: StationState, request: LogStatusNotificationRequest) -> None:
    """A LogStatusNotification (Security Extension)."""
    state.record_log_status(str(request.status))


#: What the CSMS records from each action (besides counting it), before the handler answers.
RECORDERS: Final[Mapping[str, Callable[[StationState, Any], None]]] = MappingProxyType(
    {
        "BootNotification": record_boot,
        "StatusNotification": record_status,
        "MeterValues": record_meter_values,
        "StopTransaction": record_stop_transaction,
        "FirmwareStatusNotification": record_firmware_status,
        "SignedFirmwareStatusNotification": record_signed_firmware_status,
        "DiagnosticsStatusNotification": record_diagnostics_status,
        "LogStatusNotification": record_log_status,
    }
)

#: What the CSMS records from its answer to an action (with the request), once the handler answered.
ANSWER_RECORDERS: Final[Mapping[str, Callable[[StationState, Any, Any], None]]] = MappingProxyType(
    {"BootNotification": record_registration, "StartTransaction": record_start_transaction}
)
