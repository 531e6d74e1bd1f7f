"""The OCPP 2.0.1 dialect of the station: how a 2.0.1 station boots, reports, runs its
transactions, samples its meters and keeps its device model.

One :class:`V201Dialect` per station, made by the dialect registry
(:mod:`fleet.actors.station.dialects`) for a profile whose ``ocpp_version`` is
``"2.0.1"``. It owns the 2.0.1 state (the device model, charging profiles, the local
list and auth cache, certificates, monitors, display messages, firmware and log
status) and acts on the version-free station through :class:`~fleet.actors.station.
interface.StationCore`; its handlers (:mod:`.handlers`) answer the CSMS through it.

Transaction model (OCPP 2.0.1 E, "flexible transaction start/stop"): see
:mod:`.transactions`. A later version extends this class (2.1 is a superset of 2.0.1):
override what changes, add handlers to a copy of :data:`.handlers.HANDLERS`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

import msgspec
import trio

from ....malformed import Direction
from ....ocpp import V201, CallTimeout, ConnectionLost, ProtocolVersion, v201
from ....ocpp.v201 import (
    EVSE,
    AuthorizationStatus,
    BootNotificationRequest,
    BootReason,
    ChargingState,
    ChargingStation,
    Component,
    ConnectorStatus,
    EventData,
    EventNotification,
    EventTrigger,
    FirmwareStatus,
    HeartbeatRequest,
    IdToken,
    IdTokenEnum,
    IdTokenInfo,
    Modem,
    ReadingContext,
    Reason,
    TransactionEvent,
    TriggerReason,
    UploadLogStatus,
    Variable,
    VariableMonitoring,
)
from ....profiles import render_pattern
from ..hardware import ConnectorState, EvseState, TxState, Vehicle
from ..interface import StationCore
from ..outbox import OutItem
from ..snapshots import CostSnapshot, DerControlSnapshot, Setting
from .device_model import DeviceModel, Key, VarDef, catalog_for, key
from .directions import TO_CSMS
from .handlers import HANDLERS, Handler
from .settings import settings_of
from .smart_charging import ProfileStore
from .transactions import (
    AUTHORIZED,
    EV_CONNECTED,
    charging_state,
    conditions,
    connector_status,
    normalize_points,
    sample,
    sheddable,
)

__all__ = ["V201Dialect"]

#: the keys of the two values every station has of its own (one tuple for all stations)
_IDENTITY: Final = key("SecurityCtrlr", "Identity")
_BASIC_AUTH_PASSWORD: Final = key("SecurityCtrlr", "BasicAuthPassword")

#: The security event a station reports once accepted after a boot of this reason.
_BOOT_SECURITY_EVENTS: Final = {
    BootReason.REMOTE_RESET: "ResetOrReboot",
    BootReason.LOCAL_RESET: "ResetOrReboot",
    BootReason.FIRMWARE_UPDATE: "FirmwareUpdated",
}


class V201Dialect:
    """OCPP 2.0.1 for one station (see the module's description).

    Args:
        station: the version-free station it speaks for.
    """

    #: the OCPP version it speaks (the profile's ``ocpp_version``)
    version: ClassVar[str] = "2.0.1"
    #: CSMS-initiated action -> default handler ``(dialect, request) -> response``
    handlers: ClassVar[Mapping[str, Handler]] = HANDLERS
    #: the malformed traffic a 2.0.1 station sends a CSMS (fault injection)
    to_csms: ClassVar[Direction] = TO_CSMS
    #: while Rejected it still answers the CSMS's CALLs
    silent_while_rejected: ClassVar[bool] = False
    #: the protocol it speaks (its actions, codec and RPC framework)
    protocol: ClassVar[ProtocolVersion] = V201
    #: the module of its payload types: every request and response it builds is
    #: ``self.messages.<Action>Request(...)``, so a later version (2.1) changes only this
    messages = v201

    def __init__(self, station: StationCore) -> None:
        self.station = station
        values: dict[Key, str] = {_IDENTITY: station.station_id}
        if station.password:
            values[_BASIC_AUTH_PASSWORD] = station.password
        #: the device model (the 2.0.1 configuration model)
        self.model = DeviceModel(catalog_for(station.profile), self.dynamic_value, values)
        self.charging_profiles = ProfileStore()
        self._charging_station: ChargingStation | None = None
        self._seq = 0
        self._points: dict[str, frozenset[str]] = {}
        self._event_id = 0
        # CSMS-managed data (see the handlers)
        self.local_list: dict[str, IdTokenInfo] = {}
        self.local_list_version = 0
        self.auth_cache: dict[str, IdTokenInfo] = {}
        self.certificates: list[tuple[str, Any, str]] = []
        self.display_messages: dict[int, Any] = {}
        self.monitors: dict[int, Any] = {}
        self.monitoring_base = "All"
        self.monitoring_level = 9
        self.network_profiles: dict[int, Any] = {}
        self.firmware_status = FirmwareStatus.IDLE
        self.firmware_request_id: int | None = None
        self.firmware_version = station.profile.identity.firmware_version
        self.firmware_installed_pending = False
        self.log_status = UploadLogStatus.IDLE
        self.log_request_id: int | None = None
        self.next_monitor_id = 1

    # ============================================================ the station's hooks

    def settings(self) -> list[Setting]:
        """Every device-model variable (its full base report)."""
        return settings_of(self.model)

    def evse_cost(self, evse: EvseState) -> CostSnapshot | None:
        """None: the station calculates no cost."""
        return None

    def der_controls(self) -> tuple[DerControlSnapshot, ...] | None:
        """None: the station simulates no DER control."""
        return None

    def boot_reason(self, reason: str) -> str:
        """``reason`` as a 2.0.1 BootReason (ValueError if it is none)."""
        return BootReason(reason)

    def knows_action(self, action: str) -> bool:
        """Whether ``action`` is an action of this version (for :meth:`Station.on`)."""
        return action in self.protocol.actions

    def sheddable(self, request: Any) -> bool:
        """Whether a queued request may be shed from a full offline queue."""
        return sheddable(request, self.messages.TransactionEventRequest)

    # ----------------------------------------------------------- configuration

    def retry_backoff(self) -> tuple[int, int, int]:
        """RetryBackOffWaitMinimum, RetryBackOffRepeatTimes, RetryBackOffRandomRange."""
        model = self.model
        return (
            model.get_int("OCPPCommCtrlr", "RetryBackOffWaitMinimum"),
            model.get_int("OCPPCommCtrlr", "RetryBackOffRepeatTimes"),
            model.get_int("OCPPCommCtrlr", "RetryBackOffRandomRange"),
        )

    def set_retry_backoff(self, wait_minimum: int | None, repeat_times: int | None, random_range: int | None) -> None:
        for name, value in (
            ("RetryBackOffWaitMinimum", wait_minimum),
            ("RetryBackOffRepeatTimes", repeat_times),
            ("RetryBackOffRandomRange", random_range),
        ):
            if value is not None:
                self.model.put("OCPPCommCtrlr", name, str(int(value)))

    def message_timeout(self) -> int:
        return self.model.get_int("OCPPCommCtrlr", "MessageTimeout", "Default",
                                  default=self.station.profile.message_timeout)

    def ping_interval(self) -> int:
        return self.model.get_int("OCPPCommCtrlr", "WebSocketPingInterval")

    def heartbeat_interval(self) -> int:
        return self.model.get_int("OCPPCommCtrlr", "HeartbeatInterval",
                                  default=self.station.profile.heartbeat_interval)

    def transaction_attempts(self) -> int:
        """How many times a transaction message is sent before it is given up."""
        return self.model.get_int("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent", default=3)

    def transaction_attempt_interval(self) -> int:
        """Seconds between attempts (times the attempts so far)."""
        return self.model.get_int("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent", default=10)

    def credentials_changed(self, station_id: str | None, password: str | None) -> None:
        """The station got a new id or password (a Connect command)."""
        if password is not None:
            self.model.put("SecurityCtrlr", "BasicAuthPassword", password)
        if station_id is not None:
            self.model.put("SecurityCtrlr", "Identity", station_id)

    # ------------------------------------------------------------------ boot

    def boot_answer(self, response: Any) -> tuple[str, int]:
        """The status (``Accepted``, ``Pending``, ``Rejected``) and interval of a
        BootNotification answer."""
        return response.status, response.interval

    def boot_accepted(self, reason: str | None, interval: int) -> None:
        """The CSMS accepted the boot (for ``reason``): report every connector, what a
        firmware update or reset left to say, and start the meter timers."""
        security_event = _BOOT_SECURITY_EVENTS.get(reason) if reason else None  # type: ignore[call-overload]
        if interval > 0:
            self.model.put("OCPPCommCtrlr", "HeartbeatInterval", str(interval))
        operative = self.station.station_operative()
        self.station.arm_heartbeat()
        for evse in self.station.evses:
            for connector in evse.connectors:
                connector.status = connector_status(evse, connector, operative)
                self._send_status(evse, connector)
        if self.firmware_installed_pending:
            self.firmware_installed_pending = False
            self.firmware_status = FirmwareStatus.INSTALLED
            fields: dict[str, Any] = {"status": FirmwareStatus.INSTALLED}
            if self.firmware_request_id is not None:
                fields["request_id"] = self.firmware_request_id
            self.station.send(self.messages.FirmwareStatusNotificationRequest(**fields), durable=True)
        if security_event is not None:
            self.security_event(security_event)
        self._arm_meter_timer()
        self._arm_aligned_timer()

    def firmware_installed(self, version: str) -> None:
        """A firmware update installed ``version``: the next boot says so."""
        self.firmware_version = version
        self._charging_station = None
        self.firmware_installed_pending = True

    def heartbeat_request(self) -> HeartbeatRequest:
        return self.messages.HeartbeatRequest()

    # ---------------------------------------------------------------- status

    def report_changed_statuses(self) -> None:
        """After a reconnection without reboot: report the connectors whose status changed."""
        for evse in self.station.evses:
            for connector in evse.connectors:
                if connector.status != connector.reported:
                    self._send_status(evse, connector)

    def reset_statuses(self, evse: EvseState) -> None:
        """The statuses of a rebooted EVSE (reported after the next boot)."""
        operative = self.station.station_operative()
        for connector in evse.connectors:
            connector.status = connector_status(evse, connector, operative)

    def fault_changed(self, evse: EvseState, connector: ConnectorState) -> None:
        """A connector became faulted (or not): report it."""
        self.refresh_status(evse)
        self.notify_fault(evse, connector)

    # ------------------------------------------------------------ commands

    def start_by_driver(self, evse: EvseState, id_token: str, token_type: str, authorize: bool) -> None:
        """A driver presents a token (the StartTransaction command); raises ValueError for
        a token type 2.0.1 does not know."""
        token = IdToken(id_token=id_token, type=IdTokenEnum(token_type))
        self.present_token(evse, token, authorize=authorize)

    def driver_presents(self, evse: EvseState, id_token: str, token_type: str,
                        on_rejected: Callable[[], None] | None) -> None:
        """The session generator's driver presents a token."""
        self.present_token(evse, IdToken(id_token=id_token, type=IdTokenEnum(token_type)), on_rejected=on_rejected)

    def stop_by_driver(self, evse: EvseState, reason: str = "Local") -> None:
        """The driver stops the transaction with the token that started it."""
        self.stop_transaction_on(evse, TriggerReason.STOP_AUTHORIZED, Reason(reason), id_token=evse.authorized)

    def stop_for_shutdown(self, evse: EvseState) -> None:
        """The station shuts down: its transactions end."""
        self.stop_transaction_on(evse, TriggerReason.STOP_AUTHORIZED, Reason.LOCAL)

    def end_for_reboot(self, evse: EvseState, reason: str) -> None:
        """A reboot (for ``reason``) ends the transaction on ``evse``."""
        stopped = Reason.IMMEDIATE_RESET if reason != BootReason.FIRMWARE_UPDATE else Reason.REBOOT
        self.force_end(evse, TriggerReason.RESET_COMMAND, stopped)

    def rebooted(self) -> None:
        """What a reboot forgets (display messages)."""
        self.display_messages.clear()

    # ============================================================ 2.0.1 behaviour

    def boot_request(self, reason: str | None) -> BootNotificationRequest:
        """The BootNotification of a boot for ``reason`` (``None``: Unknown)."""
        station = self._charging_station
        if station is None:
            identity = self.station.profile.identity
            fields: dict[str, Any] = {
                "model": identity.model,
                "vendor_name": identity.vendor,
                "firmware_version": self.firmware_version[:50],
            }
            serial = render_pattern(identity.serial_number, self.station.station_id)[:25]
            if serial:
                fields["serial_number"] = serial
            if identity.iccid or identity.imsi:
                modem: dict[str, Any] = {}
                if identity.iccid:
                    modem["iccid"] = identity.iccid
                if identity.imsi:
                    modem["imsi"] = identity.imsi
                fields["modem"] = Modem(**modem)
            station = self._charging_station = ChargingStation(**fields)
        return self.messages.BootNotificationRequest(charging_station=station, reason=BootReason(reason) if reason else BootReason.UNKNOWN)

    def security_event(self, event_type: str, info: str = "") -> None:
        """Queue a SecurityEventNotification (kept across the reconnection it often precedes)."""
        fields: dict[str, Any] = {"type": event_type, "timestamp": self.station.clock()}
        if info:
            fields["tech_info"] = info[:255]
        self.station.send(self.messages.SecurityEventNotificationRequest(**fields), durable=True)

    def notify_fault(self, evse: EvseState, connector: ConnectorState) -> None:
        """A hard-wired NotifyEvent for a connector that became (or stopped being) faulted."""
        if not self.station.online():
            return
        self._event_id += 1
        data = EventData(
            event_id=self._event_id,
            timestamp=self.station.clock(),
            trigger=EventTrigger.DELTA,
            actual_value=str(connector.status),
            component=Component(name="Connector", evse=EVSE(id=evse.id, connector_id=connector.connector_id)),
            variable=Variable(name="AvailabilityState"),
            event_notification_type=EventNotification.HARD_WIRED_NOTIFICATION,
            cleared=not connector.faulted,
        )
        self.station.send(self.messages.NotifyEventRequest(generated_at=self.station.clock(), seq_no=0, event_data=[data]))

    def refresh_status(self, evse: EvseState) -> None:
        """Recompute the connectors' statuses; report the ones that changed."""
        for connector in evse.connectors:
            status = connector_status(evse, connector, self.station.station_operative())
            if status != connector.status:
                connector.status = status
                self.station.touch()
                if self.station.online():
                    self._send_status(evse, connector)

    def _send_status(self, evse: EvseState, connector: ConnectorState, followup: bool = False) -> None:
        status = connector.status

        def acknowledged(result: Any) -> None:
            if not isinstance(result, Exception):
                connector.reported = status

        self.station.queue.append(
            OutItem(
                self.messages.StatusNotificationRequest(
                    timestamp=self.station.clock(),
                    connector_status=ConnectorStatus(status),
                    evse_id=evse.id,
                    connector_id=connector.connector_id,
                ),
                followup=followup,
                on_result=acknowledged,
            )
        )

    def send_status(self, evse: EvseState, connector: ConnectorState, followup: bool = True) -> None:
        self._send_status(evse, connector, followup)
        self.station.wake()

    def _points_of(self, variable: str) -> frozenset[str]:
        raw = self.model.get_str("TxCtrlr", variable)
        cached = self._points.get(raw)
        if cached is None:
            cached = self._points[raw] = normalize_points(p for p in raw.split(",") if p)
        return cached

    def _may_start_transaction(self) -> bool:
        return self.station.booted or self.model.get_bool("TxCtrlr", "TxBeforeAcceptedEnabled")

    def _apply_limit(self, evse: EvseState) -> None:
        if not self.charging_profiles.items:
            evse.limit_w = None
            return
        tx = evse.tx
        sharing = sum(1 for e in self.station.evses if e.tx is not None) or 1
        evse.limit_w = self.charging_profiles.limit_w(
            evse.id,
            self.station.clock(),
            voltage=evse.voltage,
            phases=evse.phases,
            transaction_id=tx.id if tx is not None else None,
            transaction_start=tx.started_wall if tx is not None else None,
            evse_share=sharing,
        )

    def update_evse(
        self,
        evse: EvseState,
        trigger: TriggerReason | None = None,
        *,
        stopped_reason: Reason | None = None,
        id_token: IdToken | None = None,
        rate_change: bool = False,
    ) -> None:
        """Bring an EVSE up to date after something changed, and report it.

        Integrates energy to now, recomputes the limit, power and charging state,
        starts/updates/ends the transaction per TxStartPoint/TxStopPoint (event
        with ``trigger``; a change of charging state alone gives
        ChargingStateChanged), and reports connector statuses that changed.
        """
        now = trio.current_time()
        evse.advance(now, self.station.speed)
        self._apply_limit(evse)
        operative = self.station.station_operative()
        old_power = evse.power_w
        evse.power_w = evse.target_power(operative)
        state = charging_state(evse, operative)
        held = conditions(evse, operative)
        tx = evse.tx
        if tx is None:
            start_points = self._points_of("TxStartPoint")
            if trigger is not None and held & start_points and self._may_start_transaction():
                tx = self._begin_transaction(evse, trigger, state, held)
        else:
            stop_points = self._points_of("TxStopPoint")
            tx.seen |= held & stop_points
            lost = (tx.seen - held) & stop_points
            if lost or not held & {EV_CONNECTED, AUTHORIZED}:
                if stopped_reason is None:
                    stopped_reason = tx.stop_reason
                if stopped_reason is None:
                    if EV_CONNECTED in lost or evse.plugged is None:
                        stopped_reason = Reason.EV_DISCONNECTED
                    elif AUTHORIZED in lost:
                        stopped_reason = Reason.DE_AUTHORIZED
                    else:
                        stopped_reason = Reason.STOPPED_BY_EV
                self._end_transaction(evse, trigger or TriggerReason.CHARGING_STATE_CHANGED, stopped_reason, state,
                                      id_token)
            elif trigger is not None:
                tx.charging_state = state
                self._emit(evse, TransactionEvent.UPDATED, trigger, id_token=id_token)
            elif state != tx.charging_state:
                tx.charging_state = state
                self._emit(evse, TransactionEvent.UPDATED, TriggerReason.CHARGING_STATE_CHANGED)
            elif rate_change and state == ChargingState.CHARGING and self._significant(old_power, evse.power_w):
                self._emit(evse, TransactionEvent.UPDATED, TriggerReason.CHARGING_RATE_CHANGED)
        self._arm_full_timer(evse)
        self._arm_limit_timer(evse)
        self.refresh_status(evse)
        self.station.update_state()

    def _significant(self, old: float, new: float) -> bool:
        significance = self.model.get_float("SmartChargingCtrlr", "LimitChangeSignificance", default=0.1)
        if old <= 0:
            return new > 0
        return abs(new - old) / old > significance

    def _begin_transaction(self, evse: EvseState, trigger: TriggerReason, state: ChargingState,
                           held: frozenset[str]) -> TxState:
        tx = TxState(str(uuid.uuid4()), trio.current_time(), self.station.clock(), evse.register_wh)
        tx.charging_state = state
        tx.seen = set(held & self._points_of("TxStopPoint"))
        tx.id_token = evse.authorized
        tx.remote_start_id = evse.remote_start_id
        if evse.reservation_used is not None:
            tx.reservation_id = evse.reservation_used
            evse.reservation_used = None
        evse.tx = tx
        self.station.count_transaction_started()
        if evse.pending_tx_profile is not None:
            profile, evse.pending_tx_profile = evse.pending_tx_profile, None
            self.charging_profiles.install(
                evse.id, profile, self.station.clock(), evse_ids=[e.id for e in self.station.evses], transactions={evse.id: tx.id}
            )
            self._apply_limit(evse)
            evse.power_w = evse.target_power(self.station.station_operative())
            tx.charging_state = charging_state(evse, self.station.station_operative())
        meter = sample(evse, self.model.get_list("SampledDataCtrlr", "TxStartedMeasurands"),
                            ReadingContext.TRANSACTION_BEGIN, self.station.clock())
        self._emit(evse, TransactionEvent.STARTED, trigger, id_token=evse.authorized, meter=meter)
        self._arm_meter_timer()
        return tx

    def _end_transaction(self, evse: EvseState, trigger: TriggerReason, reason: Reason, state: ChargingState,
                         id_token: IdToken | None) -> None:
        tx = evse.tx
        assert tx is not None
        tx.charging_state = state
        meter = sample(evse, self.model.get_list("SampledDataCtrlr", "TxEndedMeasurands"),
                            ReadingContext.TRANSACTION_END, self.station.clock())
        self._emit(evse, TransactionEvent.ENDED, trigger, stopped_reason=reason, id_token=id_token, meter=meter)
        evse.tx = None
        evse.authorized = None
        evse.group_id_token = None
        evse.remote_start_id = None
        evse.power_w = 0.0
        self.station.cancel_timer(("evconnect", evse.id))
        self.station.cancel_timer(("full", evse.id))
        self.charging_profiles.end_transaction(tx.id)
        if evse.pending_operative is not None:
            evse.operative, evse.pending_operative = evse.pending_operative, None
        self.station.transaction_ended(evse)

    def _emit(
        self,
        evse: EvseState,
        event_type: TransactionEvent,
        trigger: TriggerReason,
        *,
        stopped_reason: Reason | None = None,
        id_token: IdToken | None = None,
        meter: Any = None,
    ) -> None:
        tx = evse.tx
        assert tx is not None
        if self.station.profile.seq_no == "transaction":
            seq = tx.seq
            tx.seq += 1
        else:
            seq = self._seq
            self._seq += 1
        info: dict[str, Any] = {"transaction_id": tx.id}
        if tx.charging_state is not None:
            info["charging_state"] = tx.charging_state
        if event_type == TransactionEvent.ENDED:
            info["stopped_reason"] = stopped_reason or Reason.LOCAL
            info["time_spent_charging"] = int(tx.charging_seconds)
        if tx.remote_start_id is not None and (
            event_type == TransactionEvent.STARTED or trigger == TriggerReason.REMOTE_START
        ):
            info["remote_start_id"] = tx.remote_start_id
        fields: dict[str, Any] = {
            "event_type": event_type,
            "timestamp": self.station.clock(),
            "trigger_reason": trigger,
            "seq_no": seq,
        }
        if meter is not None:
            fields["meter_value"] = [meter]
        if not self.station.connected():
            fields["offline"] = True
        if event_type == TransactionEvent.STARTED:
            fields["evse"] = EVSE(id=evse.id, connector_id=evse.plugged) if evse.plugged else EVSE(id=evse.id)
            if evse.ac:
                fields["number_of_phases_used"] = evse.phases
            if tx.reservation_id is not None:
                fields["reservation_id"] = tx.reservation_id
        elif trigger in (TriggerReason.CABLE_PLUGGED_IN,) and evse.plugged:
            fields["evse"] = EVSE(id=evse.id, connector_id=evse.plugged)
        elif tx.reservation_id is not None and trigger in (TriggerReason.AUTHORIZED, TriggerReason.REMOTE_START):
            fields["reservation_id"] = tx.reservation_id
        if id_token is not None:
            fields["id_token"] = id_token
        self.event_fields(evse, event_type, trigger, info, fields)
        fields["transaction_info"] = self.messages.Transaction(**info)
        request = self.messages.TransactionEventRequest(**fields)
        transaction_id = tx.id
        self.station.queue.append(
            OutItem(
                request,
                durable=True,
                transaction_id=transaction_id,
                seq_no=seq,
                on_result=lambda result: self._on_event_result(evse, transaction_id, result),
            )
        )
        energy = export = None
        if self.station.audit and meter is not None:
            for sampled in meter.sampled_value:
                if sampled.measurand == "Energy.Active.Import.Register":
                    energy = sampled.value
                elif sampled.measurand == "Energy.Active.Export.Register":
                    export = sampled.value
        self.station.count_event(transaction_id, seq, energy, export)
        self.station.touch()

    def event_fields(self, evse: EvseState, event_type: str, trigger: str, info: dict[str, Any],
                     fields: dict[str, Any]) -> None:
        """What a later version adds to a TransactionEvent on ``evse`` before it is built:
        ``info`` (its ``transactionInfo``) and ``fields`` (the request's); 2.0.1 adds nothing."""

    def _on_event_result(self, evse: EvseState, transaction_id: str, result: Any) -> None:
        if isinstance(result, Exception):
            return
        tx = evse.tx
        if tx is None or tx.id != transaction_id:
            return
        if result.total_cost is not msgspec.UNSET:
            tx.total_cost = result.total_cost
        info = result.id_token_info
        if info is msgspec.UNSET or info.status == AuthorizationStatus.ACCEPTED:
            return
        if evse.authorized is not None and self.model.get_bool("TxCtrlr", "StopTxOnInvalidId"):
            self.deauthorize(evse, TriggerReason.DEAUTHORIZED, Reason.DE_AUTHORIZED)

    def meter_event(self, evse: EvseState, trigger: TriggerReason, context: ReadingContext,
                    measurands: list[str]) -> bool:
        """A TransactionEvent Updated with meter values (periodic, clock, triggered)."""
        if evse.tx is None:
            return False
        evse.advance(trio.current_time(), self.station.speed)
        meter = sample(evse, measurands, context, self.station.clock())
        self._emit(evse, TransactionEvent.UPDATED, trigger, meter=meter)
        return True

    def meter_values(self, evse: EvseState, context: ReadingContext, measurands: list[str],
                     followup: bool = False) -> None:
        """A MeterValues request for an EVSE."""
        evse.advance(trio.current_time(), self.station.speed)
        meter = sample(evse, measurands, context, self.station.clock())
        if meter is not None:
            self.station.send(self.messages.MeterValuesRequest(evse_id=evse.id, meter_value=[meter]), followup=followup)

    # ------------------------------------------------------------ meter timers

    def _arm_meter_timer(self) -> None:
        if self.station.has_timer("meter") or not self.station.any_transaction():
            return
        interval = self.model.get_int("SampledDataCtrlr", "TxUpdatedInterval")
        if interval > 0:
            self.station.protocol_timer("meter", interval, self._meter_tick)

    def rearm_meter_timer(self) -> None:
        self.station.cancel_timer("meter")
        self._arm_meter_timer()

    def _meter_tick(self) -> None:
        measurands = self.model.get_list("SampledDataCtrlr", "TxUpdatedMeasurands")
        for evse in self.station.evses:
            if evse.tx is not None:
                self.update_evse(evse, rate_change=True)
                if evse.tx is not None:
                    self.meter_event(evse, TriggerReason.METER_VALUE_PERIODIC, ReadingContext.SAMPLE_PERIODIC,
                                     measurands)
        self._arm_meter_timer()
        self.station.touch()

    def _arm_aligned_timer(self) -> None:
        interval = self.model.get_int("AlignedDataCtrlr", "Interval")
        if interval <= 0:
            self.station.cancel_timer("aligned")
            return
        wait = interval - (time.time() % interval)
        self.station.set_timer("aligned", wait, self._aligned_tick)

    def rearm_aligned_timer(self) -> None:
        self._arm_aligned_timer()

    def _aligned_tick(self) -> None:
        measurands = self.model.get_list("AlignedDataCtrlr", "Measurands")
        idle = self.model.get_bool("AlignedDataCtrlr", "SendDuringIdle")
        for evse in self.station.evses:
            if evse.tx is not None:
                self.meter_event(evse, TriggerReason.METER_VALUE_CLOCK, ReadingContext.SAMPLE_CLOCK, measurands)
            elif idle and self.station.online():
                self.meter_values(evse, ReadingContext.SAMPLE_CLOCK, measurands)
        self._arm_aligned_timer()

    def _arm_full_timer(self, evse: EvseState) -> None:
        seconds = evse.seconds_to_full(self.station.speed)
        if seconds is None:
            self.station.cancel_timer(("full", evse.id))
        else:
            self.station.set_timer(("full", evse.id), seconds, lambda: self.update_evse(evse))

    def _arm_limit_timer(self, evse: EvseState) -> None:
        if not self.charging_profiles.items or evse.tx is None:
            self.station.cancel_timer(("limit", evse.id))
            return
        tx = evse.tx
        now = self.station.clock()
        change = self.charging_profiles.next_change(
            evse.id, now, transaction_id=tx.id, transaction_start=tx.started_wall
        )
        if change is None:
            self.station.cancel_timer(("limit", evse.id))
        else:
            self.station.set_timer(("limit", evse.id), (change - now).total_seconds() + 0.001,
                           lambda: self.update_evse(evse, rate_change=True))

    def limits_changed(self) -> None:
        """Charging profiles changed: apply the new limits to every EVSE."""
        for evse in self.station.evses:
            self.update_evse(evse, rate_change=True)

    # --------------------------------------------------------- vehicle & driver

    def plug_vehicle(self, evse: EvseState, connector_id: int = 1, vehicle: Vehicle | None = None) -> None:
        """A vehicle plugs in (CablePluggedIn)."""
        if evse.connector(connector_id) is None:
            raise ValueError(f"EVSE {evse.id} has no connector {connector_id}")
        if evse.plugged is not None:
            raise ValueError(f"EVSE {evse.id} already has a vehicle on connector {evse.plugged}")
        evse.plugged = connector_id
        evse.vehicle = vehicle or self.station.new_vehicle()
        self.station.cancel_timer(("evconnect", evse.id))
        self.update_evse(evse, TriggerReason.CABLE_PLUGGED_IN)

    def unplug_vehicle(self, evse: EvseState) -> None:
        """The vehicle unplugs (EVCommunicationLost; ends the transaction if
        StopTxOnEVSideDisconnect or TxStopPoint says so)."""
        if evse.plugged is None:
            return
        evse.plugged = None
        if evse.tx is not None and self.model.get_bool("TxCtrlr", "StopTxOnEVSideDisconnect"):
            evse.authorized = None
        self.update_evse(evse, TriggerReason.EV_COMMUNICATION_LOST, stopped_reason=Reason.EV_DISCONNECTED)
        evse.vehicle = None
        self.station.touch()

    def present_token(
        self,
        evse: EvseState,
        token: IdToken,
        *,
        trigger: TriggerReason = TriggerReason.AUTHORIZED,
        authorize: bool = True,
        on_rejected: Callable[[], None] | None = None,
    ) -> None:
        """A token is presented at ``evse``: authorize it (locally or with Authorize)."""
        if evse.reservation is not None and not evse.reservation.admits(token):
            self._auth_rejected(evse, on_rejected)
            return
        if not (evse.operative and self.station.station_operative()) or any(c.faulted for c in evse.connectors):
            self._auth_rejected(evse, on_rejected)
            return
        if not authorize or token.type == IdTokenEnum.NO_AUTHORIZATION:
            self.authorized(evse, token, trigger)
            return
        local = self.local_list.get(token.id_token) if self.model.get_bool("LocalAuthListCtrlr", "Enabled") else None
        if local is None and self.model.get_bool("AuthCacheCtrlr", "Enabled"):
            local = self.auth_cache.get(token.id_token)
        if local is not None and self.model.get_bool("AuthCtrlr", "LocalPreAuthorize"):
            if local.status == AuthorizationStatus.ACCEPTED:
                self.authorized(evse, token, trigger, local)
            else:
                self._auth_rejected(evse, on_rejected)
            return
        if self.station.online():
            self.station.send(
                self.messages.AuthorizeRequest(id_token=token),
                on_result=lambda result: self._on_authorize(evse, token, trigger, local, on_rejected, result),
            )
        else:
            self._authorize_offline(evse, token, trigger, local, on_rejected)

    def _authorize_offline(self, evse: EvseState, token: IdToken, trigger: TriggerReason,
                           local: IdTokenInfo | None, on_rejected: Callable[[], None] | None) -> None:
        if self.model.get_bool("AuthCtrlr", "LocalAuthorizeOffline") and local is not None:
            if local.status == AuthorizationStatus.ACCEPTED:
                self.authorized(evse, token, trigger, local)
            else:
                self._auth_rejected(evse, on_rejected)
        elif self.model.get_bool("AuthCtrlr", "OfflineTxForUnknownIdEnabled"):
            self.authorized(evse, token, trigger)
        else:
            self._auth_rejected(evse, on_rejected)

    def _on_authorize(self, evse: EvseState, token: IdToken, trigger: TriggerReason, local: IdTokenInfo | None,
                      on_rejected: Callable[[], None] | None, result: Any) -> None:
        if isinstance(result, Exception):
            if isinstance(result, (ConnectionLost, CallTimeout)):
                self._authorize_offline(evse, token, trigger, local, on_rejected)
            else:
                self._auth_rejected(evse, on_rejected)
            return
        info = result.id_token_info
        if self.model.get_bool("AuthCacheCtrlr", "Enabled"):
            self.auth_cache[token.id_token] = info
            if len(self.auth_cache) > 1000:
                self.auth_cache.pop(next(iter(self.auth_cache)))
        allowed = info.evse_id
        if info.status == AuthorizationStatus.ACCEPTED and (allowed is msgspec.UNSET or evse.id in allowed):
            self.authorized(evse, token, trigger, info)
        else:
            self._auth_rejected(evse, on_rejected)

    def _auth_rejected(self, evse: EvseState, on_rejected: Callable[[], None] | None) -> None:
        self.station.note_error(f"authorization rejected on EVSE {evse.id}")
        if on_rejected is not None:
            on_rejected()

    def authorized(self, evse: EvseState, token: IdToken, trigger: TriggerReason,
                   info: IdTokenInfo | None = None) -> None:
        """``token`` is accepted at ``evse`` (Authorized, or RemoteStart)."""
        if evse.authorized is not None:
            return
        evse.authorized = token
        if info is not None and info.group_id_token is not msgspec.UNSET:
            evse.group_id_token = info.group_id_token
        reservation = evse.reservation
        if reservation is not None and reservation.admits(token, evse.group_id_token):
            evse.reservation = None
            self.station.cancel_timer(("reservation", reservation.id))
            if evse.tx is not None:
                evse.tx.reservation_id = reservation.id
            else:
                evse.reservation_used = reservation.id
        if evse.tx is not None and evse.tx.id_token is None:
            evse.tx.id_token = token
        self.update_evse(evse, trigger, id_token=token)
        if evse.plugged is None and evse.authorized is not None:
            timeout = self.model.get_int("TxCtrlr", "EVConnectionTimeOut", default=60)
            self.station.sim_timer(("evconnect", evse.id), timeout, lambda: self._connection_timeout(evse))
        driver = self.station.driver
        if self.station.profile.sessions.enabled and driver.running:
            driver.authorized(evse)

    def _connection_timeout(self, evse: EvseState) -> None:
        if evse.plugged is None and evse.authorized is not None:
            self.stop_transaction_on(evse, TriggerReason.EV_CONNECT_TIMEOUT, Reason.TIMEOUT)

    def deauthorize(self, evse: EvseState, trigger: TriggerReason, reason: Reason,
                    id_token: IdToken | None = None) -> None:
        """The authorization on ``evse`` ends (StopAuthorized, Deauthorized, RemoteStop...)."""
        if evse.authorized is None:
            return
        if evse.tx is not None:
            evse.tx.stop_reason = reason
        evse.authorized = None
        self.station.cancel_timer(("evconnect", evse.id))
        self.update_evse(evse, trigger, stopped_reason=reason, id_token=id_token)

    def stop_transaction_on(self, evse: EvseState, trigger: TriggerReason, reason: Reason,
                            id_token: IdToken | None = None) -> None:
        """End the authorization and, whatever TxStopPoint says, the transaction on ``evse``."""
        self.deauthorize(evse, trigger, reason, id_token)
        if evse.tx is not None:
            self.force_end(evse, trigger, reason, id_token)

    def force_end(self, evse: EvseState, trigger: TriggerReason, reason: Reason,
                  id_token: IdToken | None = None) -> None:
        """End the transaction on ``evse`` now."""
        if evse.tx is None:
            return
        evse.advance(trio.current_time(), self.station.speed)
        evse.authorized = None
        evse.power_w = 0.0
        state = charging_state(evse, self.station.station_operative())
        self._end_transaction(evse, trigger, reason, state, id_token)
        self.refresh_status(evse)
        self.station.update_state()

    def remote_start(self, evse: EvseState, token: IdToken, remote_start_id: int,
                     group: IdToken | None = None) -> None:
        """RequestStartTransaction accepted: authorize (Authorize first if
        AuthorizeRemoteStart), start per TxStartPoint with triggerReason RemoteStart."""
        evse.remote_start_id = remote_start_id
        if evse.tx is not None and evse.tx.remote_start_id is None:
            evse.tx.remote_start_id = remote_start_id
        if self.model.get_bool("AuthCtrlr", "AuthorizeRemoteStart"):
            self.present_token(evse, token, trigger=TriggerReason.REMOTE_START)
        else:
            self.authorized(evse, token, TriggerReason.REMOTE_START)
        self.station.driver.remote_start(evse)

    # ---------------------------------------------------------- device model

    def variable_monitoring(self, monitor_id: int, data: Any) -> Any:
        """How GetMonitoringReport reports the monitor ``monitor_id`` the CSMS set with
        ``data`` (its SetMonitoringData)."""
        return VariableMonitoring(id=monitor_id, transaction=data.transaction is True, value=data.value,
                                  type=data.type, severity=data.severity)

    def dynamic_value(self, k: Key) -> str | None:
        component, _, evse_id, connector_id, variable, _ = k
        if component == "chargingstation":
            if variable == "availabilitystate":
                if not self.station.station_operative():
                    return "Unavailable"
                if any(c.faulted for e in self.station.evses for c in e.connectors):
                    return "Faulted"
                if any(e.plugged is not None or e.tx is not None for e in self.station.evses):
                    return "Occupied"
                return "Available"
            if variable == "available":
                return "true" if self.station.station_operative() else "false"
            if variable == "power":
                return str(round(sum(e.power_w for e in self.station.evses), 1))
            if variable == "problem":
                return "true" if any(c.faulted for e in self.station.evses for c in e.connectors) else "false"
        if component in ("evse", "connector"):
            evse = self.station.evse_by_id(evse_id)
            if evse is None:
                return None
            if component == "evse":
                if variable == "availabilitystate":
                    statuses = {c.status for c in evse.connectors}
                    for status in ("Faulted", "Occupied", "Reserved", "Available"):
                        if status in statuses:
                            return status
                    return "Unavailable"
                if variable == "available":
                    return "true" if evse.operative and self.station.station_operative() else "false"
                if variable == "power":
                    return str(round(evse.power_w, 1))
                if variable == "problem":
                    return "true" if any(c.faulted for c in evse.connectors) else "false"
            else:
                connector = evse.connector(connector_id)
                if connector is None:
                    return None
                if variable == "availabilitystate":
                    return str(connector.status)
                if variable == "available":
                    return "true" if connector.operative and evse.operative and self.station.station_operative() else "false"
                if variable == "problem":
                    return "true" if connector.faulted else "false"
        if variable == "entries":
            if component == "localauthlistctrlr":
                return str(len(self.local_list))
            if component == "smartchargingctrlr":
                return str(len(self.charging_profiles))
        if component == "securityctrlr" and variable == "certificateentries":
            return str(len(self.certificates))
        if component == "clockctrlr" and variable == "datetime":
            return self.station.clock().isoformat()
        if component == "monitoringctrlr":
            if variable == "activemonitoringbase":
                return self.monitoring_base
            if variable == "activemonitoringlevel":
                return str(self.monitoring_level)
        if component == "ocppcommctrlr" and variable == "activenetworkprofile":
            return "0"
        if component == "firmwarectrlr" and variable == "firmwareversion":
            return self.firmware_version
        return None

    def variable_changed(self, definition: VarDef) -> None:
        """React to a variable the CSMS set (SetVariables)."""
        component, _, _, _, variable, _ = definition.key
        if component == "ocppcommctrlr":
            if variable == "heartbeatinterval":
                self.station.rearm_heartbeat()
            elif variable == "messagetimeout":
                self.station.set_call_timeout(float(self.message_timeout()))
        elif component == "securityctrlr" and variable == "basicauthpassword":
            self.station.password = self.model.get_str("SecurityCtrlr", "BasicAuthPassword")
            self.security_event("ReconfigurationOfSecurityParameters", "BasicAuthPassword changed")
            self.station.request_reconnect()
        elif component == "sampleddatactrlr" and variable == "txupdatedinterval":
            self.station.defer(self.rearm_meter_timer)
        elif component == "aligneddatactrlr" and variable == "interval":
            self.station.defer(self.rearm_aligned_timer)
        elif component == "txctrlr":
            self._points.clear()
