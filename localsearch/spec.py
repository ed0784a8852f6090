"""Reading test specs for `localsearch test`: the project's YAML spec, or a contentctl detection YAML
(localsearch/contentctl.py). Every problem is a SpecError naming the file and the place in it.

    tests:
      - name: wmiexec child is found
        search: Endpoint - Process Execution via WMI - Rule   # saved search; default: the tstats rule
        data: [../samples]                                  # files or folders, relative to the spec file
        local: tuning/                                      # optional local/ overlay, relative too
        expect:
          count: 2                  # exact; or min_count / max_count
          rows:                     # each must match at least one result
            - {process_name: cmd.exe, risk_score: "49"}
          absent:                   # no result may match
            - {process_name: agent.exe}

Paths may use `${NAME}` or `${NAME:-default}` for environment variables (e.g. where shared data lives).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from .expect import Absent, Count, Expectation, Pattern, Row, show
from .runner import InputError

DEFAULT_SEARCH = "Endpoint - Process Execution via WMI - Rule"
TEST_KEYS = {"name", "search", "data", "local", "expect"}
EXPECT_KEYS = {"count": "==", "min_count": ">=", "max_count": "<="}


class SpecError(InputError):
    """A spec that cannot be read or is not valid; the message names the file and where."""


@dataclass
class Case:
    """One test: a search over data, with its expectations."""
    spec: Path
    name: str
    data: List[Path]
    expectations: List[Expectation]
    search_name: Optional[str] = None      # a saved search of the app ...
    search_text: Optional[str] = None      # ... or SPL given in the file (contentctl)
    local: Optional[Path] = None
    origin: Optional[Tuple[str, str]] = None   # (source, sourcetype) the data is indexed with (contentctl)
    skip: Optional[str] = None             # why the test is not run (contentctl's skip rules)


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys (PyYAML would keep the last one silently)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Dict[Any, Any]:
    seen: Dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", mark)
        seen[key] = loader.construct_object(value_node, deep=deep)
    return seen


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{path}{where}: not valid YAML: {problem}") from None


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_path(text: str, base: Path, where: str) -> Path:
    """`${NAME}` / `${NAME:-default}` expanded, then relative to `base` (the spec's folder)."""
    def var(m: "re.Match[str]") -> str:
        value = os.environ.get(m.group(1))
        if value:
            return value
        if m.group(2) is not None:
            return m.group(2)
        raise SpecError(f"{where}: environment variable {m.group(1)} is not set (in {text!r})")
    path = Path(_VAR.sub(var, text)).expanduser()
    return path if path.is_absolute() else base / path


def _pattern(value: Any, where: str) -> Pattern:
    if not isinstance(value, dict) or not value:
        raise SpecError(f"{where}: expected a mapping of field: value, got {value!r}")
    out: Pattern = {}
    for k, v in value.items():
        if not isinstance(k, str):
            raise SpecError(f"{where}: field names are text, got {k!r}")
        if isinstance(v, bool) or not (v is None or isinstance(v, (str, int, float))):
            raise SpecError(f"{where}: value of {k} must be text, a number or null, got {v!r} "
                            "(quote it to match the text)")
        out[k] = None if v is None else str(v)
    return out


def _expectations(expect: Any, where: str) -> List[Expectation]:
    if not isinstance(expect, dict) or not expect:
        raise SpecError(f"{where}: expect must be a mapping with count, min_count, max_count, rows or absent")
    unknown = set(expect) - set(EXPECT_KEYS) - {"rows", "absent"}
    if unknown:
        raise SpecError(f"{where}: unknown key(s) in expect: {', '.join(sorted(map(str, unknown)))}")
    out: List[Expectation] = []
    for key, op in EXPECT_KEYS.items():
        if key in expect:
            n = expect[key]
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise SpecError(f"{where}: expect.{key} must be a whole number >= 0, got {n!r}")
            out.append(Count(f"{key.replace('_', ' ')} {n}" if key != "count" else f"count {n}", op, n))
    for key, kind in (("rows", Row), ("absent", Absent)):
        items = expect.get(key, [])
        if not isinstance(items, list):
            raise SpecError(f"{where}: expect.{key} must be a list of field: value mappings")
        for i, item in enumerate(items):
            pattern = _pattern(item, f"{where}: expect.{key}[{i}]")
            out.append(kind(f"{'row' if key == 'rows' else 'absent'} {show(pattern)}", pattern))
    return out


def _case(item: Any, path: Path, index: int) -> Case:
    where = f"{path}: tests[{index}]"
    if not isinstance(item, dict):
        raise SpecError(f"{where}: expected a mapping with name, data and expect, got {item!r}")
    if isinstance(item.get("name"), str):
        where += f" ({item['name']!r})"
    unknown = set(item) - TEST_KEYS
    if unknown:
        raise SpecError(f"{where}: unknown key(s): {', '.join(sorted(map(str, unknown)))} "
                        f"(expected {', '.join(sorted(TEST_KEYS))})")
    for key in ("name", "data", "expect"):
        if key not in item:
            raise SpecError(f"{where}: {key} is required")
    name, search = item["name"], item.get("search", DEFAULT_SEARCH)
    if not isinstance(name, str) or not name.strip():
        raise SpecError(f"{where}: name must be non-empty text")
    if not isinstance(search, str) or not search.strip():
        raise SpecError(f"{where}: search must be the name of a saved search")
    data = item["data"] if isinstance(item["data"], list) else [item["data"]]
    if not data or not all(isinstance(d, str) and d for d in data):
        raise SpecError(f"{where}: data must be a path or a list of paths")
    paths = [expand_path(d, path.parent, where) for d in data]
    local = item.get("local")
    if local is not None and not isinstance(local, str):
        raise SpecError(f"{where}: local must be a folder path")
    return Case(spec=path, name=name, data=paths, expectations=_expectations(item["expect"], where),
                search_name=search, local=expand_path(local, path.parent, where) if local else None)


def load_spec(path: Path, data_dir: Optional[Path] = None) -> List[Case]:
    """The cases of one spec file or contentctl detection YAML."""
    doc = read_yaml(path)
    from . import contentctl
    if contentctl.is_detection(doc):
        return contentctl.cases(doc, path, data_dir)
    if not isinstance(doc, dict) or "tests" not in doc:
        raise SpecError(f"{path}: expected a mapping with a `tests:` list (a localsearch spec) or a contentctl "
                        "detection (name, search, tests with attack_data)")
    unknown = set(doc) - {"tests"}
    if unknown:
        raise SpecError(f"{path}: unknown top-level key(s): {', '.join(sorted(map(str, unknown)))}")
    if not isinstance(doc["tests"], list) or not doc["tests"]:
        raise SpecError(f"{path}: tests must be a non-empty list")
    cases = [_case(item, path, i) for i, item in enumerate(doc["tests"])]
    names = [c.name for c in cases]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SpecError(f"{path}: test names must be unique: {', '.join(map(repr, dup))}")
    return cases
