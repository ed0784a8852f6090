"""`lookup` against a CSV lookup (Search Reference, lookup; transforms.conf match settings).

Rules: input fields match exactly (case-sensitively unless `case_sensitive_match = false`), `WILDCARD(field)`
values match as Splunk wildcards, `CIDR(field)` values as IPv4 subnets (an address in the subnet); up to
`max_matches` rows in file order, several giving a multivalue field; when fewer than `min_matches` rows match,
`default_match` fills each output field as often as needed (a result without an input field is refused then);
`OUTPUT` overwrites, `OUTPUTNEW` fills only results without a value; without OUTPUT every other lookup column
is output. The runtime reads the transforms.conf stanza and the CSV file (`Runtime.lookup_table`).
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ..errors import SplError, Unsupported
from ..lexer import COMMA, WORD, Token
from ..cidr import IPV4_RE
from ..sql import Col, like_pattern, lit, text_of
from .base import Command, CommandSpec, Frame, Runtime, name_of, register


@dataclass
class LookupCmd(Command):
    name: str
    inputs: List[Tuple[str, str]]          # (lookup field, event field)
    outputs: List[Tuple[str, str]]         # (lookup field, event field); empty = all other lookup fields
    mode: str                              # OUTPUT or OUTPUTNEW


def parse_lookup(tokens: List[Token], pos: int, end: int) -> LookupCmd:
    i = 0
    while i + 2 < len(tokens) and tokens[i + 1].value == "=" and tokens[i].kind == WORD and \
            tokens[i].value.lower() in ("local", "update", "event_time_field"):
        if tokens[i].value.lower() == "event_time_field":
            raise Unsupported("lookup event_time_field", tokens[i].pos)
        i += 3
    if i >= len(tokens):
        raise SplError("lookup needs a lookup name", pos)
    name = name_of(tokens[i], "lookup")
    i += 1
    inputs: List[Tuple[str, str]] = []
    outputs: List[Tuple[str, str]] = []
    mode = "OUTPUT"
    target = inputs
    seen_mode = False
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == COMMA:
            i += 1
            continue
        if tok.is_keyword("OUTPUT", "OUTPUTNEW") and not seen_mode:
            mode = tok.value.upper()
            target = outputs
            seen_mode = True
            i += 1
            continue
        src = name_of(tok, "lookup")
        dst = src
        if i + 1 < len(tokens) and tokens[i + 1].is_keyword("AS"):
            if i + 2 >= len(tokens):
                raise SplError("lookup: AS without a field name", tokens[i + 1].pos)
            dst = name_of(tokens[i + 2], "lookup")
            i += 3
        else:
            i += 1
        target.append((src, dst))
    if not inputs:
        raise SplError(f"lookup {name}: no input field", pos)
    if seen_mode and not outputs:
        raise SplError(f"lookup {name}: {mode} without fields", pos)
    return LookupCmd(pos, name, inputs, outputs, mode)



def compile_lookup(cmd: LookupCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    spec = rt.lookup_table(cmd.name, cmd.pos)
    path, header, rows = spec.path, spec.header, spec.rows
    wildcard, cidr, ci, max_matches = spec.wildcard, spec.cidr, spec.case_insensitive, spec.max_matches
    for lf, _ in cmd.inputs + cmd.outputs:
        if lf not in header:
            raise SplError(f"lookup {cmd.name}: field {lf!r} is not a column of {path} "
                           f"(columns: {', '.join(header)})", cmd.pos)
    outputs = cmd.outputs or [(h, h) for h in header if h not in {lf for lf, _ in cmd.inputs}]
    # the lookup table: one VARCHAR column per CSV column, LIKE patterns for wildcard fields, subnets for
    # CIDR fields, file order
    table = rt.new_table("_lookup")
    idx = {h: i for i, h in enumerate(header)}
    n = len(header)
    col_defs = [f"l{i} VARCHAR" for i in range(n)] + [f"p{i} VARCHAR" for i in range(n)] + \
               [f"net{i} BIGINT" for i in range(n)] + [f"div{i} BIGINT" for i in range(n)] + ["__lrow BIGINT"]
    params = []
    cidr_cols = {idx[f] for f in cidr if f in idx}
    for k, row in enumerate(rows):
        cells = [(row[i] if i < len(row) and row[i] != "" else None) for i in range(n)]
        pats = [like_pattern(c) if c is not None else None for c in cells]
        nets: List[Optional[int]] = [None] * n
        divs: List[Optional[int]] = [None] * n
        for i in cidr_cols:
            subnet = lookup_subnet(cells[i], cmd.name, header[i], cmd.pos)
            if subnet is not None:
                shift = 32 - subnet[1]
                nets[i], divs[i] = subnet[0] >> shift, 1 << shift
        params.append(cells + pats + nets + divs + [k])
    rt.create_table(table, col_defs, params)
    by_name = {c.name: c for c in frame.cols}
    conds = []
    present = []                         # SQL: the result has a value for every input field
    for lf, ef in cmd.inputs:
        col = by_name.get(ef)
        if col is None:
            conds.append("FALSE")
            present.append("FALSE")
            continue
        if col.is_list:
            raise Unsupported(f"lookup input from multivalue field {ef}", cmd.pos)
        x = text_of(qualified(col), col.type)
        present.append(f"{x} IS NOT NULL")
        i = idx[lf]
        if lf in cidr:
            conds.append(f"(regexp_full_match({x}, {lit(IPV4_RE)}) AND ({ipv4_int(x)} // l.div{i}) = l.net{i})")
        elif lf in wildcard:
            fn = "ilike_escape" if ci else "like_escape"
            conds.append(f"{fn}({x}, l.p{i}, '\\')")
        elif ci:
            conds.append(f"lower({x}) = lower(l.l{i})")
        else:
            conds.append(f"{x} = l.l{i}")
    struct = ", ".join(f"o{j} := l.l{idx[lf]}" for j, (lf, _) in enumerate(outputs))
    matches = (f"(SELECT list(struct_pack({struct}) ORDER BY l.__lrow) FROM {table} AS l "
               f"WHERE {' AND '.join(conds)})")
    joined = rt.new_table("_m")
    # carry every current column plus the list of matching lookup rows
    exprs = [f"{qualified(c)} AS x{k}" for k, c in enumerate(frame.cols)]
    rt.execute(f"CREATE TEMP TABLE {joined} AS SELECT t.__ord AS __ord, "
               f"({' AND '.join(present)}) AS __present, "
               f"{', '.join(exprs + [matches + ' AS __m'])} FROM {frame.table} AS t")
    if cidr and max_matches > 1 and rt.count(f"SELECT count(*) FROM {joined} WHERE len(__m) > 1"):
        raise Unsupported(f"lookup {cmd.name}: a result matching several CIDR rows (Splunk's order of CIDR "
                          "matches)", cmd.pos)
    pad = spec.min_matches if spec.default_match != "" else 0
    if pad and rt.count(f"SELECT count(*) FROM {joined} WHERE NOT __present"):
        raise Unsupported(f"lookup {cmd.name}: default_match for results without the input field(s) "
                          f"{', '.join(ef for _, ef in cmd.inputs)}", cmd.pos)
    cols = [Col(c.name, f"x{k}", c.type) for k, c in enumerate(frame.cols)]
    for j, (_lookup_field, ef) in enumerate(outputs):
        new_sql, new_type = output_sql(j, max_matches, pad, spec.default_match)
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
    return rt.materialize(joined, [(c.name, c.sql) for c in cols])


def output_sql(j: int, max_matches: int, pad: int, default: str) -> Tuple[str, str]:
    """SQL of output field j from the matched rows `__m` (file order): the first `max_matches` rows' values
    (a multivalue field when several), then `default` once for each row short of `pad` (min_matches)."""
    values = f"list_transform(coalesce(__m, [])[1:{max_matches}], lambda s: s.o{j})"
    if pad:
        values = (f"list_concat({values}, list_transform(range(greatest({pad} - len(coalesce(__m, [])), 0)), "
                  f"lambda i: {lit(default)}))")
    values = f"list_filter({values}, lambda v: v IS NOT NULL)"
    if max_matches == 1 and pad <= 1:
        return f"{values}[1]", "VARCHAR"
    return f"(CASE WHEN len({values}) > 0 THEN {values} END)", "VARCHAR[]"


def ipv4_int(x: str) -> str:
    """SQL: the dotted-quad text x as an integer (x must be an IPv4 address)."""
    return ("list_reduce(list_transform(string_split(" + x + ", '.'), lambda p: CAST(p AS BIGINT)), "
            "lambda a, b: a * 256 + b)")


def lookup_subnet(value: Optional[str], name: str, fld: str, pos: int) -> Optional[Tuple[int, int]]:
    """(network, prefix) of a CIDR lookup cell: an IPv4 subnet or address (a /32); None for no value.
    Other text matches nothing; IPv6 is refused."""
    if value is None:
        return None
    text = value.strip()
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if net.version != 4:
        raise Unsupported(f"lookup {name}: IPv6 subnet {text!r} in CIDR({fld})", pos)
    return int(net.network_address), net.prefixlen


def qualified(col: Col) -> str:
    """A result column referenced through the alias `t` (needed inside correlated subqueries)."""
    return f"t.{col.sql}" if re.fullmatch(r"[a-z]\d+", col.sql) else col.sql


def _outputs(cmd: LookupCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    if fields is None or not cmd.outputs:
        return None
    out = [ef for _, ef in cmd.outputs]
    return [f for f in fields if f not in out] + out


register(CommandSpec("lookup", LookupCmd, parse_lookup, compile_lookup, _outputs))
