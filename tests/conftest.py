"""Fixtures shared by the suite: the repository, the sample and shared event data, and what the app ships.

Values come from `project.py` (read from the conf files, not repeated in tests); module-level code that
needs them before fixtures exist (parametrize lists, skip marks) imports them from there.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest

import project


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root (the app folder)."""
    return project.REPO


@pytest.fixture(scope="session")
def samples() -> Path:
    """The bundled sample events (samples/)."""
    return project.SAMPLES


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The shared attack data (`../shared/datasets`, or $LOCALSEARCH_DATASETS); skips the test when absent."""
    reason = project.datasets_missing()
    if reason:
        pytest.skip(reason)
    return project.DATASETS


@pytest.fixture(scope="session")
def shipped_searches() -> Dict[str, str]:
    """The correlation searches of default/savedsearches.conf: name -> search."""
    return dict(project.SHIPPED_SEARCHES)


@pytest.fixture(scope="session")
def main_rule() -> str:
    """Name of the tstats correlation search (the runner's default search)."""
    return project.MAIN_RULE


@pytest.fixture(scope="session")
def sysmon_rule() -> str:
    """Name of the raw Sysmon variant."""
    return project.SYSMON_RULE


@pytest.fixture(scope="session")
def risk_message() -> str:
    """The shipped risk message template (`action.risk.param._risk_message`)."""
    return project.RISK_MESSAGE


# Fixtures whose set-up is an end-to-end run: a test using one is `slow` (left out of `make unit`), wherever it is.
SLOW_FIXTURES = {
    "tally": "the corpus of published SPL run over the samples and the shared datasets (test_spl_corpus.py)",
}


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
