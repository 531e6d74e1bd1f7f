"""The README's examples run as written against what the README's set-up starts.

The control-API example against ``fleet run`` with no arguments (the demo fleet that
``make run`` runs), with its control port replaced by the one the run printed (7700 may
be taken on a test machine).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import trio
from waiting import wait_until

from fleet.control import open_trio_client

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def python_block(starting_with: str) -> str:
    """The README's ```python block whose code starts with ``starting_with``."""
    for block in re.findall(r"```python\n(.*?)```", README, re.S):
        if block.startswith(starting_with):
            return str(block)
    raise AssertionError(f"no python block starting with {starting_with!r} in the README")


def test_the_control_api_example_runs_against_the_demo_fleet(tmp_path: Path) -> None:
    example = python_block("import asyncio\nfrom fleet.control import ControlClient")
    assert "ws://127.0.0.1:7700/" in example
    run = subprocess.Popen([sys.executable, "-m", "fleet", "run", "--duration", "60", "--control-port", "0",
                            "--report", str(tmp_path / "report.json")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        assert run.stdout is not None
        url = None
        for line in run.stdout:  # the run prints its control line before it ramps
            found = re.match(r"control on (ws://127\.0\.0\.1:\d+/)", line)
            if found:
                url = found.group(1)
                break
        assert url, "fleet run printed no control line"

        async def all_online() -> None:
            async with open_trio_client(url) as client:
                async def online() -> bool:
                    snapshot = await client.request("snapshot", rows=False)
                    return sum(snapshot.states.get(s, 0) for s in ("available", "charging")) == snapshot.total > 0

                await wait_until(online, what="the demo fleet online", timeout=30, period=0.2)

        trio.run(all_online)
        done = subprocess.run([sys.executable, "-c", example.replace("ws://127.0.0.1:7700/", url)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        states, answer = done.stdout.splitlines()[:2]
        assert "calls/s" in states
        assert answer.startswith("response ") and answer.endswith(" hb-1"), answer  # outcome, response, tag
    finally:
        run.send_signal(signal.SIGINT)
        try:
            run.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
            run.communicate()
