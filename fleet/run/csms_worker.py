"""A built-in CSMS process of a fleet run (see :mod:`fleet.run.worker`).

It answers the CSMS commands of the fleet's control API for the stations connected
to it (:class:`~fleet.run.fleet_backend.WorkerControl` over a
:class:`~fleet.control.backend.LocalBackend` of its :class:`~fleet.actors.csms.Csms`).
"""

from __future__ import annotations

import time
from typing import Any

import trio

from ..actors.csms import Csms
from ..control.backend import LocalBackend
from ..metrics import Metrics
from .execution import LoopMonitor
from .fleet_backend import (
    HasStation,
    MergeIdTokens,
    SetPasswords,
    Steady,
    WorkerControl,
    WorkerHandlers,
)
from .heap import collect_after_exodus
from .timeline import INTERVAL, TimelineRecorder
from .wire import Assign, Final_, Status, WireStream, rss_bytes

__all__ = ["BootAnswers", "apply_boot_refusals", "csms_records", "run_csms_worker"]

#: Seconds between two status reports.
STATUS_INTERVAL = 1.0

#: Settings of the built-in CSMS a fleet run may pass through ``csms_options``.
CSMS_SETTINGS = ("path", "boot_status", "heartbeat_interval", "boot_retry_interval", "id_tokens",
                 "unknown_token_status", "call_timeout", "ping_interval")


def csms_records(csms: Csms) -> dict[str, Any]:
    """What the CSMS recorded, in the audit's shape (see :mod:`fleet.run.audit`)."""
    transactions: dict[str, dict[str, Any]] = {}
    for station_id, record in csms.stations().items():
        if record.transactions:
            transactions[station_id] = {
                tx_id: {"seq": [e.seq_no for e in tx.events], "energy": tx.energy_wh,
                        "first_at": tx.events[0].received_at if tx.events else 0.0}
                | ({"export": tx.export_wh} if tx.export_wh is not None else {})
                for tx_id, tx in record.transactions.items()
            }
    return {"transactions": transactions, "messages": dict(csms.statistics().messages)}


class BootAnswers:
    """Counts the BootNotifications the CSMS answered with something other than Accepted,
    per status and station, and the stations it accepted after refusing them (wraps the
    CSMS's BootNotification handler of every OCPP version it speaks)."""

    def __init__(self, csms: Csms) -> None:
        self.refused: dict[str, dict[str, int]] = {}
        self.accepted_later: set[str] = set()
        for version in csms.versions:
            csms.on("BootNotification", self._counting(csms.handler("BootNotification", version=version)),
                    version=version)

    def _counting(self, default: Any) -> Any:
        def answer(request: Any, ctx: Any) -> Any:
            response = default(request, ctx)
            status = str(getattr(response, "status", "Accepted"))
            station_id = ctx.station_id
            if status != "Accepted":
                per = self.refused.setdefault(status, {})
                per[station_id] = per.get(station_id, 0) + 1
            elif self.refused and any(station_id in per for per in self.refused.values()):
                self.accepted_later.add(station_id)
            return response

        return answer

    def records(self) -> dict[str, Any]:
        return {"refused": self.refused, "accepted_later": sorted(self.accepted_later)}


def apply_boot_refusals(csms: Csms, refusals: dict[str, Any]) -> list[tuple[float, list[str]]]:
    """Set the boot answers of the ``[faults]`` boot shares (station id -> ``[status, until]``,
    ``until`` a wall-clock time or ``None``); return when to lift which (sorted)."""
    lifts: dict[float, list[str]] = {}
    for station_id, (status, until) in refusals.items():
        csms.set_boot_status(status, station_id)
        if until is not None:
            lifts.setdefault(float(until), []).append(station_id)
    return sorted(lifts.items())


async def _lift_boot_refusals(csms: Csms, lifts: list[tuple[float, list[str]]]) -> None:
    for until, station_ids in lifts:
        await trio.sleep(max(0.0, until - time.time()))
        for station_id in station_ids:
            csms.set_boot_status(None, station_id)


