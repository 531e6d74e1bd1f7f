"""OCPP 2.1 tariffs and local cost (use cases I07-I12): a 2.1 station whose profile switches
local cost on, against fleet's CSMS over real websockets on 127.0.0.1.

The final cost the CSMS records is checked against a cost computed here, independently,
from what the CSMS recorded of the transaction: the energy register of its Started and
Ended events and its ``timeSpentCharging``, at the tariff's prices, in Decimal.
"""

from __future__ import annotations

import datetime
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
from station_helpers import minimal
from test_v21 import check_2_1_frames, sent_frames
from waiting import wait_until

from fleet.actors.csms import open_csms
from fleet.actors.csms.records import StationRecord, TransactionRecord
from fleet.actors.station import load_profile, open_station
from fleet.actors.station.v21.cost import CostMeter, Usage, with_tax
from fleet.actors.station.v21.local_cost import tariff_of
from fleet.actors.station.v21.tariffs import TariffStore, refusal
from fleet.net.ocpp_log import OcppLog
from fleet.ocpp import V21, RemoteCallError, v21
from fleet.profiles import (
    DefaultTariff,
    EventStreams,
    EvseProfile,
    LocalCost,
    PeriodicEventStream,
    ProfileError,
    RetryBackoff,
    SampledData,
    Security,
    SessionGenerator,
    StationProfile,
    VehicleProfile,
)

SPEED = 100.0
CENT = Decimal("0.0001")


def cost_profile(**changes: Any) -> StationProfile:
    """A 2.1 station with local cost on (running cost every 30 s), no generator, a 3 kWh EV."""
    fields: dict[str, Any] = {
        "ocpp_version": "2.1",
        "sessions": SessionGenerator(enabled=False, energy_demand=3000.0),
        "retry_backoff": RetryBackoff(wait_minimum=1, repeat_times=2, random_range=0),
        "ping_interval": 0,
        "sampled_data": SampledData(tx_updated_interval=60),
        "security": Security(profile=0, password=None),
        "vehicle": VehicleProfile(battery_capacity=60000.0, max_power=11000.0, initial_soc=20.0),
        "local_cost": LocalCost(enabled=True, running_cost_interval=30, max_elements=2),
    }
    fields.update(changes)
    return StationProfile(**fields)


def vat(percent: float) -> list[v21.TaxRate]:
    return [v21.TaxRate(type="vat", tax=percent)]


def tariff(tariff_id: str, *, currency: str = "EUR", price_kwh: float = 0.3, price_minute: float = 0.05,
           fixed: float | None = 0.5, **extra: Any) -> v21.Tariff:
    """An energy + charging time (+ fixed fee) tariff with 21 % VAT."""
    fields: dict[str, Any] = {
        "energy": v21.TariffEnergy(prices=[v21.TariffEnergyPrice(price_kwh=price_kwh)], tax_rates=vat(21.0)),
        "charging_time": v21.TariffTime(prices=[v21.TariffTimePrice(price_minute=price_minute)], tax_rates=vat(21.0)),
    }
    if fixed is not None:
        fields["fixed_fee"] = v21.TariffFixed(prices=[v21.TariffFixedPrice(price_fixed=fixed)], tax_rates=vat(21.0))
    fields.update(extra)
    return v21.Tariff(tariff_id=tariff_id, currency=currency, **fields)


