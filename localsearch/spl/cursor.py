"""A cursor over a command's tokens, shared by the expression parsers."""
from __future__ import annotations

from typing import Any, List, Mapping, Optional

from .errors import SplError
from .lexer import Token


class Cursor:
    def __init__(self, tokens: List[Token], end_pos: int):
        self.functions: Mapping[str, Any] = {}       # eval functions that may be called (eval_expr.py)
        self.tokens = tokens
        self.i = 0
        self.end_pos = end_pos

    def peek(self, k: int = 0) -> Optional[Token]:
        j = self.i + k
        return self.tokens[j] if j < len(self.tokens) else None

    def next(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise SplError("unexpected end of expression", self.end_pos)
        self.i += 1
        return tok

    def pos(self) -> int:
        tok = self.peek()
        return tok.pos if tok is not None else self.end_pos

    def at_word(self, *words: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok is not None and tok.is_word(*words)

    def at_keyword(self, *words: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok is not None and tok.is_keyword(*words)

    def at_kind(self, kind: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok is not None and tok.kind == kind

    def unexpected(self, what: str) -> SplError:
        tok = self.tokens[self.i]
        return SplError(f"unexpected {tok.raw or tok.value!r} in {what}", tok.pos)
