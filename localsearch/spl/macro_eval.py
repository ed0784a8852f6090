"""The eval expressions of macros.conf, evaluated while the search is expanded (pure Python, no data).

- `iseval = 1` (macros.conf.spec: "the definition is expected to be an eval expression that returns a string
  that represents the expansion of this macro"): quoted strings and numbers joined with `.` are evaluated;
  any other expression is refused.
- `validation` (macros.conf.spec: an eval expression over the arguments; "If the validation expression is
  boolean, validation succeeds when it returns true. If it returns false or is NULL, validation fails" with
  `errormsg`; "If the validation expression is not boolean ... If it returns NULL, validation is considered a
  success. Otherwise, the string returned is the error string"). Arguments are referenced by name (their
  values are the argument text; `$arg$` is replaced too). Comparisons, AND/OR/NOT and the functions below
  are evaluated; any other expression is refused.
"""
from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Callable, Dict, List, Union

from .ast import EBinary, EBool, ECall, EField, ENot, ENum, EStr, EvalNode
from .errors import SplError, Unsupported
from .eval_expr import parse_eval
from .functions import EvalFunction
from .lexer import tokenize, unescape
from .numbers import DECIMAL, number_literal
from .regex import check_regex

if TYPE_CHECKING:
    from .macros import Macro

Value = Union[str, float, bool, None]

# ---- iseval -----------------------------------------------------------------------------------------------
_PART = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(' + DECIMAL + r'))\s*', re.S)


def evaluate_definition(macro: "Macro", definition: str) -> str:
    """The string an `iseval` definition evaluates to."""
    parts: List[str] = []
    i = 0
    while True:
        m = _PART.match(definition, i)
        if not m:
            break
        parts.append(unescape(m.group(1)) if m.group(1) is not None else m.group(2))
        i = m.end()
        if i >= len(definition) or definition[i] != ".":
            break
        i += 1
    if not parts or i != len(definition):
        raise Unsupported(f"macro `{macro.name}` with iseval = 1 ({macro.origin}): only quoted strings and numbers "
                          "joined with '.' are evaluated")
    return "".join(parts)


# ---- validation -------------------------------------------------------------------------------------------
def _is_num(v: Value) -> bool:
    return isinstance(v, float) or (isinstance(v, str) and re.fullmatch(DECIMAL, v) is not None)


def _num(v: Value) -> float:
    return v if isinstance(v, float) else float(str(v))


def _isint(args: List[Value]) -> Value:
    v = args[0]
    return _is_num(v) and float(_num(v)).is_integer() and not math.isinf(_num(v))


def _like(args: List[Value]) -> Value:
    if args[0] is None or args[1] is None:
        return None
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(args[1]))
    return re.fullmatch(rx, str(args[0]), re.S) is not None


def _match(args: List[Value]) -> Value:
    if args[0] is None or args[1] is None:
        return None
    check_regex(str(args[1]), 0)
    return re.search(str(args[1]), str(args[0])) is not None


def _text(fn: Callable[[str], Value]) -> Callable[[List[Value]], Value]:
    return lambda args: None if args[0] is None else fn(str(args[0]))


_FUNCS: Dict[str, tuple] = {
    "isint": (1, 1, _isint),
    "isnum": (1, 1, lambda a: _is_num(a[0])),
    "isstr": (1, 1, lambda a: a[0] is not None and not _is_num(a[0]) and not isinstance(a[0], bool)),
    "isnull": (1, 1, lambda a: a[0] is None),
    "isnotnull": (1, 1, lambda a: a[0] is not None),
    "len": (1, 1, _text(lambda s: float(len(s)))),
    "lower": (1, 1, _text(str.lower)),
    "upper": (1, 1, _text(str.upper)),
    "like": (2, 2, _like),
    "match": (2, 2, _match),
    "in": (2, None, lambda a: None if a[0] is None else str(a[0]) in [str(x) for x in a[1:]]),
    "true": (0, 0, lambda a: True),
    "false": (0, 0, lambda a: False),
}
FUNCTIONS = {name: EvalFunction(name, lo, hi, lambda ctx, call: ("", "")) for name, (lo, hi, _) in _FUNCS.items()}


