"""The transaction model, the electrical model and the outgoing queue of a station.

Plain state objects with ``__slots__`` (a fleet holds tens of thousands): no I/O,
no trio; the station actor drives them with its clock.

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
over (simulated) time.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ....ocpp.v201 import (
    ChargingState,
    ConnectorStatus,
    IdToken,
    Measurand,
    MeterValue,
    ReadingContext,
    SampledValue,
    TransactionEvent,
    TransactionEventRequest,
    TriggerReason,
    UnitOfMeasure,
)
from ....profiles import EvseProfile

__all__ = [
    "ConnectorState",
    "EvseState",
    "OutItem",
    "OutQueue",
    "Reservation",
    "TxState",
    "Vehicle",
    "conditions",
]

EV_CONNECTED = "EVConnected"
AUTHORIZED = "Authorized"
POWER_PATH_CLOSED = "PowerPathClosed"
ENERGY_TRANSFER = "EnergyTransfer"
_ALIASES = {"ParkingBayOccupancy": EV_CONNECTED, "DataSigned": AUTHORIZED}

_UNITS = {
    Measurand.ENERGY_ACTIVE_IMPORT_REGISTER: UnitOfMeasure(unit="Wh"),
    Measurand.POWER_ACTIVE_IMPORT: UnitOfMeasure(unit="W"),
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


class Vehicle:
    """The EV plugged into an EVSE."""

    __slots__ = ("capacity_wh", "delivered_wh", "demand_wh", "initial_soc", "max_power_w")

    def __init__(self, capacity_wh: float, max_power_w: float, initial_soc: float, demand_wh: float) -> None:
        self.capacity_wh = capacity_wh
        self.max_power_w = max_power_w
        self.initial_soc = initial_soc
        free = capacity_wh * (100.0 - initial_soc) / 100.0
        self.demand_wh = max(0.0, min(demand_wh, free))
        self.delivered_wh = 0.0

    @property
    def soc(self) -> float:
        return min(100.0, self.initial_soc + 100.0 * self.delivered_wh / self.capacity_wh)

    @property
    def full(self) -> bool:
        return self.delivered_wh >= self.demand_wh - 1e-6


class Reservation:
    """A reservation made by ReserveNow."""

    __slots__ = ("evse_id", "group_id_token", "id", "id_token")

    def __init__(self, reservation_id: int, evse_id: int, id_token: IdToken, group_id_token: IdToken | None) -> None:
        self.id = reservation_id
        self.evse_id = evse_id
        self.id_token = id_token
        self.group_id_token = group_id_token

    def admits(self, token: IdToken, group: IdToken | None = None) -> bool:
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
        self.status = ConnectorStatus.AVAILABLE
        #: the status the CSMS last acknowledged (None: never)
        self.reported: ConnectorStatus | None = None


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
        self.id_token: IdToken | None = None
        self.remote_start_id: int | None = None
        self.reservation_id: int | None = None
        self.charging_state: ChargingState | None = None
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
        "connectors",
        "group_id_token",
        "id",
        "last_update",
        "limit_w",
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
        self.authorized: IdToken | None = None
        self.group_id_token: IdToken | None = None
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
        if elapsed <= 0 or self.power_w <= 0:
            return
        energy = self.power_w * elapsed / 3600.0
        vehicle = self.vehicle
        if vehicle is not None:
            energy = min(energy, max(0.0, vehicle.demand_wh - vehicle.delivered_wh))
            vehicle.delivered_wh += energy
        self.register_wh += energy
        if self.tx is not None:
            self.tx.charging_seconds += elapsed

    def seconds_to_full(self, speed: float) -> float | None:
        """Real seconds until the vehicle has its demand at the present power."""
        vehicle = self.vehicle
        if vehicle is None or self.power_w <= 0:
            return None
        remaining = vehicle.demand_wh - vehicle.delivered_wh
        return max(0.0, remaining / self.power_w * 3600.0 / speed)

    def power_path_closed(self, station_operative: bool) -> bool:
        return self.plugged is not None and self.authorized is not None and self.operative and station_operative

    def target_power(self, station_operative: bool) -> float:
        """The power the vehicle draws in the present conditions."""
        vehicle = self.vehicle
        if vehicle is None or not self.power_path_closed(station_operative) or vehicle.full:
            return 0.0
        power = min(self.max_power_w, vehicle.max_power_w)
        if self.limit_w is not None:
            power = min(power, max(0.0, self.limit_w))
        return power

    def charging_state(self, station_operative: bool) -> ChargingState:
        if self.plugged is None:
            return ChargingState.IDLE
        if self.authorized is None:
            return ChargingState.EV_CONNECTED
        if not (self.operative and station_operative):
            return ChargingState.SUSPENDED_EVSE
        vehicle = self.vehicle
        if vehicle is not None and vehicle.full:
            return ChargingState.SUSPENDED_EV
        if self.limit_w is not None and self.limit_w <= 0:
            return ChargingState.SUSPENDED_EVSE
        return ChargingState.CHARGING

    # ------------------------------------------------------------- sampling

    def current_a(self) -> float:
        if self.power_w <= 0:
            return 0.0
        return self.power_w / (self.voltage * (self.phases if self.ac else 1))

    def sample(self, measurands: Iterable[str], context: ReadingContext, timestamp: datetime.datetime) -> MeterValue | None:
        """A MeterValue of the measurands this model knows (None if none applies)."""
        values: list[SampledValue] = []
        for name in measurands:
            try:
                measurand = Measurand(name)
            except ValueError:
                continue
            value: float
            if measurand == Measurand.ENERGY_ACTIVE_IMPORT_REGISTER:
                value = round(self.register_wh, 1)
            elif measurand == Measurand.POWER_ACTIVE_IMPORT:
                value = round(self.power_w, 1)
            elif measurand == Measurand.POWER_OFFERED:
                value = round(self.max_power_w if self.limit_w is None else min(self.max_power_w, self.limit_w), 1)
            elif measurand == Measurand.CURRENT_IMPORT:
                value = round(self.current_a(), 2)
            elif measurand == Measurand.CURRENT_OFFERED:
                offered = self.max_power_w if self.limit_w is None else min(self.max_power_w, self.limit_w)
                value = round(offered / (self.voltage * (self.phases if self.ac else 1)), 2)
            elif measurand == Measurand.VOLTAGE:
                value = self.voltage
            elif measurand == Measurand.SOC:
                if self.vehicle is None:
                    continue
                value = round(self.vehicle.soc, 1)
            elif measurand == Measurand.FREQUENCY:
                if not self.ac:
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

    # ---------------------------------------------------------- conditions

    def connector_status(self, connector: ConnectorState, station_operative: bool) -> ConnectorStatus:
        """The status a connector reports now."""
        if connector.faulted:
            return ConnectorStatus.FAULTED
        if self.plugged == connector.connector_id:
            return ConnectorStatus.OCCUPIED
        if self.plugged is not None:
            return ConnectorStatus.UNAVAILABLE
        if not (station_operative and self.operative and connector.operative):
            return ConnectorStatus.UNAVAILABLE
        if self.reservation is not None:
            return ConnectorStatus.RESERVED
        return ConnectorStatus.AVAILABLE

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


def conditions(evse: EvseState, station_operative: bool) -> frozenset[str]:
    """The transaction conditions that hold on ``evse`` now."""
    held = set()
    if evse.plugged is not None:
        held.add(EV_CONNECTED)
    if evse.authorized is not None:
        held.add(AUTHORIZED)
    if evse.power_path_closed(station_operative):
        held.add(POWER_PATH_CLOSED)
    if evse.power_w > 0:
        held.add(ENERGY_TRANSFER)
    return frozenset(held)


# ------------------------------------------------------------------ the queue


class OutItem:
    """A request waiting to be sent.

    Attributes:
        request: the request Struct.
        durable: kept across disconnections and resets (TransactionEvents and
            status notifications of long-running operations); others are dropped
            when the connection goes.
        followup: a consequence of a CSMS request (allowed while Pending).
        on_result: called with the response, or with the exception if it failed for good.
        transaction_id: the transaction a TransactionEvent belongs to.
        attempts: CALLERRORs so far (for TransactionEvent retries).
        not_before: do not send before this (trio) time.
        due: when a timer meant it to go out (trio time; 0 when not timer-driven), for the
            schedule lag.
    """

    __slots__ = ("attempts", "due", "durable", "followup", "not_before", "on_result", "request", "transaction_id")

    def __init__(
        self,
        request: Any,
        *,
        durable: bool = False,
        followup: bool = False,
        on_result: Callable[[Any], None] | None = None,
        transaction_id: str | None = None,
    ) -> None:
        self.request = request
        self.durable = durable
        self.followup = followup
        self.on_result = on_result
        self.transaction_id = transaction_id
        self.attempts = 0
        self.not_before = 0.0
        self.due = 0.0


class OutQueue:
    """The station's outgoing requests, in order; sent one at a time."""

    __slots__ = ("dropped", "items", "limit")

    def __init__(self, limit: int) -> None:
        self.items: collections.deque[OutItem] = collections.deque()
        self.limit = limit
        self.dropped = 0

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[OutItem]:
        return iter(self.items)

    def append(self, item: OutItem) -> None:
        self.items.append(item)
        if item.durable and len(self.items) > self.limit:
            self._shed()

    def _shed(self) -> None:
        # Drop the oldest periodic meter-value update; never a Started/Ended event.
        for i, queued in enumerate(self.items):
            request = queued.request
            if (
                isinstance(request, TransactionEventRequest)
                and request.event_type == TransactionEvent.UPDATED
                and request.trigger_reason in (TriggerReason.METER_VALUE_PERIODIC, TriggerReason.METER_VALUE_CLOCK)
            ):
                del self.items[i]
                self.dropped += 1
                return

    def remove(self, item: OutItem) -> None:
        if self.items and self.items[0] is item:
            self.items.popleft()
            return
        with contextlib.suppress(ValueError):
            self.items.remove(item)

    def drop_volatile(self) -> int:
        """Forget what does not survive a disconnection; return how many."""
        kept = collections.deque(i for i in self.items if i.durable)
        dropped = len(self.items) - len(kept)
        self.items = kept
        return dropped

    def durable_count(self) -> int:
        return sum(1 for i in self.items if i.durable)

    def has_transaction(self, transaction_id: str | None) -> bool:
        if transaction_id is None:
            return any(i.transaction_id is not None for i in self.items)
        return any(i.transaction_id == transaction_id for i in self.items)

    def next_ready(self, now: float, *, followups_only: bool) -> OutItem | None:
        """The next request to send: the head (its ``not_before`` passed), or while
        Pending the first follow-up of a CSMS request."""
        if not self.items:
            return None
        if followups_only:
            for item in self.items:
                if item.followup and item.not_before <= now:
                    return item
            return None
        head = self.items[0]
        return head if head.not_before <= now else None

    def head_wait(self) -> float | None:
        """When the head becomes ready, if it is held back."""
        if self.items and self.items[0].not_before > 0:
            return self.items[0].not_before
        return None


