"""The cost of one transaction under OCPP 2.1 tariffs (use case I12), as the station
calculates it locally: :class:`CostMeter`.

A meter is made when a tariff is attached to a transaction (at its start, the EVSE's
default tariff; later, a ChangeTransactionTariff) and reads the transaction's usage
at each event: the energy register (Wh), the charging time and the idle time
(seconds). Each tariff in force makes one charging period; a period's cost is its
energy at the tariff's first ``energy`` price per kWh, its charging time at the first
``chargingTime`` price per minute and its idle time at the first ``idleTime`` price per
minute; the first tariff's ``fixedFee`` is charged once (I12.FR.30). Prices with
conditions are refused before a tariff is taken (:mod:`.tariffs`), so the first price
of a field is the one that applies.

Money is :class:`decimal.Decimal` throughout, never float: each price and tax rate is
read from the shortest text of its JSON number (``0.3`` is exactly 0.3), usage too
(the energy register as the meter values show it, to 0.1 Wh; whole seconds). Each
component of ``totalCost`` (fixed, energy, chargingTime, idleTime) is the exact sum
over the periods, rounded half-up to :data:`PLACES` (4 decimals) once; ``inclTax`` is
the exact excluding-tax amount with the tax stacks applied (I12.FR.13: the rates of
stack 0 summed and applied, then stack 1 on that result, ...), rounded the same way;
``total`` is the sum of the rounded components (I12.FR.17). ``maxCost`` reached:
``totalCost`` is the maximum (typeOfCost MaxCost, as a fixed price); below ``minCost``
at the end: the minimum (MinCost, I12.FR.38).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from msgspec import UNSET

from ....ocpp.v21 import (
    ChargingPeriod,
    CostDetails,
    CostDimension,
    CostDimensionEnum,
    Price,
    Tariff,
    TariffCost,
    TaxRate,
    TotalCost,
    TotalPrice,
    TotalUsage,
)

__all__ = ["PLACES", "CostMeter", "Usage", "amount", "with_tax"]

#: The precision of every amount reported (currency units).
PLACES: Final = Decimal("0.0001")
_KWH: Final = Decimal(1000)
_MINUTE: Final = Decimal(60)
_ZERO: Final = Decimal(0)
_HUNDRED: Final = Decimal(100)


def amount(value: float | int) -> Decimal:
    """``value`` (a price, rate or reading from JSON) as the exact decimal its shortest text says."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def with_tax(excl_tax: Decimal, tax_rates: Sequence[TaxRate] | Any) -> Decimal:
    """``excl_tax`` with ``tax_rates`` applied stack by stack (I12.FR.13), unrounded."""
    if tax_rates is UNSET or not tax_rates:
        return excl_tax
    stacks: dict[int, Decimal] = {}
    for rate in tax_rates:
        stack = rate.stack if rate.stack is not UNSET else 0
        stacks[stack] = stacks.get(stack, _ZERO) + amount(rate.tax)
    value = excl_tax
    for stack in sorted(stacks):
        value = value * (1 + stacks[stack] / _HUNDRED)
    return value


def _rounded(value: Decimal) -> Decimal:
    return value.quantize(PLACES, rounding=ROUND_HALF_UP)


class Usage:
    """What a transaction has used so far: the energy register (Wh, as its meter values
    show it), charging and idle time (whole seconds)."""

    __slots__ = ("charging_s", "energy_wh", "idle_s")

    def __init__(self, energy_wh: Decimal, charging_s: int, idle_s: int) -> None:
        self.energy_wh = energy_wh
        self.charging_s = charging_s
        self.idle_s = idle_s


class _Period:
    """One charging period: a tariff in force from ``started`` (usage ``start``) to ``end``."""

    __slots__ = ("end", "start", "started", "tariff")

    def __init__(self, tariff: Tariff, started: datetime.datetime, start: Usage) -> None:
        self.tariff = tariff
        self.started = started
        self.start = start
        self.end: Usage | None = None


class _Component:
    """One cost component summed over the periods (excluding and including tax, exact)."""

    __slots__ = ("excl", "incl", "tax_rates")

    def __init__(self) -> None:
        self.excl = _ZERO
        self.incl = _ZERO
        self.tax_rates: Any = UNSET

    def add(self, excl: Decimal, tax_rates: Any) -> None:
        self.excl += excl
        self.incl += with_tax(excl, tax_rates)
        self.tax_rates = tax_rates

    def price(self) -> Price:
        if self.tax_rates is UNSET:
            return Price(excl_tax=float(_rounded(self.excl)), incl_tax=float(_rounded(self.incl)))
        return Price(excl_tax=float(_rounded(self.excl)), incl_tax=float(_rounded(self.incl)),
                     tax_rates=self.tax_rates)