def validate(macro: "Macro", values: Dict[str, str]) -> None:
    """Raises SplError with the macro's errormsg when its validation expression fails for these arguments."""
    text = macro.validation
    for param, value in values.items():
        text = text.replace(f"${param}$", value)
    try:
        node = parse_eval(tokenize(text, single_quotes=True), len(text), functions=FUNCTIONS)
    except Unsupported as exc:
        raise Unsupported(f"validation of macro `{macro.name}` ({macro.origin}): {exc.message}") from None
    except SplError as exc:
        raise SplError(f"validation of macro `{macro.name}` ({macro.origin}) does not parse: {exc}") from None
    args = {k: _arg_value(v) for k, v in values.items()}
    result = _eval(node, args, macro)
    if isinstance(result, bool) or result is None and _is_boolean(node):
        if result is not True:
            raise SplError(f"macro `{macro.name}` ({macro.origin}): "
                           f"{macro.errormsg or 'the arguments fail its validation ' + repr(macro.validation)}")
    elif result is not None:
        text = result if isinstance(result, str) else repr(result)
        raise SplError(f"macro `{macro.name}` ({macro.origin}): {text}")


def _arg_value(text: str) -> Value:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return unescape(text[1:-1])
    return text


def _is_boolean(node: EvalNode) -> bool:
    if isinstance(node, (ENot, EBool)):
        return True
    if isinstance(node, EBinary):
        return True
    return isinstance(node, ECall) and node.name not in ("len", "lower", "upper")


def _eval(node: EvalNode, args: Dict[str, Value], macro: "Macro") -> Value:
    if isinstance(node, EStr):
        return node.value
    if isinstance(node, ENum):
        return node.value
    if isinstance(node, EBool):
        return node.value
    if isinstance(node, EField):
        return args.get(node.name)
    if isinstance(node, ENot):
        v = _eval(node.item, args, macro)
        return None if v is None else not v
    if isinstance(node, EBinary):
        return _binary(node, args, macro)
    if isinstance(node, ECall):
        fn = _FUNCS[node.name][2]
        return fn([_eval(a, args, macro) for a in node.args])
    raise Unsupported(f"validation of macro `{macro.name}` ({macro.origin}): expression {node!r}")


def _binary(node: EBinary, args: Dict[str, Value], macro: "Macro") -> Value:
    if node.op not in ("AND", "OR", "LIKE", "=", "!=", "<", ">", "<=", ">="):      # arithmetic, '.', XOR
        raise Unsupported(f"validation of macro `{macro.name}` ({macro.origin}): operator {node.op}")
    left = _eval(node.left, args, macro)
    if node.op in ("AND", "OR"):
        right = _eval(node.right, args, macro)
        if node.op == "AND":
            return False if left is False or right is False else (None if None in (left, right) else True)
        return True if left is True or right is True else (None if None in (left, right) else False)
    right = _eval(node.right, args, macro)
    if left is None or right is None:
        return None
    if node.op == "LIKE":
        return _like([left, right])
    a: Union[str, float]
    b: Union[str, float]
    if _is_num(left) and _is_num(right):
        a, b = _num(left), _num(right)
    else:
        a, b = str(left), str(right)
    ops: Dict[str, Callable[[object, object], bool]] = {
        "=": lambda x, y: x == y, "!=": lambda x, y: x != y, "<": lambda x, y: x < y,  # type: ignore[operator]
        ">": lambda x, y: x > y, "<=": lambda x, y: x <= y, ">=": lambda x, y: x >= y}  # type: ignore[operator]
    return ops[node.op](a, b)


__all__ = ["evaluate_definition", "validate", "number_literal"]
