"""The data-model tables: `processes` (CIM Endpoint.Processes) and the other Endpoint datasets
(sources.DATASETS), built by the SQL mapping in cim.py from the process-creation records pass 1 collected."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import duckdb

from ..sqltext import sql_literal
from . import splunk_export
from .cim import PROCESS_FIELDS, RAW_FIELDS_USED, Mapping
from .columns import quote_ident
from .fieldnames import SYSTEM_ALIASES, with_export_defaults
from .model import LoadReport
from .scan import PROC_TABLE
from .sources import DATASETS, SOURCES, Dataset
from .units import Unit, count_of

PROCESSES_MODEL = "Endpoint.Processes"


@dataclass
class Mapped:
    """Per file read (SQL path, the scan's file column): its rows in each data-model table, and its process
    rows lacking a field their source always carries."""

    rows: Dict[str, Dict[str, int]] = field(default_factory=dict)     # file -> data model -> rows
    lacking: Dict[str, int] = field(default_factory=dict)

    def processes(self) -> Dict[str, Tuple[int, int]]:
        """file -> (process rows, rows lacking a field), for the files that mapped a process creation."""
        return {f: (n[PROCESSES_MODEL], self.lacking.get(f, 0)) for f, n in self.rows.items()
                if n[PROCESSES_MODEL]}


def build_processes(con: duckdb.DuckDBPyConnection, units: List[Unit], report: LoadReport,
                    ev_cols: Dict[str, str]) -> Mapped:
    """The `processes` table (CIM Endpoint.Processes) and the other datasets' tables from the records pass 1
    collected; returns what each file read mapped (by a GROUP BY over the rows the tables are selected from,
    with the same conditions)."""
    needed = sorted(set(RAW_FIELDS_USED) | set(SYSTEM_ALIASES) | set(SYSTEM_ALIASES.values())
                    | {splunk_export.OVERRIDE + n for n in splunk_export.DEFAULTS})

    def pcol(name: str) -> Optional[str]:
        if name in SYSTEM_ALIASES:
            return f"coalesce(p.{quote_ident(name)}, p.{quote_ident(SYSTEM_ALIASES[name])})"
        return f"p.{quote_ident(name)}"

    pm = Mapping(pcol)
    paths = "[" + ", ".join(sql_literal("$." + json.dumps(k)) for k in needed) + "]"
    extract = ", ".join(f"x[{i + 1}] AS {quote_ident(k)}" for i, k in enumerate(needed))
    pcim = pm.cim()
    pdef = with_export_defaults(pm.defaults(), pcol)
    psel = [f"{pdef['_time']} AS \"_time\""]
    for name in PROCESS_FIELDS:
        e = pcim.get(name) or pdef[name]
        psel.append(f"CAST({e} AS VARCHAR) AS {quote_ident(name)}")
    # materialised step by step: DuckDB inlines subquery columns, so each reference to x[i] (or to a
    # field in the CIM expressions) would parse the JSON again
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_proc_x AS SELECT file, json_extract_string(json, {paths}) AS x "
                f"FROM {PROC_TABLE}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_proc_raw AS SELECT file AS _ls_file, {extract} FROM _ls_proc_x")
    con.execute(
        f"""CREATE OR REPLACE TABLE processes AS
            SELECT {', '.join(psel)} FROM _ls_proc_raw AS p
            WHERE {pm.is_process()}
            ORDER BY "_time" """
    )
    lacking = " OR ".join(f"({pm.is_source(s)} AND ({' OR '.join(f'{pcol(r)} IS NULL' for r in s.required)}))"
                          for s in SOURCES if s.required) or "FALSE"
    models = {PROCESSES_MODEL: pm.is_process(), **{d.model: pm.is_dataset(d) for d in DATASETS}}
    counts = ", ".join(f"count(*) FILTER (WHERE {cond})" for cond in models.values())
    mapped = Mapped()
    for f, k, *n in con.execute(f"SELECT _ls_file, count(*) FILTER (WHERE {pm.is_process()} AND ({lacking})), "
                                f"{counts} FROM _ls_proc_raw AS p GROUP BY _ls_file").fetchall():
        mapped.rows[f] = dict(zip(models, n))
        mapped.lacking[f] = k
    ds_cols = {d.table: _build_dataset(con, pm, pdef, d) for d in DATASETS}
    for t in (PROC_TABLE, "_ls_proc_x", "_ls_proc_raw"):
        con.execute(f"DROP TABLE {t}")

    report.events = sum(u.events for u in units)
    report.processes = count_of(con, "SELECT count(*) FROM processes")
    report.mapped = {PROCESSES_MODEL: report.processes,
                     **{d.model: count_of(con, f"SELECT count(*) FROM {quote_ident(d.table)}") for d in DATASETS}}
    report.columns = {
        "events": ev_cols,
        "processes": {"_time": '"_time"', **{f: quote_ident(f) for f in PROCESS_FIELDS}},
        **ds_cols,
    }
    return mapped


def _build_dataset(con: duckdb.DuckDBPyConnection, pm: Mapping, pdef: Dict[str, str], ds: Dataset) -> Dict[str, str]:
    """The table of a CIM Endpoint dataset other than Processes (sources.DATASETS), built like `processes` from
    the records pass 1 collected; returns its columns (name -> SQL identifier)."""
    names = list(ds.fields) + ["host", "source", "sourcetype"]
    exprs = {**pdef, **pm.dataset(ds)}
    sel = [f"{pdef['_time']} AS \"_time\""] + [f"CAST({exprs[n]} AS VARCHAR) AS {quote_ident(n)}" for n in names]
    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(ds.table)} AS SELECT {', '.join(sel)} "
                f"FROM _ls_proc_raw AS p WHERE {pm.is_dataset(ds)} ORDER BY \"_time\"")
    return {"_time": '"_time"', **{n: quote_ident(n) for n in names}}
