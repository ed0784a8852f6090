"""`tstats` over the CIM Endpoint datasets the runner loads (Search Reference, tstats): Endpoint.Processes
(table `processes`) and those of localsearch.ingest.sources.DATASETS (Endpoint.Filesystem, Endpoint.Registry),
chosen by the `datamodel=` name; other data models are refused.

Rules: `by` fields with no value drop the row unless `fillnull_value` is set; `count` counts events,
`latest(f)`/`earliest(f)` f's value at the largest/smallest `_time` (several values at that time refused),
`count(f)` events with f, `dc` distinct values, `values` sorted distinct values, min/max numeric when every
value is a number; dataset fields are named `Processes.<field>`, internal ones (_time, host, source,
sourcetype) bare.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ...ingest.sources import DATASETS
from ..ast import SearchNode
from ..errors import SplError, Unsupported
from ..expr import parse_search
from ..lexer import COMMA, LPAREN, OP, RPAREN, WORD, Token
from ..sql import Col, compile_search, lit, text_of
from .fill import span_seconds
from .base import GENERATING, Command, CommandSpec, Frame, Runtime, field_list, name_of, register

DATAMODEL = "Endpoint.Processes"
# datamodel= name -> the table that holds its dataset
DATAMODEL_TABLES: Dict[str, str] = {DATAMODEL: "processes", **{d.model: d.table for d in DATASETS}}
DATAMODEL_INTERNAL = ("_time", "host", "source", "sourcetype")
TSTATS_FUNCS = {"count", "min", "max", "values", "dc", "distinct_count", "latest", "earliest"}
TSTATS_OPTIONS = {"summariesonly", "allow_old_summaries", "fillnull_value", "prestats", "local", "append",
                  "chunk_size", "include_reduced_buckets"}


@dataclass
class Aggregate:
    func: str                  # count, min, max, values, dc
    field: Optional[str]
    name: str                  # output field name
    pos: int


@dataclass
class TstatsCmd(Command):
    options: Dict[str, str]
    aggregates: List[Aggregate]
    datamodel: str
    where: Optional[SearchNode]
    by: List[str]
    span: Optional[float] = None       # seconds: _time in by is binned to the start of its span


def parse_tstats(tokens: List[Token], pos: int, end_pos: int) -> TstatsCmd:
    i = 0
    options: Dict[str, str] = {}
    while i + 2 < len(tokens) and tokens[i].kind == WORD and tokens[i + 1].value == "=" and \
            tokens[i].value.lower() in TSTATS_OPTIONS:
        key = tokens[i].value.lower()
        options[key] = tokens[i + 2].value
        if key not in ("summariesonly", "allow_old_summaries", "fillnull_value"):
            raise Unsupported(f"tstats option {tokens[i].value}=", tokens[i].pos)
        i += 3
    aggregates: List[Aggregate] = []
    while i < len(tokens) and not tokens[i].is_keyword("FROM", "WHERE", "BY"):
        tok = tokens[i]
        if tok.kind == COMMA:
            i += 1
            continue
        func = tok.value.lower()
        if tok.kind != WORD:
            raise SplError(f"tstats: unexpected {tok.value!r}", tok.pos)
        fld = None
        if i + 1 < len(tokens) and tokens[i + 1].kind == LPAREN:
            if i + 3 >= len(tokens) or tokens[i + 3].kind != RPAREN:
                raise SplError(f"tstats: {tok.value}( needs one field and ')'", tok.pos)
            fld = name_of(tokens[i + 2], "tstats")
            i += 4
        else:
            i += 1
        if func not in TSTATS_FUNCS:
            raise Unsupported(f"tstats function {tok.value}" + ("()" if fld else ""), tok.pos)
        if func != "count" and fld is None:
            raise SplError(f"tstats: {tok.value} needs a field, e.g. {tok.value}(_time)", tok.pos)
        name = tok.value if fld is None else f"{tok.value}({fld})"
        if i + 1 < len(tokens) and tokens[i].is_keyword("AS"):
            name = name_of(tokens[i + 1], "tstats")
            i += 2
        aggregates.append(Aggregate("dc" if func == "distinct_count" else func, fld, name, tok.pos))
    if not aggregates:
        raise SplError("tstats needs at least one aggregate such as count", pos)
    datamodel = ""
    if i < len(tokens) and tokens[i].is_keyword("FROM"):
        if i + 3 > len(tokens) or not tokens[i + 1].is_word("datamodel") or tokens[i + 2].value != "=":
            raise Unsupported("tstats FROM other than datamodel=<model>.<dataset>", tokens[i].pos)
        if i + 3 >= len(tokens):
            raise SplError("tstats: datamodel= needs a name", tokens[i].pos)
        datamodel = tokens[i + 3].value
        i += 4
    else:
        raise Unsupported("tstats without FROM datamodel=... (index-time fields)", pos)
    where_tokens: List[Token] = []
    by: List[str] = []
    if i < len(tokens) and tokens[i].is_keyword("WHERE"):
        i += 1
        depth = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.kind == LPAREN:
                depth += 1
            elif tok.kind == RPAREN:
                depth -= 1
            elif depth == 0 and tok.is_keyword("BY"):
                break
            where_tokens.append(tok)
            i += 1
    span: Optional[float] = None
    if i < len(tokens) and tokens[i].is_keyword("BY"):
        rest, span = by_span(tokens[i + 1:])
        for j, tok in enumerate(rest):
            if tok.kind == OP:
                raise Unsupported(f"tstats by option {rest[j - 1].value}=" if j else "tstats by option", tok.pos)
        by = field_list(rest, "tstats by")
        if not by:
            raise SplError("tstats: BY without fields", tokens[i].pos)
        i = len(tokens)
    if i < len(tokens):
        raise SplError(f"tstats: unexpected {tokens[i].raw or tokens[i].value!r}", tokens[i].pos)
    where = parse_search(where_tokens, end_pos) if where_tokens else None
    if span is not None and "_time" not in by:
        raise Unsupported("tstats span= without _time in by", pos)
    return TstatsCmd(pos, options, aggregates, datamodel, where, by, span)


def by_span(tokens: List[Token]) -> Tuple[List[Token], Optional[float]]:
    """The by clause without its `span=<span>` (seconds, minutes, hours; as bin reads them), and the span in
    seconds: `_time` is then binned to the start of its span (Search Reference, tstats: span)."""
    rest: List[Token] = []
    span: Optional[float] = None
    i = 0
    while i < len(tokens):
        if tokens[i].is_word("span") and i + 2 < len(tokens) and tokens[i + 1].value == "=":
            span = span_seconds(tokens[i + 2].value, tokens[i + 2].pos)
            i += 3
            continue
        rest.append(tokens[i])
        i += 1
    return rest, span



def compile_tstats(cmd: TstatsCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    table = DATAMODEL_TABLES.get(cmd.datamodel)
    if table is None:
        raise Unsupported(f"tstats datamodel={cmd.datamodel} (only {', '.join(DATAMODEL_TABLES)} are loaded)",
                          cmd.pos)
    fill = cmd.options.get("fillnull_value")
    base = {c.name: c for c in rt.base_cols(table)}
    dataset = cmd.datamodel.split(".")[1]
    prefix = dataset + "."
    missing: List[str] = []

    def resolve(name: str, pos: int) -> Optional[Col]:
        if name.lower() == "nodename":
            raise Unsupported(f"tstats nodename= (only the {dataset} dataset is loaded)", pos)
        key = name[len(prefix):] if name.startswith(prefix) else (name if name in DATAMODEL_INTERNAL else None)
        col = base.get(key) if key is not None else None
        if col is None and name not in missing:
            missing.append(name)
        return col

    pred = compile_search(cmd.where, resolve) if cmd.where is not None else "TRUE"
    time_col = base.get("_time")
    where = [f"({pred})", rt.time_filter(time_col.sql if time_col else None, table)]
    exprs: List[Tuple[str, str]] = []
    keys = []
    for name in cmd.by:
        col = resolve(name, cmd.pos)
        sql = text_of(col.sql, col.type) if col is not None else "CAST(NULL AS VARCHAR)"
        if name == "_time" and col is not None and col.is_number:
            # _time stays a number, so results come in time order; with span=, the start of its span
            sql = col.sql if cmd.span is None else f"(floor({col.sql} / {cmd.span!r}) * {cmd.span!r})"
        if fill is not None:
            sql = f"COALESCE({sql}, {lit(fill)})"
        else:
            where.append(f"({sql}) IS NOT NULL")
        exprs.append((name, sql))
        keys.append(sql)
    group_by = f" GROUP BY {', '.join(keys)}" if keys else ""
    for agg in cmd.aggregates:
        col = resolve(agg.field, agg.pos) if agg.field is not None else None
        if agg.func in ("latest", "earliest"):
            exprs.append((agg.name, _extreme(agg, col, time_col, " AND ".join(where), group_by, rt, table)))
            continue
        exprs.append((agg.name, _aggregate(agg.func, col, agg.field)))
    for name in missing:
        rt.warn(f"field {name} does not exist in the {cmd.datamodel} data: conditions on it match nothing")
    inner_cols = ", ".join(f"{sql} AS k{i}" for i, (_, sql) in enumerate(exprs))
    group = f" GROUP BY {', '.join(f'k{i}' for i in range(len(keys)))}" if keys else ""
    sub = f"(SELECT {inner_cols} FROM {table} WHERE {' AND '.join(where)}{group}) AS g"
    order = ", ".join(f"k{i}" for i in range(len(keys))) or "1"
    return rt.materialize(sub, [(name, f"k{i}") for i, (name, _) in enumerate(exprs)], "TRUE", order)

def _extreme(agg: Aggregate, col: Optional[Col], time_col: Optional[Col], where: str, group_by: str,
             rt: Runtime, table: str) -> str:
    """latest(f) / earliest(f): f's value at the largest / smallest _time of the events with f. Several
    values at that time are refused (which one Splunk reports is not documented)."""
    if col is None or time_col is None:
        return "CAST(NULL AS VARCHAR)"
    if col.is_list:
        raise Unsupported(f"tstats {agg.func}() of a multivalue field", agg.pos)
    text, t = text_of(col.sql, col.type), time_col.sql
    has = f"FILTER (WHERE {col.sql} IS NOT NULL AND {t} IS NOT NULL)"
    m = "max" if agg.func == "latest" else "min"
    ties = (f"SELECT count(*) FROM (SELECT {m}({t}) {has} AS m, list(struct_pack(t := {t}, v := {text})) {has} AS l "
            f"FROM {table} WHERE {where}{group_by}) WHERE len(list_distinct(list_transform("
            f"list_filter(l, lambda x: x.t = m), lambda x: x.v))) > 1")
    if rt.count(ties):
        raise Unsupported(f"tstats {agg.func}({agg.field}): several values at the same {agg.func} time", agg.pos)
    return f"{'arg_max' if agg.func == 'latest' else 'arg_min'}({text}, {t}) {has}"


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


def _outputs(cmd: TstatsCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    return list(cmd.by) + [a.name for a in cmd.aggregates]


register(CommandSpec("tstats", TstatsCmd, parse_tstats, compile_tstats, _outputs, kinds=(GENERATING,),
                      search_values=True))
