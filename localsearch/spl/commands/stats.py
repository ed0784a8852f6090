"""`stats` and `eventstats` (Search Reference: stats, eventstats, "Statistical and charting functions").

Rules: `stats <agg>... [BY <fields>]` gives one result per combination of the by fields' values, ordered by
those values (as text, ascending, like tstats here); a result whose by field has no value is left out; without
BY one result, also over no input (count 0). Functions: `count` (results), `count(f)`/`c(f)` (values of f),
`dc(f)`/`distinct_count(f)` (distinct values), `values(f)` (distinct values, sorted as text), `list(f)` (values
in result order, at most 100), `min`/`max` (numeric when every value is a number, else as text), `sum`, `avg`/
`mean`, `stdev`/`var` (sample: n - 1), `stdevp`/`varp` (population: n) (over the values that are numbers;
the sample figures of a single value are refused when met), `earliest`/`latest` (the value at the smallest / largest `_time`),
`first`/`last` (of the first / last result with a value, in result order). The output field is named as typed
(`dc(user)`) unless `AS` renames it. A multivalue f counts each value (count, dc, values, list).
`eventstats` adds the same aggregates to every result (in place, order kept); results whose by field has no
value get none. Refused: wildcards, `eval(...)` arguments, other functions and options, multivalue by fields.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from ..errors import SplError, Unsupported
from ..eval_sql import UNSUPPORTED
from ..lexer import COMMA, LPAREN, RPAREN, WORD, Token
from ..sql import Col, text_of
from .base import Command, CommandSpec, Frame, Runtime, field_list, name_of, register
from .lookup import qualified

FUNCS = {"count": "count", "c": "count", "dc": "dc", "distinct_count": "dc", "values": "values", "list": "list",
         "min": "min", "max": "max", "sum": "sum", "avg": "avg", "mean": "avg", "earliest": "earliest",
         "latest": "latest", "first": "first", "last": "last", "stdev": "stdev", "stdevp": "stdevp", "var": "var",
         "varp": "varp"}
# sample (n - 1) and population (n) standard deviation and variance over the values that are numbers
SPREAD = {"stdev": "stddev_samp", "stdevp": "stddev_pop", "var": "var_samp", "varp": "var_pop"}
LIST_MAX = 100          # limits.conf [stats] list_maxsize


@dataclass
class StatsAgg:
    func: str              # canonical name (FUNCS values)
    field: Optional[str]
    name: str
    pos: int


@dataclass
class StatsCmd(Command):
    aggregates: List[StatsAgg]
    by: List[str]


@dataclass
class EventstatsCmd(StatsCmd):
    pass


def parse_aggregates(tokens: List[Token], what: str) -> Tuple[List[StatsAgg], List[Token]]:
    """Aggregates up to BY; returns them and the tokens after BY."""
    aggs: List[StatsAgg] = []
    i = 0
    while i < len(tokens) and not tokens[i].is_keyword("BY"):
        tok = tokens[i]
        if tok.kind == COMMA:
            i += 1
            continue
        if tok.kind != WORD:
            raise SplError(f"{what}: unexpected {tok.raw or tok.value!r}", tok.pos)
        if i + 1 < len(tokens) and tokens[i + 1].value == "=" and not aggs:
            raise Unsupported(f"{what} option {tok.value}=", tok.pos)
        func = FUNCS.get(tok.value.lower())
        fld: Optional[str] = None
        if i + 1 < len(tokens) and tokens[i + 1].kind == LPAREN:
            j = i + 2
            if j < len(tokens) and tokens[j].is_word("eval"):
                raise Unsupported(f"{what} {tok.value}(eval(...))", tok.pos)
            if j + 1 >= len(tokens) or tokens[j + 1].kind != RPAREN:
                raise SplError(f"{what}: {tok.value}( needs one field and ')'", tok.pos)
            fld = name_of(tokens[j], what)
            i = j + 2
        else:
            i += 1
        if func is None:
            raise Unsupported(f"{what} function {tok.value}" + ("()" if fld is not None else ""), tok.pos)
        if fld is None and func != "count":
            raise SplError(f"{what}: {tok.value} needs a field, e.g. {tok.value}(user)", tok.pos)
        if fld is not None and "*" in fld:
            raise Unsupported(f"{what} wildcard field {fld}", tok.pos)
        name = tok.value if fld is None else f"{tok.value}({fld})"
        if i + 1 == len(tokens) and tokens[i].is_keyword("AS"):
            raise SplError(f"{what}: AS without a field name", tokens[i].pos)
        if i + 1 < len(tokens) and tokens[i].is_keyword("AS"):
            name = name_of(tokens[i + 1], what)
            i += 2
        aggs.append(StatsAgg(func, fld, name, tok.pos))
    rest = tokens[i + 1:] if i < len(tokens) else []
    if i < len(tokens) and not rest:
        raise SplError(f"{what}: BY without fields", tokens[i].pos)
    return aggs, rest


def _parse(cls: type, what: str):
    def parse(tokens: List[Token], pos: int, end: int) -> StatsCmd:
        aggs, rest = parse_aggregates(tokens, what)
        if not aggs:
            raise SplError(f"{what} needs at least one aggregate such as count", pos)
        for tok in rest:
            if tok.value == "=":
                raise Unsupported(f"{what} by option", tok.pos)
        by = field_list(rest, f"{what} by")
        for name in by:
            if "*" in name:
                raise Unsupported(f"{what} by wildcard field {name}", pos)
        return cls(pos, aggs, by)
    return parse


def aggregate_sql(agg: StatsAgg, col: Optional[Col], time_col: Optional[Col], what: str) -> str:
    """SQL aggregate over the group's rows (ordered by `__ord`)."""
    f = agg.func
    if f == "count" and agg.field is None:
        return "count(*)"
    if col is None:
        return "0" if f in ("count", "dc") else "CAST(NULL AS VARCHAR)"
    if col.is_list:
        flat = f"flatten(list({col.sql} ORDER BY __ord) FILTER (WHERE {col.sql} IS NOT NULL))"
        item = text_of("v", col.type[:-2])
        flat = f"list_filter(list_transform(coalesce({flat}, []), lambda v: {item}), lambda v: v IS NOT NULL)"
        if f == "count":
            return f"len({flat})"
        if f == "dc":
            return f"len(list_distinct({flat}))"
        if f == "values":
            return f"list_sort(list_distinct({flat}))"
        if f == "list":
            return f"{flat}[1:{LIST_MAX}]"
        raise Unsupported(f"{what} {f}() of the multivalue field {agg.field}", agg.pos)
    text = text_of(col.sql, col.type)
    has = f"FILTER (WHERE {col.sql} IS NOT NULL)"
    num = col.sql if col.is_number else f"TRY_CAST({col.sql} AS DOUBLE)"
    if f == "count":
        return f"count({col.sql})"
    if f == "dc":
        return f"count(DISTINCT {text})"
    if f == "values":
        return f"list_sort(list_distinct(list({text}) {has}))"
    if f == "list":
        return f"(list({text} ORDER BY __ord) {has})[1:{LIST_MAX}]"
    if f in ("sum", "avg"):
        return f"{f}(CAST({num} AS DOUBLE))"
    if f in SPREAD:
        value = f"{SPREAD[f]}(CAST({num} AS DOUBLE))"
        if f in ("stdev", "var"):   # the sample figure of one value is not documented
            refuse = f"error('unsupported in local runs: {what} {f}() of a single value')"
            value = f"(CASE WHEN count({num}) = 1 THEN {refuse} ELSE {value} END)"
        return value
    if f in ("min", "max"):
        if col.is_number:
            return f"{f}({col.sql})"
        return (f"(CASE WHEN count({col.sql}) = count({num}) "
                f"THEN {text_of(f'{f}({num})', 'DOUBLE')} ELSE {f}({col.sql}) END)")
    if f in ("first", "last"):
        order = "__ord" if f == "first" else "__ord DESC"
        return f"first({text} ORDER BY {order}) {has}"
    if time_col is None:
        return "CAST(NULL AS VARCHAR)"
    order = f"{time_col.sql}" if f == "earliest" else f"{time_col.sql} DESC"
    return f"first({text} ORDER BY {order}, __ord) {has}"


