"""A real fleet run (supervisor, worker processes, control API) for the control tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from fleet.run.fleetfile import FleetPlan
from fleet.run.report import Report
from fleet.run.supervisor import RunOptions, run_fleet


def write_fleet_file(tmp_path: Path, profiles: dict[str, str], count: int, *, seed: int, station_id: str,
                     csms: str | None = None, speed: float = 20) -> Path:
    """Write ``profiles`` (name -> TOML) and a fleet file of ``count`` stations of the first one,
    ramping at 500/s and running until stopped; return the fleet file."""
    for name, text in profiles.items():
        (tmp_path / f"{name}.toml").write_text(text)
    fleet = tmp_path / "fleet.toml"
    csms_line = f'csms = ["{csms}"]\n' if csms else ""
    fleet.write_text(
        f"[fleet]\nseed = {seed}\nramp = 500\nduration = 0\nspeed = {speed}\nspeed_protocol = true\n{csms_line}\n"
        f'[[group]]\nprofile = "{next(iter(profiles))}.toml"\ncount = {count}\nstation_id = "{station_id}"\n'
    )
    return fleet


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
