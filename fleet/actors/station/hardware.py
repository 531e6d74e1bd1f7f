"""The station's hardware and physics, whatever OCPP version it speaks.

Plain state objects with ``__slots__`` (a fleet holds tens of thousands): no I/O, no
trio, no OCPP types; the station actor drives them with its clock.

Electrical model: a plugged, authorized vehicle draws ``min(EVSE max power, vehicle
max power, smart-charging limit)`` until it has taken its energy demand (then it is
full); a zero limit or an inoperative EVSE gives no power. AC current is power /
(voltage x phases); the energy register integrates power over (simulated) time and
the vehicle's state of charge follows the energy it took.

Power is signed: positive charges the vehicle, negative discharges it (V2X). Only a
dialect that simulates V2X sets an EVSE's ``setpoint_w`` (``None``: charge as much as
allowed, the only mode of the versions without V2X); a negative setpoint discharges a
vehicle that can (``max_discharge_w`` > 0) on a ``bidirectional`` EVSE, at most at the
smaller of both maxima and the ``discharge_limit_w``, down to the vehicle's minimum
state of charge; the energy given goes into the export register ``export_wh``.

What these states mean in a protocol (connector statuses, charging states, meter
values, when a transaction starts and ends) is the dialect's business (e.g.
:mod:`fleet.actors.station.v201.transactions`).
"""

from __future__ import annotations

import datetime
from typing import Any, Protocol

from ...profiles import EvseProfile

__all__ = ["ConnectorState", "EvseState", "Reservation", "Token", "TxState", "Vehicle"]


class Token(Protocol):
    """An identifier token as the hardware sees it: its text (a 2.0.1 ``IdToken``, ...)."""

    @property
    def id_token(self) -> str: ...


class Vehicle:
    """The EV plugged into an EVSE."""

    __slots__ = ("capacity_wh", "delivered_wh", "demand_wh", "floor_wh", "initial_soc", "max_discharge_w",
                 "max_power_w")

    def __init__(self, capacity_wh: float, max_power_w: float, initial_soc: float, demand_wh: float,
                 max_discharge_w: float = 0.0, min_soc: float = 100.0) -> None:
        self.capacity_wh = capacity_wh
        self.max_power_w = max_power_w
        self.initial_soc = initial_soc
        free = capacity_wh * (100.0 - initial_soc) / 100.0
        self.demand_wh = max(0.0, min(demand_wh, free))
        #: energy taken so far, Wh (negative once it gave more than it took)
        self.delivered_wh = 0.0
        #: the most it gives, W (0: it cannot discharge)
        self.max_discharge_w = max_discharge_w
        #: the lowest ``delivered_wh`` it discharges to (its minimum state of charge)
        self.floor_wh = min(0.0, capacity_wh * (min_soc - initial_soc) / 100.0)

    @property
    def soc(self) -> float:
        return max(0.0, min(100.0, self.initial_soc + 100.0 * self.delivered_wh / self.capacity_wh))

    @property
    def dischargeable_wh(self) -> float:
        """Energy it can still give before its minimum state of charge, Wh."""
        return max(0.0, self.delivered_wh - self.floor_wh) if self.max_discharge_w > 0 else 0.0

    @property
    def full(self) -> bool:
        return self.delivered_wh >= self.demand_wh - 1e-6


class Reservation:
    """A reservation made by ReserveNow."""

    __slots__ = ("evse_id", "group_id_token", "id", "id_token")

    def __init__(self, reservation_id: int, evse_id: int, id_token: Token, group_id_token: Token | None) -> None:
        self.id = reservation_id
        self.evse_id = evse_id
        self.id_token = id_token
        self.group_id_token = group_id_token

    def admits(self, token: Token, group: Token | None = None) -> bool:
        if token.id_token == self.id_token.id_token:
            return True
        return (
            self.group_id_token is not None
            and group is not None
            and group.id_token == self.group_id_token.id_token
        )


class ConnectorState:
    """One connector: its type, availability and what was last reported."""

    __slots__ = ("connector_id", "faulted", "operative", "reported", "status", "type")

    def __init__(self, connector_id: int, connector_type: str) -> None:
        self.connector_id = connector_id
        self.type = connector_type
        self.operative = True
        self.faulted = False
        #: the status it reports (the dialect's name for it; until the first report: Available)
        self.status: str = "Available"
        #: the status the CSMS last acknowledged (None: never)
        self.reported: str | None = None


class TxState:
    """A running transaction."""

    __slots__ = (
        "charging_seconds",
        "charging_state",
        "id",
        "id_token",
        "remote_start_id",
        "reservation_id",
        "seen",
        "seq",
        "start_register_wh",
        "started_at",
        "started_wall",
        "stop_reason",
        "total_cost",
    )

    def __init__(self, transaction_id: str, started_at: float, started_wall: datetime.datetime, register_wh: float) -> None:
        self.id = transaction_id
        self.started_at = started_at
        self.started_wall = started_wall
        self.start_register_wh = register_wh
        self.id_token: Any = None
        self.remote_start_id: int | None = None
        self.reservation_id: int | None = None
        self.charging_state: str | None = None
        #: stop-point conditions that held at some time during the transaction
        self.seen: set[str] = set()
        #: the stoppedReason to use if the transaction ends without a more specific one
        self.stop_reason: Any = None
        self.charging_seconds = 0.0
        self.total_cost: float | None = None
        #: next seqNo, when seqNo counts per transaction
        self.seq = 0


