"""Battery swapping on a 2.1 station whose profile switches it on (``[battery_swap]``;
OCPP 2.1 functional block S, use cases S02 and S03): :class:`BatterySwapper`.

RequestBatterySwap (S02, the driver asked the CSMS through an app) is answered Accepted
while a charged battery is in stock (S02.FR.01), else Rejected with reasonCode
NoBatteryAvailable (S02.FR.04). An accepted swap then happens as S03 describes, with the
request's requestId (S02.FR.02) and idToken: the driver's empty battery goes into a slot
(BatterySwap, eventType BatteryIn, its serial number, SoC and SoH, the slot as ``evseId``;
S03.FR.01), and ``swap_time`` simulated seconds later a charged battery comes out of the
slot beside it (BatteryOut, same requestId; S03.FR.03). The slots are the station's EVSEs,
taken in turn. Charging the returned batteries as transactions (S04) is not simulated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ....ocpp.v21 import (
    BatteryData,
    BatterySwapEvent,
    BatterySwapRequest,
    GenericStatus,
    IdToken,
    RequestBatterySwapRequest,
    RequestBatterySwapResponse,
    StatusInfo,
)
from ....profiles import BatterySwap as BatterySwapSettings

if TYPE_CHECKING:
    from .dialect import V21Dialect

__all__ = ["BatterySwapper", "request_battery_swap"]


class BatterySwapper:
    """The battery stock and swaps of one station (see the module's description).

    Args:
        dialect: the station's 2.1 dialect.
        settings: the profile's ``[battery_swap]``.
    """

    __slots__ = ("dialect", "settings", "stock", "swaps")

    def __init__(self, dialect: V21Dialect, settings: BatterySwapSettings) -> None:
        self.dialect = dialect
        self.settings = settings
        #: charged batteries left to give
        self.stock = settings.batteries
        #: swaps accepted so far (numbers the batteries and picks the slots)
        self.swaps = 0

    def request(self, request: RequestBatterySwapRequest) -> RequestBatterySwapResponse:
        """RequestBatterySwap: Accepted and the swap under way, or Rejected (no battery)."""
        if self.stock <= 0:
            return RequestBatterySwapResponse(status=GenericStatus.REJECTED,
                                              status_info=StatusInfo(reason_code="NoBatteryAvailable"))
        self.stock -= 1
        n = self.swaps
        self.swaps += 1
        self.dialect.station.defer(lambda: self._battery_in(n, request.request_id, request.id_token))
        return RequestBatterySwapResponse(status=GenericStatus.ACCEPTED)

    def _slot(self, n: int) -> int:
        evses = self.dialect.station.evses
        return evses[n % len(evses)].id

    def _battery_in(self, n: int, request_id: int, id_token: IdToken) -> None:
        station = self.dialect.station
        returned = BatteryData(evse_id=self._slot(2 * n), serial_number=f"EV-{station.station_id}-{n + 1}"[:50],
                               so_c=float(10 + n % 20), so_h=float(90 - n % 10))
        station.send(BatterySwapRequest(event_type=BatterySwapEvent.BATTERY_IN, request_id=request_id,
                                        id_token=id_token, battery_data=[returned]), followup=True)
        station.sim_timer(("battery-out", request_id, n), self.settings.swap_time,
                          lambda: self._battery_out(n, request_id, id_token))

    def _battery_out(self, n: int, request_id: int, id_token: IdToken) -> None:
        station = self.dialect.station
        charged = BatteryData(evse_id=self._slot(2 * n + 1), serial_number=f"ST-{station.station_id}-{n + 1}"[:50],
                              so_c=95.0, so_h=98.0)
        station.send(BatterySwapRequest(event_type=BatterySwapEvent.BATTERY_OUT, request_id=request_id,
                                        id_token=id_token, battery_data=[charged]), followup=True)


def battery_swap_on(dialect: V21Dialect) -> bool:
    """Whether the profile switches battery swapping on."""
    return dialect.battery_swap is not None


def request_battery_swap(dialect: V21Dialect, request: RequestBatterySwapRequest) -> RequestBatterySwapResponse:
    """RequestBatterySwap: see :meth:`BatterySwapper.request`."""
    swapper = dialect.battery_swap
    assert swapper is not None
    return swapper.request(request)
