"""The command registry: one `CommandSpec` per SPL command, carrying its parser, its output fields and its
compile step (SQL over the current result set, through the `Runtime` the engine provides).

Every command object records `pos`, its character offset in the expanded search. A compile step takes the
command, the current `Frame` (None for a generating or leading command) and the `Runtime`, and returns the
next `Frame`; it builds SQL text only, the runtime executes it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple

from ..errors import SplError
from ..lexer import COMMA, STRING, WORD, Token
from ..sql import Col

# where a command may stand: first after a leading '|' (generating), as the implied leading search, later
GENERATING, STREAMING = "generating", "streaming"


@dataclass
class Frame:
    """A result set: a temporary table with an `__ord` row-order column, and its Splunk fields in order."""
    table: str
    cols: List[Col]

    def names(self) -> List[str]:
        return [c.name for c in self.cols]


@dataclass
class Command:
    pos: int


class Runtime(Protocol):
    """What compile steps may ask of the executor (engine.py)."""
    earliest: Optional[float]
    latest: Optional[float]
    events_label: Optional[str]
    field_exists: Optional[Callable[[str], bool]]

    def materialize(self, source: str, exprs: List[Tuple[str, str]], where: str = "TRUE",
                    order: str = "__ord") -> Frame: ...
    def base_cols(self, table: str) -> List[Col]: ...
    def time_filter(self, time_sql: Optional[str], table: str, label: Optional[str] = None,
                    pred: Optional[str] = None) -> str: ...
    def warn(self, message: str) -> None: ...
    def new_table(self, suffix: str = "") -> str: ...
    def create_table(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None: ...
    def execute(self, sql: str) -> None: ...
    def lookup_table(self, name: str, pos: int) -> "LookupTable": ...
    def subsearch_rows(self, pipeline: Any) -> Tuple[List[str], List[List[Any]]]: ...
    def subsearch_frame(self, pipeline: Any) -> Frame: ...
    def count(self, sql: str) -> int: ...


@dataclass
class LookupTable:
    """A lookup's CSV rows and its transforms.conf match settings (read by the runtime)."""
    path: str
    header: List[str]
    rows: List[List[str]]
    wildcard: set
    case_insensitive: bool
    max_matches: int
    min_matches: int = 0
    default_match: str = ""
    cidr: set = field(default_factory=set)


# fields a command outputs, from the fields that came in (None: not known statically, e.g. raw events)
# (the command parameter is Any: each entry's functions take their own command class)
Outputs = Callable[[Any, Optional[List[str]]], Optional[List[str]]]
Parser = Callable[[List[Token], int, int], Any]        # (tokens of the arguments, pos, end of search)
Compiler = Callable[[Any, Optional[Frame], Runtime], Frame]


def keep(cmd: Any, fields: Optional[List[str]]) -> Optional[List[str]]:
    return fields


@dataclass(frozen=True)
class CommandSpec:
    name: str                            # as typed in SPL, lower case
    cls: type                            # the command class parse returns
    parse: Parser
    compile: Compiler
    outputs: Outputs = keep
    kinds: Tuple[str, ...] = (STREAMING,)
    single_quotes: bool = False          # '...' are field names (eval/where syntax)
    search_values: bool = False          # search syntax: values may hold parentheses (lexer.tokenize)
    subsearch: bool = False              # takes a subsearch [ ... ] (placed by subsearch.attach)


COMMANDS: Dict[str, CommandSpec] = {}
_BY_CLASS: Dict[type, CommandSpec] = {}


def register(spec: CommandSpec) -> CommandSpec:
    if spec.name in COMMANDS or spec.cls in _BY_CLASS:
        raise ValueError(f"command {spec.name} registered twice")
    COMMANDS[spec.name] = spec
    _BY_CLASS[spec.cls] = spec
    return spec


def spec_of(cmd: Command) -> Optional[CommandSpec]:
    """The registry entry of a parsed command; None for a custom search command."""
    return _BY_CLASS.get(type(cmd))


# ---- helpers for parsers -------------------------------------------------------------------------------
def name_of(tok: Token, what: str) -> str:
    if tok.kind not in (WORD, STRING):
        raise SplError(f"expected a field name in {what}, got {tok.value!r}", tok.pos)
    return tok.value


def field_list(tokens: List[Token], what: str) -> List[str]:
    return [name_of(tok, what) for tok in tokens if tok.kind != COMMA]
