"""Subsearches (`[ ... ]`) and the implicit `format` that turns their results into a search expression.

Search Manual, "Change the format of subsearch results", and Search Reference, format: a subsearch runs first
and its results become `( ( f1="v1" AND f2="v2" ) OR ( ... ) )`: one AND group per result (its fields that have
a value), the groups joined by OR, a multivalue field as `( f="a" OR f="b" )`; fields whose names start with
`_` are left out; no results give `NOT ( )`. Subsearches return at most 10,000 results by default
(limits.conf [subsearch] maxout; Search Reference, append: "subsearches return a maximum of 10,000 results").

Here the formatted text is not re-read: the results are turned into the search expression that text parses to
(a `*` in a value stays a wildcard, as it does in a quoted search value). Refused, never approximated: fields
named `search` or `query` (their values are inserted as search text), a result without any field value, and
values holding a `"`, or a backslash before a `\\` or `"` or at the end (they depend on format's escaping).
In a search expression, `( )` matches every event, so `NOT [ <no results> ]` keeps every event and
`[ <no results> ]` none.

A subsearch is allowed where the front end attaches it: a term of a search expression (`search`, the leading
search) and a command's `subsearch` attribute (`join`); anywhere else it is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

from ..ast import And, Compare, MatchAll, Not, Or, SearchNode, Term
from ..cidr import ipv4_subnet
from ..errors import SplError, Unsupported
from ..lexer import unquoted
from ..sql import Resolver, compile_search, text_of
from .base import Runtime

MAXOUT = 10_000
MARKER = "\x01"          # a subsearch's place in its command's text: MARKER + number (a WORD token)


@dataclass(frozen=True)
class Subsearch:
    """A subsearch in a search expression (resolved into a plain expression when the command runs)."""
    pipeline: Any         # spl.pipeline.Pipeline
    pos: int


def find_subsearches(text: str, pos: int) -> Tuple[str, List[Tuple[str, int, int]]]:
    """(the text with each top-level `[...]` replaced by a marker of the same length, [(marker, start, end)]
    with start/end absolute offsets of the brackets' inside)."""
    out = list(text)
    found: List[Tuple[str, int, int]] = []
    depth, start = 0, 0
    for i, c in unquoted(text):
        if c == "[":
            if depth == 0:
                start = i
            depth += 1
        elif c == "]" and depth > 0:
            depth -= 1
            if depth == 0:
                marker = f"{MARKER}{len(found)}"
                if i + 1 - start < len(marker) + 1:
                    raise SplError("a subsearch needs a search inside [ ]", pos + start)
                # a space first: `type=inner[...]` is two arguments, as splunkd splits them
                out[start:i + 1] = list((" " + marker).ljust(i + 1 - start))
                found.append((marker, pos + start + 1, pos + i))
    if depth:
        raise SplError("unterminated subsearch: '[' without ']'", pos + start)
    return "".join(out), found


def attach(cmd: Any, refs: Dict[str, Subsearch]) -> None:
    """Puts the parsed subsearches in their places in the command; refuses one the command does not take."""
    used: set = set()
    expr = getattr(cmd, "expr", None)
    if expr is not None and isinstance(expr, (And, Or, Not, Term, Compare, MatchAll)):
        cmd.expr = _place(expr, refs, used)
    marker = getattr(cmd, "subsearch", None)
    if isinstance(marker, str) and marker in refs:
        cmd.subsearch = refs[marker]
        used.add(marker)
    for marker, ref in refs.items():
        if marker not in used:
            raise Unsupported(f"subsearch [ ... ] in {type(cmd).__name__.removesuffix('Cmd').lower()}", ref.pos)


def _place(node: Any, refs: Dict[str, Subsearch], used: set) -> Any:
    if isinstance(node, Term) and not node.quoted and node.value in refs:
        used.add(node.value)
        return refs[node.value]
    if isinstance(node, Compare) and node.value.startswith(MARKER):
        raise Unsupported("subsearch as a field value", node.pos)
    if isinstance(node, And):
        return And(tuple(_place(n, refs, used) for n in node.items))
    if isinstance(node, Or):
        return Or(tuple(_place(n, refs, used) for n in node.items))
    if isinstance(node, Not):
        return Not(_place(node.item, refs, used))
    return node


def has_subsearch(node: Any) -> bool:
    if isinstance(node, Subsearch):
        return True
    if isinstance(node, (And, Or)):
        return any(has_subsearch(n) for n in node.items)
    if isinstance(node, Not):
        return has_subsearch(node.item)
    return False


def compile_with_subsearches(node: Any, resolve: Resolver, rt: Runtime) -> str:
    """SQL for a search expression whose subsearches run now (the same SQL `compile_search` gives for the
    expression the formatted results parse to; equality groups are matched through a table, so a long
    allowlist stays fast)."""
    if isinstance(node, Subsearch):
        return _compile_results(node, resolve, rt)
    if isinstance(node, (And, Or)) and has_subsearch(node):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(compile_with_subsearches(n, resolve, rt) for n in node.items) + ")"
    if isinstance(node, Not) and has_subsearch(node):
        return f"(NOT {compile_with_subsearches(node.item, resolve, rt)})"
    return compile_search(node, resolve)


def subsearch_results(node: Subsearch, rt: Runtime) -> Tuple[List[str], Sequence[Sequence[object]]]:
    fields, rows = rt.subsearch_rows(node.pipeline)
    if len(rows) > MAXOUT:
        rt.warn(f"a subsearch returned {len(rows)} results: only the first {MAXOUT} are used "
                "(Splunk's default subsearch maxout)")
        rows = rows[:MAXOUT]
    return fields, rows


def _compile_results(node: Subsearch, resolve: Resolver, rt: Runtime) -> str:
    fields, rows = subsearch_results(node, rt)
    groups = format_groups(fields, rows, node.pos)
    if not groups:
        return compile_search(Not(MatchAll()), resolve)
    plain: Dict[Tuple[str, ...], List[List[str]]] = {}
    others: List[SearchNode] = []
    for group in groups:
        names = tuple(f for f, _ in group)
        if all(len(vs) == 1 and _plain(f, vs[0], resolve, node.pos) for f, vs in group):
            plain.setdefault(names, []).append([vs[0] for _, vs in group])
        else:
            others.append(_group_node(group, node.pos))
    parts = [compile_search(n, resolve) for n in others]
    for names, values in plain.items():
        cols = [resolve(f, node.pos) for f in names]
        if any(c is None for c in cols):
            parts.append("FALSE")          # a field the results do not have matches nothing
            continue
        table = rt.new_table("_sub")
        rt.create_table(table, [f"v{i} VARCHAR" for i in range(len(names))], values)
        xs = [text_of(c.sql, c.type) for c in cols if c is not None]
        probe = ", ".join(f"k{i} := lower({x})" for i, x in enumerate(xs))
        keys = ", ".join(f"k{i} := lower(v{i})" for i in range(len(names)))
        present = " AND ".join(f"{x} IS NOT NULL" for x in xs)
        parts.append(f"COALESCE({present} AND struct_pack({probe}) IN "
                     f"(SELECT struct_pack({keys}) FROM {table}), FALSE)")
    return "(" + " OR ".join(parts) + ")"


def _plain(field: str, value: str, resolve: Resolver, pos: int) -> bool:
    """An equality that compile_search compiles as lower(x) = lower(value) (no wildcard, no subnet, a
    single-valued field)."""
    if "*" in value or ipv4_subnet(value, pos) is not None:
        return False
    col = resolve(field, pos)
    return col is None or not col.is_list


def _group_node(group: List[Tuple[str, List[str]]], pos: int) -> SearchNode:
    terms: List[SearchNode] = []
    for f, values in group:
        compares = tuple(Compare(f, "=", v, pos) for v in values)
        terms.append(compares[0] if len(compares) == 1 else Or(compares))
    return terms[0] if len(terms) == 1 else And(tuple(terms))


def format_groups(fields: Sequence[str], rows: Sequence[Sequence[object]],
                  pos: int) -> List[List[Tuple[str, List[str]]]]:
    """Per result, its (field, values) pairs as format writes them (see the module docstring)."""
    names = [(i, f) for i, f in enumerate(fields) if not f.startswith("_")]
    for _, f in names:
        if f in ("search", "query"):
            raise Unsupported(f"subsearch results with a field named {f} (inserted as search text)", pos)
    groups: List[List[Tuple[str, List[str]]]] = []
    for row in rows:
        group: List[Tuple[str, List[str]]] = []
        for i, f in names:
            value = row[i] if i < len(row) else None
            values = [] if value is None else [str(v) for v in value] if isinstance(value, list) else [str(value)]
            values = [_checked(v, f, pos) for v in values if v != ""]
            if values:
                group.append((f, values))
        if not group:
            raise Unsupported("a subsearch result with no field values (format gives an empty group)", pos)
        groups.append(group)
    return groups


def format_results(fields: Sequence[str], rows: Sequence[Sequence[object]], pos: int) -> SearchNode:
    """The expression `format` gives for these results (see the module docstring)."""
    groups = [_group_node(g, pos) for g in format_groups(fields, rows, pos)]
    if not groups:
        return Not(MatchAll())           # NOT ( ), and `( )` matches everything
    return groups[0] if len(groups) == 1 else Or(tuple(groups))


def _checked(value: str, field: str, pos: int) -> str:
    if '"' in value or "\\\\" in value or '\\"' in value or value.endswith("\\"):
        raise Unsupported(f"subsearch value of {field} with a double quote or an escaping backslash "
                          f"({value[:40]!r}: format's escaping)", pos)
    return value


def subsearches_of(cmd: Any) -> List[Subsearch]:
    """The subsearches a parsed command holds."""
    found: List[Subsearch] = []

    def walk(node: Any) -> None:
        if isinstance(node, Subsearch):
            found.append(node)
        elif isinstance(node, (And, Or)):
            for n in node.items:
                walk(n)
        elif isinstance(node, Not):
            walk(node.item)
    walk(getattr(cmd, "expr", None))
    sub = getattr(cmd, "subsearch", None)
    if isinstance(sub, Subsearch):
        found.append(sub)
    return found
