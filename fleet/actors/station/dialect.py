"""What an OCPP version tells the version-free station: the :class:`Dialect` protocol.

A station holds one dialect object (made by :mod:`.dialects` from its profile's
``ocpp_version``) bound to it. The station's core (connection life, the outbox,
timers, boot scheduling, the driver, snapshots) asks the dialect how to boot, report
status, start, update and stop a transaction, send meter values, read its
configuration model, and which handler answers a CSMS-initiated action. OCPP 2.0.1:
:class:`~fleet.actors.station.v201.dialect.V201Dialect`; OCPP 1.6J:
:class:`~fleet.actors.station.v16.dialect.V16Dialect`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ...malformed import Direction
from .hardware import ConnectorState, EvseState
from .snapshots import CostSnapshot, DerControlSnapshot, Setting

if TYPE_CHECKING:
    from .interface import StationCore

__all__ = ["Dialect", "DialectFactory"]


class Dialect(Protocol):
    """One OCPP version, spoken by one station."""

    #: the version's name, as a profile's ``ocpp_version`` spells it (``"2.0.1"``)
    @property
    def version(self) -> str: ...

    #: CSMS-initiated action -> default handler ``(dialect, request) -> response``
    @property
    def handlers(self) -> Mapping[str, Callable[[Any, Any], Any]]: ...

    #: the configuration model (2.0.1: the device model; 1.6: configuration keys)
    @property
    def model(self) -> Any: ...

    #: the malformed traffic this version's station sends a CSMS (fault injection)
    @property
    def to_csms(self) -> Direction: ...

    #: while its boot is Rejected the station answers no CSMS CALL at all (OCPP 1.6, 4.2)
    @property
    def silent_while_rejected(self) -> bool: ...

    def boot_reason(self, reason: str) -> str: ...

    def settings(self) -> list[Setting]:
        """Its configuration model as a list (2.0.1: every device-model variable; 1.6: every
        configuration key), for the station's detail."""
        ...

    def evse_cost(self, evse: EvseState) -> CostSnapshot | None:
        """The cost of the transaction on ``evse`` (running, or the last one's final cost),
        where the station calculates cost (OCPP 2.1 local cost); else None."""
        ...

    def der_controls(self) -> tuple[DerControlSnapshot, ...] | None:
        """The DER controls the station holds, where it simulates DER control; else None."""
        ...

    def knows_action(self, action: str) -> bool: ...

    def sheddable(self, request: Any) -> bool: ...

    # ------------------------------------------------------------- configuration
    def retry_backoff(self) -> tuple[int, int, int]: ...

    def set_retry_backoff(self, wait_minimum: int | None, repeat_times: int | None,
                          random_range: int | None) -> None: ...

    def message_timeout(self) -> int: ...

    def ping_interval(self) -> int: ...

    def heartbeat_interval(self) -> int: ...

    def transaction_attempts(self) -> int: ...

    def transaction_attempt_interval(self) -> int: ...

    def credentials_changed(self, station_id: str | None, password: str | None) -> None: ...

    # ------------------------------------------------------------- boot and status
    def boot_request(self, reason: str | None) -> Any: ...

    def boot_answer(self, response: Any) -> tuple[str, int]: ...

    def boot_accepted(self, reason: str | None, interval: int) -> None: ...

    def heartbeat_request(self) -> Any: ...

    def report_changed_statuses(self) -> None: ...

    def reset_statuses(self, evse: EvseState) -> None: ...

    def fault_changed(self, evse: EvseState, connector: ConnectorState) -> None: ...

    def security_event(self, event_type: str, info: str = "") -> None: ...

    # ------------------------------------------------------------- transactions
    def update_evse(self, evse: EvseState) -> None: ...

    def plug_vehicle(self, evse: EvseState, connector_id: int = 1) -> None: ...

    def unplug_vehicle(self, evse: EvseState) -> None: ...

    def start_by_driver(self, evse: EvseState, id_token: str, token_type: str, authorize: bool) -> None: ...

    def driver_presents(self, evse: EvseState, id_token: str, token_type: str,
                        on_rejected: Callable[[], None] | None) -> None: ...

    def stop_by_driver(self, evse: EvseState, reason: str = "Local") -> None: ...

    def stop_for_shutdown(self, evse: EvseState) -> None: ...

    def end_for_reboot(self, evse: EvseState, reason: str) -> None: ...

    def rebooted(self) -> None: ...


#: Makes a station's dialect: ``factory(station)``.
DialectFactory = Callable[["StationCore"], Dialect]
