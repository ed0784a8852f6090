"""`localsearch test SPEC...`: run each spec's searches over its data and check its expectations.

Exit codes: 0 every expectation holds, 1 one fails (or a search fails), 2 bad input (a spec, path or saved
search that cannot be used). All specs are read and checked before any search runs.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence

from .conf import ConfError
from .expect import Result
from .junit import CaseResult
from .output import result_dicts
from .runner import InputError, app_confs, run_search, saved_search
from .spec import Case, SpecError, load_spec


def load_cases(specs: Sequence[Path], data_dir: Optional[Path] = None) -> List[Case]:
    cases: List[Case] = []
    for path in specs:
        if not path.is_file():
            raise SpecError(f"no such spec file: {path}")
        cases.extend(load_spec(path, data_dir))
    return cases


def _check_inputs(case: Case, app_dir: Optional[Path]) -> None:
    where = f"{case.spec}: test {case.name!r}"
    missing = [str(p) for p in case.data if not p.exists()]
    if missing:
        raise SpecError(f"{where}: no such file or folder: {', '.join(missing)}")
    if case.local is not None and not case.local.is_dir():
        raise SpecError(f"{where}: local {case.local} is not a folder")
    if case.search_name is not None:
        try:
            saved_search(app_confs(app_dir, case.local), case.search_name)
        except (InputError, ConfError) as exc:       # name the test it came from
            raise SpecError(f"{where}: {exc}") from None


def run_case(case: Case, app_dir: Optional[Path]) -> List[CaseResult]:
    """One CaseResult per expectation of the case."""
    suite, classname = str(case.spec), case.name
    if case.skip is not None:
        return [CaseResult(suite, classname, e.label, skipped=case.skip) for e in case.expectations]
    start = time.monotonic()
    confs = app_confs(app_dir, case.local)
    search = case.search_text if case.search_text is not None else saved_search(confs, case.search_name or "")
    label = f"saved search {case.search_name!r}" if case.search_name else f"the search of {case.spec.name}"
    outcome = run_search(confs, search, label, case.data, origin=case.origin, saved_name=case.search_name)
    seconds = (time.monotonic() - start) / max(1, len(case.expectations))
    if outcome.error is not None:
        error = outcome.error + (f"\n{outcome.pointer}" if outcome.pointer else "")
        return [CaseResult(suite, classname, e.label, seconds, error=error) for e in case.expectations]
    results: Sequence[Result] = result_dicts(outcome.fields, outcome.rows)
    return [CaseResult(suite, classname, e.label, seconds, failure=e.check(results)) for e in case.expectations]


def run_cases(cases: Sequence[Case], app_dir: Optional[Path],
              report: Callable[[CaseResult], None] = lambda r: None) -> List[CaseResult]:
    for case in cases:                 # every input problem is reported before any search runs
        if case.skip is None:
            _check_inputs(case, app_dir)
    out: List[CaseResult] = []
    for case in cases:
        for r in run_case(case, app_dir):
            report(r)
            out.append(r)
    return out


def describe(r: CaseResult) -> str:
    text = f"{r.status:5} {r.suite} :: {r.classname} :: {r.name}"
    detail = r.error or r.failure or r.skipped
    if detail and r.status != "PASS":
        text += "\n" + "\n".join("      " + line for line in detail.splitlines())
    return text


def tally(results: Sequence[CaseResult]) -> str:
    n = {s: sum(r.status == s for r in results) for s in ("PASS", "FAIL", "ERROR", "SKIP")}
    line = f"{n['PASS']} passed, {n['FAIL']} failed"
    if n["ERROR"]:
        line += f", {n['ERROR']} errors"
    if n["SKIP"]:
        line += f", {n['SKIP']} skipped"
    return line
