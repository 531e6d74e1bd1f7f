"""The nothing-lost audit: what every station sent against what the CSMS recorded.

Both sides report their transactions in one shape::

    {"transactions": {station_id: {transaction_id: {"seq": [seqNo, ...], "energy": Wh or None}}}}

On the station side ``seq`` lists the seqNos of the TransactionEvents the station
generated, in order, and ``energy`` the final energy register of the transaction;
on the CSMS side ``seq`` lists the seqNos received, in arrival order, and
``energy`` the last register value received. A transaction is sound when the CSMS
received exactly the station's sequence, in order, once each, and the energy
totals agree.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["audit_run", "audit_transactions"]

ENERGY_TOLERANCE_WH = 0.01


def _merge(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for record in records:
        for station_id, transactions in record.get("transactions", {}).items():
            target = merged.setdefault(station_id, {})
            for tx_id, tx in transactions.items():
                if tx_id in target:  # a station reconnected to another CSMS process
                    target[tx_id] = {
                        "seq": target[tx_id]["seq"] + list(tx["seq"]),
                        "energy": tx.get("energy") if tx.get("energy") is not None else target[tx_id].get("energy"),
                    }
                else:
                    target[tx_id] = {"seq": list(tx["seq"]), "energy": tx.get("energy")}
    return merged


def audit_transactions(
    sent: dict[str, dict[str, dict[str, Any]]], recorded: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, Any]:
    """Compare per-station transactions; return counts and the first problems found."""
    checked = missing = duplicated = out_of_order = energy_mismatches = 0
    problems: list[str] = []
    for station_id, transactions in sent.items():
        for tx_id, tx in transactions.items():
            checked += 1
            expected = list(tx["seq"])
            got = list(recorded.get(station_id, {}).get(tx_id, {}).get("seq", []))
            counts = Counter(got)
            lost = [s for s in expected if s not in counts]
            dup = sum(n - 1 for n in counts.values() if n > 1)
            deduplicated = list(dict.fromkeys(got))
            disorder = deduplicated != [s for s in expected if s in counts]
            missing += len(lost)
            duplicated += dup
            out_of_order += int(disorder)
            energy_sent = tx.get("energy")
            energy_got = recorded.get(station_id, {}).get(tx_id, {}).get("energy")
            if energy_sent is not None and (energy_got is None or abs(energy_sent - energy_got) > ENERGY_TOLERANCE_WH):
                energy_mismatches += 1
                if len(problems) < 20:
                    problems.append(f"{station_id} {tx_id}: energy sent {energy_sent} Wh, recorded {energy_got}")
            if (lost or dup or disorder) and len(problems) < 20:
                problems.append(f"{station_id} {tx_id}: sent seqNos {expected}, CSMS recorded {got}")
    unexpected = sum(
        1 for station_id, transactions in recorded.items() for tx_id in transactions if tx_id not in sent.get(station_id, {})
    )
    return {
        "checked_transactions": checked,
        "missing_events": missing,
        "duplicated_events": duplicated,
        "out_of_order_transactions": out_of_order,
        "energy_mismatches": energy_mismatches,
        "unexpected_transactions": unexpected,
        "problems": problems,
        "ok": not (missing or duplicated or out_of_order or energy_mismatches),
    }


def audit_run(station_records: list[dict[str, Any]], csms_records: list[dict[str, Any]]) -> dict[str, Any]:
    """Audit a run from the final records of its station workers and CSMS processes."""
    return audit_transactions(_merge(station_records), _merge(csms_records))
