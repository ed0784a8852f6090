"""Naming of SQL columns for case-sensitive Splunk field names (pure).

DuckDB identifiers are case-insensitive, Splunk field names are not: raw `User` (Sysmon) and CIM `user`
are different fields. Each field gets its own name when its lower-case form is free, otherwise
`<name>#2`, `<name>#3`, ... Raw fields claim names first (most frequent spelling first), then the
fields the ingest layer derives (Splunk default fields, CIM aliases).
"""
from __future__ import annotations

from typing import Dict, Iterable, Mapping


def quote_ident(name: str) -> str:
    """SQL-quote an identifier (DuckDB: double quotes, embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def assign_columns(raw_counts: Mapping[str, int], derived: Iterable[str],
                   prefer: Iterable[str] = ()) -> Dict[str, str]:
    """Splunk field name -> unquoted SQL column name, unique case-insensitively.

    raw_counts: raw field name -> number of events carrying it (decides which spelling of a
    case-insensitive group keeps the plain name; names in `prefer` win over others, e.g. the EventData
    `ProcessId` over the System `ProcessID` when both are in every event). derived: names added by ingest, in priority order;
    a derived name equal (exactly) to a raw name is the same field and gets no extra column.
    """
    taken: set = set()
    out: Dict[str, str] = {}

    def claim(name: str) -> None:
        if name in out:
            return
        col, n = name, 1
        while col.lower() in taken:
            n += 1
            col = f"{name}#{n}"
        taken.add(col.lower())
        out[name] = col

    pref = set(prefer)
    for name in sorted(raw_counts, key=lambda k: (k not in pref, -raw_counts[k], k)):
        claim(name)
    for name in derived:
        claim(name)
    return out
