"""The runner's memory bound: the DuckDB memory limit a run sets, where it comes from, and how it is applied.

A run's peak RSS is bounded by the memory limit (DuckDB's buffer manager: tables, hash tables, sorts; what
outgrows it spills to the temp_directory, which the loader puts in the run's staging folder) plus a fixed
allowance for what lives outside the buffer manager: the interpreter and its imports, DuckDB's own
allocations that bypass the buffer manager, the Python readers' one record (bounds.MAX_RECORD_BYTES) and read
buffer, and the results themselves (README "Memory" states the figures; bench/memory_bench.py checks them).

DuckDB documents both parts: `memory_limit` "only applies to the buffer manager" (Operations manual,
"Limits"), and larger-than-memory workloads spill to the `temp_directory`, in in-memory mode too (Guides,
"Tuning workloads", "Spilling to disk"); `list()` and `string_agg()` aggregates "do not support offloading
to disk" (same page, "Limitations"), so the loader keeps no aggregate whose size grows with the input.

The limit: --memory-limit, else the LOCALSEARCH_MEMORY_LIMIT environment variable, else DEFAULT_LIMIT
(1 GiB, not DuckDB's own default of 80% of RAM: the runner is a test tool that runs next to other work, in CI
runners and on laptops, and a fixed figure makes its peak the same on every machine; a million OTRF events run
in it, the raw variant's candidate lines then going to staged files, ingest/candidates.py).
"""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import duckdb

MEMORY_LIMIT_ENV = "LOCALSEARCH_MEMORY_LIMIT"
DEFAULT_LIMIT = 1 << 30
THREAD_BYTES = 128 << 20             # DuckDB needs about this much per thread. Measured on the raw variant over
                                     # 74 MiB of candidate lines: 96 MiB and 1 thread run, 128 MiB and 2 threads
                                     # run out of memory in a parallel CREATE TABLE (each thread builds its own
                                     # rows before they are merged); 64 MiB fails in the search itself
MIN_LIMIT = THREAD_BYTES             # one thread
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1000, "kib": 1 << 10, "m": 1 << 20, "mb": 1000 ** 2,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1000 ** 3, "gib": 1 << 30, "t": 1 << 40, "tb": 1000 ** 4,
          "tib": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)


class BadSize(ValueError):
    """A memory limit that is not a size (the message says what was given and what is expected)."""


def parse_size(text: str, what: str = "--memory-limit") -> int:
    """'1GiB', '512MB', '300m', '268435456' (bytes) -> bytes; units as DuckDB reads them (KB/MB/GB are powers of
    1000, KiB/MiB/GiB of 1024; a bare letter means the binary unit)."""
    m = _SIZE.fullmatch(text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise BadSize(f"{what}: {text[:80]!r} is not a size (examples: 1GiB, 512MiB, 2GB)")
    size = int(float(m.group(1)) * _UNITS[unit])
    if size < MIN_LIMIT:
        raise BadSize(f"{what}: {text[:80]!r} is under the smallest memory limit a run can use, "
                      f"{MIN_LIMIT >> 20} MiB")
    return size


def read_size(text: str) -> int:
    """A size as DuckDB shows its settings ('1.0 GiB', '953.6 MiB', '0 bytes') -> bytes."""
    m = _SIZE.fullmatch(text)
    unit = m.group(2).lower() if m else ""
    unit = "b" if unit in ("bytes", "byte") else unit
    if m is None or unit not in _UNITS:
        raise BadSize(f"DuckDB memory limit {text[:80]!r} is not a size")
    return int(float(m.group(1)) * _UNITS[unit])


def memory_limit(option: Optional[str] = None) -> int:
    """The run's limit in bytes: the option, else the environment variable, else DEFAULT_LIMIT."""
    if option:
        return parse_size(option)
    env = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if env:
        return parse_size(env, MEMORY_LIMIT_ENV)
    return DEFAULT_LIMIT


def apply_limit(con: "duckdb.DuckDBPyConnection", limit: int) -> None:
    """SET memory_limit on a DuckDB connection (in KiB: DuckDB takes the unit names above), with no more
    threads than the limit gives THREAD_BYTES each (DuckDB's default is one per core)."""
    con.execute(f"SET memory_limit = '{max(1, limit >> 10)}KiB'")
    row = con.execute("SELECT current_setting('threads')").fetchone()
    threads = int(row[0]) if row is not None else 1
    if threads * THREAD_BYTES > limit:
        con.execute(f"SET threads = {max(1, limit // THREAD_BYTES)}")


def describe(limit: int) -> str:
    if limit % (1 << 30) == 0:
        return f"{limit >> 30} GiB"
    return f"{limit / (1 << 20):,.0f} MiB"
