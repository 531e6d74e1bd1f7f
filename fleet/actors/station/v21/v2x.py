"""Bidirectional charging (V2X) of the 2.1 station: the operation modes of its charging
profiles applied to the simulated power, the energy transfer modes the CSMS allows, and
the charging needs a V2X vehicle announces.

What the EVSE does comes from the period in force of the transaction's winning profile
(:meth:`~fleet.actors.station.v201.smart_charging.ProfileStore.period_at`), its
``operationMode`` (absent: ChargingOnly):

* ChargingOnly, ExternalLimits, ExternalSetpoint, LocalLoadBalancing: charge as allowed
  by the limits (2.0.1's behaviour; no external system or local balancing is simulated);
* CentralSetpoint: follow ``setpoint`` (positive charges, negative discharges), capped
  by ``limit`` and ``dischargeLimit`` (V2X.03, V2X.04) and what the hardware can;
* CentralFrequency, LocalFrequency: the setpoint the ``v2xFreqWattCurve`` gives at the
  simulated grid frequency (nominal, 50 Hz) on top of ``v2xBaseline``;
* Idle: no power.

A vehicle discharges only on a ``bidirectional`` EVSE, if it can, and while the
transaction's allowed energy transfer modes include a bidirectional one (``*_BPT``):
at first the modes the vehicle offers, then what NotifyAllowedEnergyTransfer says.
A V2X vehicle announces itself once per transaction with NotifyEVChargingNeeds
(requested ``DC_BPT``/``AC_BPT``, its V2X charging parameters).

Limits stay where 2.0.1 computes them (``EvseState.limit_w``); this module adds the
setpoint and the discharge limit (``EvseState.setpoint_w``, ``discharge_limit_w``),
which the version-free hardware turns into signed power.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, cast

from msgspec import UNSET

from ....ocpp.v21 import (
    ChargingNeeds,
    ChargingProfileStatus,
    ChargingSchedulePeriod,
    ControlMode,
    EnergyTransferMode,
    MobilityNeedsMode,
    NotifyAllowedEnergyTransferRequest,
    NotifyAllowedEnergyTransferResponse,
    NotifyAllowedEnergyTransferStatus,
    NotifyEVChargingNeedsRequest,
    OperationMode,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
    StatusInfo,
    V2XChargingParameters,
)
from ..hardware import EvseState
from ..v201.handlers.smart_charging import set_charging_profile as v201_set_charging_profile
from ..v201.smart_charging import to_watts
from .curves import curve_value

if TYPE_CHECKING:
    from ..v201.dialect import V201Dialect
    from .dialect import V21Dialect

__all__ = ["GRID_FREQUENCY", "V2X", "notify_allowed_energy_transfer", "set_charging_profile"]

#: The simulated grid frequency, Hz (nominal: the frequency modes give their curve's value there).
GRID_FREQUENCY: Final = 50.0

_BIDIRECTIONAL: Final = frozenset({
    EnergyTransferMode.AC_BPT, EnergyTransferMode.AC_BPT_DER, EnergyTransferMode.DC_BPT,
    EnergyTransferMode.DC_ACDP_BPT,
})
_FREQUENCY_MODES: Final = frozenset({OperationMode.CENTRAL_FREQUENCY, OperationMode.LOCAL_FREQUENCY})


def _curve_power(points: Any, frequency: float) -> float:
    """The power of a frequency-watt curve at ``frequency`` (linear between its points,
    flat beyond its ends)."""
    return curve_value(((p.frequency, p.power) for p in points), frequency)


class V2X:
    """The V2X state of one 2.1 station whose profile switches V2X on.

    Args:
        dialect: the station's 2.1 dialect.
    """

    __slots__ = ("allowed", "announced", "dialect")

    def __init__(self, dialect: V21Dialect) -> None:
        self.dialect = dialect
        #: EVSE id -> (transaction id, the energy transfer modes allowed for it)
        self.allowed: dict[int, tuple[str, frozenset[str]]] = {}
        #: EVSE id -> the transaction whose charging needs were sent
        self.announced: dict[int, str] = {}

    # ------------------------------------------------------------- energy transfer modes

    def offered_modes(self, evse: EvseState) -> list[EnergyTransferMode]:
        """The modes the vehicle on ``evse`` and the EVSE can use (bidirectional first, when both can)."""
        if evse.ac:
            plain = (EnergyTransferMode.AC_SINGLE_PHASE, EnergyTransferMode.AC_TWO_PHASE,
                     EnergyTransferMode.AC_THREE_PHASE)[evse.phases - 1]
            both = EnergyTransferMode.AC_BPT
        else:
            plain, both = EnergyTransferMode.DC, EnergyTransferMode.DC_BPT
        vehicle = evse.vehicle
        if evse.bidirectional and vehicle is not None and vehicle.max_discharge_w > 0:
            return [both, plain]
        return [plain]

    def discharge_allowed(self, evse: EvseState) -> bool:
        """Whether the transaction on ``evse`` may discharge (a bidirectional mode is allowed)."""
        tx = evse.tx
        if tx is None:
            return False
        allowed = self.allowed.get(evse.id)
        if allowed is None or allowed[0] != tx.id:
            return any(mode in _BIDIRECTIONAL for mode in self.offered_modes(evse))
        return not allowed[1].isdisjoint(_BIDIRECTIONAL)

    def allow(self, request: NotifyAllowedEnergyTransferRequest) -> bool:
        """NotifyAllowedEnergyTransfer: the modes allowed for its transaction from now on
        (False: no such transaction runs here)."""
        for evse in self.dialect.station.evses:
            if evse.tx is not None and evse.tx.id == request.transaction_id:
                self.allowed[evse.id] = (evse.tx.id, frozenset(str(m) for m in request.allowed_energy_transfer))
                return True
        return False

    # ------------------------------------------------------------- the operation mode

    def _found(self, evse: EvseState) -> Any:
        """The period in force of the transaction on ``evse`` and its rate unit, if any."""
        tx = evse.tx
        store = self.dialect.charging_profiles
        if tx is None or not store.items:
            return None
        return store.period_at(evse.id, self.dialect.station.clock(), transaction_id=tx.id,
                               transaction_start=tx.started_wall)

    def period_in_force(self, evse: EvseState) -> ChargingSchedulePeriod | None:
        """The period in force of the transaction on ``evse`` (a 2.1 profile's), if any."""
        found = self._found(evse)
        return cast(ChargingSchedulePeriod, found[0]) if found is not None else None

    def apply(self, evse: EvseState) -> None:
        """Set ``evse``'s setpoint and discharge limit from the operation mode in force
        (after 2.0.1 set its limit)."""
        evse.setpoint_w = None
        evse.discharge_limit_w = None
        found = self._found(evse)
        if found is None:
            return
        period = cast(ChargingSchedulePeriod, found[0])  # (a 2.1 profile's period)
        unit = found[1]
        phases = period.number_phases if period.number_phases is not UNSET else evse.phases
        mode = period.operation_mode
        if mode == OperationMode.IDLE:
            evse.setpoint_w = 0.0
            return
        setpoint: float | None = None
        if mode == OperationMode.CENTRAL_SETPOINT and period.setpoint is not UNSET:
            setpoint = to_watts(period.setpoint, unit, evse.voltage, phases)
        elif mode in _FREQUENCY_MODES and period.v2x_freq_watt_curve is not UNSET:
            baseline = period.v2x_baseline if period.v2x_baseline is not UNSET else 0.0
            setpoint = baseline + _curve_power(period.v2x_freq_watt_curve, GRID_FREQUENCY)
            if mode == OperationMode.LOCAL_FREQUENCY and self.dialect.afrr is not None:
                setpoint += self.dialect.afrr.power(period.v2x_signal_watt_curve)  # (Q08.FR.10)
        if setpoint is None:
            return
        if setpoint < 0 and not self.discharge_allowed(evse):
            setpoint = 0.0
        evse.setpoint_w = setpoint
        if period.discharge_limit is not UNSET:
            evse.discharge_limit_w = -to_watts(period.discharge_limit, unit, evse.voltage, phases)

    # ------------------------------------------------------------- what the vehicle says

    def after_update(self, evse: EvseState) -> None:
        """After ``evse`` changed: a V2X vehicle in a new transaction announces its charging
        needs; an ended transaction's allowed modes are forgotten."""
        tx = evse.tx
        if tx is None:
            self.allowed.pop(evse.id, None)
            self.announced.pop(evse.id, None)
            return
        vehicle = evse.vehicle
        if (vehicle is None or vehicle.max_discharge_w <= 0 or not evse.bidirectional
                or self.announced.get(evse.id) == tx.id or not self.dialect.station.online()):
            return
        self.announced[evse.id] = tx.id
        self.dialect.station.send(self.charging_needs(evse))

    def charging_needs(self, evse: EvseState) -> NotifyEVChargingNeedsRequest:
        """The NotifyEVChargingNeeds of the V2X vehicle on ``evse``."""
        vehicle = evse.vehicle
        assert vehicle is not None
        modes = self.offered_modes(evse)
        to_full = vehicle.capacity_wh * (100.0 - vehicle.soc) / 100.0
        to_floor = vehicle.floor_wh - vehicle.delivered_wh  # negative: it can give that much
        parameters = V2XChargingParameters(
            min_charge_power=0.0,
            max_charge_power=round(min(vehicle.max_power_w, evse.max_power_w), 1),
            min_discharge_power=0.0,
            max_discharge_power=round(min(vehicle.max_discharge_w, evse.max_discharge_w), 1),
            ev_target_energy_request=round(max(0.0, vehicle.demand_wh - vehicle.delivered_wh), 1),
            ev_min_energy_request=round(to_floor, 1),
            ev_max_energy_request=round(to_full, 1),
            ev_min_v2x_energy_request=round(to_floor, 1),
            ev_max_v2x_energy_request=round(to_full, 1),
        )
        needs = ChargingNeeds(
            requested_energy_transfer=modes[0],
            available_energy_transfer=modes,
            control_mode=ControlMode.DYNAMIC_CONTROL,
            mobility_needs_mode=MobilityNeedsMode.EVCC_SECC,
            v2x_charging_parameters=parameters,
        )
        return NotifyEVChargingNeedsRequest(evse_id=evse.id, charging_needs=needs,
                                            timestamp=self.dialect.station.clock())


# ----------------------------------------------------------------- handlers


def notify_allowed_energy_transfer(
    dialect: V21Dialect, request: NotifyAllowedEnergyTransferRequest,
) -> NotifyAllowedEnergyTransferResponse:
    """Accepted and acted on (the setpoints are applied anew) for a running transaction;
    Rejected otherwise."""
    v2x = dialect.v2x
    assert v2x is not None
    if not v2x.allow(request):
        return NotifyAllowedEnergyTransferResponse(status=NotifyAllowedEnergyTransferStatus.REJECTED,
                                                   status_info=StatusInfo(reason_code="UnknownTransaction"))
    dialect.station.defer(dialect.limits_changed)
    return NotifyAllowedEnergyTransferResponse(status=NotifyAllowedEnergyTransferStatus.ACCEPTED)


def _setpoint_outside_limits(request: SetChargingProfileRequest) -> bool:
    for schedule in request.charging_profile.charging_schedule:
        for period in schedule.charging_schedule_period:
            setpoint = period.setpoint
            if setpoint is UNSET:
                continue
            if period.limit is not UNSET and setpoint > period.limit:
                return True
            if period.discharge_limit is not UNSET and setpoint < period.discharge_limit:
                return True
    return False


def set_charging_profile(dialect: V201Dialect, request: SetChargingProfileRequest) -> SetChargingProfileResponse:
    """2.0.1's SetChargingProfile, plus V2X.05: a setpoint outside ``dischargeLimit``..``limit``
    is Rejected (InvalidSchedule)."""
    if _setpoint_outside_limits(request):
        return SetChargingProfileResponse(status=ChargingProfileStatus.REJECTED,
                                          status_info=StatusInfo(reason_code="InvalidSchedule"))
    return cast(SetChargingProfileResponse, v201_set_charging_profile(dialect, request))  # type: ignore[arg-type]
