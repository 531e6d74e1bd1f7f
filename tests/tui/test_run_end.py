"""``fleet run --tui`` at the end of its duration: the dashboard stays open on the run's last state
with its summary (the thresholds' verdicts first) until the user quits. A real run in its own
processes (as ``fleet run --tui`` starts it), the real dashboard driven by Textual's pilot."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from test_dashboard import screen_lines
from waiting import wait_until_on_pilot

from fleet.cli import build_parser
from fleet.commands import run as run_command
from fleet.tui.screens import OverviewScreen, RunSummaryScreen


def test_the_dashboard_shows_the_summary_of_a_run_that_reached_its_end(tmp_path: Path) -> None:
    args = build_parser().parse_args(["run", "--tui", "--stations", "3", "--duration", "4", "--workers", "1",
                                      "--threshold", "errors==0", "--report", str(tmp_path / "report.json")])
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = run_command.spawn_run(run_command.child_argv(args), out, err)
        try:
            url = run_command._wait_for_control(child, out, run_command.STARTUP_TIMEOUT)
            assert url is not None, run_command._read(err)
            app = run_command.run_dashboard_app(url, None, child, summary=run_command._summary_of(out))

            async def main() -> None:
                async with app.run_test(size=(120, 40)) as pilot:
                    await wait_until_on_pilot(lambda: app.model.snapshot is not None, pilot, timeout=30)
                    await wait_until_on_pilot(lambda: isinstance(app.screen, RunSummaryScreen), pilot, timeout=60,
                                              period=0.1, what="the run's summary on screen")
                    # pushed is not yet painted: wait for its first line on the screen
                    await wait_until_on_pilot(lambda: "the run ended" in "\n".join(screen_lines(app)), pilot,
                                              what="the summary painted")
                    assert child.poll() == 0
                    text = "\n".join(screen_lines(app))
                    for expected in ("the run ended: thresholds passed (exit status 0)", "THRESHOLDS", "✓ errors==0",
                                     "OCPP"):
                        assert expected in text, expected
                    assert "control on" not in text
                    await pilot.press("escape")  # the last state stays behind it
                    await wait_until_on_pilot(lambda: isinstance(app.screen, OverviewScreen), pilot)
                    await pilot.pause(1.5)  # (no reconnecting: the run is over)
                    assert app.is_running and "reconnecting" not in app.model.status
                    text = "\n".join(screen_lines(app))
                    assert "total 3" in text and "the run ended" in text and "f run summary" in text
                    await pilot.press("f")
                    await wait_until_on_pilot(lambda: isinstance(app.screen, RunSummaryScreen), pilot)
                    await pilot.press("q")
                    await wait_until_on_pilot(lambda: not app.is_running, pilot)

            asyncio.run(main())
        finally:
            code = run_command.stop_child(child)
    assert code == 0 and (tmp_path / "report.json").is_file()
