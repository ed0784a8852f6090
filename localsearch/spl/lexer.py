"""SPL tokenizer: splits a search into piped commands and a command's text into tokens.

Quoting follows Splunk: double quotes delimit a string, inside and outside quotes `\\\\` is a literal
backslash and `\\"` a literal quote; any other backslash stays as typed (`\\*` is not an escaped wildcard,
Splunk has none). Pipes inside quotes or square brackets do not split commands.

Outside eval expressions, a quoted part directly joined to unquoted text is one argument with the quotes
removed (`"Processes".*` is `Processes.*`), as splunkd splits command arguments. In search expressions
(`search_values`), an unquoted value after an operator may hold balanced parentheses (`process=*Get()*`);
a `(` that starts the value, or a `)` without its `(` in the value, is still grouping.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Tuple

from .errors import SplError

WORD = "WORD"        # unquoted word (may contain * wildcards)
STRING = "STRING"    # double-quoted string, value unescaped
FIELD = "FIELD"      # single-quoted field name (eval/where only)
OP = "OP"            # = != == < > <= >=
LPAREN = "("
RPAREN = ")"
COMMA = ","

_OPS = ("!=", "==", "<=", ">=", "=", "<", ">")
_BREAK = set(" \t\r\n\"(),=<>!")


@dataclass(frozen=True)
class Token:
    kind: str
    value: str
    pos: int           # character offset in the whole search
    raw: str = ""      # text as typed

    def is_word(self, *words: str) -> bool:
        return self.kind == WORD and self.value in words

    def is_keyword(self, *words: str) -> bool:
        """Case-insensitive keyword match (AS, OUTPUT, BY ...)."""
        return self.kind == WORD and self.value.upper() in words


def unescape(text: str) -> str:
    out: List[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "\\\"":
            out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def scan_quoted(text: str, start: int, quote: str) -> int:
    """Index just past the closing quote of the string opening at `start`."""
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            i += 2
            continue
        if c == quote:
            return i + 1
        i += 1
    raise SplError(f"unterminated quoted string starting {text[start:start + 30]!r}", start)


def unquoted(text: str) -> Iterator[Tuple[int, str]]:
    """(offset, character) of each character outside double-quoted strings and backslash escapes: the ones
    that can give a search its structure (`|`, `[`, `]`). An unterminated quote raises SplError."""
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i = scan_quoted(text, i, '"')
            continue
        if c == "\\" and i + 1 < len(text):
            i += 2
            continue
        yield i, c
        i += 1


def split_pipeline(text: str, base: int = 0) -> List[Tuple[str, int]]:
    """Splits on `|` outside quotes and brackets. Returns (command text, offset) pairs, stripped.

    A search starting with `|` yields an empty first segment (the caller knows the first command then
    generates results instead of being an implied `search`).
    """
    parts: List[Tuple[str, int]] = []
    depth = 0
    start = 0
    for i, c in unquoted(text):
        if c == "[":
            depth += 1
        elif c == "]":
            depth = max(0, depth - 1)
        elif c == "|" and depth == 0:
            parts.append((text[start:i], start))
            start = i + 1
    parts.append((text[start:], start))
    out = []
    for seg, off in parts:
        stripped = seg.lstrip()
        out.append((stripped.rstrip(), base + off + (len(seg) - len(stripped))))
    return out


def tokenize(text: str, base: int = 0, single_quotes: bool = False, search_values: bool = False) -> List[Token]:
    """Tokens of a command's arguments. single_quotes: eval syntax ('...' is a field name, quoted strings stand
    alone); search_values: search syntax (values after an operator may hold balanced parentheses)."""
    tokens: List[Token] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == '"':
            end = scan_quoted(text, i, '"')
            if single_quotes or not _joins(text, end):
                raw = text[i:end]
                tokens.append(Token(STRING, unescape(raw[1:-1]), base + i, raw))
                i = end
                continue
        if c == "'" and single_quotes:
            end = scan_quoted(text, i, "'")
            raw = text[i:end]
            tokens.append(Token(FIELD, raw[1:-1], base + i, raw))
            i = end
            continue
        if c in "(),":
            tokens.append(Token({"(": LPAREN, ")": RPAREN, ",": COMMA}[c], c, base + i, c))
            i += 1
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(Token(OP, op, base + i, op))
            i += len(op)
            continue
        value_parens = search_values and bool(tokens) and tokens[-1].kind == OP
        j, value = _word(text, i, joined=not single_quotes, parens=value_parens)
        tokens.append(Token(WORD, value, base + i, text[i:j]))
        i = j
    return tokens


def _joins(text: str, end: int) -> bool:
    """Whether unquoted text (or another quoted part) follows a quoted part directly."""
    return end < len(text) and (text[end] not in _BREAK or text[end] == '"' or
                                (text[end] == "!" and not text.startswith("!=", end)))


def _word(text: str, i: int, joined: bool, parens: bool) -> Tuple[int, str]:
    """End and value of the word starting at i: unquoted runs (escapes undone), quoted parts joined to them
    when `joined`, balanced parentheses inside the word when `parens`."""
    n = len(text)
    out: List[str] = []
    start = i
    depth = 0
    while i < n:
        c = text[i]
        if c == '"' and joined:
            end = scan_quoted(text, i, '"')
            out.append(unescape(text[i + 1:end - 1]))
            i = end
            continue
        if parens and c == "(" and i > start:
            depth += 1
        elif parens and c == ")" and depth > 0:
            depth -= 1
        elif c in _BREAK and not (c == "!" and not text.startswith("!=", i)):
            break
        j = i + 2 if c == "\\" and i + 1 < n else i + 1
        out.append(unescape(text[i:j]))
        i = j
    return i, "".join(out)
