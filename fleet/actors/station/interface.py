"""The station as its dialect sees it: :class:`StationCore`, the typed interface through
which a dialect (and its handlers) acts on the version-free station.

A dialect never touches the station's private state: it reads the hardware
(``evses``), queues requests (``send``, ``queue``), sets timers, defers work to the
main loop, and tells the station what happened (a transaction started or ended, an
event was generated, an error occurred). :class:`~fleet.actors.station.Station`
implements it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ...profiles import StationProfile
from .hardware import EvseState, Vehicle
from .outbox import OutQueue
from .random_stream import StationRandom

if TYPE_CHECKING:
    from .driver import Driver

__all__ = ["StationCore"]


class StationCore(Protocol):
    """What a dialect may use of its station."""

    station_id: str
    password: str | None
    profile: StationProfile
    evses: list[EvseState]
    rng: StationRandom
    speed: float
    audit: bool
    queue: OutQueue
    driver: Driver

    @property
    def booted(self) -> bool: ...

    # ---------------------------------------------------------------- clock and timers
    def clock(self) -> datetime.datetime: ...

    def set_timer(self, name: Any, delay: float, callback: Callable[[], None]) -> None: ...

    def sim_timer(self, name: Any, seconds: float, callback: Callable[[], None]) -> None: ...

    def protocol_timer(self, name: Any, seconds: float, callback: Callable[[], None]) -> None: ...

    def cancel_timer(self, name: Any) -> None: ...

    def has_timer(self, name: Any) -> bool: ...

    def defer(self, function: Callable[[], None]) -> None: ...

    def wake(self) -> None: ...

    # ---------------------------------------------------------------- connection
    def online(self) -> bool: ...

    def connected(self) -> bool: ...

    def set_call_timeout(self, seconds: float) -> None: ...

    def request_reconnect(self) -> None: ...

    # ---------------------------------------------------------------- sending
    def send(self, request: Any, *, followup: bool = False, durable: bool = False,
             on_result: Callable[[Any], None] | None = None) -> None: ...

    def send_unconfirmed(self, message: Any) -> bool: ...

    def send_heartbeat(self, followup: bool = True) -> None: ...

    def arm_heartbeat(self) -> None: ...

    def rearm_heartbeat(self) -> None: ...

    def trigger_boot(self) -> None: ...

    # ---------------------------------------------------------------- hardware and state
    def evse_by_id(self, evse_id: int) -> EvseState | None: ...

    def any_transaction(self) -> bool: ...

    def new_vehicle(self, demand_wh: float | None = None) -> Vehicle: ...

    def station_operative(self) -> bool: ...

    def set_station_operative(self, operative: bool) -> None: ...

    def schedule_station_operative(self, operative: bool | None) -> None: ...

    def schedule_reset_on_idle(self, reason: str) -> None: ...

    def reboot(self, reason: str) -> None: ...

    def request_reboot(self, reason: str) -> None: ...

    def touch(self) -> None: ...

    def update_state(self) -> None: ...

    # ---------------------------------------------------------------- what happened
    def count_transaction_started(self) -> None: ...

    def transaction_ended(self, evse: EvseState) -> None: ...

    def count_event(self, transaction_id: str, seq_no: int, energy_wh: float | None,
                    export_wh: float | None = None) -> None: ...

    def transaction_named(self, key: str, transaction_id: str) -> None: ...

    def note_error(self, text: str) -> None: ...
