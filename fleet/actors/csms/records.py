"""What the CSMS remembers about each station, and the snapshots it hands out.

The :class:`~fleet.actors.csms.Csms` actor keeps one :class:`StationState` per
station id it has seen (connected or not). Only the actor's own tasks mutate it:
the ``record_*`` methods run in the connection's task for each CALL the station
sends, before the handler answers, called by the recorders of the connection's
dialect (e.g. :mod:`fleet.actors.csms.v201.recorders`), which turn the version's
messages into these version-free records. The outside world reads frozen snapshots
(:class:`StationRecord`, :class:`TransactionRecord`), built on demand; nothing
here is ever shared live.

The records are kept so that an audit can compare what each station sent with
what the CSMS received: every transaction event is kept per transaction as a
:class:`TxEvent` (seqNo, eventType, triggerReason, offline flag, energy
register, ...), in the order of arrival, duplicates included; an event that repeats an
earlier one of its transaction exactly (same seqNo, same content: the station sent it
again because the answer was lost with its connection) is flagged ``retransmission``.

A few fields keep the version's own Structs as the station sent them (the station's
description at boot, meter values): they are documented as such.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

import msgspec

__all__ = [
    "BootInfo",
    "ConnectorState",
    "EventStreamRecord",
    "StationIdentity",
    "StationRecord",
    "StationState",
    "TransactionCost",
    "TransactionRecord",
    "TransactionState",
    "TxEvent",
]

class TxEvent(msgspec.Struct, frozen=True, gc=False):
    """One transaction event as the CSMS received it (OCPP 2.0.1: a TransactionEvent).

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


class TransactionCost(msgspec.Struct, frozen=True):
    """The cost of a transaction as its station calculated it (OCPP 2.1 local cost: a
    TransactionEvent's ``costDetails``).

    Attributes:
        seq_no: the ``seqNo`` of the event that carried it.
        event_type: that event's type (``Ended``: the final cost).
        currency: ``totalCost.currency``.
        type_of_cost: ``totalCost.typeOfCost`` (``NormalCost``, ``MinCost``, ``MaxCost``).
        total_excl_tax: ``totalCost.total.exclTax``, if given.
        total_incl_tax: ``totalCost.total.inclTax``, if given.
        energy_wh: ``totalUsage.energy``, in Wh.
        charging_time: ``totalUsage.chargingTime``, in seconds.
        idle_time: ``totalUsage.idleTime``, in seconds.
        tariff_ids: the tariff of each charging period, in order (the final cost lists them).
        failure: ``failureReason`` (or ``""``) when the station failed to calculate it, else None.
        details: the ``costDetails`` as the station sent it (the version's Struct).
    """

    seq_no: int
    event_type: str
    currency: str
    type_of_cost: str
    total_excl_tax: float | None
    total_incl_tax: float | None
    energy_wh: float
    charging_time: int
    idle_time: int
    tariff_ids: tuple[str, ...]
    failure: str | None
    details: Any


class BatterySwapRecord(msgspec.Struct, frozen=True):
    """A BatterySwap event a station sent (OCPP 2.1 battery swapping).

    Attributes:
        event_type: ``BatteryIn``, ``BatteryOut`` or ``BatteryOutTimeout``.
        request_id: the swap's requestId (the RequestBatterySwap's, when the CSMS asked).
        id_token: the driver's idToken.
        batteries: each battery as ``(slot (evseId), serial number, SoC, SoH)``.
    """

    event_type: str
    request_id: int
    id_token: str
    batteries: tuple[tuple[int, str, float, float], ...]


class SettlementRecord(msgspec.Struct, frozen=True):
    """A settlement a station reported (OCPP 2.1 NotifySettlement: an ad hoc payment).

    Attributes:
        psp_ref: the payment's reference (the idToken of type DirectPayment).
        status: ``Settled``, ``Canceled``, ``Rejected`` or ``Failed``.
        amount: the amount settled (or attempted).
        settled_at: the settlement's time (station clock).
        transaction_id: the transaction it pays, if any.
        vat_number: the VAT number for a company receipt, if any.
    """

    psp_ref: str
    status: str
    amount: float
    settled_at: datetime.datetime
    transaction_id: str | None = None
    vat_number: str | None = None


