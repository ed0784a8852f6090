"""Errors of the SPL layer. Each names what was wrong and where (macro, command, character offset)."""
from __future__ import annotations

from typing import Optional


class SplError(Exception):
    """A search that cannot run: syntax error, unknown macro, bad arguments, runtime failure."""

    def __init__(self, message: str, position: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.position = position
        self.origin: Optional[str] = None      # the macro the text at `position` came from, if any
        self.search: Optional[str] = None      # the expanded search `position` refers to, once known

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        where = f", from macro {self.origin}" if self.origin else ""
        return f"{self.message} (at character {self.position} of the expanded search{where})"


class Unsupported(SplError):
    """Valid SPL that the local runner does not implement; never silently approximated."""

    def __init__(self, what: str, position: Optional[int] = None):
        super().__init__(f"unsupported in local runs: {what}", position)
