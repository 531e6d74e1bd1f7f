"""What the control layer needs of a station and of a CSMS: two typed handles.

:class:`StationHandle` and :class:`CsmsHandle` list exactly the methods and
attributes the control commands use, with their real signatures; the actors
(:class:`fleet.actors.station.Station`, :class:`fleet.actors.csms.Csms`) satisfy
them as they are. Nothing in :mod:`fleet.control` reaches an actor any other way:
no attribute looked up by name, no signature inspected.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import trio

    from ..actors.csms import ConnectionInfo, CsmsStatistics, PendingRequest
    from ..actors.csms.dialect import CsmsDialect
    from ..actors.csms.records import StationRecord
    from ..actors.station import StationSnapshot
    from ..actors.station.snapshots import Setting
    from ..net.events import FleetEvent
    from ..ocpp.v201 import ReportBase, ReportData
    from ..profiles import StationProfile

__all__ = ["CsmsHandle", "DeviceModelReport", "StationHandle"]


class DeviceModelReport(Protocol):
    """A station's configuration, as the reports of GetBaseReport give it."""

    def base_report(self, base: ReportBase) -> list[ReportData]: ...


class StationHandle(Protocol):
    """A simulated station as the control commands drive it."""

    @property
    def profile(self) -> StationProfile: ...

    @property
    def ocpp_version(self) -> str: ...

    @property
    def model(self) -> DeviceModelReport: ...

    def settings(self) -> list[Setting]: ...

    def snapshot(self) -> StationSnapshot: ...

    def subscribe(self) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[FleetEvent]]: ...

    async def connect(self, url: str | None = None, password: str | None = None, station_id: str | None = None) -> None: ...

    async def close(self) -> None: ...

    async def set_retry_backoff(
        self, wait_minimum: int | None = None, repeat_times: int | None = None, random_range: int | None = None
    ) -> None: ...

    async def plug(self, evse_id: int, connector_id: int = 1) -> None: ...

    async def unplug(self, evse_id: int, connector_id: int | None = None) -> None: ...

    async def start_transaction(
        self, evse_id: int, id_token: str, *, token_type: str = ..., authorize: bool = ...,
        connector_id: int | None = None,
    ) -> None: ...

    async def stop_transaction(self, evse_id: int, reason: str = ...) -> None: ...

    async def reset(self, type: str = ..., reason: str = ...) -> None: ...

    async def call(
        self, request: Any, *, action: str | None = None, message_id: str | None = None, tag: Any = None,
        timeout: float | None = None,
    ) -> Any: ...

    async def drop_connection(self, reason: str = ...) -> bool: ...

    async def partition(self, duration: float) -> bool: ...


class CsmsHandle(Protocol):
    """A CSMS as the control commands drive and read it."""

    def connections(self) -> list[ConnectionInfo]: ...

    def pending_requests(self, station_id: str | None = None) -> list[PendingRequest]: ...

    def station(self, station_id: str) -> StationRecord | None: ...

    def stations(self) -> dict[str, StationRecord]: ...

    def statistics(self) -> CsmsStatistics: ...

    def is_connected(self, station_id: str) -> bool: ...

    def dialect_of(self, station_id: str) -> CsmsDialect | None: ...

    def subscribe(
        self, station_id: str | None = None
    ) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[FleetEvent]]: ...

    def get_auth_list(self) -> list[str] | None: ...

    def set_auth_list(self, auth: Mapping[str, str] | None) -> None: ...

    def get_station_password(self, station_id: str) -> str | None: ...

    def set_station_password(self, station_id: str, password: str | None) -> None: ...

    def set_boot_status(self, status: str | None, station_id: str | None = None) -> None: ...

    async def call(
        self, station_id: str, request: Any, *, action: str | None = None, message_id: str | None = None,
        tag: Any = None, timeout: float | None = None,
    ) -> Any: ...

    async def drop_connection(self, station_id: str, reason: str = ...) -> bool: ...

    async def partition(self, station_id: str, duration: float) -> bool: ...

    async def restart(self, downtime: float = ...) -> int: ...
