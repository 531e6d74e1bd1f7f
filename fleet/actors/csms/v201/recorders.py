"""How the CSMS records what OCPP 2.0.1 stations send, into its version-free records.

:data:`RECORDERS` maps an action to ``record(state, request)``, run in the
connection's task for each CALL of that action before the handler answers;
:data:`ANSWER_RECORDERS` maps an action to ``record(state, response, request)``, run once the
handler has answered (the registration status given at boot). The records themselves
(:mod:`fleet.actors.csms.records`) know nothing of 2.0.1: these functions turn a
TransactionEvent into a transaction's :class:`~fleet.actors.csms.records.TxEvent`, a
StatusNotification into a connector's status, and so on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from msgspec import UNSET

from ....ocpp.v201 import (
    BootNotificationRequest,
    FirmwareStatusNotificationRequest,
    LogStatusNotificationRequest,
    Measurand,
    MeterValue,
    MeterValuesRequest,
    StatusNotificationRequest,
    TransactionEventRequest,
)
from ..records import StationIdentity, StationState, TxEvent

__all__ = [
    "ANSWER_RECORDERS",
    "RECORDERS",
    "energy_wh",
    "record_boot",
    "record_firmware_status",
    "record_log_status",
    "record_meter_values",
    "record_registration",
    "record_status",
    "record_transaction_event",
]

_ENERGY_REGISTER = Measurand.ENERGY_ACTIVE_IMPORT_REGISTER
_EXPORT_REGISTER = Measurand.ENERGY_ACTIVE_EXPORT_REGISTER
_REGISTRATION_STATUSES: Final = ("Accepted", "Pending", "Rejected")


def energy_wh(meter_values: Sequence[MeterValue], register: str = _ENERGY_REGISTER) -> float | None:
    """The last whole-station ``Energy.Active.Import.Register`` reading in ``meter_values``, in Wh
    (or of ``register``: ``Energy.Active.Export.Register``, what discharging gave).

    A sampled value counts when its measurand is that register (or absent, the
    OCPP default, for the import register) and it has no phase; ``unitOfMeasure`` (``Wh`` or ``kWh``, with
    its power-of-ten ``multiplier``) is applied. ``None`` if there is no such reading.
    """
    found: float | None = None
    default = register == _ENERGY_REGISTER
    for meter_value in meter_values:
        for sampled in meter_value.sampled_value:
            measurand = sampled.measurand
            if (measurand != register if measurand is not UNSET else not default) or sampled.phase is not UNSET:
                continue
            value = sampled.value
            unit = sampled.unit_of_measure
            if unit is not UNSET:
                if unit.multiplier is not UNSET and unit.multiplier:
                    value = value * 10.0**unit.multiplier
                if unit.unit is not UNSET and unit.unit.lower() == "kwh":
                    value = value * 1000.0
            found = float(value)
    return found


def record_boot(state: StationState, request: BootNotificationRequest) -> None:
    """A BootNotification: the station's description and the boot reason."""
    station = request.charging_station
    identity = StationIdentity(
        vendor=station.vendor_name,
        model=station.model,
        serial_number=station.serial_number if station.serial_number is not UNSET else None,
        firmware_version=station.firmware_version if station.firmware_version is not UNSET else None,
    )
    state.record_boot(station, str(request.reason), identity)


def record_registration(state: StationState, response: Any, request: Any = None) -> None:
    """The BootNotification's answer (Struct or mapping): the registration status it gave."""
    status = response.get("status") if isinstance(response, dict) else getattr(response, "status", None)
    state.record_registration(str(status) if status in _REGISTRATION_STATUSES else None)


def record_status(state: StationState, request: StatusNotificationRequest) -> None:
    """A StatusNotification: the connector's status."""
    state.record_connector_status(
        request.evse_id, request.connector_id, str(request.connector_status), request.timestamp
    )


def record_meter_values(state: StationState, request: MeterValuesRequest) -> None:
    """A MeterValues: the EVSE's last meter values."""
    state.record_meter_values(request.evse_id, tuple(request.meter_value))


def record_firmware_status(state: StationState, request: FirmwareStatusNotificationRequest) -> None:
    """A FirmwareStatusNotification."""
    state.record_firmware_status(str(request.status))


def record_log_status(state: StationState, request: LogStatusNotificationRequest) -> None:
    """A LogStatusNotification."""
    state.record_log_status(str(request.status))


def record_transaction_event(state: StationState, request: TransactionEventRequest) -> None:
    """A TransactionEvent: added to its transaction (made on first sight), whose fields it updates."""
    info = request.transaction_info
    transaction = state.transaction(info.transaction_id)
    energy: float | None = None
    if request.meter_value is not UNSET:
        transaction.meter_values = tuple(request.meter_value)
        energy = energy_wh(request.meter_value)
        if energy is not None:
            transaction.energy_wh = energy
        exported = energy_wh(request.meter_value, _EXPORT_REGISTER)
        if exported is not None:
            transaction.export_wh = exported
    charging_state = None
    if info.charging_state is not UNSET:
        charging_state = transaction.charging_state = str(info.charging_state)
    if info.stopped_reason is not UNSET:
        transaction.stopped_reason = str(info.stopped_reason)
    if info.remote_start_id is not UNSET:
        transaction.remote_start_id = info.remote_start_id
    evse = request.evse
    if evse is not UNSET:
        transaction.evse_id = evse.id
        if evse.connector_id is not UNSET:
            transaction.connector_id = evse.connector_id
    if request.id_token is not UNSET:
        transaction.id_token = request.id_token.id_token
    event_type = request.event_type
    if event_type == "Started":
        state.record_started(transaction, request.timestamp)
    elif event_type == "Ended":
        state.record_ended(transaction, request.timestamp)
    event = TxEvent(
        request.seq_no,
        str(event_type),
        str(request.trigger_reason),
        request.offline is True,
        energy,
        charging_state,
        request.timestamp,
        time.time(),
    )
    state.record_transaction_event(transaction, event)


#: What the CSMS records from each action (besides counting it), before the handler answers.
RECORDERS: Final[Mapping[str, Callable[[StationState, Any], None]]] = MappingProxyType(
    {
        "BootNotification": record_boot,
        "StatusNotification": record_status,
        "TransactionEvent": record_transaction_event,
        "MeterValues": record_meter_values,
        "FirmwareStatusNotification": record_firmware_status,
        "LogStatusNotification": record_log_status,
    }
)

#: What the CSMS records from its answer to an action, once the handler answered.
ANSWER_RECORDERS: Final[Mapping[str, Callable[[StationState, Any, Any], None]]] = MappingProxyType(
    {"BootNotification": record_registration}
)
