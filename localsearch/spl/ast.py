"""Syntax trees of SPL's two expression languages (search expressions and eval/where expressions)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, Union


# ---- search expression AST -------------------------------------------------------------------------
@dataclass(frozen=True)
class And:
    items: Tuple["SearchNode", ...]


@dataclass(frozen=True)
class Or:
    items: Tuple["SearchNode", ...]


@dataclass(frozen=True)
class Not:
    item: "SearchNode"


@dataclass(frozen=True)
class Compare:
    field: str
    op: str            # = != < > <= >=
    value: str
    pos: int
    case: bool = False     # field=CASE(value): case-sensitive


@dataclass(frozen=True)
class MatchAll:
    """A bare `*`."""


@dataclass(frozen=True)
class Term:
    """A bare keyword or phrase (full-text search of _raw)."""
    value: str
    pos: int
    quoted: bool = False   # a "quoted phrase"
    case: bool = False     # CASE(term): case-sensitive
    exact: bool = False    # TERM(term): matched between major breakers only


SearchNode = Union[And, Or, Not, Compare, MatchAll, Term]

# ---- eval expression AST (where) -------------------------------------------------------------------
@dataclass(frozen=True)
class EField:
    name: str
    pos: int


@dataclass(frozen=True)
class EStr:
    value: str


@dataclass(frozen=True)
class ENum:
    value: float
    text: str


@dataclass(frozen=True)
class EBool:
    value: bool


@dataclass(frozen=True)
class ECall:
    name: str
    args: Tuple["EvalNode", ...]
    pos: int


@dataclass(frozen=True)
class EBinary:
    op: str              # AND OR = != < > <= >= LIKE
    left: "EvalNode"
    right: "EvalNode"
    pos: int


@dataclass(frozen=True)
class ENot:
    item: "EvalNode"


EvalNode = Union[EField, EStr, ENum, EBool, ECall, EBinary, ENot]
