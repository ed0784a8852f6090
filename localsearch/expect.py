"""Expectations on a search's results (pure): counts, rows that must or must not be there, and contentctl's
unit-test rule. Each check returns None when it holds, else a text saying what differed.

Values are matched as Splunk's `search` matches `field=value`: `*` is a wildcard for any characters, the
comparison ignores case, a multivalue field matches when one of its values does, and a field without a value
matches nothing (a `null` in an expectation asks for a field without a value).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

Result = Mapping[str, object]          # field -> str or list of str (as `--format jsonl` shows it)
Pattern = Dict[str, Optional[str]]     # field -> Splunk wildcard, or None: the field has no value
MAX_SHOWN = 3                          # results quoted in a failure text


def _regex(pattern: str) -> "re.Pattern[str]":
    return re.compile("".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern)),
                      re.I | re.S)


def value_matches(value: object, pattern: Optional[str]) -> bool:
    if pattern is None:
        return value is None or value == "" or value == []
    values = value if isinstance(value, list) else [] if value is None else [value]
    rx = _regex(pattern)
    return any(rx.fullmatch(str(v)) for v in values)


def mismatches(result: Result, pattern: Pattern) -> List[str]:
    """The fields of `pattern` that `result` does not match."""
    return [f for f, p in pattern.items() if not value_matches(result.get(f), p)]


def show(pattern: Mapping[str, object]) -> str:
    return "{" + ", ".join(f"{k}: {v!r}" if v is not None else f"{k}: null" for k, v in pattern.items()) + "}"


def _shown(result: Result, names: Sequence[str]) -> str:
    return show({n: result.get(n) for n in names})


@dataclass
class Expectation:
    label: str

    def check(self, results: Sequence[Result]) -> Optional[str]:
        raise NotImplementedError


@dataclass
class Count(Expectation):
    op: str        # "==", ">=", "<="
    n: int

    def check(self, results: Sequence[Result]) -> Optional[str]:
        got = len(results)
        ok = {"==": got == self.n, ">=": got >= self.n, "<=": got <= self.n}[self.op]
        return None if ok else f"expected {self.label}, got {got} result{'s' if got != 1 else ''}"


@dataclass
class Row(Expectation):
    pattern: Pattern

    def check(self, results: Sequence[Result]) -> Optional[str]:
        if any(not mismatches(r, self.pattern) for r in results):
            return None
        if not results:
            return f"no result matches {show(self.pattern)}: the search returned no results"
        ranked = sorted(enumerate(results, 1), key=lambda ir: len(mismatches(ir[1], self.pattern)))
        lines = [f"no result matches {show(self.pattern)}; the closest:"]
        for i, r in ranked[:MAX_SHOWN]:
            bad = mismatches(r, self.pattern)
            lines.append(f"  result {i} differs in {', '.join(bad)}: {_shown(r, bad)}")
        return "\n".join(lines)


@dataclass
class Absent(Expectation):
    pattern: Pattern

    def check(self, results: Sequence[Result]) -> Optional[str]:
        hits = [(i, r) for i, r in enumerate(results, 1) if not mismatches(r, self.pattern)]
        if not hits:
            return None
        lines = [f"{len(hits)} result{'s' if len(hits) != 1 else ''} match {show(self.pattern)}, expected none:"]
        lines += [f"  result {i}: {_shown(r, list(r))}" for i, r in hits[:MAX_SHOWN]]
        return "\n".join(lines)


def _null(value: object) -> bool:
    # contentctl reads results as JSON from splunkd, where a field without a value is absent; it treats the
    # text "null" (tstats fillnull_value=null) the same way
    return value is None or value == "null" or value == "" or value == []


@dataclass
class ContentctlUnitTest(Expectation):
    """contentctl's unit-test rule (contentctl/actions/detection_testing/infrastructures/
    DetectionTestingInfrastructure.py, retry_search_until_timeout): the search returns results; results
    are read in order, and the first one with a risk-object field missing or null fails the test; the
    first one with every threat-object field filled passes it; otherwise it fails when a threat-object
    field is null in every result."""
    risk_fields: Tuple[str, ...]
    threat_fields: Tuple[str, ...]

    def check(self, results: Sequence[Result]) -> Optional[str]:
        if not results:
            return "the search returned no results"
        present: set = set()
        for i, r in enumerate(results, 1):
            missing = [f for f in self.risk_fields if f not in r]
            if missing:
                return f"the risk object field(s) {', '.join(missing)} are missing in result {i}"
            for f in self.risk_fields:
                if _null(r.get(f)):
                    return f"the risk object field {f} is null in result {i}: {_shown(r, list(r))}"
            empty = [f for f in self.threat_fields if _null(r.get(f))]
            present |= set(self.threat_fields) - set(empty)
            if not empty:
                return None
        never = [f for f in self.threat_fields if f not in present]
        return f"the threat object field(s) {', '.join(never)} are null in every result" if never else None
