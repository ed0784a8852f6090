"""The `events` view over the NDJSON units: the discovered columns (all VARCHAR), `_time`, the Splunk default
fields, the System-field names and, on process-creation rows, the CIM aliases; case variants of a field name in
side tables matched by record position. See load.py for what the view holds."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import duckdb

from ..sqltext import sql_literal
from .cim import EVENT_ALIASES, RAW_FIELDS_USED, Mapping
from .columns import assign_columns, quote_ident
from .fieldnames import DEFAULT_FIELDS, HIDDEN, SYSTEM_ALIASES, with_export_defaults
from .model import LoadError
from .units import Unit, path_list, unit_groups

MAX_VIEW_FIELDS = 2000


def check_field_count(view_units: List[Unit], units: List[Unit], first: Path) -> None:
    """The events view has a column per distinct field name: past MAX_VIEW_FIELDS the load is refused, naming
    the input with the most names (every query would carry thousands of columns and DuckDB's memory grows
    with them: 10,000 names over 1,000 records took over 15 GB)."""
    names = set().union(*(u.keys for u in view_units)) if view_units else set()
    names = {k for k in names if k and not k.startswith(HIDDEN)}
    if len(names) <= MAX_VIEW_FIELDS:
        return
    worst = max(units, key=lambda u: len(u.keys))
    where = worst.report.path if worst.report is not None else first      # (a bundle holds many inputs)
    raise LoadError(where, f"unsupported in local runs: the events hold {len(names):,} distinct field names, over "
                           f"the {MAX_VIEW_FIELDS:,} a raw-event search can read (a tstats search is not limited)")


def _layers(keys: List[str]) -> List[List[str]]:
    """Split keys into lists without two names equal case-insensitively (one read_json each)."""
    layers: List[List[str]] = []
    for k in keys:
        for layer in layers:
            if all(k.lower() != x.lower() for x in layer):
                layer.append(k)
                break
        else:
            layers.append([k])
    return layers


def _read_json(units: Sequence[Unit], keys: Sequence[str], ordinality: bool = False) -> str:
    """A relation of the records' `keys` (VARCHAR), with their position `ordinality` if asked. For the candidate
    table, json_transform: the same JSON-to-VARCHAR transform read_json applies (numbers re-rendered,
    nested values re-serialised, keys matched alike)."""
    if units[0].table:
        struct = json.dumps({k: "VARCHAR" for k in keys})
        return (f"(SELECT rowid AS ordinality, unnest(json_transform(json, {sql_literal(struct)})) "
                f"FROM {units[0].table})")
    struct = "{" + ", ".join(f"{sql_literal(k)}: 'VARCHAR'" for k in keys) + "}"
    return (f"read_json({path_list(units)}, format = 'newline_delimited', records = true, "
            f"columns = {struct})" + (" WITH ORDINALITY" if ordinality else ""))


def _variant_tables(con: duckdb.DuckDBPyConnection, groups: List[List[Unit]],
                    variants: List[str], cols: Dict[str, str]) -> List[Optional[str]]:
    """For raw fields whose column is not their own name (case variants), a side table per group:
    (ord, <columns>) for the records that carry one of them, matched to the view's rows by position
    (WITH ORDINALITY over the same files in the same order)."""
    out: List[Optional[str]] = []
    for gi, group in enumerate(groups):
        present = [k for k in variants if any(k in u.keys for u in group)]
        if not present:
            out.append(None)
            continue
        parts = []
        for li, layer in enumerate(_layers(present)):
            part = f"_ls_variants_{gi}_{li}"
            sel = ", ".join(f"{quote_ident(k)} AS {quote_ident(cols[k])}" for k in layer)
            cond = " OR ".join(f"{quote_ident(k)} IS NOT NULL" for k in layer)
            con.execute(f"""CREATE OR REPLACE TEMP TABLE {part} AS
                            SELECT ordinality AS ord, {sel} FROM {_read_json(group, layer, True)}
                            WHERE {cond}""")
            parts.append(part)
        name = f"_ls_variants_{gi}"
        if len(parts) == 1:
            con.execute(f"ALTER TABLE {parts[0]} RENAME TO {name}")
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {' FULL JOIN '.join(parts[:1] + [p + ' USING (ord)' for p in parts[1:]])}")
            for part in parts:
                con.execute(f"DROP TABLE {part}")
        out.append(name)
    return out


def build_events(con: duckdb.DuckDBPyConnection, units: List[Unit]) -> Dict[str, str]:
    """The `events` view over the NDJSON files; returns its Splunk field name -> SQL column mapping."""
    raw_counts: Counter = Counter()
    for u in units:
        raw_counts.update(u.keys)
    hidden = sorted(k for k in raw_counts if k.startswith(HIDDEN))
    for k in hidden:
        del raw_counts[k]
    raw_counts.pop("", None)     # an empty JSON key names no field (and no SQL column can be named so)
    # Splunk field name of each raw key
    field_of = {k: (f"extracted_{k}" if k in DEFAULT_FIELDS else k) for k in raw_counts}
    field_counts = {field_of[k]: c for k, c in raw_counts.items()}
    derived = list(SYSTEM_ALIASES) + ["_time", "host", "source", "sourcetype", "index"] + EVENT_ALIASES
    cols = assign_columns(field_counts, derived, prefer=RAW_FIELDS_USED)
    derived_set = set(derived)
    variants = [k for k in raw_counts if cols[field_of[k]] != field_of[k]]
    plain = [k for k in raw_counts if k not in variants]

    groups = unit_groups(units)
    vtables = _variant_tables(con, groups, variants, {k: cols[field_of[k]] for k in variants})

    # events view: one SELECT per group, UNION ALL
    def resolver_for(has_variants: bool, from_text: bool) -> Callable[[str], Optional[str]]:
        def col(name: str) -> Optional[str]:
            if name in SYSTEM_ALIASES:
                alt = SYSTEM_ALIASES[name]
                parts = [e for e in (_raw_ref(name), _raw_ref(alt)) if e is not None]
                return f"coalesce({', '.join(parts)})" if len(parts) > 1 else (parts[0] if parts else None)
            return _raw_ref(name)

        def _raw_ref(name: str) -> Optional[str]:
            if name in hidden:
                return _hidden_ref(name)
            if name not in raw_counts:
                return None
            if name in variants:
                return f"v.{quote_ident(cols[field_of[name]])}" if has_variants else "CAST(NULL AS VARCHAR)"
            if from_text:       # one field per transform: a query parses only for the fields it uses
                return f"struct_extract(json_transform(r.json, {sql_literal(json.dumps({name: 'VARCHAR'}))}), {sql_literal(name)})"
            return f"r.{quote_ident(name)}"

        def _hidden_ref(name: str) -> str:
            if from_text:
                return f"struct_extract(json_transform(r.json, {sql_literal(json.dumps({name: 'VARCHAR'}))}), {sql_literal(name)})"
            return f"r.{quote_ident(name)}"
        return col

    selects = []
    for group, vt in zip(groups, vtables):
        from_text = bool(group[0].table)
        col = resolver_for(vt is not None, from_text)
        m = Mapping(col)
        items: List[Tuple[str, str]] = []
        for k in sorted(raw_counts, key=lambda x: cols[field_of[x]]):
            if field_of[k] in derived_set:
                continue        # same field as a derived one, which coalesces the raw value
            expr = col(k)
            assert expr is not None         # k is a raw field of these events: it always resolves
            items.append((cols[field_of[k]], expr))
        for name in SYSTEM_ALIASES:
            e = col(name)
            items.append((cols[name], e if e is not None else "CAST(NULL AS VARCHAR)"))
        for name, e in with_export_defaults(m.defaults(), col).items():
            items.append((cols[name], e))
        for name, e in m.cim().items():
            raw = col(name) if name in raw_counts else None
            items.append((cols[name], f"coalesce({e}, {raw})" if raw else e))
        sel = ",\n  ".join(f"{e} AS {quote_ident(c)}" for c, e in items)
        # (no field at all: only a prefiltered load without candidates; read_json needs a column)
        if from_text:       # the candidate lines' text: each raw field taken by its own json_transform
            src = f"(SELECT rowid AS ordinality, json FROM {group[0].table})"
        else:
            src = _read_json(group, sorted(plain + hidden) or ["_ls_no_field"], vt is not None)
        if vt is not None:      # record positions only where a side table needs them (they cost time)
            src += f" AS r LEFT JOIN {vt} AS v ON v.ord = r.ordinality"
        else:
            src += " AS r"
        selects.append(f"SELECT\n  {sel}\nFROM {src}")
    con.execute("CREATE OR REPLACE VIEW events AS\n" + "\nUNION ALL\n".join(selects))

    ev_cols: Dict[str, str] = {}
    for k in raw_counts:
        f = field_of[k]
        if f not in derived_set:
            ev_cols[f] = quote_ident(cols[f])
    for name in list(SYSTEM_ALIASES) + ["_time", "host", "source", "sourcetype", "index"] + EVENT_ALIASES:
        ev_cols[name] = quote_ident(cols[name])

    return ev_cols
