"""The nothing-lost audit and the run's CSMS records for OCPP 1.6 transactions.

A real CSMS (as a fleet run's CSMS process keeps it: :func:`fleet.run.csms_worker.csms_records`,
:class:`~fleet.run.csms_worker.BootAnswers`) serves a bare 1.6 charge point made of fleet's
protocol core (``tests/ocpp16_station.py``) over a real websocket; the station's side of the
audit is written as a 1.6 station reports it (per transaction, named by the ``transactionId`` the
CSMS assigned: ``seq`` 0 for the StartTransaction, then one per MeterValues carrying that id, then
the StopTransaction; ``energy`` its final register, ``meterStop``). The audit then holds 1.6 to
the same rule as 2.0.1: every transaction started once and stopped once, every MeterValues
carrying the id the CSMS assigned, the energy totals equal.
"""

from __future__ import annotations

import datetime
from typing import Any

from ocpp16_station import open_v16_station

from fleet.actors.csms import open_csms
from fleet.net.connection import OcppConnection
from fleet.ocpp import v16
from fleet.run.audit import audit_run
from fleet.run.csms_worker import BootAnswers, csms_records

T0 = datetime.datetime(2025, 1, 1, 12, tzinfo=datetime.UTC)


def at(minute: int) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minute)


async def start(cp: OcppConnection, meter_start: int, minute: int) -> int:
    answer = await cp.call(v16.StartTransactionRequest(connector_id=1, id_tag="TAG-1", meter_start=meter_start,
                                                       timestamp=at(minute)))
    transaction_id: int = answer.transaction_id
    return transaction_id


async def meter(cp: OcppConnection, transaction_id: int, wh: int, minute: int) -> None:
    await cp.call(v16.MeterValuesRequest(connector_id=1, transaction_id=transaction_id, meter_value=[
        v16.MeterValue(timestamp=at(minute), sampled_value=[v16.SampledValue(value=str(wh))])]))


async def stop(cp: OcppConnection, transaction_id: int, meter_stop: int, minute: int) -> None:
    await cp.call(v16.StopTransactionRequest(transaction_id=transaction_id, meter_stop=meter_stop,
                                             timestamp=at(minute)))


async def test_the_audit_holds_1_6_transactions_to_the_nothing_lost_rule() -> None:
    async with open_csms(port=0) as csms:
        boots = BootAnswers(csms)
        csms.set_boot_status("Pending", "CP16")
        async with open_v16_station(csms.url, "CP16") as cp:
            boot = v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
            assert (await cp.call(boot)).status == v16.RegistrationStatus.PENDING
            csms.set_boot_status(None, "CP16")
            assert (await cp.call(boot)).status == v16.RegistrationStatus.ACCEPTED

            good = await start(cp, 1000, 0)  # a clean transaction
            await meter(cp, good, 1500, 1)
            await stop(cp, good, 2000, 2)
            again = await start(cp, 2000, 3)  # its StartTransaction sent twice (the first answer was lost)
            assert await start(cp, 2000, 3) == again
            await stop(cp, again, 2500, 4)
            astray = await start(cp, 2500, 5)  # a MeterValues carrying an id the CSMS never assigned
            await meter(cp, astray + 100, 2600, 6)
            await stop(cp, astray, 2700, 7)
            twice = await start(cp, 2700, 8)  # stopped twice
            await stop(cp, twice, 2800, 9)
            await stop(cp, twice, 2800, 10)
            short = await start(cp, 2800, 11)  # its meterStop does not match the station's register
            await stop(cp, short, 2900, 12)
        assert len({good, again, astray, twice, short}) == 5

    records = csms_records(csms)
    assert boots.records() == {"refused": {"Pending": {"CP16": 1}}, "accepted_later": ["CP16"]}
    recorded = records["transactions"]["CP16"]
    assert recorded[str(good)]["seq"] == [0, 1, 2] and recorded[str(good)]["energy"] == 2000.0
    assert recorded[str(again)]["seq"] == [0, 0, 1]
    assert recorded[str(astray + 100)]["seq"] == [1]

    def sent(**transactions: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"transactions": {"CP16": transactions}}]

    clean = sent(**{str(good): {"seq": [0, 1, 2], "energy": 2000.0},
                    str(again): {"seq": [0, 1], "energy": 2500.0, "resent": [0]}})
    csms_side = [{"transactions": {"CP16": {k: recorded[k] for k in (str(good), str(again))}}}]
    audit = audit_run(clean, csms_side)
    assert audit["ok"] and audit["checked_transactions"] == 2 and audit["retransmissions"] == 1, audit

    # the StartTransaction repeated without the station saying it resent it: a duplicate
    unexplained = sent(**{str(again): {"seq": [0, 1], "energy": 2500.0}})
    audit = audit_run(unexplained, [{"transactions": {"CP16": {str(again): recorded[str(again)]}}}])
    assert not audit["ok"] and audit["duplicated_events"] == 1

    # the whole run: the astray MeterValues is missing from its transaction (and an unexpected one
    # appears), the second stop is an event the station never generated, the energy differs
    everything = sent(**{str(good): {"seq": [0, 1, 2], "energy": 2000.0},
                         str(again): {"seq": [0, 1], "energy": 2500.0, "resent": [0]},
                         str(astray): {"seq": [0, 1, 2], "energy": 2700.0},
                         str(twice): {"seq": [0, 1], "energy": 2800.0},
                         str(short): {"seq": [0, 1], "energy": 3000.0}})
    audit = audit_run(everything, [records])
    assert not audit["ok"]
    assert (audit["missing_events"], audit["unexpected_transactions"], audit["unexpected_events"],
            audit["energy_mismatches"], audit["checked_transactions"]) == (1, 1, 1, 1, 5), audit
