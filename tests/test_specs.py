"""The project's detection and tuning checks written as `localsearch test` specs (tests/specs/), run here
through the same code the command uses (localsearch.testing), one pytest case per spec test."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from localsearch.spec import Case, load_spec
from localsearch.testing import describe, run_case
from project import DATASETS, DATASETS_ENV, REPO, datasets_missing

SPECS = REPO / "tests" / "specs"
NEEDS_DATASETS = {"datasets.yaml"}


def _params() -> List[object]:
    params: List[object] = []
    for spec in sorted(SPECS.glob("*.yaml")):
        marks = [pytest.mark.slow] if spec.name in NEEDS_DATASETS else []
        for index in range(len(_cases(spec))):
            params.append(pytest.param(spec, index, id=f"{spec.stem}[{index}]", marks=marks))
    return params


def _cases(spec: Path) -> List[Case]:
    return load_spec(spec)


@pytest.mark.parametrize("spec,index", _params())
def test_spec(spec: Path, index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    if spec.name in NEEDS_DATASETS:
        missing = datasets_missing("otrf", "otrf-negatives", "mdecrevoisier")
        if missing:
            pytest.skip(missing)
        monkeypatch.setenv(DATASETS_ENV, str(DATASETS))
    case = _cases(spec)[index]
    results = run_case(case, REPO)
    assert results, f"{case.name}: no expectations"
    bad = [describe(r) for r in results if r.status != "PASS"]
    assert not bad, "\n".join(bad)
