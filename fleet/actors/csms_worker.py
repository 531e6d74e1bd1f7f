"""A built-in CSMS process of a fleet run (see :mod:`fleet.actors.worker`)."""

from __future__ import annotations

from typing import Any

import trio

from ..metrics import Metrics
from ..wire import Assign, Final_, Status, WireStream, rss_bytes
from .csms import Csms

__all__ = ["csms_records", "run_csms_worker"]

#: Settings of the built-in CSMS a fleet run may pass through ``csms_options``.
CSMS_SETTINGS = ("path", "boot_status", "heartbeat_interval", "boot_retry_interval", "id_tokens",
                 "unknown_token_status", "call_timeout", "ping_interval")


def csms_records(csms: Csms) -> dict[str, Any]:
    """What the CSMS recorded, in the audit's shape (see :mod:`fleet.actors.audit`)."""
    transactions: dict[str, dict[str, Any]] = {}
    for station_id, record in csms.stations().items():
        if record.transactions:
            transactions[station_id] = {
                tx_id: {"seq": [e.seq_no for e in tx.events], "energy": tx.energy_wh}
                for tx_id, tx in record.transactions.items()
            }
    return {"transactions": transactions, "messages": dict(csms.statistics().messages)}


async def run_csms_worker(wire: WireStream, assign: Assign, index: int, stop: trio.Event) -> None:
    options = assign.options
    metrics = Metrics()
    settings = {k: options[k] for k in CSMS_SETTINGS if options.get(k) is not None}
    csms = Csms(
        options.get("host", "127.0.0.1"),
        int(options["port"]),
        auth=options.get("auth"),
        reuse_port=bool(options.get("reuse_port", True)),
        observer=metrics,
        **settings,
    )
    peak = 0
    async with trio.open_nursery() as nursery:
        await nursery.start(csms.run)
        while not stop.is_set():
            stats = csms.statistics()
            peak = max(peak, rss_bytes())
            await wire.send(Status(
                index=index, role="csms", states={"connected": stats.connected}, metrics=metrics.live(), rss=peak,
                extra={"connected": stats.connected, "transactions_active": stats.transactions_active,
                       "messages": sum(stats.messages.values()), "violations": stats.violations},
            ))
            with trio.move_on_after(1.0):
                await stop.wait()
        records = csms_records(csms)
        csms.stop()
        nursery.cancel_scope.cancel()
    await wire.send(Final_(index=index, role="csms", metrics=metrics.export(), records=records,
                           rss=max(peak, rss_bytes())))
