"""The contentctl project's detections (contentctl/detections/**/*.yml), tested offline as contentctl tests
them (localsearch.contentctl). Their attack data is the app's sample events, named by a path relative to the
project folder (contentctl runs there and resolves a file path from it), so the data folder is contentctl/."""
from __future__ import annotations

from pathlib import Path

import pytest

from localsearch.spec import load_spec
from localsearch.testing import describe, run_case
from project import REPO

DETECTIONS = sorted((REPO / "contentctl" / "detections").rglob("*.yml"))


@pytest.mark.skipif(not DETECTIONS, reason="no contentctl project (contentctl/detections/) in the repository")
@pytest.mark.parametrize("path", DETECTIONS, ids=[p.stem for p in DETECTIONS])
def test_contentctl_detection(path: Path) -> None:
    cases = load_spec(path, data_dir=REPO / "contentctl")
    assert cases, f"{path}: no tests"
    results = [r for case in cases for r in run_case(case, REPO)]
    bad = [describe(r) for r in results if r.status not in ("PASS", "SKIP")]
    assert not bad, "\n".join(bad)
    assert any(r.status == "PASS" for r in results), f"{path}: every test skipped"
