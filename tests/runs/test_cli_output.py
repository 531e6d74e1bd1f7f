"""What the command line prints: ``--version``, ``-v``/``-q`` on either side of the
subcommand, ✓/✗ in colour only on a terminal (and never with ``NO_COLOR``), threshold values
with their units, a ramp bar that ends when the ramp does, ``--quiet`` printing the summary
alone, and shell completion."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from fleet.cli import build_parser, log_level
from fleet.commands.marks import print_marked
from fleet.commands.run import _Progress
from fleet.exit_codes import OK
from fleet.run.report import Report, render_summary
from fleet.run.supervisor import FleetStatus
from fleet.run.thresholds import ThresholdResult, measured_text

REPO = Path(__file__).resolve().parents[2]


def fleet(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fleet", *argv], cwd=str(REPO), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, env=env)


def test_version_prints_the_version_of_the_package() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    result = fleet("--version")
    assert result.returncode == OK and result.stdout.strip() == f"fleet {version}", result


@pytest.mark.parametrize(
    ("argv", "level"),
    [
        (["run"], logging.WARNING),
        (["-v", "run"], logging.INFO),
        (["run", "-v"], logging.INFO),
        (["csms", "-vv"], logging.DEBUG),
        (["-q", "csms"], logging.ERROR),
        (["report", "show", "r.json", "--quiet"], logging.ERROR),
    ],
)
def test_verbose_and_quiet_are_accepted_before_and_after_the_subcommand(argv: list[str], level: int) -> None:
    args = build_parser().parse_args(argv)
    assert log_level(args) == level
    assert args.quiet == ("-q" in argv or "--quiet" in argv)


TEXT = "THRESHOLDS\n  ✓ p99<200ms                        actual 20.7 ms\n  ✗ errors==0    actual 3"


def test_marks_are_coloured_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")  # (rich's way to say "a terminal")
    monkeypatch.setenv("TERM", "xterm-256color")
    out = io.StringIO()
    print_marked(TEXT, out)
    coloured = out.getvalue()
    assert "\x1b[1;32m✓\x1b[0m" in coloured and "\x1b[1;31m✗\x1b[0m" in coloured, repr(coloured)
    assert "actual 20.7 ms" in coloured


@pytest.mark.parametrize("environment", [{"NO_COLOR": "1", "FORCE_COLOR": "1"}, {}])
def test_marks_are_plain_with_no_color_or_off_a_terminal(monkeypatch: pytest.MonkeyPatch,
                                                         environment: dict[str, str]) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()  # not a terminal
    print_marked(TEXT, out)
    assert out.getvalue() == TEXT + "\n"


@pytest.mark.parametrize(
    ("expression", "actual", "text"),
    [
        ("p99<200ms", 20.7321, "20.7 ms"),
        ("BootNotification.max<1s", 1234.56, "1,234.6 ms"),
        ("steady.p50<1ms", 0.4213, "0.42 ms"),
        ("fleet.loop_lag.p99<50ms", 3.25, "3.2 ms"),
        ("fleet.cpu<90%", 45.25, "45.25 %"),
        ("error_rate<1%", 0.5, "0.50 %"),
        ("rate>10", 310.24, "310.2 calls/s"),
        ("errors==0", 3.0, "3"),
        ("BootNotification.count>=4", 1200.0, "1,200"),
    ],
)
def test_threshold_values_carry_their_units(expression: str, actual: float, text: str) -> None:
    assert measured_text(expression, actual) == text


def test_the_summary_shows_threshold_values_with_units() -> None:
    summary = render_summary(Report(thresholds=[ThresholdResult("p99<10ms", False, 20.7)]))
    assert "✗ p99<10ms" in summary and summary.split("✗ p99<10ms")[1].split("\n")[0].strip() == "actual 20.7 ms"


def test_the_ramp_bar_is_finished_on_its_own_line_when_the_ramp_ends(capsys: pytest.CaptureFixture[str]) -> None:
    progress = _Progress(quiet=False)
    progress.tty = True
    progress(FleetStatus(phase="ramping", total=4, started=2, states={"available": 2}))
    progress(FleetStatus(phase="ramping", total=4, started=3, states={"available": 3}))
    progress(FleetStatus(phase="running", total=4, started=4, states={"available": 4}, elapsed=6.0))
    out = capsys.readouterr().out
    bar, line, rest = out.rsplit("\n", 2)
    assert rest == ""
    last_bar = bar.rsplit("\r", 1)[1]
    assert "[" + "#" * 30 + "]" in last_bar and "started 4/4" in last_bar, repr(out)
    assert line.startswith("[   6.0s] running"), repr(out)  # a line of its own, not after the bar
    progress(FleetStatus(phase="ramping", total=4, started=1))
    progress.finish()  # stopped during the ramp: the bar's line is ended before the summary
    assert capsys.readouterr().out.endswith("\n")
    progress.finish()
    assert capsys.readouterr().out == ""


def test_quiet_prints_the_summary_only_and_plain_off_a_terminal() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    result = fleet("run", "--stations", "2", "--duration", "1", "--ramp", "100", "--workers", "1", "--speed", "10",
                   "--no-control", "--threshold", "errors==0", "-q", env=env, timeout=90)
    assert result.returncode == OK, result.stderr
    assert result.stdout.startswith("THRESHOLDS\n  ✓ errors==0"), result.stdout[:500]
    assert "\x1b[" not in result.stdout
    assert "OCPP, whole run" in result.stdout


def test_the_shell_completes_options_and_subcommands() -> None:
    def complete(line: str) -> list[str]:
        env = {**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)),
               "_ARGCOMPLETE_IFS": "\n"}
        # argcomplete answers on file descriptor 8 (its debug output goes to 9)
        result = subprocess.run(["bash", "-c", f"{sys.executable} -m fleet 8>&1 9>/dev/null"], cwd=str(REPO),
                                env=env, capture_output=True, text=True, timeout=60)
        return result.stdout.split()

    assert "--threshold" in complete("fleet run --thr")
    assert complete("fleet cs") == ["csms"]
