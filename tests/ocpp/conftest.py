"""Fixtures of the OCPP tests: case counts of the schema differential tests.

``test_schema_differential.py`` counts the cases it checks in ``schema_case_counts``,
by ``"<version>|<kind>"``; the totals are printed per version in the terminal summary
(with or without ``-s``).
"""

from __future__ import annotations

from collections import Counter

import pytest

_CASE_COUNTS = pytest.StashKey[Counter[str]]()


@pytest.fixture(scope="session")
def schema_case_counts(pytestconfig: pytest.Config) -> Counter[str]:
    """Counter of checked cases, by kind (``positive``, ``negative``, ...)."""
    return pytestconfig.stash.setdefault(_CASE_COUNTS, Counter())


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
