"""Shared by every test directory: this file's directory, ``tests/``, is on the import path
(pytest's default ``prepend`` import mode puts a rootless conftest's directory there), so
tests import the shared helpers by name: ``from waiting import wait_until``.

It also gathers the case counts of ``ocpp/test_schema_differential.py`` (the ``schema_case_counts``
fixture, by ``"<version>|<kind>"``) and prints their totals per version in the terminal summary,
with or without ``-s``. The suite runs in two pytest-xdist workers: each worker hands its counts to
the controller when it finishes (``workeroutput``), and the controller adds them up.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

_CASE_COUNTS = pytest.StashKey[Counter[str]]()


@pytest.fixture(scope="session")
def schema_case_counts(pytestconfig: pytest.Config) -> Counter[str]:
    """Counter of checked cases, by kind (``positive``, ``negative``, ...)."""
    return pytestconfig.stash.setdefault(_CASE_COUNTS, Counter())


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its counts go to the controller
        workeroutput["schema_case_counts"] = dict(session.config.stash.get(_CASE_COUNTS, Counter()))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    counts = getattr(node, "workeroutput", {}).get("schema_case_counts")
    if counts:
        node.config.stash.setdefault(_CASE_COUNTS, Counter()).update(counts)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    counts = config.stash.get(_CASE_COUNTS, None)
    if not counts:
        return
    by_version: dict[str, Counter[str]] = {}
    for key, n in counts.items():
        version, _, kind = key.partition("|")
        by_version.setdefault(version, Counter())[kind] += n
    for version, version_counts in sorted(by_version.items()):
        _summarise(terminalreporter, version, version_counts)


def _summarise(terminalreporter: pytest.TerminalReporter, version: str, counts: Counter[str]) -> None:
    positive = {
        kind.removeprefix("positive: "): n
        for kind, n in sorted(counts.items())
        if kind.startswith("positive")
    }
    terminalreporter.write_sep("-", f"OCPP {version} schema differential")
    terminalreporter.write_line(
        f"{sum(positive.values())} positive cases ("
        + ", ".join(f"{kind}: {n}" for kind, n in positive.items())
        + ")"
    )
    terminalreporter.write_line(
        f"{counts['negative']} negative cases rejected by both jsonschema and fleet "
        f"({counts['negative: skipped']} mutations skipped because jsonschema accepts them)"
    )
    terminalreporter.write_line(
        f"{counts['divergence']} documented divergences checked "
        "(integral floats such as 5.0 in integer fields: schema-valid, rejected by fleet)"
    )