def _group(cmd: StatsCmd, frame: Frame, what: str) -> Tuple[List[Tuple[str, str]], List[str], str]:
    """(key and aggregate expressions, key SQL, WHERE) for grouping the frame's rows."""
    by_name = {c.name: c for c in frame.cols}
    exprs: List[Tuple[str, str]] = []
    keys, where = [], []
    for name in cmd.by:
        col = by_name.get(name)
        if col is not None and col.is_list:
            raise Unsupported(f"{what} by the multivalue field {name}", cmd.pos)
        sql = text_of(col.sql, col.type) if col is not None else "CAST(NULL AS VARCHAR)"
        if name == "_time" and col is not None and col.is_number:
            sql = col.sql                          # by _time: in time order
        where.append(f"({sql}) IS NOT NULL")      # a result without a by field is left out
        exprs.append((name, sql))
        keys.append(sql)
    time_col = by_name.get("_time")
    for agg in cmd.aggregates:
        col = by_name.get(agg.field) if agg.field is not None else None
        exprs.append((agg.name, aggregate_sql(agg, col, time_col, what)))
    return exprs, keys, " AND ".join(where) or "TRUE"


@contextmanager
def _refusals_of_rows(pos: int) -> Iterator[None]:
    """A refusal raised by a group (DuckDB error() carrying it) reported as the clean refusal it is."""
    try:
        yield
    except Unsupported:
        raise
    except SplError as exc:
        text = str(exc.message)
        if UNSUPPORTED not in text:
            raise
        raise Unsupported(text[text.index(UNSUPPORTED) + len(UNSUPPORTED):].rstrip("'\""), pos) from None


