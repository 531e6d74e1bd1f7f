"""Open a fleet HTML report in headless Chromium and check that its charts rendered.

    python tools/html_report_check.py run.html [--screenshot run.png]

Chromium (Debian's ``chromium`` package) loads the page from the file, without a
network, runs its scripts for up to ten seconds of virtual time and hands back the
page as it then is. Each chart of the report (an element whose id starts with
``chart-``) must hold what plotly draws (``plot-container`` and ``main-svg``); the
script prints one line per chart with the traces it drew, and exits 1 when a chart
did not render, 2 when Chromium is missing or failed. ``--screenshot`` also writes a
PNG of the page (the README's screenshot is made this way).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: Chromium's options: headless, no sandbox (root in CI), nothing fetched from the network.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=10000",
]
#: Seconds Chromium gets for one page.
TIMEOUT = 120


def chromium() -> str | None:
    """The Chromium command, or ``None`` when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run_chromium(page: Path, extra: list[str]) -> str:
    command = chromium()
    if command is None:
        raise RuntimeError("chromium is not installed (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="fleet-chromium-") as profile:
        done = subprocess.run([command, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra,
                               page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def rendered_dom(page: Path) -> str:
    """The page's DOM after its scripts ran."""
    return _run_chromium(page, ["--dump-dom"])


def screenshot(page: Path, png: Path, width: int = 1400, height: int = 1760) -> None:
    """A PNG of the page, ``width`` x ``height`` pixels."""
    _run_chromium(page, [f"--window-size={width},{height}", "--hide-scrollbars", f"--screenshot={png.resolve()}"])
    if not png.exists():
        raise RuntimeError(f"chromium wrote no screenshot to {png}")


def charts(dom: str) -> dict[str, tuple[bool, int]]:
    """Chart id -> (rendered, traces drawn). The charts are siblings in the page's order,
    so what lies between one chart's start and the next one's is that chart's."""
    pieces = re.split(r'<div[^>]*\bid="(chart-[^"]+)"', dom)
    out: dict[str, tuple[bool, int]] = {}
    for chart_id, body in zip(pieces[1::2], pieces[2::2], strict=True):
        rendered = "plot-container" in body and "main-svg" in body
        out[chart_id] = (rendered, len(re.findall(r'class="trace\b', body)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path, help="the HTML report (fleet report html / fleet run --html)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="also write a screenshot of the page")
    args = parser.parse_args(argv)
    try:
        found = charts(rendered_dom(args.page))
        if args.screenshot is not None:
            screenshot(args.page, args.screenshot)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"html_report_check: {exc}", file=sys.stderr)
        return 2
    if not found:
        print(f"html_report_check: {args.page}: no chart in the page")
        return 1
    for chart_id, (rendered, traces) in found.items():
        print(f"{chart_id}: {'rendered' if rendered else 'NOT RENDERED'}, {traces} traces")
    if args.screenshot is not None:
        print(f"screenshot written to {args.screenshot}")
    return 0 if all(rendered for rendered, _ in found.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