class EventStreamRecord(msgspec.Struct, frozen=True):
    """One periodic event stream of a station (OCPP 2.1), as the CSMS saw it.

    Attributes:
        stream_id: the stream's id.
        variable_monitoring_id: the monitor whose values it brings (None: the stream was
            not opened on this CSMS, its messages came anyway).
        interval: its ``params.interval`` when opened, if given.
        values: its ``params.values`` when opened, if given.
        open: opened (OpenPeriodicEventStream) and not closed since.
        messages: NotifyPeriodicEventStream messages received (SENDs, never answered).
        values_received: the values those messages carried, in all.
        last_basetime: the ``basetime`` of the last message.
        last_data: the last message's values as ``(t, v)`` pairs.
        last_pending: the last message's ``pending``.
        last_message: the last message as received (the version's Struct).
    """

    stream_id: int
    variable_monitoring_id: int | None = None
    interval: int | None = None
    values: int | None = None
    open: bool = False
    messages: int = 0
    values_received: int = 0
    last_basetime: datetime.datetime | None = None
    last_data: tuple[tuple[float, str], ...] = ()
    last_pending: int = 0
    last_message: Any = None


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
        meter_values: the meter values of the last event that carried any (the version's Structs,
            e.g. 2.0.1 ``MeterValue``).
        events: every transaction event received, in order of arrival.
        export_wh: the last export register reading (``Energy.Active.Export.Register``: what
            discharging gave, V2X), in Wh; ``None`` until an event carried one.
        tariff_id: the tariff last named (``transactionInfo.tariffId``, OCPP 2.1).
        time_spent_charging: ``transactionInfo.timeSpentCharging``, once given.
        running_cost: the last running cost the station sent (OCPP 2.1 local cost).
        final_cost: the cost the station sent with the ``Ended`` event.
        priority_charging: whether it charges with priority, as the station last notified
            (NotifyPriorityCharging, OCPP 2.1); None: never said.
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
    meter_values: tuple[Any, ...]
    events: tuple[TxEvent, ...]
    export_wh: float | None = None
    tariff_id: str | None = None
    time_spent_charging: int | None = None
    running_cost: TransactionCost | None = None
    final_cost: TransactionCost | None = None
    priority_charging: bool | None = None

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


class StationIdentity(msgspec.Struct, frozen=True):
    """What a station said it is at boot, whatever its OCPP version (``None``: not said).

    Attributes:
        vendor: the vendor (2.0.1 ``vendorName``, 1.6 ``chargePointVendor``).
        model: the model (2.0.1 ``model``, 1.6 ``chargePointModel``).
        serial_number: its serial number (2.0.1 ``serialNumber``, 1.6 ``chargePointSerialNumber``).
        firmware_version: its firmware version.
    """

    vendor: str | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None


class BootInfo(msgspec.Struct, frozen=True):
    """The station's last BootNotification and the answer it got.

    Attributes:
        charging_station: the station as it described itself (model, vendor, serial, firmware...),
            as the version's Struct (2.0.1: ``ChargingStation``; 1.6: the ``BootNotificationRequest``).
        reason: the boot ``reason`` (1.6 gives none: ``""``).
        status: the registration status the CSMS answered (``None`` if the answer was not valid).
        at: when it was received (wall clock).
        identity: the same description, version-free (what views show whatever the version).
    """

    charging_station: Any
    reason: str
    status: str | None
    at: float
    identity: StationIdentity = StationIdentity()


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
        meter_values: the last MeterValues per EVSE id (0 = the main meter), as the version's
            Structs (2.0.1: ``MeterValue``).
        firmware_status: the last FirmwareStatusNotification status.
        log_status: the last LogStatusNotification status.
        messages: CALLs received, by action.
        tariffs: the default tariffs the station accepted (OCPP 2.1 SetDefaultTariff sent
            by this CSMS), by EVSE id (0: every EVSE), as the version's Structs.
        event_streams: its periodic event streams (OCPP 2.1), by stream id.
        battery_swaps: the BatterySwap events it sent (OCPP 2.1), in order of arrival.
        settlements: the settlements it reported (OCPP 2.1 NotifySettlement), in order.
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
    meter_values: dict[int, tuple[Any, ...]]
    firmware_status: str | None
    log_status: str | None
    messages: dict[str, int]
    tariffs: dict[int, Any] = {}
    event_streams: dict[int, EventStreamRecord] = {}
    battery_swaps: tuple[BatterySwapRecord, ...] = ()
    settlements: tuple[SettlementRecord, ...] = ()


