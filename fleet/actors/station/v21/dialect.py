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

from ....malformed import Direction
from ....ocpp import V21, ProtocolVersion, v21
from ....ocpp.v21 import EventNotification, VariableMonitoring
from ..v201.dialect import V201Dialect
from ..v201.handlers import Handler
from .directions import TO_CSMS
from .handlers import HANDLERS

__all__ = ["V21Dialect"]


class V21Dialect(V201Dialect):
    """OCPP 2.1 for one station (see the module's description)."""

    version: ClassVar[str] = "2.1"
    handlers: ClassVar[Mapping[str, Handler]] = HANDLERS
    to_csms: ClassVar[Direction] = TO_CSMS
    protocol: ClassVar[ProtocolVersion] = V21
    messages = v21

    def variable_monitoring(self, monitor_id: int, data: Any) -> Any:
        """The monitor as 2.1 reports it: with its ``eventNotificationType``, CustomMonitor
        (the CSMS set it)."""
        return VariableMonitoring(
            id=monitor_id, transaction=data.transaction is True, value=data.value, type=data.type,
            severity=data.severity, event_notification_type=EventNotification.CUSTOM_MONITOR,
        )
