"""OCPP 2.1 local cost calculation on one station (use cases I07-I12): :class:`LocalCost`,
made by the 2.1 dialect when the profile switches it on (``[local_cost] enabled``).

It keeps the station's default tariffs (:class:`~.tariffs.TariffStore`) and a cost
meter (:class:`~.cost.CostMeter`) per transaction that has a tariff:

* a transaction starts with the driver tariff an Authorize answer gave for it (I08), or
  else its EVSE's default tariff in force, if any (and TariffCostCtrlr.Enabled[Tariff] and
  [Cost] are true): its Started event names it (``transactionInfo.tariffId``) and
  carries the cost so far (``costDetails``); a driver tariff given once the transaction
  has started applies from then on, named by its next event;
* every ``running_cost_interval`` seconds a TransactionEvent Updated (triggerReason
  RunningCost, with the energy register) carries the running cost, without charging
  periods (I12.FR.02-03);
* ChangeTransactionTariff starts a new charging period with the new tariff, announced
  by an Updated event (triggerReason TariffChanged, the new ``tariffId``, the cost);
  a transaction without a tariff gets one that way, counted from then on (I11);
* the Ended event carries the final cost details: the charging periods, the total cost
  and usage (I12.FR.01, FR.42).

The cost an EVSE's last event carried (running, or final until another transaction
starts there) is what the station's snapshot shows (:meth:`LocalCost.shown`).

Usage is read from the simulation at each event: the energy register as the event's
meter values show it (to 0.1 Wh), the charging time (``timeSpentCharging``) and the
idle time (the rest of the transaction's simulated time), in whole seconds.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, cast

import trio
from msgspec import UNSET

from ....ocpp.v21 import (
    CostDetails,
    ReadingContext,
    Tariff,
    TariffEnergy,
    TariffEnergyPrice,
    TariffFixed,
    TariffFixedPrice,
    TariffTime,
    TariffTimePrice,
    TaxRate,
    TransactionEvent,
    TriggerReason,
)
from ....profiles import DefaultTariff
from ....profiles import LocalCost as LocalCostSettings
from ..hardware import EvseState
from ..snapshots import CostSnapshot
from .cost import CostMeter, Usage
from .tariffs import TariffStore

if TYPE_CHECKING:
    from .dialect import V21Dialect

__all__ = ["LocalCost", "tariff_of"]

_REGISTER: Final = ["Energy.Active.Import.Register"]


def tariff_of(spec: DefaultTariff) -> Tariff:
    """The 2.1 tariff a profile's ``[local_cost.default_tariff]`` describes (the prices it sets)."""
    taxes = [TaxRate(type="tax", tax=spec.tax)] if spec.tax else UNSET
    fields: dict[str, Any] = {}
    if spec.price_kwh:
        fields["energy"] = TariffEnergy(prices=[TariffEnergyPrice(price_kwh=spec.price_kwh)], tax_rates=taxes)
    if spec.price_minute:
        fields["charging_time"] = TariffTime(prices=[TariffTimePrice(price_minute=spec.price_minute)], tax_rates=taxes)
    if spec.idle_price_minute:
        fields["idle_time"] = TariffTime(prices=[TariffTimePrice(price_minute=spec.idle_price_minute)],
                                         tax_rates=taxes)
    if spec.fixed_fee:
        fields["fixed_fee"] = TariffFixed(prices=[TariffFixedPrice(price_fixed=spec.fixed_fee)], tax_rates=taxes)
    return Tariff(tariff_id=spec.id, currency=spec.currency, **fields)


class _TransactionCost:
    """The cost meter of one transaction, and whether its next event must name its tariff."""

    __slots__ = ("announce", "meter")

    def __init__(self, meter: CostMeter) -> None:
        self.meter = meter
        self.announce = True


