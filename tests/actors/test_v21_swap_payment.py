"""OCPP 2.1 battery swapping (S02, S03) and ad hoc web payment with its settlement (C25, C24),
each switched on by the profile (``[battery_swap]``, ``[web_payment]``): a 2.1 station against
fleet's CSMS over real websockets on 127.0.0.1, every frame it sent validated against the
official 2.1 schemas, what the CSMS received checked in its records."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import trio
from test_v21 import SPEED, check_2_1_frames, profile, sent_frames
from test_v21_v2x import v2x_profile
from waiting import wait_until

from fleet.actors.csms import open_csms
from fleet.actors.station import load_profile, open_station
from fleet.malformed import random_request
from fleet.net.ocpp_log import OcppLog
from fleet.ocpp import V21, v21
from fleet.profiles import BatterySwap, DefaultTariff, LocalCost, ProfileError, WebPayment


def test_battery_swap_and_web_payment_need_a_version_that_simulates_them(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('ocpp_version = "2.0.1"\n\n[battery_swap]\nenabled = true\n')
    with pytest.raises(ProfileError, match=r"`\$\.battery_swap\.enabled`: .*battery_swap \(2\.1\), got 2\.0\.1"):
        load_profile(path)
    path.write_text('ocpp_version = "1.6"\n\n[web_payment]\nenabled = true\n')
    with pytest.raises(ProfileError, match=r"`\$\.web_payment\.enabled`: .*web_payment \(2\.1\), got 1\.6"):
        load_profile(path)
    path.write_text('ocpp_version = "2.1"\n\n[battery_swap]\nenabled = true\nbatteries = -1\n')
    with pytest.raises(ProfileError, match=r"batteries"):
        load_profile(path)
    path.write_text('ocpp_version = "2.1"\n\n[web_payment]\nenabled = true\nvat_number = "NL123"\n'
                    '[battery_swap]\nenabled = true\nbatteries = 2\n')
    loaded = load_profile(path)
    assert loaded.features() == {"battery_swap": "$.battery_swap.enabled", "web_payment": "$.web_payment.enabled"}
    assert loaded.web_payment == WebPayment(enabled=True, vat_number="NL123")


async def test_a_requested_battery_swap_is_accepted_and_followed_by_battery_in_and_out(tmp_path: Path) -> None:
    log_path = tmp_path / "swap.jsonl"
    driver = v21.IdToken(id_token="APP-DRIVER-7", type="Central")
    with OcppLog(log_path, flush_every=1) as log:
        async with open_csms(port=0) as csms, open_station(
            "SWAP-1", csms.url, profile=profile(battery_swap=BatterySwap(enabled=True, batteries=1, swap_time=60.0)),
            speed=SPEED, protocol_speed=SPEED, ocpp_log=log,
        ) as station, open_station("NOSWAP", csms.url, profile=profile(), speed=SPEED) as plain:
            with trio.fail_after(10):
                await station.wait_until(lambda s: s.state == "available")
                await plain.wait_until(lambda s: s.state == "available")
            accepted = await csms.call("SWAP-1", v21.RequestBatterySwapRequest(request_id=7, id_token=driver))
            assert accepted.status == "Accepted"  # S02.FR.01

            def swaps() -> Any:
                record = csms.station("SWAP-1")
                return record.battery_swaps if record is not None and len(record.battery_swaps) >= 2 else None

            events = await wait_until(swaps, timeout=10, what="BatteryIn and BatteryOut at the CSMS")
            assert [(e.event_type, e.request_id, e.id_token) for e in events] == [
                ("BatteryIn", 7, "APP-DRIVER-7"), ("BatteryOut", 7, "APP-DRIVER-7")]  # S02.FR.02, S03.FR.01/03
            [(slot_in, serial_in, soc_in, _)] = events[0].batteries
            [(slot_out, serial_out, soc_out, _)] = events[1].batteries
            assert slot_in == slot_out == 1 and serial_in != serial_out and soc_out > soc_in
            # the stock is empty now: S02.FR.04
            empty = await csms.call("SWAP-1", v21.RequestBatterySwapRequest(request_id=8, id_token=driver))
            assert empty.status == "Rejected" and empty.status_info.reason_code == "NoBatteryAvailable"
            # a 2.1 station whose profile does not switch it on refuses
            refused = await csms.call("NOSWAP", v21.RequestBatterySwapRequest(request_id=9, id_token=driver))
            assert refused.status == "Rejected"
            record = csms.station("SWAP-1")
            assert record is not None and len(record.battery_swaps) == 2  # (none for the refused ones)
    assert check_2_1_frames(sent_frames(log_path), {}) == []


async def test_a_web_payment_is_followed_by_a_paid_transaction_and_its_settlement(tmp_path: Path) -> None:
    log_path = tmp_path / "pay.jsonl"
    tariff = DefaultTariff(id="ADHOC", currency="EUR", price_kwh=0.5, fixed_fee=1.0, tax=21.0)
    settings = {
        "web_payment": WebPayment(enabled=True, vat_number="NL123456789B01"),
        "local_cost": LocalCost(enabled=True, running_cost_interval=0, default_tariff=tariff),
    }
    company = v21.Address(name="Fleet BV", address1="Kade 1", city="Arnhem", country="NL")
    validations: list[v21.VatNumberValidationRequest] = []

    def validate(request: v21.VatNumberValidationRequest, ctx: Any) -> v21.VatNumberValidationResponse:
        validations.append(request)
        return v21.VatNumberValidationResponse(vat_number=request.vat_number, status=v21.GenericStatus.ACCEPTED,
                                               company=company, evse_id=request.evse_id)

    with OcppLog(log_path, flush_every=1) as log:
        async with open_csms(port=0) as csms, open_station(
            "PAY-1", csms.url, profile=profile(**settings), speed=SPEED, protocol_speed=SPEED, ocpp_log=log,
        ) as station:
            csms.on("VatNumberValidation", validate, version="2.1")
            with trio.fail_after(10):
                await station.wait_until(lambda s: s.state == "available")
            started = await csms.call("PAY-1", v21.NotifyWebPaymentStartedRequest(evse_id=1, timeout=120))
            assert started == v21.NotifyWebPaymentStartedResponse()  # C25.FR.27
            with trio.fail_after(10):  # the driver who paid plugs in
                await station.wait_until(lambda s: s.evses[0].plugged is not None)
            remote = await csms.call("PAY-1", v21.RequestStartTransactionRequest(
                id_token=v21.IdToken(id_token="PSP-REF-0001", type="DirectPayment"), remote_start_id=11, evse_id=1))
            assert remote.status == "Accepted"  # C25.FR.23
            with trio.fail_after(10):
                snapshot = await station.wait_until(lambda s: s.evses[0].charging_state == "Charging")
            tx_id = snapshot.evses[0].transaction_id
            assert tx_id is not None
            await wait_until(lambda: validations, timeout=10, what="VatNumberValidation at the CSMS")
            assert (validations[0].vat_number, validations[0].evse_id) == ("NL123456789B01", 1)
            payments = station.dialect.web_payment
            assert payments is not None  # (the station took the CSMS's answer before the driver stops)
            await wait_until(lambda: tx_id in payments.vat, timeout=10, what="the VAT check's answer")
            await station.stop_transaction(1)

            def settled() -> Any:
                record = csms.station("PAY-1")
                return record.settlements if record is not None and record.settlements else None

            [settlement] = await wait_until(settled, timeout=10, what="NotifySettlement at the CSMS")
            record = csms.station("PAY-1")
            assert record is not None
            final = record.transactions[tx_id].final_cost
            assert final is not None and final.total_incl_tax is not None
            assert (settlement.psp_ref, settlement.status, settlement.transaction_id) == (
                "PSP-REF-0001", "Settled", tx_id)
            assert settlement.amount == final.total_incl_tax and settlement.amount >= 1.21  # the fee at least
            assert settlement.vat_number == "NL123456789B01"  # accepted by the CSMS
            assert record.transactions[tx_id].id_token == "PSP-REF-0001"
            # the settlement comes after the transaction's Ended event
            order = [f[2] for f in sent_frames(log_path) if f[0] == 2 and f[2] in ("TransactionEvent", "NotifySettlement")]
            assert order[-1] == "NotifySettlement" and order.count("NotifySettlement") == 1
    frames = sent_frames(log_path)
    assert check_2_1_frames(frames, {}) == []
    [settlement_frame] = [f for f in frames if f[0] == 2 and f[2] == "NotifySettlement"]
    assert settlement_frame[3]["vatCompany"]["name"] == "Fleet BV"


async def test_a_2_1_station_without_web_payment_answers_and_does_nothing_more() -> None:
    async with open_csms(port=0) as csms, open_station("NOPAY", csms.url, profile=profile(), speed=SPEED) as station:
        with trio.fail_after(10):
            await station.wait_until(lambda s: s.state == "available")
        answer = await csms.call("NOPAY", v21.NotifyWebPaymentStartedRequest(evse_id=1, timeout=60))
        assert answer == v21.NotifyWebPaymentStartedResponse()
        # (the CSMS's own default answer to a VAT check: Rejected, echoing the EVSE: C18.FR.10)
        checked = await station.call(v21.VatNumberValidationRequest(vat_number="XX1", evse_id=1))
        assert checked.status == "Rejected" and checked.evse_id == 1 and checked.vat_number == "XX1"
        assert station.snapshot().evses[0].plugged is None


async def test_random_valid_swap_payment_and_afrr_requests_never_break_a_station(tmp_path: Path) -> None:
    """Handler fuzz of RequestBatterySwap, NotifyWebPaymentStarted and AFRRSignal on a station with
    battery swap, web payment and V2X on, charging: every answer a valid 2.1 CALLRESULT (never a
    CALLERROR), every frame the station sent valid, the station still up."""
    rng = random.Random(2113)
    log_path = tmp_path / "fuzz.jsonl"
    settings = {"battery_swap": BatterySwap(enabled=True, batteries=5, swap_time=1.0),
                "web_payment": WebPayment(enabled=True, vat_number="NL1")}
    with OcppLog(log_path, flush_every=1) as log:
        async with open_csms(port=0) as csms, open_station(
            "FUZZ-21", csms.url, profile=v2x_profile(**settings), speed=SPEED, protocol_speed=SPEED, ocpp_log=log,
        ) as station:
            with trio.fail_after(10):
                await station.wait_until(lambda s: s.state == "available")
            await station.plug(1)
            await station.start_transaction(1, "FUZZ-TOKEN")
            with trio.fail_after(10):
                await station.wait_until(lambda s: s.evses[0].transaction_id is not None)
            answered = 0
            for action in ("RequestBatterySwap", "NotifyWebPaymentStarted", "AFRRSignal"):
                for _ in range(20):
                    await csms.call("FUZZ-21", random_request(V21, action, rng, optional=0.5), action=action,
                                    timeout=5)
                    answered += 1
            assert answered == 60

            def swapped() -> Any:
                record = csms.station("FUZZ-21")
                return record is not None and len(record.battery_swaps) == 10  # 5 batteries: 5 in, 5 out

            await wait_until(swapped, timeout=10, what="the five swaps' events")
            snapshot = station.snapshot()
            assert snapshot.connected and snapshot.counters.disconnects == 0 and snapshot.counters.calls_failed == 0
    received = [json.loads(line["frame"]) for line in map(json.loads, log_path.read_text().splitlines())
                if line["direction"] == "in"]
    calls = {f[1]: f[2] for f in received if f[0] == 2}  # the CSMS's CALLs: their answers checked too
    assert sum(1 for action in calls.values() if action in ("RequestBatterySwap", "AFRRSignal")) == 40
    assert check_2_1_frames(sent_frames(log_path), calls) == []
