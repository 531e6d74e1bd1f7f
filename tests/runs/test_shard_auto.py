"""``--shard auto``: a pod of a Kubernetes Indexed Job runs the shard of its index
(``$JOB_COMPLETION_INDEX``, 0-based) out of ``$JOB_COMPLETIONS``; without them the run is
refused before anything starts (exit 2, one line). The whole Job, simulated with real
processes, is in ``tests/test_deploy.py``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.cli import build_parser
from fleet.commands import run as run_command
from fleet.commands.checks import SHARD_COUNT_ENV, SHARD_INDEX_ENV, shard_of
from fleet.exit_codes import USAGE

REPO = Path(__file__).resolve().parents[2]


def test_auto_takes_the_index_and_the_count_from_the_environment() -> None:
    assert shard_of("auto", {SHARD_INDEX_ENV: "0", SHARD_COUNT_ENV: "3"}) == (0, 3)
    assert shard_of("auto", {SHARD_INDEX_ENV: "2", SHARD_COUNT_ENV: "3"}) == (2, 3)
    assert shard_of("auto", {SHARD_INDEX_ENV: "0", SHARD_COUNT_ENV: "1"}) == (0, 1)
    # I/N as before, whatever the environment holds
    assert shard_of("1/4", {SHARD_INDEX_ENV: "0", SHARD_COUNT_ENV: "3"}) == (1, 4)


@pytest.mark.parametrize(("environ", "words"), [
    ({}, ["auto", "$JOB_COMPLETION_INDEX and $JOB_COMPLETIONS are not set", "I/N"]),
    ({SHARD_INDEX_ENV: "1"}, ["$JOB_COMPLETIONS is not set"]),
    ({SHARD_COUNT_ENV: "3"}, ["$JOB_COMPLETION_INDEX is not set"]),
    ({SHARD_INDEX_ENV: " ", SHARD_COUNT_ENV: "3"}, ["$JOB_COMPLETION_INDEX is not set"]),
    ({SHARD_INDEX_ENV: "one", SHARD_COUNT_ENV: "3"}, ["'one'", "whole numbers"]),
    ({SHARD_INDEX_ENV: "3", SHARD_COUNT_ENV: "3"}, ["$JOB_COMPLETION_INDEX='3'", "0/3 .. 2/3"]),
    ({SHARD_INDEX_ENV: "-1", SHARD_COUNT_ENV: "3"}, ["0 <= I < N"]),
    ({SHARD_INDEX_ENV: "0", SHARD_COUNT_ENV: "0"}, ["0 <= I < N"]),
])
def test_auto_without_a_usable_index_and_count_is_refused(environ: dict[str, str], words: list[str]) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        shard_of("auto", environ)
    for word in words:
        assert word in str(refused.value), (word, str(refused.value))


def test_the_run_behind_the_dashboard_gets_the_resolved_shard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SHARD_INDEX_ENV, "1")
    monkeypatch.setenv(SHARD_COUNT_ENV, "3")
    args = build_parser().parse_args(["run", "--shard", "auto", "--tui"])
    assert args.shard == (1, 3)
    argv = run_command.child_argv(args)
    assert argv[argv.index("--shard") + 1] == "1/3"


def test_fleet_run_shard_auto_outside_an_indexed_job_exits_2_with_one_line() -> None:
    environ = {k: v for k, v in os.environ.items() if k not in (SHARD_INDEX_ENV, SHARD_COUNT_ENV)}
    result = subprocess.run([sys.executable, "-m", "fleet", "run", "--shard", "auto", "--no-control"],
                            cwd=str(REPO), env=environ, capture_output=True, text=True, timeout=15,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == USAGE, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "--shard" in line and "$JOB_COMPLETION_INDEX" in line, line
    assert result.stdout == ""
