"""Custom search commands (commands.conf): parsed here, run by the engine as a subprocess speaking protocol v2."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Tuple

from ..lexer import unescape
from .base import Command


@dataclass
class CustomCmd(Command):
    name: str
    args: List[str]            # as splunkd puts them in searchinfo.args (quotes removed)
    raw_args: List[str]        # as typed


def parse_custom(name: str, text: str, pos: int) -> CustomCmd:
    args, raw = split_args(text)
    return CustomCmd(pos, name, args, raw)


def split_args(text: str) -> Tuple[List[str], List[str]]:
    """Splits a custom command's argument text the way splunkd fills searchinfo.args / raw_args."""
    raw: List[str] = []
    i = 0
    n = len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace():
            if text[j] == '"':
                j += 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                j += 1
            elif text[j] == "\\":
                j += 2
            else:
                j += 1
        raw.append(text[i:j])
        i = j
    args = []
    for arg in raw:
        parts = re.split(r'("(?:[^"\\]|\\.)*")', arg)
        args.append("".join(unescape(p[1:-1]) if p.startswith('"') and p.endswith('"') and len(p) >= 2
                            else p for p in parts))
    return args, raw
