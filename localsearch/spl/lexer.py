"""SPL tokenizer: splits a search into piped commands and a command's text into tokens.

Quoting follows Splunk: double quotes delimit a string, inside and outside quotes `\\\\` is a literal
backslash and `\\"` a literal quote; any other backslash stays as typed (`\\*` is not an escaped wildcard,
Splunk has none). Pipes inside quotes or square brackets do not split commands.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

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


def split_pipeline(text: str, base: int = 0) -> List[Tuple[str, int]]:
    """Splits on `|` outside quotes and brackets. Returns (command text, offset) pairs, stripped.

    A search starting with `|` yields an empty first segment (the caller knows the first command then
    generates results instead of being an implied `search`).
    """
    parts: List[Tuple[str, int]] = []
    depth = 0
    start = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i = scan_quoted(text, i, '"')
            continue
        if c == "\\" and i + 1 < len(text):
            i += 2
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth = max(0, depth - 1)
        elif c == "|" and depth == 0:
            parts.append((text[start:i], start))
            start = i + 1
        i += 1
    parts.append((text[start:], start))
    out = []
    for seg, off in parts:
        stripped = seg.lstrip()
        out.append((stripped.rstrip(), base + off + (len(seg) - len(stripped))))
    return out


def tokenize(text: str, base: int = 0, single_quotes: bool = False) -> List[Token]:
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
        if c == "(":
            tokens.append(Token(LPAREN, c, base + i, c))
            i += 1
            continue
        if c == ")":
            tokens.append(Token(RPAREN, c, base + i, c))
            i += 1
            continue
        if c == ",":
            tokens.append(Token(COMMA, c, base + i, c))
            i += 1
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(Token(OP, op, base + i, op))
            i += len(op)
            continue
        j = i
        while j < n and (text[j] not in _BREAK or (text[j] == "!" and not text.startswith("!=", j))):
            if text[j] == "\\" and j + 1 < n:
                j += 2
                continue
            j += 1
        raw = text[i:j]
        tokens.append(Token(WORD, unescape(raw), base + i, raw))
        i = j
    return tokens
