"""What a 1.6 station's meter reads: the sampled values of the measurands it knows.

Values are strings in 1.6 (``"1234.5"``); energy in whole Wh at the outlet (as
meterStart and meterStop count it), power in W,
current in A, voltage in V, the vehicle's state of charge in percent (location EV).
A measurand the simulated hardware cannot measure is left out.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Final

from ....ocpp.v16 import (
    Location,
    Measurand,
    MeterValue,
    ReadingContext,
    SampledValue,
    TransactionSampledValue,
    TransactionUnitOfMeasure,
    UnitOfMeasure,
)
from ..hardware import EvseState

__all__ = ["sample", "transaction_sample"]

_UNITS: Final = {
    Measurand.ENERGY_ACTIVE_IMPORT_REGISTER: "Wh",
    Measurand.POWER_ACTIVE_IMPORT: "W",
    Measurand.POWER_OFFERED: "W",
    Measurand.CURRENT_IMPORT: "A",
    Measurand.CURRENT_OFFERED: "A",
    Measurand.VOLTAGE: "V",
    Measurand.SOC: "Percent",
}


def _reading(evse: EvseState, measurand: Measurand) -> float | None:
    if measurand == Measurand.ENERGY_ACTIVE_IMPORT_REGISTER:
        return round(evse.register_wh, 1)
    if measurand == Measurand.POWER_ACTIVE_IMPORT:
        return round(evse.power_w, 1)
    offered = evse.max_power_w if evse.limit_w is None else min(evse.max_power_w, evse.limit_w)
    if measurand == Measurand.POWER_OFFERED:
        return round(offered, 1)
    if measurand == Measurand.CURRENT_IMPORT:
        return round(evse.current_a(), 2)
    if measurand == Measurand.CURRENT_OFFERED:
        return round(offered / (evse.voltage * (evse.phases if evse.ac else 1)), 2)
    if measurand == Measurand.VOLTAGE:
        return float(evse.voltage)
    if measurand == Measurand.SOC and evse.vehicle is not None:
        return round(evse.vehicle.soc, 1)
    return None


def _readings(evse: EvseState, measurands: Iterable[str]) -> list[tuple[Measurand, str]]:
    readings = []
    for name in measurands:
        try:
            measurand = Measurand(name)
        except ValueError:
            continue
        value = _reading(evse, measurand)
        if value is not None and measurand in _UNITS:
            # the register in whole Wh, as meterStart and meterStop give it (never ahead of them)
            readings.append((measurand, str(int(evse.register_wh)) if measurand == Measurand.ENERGY_ACTIVE_IMPORT_REGISTER
                             else f"{value:g}"))
    return readings


def sample(evse: EvseState, measurands: Iterable[str], context: ReadingContext,
           timestamp: datetime.datetime) -> MeterValue | None:
    """A MeterValue of ``measurands`` (None if none applies)."""
    values = [
        SampledValue(value=value, context=context, measurand=measurand, unit=UnitOfMeasure(_UNITS[measurand]),
                     location=Location.EV if measurand == Measurand.SOC else Location.OUTLET)
        for measurand, value in _readings(evse, measurands)
    ]
    return MeterValue(timestamp=timestamp, sampled_value=values) if values else None


def transaction_sample(evse: EvseState, measurands: Iterable[str],
                       context: ReadingContext) -> list[TransactionSampledValue]:
    """The sampled values of a StopTransaction's transactionData."""
    return [
        TransactionSampledValue(value=value, context=context, measurand=measurand,
                                unit=TransactionUnitOfMeasure(_UNITS[measurand]),
                                location=Location.EV if measurand == Measurand.SOC else Location.OUTLET)
        for measurand, value in _readings(evse, measurands)
    ]