def rounded(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def expected_total(energy_wh: Decimal, charging_s: int, *, price_kwh: str, price_minute: str,
                   fixed: str, vat_percent: str) -> tuple[Decimal, Decimal]:
    """The total (excluding, including tax) of one period of an energy + time + fixed tariff,
    computed here from the spec's rules (each component rounded to 4 places, half up)."""
    factor = 1 + Decimal(vat_percent) / 100
    parts = [
        energy_wh / 1000 * Decimal(price_kwh),
        Decimal(charging_s) / 60 * Decimal(price_minute),
        Decimal(fixed),
    ]
    return sum((rounded(p) for p in parts), Decimal(0)), sum((rounded(p * factor) for p in parts), Decimal(0))


def exact(value: float | None) -> Decimal:
    assert value is not None
    return Decimal(repr(value))


async def record_of(csms: Any, station_id: str) -> StationRecord:
    record = csms.station(station_id)
    assert record is not None
    return record


async def ended_transaction(csms: Any, station_id: str) -> TransactionRecord:
    async def ended() -> TransactionRecord | None:
        record = csms.station(station_id)
        if record is None:
            return None
        return next((t for t in record.transactions.values() if t.final_cost is not None), None)

    found: TransactionRecord = await wait_until(ended, timeout=20, what="the final cost at the CSMS")
    return found


async def charge(station: Any, evse_id: int = 1, token: str = "TOKEN-21") -> None:
    await station.plug(evse_id)
    await station.start_transaction(evse_id, token)
    await station.wait_until(lambda s: s.evses[evse_id - 1].charging_state == "Charging")


# ------------------------------------------------------------------ without sockets


def test_the_cost_of_the_spec_s_simple_kwh_tariff_is_its_example() -> None:
    """I12 (1.3): tariff 10, $0.25/kWh with 6 % and 4 % tax, 10 kWh: 2.50 excl., 2.75 incl."""
    simple = v21.Tariff(tariff_id="10", currency="USD", energy=v21.TariffEnergy(
        prices=[v21.TariffEnergyPrice(price_kwh=0.25)],
        tax_rates=[v21.TaxRate(type="federal", tax=6.0), v21.TaxRate(type="state", tax=4.0)]))
    at = datetime.datetime(2023, 4, 5, 14, 1, 2, tzinfo=datetime.UTC)
    details = CostMeter(simple, at, Usage(Decimal("500.0"), 0, 0)).details(Usage(Decimal("10500.0"), 60, 0), final=True)
    assert details.total_cost.total == v21.TotalPrice(excl_tax=2.5, incl_tax=2.75)
    assert details.total_usage.energy == 10000.0 and details.total_cost.type_of_cost == "NormalCost"
    assert [p.tariff_id for p in details.charging_periods] == ["10"]
    # tax stacks (I12.FR.13): stack 1 applies to the result of stack 0
    stacked = [v21.TaxRate(type="energy", tax=10.0, stack=0), v21.TaxRate(type="vat", tax=20.0, stack=1)]
    assert with_tax(Decimal("1.00"), stacked) == Decimal("1.32")
    # min and max cost replace the total (I12.FR.38-39)
    bounded = msgspec.structs.replace(simple, min_cost=v21.Price(excl_tax=5.0), max_cost=v21.Price(excl_tax=8.0))
    meter = CostMeter(bounded, at, Usage(Decimal(0), 0, 0))
    assert meter.details(Usage(Decimal("1000.0"), 0, 0), final=True).total_cost.type_of_cost == "MinCost"
    assert meter.details(Usage(Decimal("1000.0"), 0, 0), final=False).total_cost.type_of_cost == "NormalCost"
    top = meter.details(Usage(Decimal("40000.0"), 0, 0), final=False).total_cost
    assert top.type_of_cost == "MaxCost" and top.total.excl_tax == 8.0


def test_a_tariff_store_keeps_one_tariff_in_force_per_evse() -> None:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    store = TariffStore([1, 2])
    store.install(0, tariff("A"))
    store.install(2, tariff("B"))
    store.install(1, tariff("C", valid_from=now + datetime.timedelta(hours=1)))
    assert store.current(1, now).tariff_id == "A"  # C is not valid yet (I07.FR.19)
    assert store.current(2, now).tariff_id == "B"  # installed later, replaces A (I07.FR.22)
    assert store.current(1, now + datetime.timedelta(hours=2)).tariff_id == "C"  # (I07.FR.20)
    assert [(t.tariff_id, e) for t, e in store.assignments(0)] == [("C", [1]), ("B", [2])]  # (A is replaced)
    assert store.clear(None, 2) == ["B"] and store.current(2, now) is None
    assert store.clear(["C"], None) == ["C"] and store.current(1, now) is None
    assert refusal(tariff("X"), 1) is None
    many = tariff("M", energy=v21.TariffEnergy(prices=[v21.TariffEnergyPrice(price_kwh=p) for p in (0.1, 0.2)]))
    assert refusal(many, 1) == "TooManyElements"
    conditional = tariff("K", energy=v21.TariffEnergy(prices=[v21.TariffEnergyPrice(
        price_kwh=0.1, conditions=v21.TariffConditions(start_time_of_day="08:00"))]))
    assert refusal(conditional, 5) == "ConditionNotSupported"


def test_a_profile_switches_local_cost_on_only_with_2_1(tmp_path: Path) -> None:
    path = tmp_path / "cost.toml"
    path.write_text('ocpp_version = "2.0.1"\n\n[local_cost]\nenabled = true\n')
    with pytest.raises(ProfileError, match=r"cost\.toml:4: `\$\.local_cost\.enabled`: .*simulates local_cost \(2\.1\)"):
        load_profile(path)
    path.write_text('ocpp_version = ["2.1", "2.0.1"]\n\n[local_cost]\nenabled = true\n')
    assert load_profile(path).local_cost.enabled
    assert StationProfile(local_cost=LocalCost(enabled=True)).features() == {"local_cost": "$.local_cost.enabled"}
    made = tariff_of(DefaultTariff(id="D", price_kwh=0.3, fixed_fee=1.0, tax=21.0))
    assert made.energy.prices[0].price_kwh == 0.3 and made.fixed_fee.prices[0].price_fixed == 1.0
    assert made.charging_time is msgspec.UNSET and made.energy.tax_rates[0].tax == 21.0


# ------------------------------------------------------------------ over websockets


async def test_the_final_cost_the_csms_receives_is_the_tariff_applied_to_the_energy_and_time(tmp_path: Path) -> None:
    log_path = tmp_path / "station.jsonl"
    with OcppLog(log_path, flush_every=1) as log:
        async with open_csms(port=0) as csms, open_station(
            "COST-1", csms.url, profile=cost_profile(), speed=SPEED, protocol_speed=SPEED, ocpp_log=log,
        ) as station:
            await station.wait_until(lambda s: s.state == "available")
            answer = await csms.call("COST-1", v21.SetDefaultTariffRequest(evse_id=0, tariff=tariff("T1")))
            assert answer.status == "Accepted"
            assert (await record_of(csms, "COST-1")).tariffs[0].tariff_id == "T1"  # the CSMS keeps what it set
            await charge(station)
            with trio.fail_after(20):
                await station.wait_until(lambda s: s.evses[0].charging_state == "SuspendedEV")
            await station.stop_transaction(1)
            await station.unplug(1)
            transaction = await ended_transaction(csms, "COST-1")
    events = transaction.events
    started = next(e for e in events if e.event_type == "Started")
    ended = next(e for e in events if e.event_type == "Ended")
    energy = exact(ended.energy_wh) - exact(started.energy_wh)
    assert energy > 2900  # the EV took its 3 kWh
    charging_s = transaction.time_spent_charging
    assert charging_s is not None and charging_s > 0
    excl, incl = expected_total(energy, charging_s, price_kwh="0.3", price_minute="0.05", fixed="0.5",
                                vat_percent="21")
    final = transaction.final_cost
    assert final is not None and final.event_type == "Ended" and final.currency == "EUR"
    assert (exact(final.total_excl_tax), exact(final.total_incl_tax)) == (excl, incl)
    assert Decimal(repr(final.energy_wh)) == energy and final.charging_time == charging_s
    assert final.tariff_ids == ("T1",) and transaction.tariff_id == "T1" and final.type_of_cost == "NormalCost"
    # running cost: in Started and in the RunningCost updates, without charging periods
    assert any(e.trigger_reason == "RunningCost" for e in events)
    running = transaction.running_cost
    assert running is not None and running.event_type == "Updated" and running.tariff_ids == ()
    assert exact(running.total_excl_tax) <= excl
    frames = sent_frames(log_path)
    assert check_2_1_frames(frames, {}) == []  # costDetails valid per the official schemas
    costs = [f[3]["costDetails"] for f in frames if f[0] == 2 and f[2] == "TransactionEvent" and "costDetails" in f[3]]
    assert "chargingPeriods" in costs[-1] and all("chargingPeriods" not in c for c in costs[:-1])


async def test_the_shipped_2_1_wallbox_charges_its_default_tariff() -> None:
    shipped = load_profile(Path(__file__).parents[2] / "profiles" / "home-wallbox-21.toml")
    assert shipped.local_cost.enabled and shipped.local_cost.default_tariff is not None
    profile = msgspec.structs.replace(
        shipped, ocpp_version="2.1", sessions=SessionGenerator(enabled=False, energy_demand=800.0),
        security=Security(profile=0, password=None), ping_interval=0,
    )
    async with open_csms(port=0) as csms, open_station(
        "COST-H", csms.url, profile=profile, speed=SPEED, protocol_speed=SPEED,
    ) as station:
        await station.wait_until(lambda s: s.state == "available")
        await charge(station)
        with trio.fail_after(20):
            await station.wait_until(lambda s: s.evses[0].charging_state == "SuspendedEV")
        await station.stop_transaction(1)
        transaction = await ended_transaction(csms, "COST-H")
    started = next(e for e in transaction.events if e.event_type == "Started")
    energy = exact(transaction.energy_wh) - exact(started.energy_wh)
    excl = rounded(energy / 1000 * Decimal("0.32"))
    final = transaction.final_cost
    assert final is not None and final.tariff_ids == ("HOME-2025",)
    assert (exact(final.total_excl_tax), exact(final.total_incl_tax)) == (excl, rounded(energy / 1000 * Decimal("0.32")
                                                                                       * Decimal("1.21")))


async def test_get_clear_and_change_transaction_tariff(tmp_path: Path) -> None:
    profile = cost_profile(evses=[EvseProfile(), EvseProfile()], local_cost=LocalCost(enabled=True,
                           running_cost_interval=0, max_elements=2))
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    async with open_csms(port=0) as csms, open_station(
        "COST-2", csms.url, profile=profile, speed=SPEED, protocol_speed=SPEED,
    ) as station:
        await station.wait_until(lambda s: s.state == "available")

        async def set_default(evse_id: int, which: v21.Tariff) -> str:
            answer = await csms.call("COST-2", v21.SetDefaultTariffRequest(evse_id=evse_id, tariff=which))
            return str(answer.status) + (f" {answer.status_info.reason_code}" if answer.status_info else "")

        assert (await csms.call("COST-2", v21.GetTariffsRequest(evse_id=0))).status == "NoTariff"
        assert await set_default(0, tariff("T1")) == "Accepted"
        assert await set_default(0, tariff("T1")) == "DuplicateTariffId"
        assert await set_default(3, tariff("T9")) == "Rejected UnknownEVSE"
        three = v21.TariffEnergy(prices=[v21.TariffEnergyPrice(price_kwh=p) for p in (0.1, 0.2, 0.3)])
        assert await set_default(1, tariff("T8", energy=three)) == "TooManyElements"
        conditional = v21.TariffEnergy(prices=[v21.TariffEnergyPrice(
            price_kwh=0.1, conditions=v21.TariffConditions(min_power=11000.0))])
        assert await set_default(1, tariff("T7", energy=conditional)) == "ConditionNotSupported"
        assert await set_default(2, tariff("T2", valid_from=later)) == "Accepted"
        got = await csms.call("COST-2", v21.GetTariffsRequest(evse_id=0))
        assert got.status == "Accepted"
        assert {(a.tariff_id, a.tariff_kind, tuple(a.evse_ids)) for a in got.tariff_assignments} == {
            ("T1", "DefaultTariff", (1, 2)), ("T2", "DefaultTariff", (2,))}
        assert next(a for a in got.tariff_assignments if a.tariff_id == "T2").valid_from == later
        only_1 = await csms.call("COST-2", v21.GetTariffsRequest(evse_id=1))
        assert [a.tariff_id for a in only_1.tariff_assignments] == ["T1"]

        await charge(station, 1, "DRIVER-1")
        record = await wait_until(lambda: next(iter(csms.station("COST-2").transactions.values()), None),
                                  what="the transaction at the CSMS")
        tx_id = record.transaction_id
        assert record.tariff_id == "T1"  # the default tariff in force named in its Started event

        async def change(transaction_id: str, which: v21.Tariff) -> str:
            answer = await csms.call("COST-2", v21.ChangeTransactionTariffRequest(
                transaction_id=transaction_id, tariff=which))
            return str(answer.status)

        assert await change("no-such-transaction", tariff("T3")) == "TxNotFound"
        assert await change(tx_id, tariff("T3", currency="USD")) == "NoCurrencyChange"
        assert await change(tx_id, tariff("T3", energy=three)) == "TooManyElements"
        assert await change(tx_id, tariff("T3", price_kwh=0.6)) == "Accepted"
        changed = await wait_until(lambda: next((e for e in csms.station("COST-2").transactions[tx_id].events
                                                 if e.trigger_reason == "TariffChanged"), None),
                                   what="the TariffChanged event")
        assert changed.event_type == "Updated" and csms.station("COST-2").transactions[tx_id].tariff_id == "T3"
        driver = await csms.call("COST-2", v21.GetTariffsRequest(evse_id=1))
        assert {(a.tariff_id, a.tariff_kind) for a in driver.tariff_assignments} == {
            ("T1", "DefaultTariff"), ("T3", "DriverTariff")}
        t3 = next(a for a in driver.tariff_assignments if a.tariff_id == "T3")
        assert t3.evse_ids == [1] and t3.id_tokens == ["DRIVER-1"]

        cleared = await csms.call("COST-2", v21.ClearTariffsRequest(tariff_ids=["T1"]))
        assert [(r.status, r.tariff_id) for r in cleared.clear_tariffs_result] == [("Accepted", "T1")]
        assert set((await record_of(csms, "COST-2")).tariffs) == {2}  # the CSMS forgot T1, keeps T2
        again = await csms.call("COST-2", v21.ClearTariffsRequest(tariff_ids=["T1"]))
        assert [r.status for r in again.clear_tariffs_result] == ["NoTariff"]
        by_evse = await csms.call("COST-2", v21.ClearTariffsRequest(evse_id=2))
        assert [(r.status, r.tariff_id) for r in by_evse.clear_tariffs_result] == [("Accepted", "T2")]

        # the running transaction keeps its tariffs (I10.FR.07); its final cost has a period per tariff
        await station.stop_transaction(1)
        await station.unplug(1)
        transaction = await ended_transaction(csms, "COST-2")
    final = transaction.final_cost
    assert final is not None and final.tariff_ids == ("T1", "T3")
    periods = final.details.charging_periods
    assert periods[0].start_period <= periods[1].start_period
    energy = [next(d.volume for d in p.dimensions if d.type == "Energy") for p in periods]
    assert Decimal(repr(final.energy_wh)) == sum((Decimal(repr(e)) for e in energy), Decimal(0))


async def test_cost_updated_is_kept_on_the_transaction_and_a_station_without_local_cost_refuses_tariffs() -> None:
    plain = cost_profile(local_cost=LocalCost(enabled=False))
    async with open_csms(port=0) as csms, open_station(
        "COST-3", csms.url, profile=plain, speed=SPEED, protocol_speed=SPEED,
    ) as station:
        await station.wait_until(lambda s: s.state == "available")
        assert (await csms.call("COST-3", v21.SetDefaultTariffRequest(evse_id=0, tariff=tariff("T1")))).status == \
            "Rejected"
        await charge(station)
        tx = station.evses[0].tx
        assert tx is not None
        await csms.call("COST-3", v21.CostUpdatedRequest(total_cost=4.25, transaction_id=tx.id))
        assert tx.total_cost == 4.25
        await station.stop_transaction(1)
        await station.unplug(1)
        record = await wait_until(lambda: next((t for t in csms.station("COST-3").transactions.values() if t.ended),
                                               None), what="the ended transaction")
    assert record.final_cost is None and record.tariff_id is None  # no tariff, no cost


async def test_every_csms_initiated_action_gets_a_valid_answer_with_local_cost_and_streams_on(tmp_path: Path) -> None:
    """The switched-on features answer the bare minimum of every request validly, and crash nothing."""
    log_path = tmp_path / "station.jsonl"
    profile = cost_profile(event_streams=EventStreams(enabled=True, streams=[PeriodicEventStream(period=1, interval=2)]))
    outcomes: dict[str, str] = {}
    with OcppLog(log_path, flush_every=1) as log:
        async with open_csms(port=0) as csms, open_station(
            "COST-ALL", csms.url, profile=profile, speed=SPEED, protocol_speed=SPEED, ocpp_log=log,
        ) as station:
            await station.wait_until(lambda s: s.state == "available")
            await charge(station)
            for action in sorted(V21.initiated_by_csms - {"Reset", "UpdateFirmware"}):
                try:
                    answer = await csms.call("COST-ALL", minimal(V21.actions[action][0]))
                except RemoteCallError as exc:
                    outcomes[action] = f"CALLERROR {exc.code}"
                else:
                    assert type(answer) is V21.actions[action][1], action
                    outcomes[action] = "answered"
            assert station.snapshot().connected and station.snapshot().counters.disconnects == 0
            assert "failed" not in (station.snapshot().last_error or ""), station.snapshot().last_error
    assert not any("InternalError" in o for o in outcomes.values()), outcomes
    assert outcomes["SetDefaultTariff"] == outcomes["GetTariffs"] == outcomes["ClearTariffs"] == "answered"
    ins = [json.loads(json.loads(line)["frame"]) for line in log_path.read_text().splitlines()
           if json.loads(line)["direction"] == "in"]
    assert check_2_1_frames(sent_frames(log_path), {f[1]: f[2] for f in ins if f[0] == 2}) == []


async def test_a_driver_tariff_from_the_authorize_answer_is_the_transaction_s_tariff() -> None:
    """I08: the CSMS answers Authorize with the driver's tariff; it takes the place of the default."""
    async with open_csms(port=0) as csms, open_station(
        "COST-D", csms.url, profile=cost_profile(), speed=SPEED, protocol_speed=SPEED,
    ) as station:

        def authorize(request: v21.AuthorizeRequest, ctx: Any) -> v21.AuthorizeResponse:
            return v21.AuthorizeResponse(id_token_info=v21.IdTokenInfo(status=v21.AuthorizationStatus.ACCEPTED),
                                         tariff=tariff("MSP-1", price_kwh=0.45, fixed=None))

        csms.on("Authorize", authorize)
        await station.wait_until(lambda s: s.state == "available")
        assert (await csms.call("COST-D", v21.SetDefaultTariffRequest(evse_id=0, tariff=tariff("T1")))).status == \
            "Accepted"
        await station.start_transaction(1, "DRIVER-9")  # authorized before the cable is in
        listed = await wait_until(lambda: station.evses[0].authorized is not None, what="the driver authorized")
        assert listed
        got = await csms.call("COST-D", v21.GetTariffsRequest(evse_id=0))
        assert {(a.tariff_id, a.tariff_kind, tuple(a.id_tokens or ())) for a in got.tariff_assignments} == {
            ("T1", "DefaultTariff", ()), ("MSP-1", "DriverTariff", ("DRIVER-9",))}
        await station.plug(1)
        await station.wait_until(lambda s: s.evses[0].charging_state == "Charging")
        await station.stop_transaction(1)
        await station.unplug(1)
        transaction = await ended_transaction(csms, "COST-D")
    assert transaction.tariff_id == "MSP-1"
    final = transaction.final_cost
    assert final is not None and final.tariff_ids == ("MSP-1",) and final.details.total_cost.fixed is msgspec.UNSET
