"""What the loaded files hold, asked after loading: does a field exist in any event, and do files that mapped
no process creation hold process creations in a layout the runner does not know.

FieldPresence answers for the raw-event search's missing-field warnings. Without a prefilter the field names of
every event are known from pass 1. With one, only the candidate lines' names are; for a name they lack, the
files are read again until one record has it as a top-level key (`LIMIT 1`: cheap when it exists, one text
scan when it does not), so the warning says the same with and without the prefilter.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Collection, Dict, List, Mapping, Sequence, Tuple

import duckdb

from ..sqltext import sql_literal
from .layouts import PROCESS_HINTS, incomplete_layout_warning, unknown_layout_warning

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.@# -]+")      # keys JSON can spell only as themselves or with \u escapes
ESCAPE_SQL = r"regexp_matches(json, '\\u[0-9A-Fa-f]{4}')"


def _paths(files: Sequence[str]) -> str:
    return "[" + ", ".join(sql_literal(f) for f in files) + "]"


def key_test_sql(key: str) -> str:
    """SQL on a raw line `json`: the record has top-level key `key` (a text test first where it is sound)."""
    exact = f"list_contains(json_keys(json), {sql_literal(key)})"
    if _PLAIN_KEY.fullmatch(key):
        return f"((contains(json, {sql_literal(chr(34) + key + chr(34))}) OR {ESCAPE_SQL}) AND {exact})"
    return exact


class FieldPresence:
    """field_exists(name): whether any loaded event has the raw field `name` (a Splunk field name; raw keys
    renamed `extracted_<key>` are asked by that name)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, files: Sequence[str], known: Collection[str],
                 complete: bool, renamed: Mapping[str, str]) -> None:
        self._con = con
        self._files = list(files)
        self._known = set(known)
        self._complete = complete
        self._renamed = dict(renamed)         # Splunk field name -> raw key, for renamed keys
        self._cache: Dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        key = self._renamed.get(name, name)
        if key in self._known:
            return True
        if self._complete or not self._files:
            return False
        if key not in self._cache:
            row = self._con.execute(f"SELECT 1 FROM read_ndjson_objects({_paths(self._files)}) "
                                    f"WHERE {key_test_sql(key)} LIMIT 1").fetchone()
            self._cache[key] = row is not None
        return self._cache[key]


def unknown_layout_warnings(con: duckdb.DuckDBPyConnection, files: Dict[str, Path],
                            mapped: Mapping[str, Tuple[int, int]]) -> List[str]:
    """For the JSON files read where they are (`files`: SQL path -> the user's path; `mapped`: per file, the
    process creations mapped and those lacking a field their source always carries): a warning for each file
    with incomplete process creations, and for each that mapped none but holds records with a
    process-creation field (layouts.PROCESS_HINTS)."""
    out = [incomplete_layout_warning(files[f], mapped[f][1]) for f in files if f in mapped and mapped[f][1]]
    empty = [f for f in files if not mapped.get(f, (0, 0))[0]]
    if not empty:
        return out
    cond = " OR ".join(key_test_sql(h) for h in PROCESS_HINTS)
    rows = con.execute(f"SELECT filename, count(*) FROM read_ndjson_objects({_paths(empty)}, filename = true) "
                       f"WHERE {cond} GROUP BY filename").fetchall()
    found: Dict[str, int] = {f: n for f, n in rows}
    return out + [unknown_layout_warning(files[f], found[f]) for f in empty if found.get(f)]

