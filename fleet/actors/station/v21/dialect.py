"""The OCPP 2.1 dialect of the station: the 2.0.1 dialect speaking 2.1.

OCPP 2.1 is nearly a wire superset of 2.0.1: :class:`V21Dialect` is
:class:`~fleet.actors.station.v201.dialect.V201Dialect` with 2.1's protocol and payload
types (every request and response it builds is a :mod:`fleet.ocpp.v21` type, so what it
sends validates against the 2.1 schemas), its handlers (:mod:`.handlers`: 2.0.1's, and
answers to what 2.1 adds), and what 2.1 changes: a monitor in NotifyMonitoringReport
carries its ``eventNotificationType`` (required in 2.1).

The values nested in its payloads that the 2.0.1 code builds (IdToken, EVSE, MeterValue...)
stay 2.0.1 Structs: their JSON is valid 2.1 (2.1 lengthens limits and adds optional
fields), and the session checks every outgoing payload by decoding it with the 2.1 types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from ....malformed import Direction
from ....ocpp import V21, ProtocolVersion, v21
from ....ocpp.v21 import EventNotification, VariableMonitoring
from ..hardware import EvseState
from ..interface import StationCore
from ..v201.dialect import V201Dialect
from ..v201.handlers import Handler
from .directions import TO_CSMS
from .dynamic_charging import DynamicCharging
from .event_streams import EventStreams
from .handlers import HANDLERS
from .local_cost import LocalCost
from .tariffs import refusal

__all__ = ["V21Dialect"]


class V21Dialect(V201Dialect):
    """OCPP 2.1 for one station (see the module's description)."""

    version: ClassVar[str] = "2.1"
    handlers: ClassVar[Mapping[str, Handler]] = HANDLERS
    to_csms: ClassVar[Direction] = TO_CSMS
    protocol: ClassVar[ProtocolVersion] = V21
    messages = v21
    #: the profile features it simulates (:meth:`fleet.profiles.StationProfile.features`)
    features: ClassVar[frozenset[str]] = frozenset({"local_cost", "event_streams", "dynamic_charging"})

    def __init__(self, station: StationCore) -> None:
        super().__init__(station)
        profile = station.profile
        #: tariffs and local cost (``[local_cost]`` on), else None
        self.local_cost = LocalCost(self, profile.local_cost) if profile.local_cost.enabled else None
        #: periodic event streams (``[event_streams]`` on), else None
        self.event_streams = EventStreams(self, profile.event_streams) if profile.event_streams.enabled else None
        #: dynamic charging profiles and priority charging (``[dynamic_charging]`` on), else None
        self.dynamic_charging = DynamicCharging(self) if profile.dynamic_charging.enabled else None

    def boot_accepted(self, reason: str | None, interval: int) -> None:
        """2.0.1's, then the preconfigured periodic event streams are opened."""
        super().boot_accepted(reason, interval)
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
        """2.0.1's limit, or the PriorityCharging profile's for a transaction charging with priority."""
        super()._apply_limit(evse)
        if self.dynamic_charging is not None:
            priority, limit = self.dynamic_charging.priority_limit(evse)
            if priority:
                evse.limit_w = limit

    def _end_transaction(self, evse: EvseState, trigger: Any, reason: Any, state: Any, id_token: Any) -> None:
        """2.0.1's; priority charging ends with the transaction."""
        tx = evse.tx
        super()._end_transaction(evse, trigger, reason, state, id_token)
        if self.dynamic_charging is not None and tx is not None:
            self.dynamic_charging.transaction_ended(tx.id)

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
        """The tariff and cost a TransactionEvent carries (local cost on)."""
        if self.local_cost is not None:
            self.local_cost.event_fields(evse, event_type, trigger, info, fields)

    def variable_monitoring(self, monitor_id: int, data: Any) -> Any:
        """The monitor as 2.1 reports it: with its ``eventNotificationType``, CustomMonitor
        (the CSMS set it)."""
        return VariableMonitoring(
            id=monitor_id, transaction=data.transaction is True, value=data.value, type=data.type,
            severity=data.severity, event_notification_type=EventNotification.CUSTOM_MONITOR,
        )
