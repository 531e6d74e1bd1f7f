"""The OCPP 2.1 dialect of the station: the 2.0.1 dialect speaking 2.1.

OCPP 2.1 is nearly a wire superset of 2.0.1: :class:`V21Dialect` is
:class:`~fleet.actors.station.v201.dialect.V201Dialect` with 2.1's protocol and payload
types (every request and response it builds is a :mod:`fleet.ocpp.v21` type, so what it
sends validates against the 2.1 schemas), its handlers (:mod:`.handlers`: 2.0.1's, and
answers to what 2.1 adds), and what 2.1 changes: a monitor in NotifyMonitoringReport
carries its ``eventNotificationType`` (required in 2.1).

Switched on by the profile, what only 2.1 simulates: bidirectional charging (:mod:`.v2x`,
an EVSE's ``bidirectional``, the vehicles' ``bidirectional_share``), DER control
(:mod:`.der`, ``[der]``), local cost, event streams, dynamic charging, battery swapping
(:mod:`.battery_swap`, ``[battery_swap]``) and web payment (:mod:`.web_payment`,
``[web_payment]``); :attr:`V21Dialect.features` names them for the profile check.

The values nested in its payloads that the 2.0.1 code builds (IdToken, EVSE, MeterValue...)
stay 2.0.1 Structs: their JSON is valid 2.1 (2.1 lengthens limits and adds optional
fields), and the session checks every outgoing payload by decoding it with the 2.1 types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from ....malformed import Direction
from ....ocpp import V21, ProtocolVersion, v21
from ....ocpp.v21 import EventNotification, VariableMonitoring
from ..hardware import EvseState
from ..snapshots import CostSnapshot, DerControlSnapshot
from ..v201.dialect import V201Dialect
from ..v201.handlers import Handler
from .afrr import AfrrSignals
from .battery_swap import BatterySwapper
from .der import DerControls
from .directions import TO_CSMS
from .dynamic_charging import DynamicCharging
from .event_streams import EventStreams
from .handlers import HANDLERS
from .local_cost import LocalCost
from .tariffs import refusal
from .v2x import V2X
from .web_payment import WebPayments

if TYPE_CHECKING:
    from ..interface import StationCore

__all__ = ["V21Dialect"]


class V21Dialect(V201Dialect):
    """OCPP 2.1 for one station (see the module's description)."""

    version: ClassVar[str] = "2.1"
    handlers: ClassVar[Mapping[str, Handler]] = HANDLERS
    to_csms: ClassVar[Direction] = TO_CSMS
    protocol: ClassVar[ProtocolVersion] = V21
    messages = v21
    #: the profile features it simulates (:meth:`fleet.profiles.StationProfile.features`)
    features: ClassVar[frozenset[str]] = frozenset({"v2x", "der", "local_cost", "event_streams", "dynamic_charging",
                                                   "battery_swap", "web_payment"})

    def __init__(self, station: StationCore) -> None:
        super().__init__(station)
        profile = station.profile
        used = profile.features()
        #: bidirectional charging, when the profile switches it on
        self.v2x: V2X | None = V2X(self) if "v2x" in used else None
        #: aFRR signals, taken where V2X is on
        self.afrr: AfrrSignals | None = AfrrSignals(self) if self.v2x is not None else None
        #: DER control, when the profile switches it on
        self.der: DerControls | None = DerControls(self) if "der" in used else None
        #: tariffs and local cost (``[local_cost]`` on), else None
        self.local_cost = LocalCost(self, profile.local_cost) if profile.local_cost.enabled else None
        #: periodic event streams (``[event_streams]`` on), else None
        self.event_streams = EventStreams(self, profile.event_streams) if profile.event_streams.enabled else None
        #: dynamic charging profiles and priority charging (``[dynamic_charging]`` on), else None
        self.dynamic_charging = DynamicCharging(self) if profile.dynamic_charging.enabled else None
        #: battery swapping (``[battery_swap]`` on), else None
        self.battery_swap = BatterySwapper(self, profile.battery_swap) if profile.battery_swap.enabled else None
        #: ad hoc web payment and settlement (``[web_payment]`` on), else None
        self.web_payment = WebPayments(self, profile.web_payment) if profile.web_payment.enabled else None

    def boot_accepted(self, reason: str | None, interval: int) -> None:
        """2.0.1's, then DER grid events are armed and the preconfigured periodic event streams opened."""
        super().boot_accepted(reason, interval)
        if self.der is not None:
            self.der.arm_grid_events()
        if self.event_streams is not None:
            self.event_streams.boot_accepted()

    def rebooted(self) -> None:
        """2.0.1's, and the event streams are gone."""
        super().rebooted()
        if self.event_streams is not None:
            self.event_streams.rebooted()

    def limits_changed(self) -> None:
        """2.0.1's, then the pulls of dynamic profiles are (re)armed."""
        super().limits_changed()
        if self.dynamic_charging is not None:
            self.dynamic_charging.profiles_changed()

    def _apply_limit(self, evse: EvseState) -> None:
        """2.0.1's limit, or the PriorityCharging profile's for a transaction charging with priority;
        then the V2X operation mode (setpoint, discharge limit, capped by a DER LimitMaxDischarge)."""
        super()._apply_limit(evse)
        if self.dynamic_charging is not None:
            priority, limit = self.dynamic_charging.priority_limit(evse)
            if priority:
                evse.limit_w = limit
        if self.v2x is not None:
            self.v2x.apply(evse)
            share = self.der.discharge_share() if self.der is not None else None
            if share is not None:  # a DER LimitMaxDischarge in force
                cap = evse.max_discharge_w * share / 100.0
                limit = evse.discharge_limit_w
                evse.discharge_limit_w = cap if limit is None else min(limit, cap)

    def update_evse(self, evse: EvseState, trigger: Any = None, **changes: Any) -> None:
        super().update_evse(evse, trigger, **changes)
        if self.v2x is not None:
            self.v2x.after_update(evse)

    def _significant(self, old: float, new: float) -> bool:
        """2.0.1's significance of a change of power, for signed power (a discharge changing
        its rate, charging turning to discharging)."""
        if old >= 0 and new >= 0:
            return super()._significant(old, new)
        if (old < 0) != (new < 0) or old == 0:
            return new != old
        return super()._significant(abs(old), abs(new))

    def _end_transaction(self, evse: EvseState, trigger: Any, reason: Any, state: Any, id_token: Any) -> None:
        """2.0.1's; priority charging ends with the transaction; a transaction paid ad hoc is
        settled (NotifySettlement after its Ended event)."""
        tx = evse.tx
        super()._end_transaction(evse, trigger, reason, state, id_token)
        if self.dynamic_charging is not None and tx is not None:
            self.dynamic_charging.transaction_ended(tx.id)
        if self.web_payment is not None and tx is not None and self.web_payment.paid(tx):
            self.web_payment.transaction_ended(evse, tx)

    def _on_authorize(self, evse: EvseState, token: Any, trigger: Any, local: Any, on_rejected: Any,
                      result: Any) -> None:
        """2.0.1's; a driver tariff in an accepted answer is taken first (before the
        transaction it authorizes may start), when local cost is on and it can be processed."""
        cost = self.local_cost
        if (cost is not None and not isinstance(result, Exception) and result.tariff is not msgspec.UNSET
                and result.id_token_info.status == "Accepted"
                and refusal(result.tariff, cost.settings.max_elements) is None):
            cost.authorized(evse, token.id_token, result.tariff)
        super()._on_authorize(evse, token, trigger, local, on_rejected, result)

    def event_fields(self, evse: EvseState, event_type: str, trigger: str, info: dict[str, Any],
                     fields: dict[str, Any]) -> None:
        """The tariff and cost a TransactionEvent carries (local cost on); the first event of a
        paid transaction with its payment's idToken has the VAT number checked (web payment on)."""
        if self.local_cost is not None:
            self.local_cost.event_fields(evse, event_type, trigger, info, fields)
        tx = evse.tx
        if self.web_payment is not None and tx is not None and self.web_payment.paid(tx):
            self.web_payment.paid_event(evse, tx)

    def evse_cost(self, evse: EvseState) -> CostSnapshot | None:
        """The cost the last TransactionEvent on ``evse`` carried (local cost on), else None."""
        return self.local_cost.shown(evse) if self.local_cost is not None else None

    def der_controls(self) -> tuple[DerControlSnapshot, ...] | None:
        """The DER controls held (DER control on), else None."""
        return self.der.snapshot() if self.der is not None else None

    def variable_monitoring(self, monitor_id: int, data: Any) -> Any:
        """The monitor as 2.1 reports it: with its ``eventNotificationType``, CustomMonitor
        (the CSMS set it)."""
        return VariableMonitoring(
            id=monitor_id, transaction=data.transaction is True, value=data.value, type=data.type,
            severity=data.severity, event_notification_type=EventNotification.CUSTOM_MONITOR,
        )
