"""OCPP 2.0.1's reading of the station's hardware: transaction conditions, connector
statuses, charging states, meter values, and which queued request may be shed.

The hardware and its physics are version-free (:mod:`fleet.actors.station.hardware`);
the queue too (:mod:`fleet.actors.station.outbox`).

Transaction model (OCPP 2.0.1 E, "flexible transaction start/stop"): an EVSE has
conditions that are true or false: ``EVConnected`` (cable plugged; also stands for
``ParkingBayOccupancy``), ``Authorized`` (also ``DataSigned``), ``PowerPathClosed``
(connected and authorized and operative) and ``EnergyTransfer`` (power flowing). A
transaction starts when a condition listed in TxStartPoint becomes true, and ends
when a condition listed in TxStopPoint that held during the transaction stops
holding (or when nothing holds any more: no cable and no authorization).

Electrical model: a plugged, authorized vehicle draws ``min(EVSE max power,
vehicle max power, smart-charging limit)`` until it has taken its energy demand
(then it is SuspendedEV); a zero limit or an inoperative EVSE gives SuspendedEVSE.
AC current is power / (voltage x phases); the energy register integrates power
over (simulated) time. A discharging vehicle (V2X, a version that simulates it) gives
negative power, its energy counted by the export register
(``Energy.Active.Export.Register``).
"""
from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from ....ocpp.v201 import (
    ChargingState,
    ConnectorStatus,
    Measurand,
    MeterValue,
    ReadingContext,
    SampledValue,
    TransactionEvent,
    TransactionEventRequest,
    TriggerReason,
    UnitOfMeasure,
)
from ..hardware import ConnectorState, EvseState

__all__ = [
    "AUTHORIZED",
    "ENERGY_TRANSFER",
    "EV_CONNECTED",
    "POWER_PATH_CLOSED",
    "charging_state",
    "conditions",
    "connector_status",
    "normalize_points",
    "sample",
    "sheddable",
]

EV_CONNECTED = "EVConnected"
AUTHORIZED = "Authorized"
POWER_PATH_CLOSED = "PowerPathClosed"
ENERGY_TRANSFER = "EnergyTransfer"
_ALIASES = {"ParkingBayOccupancy": EV_CONNECTED, "DataSigned": AUTHORIZED}

_UNITS = {
    Measurand.ENERGY_ACTIVE_IMPORT_REGISTER: UnitOfMeasure(unit="Wh"),
    Measurand.ENERGY_ACTIVE_EXPORT_REGISTER: UnitOfMeasure(unit="Wh"),
    Measurand.POWER_ACTIVE_IMPORT: UnitOfMeasure(unit="W"),
    Measurand.POWER_ACTIVE_EXPORT: UnitOfMeasure(unit="W"),
    Measurand.POWER_OFFERED: UnitOfMeasure(unit="W"),
    Measurand.CURRENT_IMPORT: UnitOfMeasure(unit="A"),
    Measurand.CURRENT_OFFERED: UnitOfMeasure(unit="A"),
    Measurand.VOLTAGE: UnitOfMeasure(unit="V"),
    Measurand.SOC: UnitOfMeasure(unit="Percent"),
    Measurand.FREQUENCY: UnitOfMeasure(unit="Hz"),
}


def normalize_points(points: Iterable[str]) -> frozenset[str]:
    """TxStartPoint/TxStopPoint values mapped onto the conditions the model knows."""
    return frozenset(_ALIASES.get(p, p) for p in points)


def connector_status(evse: EvseState, connector: ConnectorState, station_operative: bool) -> ConnectorStatus:
    """The status a connector reports now."""
    if connector.faulted:
        return ConnectorStatus.FAULTED
    if evse.plugged == connector.connector_id:
        return ConnectorStatus.OCCUPIED
    if evse.plugged is not None:
        return ConnectorStatus.UNAVAILABLE
    if not (station_operative and evse.operative and connector.operative):
        return ConnectorStatus.UNAVAILABLE
    if evse.reservation is not None:
        return ConnectorStatus.RESERVED
    return ConnectorStatus.AVAILABLE


