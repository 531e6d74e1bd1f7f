"""The station's hardware and physics without sockets or trio: power limits, energy,
state of charge (:mod:`fleet.actors.station.hardware`), and how OCPP 2.0.1 reads them
(charging states, connector statuses, meter values: :mod:`fleet.actors.station.v201.transactions`)."""

from __future__ import annotations

import datetime

import pytest

from fleet.actors.station.hardware import EvseState, Vehicle
from fleet.actors.station.v201.transactions import charging_state, connector_status, sample
from fleet.ocpp.v201 import ChargingState, ConnectorStatus, ReadingContext
from fleet.profiles import ConnectorProfile, EvseProfile

_NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def charging_evse(*, max_power: float = 11000.0, vehicle_power: float = 7400.0, demand_wh: float = 10000.0,
                  capacity_wh: float = 50000.0, initial_soc: float = 20.0, current_type: str = "AC") -> EvseState:
    """An EVSE with a plugged, authorized vehicle, its power set to what it draws."""
    evse = EvseState(1, EvseProfile(max_power=max_power, current_type=current_type,  # type: ignore[arg-type]
                                    connectors=[ConnectorProfile(), ConnectorProfile()]), register_wh=1000.0)
    evse.plugged = 1
    evse.authorized = object()
    evse.vehicle = Vehicle(capacity_wh, vehicle_power, initial_soc, demand_wh)
    evse.power_w = evse.target_power(station_operative=True)
    return evse


def test_power_is_the_least_of_the_evse_the_vehicle_and_the_smart_charging_limit() -> None:
    evse = charging_evse(max_power=11000.0, vehicle_power=7400.0)
    assert evse.target_power(True) == 7400.0
    evse.limit_w = 3680.0
    assert evse.target_power(True) == 3680.0
    evse.limit_w = 20000.0
    assert evse.target_power(True) == 7400.0
    weak = charging_evse(max_power=3700.0, vehicle_power=11000.0)
    assert weak.target_power(True) == 3700.0


def test_no_power_without_a_closed_power_path_or_with_a_zero_limit() -> None:
    evse = charging_evse()
    assert evse.target_power(station_operative=False) == 0.0
    evse.operative = False
    assert evse.target_power(True) == 0.0
    assert charging_state(evse, True) == ChargingState.SUSPENDED_EVSE
    evse.operative = True
    evse.limit_w = 0.0
    assert evse.target_power(True) == 0.0
    assert charging_state(evse, True) == ChargingState.SUSPENDED_EVSE
    evse.limit_w = None
    evse.authorized = None
    assert evse.target_power(True) == 0.0
    assert charging_state(evse, True) == ChargingState.EV_CONNECTED
    evse.plugged = None
    assert charging_state(evse, True) == ChargingState.IDLE


def test_energy_integrates_power_over_simulated_time() -> None:
    evse = charging_evse(vehicle_power=7200.0, demand_wh=50000.0)
    evse.last_update = 100.0
    evse.tx = None
    evse.advance(110.0, speed=1.0)  # 10 s at 7.2 kW: 20 Wh
    assert evse.register_wh == pytest.approx(1020.0)
    evse.advance(120.0, speed=60.0)  # 10 real s at speed 60: 10 minutes, 1.2 kWh
    assert evse.register_wh == pytest.approx(2220.0)
    assert evse.vehicle is not None and evse.vehicle.delivered_wh == pytest.approx(1220.0)
    evse.advance(120.0, speed=60.0)  # no time: no energy
    assert evse.register_wh == pytest.approx(2220.0)


def test_the_vehicle_takes_its_demand_and_no_more_then_it_is_full() -> None:
    evse = charging_evse(vehicle_power=10000.0, demand_wh=500.0)
    evse.last_update = 0.0
    assert evse.seconds_to_full(speed=1.0) == pytest.approx(180.0)  # 500 Wh at 10 kW
    assert evse.seconds_to_full(speed=10.0) == pytest.approx(18.0)
    evse.advance(3600.0, speed=1.0)  # an hour would be 10 kWh; the vehicle wanted 500 Wh
    vehicle = evse.vehicle
    assert vehicle is not None and vehicle.full
    assert evse.register_wh == pytest.approx(1500.0)
    assert evse.target_power(True) == 0.0
    assert charging_state(evse, True) == ChargingState.SUSPENDED_EV


def test_state_of_charge_follows_the_energy_taken_and_the_demand_fits_the_battery() -> None:
    vehicle = Vehicle(capacity_wh=40000.0, max_power_w=7400.0, initial_soc=50.0, demand_wh=100000.0)
    assert vehicle.demand_wh == pytest.approx(20000.0)  # only half the battery is free
    assert vehicle.soc == pytest.approx(50.0)
    vehicle.delivered_wh = 10000.0
    assert vehicle.soc == pytest.approx(75.0)
    vehicle.delivered_wh = 20000.0
    assert vehicle.soc == pytest.approx(100.0) and vehicle.full


def test_ac_current_is_power_over_voltage_and_phases() -> None:
    evse = charging_evse(vehicle_power=6900.0)
    assert evse.current_a() == pytest.approx(6900.0 / (230.0 * 3))
    dc = charging_evse(vehicle_power=6900.0, current_type="DC")
    assert dc.current_a() == pytest.approx(6900.0 / 230.0)


def test_connector_statuses_in_2_0_1() -> None:
    evse = charging_evse()
    first, second = evse.connectors
    assert connector_status(evse, first, True) == ConnectorStatus.OCCUPIED
    assert connector_status(evse, second, True) == ConnectorStatus.UNAVAILABLE  # one vehicle per EVSE
    first.faulted = True
    assert connector_status(evse, first, True) == ConnectorStatus.FAULTED
    evse.plugged = None
    assert connector_status(evse, second, True) == ConnectorStatus.AVAILABLE
    assert connector_status(evse, second, False) == ConnectorStatus.UNAVAILABLE


def test_meter_values_sample_the_register_power_and_soc() -> None:
    evse = charging_evse(vehicle_power=7400.0, initial_soc=20.0)
    meter = sample(evse, ["Energy.Active.Import.Register", "Power.Active.Import", "SoC", "Bogus"],
                   ReadingContext.SAMPLE_PERIODIC, _NOW)
    assert meter is not None
    values = {str(v.measurand): v.value for v in meter.sampled_value}
    assert values == {"Energy.Active.Import.Register": 1000.0, "Power.Active.Import": 7400.0, "SoC": 20.0}
    assert sample(evse, ["Bogus"], ReadingContext.SAMPLE_PERIODIC, _NOW) is None