class EvseState:
    """One EVSE: connectors, the vehicle, authorization, transaction and meter."""

    __slots__ = (
        "ac",
        "atg_phase",
        "atg_stop_by_unplug",
        "authorized",
        "bidirectional",
        "connectors",
        "discharge_limit_w",
        "export_wh",
        "group_id_token",
        "id",
        "last_update",
        "limit_w",
        "max_discharge_w",
        "max_power_w",
        "operative",
        "pending_operative",
        "pending_tx_profile",
        "phases",
        "plugged",
        "power_w",
        "register_wh",
        "remote_start_id",
        "reservation",
        "reservation_used",
        "setpoint_w",
        "tx",
        "vehicle",
        "voltage",
    )

    def __init__(self, evse_id: int, profile: EvseProfile, register_wh: float = 0.0) -> None:
        self.id = evse_id
        self.max_power_w = profile.max_power
        self.ac = profile.current_type == "AC"
        self.phases = profile.phases if self.ac else 1
        self.voltage = profile.voltage
        self.connectors = [ConnectorState(n, str(c.type)) for n, c in enumerate(profile.connectors, start=1)]
        self.operative = True
        #: an availability change waiting for the transaction to end (None: none)
        self.pending_operative: bool | None = None
        self.plugged: int | None = None
        self.vehicle: Vehicle | None = None
        self.authorized: Any = None
        self.group_id_token: Any = None
        self.remote_start_id: int | None = None
        self.reservation: Reservation | None = None
        #: the reservation consumed by the authorization, until the transaction starts
        self.reservation_used: int | None = None
        #: a TxProfile from RequestStartTransaction, installed when the transaction starts
        self.pending_tx_profile: Any = None
        self.tx: TxState | None = None
        self.register_wh = register_wh
        self.power_w = 0.0
        self.limit_w: float | None = None
        #: the EVSE can discharge a vehicle (V2X), at most ``max_discharge_w``
        self.bidirectional = profile.bidirectional
        self.max_discharge_w = profile.max_discharge_power or profile.max_power
        #: the power the vehicle is to follow, W (negative: discharge; None: charge as allowed)
        self.setpoint_w: float | None = None
        #: the most a discharge may give, W (None: no limit)
        self.discharge_limit_w: float | None = None
        #: the export register: energy given by discharging vehicles, Wh
        self.export_wh = 0.0
        self.last_update = 0.0
        self.atg_phase = "idle"
        self.atg_stop_by_unplug = False

    def connector(self, connector_id: int) -> ConnectorState | None:
        if 1 <= connector_id <= len(self.connectors):
            return self.connectors[connector_id - 1]
        return None

    # --------------------------------------------------------------- energy

    def advance(self, now: float, speed: float) -> None:
        """Integrate energy from the last update to ``now`` (real seconds x ``speed``)."""
        elapsed = (now - self.last_update) * speed
        self.last_update = now
        if elapsed <= 0 or self.power_w == 0:
            return
        if self.power_w < 0:
            self._discharge(elapsed)
            return
        energy = self.power_w * elapsed / 3600.0
        vehicle = self.vehicle
        if vehicle is not None:
            energy = min(energy, max(0.0, vehicle.demand_wh - vehicle.delivered_wh))
            vehicle.delivered_wh += energy
        self.register_wh += energy
        if self.tx is not None:
            self.tx.charging_seconds += elapsed

    def _discharge(self, elapsed: float) -> None:
        energy = -self.power_w * elapsed / 3600.0
        vehicle = self.vehicle
        if vehicle is not None:
            energy = min(energy, vehicle.dischargeable_wh)
            vehicle.delivered_wh -= energy
        self.export_wh += energy

    def seconds_to_full(self, speed: float) -> float | None:
        """Real seconds until the vehicle has its demand at the present power (discharging:
        until it reaches its minimum state of charge)."""
        vehicle = self.vehicle
        if vehicle is None or self.power_w == 0:
            return None
        if self.power_w < 0:
            return max(0.0, vehicle.dischargeable_wh / -self.power_w * 3600.0 / speed)
        remaining = vehicle.demand_wh - vehicle.delivered_wh
        return max(0.0, remaining / self.power_w * 3600.0 / speed)

    def power_path_closed(self, station_operative: bool) -> bool:
        return self.plugged is not None and self.authorized is not None and self.operative and station_operative

    def target_power(self, station_operative: bool) -> float:
        """The power the vehicle draws in the present conditions."""
        vehicle = self.vehicle
        if vehicle is None or not self.power_path_closed(station_operative):
            return 0.0
        setpoint = self.setpoint_w
        if setpoint is not None and setpoint < 0:
            return -self._discharge_power(vehicle, -setpoint)
        if vehicle.full:
            return 0.0
        power = min(self.max_power_w, vehicle.max_power_w)
        if self.limit_w is not None:
            power = min(power, max(0.0, self.limit_w))
        if setpoint is not None:
            power = min(power, setpoint)
        return power

    def _discharge_power(self, vehicle: Vehicle, wanted: float) -> float:
        if not self.bidirectional or vehicle.dischargeable_wh <= 1e-6:
            return 0.0
        power = min(wanted, self.max_discharge_w, vehicle.max_discharge_w)
        if self.discharge_limit_w is not None:
            power = min(power, max(0.0, self.discharge_limit_w))
        return power

    def current_a(self) -> float:
        """The current, A (negative when discharging)."""
        if self.power_w == 0:
            return 0.0
        return self.power_w / (self.voltage * (self.phases if self.ac else 1))


    @property
    def free(self) -> bool:
        """No vehicle, no transaction, no reservation, not faulted."""
        return (
            self.plugged is None
            and self.tx is None
            and self.authorized is None
            and self.reservation is None
            and not any(c.faulted for c in self.connectors)
        )
