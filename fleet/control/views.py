"""The control API's views of a station: rows and details from the actors' typed snapshots.

A station the fleet simulates is read from its :class:`~fleet.actors.station.StationSnapshot`
(and its dialect's settings, for the variables: the 2.0.1 device model, the 1.6 configuration
keys); a station seen by the CSMS from the CSMS's
:class:`~fleet.actors.csms.records.StationRecord`. Both are read field by field, by
their declared types.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import msgspec

from .messages import (
    ConnectorInfo,
    CostInfo,
    DerControlInfo,
    EvseInfo,
    StationDetail,
    StationError,
    StationRow,
    TransactionInfo,
    Variable,
)

if TYPE_CHECKING:
    from ..actors.csms.records import StationRecord, TransactionCost, TransactionRecord
    from ..actors.station import StationSnapshot
    from ..ocpp.v201 import MeterValue
    from .handles import StationHandle

__all__ = [
    "MASK",
    "detail_from_record",
    "detail_from_station",
    "profile_name",
    "row_from_record",
    "row_from_station_snapshot",
]


def _number(value: float | None, default: float = 0.0) -> float:
    """``value`` as a finite float (``default`` for ``None``, NaN or infinity)."""
    if value is None:
        return default
    result = float(value)
    return result if math.isfinite(result) else default


def _reading(value: float | str, otherwise: float | None) -> float | None:
    """A sampled value as a number (OCPP 1.6 sends text: ``otherwise`` when it is not a number)."""
    try:
        return _number(float(value))
    except ValueError:
        return otherwise


def row_from_station_snapshot(snapshot: StationSnapshot, profile: str = "") -> StationRow:
    """A :class:`StationRow` from a station actor's snapshot (a few microseconds;
    ``LocalBackend`` also reuses the row of an unchanged snapshot)."""
    connectors: list[str] = []
    power = energy = 0.0
    soc: float | None = None
    tx_id: str | None = None
    for evse in snapshot.evses:
        for connector in evse.connectors:
            connectors.append(str(connector.status))
        power += _number(evse.power_w)
        energy += _number(evse.energy_wh)
        if soc is None and evse.soc is not None:
            soc = _number(evse.soc)
        if tx_id is None and evse.transaction_id:
            tx_id = str(evse.transaction_id)
    counters = snapshot.counters
    return StationRow(
        id=snapshot.station_id,
        profile=profile,
        state=snapshot.state,
        connectors=connectors,
        ocpp_version=snapshot.ocpp_version,
        power_w=power,
        energy_wh=energy,
        soc=soc,
        tx_id=tx_id,
        last_error=snapshot.last_error or "",
        calls=counters.calls,  # our CALLs that got an answer or failed
        errors=counters.calls_failed,  # of those, failed
        reconnects=max(0, counters.connects - 1),
        queued=snapshot.queued_events,
    )


def profile_name(station: StationHandle) -> str:
    """The name of the profile ``station`` was made from."""
    return station.profile.name or ""


def detail_from_station(station: StationHandle, snapshot: StationSnapshot, profile: str) -> StationDetail:
    """Everything about a station the fleet simulates."""
    row = row_from_station_snapshot(snapshot, profile)
    evses = []
    for evse in snapshot.evses:
        connectors = [ConnectorInfo(c.connector_id, str(c.status)) for c in evse.connectors]
        tx = None
        if evse.transaction_id:
            tx = TransactionInfo(
                id=str(evse.transaction_id),
                power_w=_number(evse.power_w),
                energy_wh=_number(evse.energy_wh),
                soc=_number(evse.soc) if evse.soc is not None else None,
                id_token=evse.id_token or None,
                state=evse.charging_state or None,
            )
        cost = evse.cost
        evses.append(EvseInfo(
            evse.evse_id, connectors, tx,
            export_wh=_number(evse.export_wh) if evse.bidirectional else None,
            cost=CostInfo(cost.transaction_id, cost.currency, cost.excl_tax, cost.incl_tax, cost.final,
                          cost.type_of_cost, cost.tariff_id) if cost is not None else None,
        ))
    der = snapshot.der_controls
    extra: dict[str, str] = {}
    if snapshot.ocpp_version is not None:
        extra["ocpp_version"] = snapshot.ocpp_version
    if snapshot.registration is not None:
        extra["registration"] = snapshot.registration
    return StationDetail(
        row=row,
        url=snapshot.csms_url,
        ocpp_version=snapshot.ocpp_version,
        evses=evses,
        variables=_variables_of(station),
        errors=[StationError(row.last_error)] if row.last_error else [],
        counters={name: int(value) for name, value in msgspec.structs.asdict(snapshot.counters).items()},
        extra=extra,
        der_controls=[DerControlInfo(c.control_id, c.control_type, c.active, c.is_default, c.superseded)
                      for c in der] if der is not None else None,
    )


#: Variables whose values are secrets: shown masked, never sent.
_SECRET_WORDS = ("password", "secret", "privatekey")
MASK = "••••••"


def _masked(variable: str, value: str | None) -> str | None:
    if value and any(word in variable.lower() for word in _SECRET_WORDS):
        return MASK
    return value


def _variables_of(station: StationHandle) -> list[Variable]:
    """The station's whole configuration model, as its dialect lists it (secrets masked)."""
    try:
        settings = station.settings()
    except Exception:  # a model that cannot report must not cost the rest of the detail
        return []
    return [Variable(s.component, s.variable, _masked(s.variable, s.value), s.instance, s.evse_id, s.readonly)
            for s in settings]


