"""What the CSMS remembers about each station, and the snapshots it hands out.

The :class:`~fleet.actors.csms.Csms` actor keeps one :class:`StationState` per
station id it has seen (connected or not). Only the actor's own tasks mutate it:
the ``record_*`` methods run in the connection's task for each CALL the station
sends, before the handler answers. The outside world reads frozen snapshots
(:class:`StationRecord`, :class:`TransactionRecord`), built on demand; nothing
here is ever shared live.

The records are kept so that an audit can compare what each station sent with
what the CSMS received: every TransactionEvent is kept per transaction as a
:class:`TxEvent` (seqNo, eventType, triggerReason, offline flag, energy
register, ...), in the order of arrival, duplicates included; an event that repeats an
earlier one of its transaction exactly (same seqNo, same content: the station sent it
again because the answer was lost with its connection) is flagged ``retransmission``.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from typing import Any

import msgspec
from msgspec import UNSET

from ...ocpp.v201 import (
    BootNotificationRequest,
    ChargingStation,
    FirmwareStatusNotificationRequest,
    LogStatusNotificationRequest,
    Measurand,
    MeterValue,
    MeterValuesRequest,
    StatusNotificationRequest,
    TransactionEventRequest,
)

__all__ = [
    "BootInfo",
    "ConnectorState",
    "StationRecord",
    "StationState",
    "TransactionRecord",
    "TxEvent",
    "energy_wh",
]

_ENERGY_REGISTER = Measurand.ENERGY_ACTIVE_IMPORT_REGISTER


def energy_wh(meter_values: Sequence[MeterValue]) -> float | None:
    """The last whole-station ``Energy.Active.Import.Register`` reading in ``meter_values``, in Wh.

    A sampled value counts when its measurand is that register (or absent, the
    OCPP default) and it has no phase; ``unitOfMeasure`` (``Wh`` or ``kWh``, with
    its power-of-ten ``multiplier``) is applied. ``None`` if there is no such reading.
    """
    found: float | None = None
    for meter_value in meter_values:
        for sampled in meter_value.sampled_value:
            measurand = sampled.measurand
            if (measurand is not UNSET and measurand != _ENERGY_REGISTER) or sampled.phase is not UNSET:
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


class TxEvent(msgspec.Struct, frozen=True, gc=False):
    """One TransactionEvent as the CSMS received it.

    Attributes:
        seq_no: the event's ``seqNo``.
        event_type: ``Started``, ``Updated`` or ``Ended``.
        trigger_reason: the ``triggerReason``.
        offline: the ``offline`` flag (the event was queued while the station was offline).
        energy_wh: the energy register carried by the event's meter values, in Wh (``None`` if none).
        charging_state: ``transactionInfo.chargingState``, if given.
        timestamp: the event's ``timestamp`` (station clock).
        received_at: when the CSMS received it (wall clock, seconds since the epoch).
        retransmission: it repeats an event already received for this transaction (same
            seqNo, type, trigger, timestamp, offline flag, energy and charging state): a
            retransmission OCPP allows after a lost answer, not a second event.
    """

    seq_no: int
    event_type: str
    trigger_reason: str
    offline: bool
    energy_wh: float | None
    charging_state: str | None
    timestamp: datetime.datetime
    received_at: float
    retransmission: bool = False

    def repeats(self, other: TxEvent) -> bool:
        """Whether this event is ``other`` sent again (everything but the arrival time equal)."""
        return (
            self.seq_no == other.seq_no
            and self.event_type == other.event_type
            and self.trigger_reason == other.trigger_reason
            and self.timestamp == other.timestamp
            and self.offline == other.offline
            and self.energy_wh == other.energy_wh
            and self.charging_state == other.charging_state
        )


class TransactionRecord(msgspec.Struct, frozen=True):
    """A snapshot of one transaction of a station.

    Attributes:
        transaction_id: the station's ``transactionId``.
        evse_id: the EVSE, once an event named it.
        connector_id: the connector, once an event named it.
        id_token: the last id token an event carried.
        started: a ``Started`` event was received.
        ended: an ``Ended`` event was received.
        started_at: the ``Started`` event's timestamp.
        ended_at: the ``Ended`` event's timestamp.
        charging_state: the last charging state reported.
        stopped_reason: ``transactionInfo.stoppedReason``, once given.
        remote_start_id: ``transactionInfo.remoteStartId``, once given.
        energy_wh: the last energy register reading, in Wh.
        meter_values: the meter values of the last event that carried any.
        events: every TransactionEvent received, in order of arrival.
    """

    transaction_id: str
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    started: bool
    ended: bool
    started_at: datetime.datetime | None
    ended_at: datetime.datetime | None
    charging_state: str | None
    stopped_reason: str | None
    remote_start_id: int | None
    energy_wh: float | None
    meter_values: tuple[MeterValue, ...]
    events: tuple[TxEvent, ...]

    @property
    def seq_nos(self) -> tuple[int, ...]:
        """The ``seqNo`` of every event, in order of arrival."""
        return tuple(e.seq_no for e in self.events)

    @property
    def retransmissions(self) -> int:
        """How many events were retransmissions of an event already received."""
        return sum(1 for e in self.events if e.retransmission)

    @property
    def offline_events(self) -> int:
        """How many events were flagged ``offline``."""
        return sum(1 for e in self.events if e.offline)

    def missing_seq_nos(self) -> list[int]:
        """``seqNo`` values absent between the lowest and highest received."""
        seen = {e.seq_no for e in self.events}
        if not seen:
            return []
        return [n for n in range(min(seen), max(seen) + 1) if n not in seen]

    def duplicate_seq_nos(self) -> list[int]:
        """``seqNo`` values received more than once (e.g. resent after a lost answer)."""
        seen: set[int] = set()
        duplicates: list[int] = []
        for event in self.events:
            if event.seq_no in seen and event.seq_no not in duplicates:
                duplicates.append(event.seq_no)
            seen.add(event.seq_no)
        return duplicates


class ConnectorState(msgspec.Struct, frozen=True):
    """The last StatusNotification of one connector.

    Attributes:
        evse_id: the EVSE.
        connector_id: the connector within the EVSE.
        status: ``Available``, ``Occupied``, ``Reserved``, ``Unavailable`` or ``Faulted``.
        timestamp: the notification's timestamp (station clock).
    """

    evse_id: int
    connector_id: int
    status: str
    timestamp: datetime.datetime


class BootInfo(msgspec.Struct, frozen=True):
    """The station's last BootNotification and the answer it got.

    Attributes:
        charging_station: the ``chargingStation`` it described (model, vendor, serial, firmware...).
        reason: the boot ``reason``.
        status: the registration status the CSMS answered (``None`` if the answer was not valid).
        at: when it was received (wall clock).
    """

    charging_station: ChargingStation
    reason: str
    status: str | None
    at: float


class StationRecord(msgspec.Struct, frozen=True):
    """A snapshot of everything the CSMS knows about one station.

    Attributes:
        station_id: the station id.
        connected: whether it is connected now.
        ocpp_version: the version of its current (or last) connection.
        remote: its current (or last) remote address.
        connected_at: when its current (or last) connection was accepted (wall clock).
        disconnected_at: when its last connection ended (``None`` while the first is up).
        disconnect_reason: why its last connection ended.
        last_seen: when it last sent a CALL (wall clock).
        connections: how many connections it has made.
        boot: its last BootNotification, if any.
        registration_status: the registration status last given (``Accepted``, ``Pending``, ``Rejected``).
        connectors: the last status of each connector, by (EVSE, connector).
        transactions: its transactions by transaction id.
        transactions_dropped: ended transactions no longer kept (see ``transaction_history``).
        meter_values: the last MeterValues per EVSE id (0 = the main meter).
        firmware_status: the last FirmwareStatusNotification status.
        log_status: the last LogStatusNotification status.
        messages: CALLs received, by action.
    """

    station_id: str
    connected: bool
    ocpp_version: str | None
    remote: str | None
    connected_at: float | None
    disconnected_at: float | None
    disconnect_reason: str
    last_seen: float | None
    connections: int
    boot: BootInfo | None
    registration_status: str | None
    connectors: tuple[ConnectorState, ...]
    transactions: dict[str, TransactionRecord]
    transactions_dropped: int
    meter_values: dict[int, tuple[MeterValue, ...]]
    firmware_status: str | None
    log_status: str | None
    messages: dict[str, int]


class _Transaction:
    """The live record of one transaction (owned by the CSMS actor)."""

    __slots__ = (
        "charging_state",
        "connector_id",
        "ended",
        "ended_at",
        "energy_wh",
        "events",
        "evse_id",
        "id_token",
        "meter_values",
        "remote_start_id",
        "started",
        "started_at",
        "stopped_reason",
        "transaction_id",
    )

    def __init__(self, transaction_id: str) -> None:
        self.transaction_id = transaction_id
        self.evse_id: int | None = None
        self.connector_id: int | None = None
        self.id_token: str | None = None
        self.started = False
        self.ended = False
        self.started_at: datetime.datetime | None = None
        self.ended_at: datetime.datetime | None = None
        self.charging_state: str | None = None
        self.stopped_reason: str | None = None
        self.remote_start_id: int | None = None
        self.energy_wh: float | None = None
        self.meter_values: tuple[MeterValue, ...] = ()
        self.events: list[TxEvent] = []

    def snapshot(self) -> TransactionRecord:
        return TransactionRecord(
            transaction_id=self.transaction_id,
            evse_id=self.evse_id,
            connector_id=self.connector_id,
            id_token=self.id_token,
            started=self.started,
            ended=self.ended,
            started_at=self.started_at,
            ended_at=self.ended_at,
            charging_state=self.charging_state,
            stopped_reason=self.stopped_reason,
            remote_start_id=self.remote_start_id,
            energy_wh=self.energy_wh,
            meter_values=self.meter_values,
            events=tuple(self.events),
        )


class StationState:
    """The live record of one station, owned and mutated only by the CSMS actor.

    Args:
        station_id: the station.
        transaction_history: ended transactions kept (oldest dropped first);
            ``None`` keeps them all.
    """

    __slots__ = (
        "boot",
        "connected",
        "connected_at",
        "connections",
        "connectors",
        "disconnect_reason",
        "disconnected_at",
        "firmware_status",
        "last_seen",
        "log_status",
        "messages",
        "meter_values",
        "ocpp_version",
        "registration_status",
        "remote",
        "station_id",
        "transaction_history",
        "transactions",
        "transactions_dropped",
        "tx_ended",
        "tx_seen",
        "tx_started",
    )

    def __init__(self, station_id: str, transaction_history: int | None = None) -> None:
        self.station_id = station_id
        self.transaction_history = transaction_history
        self.connected = False
        self.ocpp_version: str | None = None
        self.remote: str | None = None
        self.connected_at: float | None = None
        self.disconnected_at: float | None = None
        self.disconnect_reason = ""
        self.last_seen: float | None = None
        self.connections = 0
        self.boot: BootInfo | None = None
        self.registration_status: str | None = None
        self.connectors: dict[tuple[int, int], ConnectorState] = {}
        self.transactions: dict[str, _Transaction] = {}
        self.transactions_dropped = 0
        #: transactions seen, started and ended since the record was made (dropped ones included)
        self.tx_seen = self.tx_started = self.tx_ended = 0
        self.meter_values: dict[int, tuple[MeterValue, ...]] = {}
        self.firmware_status: str | None = None
        self.log_status: str | None = None
        self.messages: dict[str, int] = {}

    # ------------------------------------------------------------ connection

    def record_connected(self, version: str, remote: str, at: float) -> None:
        """A connection of this station was accepted."""
        self.connected = True
        self.ocpp_version = version
        self.remote = remote
        self.connected_at = at
        self.connections += 1

    def record_disconnected(self, reason: str, at: float) -> None:
        """Its connection ended."""
        self.connected = False
        self.disconnected_at = at
        self.disconnect_reason = reason

    # -------------------------------------------------- CALLs from the station

    def record_boot(self, request: BootNotificationRequest) -> None:
        """A BootNotification arrived (its answer is recorded by :meth:`record_registration`)."""
        self.boot = BootInfo(request.charging_station, str(request.reason), None, time.time())

    def record_registration(self, response: Any) -> None:
        """The BootNotification was answered with ``response`` (Struct or mapping)."""
        status = response.get("status") if isinstance(response, dict) else getattr(response, "status", None)
        status = str(status) if status in ("Accepted", "Pending", "Rejected") else None
        self.registration_status = status
        if self.boot is not None:
            self.boot = msgspec.structs.replace(self.boot, status=status)

    def record_status(self, request: StatusNotificationRequest) -> None:
        """A StatusNotification arrived."""
        key = (request.evse_id, request.connector_id)
        self.connectors[key] = ConnectorState(
            request.evse_id, request.connector_id, str(request.connector_status), request.timestamp
        )

    def record_meter_values(self, request: MeterValuesRequest) -> None:
        """A MeterValues arrived."""
        self.meter_values[request.evse_id] = tuple(request.meter_value)

    def record_firmware_status(self, request: FirmwareStatusNotificationRequest) -> None:
        """A FirmwareStatusNotification arrived."""
        self.firmware_status = str(request.status)

    def record_log_status(self, request: LogStatusNotificationRequest) -> None:
        """A LogStatusNotification arrived."""
        self.log_status = str(request.status)

    def record_transaction_event(self, request: TransactionEventRequest) -> None:
        """A TransactionEvent arrived: add it to its transaction (created on first sight)."""
        info = request.transaction_info
        transaction = self.transactions.get(info.transaction_id)
        if transaction is None:
            transaction = self.transactions[info.transaction_id] = _Transaction(info.transaction_id)
            self.tx_seen += 1
        energy: float | None = None
        if request.meter_value is not UNSET:
            transaction.meter_values = tuple(request.meter_value)
            energy = energy_wh(request.meter_value)
            if energy is not None:
                transaction.energy_wh = energy
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
            if not transaction.started:
                transaction.started = True
                self.tx_started += 1
            transaction.started_at = request.timestamp
        elif event_type == "Ended":
            if not transaction.ended:
                transaction.ended = True
                self.tx_ended += 1
            transaction.ended_at = request.timestamp
        offline = request.offline is True
        event = TxEvent(
            request.seq_no,
            str(event_type),
            str(request.trigger_reason),
            offline,
            energy,
            charging_state,
            request.timestamp,
            time.time(),
        )
        events = transaction.events
        if events and request.seq_no <= events[-1].seq_no:  # not the next one: maybe sent again
            for earlier in reversed(events):
                if event.repeats(earlier):
                    event = msgspec.structs.replace(event, retransmission=True)
                    break
        events.append(event)
        if event_type == "Ended" and self.transaction_history is not None:
            self._trim_history(self.transaction_history)

    def _trim_history(self, keep: int) -> None:
        ended = [t for t in self.transactions.values() if t.ended]
        for transaction in ended[: max(0, len(ended) - keep)]:
            del self.transactions[transaction.transaction_id]
            self.transactions_dropped += 1

    # --------------------------------------------------------------- reading

    def active_transactions(self) -> int:
        """Transactions seen and not yet ended."""
        return self.tx_seen - self.tx_ended

    def snapshot(self) -> StationRecord:
        """A frozen copy of this record."""
        return StationRecord(
            station_id=self.station_id,
            connected=self.connected,
            ocpp_version=self.ocpp_version,
            remote=self.remote,
            connected_at=self.connected_at,
            disconnected_at=self.disconnected_at,
            disconnect_reason=self.disconnect_reason,
            last_seen=self.last_seen,
            connections=self.connections,
            boot=self.boot,
            registration_status=self.registration_status,
            connectors=tuple(self.connectors[k] for k in sorted(self.connectors)),
            transactions={tid: t.snapshot() for tid, t in self.transactions.items()},
            transactions_dropped=self.transactions_dropped,
            meter_values=dict(self.meter_values),
            firmware_status=self.firmware_status,
            log_status=self.log_status,
            messages=dict(self.messages),
        )
