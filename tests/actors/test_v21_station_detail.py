"""The control API's ``station`` detail of a simulated OCPP 2.1 station shows what its profile
switches on: a discharging transaction (negative power) and the EVSE's export register (V2X),
the transaction's cost (running, then final: local cost) and the DER controls it holds (ids,
types, in force or not); a 2.1 station without those features and a 2.0.1 station show none
of them. Real stations, fleet's CSMS and a real control server over websockets on 127.0.0.1;
every frame the 2.1 station sent validated against the official 2.1 schemas."""

from __future__ import annotations

import datetime
from pathlib import Path

import trio
from test_v21 import SPEED, check_2_1_frames, profile, sent_frames
from test_v21_v2x import tx_profile, v2x_profile
from waiting import wait_until

from fleet.actors.csms import open_csms
from fleet.actors.station import Station
from fleet.control import LocalBackend, open_trio_client, serve_control
from fleet.net.ocpp_log import OcppLog
from fleet.ocpp import v21
from fleet.profiles import DefaultTariff, DerSpec, LocalCost


def full_profile() -> object:
    """V2X, local cost (a default tariff: 0.40/kWh, 0.5 fixed, 20 % tax) and DER control on."""
    tariff = DefaultTariff(id="T-DETAIL", currency="EUR", price_kwh=0.4, fixed_fee=0.5, tax=20.0)
    return v2x_profile(name="full21", der=DerSpec(enabled=True),
                       local_cost=LocalCost(enabled=True, running_cost_interval=30, default_tariff=tariff))