# -------------------------------------------------------- CSMS-side views


def _measure(meter_values: Iterable[MeterValue], measurand: str) -> float | None:
    """The last phase-less reading of ``measurand`` in ``meter_values``."""
    found: float | None = None
    for meter_value in meter_values:
        for sampled in meter_value.sampled_value:
            m = sampled.measurand if sampled.measurand is not msgspec.UNSET else "Energy.Active.Import.Register"
            if m == measurand and sampled.phase is msgspec.UNSET:
                found = _reading(sampled.value, found)
    return found


def _active_transactions(record: StationRecord) -> list[TransactionRecord]:
    return [t for t in record.transactions.values() if not t.ended]


def row_from_record(record: StationRecord) -> StationRow:
    """A :class:`StationRow` for a station as the CSMS sees it."""
    active = _active_transactions(record)
    registration = record.registration_status
    statuses = [str(c.status) for c in record.connectors]
    if not record.connected:
        state = "offline"
    elif registration in ("Pending", "Rejected"):
        state = str(registration).lower()
    elif registration is None:
        state = "booting"
    elif active:
        state = "charging"
    elif "Faulted" in statuses:
        state = "faulted"
    else:
        state = "available"
    tx = active[0] if active else None
    meter = tx.meter_values if tx is not None else ()
    model = record.boot.identity.model if record.boot is not None else ""
    return StationRow(
        id=record.station_id,
        profile=str(model or ""),
        state=state,
        connectors=statuses,
        ocpp_version=record.ocpp_version or "",
        power_w=_measure(meter, "Power.Active.Import") or 0.0,
        energy_wh=_number(tx.energy_wh) if tx is not None else 0.0,
        soc=_measure(meter, "SoC"),
        tx_id=str(tx.transaction_id) if tx is not None else None,
        last_error="" if record.connected else str(record.disconnect_reason or ""),
        calls=sum(record.messages.values()),
        reconnects=max(0, record.connections - 1),
    )


def _cost_info(transaction_id: str, cost: TransactionCost) -> CostInfo:
    """A cost the CSMS recorded, as the detail shows it."""
    tariff = cost.tariff_ids[-1] if cost.tariff_ids else None
    return CostInfo(transaction_id, cost.currency, cost.total_excl_tax, cost.total_incl_tax,
                    cost.event_type == "Ended", cost.type_of_cost, tariff)


def detail_from_record(record: StationRecord) -> StationDetail:
    """Everything the CSMS knows about a station."""
    row = row_from_record(record)
    by_evse: dict[int, list[ConnectorInfo]] = {}
    for c in record.connectors:
        by_evse.setdefault(c.evse_id, []).append(ConnectorInfo(c.connector_id, str(c.status)))
    txs: dict[int, TransactionInfo] = {}
    for tx in _active_transactions(record):
        meter = tx.meter_values
        txs[tx.evse_id or 1] = TransactionInfo(
            id=str(tx.transaction_id),
            power_w=_measure(meter, "Power.Active.Import") or 0.0,
            energy_wh=_number(tx.energy_wh),
            soc=_measure(meter, "SoC"),
            id_token=tx.id_token,
            started_at=str(tx.started_at) if tx.started_at is not None else None,
            state=tx.charging_state,
        )
    exports: dict[int, float] = {}
    costs: dict[int, CostInfo] = {}
    for tx in record.transactions.values():  # (in order of arrival: the last one of an EVSE wins)
        evse_id = tx.evse_id or 1
        if tx.export_wh is not None:
            exports[evse_id] = _number(tx.export_wh)
        cost = tx.final_cost or (tx.running_cost if not tx.ended else None)
        if cost is not None:
            costs[evse_id] = _cost_info(str(tx.transaction_id), cost)
        else:
            costs.pop(evse_id, None)
    evses = [EvseInfo(e, by_evse.get(e, []), txs.get(e), exports.get(e), costs.get(e))
             for e in sorted(set(by_evse) | set(txs))]
    variables = []
    if record.boot is not None:
        said = record.boot.identity  # (version-free: the CSMS speaks several versions)
        for name, value in (("model", said.model), ("vendor_name", said.vendor),
                            ("serial_number", said.serial_number), ("firmware_version", said.firmware_version)):
            if value is not None:
                variables.append(Variable("ChargingStation", name, str(value)))
    errors = [StationError(row.last_error, record.disconnected_at)] if row.last_error else []
    return StationDetail(
        row=row,
        ocpp_version=record.ocpp_version,
        evses=evses,
        variables=variables,
        errors=errors,
        counters={str(k): int(v) for k, v in record.messages.items()},
        extra={
            "remote": record.remote,
            "registration_status": record.registration_status,
            "connections": record.connections,
            "firmware_status": record.firmware_status,
        },
    )