class LocalCost:
    """Tariffs and the local cost of one station's transactions (see the module's description).

    Args:
        dialect: the station's 2.1 dialect.
        settings: the profile's ``[local_cost]``.
    """

    def __init__(self, dialect: V21Dialect, settings: LocalCostSettings) -> None:
        self.dialect = dialect
        self.settings = settings
        self.tariffs = TariffStore(evse.id for evse in dialect.station.evses)
        #: transaction id -> its cost (only transactions that have a tariff)
        self.transactions: dict[str, _TransactionCost] = {}
        #: EVSE id -> the driver tariff an Authorize answer gave, with the driver's token,
        #: for the transaction that starts there next (I08)
        self.driver_tariffs: dict[int, tuple[Tariff, str]] = {}
        #: EVSE id -> the cost its last TransactionEvent carried (for the snapshot)
        self.last_costs: dict[int, CostSnapshot] = {}
        if settings.default_tariff is not None:
            self.tariffs.install(0, tariff_of(settings.default_tariff))

    @property
    def calculating(self) -> bool:
        """Whether the device model lets the station calculate cost (TariffCostCtrlr.Enabled[Tariff] and [Cost])."""
        model = self.dialect.model
        return model.get_bool("TariffCostCtrlr", "Enabled", "Tariff") and model.get_bool(
            "TariffCostCtrlr", "Enabled", "Cost"
        )

    def tariff_of_transaction(self, transaction_id: str) -> Tariff | None:
        """The tariff in force for a running transaction, if it has one."""
        cost = self.transactions.get(transaction_id)
        return cost.meter.tariff if cost is not None else None

    def usage(self, evse: EvseState) -> Usage:
        """What the transaction on ``evse`` has used until now (its EVSE brought up to date first)."""
        tx = evse.tx
        assert tx is not None
        station = self.dialect.station
        charging = int(tx.charging_seconds)
        elapsed = int(max(0.0, trio.current_time() - tx.started_at) * station.speed)
        return Usage(Decimal(repr(round(evse.register_wh, 1))), charging, max(0, elapsed - charging))

    # ------------------------------------------------------------------ events

    def event_fields(self, evse: EvseState, event_type: str, trigger: str, info: dict[str, Any],
                     fields: dict[str, Any]) -> None:
        """What a TransactionEvent on ``evse`` carries of the cost: the tariff id once it
        applies, the running cost (Started, RunningCost, TariffChanged), the final cost (Ended)."""
        tx = evse.tx
        assert tx is not None
        if event_type == TransactionEvent.STARTED:
            self.last_costs.pop(evse.id, None)  # (the previous transaction's cost)
        cost = self.transactions.get(tx.id)
        if cost is None:
            if event_type != TransactionEvent.STARTED or not self.calculating:
                return
            driver = self.driver_tariffs.pop(evse.id, None)
            if driver is not None and (tx.id_token is None or tx.id_token.id_token != driver[1]):
                driver = None  # (another driver's transaction)
            tariff = driver[0] if driver is not None else self.tariffs.current(evse.id, self.dialect.station.clock())
            if tariff is None:
                return
            cost = self.transactions[tx.id] = _TransactionCost(
                CostMeter(tariff, self.dialect.station.clock(), self.usage(evse))
            )
            self._arm_running_cost(evse)
        if cost.announce:
            info["tariff_id"] = cost.meter.tariff.tariff_id
            cost.announce = False
        if event_type == TransactionEvent.ENDED:
            fields["cost_details"] = details = cost.meter.details(self.usage(evse), final=True)
            self._remember(evse, tx.id, cost.meter.tariff, details, final=True)
            del self.transactions[tx.id]
            self.dialect.station.cancel_timer(("running-cost", evse.id))
        elif event_type == TransactionEvent.STARTED or trigger in (TriggerReason.RUNNING_COST,
                                                                   TriggerReason.TARIFF_CHANGED):
            fields["cost_details"] = details = cost.meter.details(self.usage(evse), final=False)
            self._remember(evse, tx.id, cost.meter.tariff, details, final=False)

    def _remember(self, evse: EvseState, transaction_id: str, tariff: Tariff, details: CostDetails, *,
                  final: bool) -> None:
        total = details.total_cost
        self.last_costs[evse.id] = CostSnapshot(
            transaction_id=transaction_id, currency=total.currency,
            excl_tax=float(total.total.excl_tax) if total.total.excl_tax is not UNSET else None,
            incl_tax=float(total.total.incl_tax) if total.total.incl_tax is not UNSET else None,
            final=final, type_of_cost=str(total.type_of_cost), tariff_id=tariff.tariff_id,
        )
        self.dialect.station.touch()

    def shown(self, evse: EvseState) -> CostSnapshot | None:
        """The cost the last TransactionEvent on ``evse`` carried: its transaction's running
        cost, or the last transaction's final cost (until another transaction starts there)."""
        return self.last_costs.get(evse.id)

    def _arm_running_cost(self, evse: EvseState) -> None:
        interval = self.settings.running_cost_interval
        if interval > 0:
            self.dialect.station.protocol_timer(("running-cost", evse.id), interval,
                                                lambda: self._running_cost(evse))

    def _running_cost(self, evse: EvseState) -> None:
        tx = evse.tx
        if tx is None or tx.id not in self.transactions:
            return
        self.dialect.meter_event(evse, cast(Any, TriggerReason.RUNNING_COST), cast(Any, ReadingContext.SAMPLE_PERIODIC),
                                 _REGISTER)
        self._arm_running_cost(evse)

    # ------------------------------------------------------------------ tariff changes

    def authorized(self, evse: EvseState, id_token: str, tariff: Tariff) -> None:
        """An Authorize answer accepted ``id_token`` on ``evse`` with a driver tariff it can
        process (I08.FR.04): the transaction started for the driver uses it (from now on,
        if it has started already)."""
        if evse.tx is None:
            self.driver_tariffs[evse.id] = (tariff, id_token)
        elif self.calculating:
            self.change_transaction_tariff(evse, tariff, announce_now=False)

    def change_transaction_tariff(self, evse: EvseState, tariff: Tariff, *, announce_now: bool = True) -> None:
        """``tariff`` applies to the transaction on ``evse`` from now on; an Updated event
        (TariffChanged) says so once the answer has gone (``announce_now``; else the next event)."""
        tx = evse.tx
        assert tx is not None
        evse.advance(trio.current_time(), self.dialect.station.speed)
        now = self.dialect.station.clock()
        cost = self.transactions.get(tx.id)
        if cost is None:
            cost = self.transactions[tx.id] = _TransactionCost(CostMeter(tariff, now, self.usage(evse)))
            self._arm_running_cost(evse)
        else:
            cost.meter.change(tariff, now, self.usage(evse))
            cost.announce = True
        if not announce_now:
            return  # (the next event names it: I08.FR.22)
        transaction_id = tx.id

        def announce() -> None:
            if evse.tx is not None and evse.tx.id == transaction_id:
                self.dialect.meter_event(evse, cast(Any, TriggerReason.TARIFF_CHANGED),
                                         cast(Any, ReadingContext.SAMPLE_PERIODIC), _REGISTER)

        self.dialect.station.defer(announce)

    def now(self) -> datetime.datetime:
        """The station's clock."""
        return self.dialect.station.clock()