async def test_the_detail_of_a_2_1_station_shows_discharging_cost_and_der_controls(tmp_path: Path) -> None:
    log_path = tmp_path / "v21.jsonl"
    with OcppLog(log_path, flush_every=1) as log:
        async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
            stations = {
                "FULL": Station("FULL", csms.url, profile=full_profile(), speed=SPEED, protocol_speed=SPEED,
                                ocpp_log=log),
                "PLAIN": Station("PLAIN", csms.url, profile=profile(name="plain21"), speed=SPEED),
                "OLD": Station("OLD", csms.url, profile=profile("2.0.1", name="p201"), speed=SPEED),
            }
            for station in stations.values():
                await nursery.start(station.run)
            await wait_until(lambda: all(s.snapshot().state == "available" for s in stations.values()), timeout=10)
            server = await nursery.start(serve_control, LocalBackend(stations, csms))
            async with open_trio_client(server.url) as client:
                # what the profile does not switch on is absent, not empty
                for station_id in ("PLAIN", "OLD"):
                    detail = await client.request("station", station_id=station_id)
                    assert detail.der_controls is None, station_id
                    assert [(e.export_wh, e.cost) for e in detail.evses] == [(None, None)], station_id
                detail = await client.request("station", station_id="FULL")
                assert detail.ocpp_version == "2.1" and detail.der_controls == []
                assert [(e.export_wh, e.cost) for e in detail.evses] == [(0.0, None)]

                # DER controls: a default one in force, a scheduled one not started yet
                assert (await csms.call("FULL", v21.SetDERControlRequest(
                    is_default=True, control_id="lmd-default", control_type=v21.DERControl.LIMIT_MAX_DISCHARGE,
                    limit_max_discharge=v21.LimitMaxDischarge(priority=1, pct_max_discharge_power=80.0)))).status \
                    == "Accepted"
                later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
                assert (await csms.call("FULL", v21.SetDERControlRequest(
                    is_default=False, control_id="droop-later", control_type=v21.DERControl.FREQ_DROOP,
                    freq_droop=v21.FreqDroop(priority=2, over_freq=50.2, under_freq=49.8, over_droop=5.0,
                                             under_droop=5.0, response_time=1.0, start_time=later,
                                             duration=600.0)))).status == "Accepted"
                detail = await client.request("station", station_id="FULL")
                assert [(c.id, c.type, c.active, c.is_default, c.superseded) for c in detail.der_controls] == [
                    ("lmd-default", "LimitMaxDischarge", True, True, False),
                    ("droop-later", "FreqDroop", False, False, False),
                ]

                # a transaction with the default tariff: its running cost from the Started event on
                await client.request("plug", station_id="FULL", evse_id=1)
                await client.request("start_transaction", station_id="FULL", evse_id=1, id_token="V2X-TOKEN")
                with trio.fail_after(10):
                    snapshot = await stations["FULL"].wait_until(lambda s: s.evses[0].power_w > 0)
                tx_id = snapshot.evses[0].transaction_id
                assert tx_id is not None
                detail = await client.request("station", station_id="FULL")
                [evse] = detail.evses
                assert evse.transaction is not None and evse.transaction.id == tx_id
                assert evse.cost is not None and (evse.cost.transaction_id, evse.cost.final) == (tx_id, False)
                assert (evse.cost.currency, evse.cost.tariff_id, evse.cost.type_of_cost) == (
                    "EUR", "T-DETAIL", "NormalCost")
                assert evse.cost.excl_tax is not None and evse.cost.excl_tax >= 0.5  # the fixed fee at least

                # discharging to a central setpoint: negative power, the export register grows
                assert (await csms.call("FULL", tx_profile(tx_id, v21.ChargingSchedulePeriod(
                    start_period=0, operation_mode=v21.OperationMode.CENTRAL_SETPOINT, setpoint=-8000.0,
                    discharge_limit=-9000.0, limit=11000.0)))).status == "Accepted"
                with trio.fail_after(10):
                    await stations["FULL"].wait_until(lambda s: s.evses[0].export_wh > 100.0)
                detail = await client.request("station", station_id="FULL")
                [evse] = detail.evses
                assert evse.transaction is not None and evse.transaction.power_w == -8000.0
                assert evse.export_wh is not None and evse.export_wh > 100.0

                # the end: the final cost, the same the CSMS received with the Ended event
                await client.request("stop_transaction", station_id="FULL", evse_id=1)

                def final_at_csms() -> object:
                    record = csms.station("FULL")
                    tx = record.transactions.get(tx_id) if record is not None else None
                    return tx.final_cost if tx is not None else None

                final = await wait_until(final_at_csms, timeout=10, what="the final cost at the CSMS")
                detail = await client.request("station", station_id="FULL")
                [evse] = detail.evses
                assert evse.transaction is None
                assert evse.cost is not None and (evse.cost.transaction_id, evse.cost.final) == (tx_id, True)
                assert (evse.cost.excl_tax, evse.cost.incl_tax) == (final.total_excl_tax, final.total_incl_tax)
                assert evse.cost.incl_tax is not None and evse.cost.excl_tax is not None
                assert evse.cost.incl_tax > evse.cost.excl_tax  # (20 % tax)
                assert evse.export_wh is not None and evse.export_wh > 100.0  # (the register stays)

            # the CSMS's view of the station (a control server with no simulated stations): the
            # exported energy and the final cost it recorded
            csms_side = await nursery.start(serve_control, LocalBackend({}, csms))
            async with open_trio_client(csms_side.url) as client:
                seen = await client.request("station", station_id="FULL")
                record = csms.station("FULL")
                assert record is not None
                [evse] = [e for e in seen.evses if e.id == 1]
                assert evse.export_wh == record.transactions[tx_id].export_wh and evse.export_wh > 100.0
                assert evse.cost is not None and (evse.cost.transaction_id, evse.cost.final) == (tx_id, True)
                assert (evse.cost.excl_tax, evse.cost.incl_tax) == (final.total_excl_tax, final.total_incl_tax)
                plain = await client.request("station", station_id="PLAIN")
                assert [(e.export_wh, e.cost) for e in plain.evses] == [(None, None)]
            for station in stations.values():
                await station.shutdown()
            nursery.cancel_scope.cancel()
    assert check_2_1_frames(sent_frames(log_path), {}) == []
