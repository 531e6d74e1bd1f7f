"""The OCPP 1.6J dialect of the station: how a 1.6 charge point boots, reports its
connectors, runs its transactions, samples its meters and keeps its configuration keys.

One :class:`V16Dialect` per station, made by the dialect registry
(:mod:`fleet.actors.station.dialects`) for a profile whose ``ocpp_version`` is ``"1.6"``.
It acts on the version-free station through :class:`~fleet.actors.station.interface.
StationCore`; its handlers (:mod:`.handlers`) answer the CSMS through it.

Connectors: numbered across the station (:mod:`.connectors`); connector 0 is the charge
point itself. Transactions (1.6 chapter 4.8): one starts when a vehicle is plugged into
an operative connector and an idTag is authorized there (StartTransaction with
meterStart; the CSMS assigns the transactionId) and ends when the driver, the CSMS, an
unplug (StopTransactionOnEVSideDisconnect), an unlock or a reset stops it
(StopTransaction with meterStop, reason and transactionData). StartTransaction,
StopTransaction and the transaction's MeterValues go through the station's durable
outbox, in order, kept across disconnections and reboots, each retried
TransactionMessageAttempts times TransactionMessageRetryInterval apart when the CSMS
answers with a CALLERROR. A transaction started while offline gets its transactionId
when its StartTransaction is answered: the messages queued behind it are then bound to
that id (bind late), before they leave.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

import msgspec
import trio
from msgspec import UNSET

from ....malformed import Direction
from ....ocpp import CallTimeout, ConnectionLost
from ....ocpp.v16 import (
    ACTIONS,
    AuthorizationStatus,
    AuthorizeRequest,
    BootNotificationRequest,
    ChargePointErrorCode,
    ChargePointStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    FirmwareStatusNotificationRequest,
    HeartbeatRequest,
    IdTagInfo,
    MeterValuesRequest,
    ReadingContext,
    Reason,
    SecurityEventNotificationRequest,
    SignedFirmwareStatus,
    SignedFirmwareStatusNotificationRequest,
    StartTransactionRequest,
    StatusNotificationRequest,
    StopTransactionRequest,
    TransactionData,
    UploadLogStatus,
)
from ....profiles import render_pattern
from ..hardware import ConnectorState, EvseState, TxState, Vehicle
from ..interface import StationCore
from ..outbox import OutItem
from ..snapshots import CostSnapshot, DerControlSnapshot, Setting
from ..v201.smart_charging import ProfileStore
from .configuration import Configuration, KeyDef, key_table
from .connectors import ConnectorMap
from .directions import TO_CSMS
from .handlers import HANDLERS, Handler
from .meter import sample, transaction_sample
from .smart_charging import rebind

__all__ = ["IdTag", "V16Dialect"]

#: How a reboot's reason (the station's, or Reset's type) ends a running transaction.
_REBOOT_STOP_REASONS: Final = {"HardReset": Reason.HARD_RESET, "SoftReset": Reason.SOFT_RESET}
#: Entries the authorization cache keeps at most.
_CACHE_LIMIT: Final = 1000
#: Readings a StopTransaction's transactionData keeps at most (the latest).
_STOP_DATA_LIMIT: Final = 48


class IdTag:
    """An idTag as the hardware keeps it (``evse.authorized``)."""

    __slots__ = ("id_token",)

    def __init__(self, id_tag: str) -> None:
        self.id_token = id_tag

    def __repr__(self) -> str:
        return f"IdTag({self.id_token!r})"


class V16Dialect:
    """OCPP 1.6J for one station (see the module's description).

    Args:
        station: the version-free station it speaks for.
    """

    #: the OCPP version it speaks (the profile's ``ocpp_version``)
    version: ClassVar[str] = "1.6"
    #: CSMS-initiated action -> default handler ``(dialect, request) -> response``
    handlers: ClassVar[Mapping[str, Handler]] = HANDLERS
    #: the malformed traffic a 1.6 station sends a CSMS (fault injection)
    to_csms: ClassVar[Direction] = TO_CSMS
    #: while its boot is Rejected it answers no CALL of the CSMS (1.6, 4.2)
    silent_while_rejected: ClassVar[bool] = True

    def __init__(self, station: StationCore) -> None:
        self.station = station
        #: 1.6 connector ids <-> the profile's EVSEs and connectors
        self.connectors = ConnectorMap(station.evses)
        values = {"AuthorizationKey": station.password} if station.password else {}
        #: the configuration keys (the 1.6 configuration model)
        self.model = Configuration(key_table(station.profile), values)
        backoff = station.profile.retry_backoff
        self._backoff = (backoff.wait_minimum, backoff.repeat_times, backoff.random_range)
        self._boot: BootNotificationRequest | None = None
        # CSMS-managed authorization data (see the handlers)
        self.local_list: dict[str, IdTagInfo] = {}
        self.local_list_version = 0
        self.auth_cache: dict[str, IdTagInfo] = {}
        #: the charging profiles (SetChargingProfile; see .smart_charging)
        self.charging_profiles = ProfileStore()
        #: connector 0's status (the charge point as a whole) and what the CSMS acknowledged
        self.station_status = ChargePointStatus.AVAILABLE
        self.station_reported: str | None = None
        #: connector id -> the availability it takes once its transaction ends (Scheduled)
        self.pending_availability: dict[int, bool] = {}
        #: the firmware: its version, the last status reported, an install to report after the boot
        self.firmware_version = station.profile.identity.firmware_version
        self.firmware_status: str = FirmwareStatus.IDLE
        self._firmware_installed = False
        self._firmware_request_id: int | None = None
        self.diagnostics_status = DiagnosticsStatus.IDLE
        self.log_status = UploadLogStatus.IDLE
        self.log_request_id: int | None = None
        #: installed certificates: (certificate use, hash data, PEM)
        self.certificates: list[tuple[str, Any, str]] = []
        self._local_ids = 0
        #: the local key of each EVSE's running transaction (the queue's transaction_id)
        self._running: dict[int, str] = {}
        #: local key -> the transactionId the CSMS assigned (until the StopTransaction is answered)
        self.assigned: dict[str, int] = {}
        #: EVSEs whose transaction ended while the vehicle is still plugged in (Finishing)
        self._finishing: dict[int, None] = {}  # a set, as a dict: 64 bytes empty, a set 216
        #: EVSE id -> the StopTxnSampledData/StopTxnAlignedData readings of its transaction so far
        self._stop_data: dict[int, list[TransactionData]] = {}
        #: a Reset Soft in progress: the transactions whose StopTransaction it waits for
        self._soft_reset: set[str] | None = None

    # ============================================================ the station's hooks

    def settings(self) -> list[Setting]:
        """Every configuration key: key, value (none for a write-only key), read-only."""
        model = self.model
        return [Setting("", d.name, None if d.write_only else model.get(d.name), d.readonly)
                for d in model.definitions()]

    def evse_cost(self, evse: EvseState) -> CostSnapshot | None:
        """None: the station calculates no cost."""
        return None

    def der_controls(self) -> tuple[DerControlSnapshot, ...] | None:
        """None: the station simulates no DER control."""
        return None

    def boot_reason(self, reason: str) -> str:
        """1.6's BootNotification names no reason: any reason the station gives will do."""
        return reason

    def knows_action(self, action: str) -> bool:
        return action in ACTIONS

    def sheddable(self, request: Any) -> bool:
        """A full offline queue sheds meter values first, never a transaction's start or stop."""
        return isinstance(request, MeterValuesRequest)

    # ----------------------------------------------------------- configuration

    def retry_backoff(self) -> tuple[int, int, int]:
        """1.6 has no back-off keys: the profile's ``[retry_backoff]`` (or what was set)."""
        return self._backoff

    def set_retry_backoff(self, wait_minimum: int | None, repeat_times: int | None, random_range: int | None) -> None:
        old = self._backoff
        self._backoff = (
            int(wait_minimum) if wait_minimum is not None else old[0],
            int(repeat_times) if repeat_times is not None else old[1],
            int(random_range) if random_range is not None else old[2],
        )

    def message_timeout(self) -> int:
        return self.station.profile.message_timeout

    def ping_interval(self) -> int:
        return self.model.get_int("WebSocketPingInterval")

    def heartbeat_interval(self) -> int:
        return self.model.get_int("HeartbeatInterval")

    def transaction_attempts(self) -> int:
        return self.model.get_int("TransactionMessageAttempts")

    def transaction_attempt_interval(self) -> int:
        return self.model.get_int("TransactionMessageRetryInterval")

    def credentials_changed(self, station_id: str | None, password: str | None) -> None:
        if password is not None:
            self.model.put("AuthorizationKey", password)

    # ------------------------------------------------------------------ boot

    def boot_request(self, reason: str | None) -> BootNotificationRequest:
        """The BootNotification (the same for every boot: 1.6 sends no reason)."""
        boot = self._boot
        if boot is None:
            identity = self.station.profile.identity
            fields: dict[str, Any] = {
                "charge_point_vendor": identity.vendor[:20],
                "charge_point_model": identity.model[:20],
            }
            if self.firmware_version:
                fields["firmware_version"] = self.firmware_version[:50]
            serial = render_pattern(identity.serial_number, self.station.station_id)[:25]
            if serial:
                fields["charge_point_serial_number"] = serial
                fields["charge_box_serial_number"] = serial
            if identity.iccid:
                fields["iccid"] = identity.iccid
            if identity.imsi:
                fields["imsi"] = identity.imsi
            boot = self._boot = BootNotificationRequest(**fields)
        return boot

    def boot_answer(self, response: Any) -> tuple[str, int]:
        """Accepted, Pending or Rejected and the interval: the heartbeat interval once
        Accepted, else the wait before the next BootNotification."""
        return response.status, response.interval

    def boot_accepted(self, reason: str | None, interval: int) -> None:
        """Accepted: heartbeat at the CSMS's interval, report connector 0 and every
        connector, start the meter timers."""
        if interval > 0:
            self.model.put("HeartbeatInterval", str(interval))
        self.station.arm_heartbeat()
        self.station_status = self._station_status()
        self._send_station_status()
        for n, evse, connector in self.connectors.all():
            connector.status = self.status_of(evse, connector)
            self._send_status(n, connector)
        if self._firmware_installed:
            self._firmware_installed = False
            self.firmware_status = FirmwareStatus.INSTALLED
            request_id = self._firmware_request_id
            self.station.send(
                FirmwareStatusNotificationRequest(status=FirmwareStatus.INSTALLED) if request_id is None else
                SignedFirmwareStatusNotificationRequest(status=SignedFirmwareStatus.INSTALLED, request_id=request_id),
                durable=True)
        self._arm_meter_timer()
        self._arm_aligned_timer()

    def firmware_installed(self, version: str, request_id: int | None = None) -> None:
        """A firmware update (SignedUpdateFirmware: its ``request_id``) installed ``version``:
        the next boot shows it and reports Installed."""
        self.firmware_version = version
        self._boot = None
        self._firmware_installed = True
        self._firmware_request_id = request_id

    def certificate_request(self) -> str:
        """The (placeholder) CSR of SignCertificate."""
        body = hashlib.sha256(self.station.station_id.encode()).hexdigest()
        return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}\n-----END CERTIFICATE REQUEST-----\n"

    def heartbeat_request(self) -> HeartbeatRequest:
        return HeartbeatRequest()

    # ---------------------------------------------------------------- status

    def _station_status(self) -> ChargePointStatus:
        return ChargePointStatus.AVAILABLE if self.station.station_operative() else ChargePointStatus.UNAVAILABLE

    def status_of(self, evse: EvseState, connector: ConnectorState) -> ChargePointStatus:
        """The 1.6 status of ``connector`` of ``evse`` now."""
        if connector.faulted:
            return ChargePointStatus.FAULTED
        operative = connector.operative and evse.operative and self.station.station_operative()
        tx = evse.tx
        here = evse.plugged == connector.connector_id
        if tx is not None and (here or evse.plugged is None):
            if evse.power_w > 0:
                return ChargePointStatus.CHARGING
            if not operative or (evse.limit_w is not None and evse.limit_w <= 0):
                return ChargePointStatus.SUSPENDED_EVSE
            return ChargePointStatus.SUSPENDED_EV
        if here:
            if not operative:
                return ChargePointStatus.UNAVAILABLE
            return ChargePointStatus.FINISHING if evse.id in self._finishing else ChargePointStatus.PREPARING
        if not operative or evse.plugged is not None or tx is not None:
            # the EVSE's power stage serves another of its connectors
            return ChargePointStatus.UNAVAILABLE
        if evse.authorized is not None:
            return ChargePointStatus.PREPARING
        if evse.reservation is not None:
            return ChargePointStatus.RESERVED
        return ChargePointStatus.AVAILABLE

    def _send_status(self, connector_id: int, connector: ConnectorState, followup: bool = False) -> None:
        status = connector.status

        def acknowledged(result: Any) -> None:
            if not isinstance(result, Exception):
                connector.reported = status

        error = ChargePointErrorCode.OTHER_ERROR if status == ChargePointStatus.FAULTED else ChargePointErrorCode.NO_ERROR
        self.station.queue.append(OutItem(
            StatusNotificationRequest(connector_id=connector_id, error_code=error, status=ChargePointStatus(status),
                                      timestamp=self.station.clock()),
            followup=followup, on_result=acknowledged,
        ))

    def _send_station_status(self, followup: bool = False) -> None:
        status = self.station_status

        def acknowledged(result: Any) -> None:
            if not isinstance(result, Exception):
                self.station_reported = status

        self.station.queue.append(OutItem(
            StatusNotificationRequest(connector_id=0, error_code=ChargePointErrorCode.NO_ERROR, status=status,
                                      timestamp=self.station.clock()),
            followup=followup, on_result=acknowledged,
        ))

    def send_status(self, connector_id: int, followup: bool = True) -> None:
        """Report connector ``connector_id`` (0: the charge point) now (TriggerMessage)."""
        if connector_id == 0:
            self._send_station_status(followup)
        else:
            target = self.connectors.get(connector_id)
            if target is not None:
                self._send_status(connector_id, target[1], followup)
        self.station.wake()

    def report_changed_statuses(self) -> None:
        """After a reconnection without reboot: report what changed meanwhile."""
        if self.station_status != self.station_reported:
            self._send_station_status()
        for n, _, connector in self.connectors.all():
            if connector.status != connector.reported:
                self._send_status(n, connector)

    def reset_statuses(self, evse: EvseState) -> None:
        """The statuses of a rebooted EVSE (reported after the next boot)."""
        self._finishing.pop(evse.id, None)
        for connector in evse.connectors:
            connector.status = self.status_of(evse, connector)

    def refresh_status(self, evse: EvseState) -> None:
        """Recompute the statuses of ``evse``'s connectors (and connector 0); report the
        ones that changed while online."""
        online = self.station.online()
        status = self._station_status()
        if status != self.station_status:
            self.station_status = status
            if online:
                self._status_changed(0)
        for connector in evse.connectors:
            status = self.status_of(evse, connector)
            if status != connector.status:
                connector.status = status
                self.station.touch()
                if online:
                    self._status_changed(self.connectors.id_of(evse, connector.connector_id))

    def _status_changed(self, connector_id: int) -> None:
        """Connector ``connector_id`` (0: the charge point) has a new status: report it now,
        or once it held for MinimumStatusDuration (a shorter-lived one is not reported: only
        the status it has then, if the CSMS does not know it yet)."""
        duration = self.model.get_int("MinimumStatusDuration")
        if duration <= 0:
            self._send_current_status(connector_id, unless_reported=False)
        else:
            self.station.protocol_timer(("status", connector_id), duration,
                                        lambda: self._send_current_status(connector_id, unless_reported=True))

    def _send_current_status(self, connector_id: int, *, unless_reported: bool) -> None:
        if not self.station.online():
            return  # (reported once online again: report_changed_statuses)
        if connector_id == 0:
            if not (unless_reported and self.station_status == self.station_reported):
                self._send_station_status()
        else:
            target = self.connectors.get(connector_id)
            if target is not None and not (unless_reported and target[1].status == target[1].reported):
                self._send_status(connector_id, target[1])
        self.station.wake()

    def fault_changed(self, evse: EvseState, connector: ConnectorState) -> None:
        self.refresh_status(evse)

    def security_event(self, event_type: str, info: str = "") -> None:
        """Queue a SecurityEventNotification (Security Extension), kept across reconnections."""
        fields: dict[str, Any] = {"type": event_type[:50], "timestamp": self.station.clock()}
        if info:
            fields["tech_info"] = info[:255]
        self.station.send(SecurityEventNotificationRequest(**fields), durable=True)

    # ------------------------------------------------------------ the station's commands

    def plug_vehicle(self, evse: EvseState, connector_id: int = 1, vehicle: Vehicle | None = None) -> None:
        """A vehicle plugs into ``connector_id`` of ``evse``."""
        if evse.connector(connector_id) is None:
            raise ValueError(f"EVSE {evse.id} has no connector {connector_id}")
        if evse.plugged is not None:
            raise ValueError(f"EVSE {evse.id} already has a vehicle on connector {evse.plugged}")
        evse.plugged = connector_id
        evse.vehicle = vehicle or self.station.new_vehicle()
        self._finishing.pop(evse.id, None)
        self.station.cancel_timer(("evconnect", evse.id))
        self.update_evse(evse)

    def unplug_vehicle(self, evse: EvseState) -> None:
        """The vehicle leaves; its transaction ends if StopTransactionOnEVSideDisconnect."""
        if evse.plugged is None:
            return
        evse.plugged = None
        self._finishing.pop(evse.id, None)
        if evse.tx is not None and self.model.get_bool("StopTransactionOnEVSideDisconnect"):
            self.stop_transaction(evse, Reason.EV_DISCONNECTED)
        evse.vehicle = None
        self.update_evse(evse)
        self.station.touch()

    def start_by_driver(self, evse: EvseState, id_token: str, token_type: str, authorize: bool) -> None:
        """A driver presents ``id_token`` (the StartTransaction command); 1.6 knows no token
        types, and an idTag has at most 20 characters (ValueError)."""
        if not 1 <= len(id_token) <= 20:
            raise ValueError(f"an OCPP 1.6 idTag has 1 to 20 characters, got {id_token!r}")
        self.present(evse, id_token, authorize=authorize)

    def driver_presents(self, evse: EvseState, id_token: str, token_type: str,
                        on_rejected: Callable[[], None] | None) -> None:
        self.present(evse, id_token[:20], on_rejected=on_rejected)

    def stop_by_driver(self, evse: EvseState, reason: str = "Local") -> None:
        """The driver stops the transaction (presenting its idTag again)."""
        tag = evse.authorized.id_token if evse.authorized is not None else None
        if evse.tx is None:
            self.deauthorize(evse)
            return
        self.stop_transaction(evse, Reason(reason), id_tag=tag)

    def stop_for_shutdown(self, evse: EvseState) -> None:
        self.stop_transaction(evse, Reason.LOCAL)

    def end_for_reboot(self, evse: EvseState, reason: str) -> None:
        self.stop_transaction(evse, _REBOOT_STOP_REASONS.get(reason, Reason.REBOOT))

    def rebooted(self) -> None:
        """A reboot forgets the Finishing states (the vehicles left)."""
        self._finishing.clear()

    # ============================================================ authorization

    def present(self, evse: EvseState, id_tag: str, *, authorize: bool = True,
                on_rejected: Callable[[], None] | None = None) -> None:
        """``id_tag`` is presented at ``evse``: authorize it (locally, or with Authorize;
        LocalPreAuthorize, LocalAuthorizeOffline, AllowOfflineTxForUnknownId). On a reserved
        connector only the reservation's idTag, or an idTag whose parentIdTag (from the local
        list, the cache or Authorize) is the reservation's, may charge (1.6, 5.13)."""
        reservation = evse.reservation
        if reservation is not None and reservation.id_token.id_token != id_tag and reservation.group_id_token is None:
            self._rejected(evse, on_rejected)
            return
        if not (evse.operative and self.station.station_operative()) or any(c.faulted for c in evse.connectors):
            self._rejected(evse, on_rejected)
            return
        if not authorize:
            self._grant(evse, id_tag, None, on_rejected)
            return
        model = self.model
        local = self.local_list.get(id_tag) if model.get_bool("LocalAuthListEnabled") else None
        if local is None and model.get_bool("AuthorizationCacheEnabled"):
            local = self.auth_cache.get(id_tag)
        if local is not None and local.status == AuthorizationStatus.ACCEPTED and model.get_bool("LocalPreAuthorize"):
            self._grant(evse, id_tag, local, on_rejected)
            return
        if self.station.online():
            self.station.send(AuthorizeRequest(id_tag=id_tag),
                              on_result=lambda result: self._on_authorize(evse, id_tag, local, on_rejected, result))
        else:
            self._authorize_offline(evse, id_tag, local, on_rejected)

    def _authorize_offline(self, evse: EvseState, id_tag: str, local: IdTagInfo | None,
                           on_rejected: Callable[[], None] | None) -> None:
        if local is not None and self.model.get_bool("LocalAuthorizeOffline"):
            if local.status == AuthorizationStatus.ACCEPTED:
                self._grant(evse, id_tag, local, on_rejected)
            else:
                self._rejected(evse, on_rejected)
        elif local is None and self.model.get_bool("AllowOfflineTxForUnknownId"):
            self._grant(evse, id_tag, None, on_rejected)
        else:
            self._rejected(evse, on_rejected)

    def _on_authorize(self, evse: EvseState, id_tag: str, local: IdTagInfo | None,
                      on_rejected: Callable[[], None] | None, result: Any) -> None:
        if isinstance(result, Exception):
            if isinstance(result, (ConnectionLost, CallTimeout)):
                self._authorize_offline(evse, id_tag, local, on_rejected)
            else:
                self._rejected(evse, on_rejected)
            return
        info = result.id_tag_info
        self.remember(id_tag, info)
        if info.status == AuthorizationStatus.ACCEPTED:
            self._grant(evse, id_tag, info, on_rejected)
        else:
            self._rejected(evse, on_rejected)

    def _grant(self, evse: EvseState, id_tag: str, info: IdTagInfo | None,
               on_rejected: Callable[[], None] | None) -> None:
        """``id_tag`` (``info``: what is known of it) is authorized: it may charge at ``evse``
        unless the connector is reserved for another idTag and parentIdTag."""
        parent = info.parent_id_tag if info is not None and info.parent_id_tag is not UNSET else None
        reservation = evse.reservation
        if reservation is not None and not reservation.admits(IdTag(id_tag), IdTag(parent) if parent else None):
            self._rejected(evse, on_rejected)
        else:
            self.authorized(evse, id_tag, parent)

    def remember(self, id_tag: str, info: IdTagInfo) -> None:
        """Keep the CSMS's answer about ``id_tag`` in the authorization cache."""
        if not self.model.get_bool("AuthorizationCacheEnabled") or id_tag in self.local_list:
            return
        cache = self.auth_cache
        cache.pop(id_tag, None)
        cache[id_tag] = info
        if len(cache) > _CACHE_LIMIT:
            cache.pop(next(iter(cache)))

    def _rejected(self, evse: EvseState, on_rejected: Callable[[], None] | None) -> None:
        self.station.note_error(f"authorization rejected on EVSE {evse.id}")
        if on_rejected is not None:
            on_rejected()

    def id_tag(self, id_tag: str) -> IdTag:
        """``id_tag`` as the hardware keeps it."""
        return IdTag(id_tag)

    def authorized(self, evse: EvseState, id_tag: str, parent_id_tag: str | None = None) -> None:
        """``id_tag`` (of ``parent_id_tag``) may charge at ``evse``: the transaction starts
        once a vehicle is plugged in (within ConnectionTimeOut); it uses the reservation
        that admits it."""
        if evse.authorized is not None:
            return
        evse.authorized = IdTag(id_tag)
        reservation = evse.reservation
        if reservation is not None and reservation.admits(evse.authorized,
                                                          IdTag(parent_id_tag) if parent_id_tag else None):
            evse.reservation = None
            self.station.cancel_timer(("reservation", reservation.id))
            evse.reservation_used = reservation.id
        self.update_evse(evse)
        if evse.plugged is None and evse.authorized is not None:
            timeout = self.model.get_int("ConnectionTimeOut")
            self.station.sim_timer(("evconnect", evse.id), timeout, lambda: self._connection_timeout(evse))
        driver = self.station.driver
        if self.station.profile.sessions.enabled and driver.running:
            driver.authorized(evse)

    def _connection_timeout(self, evse: EvseState) -> None:
        if evse.plugged is None and evse.tx is None:
            self.deauthorize(evse)

    def deauthorize(self, evse: EvseState) -> None:
        """The authorization on ``evse`` (without a transaction) ends."""
        if evse.authorized is None or evse.tx is not None:
            return
        evse.authorized = None
        evse.reservation_used = None
        self.station.cancel_timer(("evconnect", evse.id))
        self.update_evse(evse)

    def remote_start(self, evse: EvseState, id_tag: str) -> None:
        """RemoteStartTransaction accepted: authorize (Authorize first if
        AuthorizeRemoteTxRequests), and the driver comes to plug in."""
        if self.model.get_bool("AuthorizeRemoteTxRequests"):
            self.present(evse, id_tag)
        else:
            self.authorized(evse, id_tag)
        self.station.driver.remote_start(evse)

    # ============================================================ transactions

    def update_evse(self, evse: EvseState, *, rate_change: bool = False) -> None:
        """Bring ``evse`` up to date: energy to now, power, a transaction starting when a
        vehicle is plugged into an operative connector and authorized, the statuses."""
        evse.advance(trio.current_time(), self.station.speed)
        self._apply_limit(evse)
        operative = self.station.station_operative()
        evse.power_w = evse.target_power(operative)
        if evse.tx is None and evse.plugged is not None and evse.authorized is not None:
            connector = evse.connector(evse.plugged)
            if operative and evse.operative and connector is not None and connector.operative \
                    and not connector.faulted:
                self._start_transaction(evse)
        self._arm_full_timer(evse)
        self._arm_limit_timer(evse)
        self.refresh_status(evse)
        self.station.update_state()

    def _apply_limit(self, evse: EvseState) -> None:
        """The charging profiles' limit on ``evse`` now (None: no profile limits it)."""
        if not self.charging_profiles.items:
            evse.limit_w = None
            return
        tx = evse.tx
        evse.limit_w = self.charging_profiles.limit_w(
            evse.id, self.station.clock(), voltage=evse.voltage, phases=evse.phases,
            transaction_id=tx.id if tx is not None else None,
            transaction_start=tx.started_wall if tx is not None else None,
            evse_share=sum(1 for e in self.station.evses if e.tx is not None) or 1,
        )

    def _arm_limit_timer(self, evse: EvseState) -> None:
        tx = evse.tx
        if not self.charging_profiles.items or tx is None:
            self.station.cancel_timer(("limit", evse.id))
            return
        now = self.station.clock()
        change = self.charging_profiles.next_change(evse.id, now, transaction_id=tx.id,
                                                    transaction_start=tx.started_wall)
        if change is None:
            self.station.cancel_timer(("limit", evse.id))
        else:
            self.station.set_timer(("limit", evse.id), (change - now).total_seconds() + 0.001,
                                   lambda: self.update_evse(evse))

    def limits_changed(self) -> None:
        """Charging profiles changed: every EVSE takes its new limit."""
        for evse in self.station.evses:
            self.update_evse(evse)

    def transaction_key(self, evse: EvseState) -> str | None:
        """The local key of ``evse``'s running transaction (the outbox's transaction id)."""
        return self._running.get(evse.id)

    def evse_of_transaction(self, transaction_id: int) -> EvseState | None:
        """The EVSE running the transaction the CSMS calls ``transaction_id``."""
        for evse in self.station.evses:
            key = self._running.get(evse.id)
            if key is not None and self.assigned.get(key) == transaction_id:
                return evse
        return None

    def _start_transaction(self, evse: EvseState) -> None:
        assert evse.plugged is not None and evse.authorized is not None
        self._local_ids += 1
        key = f"L{self._local_ids}"
        tx = TxState(key, trio.current_time(), self.station.clock(), evse.register_wh)
        tx.id_token = evse.authorized
        evse.tx = tx
        self._running[evse.id] = key
        self._stop_data.pop(evse.id, None)
        self._finishing.pop(evse.id, None)
        self.station.cancel_timer(("evconnect", evse.id))
        fields: dict[str, Any] = {
            "connector_id": self.connectors.id_of(evse, evse.plugged),
            "id_tag": evse.authorized.id_token,
            "meter_start": int(evse.register_wh),
            "timestamp": tx.started_wall,
        }
        if evse.reservation_used is not None:
            fields["reservation_id"] = tx.reservation_id = evse.reservation_used
            evse.reservation_used = None
        self._queue_transaction_message(
            evse, tx, StartTransactionRequest(**fields), key, lambda result: self._on_started(evse, key, result))
        self.station.count_transaction_started()
        if evse.pending_tx_profile is not None:
            # the TxProfile of RemoteStartTransaction, for this transaction
            profile, evse.pending_tx_profile = evse.pending_tx_profile, None
            self.charging_profiles.install(evse.id, profile, self.station.clock(),
                                           evse_ids=[e.id for e in self.station.evses], transactions={evse.id: key})
            self._apply_limit(evse)
        evse.power_w = evse.target_power(self.station.station_operative())
        self._arm_meter_timer()

    def _queue_transaction_message(self, evse: EvseState, tx: TxState, request: Any, key: str,
                                   on_result: Callable[[Any], None] | None = None) -> None:
        """Queue a transaction message (durable; numbered per transaction for the audit,
        which also keeps the register in whole Wh as the message gives it)."""
        seq = tx.seq
        tx.seq += 1
        self.station.queue.append(OutItem(request, durable=True, transaction_id=key, seq_no=seq, on_result=on_result))
        self.station.count_event(key, seq, float(int(evse.register_wh)) if self.station.audit else None)
        self.station.wake()
        self.station.touch()

    def _on_started(self, evse: EvseState, key: str, result: Any) -> None:
        """The StartTransaction of ``key`` was answered: bind the transactionId to what
        is queued behind it; stop the transaction if the idTag is not accepted."""
        queue = self.station.queue
        if isinstance(result, Exception):
            # Given up (TransactionMessageAttempts CALLERRORs): what follows has no id to carry;
            # it is dropped, and counted so.
            followers = [i for i in queue if i.transaction_id == key]
            for item in followers:
                queue.remove(item)
            queue.dropped += len(followers)
            self.station.note_error(f"StartTransaction given up: {result}")
            return
        transaction_id = result.transaction_id
        self.assigned[key] = transaction_id
        self.station.transaction_named(key, str(transaction_id))
        for item in queue:
            if item.transaction_id == key:
                item.request = msgspec.structs.replace(item.request, transaction_id=transaction_id)
        tx = evse.tx
        if tx is not None and tx.id == key:
            tx.id = str(transaction_id)
            self.station.touch()
        rebind(self.charging_profiles, key, str(transaction_id))
        info = result.id_tag_info
        id_tag = tx.id_token.id_token if tx is not None and tx.id_token is not None else None
        if id_tag is not None:
            self.remember(id_tag, info)
        if info.status != AuthorizationStatus.ACCEPTED and tx is not None and self._running.get(evse.id) == key \
                and self.model.get_bool("StopTransactionOnInvalidId"):
            self.station.defer(lambda: self.stop_transaction(evse, Reason.DE_AUTHORIZED))

    def stop_transaction(self, evse: EvseState, reason: Reason, id_tag: str | None = None) -> None:
        """End the transaction on ``evse`` now (StopTransaction with ``reason``)."""
        tx = evse.tx
        key = self._running.pop(evse.id, None)
        if tx is None or key is None:
            self.deauthorize(evse)
            return
        evse.advance(trio.current_time(), self.station.speed)
        now = self.station.clock()
        fields: dict[str, Any] = {
            "meter_stop": int(evse.register_wh),
            "timestamp": now,
            "transaction_id": self.assigned.get(key, 0),
            "reason": reason,
        }
        if id_tag is not None:
            fields["id_tag"] = id_tag[:20]
        data = self._stop_data.pop(evse.id, [])
        values = transaction_sample(evse, self.model.get_list("StopTxnSampledData"), ReadingContext.TRANSACTION_END)
        if values:
            data.append(TransactionData(timestamp=now, sampled_value=values))
        if data:
            fields["transaction_data"] = data
        self._queue_transaction_message(evse, tx, StopTransactionRequest(**fields), key,
                                        lambda result: self._on_stopped(key, result))
        evse.tx = None
        evse.authorized = None
        evse.power_w = 0.0
        if evse.plugged is not None:
            self._finishing[evse.id] = None
        self.station.cancel_timer(("evconnect", evse.id))
        self.station.cancel_timer(("full", evse.id))
        self.station.cancel_timer(("limit", evse.id))
        self.charging_profiles.end_transaction(tx.id)
        for n in self.connectors.ids_of(evse):
            pending = self.pending_availability.pop(n, None)
            if pending is not None:
                target = self.connectors.get(n)
                if target is not None:
                    target[1].operative = pending
        if evse.pending_operative is not None:
            evse.operative, evse.pending_operative = evse.pending_operative, None
        self.refresh_status(evse)
        self.station.update_state()
        self.station.transaction_ended(evse)

    def _on_stopped(self, key: str, result: Any) -> None:
        self.assigned.pop(key, None)
        waiting = self._soft_reset
        if waiting is not None:
            waiting.discard(key)
            if not waiting:
                self.station.defer(self._soft_reset_done)

    # ------------------------------------------------------------ reset

    def soft_reset(self) -> None:
        """Reset Soft (1.6 5.14): stop every transaction gracefully (StopTransaction, reason
        SoftReset), then reboot once the CSMS answered them: at once when there is none or
        the station is offline (they stay queued), at the latest after the message timeout."""
        waiting: set[str] = set()
        for evse in self.station.evses:
            key = self._running.get(evse.id)
            if evse.tx is not None and key is not None:
                waiting.add(key)
                self.stop_transaction(evse, Reason.SOFT_RESET)
        self._soft_reset = waiting
        if not waiting or not self.station.online():
            self._soft_reset_done()
        else:
            self.station.protocol_timer("soft_reset", self.message_timeout(), self._soft_reset_done)

    def _soft_reset_done(self) -> None:
        if self._soft_reset is None:
            return
        self._soft_reset = None
        self.station.cancel_timer("soft_reset")
        self.station.reboot("SoftReset")

    # ------------------------------------------------------------ meter values

    def meter_values(self, evse: EvseState, measurands: list[str], context: ReadingContext, *,
                     followup: bool = False) -> None:
        """MeterValues of ``evse`` (with its transaction's id while one runs: durable, bound
        late; else not kept across a disconnection)."""
        evse.advance(trio.current_time(), self.station.speed)
        values = sample(evse, measurands, context, self.station.clock())
        if values is None:
            return
        connector = evse.plugged if evse.plugged is not None else 1
        fields: dict[str, Any] = {"connector_id": self.connectors.id_of(evse, connector), "meter_value": [values]}
        key = self._running.get(evse.id)
        if key is None or evse.tx is None:
            self.station.send(MeterValuesRequest(**fields), followup=followup)
            return
        fields["transaction_id"] = self.assigned.get(key, 0)
        self._queue_transaction_message(evse, evse.tx, MeterValuesRequest(**fields), key)

    def _arm_meter_timer(self) -> None:
        if self.station.has_timer("meter") or not self.station.any_transaction():
            return
        interval = self.model.get_int("MeterValueSampleInterval")
        if interval > 0:
            self.station.protocol_timer("meter", interval, self._meter_tick)

    def rearm_meter_timer(self) -> None:
        self.station.cancel_timer("meter")
        self._arm_meter_timer()

    def _meter_tick(self) -> None:
        measurands = self.model.get_list("MeterValuesSampledData")
        for evse in self.station.evses:
            if evse.tx is not None:
                self.update_evse(evse, rate_change=True)
                if evse.tx is not None:
                    self.meter_values(evse, measurands, ReadingContext.SAMPLE_PERIODIC)
                    self._keep_stop_data(evse, "StopTxnSampledData", ReadingContext.SAMPLE_PERIODIC)
        self._arm_meter_timer()

    def _keep_stop_data(self, evse: EvseState, key: str, context: ReadingContext) -> None:
        """Keep a reading of ``key``'s measurands for the transaction's StopTransaction."""
        measurands = self.model.get_list(key)
        if not measurands:
            return
        values = transaction_sample(evse, measurands, context)
        if values:
            data = self._stop_data.setdefault(evse.id, [])
            data.append(TransactionData(timestamp=self.station.clock(), sampled_value=values))
            del data[:-_STOP_DATA_LIMIT]

    def _arm_aligned_timer(self) -> None:
        interval = self.model.get_int("ClockAlignedDataInterval")
        if interval <= 0:
            self.station.cancel_timer("aligned")
            return
        self.station.set_timer("aligned", interval - (time.time() % interval), self._aligned_tick)

    def rearm_aligned_timer(self) -> None:
        self._arm_aligned_timer()

    def _aligned_tick(self) -> None:
        measurands = self.model.get_list("MeterValuesAlignedData")
        if self.station.online() or self.station.any_transaction():
            for evse in self.station.evses:
                if evse.tx is not None or self.station.online():
                    self.meter_values(evse, measurands, ReadingContext.SAMPLE_CLOCK)
                if evse.tx is not None:
                    self._keep_stop_data(evse, "StopTxnAlignedData", ReadingContext.SAMPLE_CLOCK)
        self._arm_aligned_timer()

    def _arm_full_timer(self, evse: EvseState) -> None:
        seconds = evse.seconds_to_full(self.station.speed)
        if seconds is None:
            self.station.cancel_timer(("full", evse.id))
        else:
            self.station.set_timer(("full", evse.id), seconds, lambda: self.update_evse(evse))

    # ============================================================ configuration keys

    def key_changed(self, definition: KeyDef) -> None:
        """React to a key the CSMS changed (ChangeConfiguration accepted it)."""
        name = definition.name
        if name == "HeartbeatInterval":
            self.station.rearm_heartbeat()
        elif name == "MeterValueSampleInterval":
            self.station.defer(self.rearm_meter_timer)
        elif name == "ClockAlignedDataInterval":
            self.station.defer(self.rearm_aligned_timer)
        elif name == "AuthorizationKey":
            # The new Basic-auth password: reconnect with it (1.6 security, 3.1).
            self.station.password = self.model.get("AuthorizationKey")
            self.security_event("ReconfigurationOfSecurityParameters", "AuthorizationKey changed")
            self.station.request_reconnect()