def charging_state(evse: EvseState, station_operative: bool) -> ChargingState:
    """The charging state of ``evse`` now."""
    if evse.plugged is None:
        return ChargingState.IDLE
    if evse.authorized is None:
        return ChargingState.EV_CONNECTED
    if not (evse.operative and station_operative):
        return ChargingState.SUSPENDED_EVSE
    if evse.power_w < 0:  # discharging (V2X): energy transfer
        return ChargingState.CHARGING
    vehicle = evse.vehicle
    if vehicle is not None and vehicle.full:
        return ChargingState.SUSPENDED_EV
    if evse.limit_w is not None and evse.limit_w <= 0:
        return ChargingState.SUSPENDED_EVSE
    if evse.setpoint_w is not None and evse.power_w == 0:  # told to idle (V2X)
        return ChargingState.SUSPENDED_EVSE
    return ChargingState.CHARGING


def sample(evse: EvseState, measurands: Iterable[str], context: ReadingContext,
           timestamp: datetime.datetime) -> MeterValue | None:
    """A MeterValue of the measurands this model knows (None if none applies)."""
    values: list[SampledValue] = []
    for name in measurands:
        try:
            measurand = Measurand(name)
        except ValueError:
            continue
        value: float
        if measurand == Measurand.ENERGY_ACTIVE_IMPORT_REGISTER:
            value = round(evse.register_wh, 1)
        elif measurand == Measurand.ENERGY_ACTIVE_EXPORT_REGISTER:
            value = round(evse.export_wh, 1)
        elif measurand == Measurand.POWER_ACTIVE_IMPORT:
            value = round(evse.power_w, 1)  # negative while discharging (V2X)
        elif measurand == Measurand.POWER_ACTIVE_EXPORT:
            value = round(max(0.0, -evse.power_w), 1)
        elif measurand == Measurand.POWER_OFFERED:
            value = round(evse.max_power_w if evse.limit_w is None else min(evse.max_power_w, evse.limit_w), 1)
        elif measurand == Measurand.CURRENT_IMPORT:
            value = round(evse.current_a(), 2)
        elif measurand == Measurand.CURRENT_OFFERED:
            offered = evse.max_power_w if evse.limit_w is None else min(evse.max_power_w, evse.limit_w)
            value = round(offered / (evse.voltage * (evse.phases if evse.ac else 1)), 2)
        elif measurand == Measurand.VOLTAGE:
            value = evse.voltage
        elif measurand == Measurand.SOC:
            if evse.vehicle is None:
                continue
            value = round(evse.vehicle.soc, 1)
        elif measurand == Measurand.FREQUENCY:
            if not evse.ac:
                continue
            value = 50.0
        else:
            continue
        values.append(
            SampledValue(value=value, context=context, measurand=measurand, unit_of_measure=_UNITS[measurand])
        )
    if not values:
        return None
    return MeterValue(sampled_value=values, timestamp=timestamp)


def conditions(evse: EvseState, station_operative: bool) -> frozenset[str]:
    """The transaction conditions that hold on ``evse`` now."""
    held = set()
    if evse.plugged is not None:
        held.add(EV_CONNECTED)
    if evse.authorized is not None:
        held.add(AUTHORIZED)
    if evse.power_path_closed(station_operative):
        held.add(POWER_PATH_CLOSED)
    if evse.power_w != 0:
        held.add(ENERGY_TRANSFER)
    return frozenset(held)


def sheddable(request: Any, event_type: type[Any] = TransactionEventRequest) -> bool:
    """Whether a queued request may be dropped from a full offline queue: a periodic or
    clock-aligned meter-value update; never a transaction's start or end. ``event_type``
    is the version's TransactionEventRequest."""
    return (
        isinstance(request, event_type)
        and request.event_type == TransactionEvent.UPDATED
        and request.trigger_reason in (TriggerReason.METER_VALUE_PERIODIC, TriggerReason.METER_VALUE_CLOCK)
    )
