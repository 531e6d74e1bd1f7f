"""A real fleet run (supervisor, worker processes, control API) for the control tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from fleet.actors.supervisor import RunOptions, run_fleet
from fleet.fleetfile import FleetPlan
from fleet.report import Report


@asynccontextmanager
async def controlled_run(plan: FleetPlan, options: RunOptions) -> AsyncIterator[tuple[str, list[Report]]]:
    """Run ``plan`` until the block ends (then stop it cleanly); yield its control URL and the
    list its report is appended to when the run has ended (after the block)."""
    stop = trio.Event()
    urls: list[str] = []
    listening = trio.Event()
    reports: list[Report] = []

    def on_control(url: str) -> None:
        urls.append(url)
        listening.set()

    async def run() -> None:
        reports.append(await run_fleet(plan, options, stop_event=stop, on_control=on_control, status_interval=0.2))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        with trio.fail_after(20):
            await listening.wait()
        try:
            yield urls[0], reports
        finally:
            stop.set()
