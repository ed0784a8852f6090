"""Runs an SPL pipeline on a DuckDB connection holding the `events` and `processes` tables.

Every command turns the current result set (a temporary table with an `__ord` row-order column and
generated column names) into a new one; a `Col` maps each Splunk field name (case-sensitive) to its SQL
column. Custom search commands from commands.conf run as real subprocesses through
`localsearch.chunked.run_streaming_command`, fed in chunks like splunkd feeds them.
"""
from __future__ import annotations

import csv
import re
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import duckdb

from .conf import AppConfs
from .spl.commands import (ConvertCmd, FieldsCmd, LookupCmd, RenameCmd, SearchCmd, TableCmd,
                           TstatsCmd, WhereCmd, parse_command, split_args)
from .spl.errors import SplError, Unsupported
from .spl.expr import SearchNode, parse_search
from .spl.lexer import WORD, split_pipeline, tokenize
from .spl.macros import expand_macros
from .spl.sql import Col, compile_search, compile_where, like_pattern, lit, resolver_for, text_of

Value = object   # str | list[str] | None

DATAMODEL = "Endpoint.Processes"
DATAMODEL_INTERNAL = ("_time", "host", "source", "sourcetype")
CHUNK_SIZE = 50_000


def reads_raw_events(expanded: str) -> bool:
    """Whether a (macro-expanded) search reads raw events; False when it starts with `| tstats`, which
    reads only the data model, so the loader can skip building the raw `events` view."""
    segments = split_pipeline(expanded)
    if segments[0][0] != "" or len(segments) < 2:
        return True
    words = segments[1][0].split(None, 1)
    return not words or words[0].lower() != "tstats"


class CommandError(SplError):
    """A custom search command failed; the message carries the command's ERROR messages."""


@dataclass
class Result:
    fields: List[str]
    rows: List[List[Value]]
    messages: List[Tuple[str, str]] = field(default_factory=list)   # (level, text) from custom commands
    warnings: List[str] = field(default_factory=list)
    search: str = ""                                               # the expanded search


@dataclass
class Frame:
    table: str
    cols: List[Col]

    def names(self) -> List[str]:
        return [c.name for c in self.cols]


def wildcard_regex(pattern: str) -> "re.Pattern[str]":
    return re.compile("^" + "(.*)".join(re.escape(p) for p in pattern.split("*")) + "$", re.S)