def _control_handlers(csms: Csms, monitor: LoopMonitor) -> WorkerHandlers:
    """The internal commands of the fleet backend for a CSMS process."""

    async def steady(command: Steady) -> bool:
        """Open the loop monitor's steady-state window (the fleet's ramp has settled) or
        close it (the fleet is stopping: its wind-down is not steady state)."""
        if command.open:
            monitor.start_steady()
        else:
            monitor.end_steady()
        return True

    async def has_station(command: HasStation) -> bool:
        return csms.is_connected(command.station_id)

    async def set_passwords(command: SetPasswords) -> int:
        """Passwords of stations added while running (only when the auth list is on)."""
        if csms.get_auth_list() is None:
            return 0
        for station_id, password in command.passwords.items():
            csms.set_station_password(station_id, password)
        return len(command.passwords)

    async def merge_id_tokens(command: MergeIdTokens) -> bool:
        """Id tokens of a profile added while running (only when there is a token list)."""
        current = csms.get_id_tokens()
        if current is None:
            return False
        merged: dict[str, Any] = dict(current)
        for token, status in command.tokens.items():
            merged.setdefault(token.casefold(), status)
        csms.set_id_tokens(merged)
        return True

    return (WorkerHandlers().on(HasStation, has_station).on(SetPasswords, set_passwords)
            .on(MergeIdTokens, merge_id_tokens).on(Steady, steady))


async def run_csms_worker(
    wire: WireStream, assign: Assign, index: int, stop: trio.Event, control: WorkerControl | None = None
) -> None:
    options = assign.options
    metrics = Metrics()
    settings = {k: options[k] for k in CSMS_SETTINGS if options.get(k) is not None}
    csms = Csms(
        options.get("host", "127.0.0.1"),
        int(options["port"]),
        auth=options.get("auth"),
        reuse_port=bool(options.get("reuse_port", True)),
        observer=metrics,
        # the CSMS processes of a run are one CSMS: the transaction ids they assign never collide
        transaction_ids=(assign.worker[0] + 1, assign.worker[1]),
        **settings,
    )
    peak = 0
    monitor = LoopMonitor(burn=float(options.get("debug_saturate", 0.0)))
    timeline = monitor.timeline = TimelineRecorder("csms", interval=float(options.get("timeline_interval", INTERVAL)))
    boots = BootAnswers(csms)
    lifts = apply_boot_refusals(csms, options.get("boot_refusals") or {})
    async with trio.open_nursery() as nursery:
        nursery.start_soon(collect_after_exodus, csms.connected_count)
        await nursery.start(monitor.run)
        nursery.start_soon(timeline.run)
        await nursery.start(csms.run)
        if lifts:
            nursery.start_soon(_lift_boot_refusals, csms, lifts)
        if control is not None:
            control.attach(LocalBackend(csms=csms, kind="csms"), _control_handlers(csms, monitor))
        next_at = trio.current_time()
        while not stop.is_set():
            stats = csms.statistics()
            peak = max(peak, rss_bytes())
            await wire.send(Status(
                index=index, role="csms", states={"connected": stats.connected}, metrics=metrics.live(), rss=peak,
                extra={"connected": stats.connected, "transactions_active": stats.transactions_active,
                       "messages": sum(stats.messages.values()), "violations": stats.violations},
                execution=monitor.sample(),
                at=time.monotonic(),
            ))
            next_at = max(next_at + STATUS_INTERVAL, trio.current_time() + STATUS_INTERVAL / 2)
            with trio.move_on_at(next_at):
                await stop.wait()
        monitor.end_steady()
        records = csms_records(csms)
        records["boots"] = boots.records()
        records["restarts"] = csms.statistics().restarts
        records["timeline"] = timeline.close()
        csms.stop()
        nursery.cancel_scope.cancel()
    await wire.send(Final_(index=index, role="csms", metrics=metrics.export(), records=records,
                           rss=max(peak, rss_bytes()), execution=monitor.summary()))
