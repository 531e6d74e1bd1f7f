"""The README's screenshots of the dashboard's overview, taken with a real run behind it.

    .venv/bin/python tools/dashboard_screenshots.py [docs/screenshots]

Starts ``fleet run`` (60 stations of the demo fleet's kinds, sped up) in its own processes as
``fleet run --tui`` does, attaches the dashboard headless (Textual's ``run_test``) at 160x45 and
at 80x24 once the charts have a minute of history, and saves each screen as SVG
(``overview-160x45.svg``, ``overview-80x24.svg``; ``overview-ramp-160x45.svg`` during the ramp).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from fleet.cli import build_parser
from fleet.commands import run as run_command
from fleet.tui import FleetDashboard

#: (file name, terminal size, seconds the dashboard watches before the picture)
SHOTS = (("overview-ramp-160x45.svg", (160, 45), 8.0), ("overview-160x45.svg", (160, 45), 60.0),
         ("overview-80x24.svg", (80, 24), 60.0))


async def _shoot(url: str, name: str, size: tuple[int, int], seconds: float, folder: Path) -> None:
    app = FleetDashboard(url)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(seconds)
        app.save_screenshot(name, str(folder))
    print(f"wrote {folder / name}")


def main(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    args = build_parser().parse_args(["run", "--tui", "--stations", "60", "--ramp", "3", "--duration", "300",
                                      "--speed", "30", "--workers", "1"])
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = run_command.spawn_run(run_command.child_argv(args), out, err)
        try:
            url = run_command._wait_for_control(child, out, run_command.STARTUP_TIMEOUT)
            if url is None:
                print(run_command._read(err), file=sys.stderr)
                return 1
            for name, size, seconds in SHOTS:
                asyncio.run(_shoot(url, name, size, seconds, folder))
        finally:
            run_command.stop_child(child)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "docs" / "screenshots"))