class CostMeter:
    """The local cost of one transaction (see the module's description).

    Args:
        tariff: the tariff attached first.
        at: when (station clock).
        usage: the transaction's usage then.
    """

    __slots__ = ("currency", "fixed", "periods")

    def __init__(self, tariff: Tariff, at: datetime.datetime, usage: Usage) -> None:
        self.currency = tariff.currency
        self.periods = [_Period(tariff, at, usage)]
        #: the fixed fee, evaluated once at the start (I12.FR.30)
        self.fixed: tuple[Decimal, Any] | None = None
        if tariff.fixed_fee is not UNSET:
            self.fixed = (amount(tariff.fixed_fee.prices[0].price_fixed), tariff.fixed_fee.tax_rates)

    @property
    def tariff(self) -> Tariff:
        """The tariff in force now."""
        return self.periods[-1].tariff

    def change(self, tariff: Tariff, at: datetime.datetime, usage: Usage) -> None:
        """From now on ``tariff`` applies (a new charging period; nothing retroactive)."""
        self.periods[-1].end = usage
        self.periods.append(_Period(tariff, at, usage))

    def details(self, usage: Usage, *, final: bool) -> CostDetails:
        """The cost details with the usage ``usage`` now: running (no charging periods) or
        ``final`` (with a charging period per tariff, and minCost applied)."""
        energy, charging, idle = _Component(), _Component(), _Component()
        fields: set[str] = set()
        total_energy = _ZERO
        total_charging = total_idle = 0
        dimensions: list[tuple[_Period, Decimal, int, int]] = []
        for period in self.periods:
            end = period.end or usage
            used_wh = max(_ZERO, end.energy_wh - period.start.energy_wh)
            charging_s = max(0, end.charging_s - period.start.charging_s)
            idle_s = max(0, end.idle_s - period.start.idle_s)
            total_energy += used_wh
            total_charging += charging_s
            total_idle += idle_s
            dimensions.append((period, used_wh, charging_s, idle_s))
            tariff = period.tariff
            if tariff.energy is not UNSET:
                fields.add("energy")
                energy.add(used_wh / _KWH * amount(tariff.energy.prices[0].price_kwh), tariff.energy.tax_rates)
            if tariff.charging_time is not UNSET:
                fields.add("charging_time")
                charging.add(Decimal(charging_s) / _MINUTE * amount(tariff.charging_time.prices[0].price_minute),
                             tariff.charging_time.tax_rates)
            if tariff.idle_time is not UNSET:
                fields.add("idle_time")
                idle.add(Decimal(idle_s) / _MINUTE * amount(tariff.idle_time.prices[0].price_minute),
                         tariff.idle_time.tax_rates)
        parts: dict[str, Any] = {}
        if self.fixed is not None:
            fixed = _Component()
            fixed.add(*self.fixed)
            parts["fixed"] = fixed.price()
        for name, component in (("energy", energy), ("charging_time", charging), ("idle_time", idle)):
            if name in fields:
                parts[name] = component.price()
        excl = sum((amount(p.excl_tax) for p in parts.values() if p.excl_tax is not UNSET), _ZERO)
        incl = sum((amount(p.incl_tax) for p in parts.values() if p.incl_tax is not UNSET), _ZERO)
        total_cost = TotalCost(currency=self.currency, type_of_cost=TariffCost.NORMAL_COST,
                               total=TotalPrice(excl_tax=float(excl), incl_tax=float(incl)), **parts)
        tariff = self.tariff
        if tariff.max_cost is not UNSET and _reaches(excl, incl, tariff.max_cost):
            total_cost = _bounded(self.currency, TariffCost.MAX_COST, tariff.max_cost)
        elif final and tariff.min_cost is not UNSET and _below(excl, incl, tariff.min_cost):
            total_cost = _bounded(self.currency, TariffCost.MIN_COST, tariff.min_cost)
        total_usage = TotalUsage(energy=float(total_energy), charging_time=total_charging, idle_time=total_idle)
        if not final:
            return CostDetails(total_cost=total_cost, total_usage=total_usage)
        periods = [
            ChargingPeriod(
                start_period=period.started, tariff_id=period.tariff.tariff_id,
                dimensions=[CostDimension(type=CostDimensionEnum.ENERGY, volume=float(used_wh)),
                            CostDimension(type=CostDimensionEnum.CHARGING_TIME, volume=charging_s),
                            CostDimension(type=CostDimensionEnum.IDLE_T_IME, volume=idle_s)],
            )
            for period, used_wh, charging_s, idle_s in dimensions
        ]
        return CostDetails(total_cost=total_cost, total_usage=total_usage, charging_periods=periods)


def _reaches(excl: Decimal, incl: Decimal, bound: Price) -> bool:
    return (bound.excl_tax is not UNSET and excl >= amount(bound.excl_tax)) or (
        bound.incl_tax is not UNSET and incl >= amount(bound.incl_tax)
    )


def _below(excl: Decimal, incl: Decimal, bound: Price) -> bool:
    return (bound.excl_tax is not UNSET and excl < amount(bound.excl_tax)) or (
        bound.incl_tax is not UNSET and incl < amount(bound.incl_tax)
    )


def _bounded(currency: str, kind: TariffCost, bound: Price) -> TotalCost:
    """``totalCost`` replaced by a tariff's minCost or maxCost (as a fixed price)."""
    total = TotalPrice(excl_tax=bound.excl_tax, incl_tax=bound.incl_tax)
    return TotalCost(currency=currency, type_of_cost=kind, fixed=bound, total=total)