def compile_stats(cmd: StatsCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    with _refusals_of_rows(cmd.pos):
        return _compile_stats(cmd, frame, rt)


def compile_eventstats(cmd: StatsCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    with _refusals_of_rows(cmd.pos):
        return _compile_eventstats(cmd, frame, rt)


def _compile_stats(cmd: StatsCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    exprs, keys, where = _group(cmd, frame, "stats")
    inner = ", ".join(f"{sql} AS k{i}" for i, (_, sql) in enumerate(exprs))
    group = f" GROUP BY {', '.join(f'k{i}' for i in range(len(keys)))}" if keys else ""
    sub = f"(SELECT {inner} FROM {frame.table} WHERE {where}{group}) AS g"
    order = ", ".join(f"k{i}" for i in range(len(keys))) or "1"
    names = _unique([name for name, _ in exprs])
    return rt.materialize(sub, [(name, f"k{i}") for i, (name, _) in enumerate(exprs) if i in names], "TRUE",
                          order)


def _unique(names: List[str]) -> set:
    """Indexes of the names to keep: a later aggregate of the same name replaces an earlier one."""
    last = {n: i for i, n in enumerate(names)}
    return set(last.values())


def _compile_eventstats(cmd: StatsCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    exprs, keys, where = _group(cmd, frame, "eventstats")
    nk = len(keys)
    inner = ", ".join(f"{sql} AS k{i}" for i, (_, sql) in enumerate(exprs))
    group = f" GROUP BY {', '.join(f'k{i}' for i in range(nk))}" if keys else ""
    stats = rt.new_table("_es")
    rt.execute(f"CREATE TEMP TABLE {stats} AS SELECT {inner} FROM {frame.table} WHERE {where}{group}")
    joined = rt.new_table("_esj")
    by_name = {c.name: c for c in frame.cols}
    on = " AND ".join(f"g.k{i} = {_key(by_name[n])}" if n in by_name else "FALSE"
                      for i, n in enumerate(cmd.by)) or "TRUE"
    carry = [f"{qualified(c)} AS x{k}" for k, c in enumerate(frame.cols)]
    aggs = [f"g.k{i} AS a{i}" for i in range(nk, len(exprs))]
    rt.execute(f"CREATE TEMP TABLE {joined} AS SELECT t.__ord AS __ord, {', '.join(carry + aggs)} "
               f"FROM {frame.table} AS t LEFT JOIN {stats} AS g ON {on}")
    new_names = [name for name, _ in exprs[nk:]]
    cols = [Col(c.name, f"x{k}", c.type) for k, c in enumerate(frame.cols) if c.name not in new_names]
    keep = _unique(new_names)
    cols += [Col(name, f"a{nk + j}", "") for j, name in enumerate(new_names) if j in keep]
    return rt.materialize(joined, [(c.name, c.sql) for c in cols])


def _key(col: Col) -> str:
    sql = qualified(col)
    return sql if col.name == "_time" and col.is_number else text_of(sql, col.type)


def _stats_outputs(cmd: StatsCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    names = list(cmd.by) + [a.name for a in cmd.aggregates]
    return [n for i, n in enumerate(names) if i in _unique(names) or i < len(cmd.by)]


def _eventstats_outputs(cmd: StatsCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    if fields is None:
        return None
    new = [a.name for a in cmd.aggregates]
    return [f for f in fields if f not in new] + [n for i, n in enumerate(new) if i in _unique(new)]


register(CommandSpec("stats", StatsCmd, _parse(StatsCmd, "stats"), compile_stats, _stats_outputs))
register(CommandSpec("eventstats", EventstatsCmd, _parse(EventstatsCmd, "eventstats"), compile_eventstats,
                     _eventstats_outputs))
