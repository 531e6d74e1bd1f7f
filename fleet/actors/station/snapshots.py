"""What the outside world reads of a station: frozen snapshots (version-free).

:meth:`Station.snapshot <fleet.actors.station.Station.snapshot>` builds them, cached
until something changes; the control layer, the dashboard and the tests read them.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

__all__ = ["STATES", "ConnectorSnapshot", "CostSnapshot", "DerControlSnapshot", "EvseSnapshot", "Setting",
           "StationCounters", "StationSnapshot", "StationState"]

StationState = Literal[
    "idle", "connecting", "booting", "pending", "rejected", "available", "charging", "faulted", "offline", "closed"
]
#: Every state a station reports, in lifecycle order.
STATES: Final = (
    "idle", "connecting", "booting", "pending", "rejected", "available", "charging", "faulted", "offline", "closed"
)


class Setting(msgspec.Struct, frozen=True, gc=False):
    """One setting of a station's configuration model, as its dialect lists it: a 2.0.1
    device-model variable, or a 1.6 configuration key.

    Attributes:
        component: the 2.0.1 component (``""`` for a 1.6 configuration key).
        variable: the variable (with ``[instance]``), or the configuration key.
        value: its value (``None``: none, or not readable, as a write-only key).
        readonly: whether the CSMS cannot change it.
        instance: the component's instance, if any.
        evse_id: the component's EVSE, if any.
    """

    component: str
    variable: str
    value: str | None
    readonly: bool = False
    instance: str | None = None
    evse_id: int | None = None


class ConnectorSnapshot(msgspec.Struct, frozen=True, gc=False):
    """One connector.

    Attributes:
        connector_id: its number on the EVSE (from 1).
        status: the OCPP connector status (``Available``, ``Occupied``, ...).
        type: the OCPP connector type.
    """

    connector_id: int
    status: str
    type: str


class CostSnapshot(msgspec.Struct, frozen=True, gc=False):
    """The cost of a transaction as the station calculated it (OCPP 2.1 local cost): the
    running cost its last TransactionEvent carried, or the final cost its Ended event carried.

    Attributes:
        transaction_id: the transaction.
        currency: the tariff's currency (ISO 4217).
        excl_tax: the total excluding tax, if the cost has it.
        incl_tax: the total including tax, if the cost has it.
        final: whether it is the final cost (the transaction ended).
        type_of_cost: ``NormalCost``, ``MinCost`` or ``MaxCost``.
        tariff_id: the tariff in force.
    """

    transaction_id: str
    currency: str
    excl_tax: float | None
    incl_tax: float | None
    final: bool
    type_of_cost: str = "NormalCost"
    tariff_id: str | None = None


class DerControlSnapshot(msgspec.Struct, frozen=True, gc=False):
    """One DER control a station holds (OCPP 2.1 DER control).

    Attributes:
        control_id: its id.
        control_type: its type (``LimitMaxDischarge``, ``FreqDroop``, ...).
        active: whether it is in force now (a scheduled control that started, or a
            default one), not superseded.
        is_default: a default control (else a scheduled one).
        superseded: superseded by a control of a higher priority.
    """

    control_id: str
    control_type: str
    active: bool
    is_default: bool
    superseded: bool = False


class EvseSnapshot(msgspec.Struct, frozen=True):
    """One EVSE.

    Attributes:
        evse_id: its number (from 1).
        connectors: its connectors.
        operative: whether it is operative (ChangeAvailability).
        plugged: the connector a vehicle is plugged into, if any.
        transaction_id: the running transaction, if any.
        charging_state: the transaction's charging state, if any.
        id_token: the token that authorized the transaction, if any.
        power_w: power delivered now, W.
        energy_wh: energy of the running transaction so far, Wh.
        register_wh: the meter's energy register, Wh.
        soc: the vehicle's state of charge, percent, if a vehicle is plugged.
        limit_w: the smart-charging limit in force, W, if any.
        export_wh: the export register: energy given by discharging vehicles (V2X), Wh;
            ``power_w`` is negative while a vehicle discharges.
        bidirectional: whether the EVSE can discharge vehicles (V2X).
        cost: the cost of its transaction, running or final (the last transaction's,
            until another one starts), where the station calculates cost; else None.
    """

    evse_id: int
    connectors: tuple[ConnectorSnapshot, ...]
    operative: bool
    plugged: int | None
    transaction_id: str | None
    charging_state: str | None
    id_token: str | None
    power_w: float
    energy_wh: float
    register_wh: float
    soc: float | None
    limit_w: float | None
    export_wh: float = 0.0
    bidirectional: bool = False
    cost: CostSnapshot | None = None


class StationCounters(msgspec.Struct, frozen=True, gc=False):
    """What a station did so far.

    Attributes:
        connects: connections opened.
        connect_failures: connection attempts that failed.
        disconnects: connections lost or closed.
        boots: BootNotification answers received.
        reboots: simulated reboots (Reset, firmware update).
        heartbeats: heartbeats answered.
        transactions_started: transactions started.
        transactions_ended: transactions ended.
        events_generated: TransactionEvents generated.
        events_sent: TransactionEvents the CSMS acknowledged.
        events_dropped: TransactionEvents given up (CALLERROR after all attempts,
            or shed from a full offline queue).
        requests_failed: other requests of ours that failed.
        calls: OCPP calls of ours that got an answer or failed (every kind, also those
            sent through :meth:`Station.call`); ``calls_failed``: of those, the ones that
            failed (CALLERROR, invalid answer, timeout, connection lost).
    """

    connects: int
    connect_failures: int
    disconnects: int
    boots: int
    reboots: int
    heartbeats: int
    transactions_started: int
    transactions_ended: int
    events_generated: int
    events_sent: int
    events_dropped: int
    requests_failed: int
    calls: int = 0
    calls_failed: int = 0


class StationSnapshot(msgspec.Struct, frozen=True):
    """A station's state at one moment (a copy; never changes).

    Attributes:
        station_id: the station id.
        state: one of :data:`STATES`: ``idle`` (not started or waiting for a
            ``connect``), ``connecting``, ``booting`` (waiting for the
            BootNotification answer), ``pending``, ``rejected``, ``available``,
            ``charging`` (a transaction delivers energy), ``faulted`` (a connector
            is faulted), ``offline`` (connection lost, reconnecting), ``closed``.
        registration: the last BootNotification status, if any.
        connected: whether the websocket is up.
        csms_url: where it connects.
        ocpp_version: the protocol version.
        evses: the EVSEs.
        queued: requests waiting to be sent (TransactionEvents among them survive
            disconnections).
        queued_events: TransactionEvents waiting to be sent.
        counters: what it did so far.
        last_error: the last connection or request error, if any.
        der_controls: the DER controls it holds, in the order they were set, where the
            station simulates DER control; else None.
    """

    station_id: str
    state: str
    registration: str | None
    connected: bool
    csms_url: str
    ocpp_version: str
    evses: tuple[EvseSnapshot, ...]
    queued: int
    queued_events: int
    counters: StationCounters
    last_error: str | None
    der_controls: tuple[DerControlSnapshot, ...] | None = None
