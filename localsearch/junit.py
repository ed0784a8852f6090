"""JUnit XML for `localsearch test --junit FILE`: one <testsuite> per spec file, one <testcase> per
expectation (classname: the test's name, name: the expectation), with <failure>, <error> or <skipped>
saying what differed, in the form CI systems (Jenkins, GitLab, GitHub reporters) read."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional


@dataclass
class CaseResult:
    suite: str                       # the spec file
    classname: str                   # the test
    name: str                        # the expectation
    seconds: float = 0.0
    failure: Optional[str] = None    # the expectation does not hold: what differed
    error: Optional[str] = None      # the test could not run its search
    skipped: Optional[str] = None

    @property
    def status(self) -> str:
        return ("ERROR" if self.error is not None else "FAIL" if self.failure is not None else
                "SKIP" if self.skipped is not None else "PASS")


def _clean(text: str) -> str:
    """XML 1.0 cannot hold most control characters: they are shown as \\xNN."""
    return "".join(c if c in "\t\n\r" or ord(c) >= 0x20 else f"\\x{ord(c):02x}" for c in text)


def to_xml(results: List[CaseResult]) -> ET.ElementTree:
    suites: Dict[str, List[CaseResult]] = {}
    for r in results:
        suites.setdefault(r.suite, []).append(r)
    root = ET.Element("testsuites", name="localsearch test")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite_name, cases in suites.items():
        counts = {"tests": len(cases), "failures": sum(c.status == "FAIL" for c in cases),
                  "errors": sum(c.status == "ERROR" for c in cases), "skipped": sum(c.status == "SKIP" for c in cases)}
        for k, v in counts.items():
            totals[k] += v
        attrs = {"name": _clean(suite_name), "time": f"{sum(c.seconds for c in cases):.3f}",
                 **{k: str(v) for k, v in counts.items()}}
        suite = ET.SubElement(root, "testsuite", attrs)
        for c in cases:
            case = ET.SubElement(suite, "testcase", classname=_clean(c.classname), name=_clean(c.name),
                                 time=f"{c.seconds:.3f}")
            for tag, text in (("error", c.error), ("failure", c.failure), ("skipped", c.skipped)):
                if text is not None:
                    node = ET.SubElement(case, tag, message=_clean(text.splitlines()[0] if text else tag))
                    node.text = _clean(text)
                    break
    for k, v in totals.items():
        root.set(k, str(v))
    return ET.ElementTree(root)


def write_junit(path: Path, results: List[CaseResult]) -> None:
    tree = to_xml(results)
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
