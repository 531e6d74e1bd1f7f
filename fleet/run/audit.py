"""The nothing-lost audit: what every station sent against what the CSMS recorded.

Both sides report their transactions in one shape::

    {"transactions": {station_id: {transaction_id: {"seq": [seqNo, ...], "energy": Wh or None}}}}

On the station side ``seq`` lists the seqNos of the TransactionEvents the station
generated, in order, and ``energy`` the final energy register of the transaction;
optional ``resent`` lists the seqNos it transmitted again (once per extra
transmission: the answer was lost with the connection, or timed out) and
``undelivered`` the seqNos still queued when the records were taken. On the CSMS
side ``seq`` lists the seqNos received, in arrival order, and ``energy`` the last
register value received; optional ``retransmitted`` lists the seqNos of the copies
the CSMS found identical to an event it already had, and ``first_at`` (wall clock) when
the first of them arrived, so that the pieces of a transaction recorded by several CSMS
processes (the station reconnected to another one) are joined in the order they came.

A record may also carry ``export``: the final export register of a transaction whose
vehicle discharged (V2X: ``Energy.Active.Export.Register``, Wh), on the station side
what it sent, on the CSMS side the last value received.

A transaction is sound when the CSMS received every event the station generated,
in order, and the energy totals agree (imported, and exported when the station
reported an export register). Receiving an event twice is sound only as a
retransmission: the station's ``resent`` log must account for every extra copy
(and, when the CSMS flags identical copies, the copy must be identical). So a
retransmission after a dropped connection is counted, not an error, while an event
the CSMS recorded twice although the station sent it once is a duplicate (an
error), and an event never received is missing (an error) unless it is still in
the station's queue (``undelivered_events``: not lost, not delivered yet either).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["audit_run", "audit_transactions"]

ENERGY_TOLERANCE_WH = 0.01
_LISTS = ("resent", "undelivered", "retransmitted")


def _chunks(records: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(station, transaction, record) of every process, a transaction's pieces from
    several CSMS processes in the order they arrived (``first_at``; a station talks to
    one process at a time, e.g. another one after a CSMS restart)."""
    chunks = [(station_id, tx_id, tx)
              for record in records
              for station_id, transactions in record.get("transactions", {}).items()
              for tx_id, tx in transactions.items()]
    if any("first_at" in tx for _, _, tx in chunks):
        chunks.sort(key=lambda chunk: chunk[2].get("first_at", 0.0))  # stable: the rest keep their order
    return chunks


def _merge(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for station_id, tx_id, tx in _chunks(records):
        target = merged.setdefault(station_id, {})
        entry: dict[str, Any] = {"seq": list(tx["seq"]), "energy": tx.get("energy")}
        if "export" in tx:
            entry["export"] = tx["export"]
        for key in _LISTS:
            if key in tx:
                entry[key] = list(tx[key])
        if tx_id in target:  # a station reconnected to another CSMS process
            previous = target[tx_id]
            entry["seq"] = previous["seq"] + entry["seq"]
            if entry["energy"] is None:
                entry["energy"] = previous.get("energy")
            if entry.get("export") is None and previous.get("export") is not None:
                entry["export"] = previous["export"]
            for key in _LISTS:
                if key in previous or key in entry:
                    entry[key] = list(previous.get(key, [])) + list(entry.get(key, []))
        target[tx_id] = entry
    return merged


def audit_transactions(
    sent: dict[str, dict[str, dict[str, Any]]], recorded: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, Any]:
    """Compare per-station transactions; return counts and the first problems found."""
    checked = missing = duplicated = out_of_order = energy_mismatches = 0
    retransmissions = undelivered_events = unexpected_events = 0
    problems: list[str] = []
    for station_id, transactions in sent.items():
        for tx_id, tx in transactions.items():
            checked += 1
            expected = list(tx["seq"])
            record = recorded.get(station_id, {}).get(tx_id, {})
            got = list(record.get("seq", []))
            counts = Counter(got)
            undelivered = set(tx.get("undelivered", ()))
            lost = [s for s in expected if s not in counts and s not in undelivered]
            queued = [s for s in expected if s not in counts and s in undelivered]
            resent = Counter(tx.get("resent", ()))
            identical = Counter(record["retransmitted"]) if "retransmitted" in record else None
            dup = 0
            for seq_no, copies in counts.items():
                extra = copies - 1
                if extra <= 0:
                    continue
                allowed = resent[seq_no] if identical is None else min(resent[seq_no], identical[seq_no])
                explained = min(extra, allowed)
                retransmissions += explained
                dup += extra - explained
            generated = set(expected)
            strange = [s for s in counts if s not in generated]
            deduplicated = [s for s in dict.fromkeys(got) if s in generated]
            disorder = deduplicated != [s for s in expected if s in counts]
            missing += len(lost)
            duplicated += dup
            undelivered_events += len(queued)
            unexpected_events += sum(counts[s] for s in strange)
            out_of_order += int(disorder)
            for field, what in (("energy", "energy"), ("export", "exported energy")):  # imported, exported (V2X)
                sent_wh, recorded_wh = tx.get(field), record.get(field)
                if sent_wh is not None and not undelivered and (
                        recorded_wh is None or abs(sent_wh - recorded_wh) > ENERGY_TOLERANCE_WH):
                    energy_mismatches += 1
                    if len(problems) < 20:
                        problems.append(f"{station_id} {tx_id}: {what} sent {sent_wh} Wh, recorded {recorded_wh}")
            if (lost or dup or disorder or strange) and len(problems) < 20:
                problems.append(f"{station_id} {tx_id}: sent seqNos {expected}, CSMS recorded {got}"
                                + (f", resent {sorted(resent.elements())}" if resent else ""))
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
        "unexpected_events": unexpected_events,
        "retransmissions": retransmissions,
        "undelivered_events": undelivered_events,
        "problems": problems,
        "ok": not (missing or duplicated or out_of_order or energy_mismatches or unexpected_events),
    }


def audit_run(station_records: list[dict[str, Any]], csms_records: list[dict[str, Any]]) -> dict[str, Any]:
    """Audit a run from the final records of its station workers and CSMS processes."""
    return audit_transactions(_merge(station_records), _merge(csms_records))
