"""The eval functions the local runner implements: one registry entry per function.

An entry carries the function's name, its argument count and its SQL. The parser (eval_expr.py) checks the
argument count from the entry; the compiler (eval_sql.py) calls the entry's `sql` with the call node and an
`EvalContext` that compiles the arguments. A function not registered here is refused as
`unsupported in local runs: eval function name()`.

To add a function: write `@function("name", min_args, max_args)` over a function
`(ctx: EvalContext, call: ECall) -> (sql, kind)` in the module of its family (imported at the end of eval_sql.py):
eval_cond.py (comparison, conditional, informational), eval_text.py (text, conversion, mathematical),
eval_mv.py (multivalue), eval_time.py (date and time). Kinds: num, str, bool, any (text whose values may be
numbers), list (multivalue), null. State the Splunk rule (Search Reference, "Evaluation functions") in a comment.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Protocol, Sequence, Tuple

from .ast import ECall, EvalNode
from .errors import SplError, Unsupported

if TYPE_CHECKING:
    from .sql import Col

Compiled = Tuple[str, str]      # (SQL, kind)


class EvalContext(Protocol):
    resolve: Callable[[str, int], Optional["Col"]]

    def eval(self, node: EvalNode) -> Compiled: ...              # any value, lists included
    def scalar(self, node: EvalNode, pos: int) -> Compiled: ...  # one value (multivalue with more: refused)
    def text(self, node: EvalNode, pos: int) -> str: ...         # scalar rendered as Splunk text
    def number(self, node: EvalNode, pos: int, what: str = ...) -> str: ...   # scalar as a number or null
    def condition(self, node: EvalNode, pos: int, what: str) -> str: ...      # a Boolean
    def like(self, left: EvalNode, right: EvalNode, pos: int) -> str: ...
    def as_list(self, node: EvalNode) -> str: ...                # any value as VARCHAR[] (null stays null)
    def unify(self, branches: Sequence[Compiled], pos: int) -> Tuple[List[str], str]: ...
    def bound(self, name: str, col: "Col") -> "EvalContext": ...   # the same context with one field rebound


@dataclass(frozen=True)
class EvalFunction:
    name: str
    min_args: int
    max_args: Optional[int]          # None: any number
    sql: Callable[[EvalContext, ECall], Compiled]

    def check_arity(self, typed: str, n: int, pos: int) -> None:
        if self.max_args == self.min_args and n != self.min_args:
            raise SplError(f"{typed}() takes {self.min_args} argument(s), got {n}", pos)
        if n < self.min_args:
            raise SplError(f"{typed}() needs at least {self.min_args} argument(s), got {n}", pos)
        if self.max_args is not None and n > self.max_args:
            raise SplError(f"{typed}() takes at most {self.max_args} argument(s), got {n}", pos)


FUNCTIONS: Dict[str, EvalFunction] = {}


def function(name: str, min_args: int, max_args: Optional[int] = -1) -> Callable:
    """Registers an eval function; max_args -1 means exactly min_args, None means any number."""
    def deco(fn: Callable[[EvalContext, ECall], Compiled]) -> Callable[[EvalContext, ECall], Compiled]:
        if name in FUNCTIONS:
            raise ValueError(f"eval function {name} registered twice")
        FUNCTIONS[name] = EvalFunction(name, min_args, min_args if max_args == -1 else max_args, fn)
        return fn
    return deco



def literal_text(call: ECall, i: int, what: str) -> str:
    """An argument that must be a string literal here (a format, a CIDR, a time modifier)."""
    from .ast import EStr
    arg = call.args[i]
    if not isinstance(arg, EStr):
        raise Unsupported(f"{call.name}() with a {what} that is not a string literal", call.pos)
    return arg.value


def literal_int(call: ECall, i: int, what: str) -> int:
    from .ast import ENum
    arg = call.args[i]
    if not isinstance(arg, ENum):
        raise Unsupported(f"{call.name}() with a {what} that is not a number literal", call.pos)
    if arg.value != int(arg.value):
        raise SplError(f"{call.name}(): the {what} must be a whole number, got {arg.text}", call.pos)
    return int(arg.value)