class TransactionState:
    """The live record of one transaction (owned by the CSMS actor; a dialect's recorder
    fills in its fields from the version's messages, see :meth:`StationState.transaction`)."""

    __slots__ = (
        "charging_state",
        "connector_id",
        "ended",
        "ended_at",
        "energy_wh",
        "events",
        "evse_id",
        "export_wh",
        "final_cost",
        "id_token",
        "meter_values",
        "priority_charging",
        "remote_start_id",
        "running_cost",
        "started",
        "started_at",
        "stopped_reason",
        "tariff_id",
        "time_spent_charging",
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
        self.export_wh: float | None = None
        self.meter_values: tuple[Any, ...] = ()
        self.events: list[TxEvent] = []
        self.tariff_id: str | None = None
        self.time_spent_charging: int | None = None
        self.running_cost: TransactionCost | None = None
        self.final_cost: TransactionCost | None = None
        self.priority_charging: bool | None = None

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
            export_wh=self.export_wh,
            tariff_id=self.tariff_id,
            time_spent_charging=self.time_spent_charging,
            running_cost=self.running_cost,
            final_cost=self.final_cost,
            priority_charging=self.priority_charging,
        )


class StationState:
    """The live record of one station, owned and mutated only by the CSMS actor.

    Args:
        station_id: the station.
        transaction_history: ended transactions kept (oldest dropped first);
            ``None`` keeps them all.
    """

    __slots__ = (
        "battery_swaps",
        "boot",
        "connected",
        "connected_at",
        "connections",
        "connectors",
        "disconnect_reason",
        "disconnected_at",
        "event_streams",
        "firmware_status",
        "last_seen",
        "log_status",
        "messages",
        "meter_values",
        "ocpp_version",
        "registration_status",
        "remote",
        "settlements",
        "station_id",
        "tariffs",
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
        self.transactions: dict[str, TransactionState] = {}
        self.transactions_dropped = 0
        #: transactions seen, started and ended since the record was made (dropped ones included)
        self.tx_seen = self.tx_started = self.tx_ended = 0
        self.meter_values: dict[int, tuple[Any, ...]] = {}
        self.firmware_status: str | None = None
        self.log_status: str | None = None
        self.messages: dict[str, int] = {}
        self.tariffs: dict[int, tuple[str, Any]] = {}
        self.event_streams: dict[int, EventStreamRecord] = {}
        self.battery_swaps: list[BatterySwapRecord] = []
        self.settlements: list[SettlementRecord] = []

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

    def record_boot(self, charging_station: Any, reason: str, identity: StationIdentity | None = None) -> None:
        """A BootNotification arrived (its answer is recorded by :meth:`record_registration`)."""
        self.boot = BootInfo(charging_station, reason, None, time.time(), identity or StationIdentity())

    def record_registration(self, status: str | None) -> None:
        """The BootNotification was answered with ``status`` (``None``: not a valid answer)."""
        self.registration_status = status
        if self.boot is not None:
            self.boot = msgspec.structs.replace(self.boot, status=status)

    def record_connector_status(
        self, evse_id: int, connector_id: int, status: str, timestamp: datetime.datetime
    ) -> None:
        """A connector's status arrived (a StatusNotification)."""
        self.connectors[(evse_id, connector_id)] = ConnectorState(evse_id, connector_id, status, timestamp)

    def record_meter_values(self, evse_id: int, meter_values: tuple[Any, ...]) -> None:
        """Meter values of ``evse_id`` arrived (a MeterValues)."""
        self.meter_values[evse_id] = meter_values

    def record_firmware_status(self, status: str) -> None:
        """A FirmwareStatusNotification arrived."""
        self.firmware_status = status

    def record_log_status(self, status: str) -> None:
        """A LogStatusNotification arrived."""
        self.log_status = status

    def record_tariff(self, evse_id: int, tariff: Any, tariff_id: str) -> None:
        """The station accepted ``tariff`` (id ``tariff_id``) as the default tariff of ``evse_id``
        (0: of every EVSE, which replaces the ones set per EVSE)."""
        if evse_id == 0:
            self.tariffs.clear()
        self.tariffs[evse_id] = (tariff_id, tariff)

    def record_tariffs_cleared(self, tariff_ids: set[str]) -> None:
        """The station cleared the tariffs ``tariff_ids``."""
        for evse_id in [e for e, (tariff_id, _) in self.tariffs.items() if tariff_id in tariff_ids]:
            del self.tariffs[evse_id]

    def record_event_stream_opened(self, stream_id: int, monitor_id: int, interval: int | None,
                                   values: int | None) -> None:
        """The station opened a periodic event stream (OpenPeriodicEventStream)."""
        previous = self.event_streams.get(stream_id)
        self.event_streams[stream_id] = msgspec.structs.replace(
            previous or EventStreamRecord(stream_id), variable_monitoring_id=monitor_id, interval=interval,
            values=values, open=True,
        )

    def record_event_stream_closed(self, stream_id: int) -> None:
        """The station closed a periodic event stream (ClosePeriodicEventStream)."""
        previous = self.event_streams.get(stream_id)
        self.event_streams[stream_id] = msgspec.structs.replace(previous or EventStreamRecord(stream_id), open=False)

    def record_event_stream_message(self, stream_id: int, basetime: datetime.datetime,
                                    data: tuple[tuple[float, str], ...], pending: int, message: Any) -> None:
        """A message of a periodic event stream arrived (NotifyPeriodicEventStream, a SEND)."""
        previous = self.event_streams.get(stream_id) or EventStreamRecord(stream_id)
        self.event_streams[stream_id] = msgspec.structs.replace(
            previous, messages=previous.messages + 1, values_received=previous.values_received + len(data),
            last_basetime=basetime, last_data=data, last_pending=pending, last_message=message,
        )

    def record_battery_swap(self, swap: BatterySwapRecord) -> None:
        """A BatterySwap event arrived (OCPP 2.1)."""
        self.battery_swaps.append(swap)

    def record_settlement(self, settlement: SettlementRecord) -> None:
        """A NotifySettlement arrived (OCPP 2.1)."""
        self.settlements.append(settlement)

    def transaction(self, transaction_id: str) -> TransactionState:
        """The live record of transaction ``transaction_id``, made (and counted) on first sight."""
        transaction = self.transactions.get(transaction_id)
        if transaction is None:
            transaction = self.transactions[transaction_id] = TransactionState(transaction_id)
            self.tx_seen += 1
        return transaction

    def record_started(self, transaction: TransactionState, at: datetime.datetime) -> None:
        """An event saying that ``transaction`` started (at ``at``, station clock) arrived."""
        if not transaction.started:
            transaction.started = True
            self.tx_started += 1
        transaction.started_at = at

    def record_ended(self, transaction: TransactionState, at: datetime.datetime) -> None:
        """An event saying that ``transaction`` ended (at ``at``, station clock) arrived."""
        if not transaction.ended:
            transaction.ended = True
            self.tx_ended += 1
        transaction.ended_at = at

    def record_transaction_event(self, transaction: TransactionState, event: TxEvent) -> None:
        """Add ``event`` to ``transaction``'s events (flagged ``retransmission`` if it repeats
        one); once an ``Ended`` event is in, ended transactions beyond the history are dropped."""
        events = transaction.events
        if events and event.seq_no <= events[-1].seq_no:  # not the next one: maybe sent again
            for earlier in reversed(events):
                if event.repeats(earlier):
                    event = msgspec.structs.replace(event, retransmission=True)
                    break
        events.append(event)
        if event.event_type == "Ended" and self.transaction_history is not None:
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
            tariffs={evse_id: tariff for evse_id, (_, tariff) in self.tariffs.items()},
            event_streams=dict(self.event_streams),
            battery_swaps=tuple(self.battery_swaps),
            settlements=tuple(self.settlements),
        )
