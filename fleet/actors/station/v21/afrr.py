"""aFRR (automatic frequency restoration reserve) signals on a 2.1 station whose profile
switches V2X on (OCPP 2.1 use case Q08, its aFRR part): :class:`AfrrSignals`.

AFRRSignal is Accepted while a transaction's charging profile has a period in force with
operationMode LocalFrequency and a ``v2xSignalWattCurve`` (Q08.FR.10); else Rejected with
reasonCode NoSignalWattCurve (Q08.FR.11). The signal applies from its ``timestamp`` on: the
V2X setpoint of such a period (``v2xBaseline`` plus the frequency-watt curve's power at the
simulated grid frequency) gets the signal-watt curve's power at the signal added
(:meth:`AfrrSignals.power`, read by :meth:`~.v2x.V2X.apply`), until the next signal.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from ....ocpp.v21 import AFRRSignalRequest, AFRRSignalResponse, GenericStatus, OperationMode, StatusInfo
from .curves import curve_value

if TYPE_CHECKING:
    from .dialect import V21Dialect

__all__ = ["AfrrSignals", "afrr_signal", "signal_power"]


def signal_power(points: Any, signal: int) -> float:
    """The power of a signal-watt curve at ``signal`` (linear between its points, flat beyond its ends)."""
    return curve_value(((p.signal, p.power) for p in points), signal)


class AfrrSignals:
    """The aFRR signal of one station (see the module's description).

    Args:
        dialect: the station's 2.1 dialect (V2X on).
    """

    __slots__ = ("dialect", "signal")

    def __init__(self, dialect: V21Dialect) -> None:
        self.dialect = dialect
        #: the last signal accepted and when it applies from, if any
        self.signal: tuple[datetime.datetime, int] | None = None

    def takes_signals(self) -> bool:
        """Whether a LocalFrequency period with a signal-watt curve is in force on some EVSE."""
        v2x = self.dialect.v2x
        if v2x is None:
            return False
        for evse in self.dialect.station.evses:
            period = v2x.period_in_force(evse)
            if (period is not None and period.operation_mode == OperationMode.LOCAL_FREQUENCY
                    and period.v2x_signal_watt_curve is not UNSET):
                return True
        return False

    def receive(self, request: AFRRSignalRequest) -> AFRRSignalResponse:
        """AFRRSignal: Accepted and applied from its timestamp on, or Rejected (NoSignalWattCurve)."""
        if not self.takes_signals():
            return AFRRSignalResponse(status=GenericStatus.REJECTED,
                                      status_info=StatusInfo(reason_code="NoSignalWattCurve"))
        station = self.dialect.station
        self.signal = (request.timestamp, request.signal)
        delay = (request.timestamp - station.clock()).total_seconds()
        if delay > 0:
            station.set_timer("afrr-signal", delay, self.dialect.limits_changed)
        station.defer(self.dialect.limits_changed)
        return AFRRSignalResponse(status=GenericStatus.ACCEPTED)

    def power(self, curve: Any) -> float:
        """The power ``curve`` (a period's ``v2xSignalWattCurve``) adds now: 0 before any signal applies."""
        signal = self.signal
        if signal is None or curve is UNSET or self.dialect.station.clock() < signal[0]:
            return 0.0
        return signal_power(curve, signal[1])


def afrr_signal(dialect: V21Dialect, request: AFRRSignalRequest) -> AFRRSignalResponse:
    """AFRRSignal: see :meth:`AfrrSignals.receive`."""
    signals = dialect.afrr
    assert signals is not None
    return signals.receive(request)
