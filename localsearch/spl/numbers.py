"""Numeric literals as SPL reads them: decimal digits with an optional point and exponent (`10`, `-1.5`,
`2e3`). `nan`, `inf`, `infinity` and `1_000` are not numbers (text in `search`, field names or errors in eval),
and a number beyond the range of a double is refused rather than read as infinity. A number is rendered into
SQL only by `sql_number`, so no literal becomes a SQL identifier."""
from __future__ import annotations

import math
import re
from typing import Optional

from .errors import Unsupported

DECIMAL = r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?"
_DECIMAL = re.compile(DECIMAL)


def number_literal(text: str, pos: int) -> Optional[float]:
    """The value of a decimal literal; None when the text is not one; refused when it is beyond a double."""
    if not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    if math.isinf(value):
        raise Unsupported(f"number {text} (beyond the range of a double)", pos)
    return value


def sql_number(value: float) -> str:
    """A finite float as a DuckDB DOUBLE literal."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return f"CAST({value!r} AS DOUBLE)"