def number_text(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def to_value(value: object) -> Value:
    """A DuckDB value as Splunk represents it: text, a list of texts (multivalue) or None (no value)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        items = [v for v in (to_value(x) for x in value) if v is not None]
        flat: List[str] = []
        for v in items:
            flat.extend(v if isinstance(v, list) else [v])
        if not flat:
            return None
        return flat[0] if len(flat) == 1 else flat
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_text(value)
    text = str(value)
    return text if text != "" else None


class SearchEngine:
    def __init__(self, con, columns: Dict[str, Dict[str, str]], confs: AppConfs, *,
                 earliest: Optional[float] = None, latest: Optional[float] = None,
                 app_name: str = "DA-ESS-WmiProcessExecution", chunk_size: int = CHUNK_SIZE,
                 python: str = sys.executable, command_runner: Optional[Callable] = None,
                 events_label: Optional[str] = None):
        self.con = con
        # how warnings name the `events` rows when the loader holds only a prefiltered part of them
        self.events_label = events_label
        self.columns = columns
        self.confs = confs
        self.earliest = earliest
        self.latest = latest
        self.app_name = app_name
        self.chunk_size = chunk_size
        self.python = python
        self.command_runner = command_runner
        self._n = 0
        self.messages: List[Tuple[str, str]] = []
        self.warnings: List[str] = []
        self.search = ""

    # ---- entry points ----------------------------------------------------------------------------
    def expand(self, search: str) -> str:
        return expand_macros(search, self.confs.conf("macros"))

    def run(self, search: str) -> Result:
        expanded = self.expand(search)
        self.search = expanded
        frame = self.run_pipeline(expanded)
        fields, rows = self.fetch(frame)
        return Result(fields, rows, list(self.messages), list(self.warnings), expanded)

    def run_pipeline(self, text: str) -> Frame:
        segments = split_pipeline(text)
        frame: Optional[Frame] = None
        if segments[0][0] == "":
            if len(segments) == 1:
                raise SplError("empty search")
            segments = segments[1:]
            first_text, first_pos = segments[0]
            name, rest, rest_pos = self._split_name(first_text, first_pos)
            if name.lower() != "tstats":
                raise Unsupported(f"generating command {name}" if name else "empty command", first_pos)
            cmd = self._parse(name, rest, rest_pos, len(text))
            frame = self.tstats(cmd)
            segments = segments[1:]
        else:
            first_text, first_pos = segments[0]
            name, rest, rest_pos = self._split_name(first_text, first_pos)
            if name.lower() == "search":
                first_text, first_pos = rest, rest_pos
            tokens = tokenize(first_text, first_pos)
            self._no_subsearch(tokens)
            frame = self.raw_search(parse_search(tokens, len(text)))
            segments = segments[1:]
        for seg_text, seg_pos in segments:
            name, rest, rest_pos = self._split_name(seg_text, seg_pos)
            if not name:
                raise SplError("empty command between pipes", seg_pos)
            frame = self.apply(frame, name, rest, rest_pos, len(text))
        return frame

    # ---- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def _split_name(text: str, pos: int) -> Tuple[str, str, int]:
        m = re.match(r"(\S+)(\s*)", text)
        if not m:
            return "", "", pos
        return m.group(1), text[m.end():], pos + m.end()

    @staticmethod
    def _no_subsearch(tokens) -> None:
        for tok in tokens:
            if tok.kind == WORD and tok.value.startswith("["):
                raise Unsupported("subsearch [ ... ]", tok.pos)

    def _parse(self, name: str, rest: str, rest_pos: int, end: int):
        cmd = parse_command(name, rest, rest_pos, end)
        if cmd is not None:
            self._no_subsearch(tokenize(rest, rest_pos, single_quotes=True) if "[" in rest else [])
        return cmd

    def _new_table(self) -> str:
        self._n += 1
        return f"_ls_r{self._n}"

    def _types(self, table: str) -> Dict[str, str]:
        return {row[0]: row[1] for row in self.con.execute(f"DESCRIBE {table}").fetchall()}

    def materialize(self, source: str, exprs: List[Tuple[str, str]], where: str = "TRUE",
                    order: str = "__ord") -> Frame:
        """New temporary table from SELECT exprs FROM source WHERE where (row order kept)."""
        table = self._new_table()
        select = ", ".join([f"row_number() OVER (ORDER BY {order}) AS __ord"] +
                           [f"{sql} AS c{i}" for i, (_, sql) in enumerate(exprs)])
        try:
            self.con.execute(f"CREATE TEMP TABLE {table} AS SELECT {select} FROM {source} WHERE {where} "
                             f"ORDER BY {order}")
        except duckdb.Error as exc:     # e.g. a regex RE2 rejects: an error of the search, not a crash
            raise SplError(f"the search cannot run locally: {str(exc).splitlines()[0]}") from None
        types = self._types(table)
        return Frame(table, [Col(name, f"c{i}", types[f"c{i}"]) for i, (name, _) in enumerate(exprs)])

    def _base_cols(self, table: str) -> List[Col]:
        mapping = self.columns.get(table)
        if mapping is None:
            raise SplError(f"no '{table}' table was loaded")
        types = self._types(table)
        cols = []
        for name, quoted in mapping.items():
            raw = quoted[1:-1].replace('""', '"') if quoted.startswith('"') else quoted
            cols.append(Col(name, quoted, types.get(raw, "VARCHAR")))
        return cols

    def _time_filter(self, time_sql: Optional[str], table: str, label: Optional[str] = None) -> str:
        conds = []
        if self.earliest is not None:
            conds.append(f"{time_sql} >= {self.earliest!r}")
        if self.latest is not None:
            conds.append(f"{time_sql} < {self.latest!r}")
        if conds and time_sql is None:
            raise SplError("the loaded data has no _time field, so --earliest/--latest cannot apply")
        if conds:
            untimed = self.con.execute(f"SELECT count(*) FROM {table} WHERE {time_sql} IS NULL").fetchone()[0]
            if untimed:
                self.warnings.append(f"{untimed} events in {label or table} have no readable time: outside any "
                                     f"--earliest/--latest window")
        return " AND ".join(conds) if conds else "TRUE"

    def _warn_missing(self, missing: List[str], where: str) -> None:
        for name in missing:
            self.warnings.append(f"field {name} does not exist in {where}: conditions on it match nothing")

    # ---- generating / leading commands ---------------------------------------------------------------
    def raw_search(self, expr: SearchNode) -> Frame:
        cols = self._base_cols("events")
        missing: List[str] = []
        pred = compile_search(expr, resolver_for(cols, missing))
        self._warn_missing(missing, self.events_label or "the loaded events")
        time_col = next((c for c in cols if c.name == "_time"), None)
        where = f"({pred}) AND {self._time_filter(time_col.sql if time_col else None, 'events', self.events_label)}"
        order = f"{time_col.sql} DESC" if time_col else "1"
        return self.materialize("events", [(c.name, c.sql) for c in cols], where, order)

    def tstats(self, cmd: TstatsCmd) -> Frame:
        if cmd.datamodel != DATAMODEL:
            raise Unsupported(f"tstats datamodel={cmd.datamodel} (only {DATAMODEL} is loaded)", cmd.pos)
        fill = cmd.options.get("fillnull_value")
        base = {c.name: c for c in self._base_cols("processes")}
        prefix = DATAMODEL.split(".")[1] + "."
        missing: List[str] = []

        def resolve(name: str, pos: int) -> Optional[Col]:
            if name.lower() == "nodename":
                raise Unsupported("tstats nodename= (the data model has one dataset, Processes)", pos)
            key = name[len(prefix):] if name.startswith(prefix) else (name if name in DATAMODEL_INTERNAL else None)
            col = base.get(key) if key is not None else None
            if col is None and name not in missing:
                missing.append(name)
            return col

        pred = compile_search(cmd.where, resolve) if cmd.where is not None else "TRUE"
        time_col = base.get("_time")
        where = [f"({pred})", self._time_filter(time_col.sql if time_col else None, 'processes')]
        exprs: List[Tuple[str, str]] = []
        keys = []
        for name in cmd.by:
            col = resolve(name, cmd.pos)
            sql = text_of(col.sql, col.type) if col is not None else "CAST(NULL AS VARCHAR)"
            if fill is not None:
                sql = f"COALESCE({sql}, {lit(fill)})"
            else:
                where.append(f"({sql}) IS NOT NULL")
            exprs.append((name, sql))
            keys.append(sql)
        for agg in cmd.aggregates:
            col = resolve(agg.field, agg.pos) if agg.field is not None else None
            exprs.append((agg.name, self._aggregate(agg.func, col, agg.field)))
        self._warn_missing(missing, f"the {DATAMODEL} data")
        inner_cols = ", ".join(f"{sql} AS k{i}" for i, (_, sql) in enumerate(exprs))
        group = f" GROUP BY {', '.join(f'k{i}' for i in range(len(keys)))}" if keys else ""
        sub = f"(SELECT {inner_cols} FROM processes WHERE {' AND '.join(where)}{group}) AS g"
        order = ", ".join(f"k{i}" for i in range(len(keys))) or "1"
        return self.materialize(sub, [(name, f"k{i}") for i, (name, _) in enumerate(exprs)], "TRUE", order)

    @staticmethod
    def _aggregate(func: str, col: Optional[Col], name: Optional[str]) -> str:
        if func == "count":
            if name is None:
                return "count(*)"
            return f"count({col.sql})" if col is not None else "0"
        if col is None:
            return "0" if func == "dc" else "CAST(NULL AS VARCHAR)"
        text = text_of(col.sql, col.type)
        if func == "dc":
            return f"count(DISTINCT {text})"
        if func == "values":
            return f"list_sort(list_distinct(list({text}) FILTER (WHERE {col.sql} IS NOT NULL)))"
        if col.is_number:
            return f"{func}({col.sql})"
        # min/max: numeric when every value is a number, else lexicographic (as stats does)
        return (f"(CASE WHEN count({col.sql}) = count(TRY_CAST({col.sql} AS DOUBLE)) "
                f"THEN {text_of(f'{func}(TRY_CAST({col.sql} AS DOUBLE))', 'DOUBLE')} ELSE {func}({col.sql}) END)")

    # ---- streaming commands ------------------------------------------------------------------------
    def apply(self, frame: Frame, name: str, rest: str, pos: int, end: int) -> Frame:
        cmd = self._parse(name, rest, pos, end)
        if cmd is None:
            return self.custom(frame, name, rest, pos)
        if isinstance(cmd, TstatsCmd):
            raise Unsupported("tstats after the first command (prestats/append)", pos)
        if isinstance(cmd, SearchCmd):
            pred = compile_search(cmd.expr, resolver_for(frame.cols))
            return self.materialize(frame.table, [(c.name, c.sql) for c in frame.cols], pred)
        if isinstance(cmd, WhereCmd):
            pred = compile_where(cmd.expr, resolver_for(frame.cols))
            return self.materialize(frame.table, [(c.name, c.sql) for c in frame.cols], pred)
        if isinstance(cmd, RenameCmd):
            return Frame(frame.table, rename(frame.cols, cmd.pairs))
        if isinstance(cmd, FieldsCmd):
            return Frame(frame.table, select_fields(frame.cols, cmd.patterns, cmd.remove))
        if isinstance(cmd, TableCmd):
            return Frame(frame.table, table_fields(frame.cols, cmd.patterns))
        if isinstance(cmd, ConvertCmd):
            return self.convert(frame, cmd)
        if isinstance(cmd, LookupCmd):
            return self.lookup(frame, cmd)
        raise Unsupported(f"command {name}", pos)

    def convert(self, frame: Frame, cmd: ConvertCmd) -> Frame:
        fmt = cmd.timeformat
        bad = re.search(r"%(\d*[NQ]|[+:]|s)", fmt)
        if bad:
            raise Unsupported(f"convert timeformat directive %{bad.group(1)}")
        cols = list(frame.cols)
        for func, pattern, as_name, pos in cmd.conversions:
            rx = wildcard_regex(pattern)
            targets = [c for c in cols if rx.match(c.name)]
            if as_name is not None and (len(targets) > 1 or "*" in pattern):
                raise Unsupported("convert with a wildcard field and AS", pos)
            for col in targets:
                expr = self._ctime(col, fmt)
                new = Col(as_name or col.name, expr, "VARCHAR[]" if col.is_list else "VARCHAR")
                if as_name is None:
                    cols[cols.index(col)] = new
                else:
                    cols = [c for c in cols if c.name != as_name] + [new]
        try:
            return self.materialize(frame.table, [(c.name, c.sql) for c in cols])
        except Exception as exc:  # DuckDB rejects a format it cannot render
            raise SplError(f"convert: cannot apply timeformat {fmt!r}: {exc}") from exc

    @staticmethod
    def _ctime(col: Col, fmt: str) -> str:
        def one(x: str, type_: str) -> str:
            num = x if type_ in ("DOUBLE", "FLOAT", "REAL", "BIGINT", "INTEGER", "HUGEINT") \
                else f"TRY_CAST({x} AS DOUBLE)"
            conv = f"strftime(make_timestamp(CAST(round({num} * 1000000) AS BIGINT)), {lit(fmt)})"
            return f"COALESCE({conv}, {text_of(x, type_)})"
        if col.is_list:
            return f"list_transform({col.sql}, lambda x: {one('x', col.type[:-2])})"
        return one(col.sql, col.type)

    # ---- lookup --------------------------------------------------------------------------------------
    def lookup(self, frame: Frame, cmd: LookupCmd) -> Frame:
        spec = self._lookup_spec(cmd)
        path, header, rows = spec["path"], spec["header"], spec["rows"]
        wildcard, ci, max_matches = spec["wildcard"], spec["case_insensitive"], spec["max_matches"]
        for lf, _ in cmd.inputs + cmd.outputs:
            if lf not in header:
                raise SplError(f"lookup {cmd.name}: field {lf!r} is not a column of {path} "
                               f"(columns: {', '.join(header)})", cmd.pos)
        outputs = cmd.outputs or [(h, h) for h in header if h not in {lf for lf, _ in cmd.inputs}]
        # the lookup table: one VARCHAR column per CSV column, LIKE patterns for wildcard fields, file order
        table = self._new_table() + "_lookup"
        idx = {h: i for i, h in enumerate(header)}
        col_defs = [f"l{i} VARCHAR" for i in range(len(header))] + \
                   [f"p{i} VARCHAR" for i in range(len(header))] + ["__lrow BIGINT"]
        self.con.execute(f"CREATE TEMP TABLE {table} ({', '.join(col_defs)})")
        params = []
        for n, row in enumerate(rows):
            cells = [(row[i] if i < len(row) and row[i] != "" else None) for i in range(len(header))]
            pats = [like_pattern(c) if c is not None else None for c in cells]
            params.append(cells + pats + [n])
        if params:
            self.con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * (2 * len(header) + 1))})",
                                 params)
        by_name = {c.name: c for c in frame.cols}
        conds = []
        for lf, ef in cmd.inputs:
            col = by_name.get(ef)
            if col is None:
                conds.append("FALSE")
                continue
            if col.is_list:
                raise Unsupported(f"lookup input from multivalue field {ef}", cmd.pos)
            x = text_of(_qualified(col), col.type)
            i = idx[lf]
            if lf in wildcard:
                fn = "ilike_escape" if ci else "like_escape"
                conds.append(f"{fn}({x}, l.p{i}, '\\')")
            elif ci:
                conds.append(f"lower({x}) = lower(l.l{i})")
            else:
                conds.append(f"{x} = l.l{i}")
        struct = ", ".join(f"o{j} := l.l{idx[lf]}" for j, (lf, _) in enumerate(outputs))
        matches = (f"(SELECT list(struct_pack({struct}) ORDER BY l.__lrow) FROM {table} AS l "
                   f"WHERE {' AND '.join(conds)})")
        joined = self._new_table() + "_m"
        # carry every current column plus the list of matching lookup rows
        exprs = [f"{_qualified(c)} AS x{k}" for k, c in enumerate(frame.cols)]
        self.con.execute(f"CREATE TEMP TABLE {joined} AS SELECT t.__ord AS __ord, "
                         f"{', '.join(exprs + [matches + ' AS __m'])} FROM {frame.table} AS t")
        cols = [Col(c.name, f"x{k}", c.type) for k, c in enumerate(frame.cols)]
        for j, (lf, ef) in enumerate(outputs):
            if max_matches == 1:
                new_sql, new_type = f"__m[1].o{j}", "VARCHAR"
            else:
                new_sql = (f"list_filter(list_transform(__m[1:{max_matches}], lambda s: s.o{j}), "
                           f"lambda v: v IS NOT NULL)")
                new_type = "VARCHAR[]"
            existing = next((c for c in cols if c.name == ef), None)
            if existing is not None and cmd.mode == "OUTPUTNEW":
                # OUTPUTNEW only fills results where the field has no value
                if existing.is_list:
                    old = f"list_transform({existing.sql}, lambda v: {text_of('v', existing.type[:-2])})"
                    has = f"({existing.sql} IS NOT NULL AND len({existing.sql}) > 0)"
                else:
                    old = text_of(existing.sql, existing.type)
                    has = f"({existing.sql} IS NOT NULL)"
                if new_type == "VARCHAR" and existing.is_list:
                    new_sql, new_type = f"[{new_sql}]", "VARCHAR[]"
                if new_type == "VARCHAR[]" and not existing.is_list:
                    old = f"[{old}]"
                new_sql = f"(CASE WHEN {has} THEN {old} ELSE {new_sql} END)"
            cols = [c for c in cols if c.name != ef] + [Col(ef, new_sql, new_type)]
        return self.materialize(joined, [(c.name, c.sql) for c in cols])

    def _lookup_spec(self, cmd: LookupCmd) -> dict:
        transforms = self.confs.conf("transforms")
        lookups_dir = self.confs.app_dir / "lookups"
        if transforms.has_stanza(cmd.name):
            st = cmd.name
            for key in ("external_type", "collection", "external_cmd"):
                if transforms.get(st, key):
                    raise Unsupported(f"lookup {cmd.name}: {key} lookups (only CSV files)", cmd.pos)
            if transforms.get(st, "time_field"):
                raise Unsupported(f"lookup {cmd.name}: time-based lookups (time_field)", cmd.pos)
            filename = transforms.get(st, "filename")
            if not filename:
                raise SplError(f"lookup {cmd.name}: no filename in {transforms.where(st)}", cmd.pos)
            match_type = transforms.get(st, "match_type") or ""
            ci = (transforms.get(st, "case_sensitive_match") or "true").strip().lower() in \
                ("0", "false", "f", "no", "n")
            max_matches = _conf_int(transforms, st, "max_matches", 100, cmd.pos)
            if _conf_int(transforms, st, "min_matches", 0, cmd.pos) > 0:
                raise Unsupported(f"lookup {cmd.name}: min_matches/default_match", cmd.pos)
            where = transforms.where(st)
        elif cmd.name.endswith(".csv"):
            filename, match_type, ci, max_matches, where = cmd.name, "", False, 100, "lookup file"
        else:
            raise SplError(f"lookup {cmd.name} is not defined in transforms.conf (default/ or local/) "
                           f"and is not a .csv file", cmd.pos)
        wildcard = set()
        for m in re.finditer(r"(\w+)\s*\(([^)]*)\)", match_type):
            kind, fld = m.group(1).upper(), m.group(2).strip()
            if kind == "WILDCARD":
                wildcard.add(fld)
            elif kind != "EXACT":
                raise Unsupported(f"lookup {cmd.name}: match_type {kind}", cmd.pos)
        if not 1 <= max_matches <= 1000:
            raise SplError(f"lookup {cmd.name}: max_matches must be 1-1000 ({where})", cmd.pos)
        path = lookups_dir / filename
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.reader(fh)
                header = next(reader, None)
                rows = [r for r in reader if any(cell != "" for cell in r)]
        except OSError as exc:
            raise SplError(f"lookup {cmd.name}: cannot read {path}: {exc.strerror or exc}", cmd.pos) from exc
        if not header:
            raise SplError(f"lookup {cmd.name}: {path} has no header row", cmd.pos)
        return {"path": path, "header": header, "rows": rows, "wildcard": wildcard,
                "case_insensitive": ci, "max_matches": max_matches}

    # ---- custom search commands ------------------------------------------------------------------------
    def custom(self, frame: Frame, name: str, rest: str, pos: int) -> Frame:
        commands = self.confs.conf("commands")
        stanza = name if commands.has_stanza(name) else name.lower()
        if not commands.has_stanza(stanza):
            raise Unsupported(f"command {name}", pos)
        filename = commands.get(stanza, "filename")
        if not filename:
            raise SplError(f"command {name}: no filename in {commands.where(stanza)}", pos)
        if (commands.get(stanza, "chunked") or "false").strip().lower() not in ("1", "true", "t", "yes", "y"):
            raise Unsupported(f"command {name}: protocol v1 (chunked is not true)", pos)
        script = self.confs.app_dir / "bin" / filename
        if not filename.endswith(".py") or not script.is_file():
            raise SplError(f"command {name}: {script} does not exist or is not a Python script", pos)
        args, _raw = split_args(rest)
        fields = frame.names()
        runner = self.command_runner
        if runner is None:
            from .chunked import CommandFailed, run_streaming_command
            runner = run_streaming_command
        else:
            from .chunked import CommandFailed
        try:
            out = runner([self.python, str(script)], args, fields, self._rows(frame),
                         chunk_size=self.chunk_size, app=self.app_name, cwd=str(self.confs.app_dir),
                         search=self.search)
        except CommandFailed as exc:
            self.messages.extend(getattr(exc, "messages", []) or [])
            raise CommandError(f"command {name} failed: {exc}") from exc
        self.messages.extend(out.messages)
        return self.load_rows(out.fields, out.rows)

    def _rows(self, frame: Frame) -> Iterator[List[Value]]:
        cur = self.con  # temporary tables are visible on this connection only
        select = ", ".join(c.sql for c in frame.cols) or "NULL"
        cur.execute(f"SELECT {select} FROM {frame.table} ORDER BY __ord")
        while True:
            batch = cur.fetchmany(10_000)
            if not batch:
                break
            for row in batch:
                yield [to_value(v) for v in row[:len(frame.cols)]] if frame.cols else []

    def load_rows(self, fields: Sequence[str], rows: Sequence[Sequence[Value]]) -> Frame:
        """A new result table from Python rows (text, lists of text, None)."""
        table = self._new_table()
        if len(set(fields)) != len(fields):
            raise SplError(f"duplicate field names in command output: {list(fields)}")
        columns: List[list] = [[] for _ in fields]
        is_list = [False] * len(fields)
        for row in rows:
            for i in range(len(fields)):
                v = row[i] if i < len(row) else None
                if isinstance(v, (list, tuple)):
                    is_list[i] = True
                columns[i].append(v)
        selects = ["unnest($1::BIGINT[]) AS __ord"]
        params: List[list] = [list(range(1, len(rows) + 1))]
        for i, values in enumerate(columns):
            if is_list[i]:
                values = [None if v is None else ([v] if isinstance(v, str) else [str(x) for x in v])
                          for v in values]
                typ = "VARCHAR[][]"
            else:
                values = [None if v is None or v == "" else str(v) for v in values]
                typ = "VARCHAR[]"
            params.append(values)
            selects.append(f"unnest(${i + 2}::{typ}) AS c{i}")
        self.con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM (SELECT {', '.join(selects)})", params)
        types = self._types(table)
        return Frame(table, [Col(f, f"c{i}", types[f"c{i}"]) for i, f in enumerate(fields)])

    # ---- results -------------------------------------------------------------------------------------------
    def fetch(self, frame: Frame) -> Tuple[List[str], List[List[Value]]]:
        return frame.names(), list(self._rows(frame))


def _conf_int(conf, stanza: str, key: str, default: int, pos: int) -> int:
    text = (conf.get(stanza, key) or "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise SplError(f"{key} = {text} in {conf.where(stanza)} is not a whole number", pos) from None


def _qualified(col: Col) -> str:
    """A result column referenced through the alias `t` (needed inside correlated subqueries)."""
    return f"t.{col.sql}" if re.fullmatch(r"[a-z]\d+", col.sql) else col.sql


def rename(cols: List[Col], pairs: List[Tuple[str, str, int]]) -> List[Col]:
    out = list(cols)
    for src, dst, pos in pairs:
        if "*" in src:
            rx = wildcard_regex(src)
            if dst.count("*") not in (0, src.count("*")):
                raise SplError(f"rename {src} AS {dst}: wildcards must correspond", pos)
            renamed = []
            for c in out:
                m = rx.match(c.name)
                if m:
                    new = dst
                    for g in m.groups():
                        new = new.replace("*", g, 1)
                    renamed.append((c, new))
            targets = {new for _, new in renamed}
            moved = {id(c) for c, _ in renamed}
            out = [c for c in out if c.name not in targets or id(c) in moved]
            mapping = {id(c): new for c, new in renamed}
            out = [Col(mapping[id(c)], c.sql, c.type) if id(c) in mapping else c for c in out]
        else:
            if "*" in dst:
                raise SplError(f"rename {src} AS {dst}: wildcard in the new name only", pos)
            if not any(c.name == src for c in out):
                continue
            out = [c for c in out if c.name != dst or c.name == src]
            out = [Col(dst, c.sql, c.type) if c.name == src else c for c in out]
    # a wildcard rename can map two fields onto one name: the later one wins, as in Splunk
    seen: Dict[str, int] = {}
    for i, c in enumerate(out):
        seen[c.name] = i
    return [c for i, c in enumerate(out) if seen[c.name] == i]


def _matching(cols: List[Col], patterns: List[str]) -> List[Col]:
    chosen: List[Col] = []
    for p in patterns:
        rx = wildcard_regex(p)
        for c in cols:
            if rx.match(c.name) and c not in chosen:
                chosen.append(c)
    return chosen


def select_fields(cols: List[Col], patterns: List[str], remove: bool) -> List[Col]:
    if remove:
        drop = _matching(cols, patterns)
        return [c for c in cols if c not in drop]
    keep = _matching(cols, patterns)
    for internal in ("_time", "_raw"):      # fields + keeps Splunk's internal fields
        c = next((c for c in cols if c.name == internal), None)
        if c is not None and c not in keep:
            keep.append(c)
    return keep


def table_fields(cols: List[Col], patterns: List[str]) -> List[Col]:
    out: List[Col] = []
    for p in patterns:
        if "*" in p:
            for c in _matching(cols, [p]):
                if c not in out:
                    out.append(c)
        else:
            c = next((c for c in cols if c.name == p), None)
            if c is None:
                c = Col(p, "CAST(NULL AS VARCHAR)", "VARCHAR")
            if all(o.name != p for o in out):
                out.append(c)
    return out
