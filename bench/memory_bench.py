"""Benchmark: the local runner's peak memory is bounded by its memory limit, whatever the input size.

    .venv/bin/python -m bench.memory_bench [--events 50000] [--scales 1,4,16] [--memory-limit 256MiB]
        [--allowance-mib 320] [--repeat 3]
    (from the repository root, or `make bench`)

Data (built in a temporary folder, removed afterwards; needs the shared datasets next to the repository,
../shared/datasets, and skips with a message without them): the OTRF files of the shared datasets repeated
(bench/localsearch_bench.build_jsonl) into one JSON lines file of --events x scale events, for each scale.

Sides, each `python -m localsearch run <file> --format csv --memory-limit <limit>` in its own subprocess, so
peak RSS (ru_maxrss of the wrapper's one child, i.e. the largest process of the run, the `rbascore` subprocess
included) is per run:
  tstats   the shipped correlation search (loads only the data model)
  raw      the raw Sysmon variant (a prefiltered load: the candidate lines go to the `events` view)
  py-heap  the raw variant in this interpreter's child under tracemalloc: the peak of what Python itself holds
           (DuckDB's memory is not Python's and is not counted there)
Each runs --repeat times: the medians are reported, with each size's ratio to the smallest.

The bound (README "Memory"): peak RSS <= the memory limit + a fixed allowance (--allowance-mib: the
interpreter and its imports, DuckDB's allocations outside its buffer manager, the read buffers and one record
at most 32 MiB). Each side passes when every size is under the bound; and the Python heap must not grow
with the input (the largest size's peak at most 2x the smallest's plus 16 MiB, its results included). The
runs also check the answers: the tstats search gives the same number of results at every size (repeated events
fall into the same groups), the raw variant as many more as it has events (each size is whole copies of the shared files).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

from bench.localsearch_bench import build_jsonl
from tests.project import REPO as ROOT
from tests.project import SYSMON_RULE, datasets_missing

WRAPPER = r'''
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out, err = p.communicate()
ru = resource.getrusage(resource.RUSAGE_CHILDREN)   # the wrapper's only child (and what it waited for)
lines = out.decode("utf-8", "replace").splitlines()
print(json.dumps({"rss_mib": ru.ru_maxrss / 1024.0, "rc": p.returncode, "seconds": time.perf_counter() - t0,
                  "stdout_lines": len(lines), "last": lines[-1] if lines else "",
                  "err": err.decode("utf-8", "replace").strip()[-600:]}))
'''

PY_HEAP = r'''
import contextlib, io, json, os, sys, tracemalloc
sys.path.insert(0, sys.argv[1])
tracemalloc.start()
from localsearch.cli import main
sink = io.StringIO()
with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), contextlib.redirect_stderr(sink):
    rc = main(sys.argv[2:])
cur, peak = tracemalloc.get_traced_memory()
print(json.dumps({"heap_peak_mib": peak / 2**20, "rc": rc, "err": sink.getvalue()[-600:]}))
'''


def run_json(argv: List[str], timeout: int) -> Dict[str, object]:
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, timeout=timeout, cwd=str(ROOT), check=False).stdout
    except subprocess.TimeoutExpired:
        return {"rc": -1, "err": f"timed out after {timeout}s"}
    lines = out.decode("utf-8", "replace").strip().splitlines()
    return json.loads(lines[-1]) if lines else {"rc": -1, "err": "no output"}


def parse_mib(text: str) -> float:
    """'256MiB', '1GiB', '300MB' -> MiB (the bench states its bound in MiB)."""
    units = {"kib": 1 / 1024, "mib": 1, "gib": 1024, "kb": 1e3 / 2**20, "mb": 1e6 / 2**20, "gb": 1e9 / 2**20}
    t = text.strip().lower().replace(" ", "")
    for u in sorted(units, key=len, reverse=True):
        if t.endswith(u):
            return float(t[:-len(u)]) * units[u]
    return float(t) / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=50_000, help="events of the smallest input")
    ap.add_argument("--scales", default="1,4,16", help="input sizes, as multiples of --events")
    ap.add_argument("--memory-limit", default="256MiB", help="the runner's --memory-limit for every run")
    ap.add_argument("--allowance-mib", type=float, default=320.0,
                    help="fixed allowance over the memory limit (MiB) that peak RSS may reach")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each side and size (medians)")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    missing = datasets_missing("otrf", "otrf-negatives")
    if missing:
        print(f"memory_bench: skipped: {missing}")
        return 0
    scales = [int(s) for s in args.scales.split(",") if s.strip()]
    bound = parse_mib(args.memory_limit) + args.allowance_mib
    py = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="localsearch-membench-"))
    t0 = time.perf_counter()
    results: Dict[str, List[Tuple[int, int, float, float, int]]] = {"tstats": [], "raw": [], "py-heap": []}
    failures: List[str] = []
    try:
        for scale in scales:
            data = tmp / f"events-{scale}x.json"
            n = build_jsonl(data, args.events * scale)
            mib = data.stat().st_size / 2**20
            base = [py, "-m", "localsearch", "run", str(data), "--format", "csv", "--app-dir", str(ROOT),
                    "--memory-limit", args.memory_limit]
            for side, argv in (("tstats", base), ("raw", base + ["--search", SYSMON_RULE])):
                runs = [run_json([py, "-c", WRAPPER] + argv, args.timeout) for _ in range(max(1, args.repeat))]
                bad = [r for r in runs if r.get("rc") != 0]
                if bad:
                    failures.append(f"{side} {scale}x: exit {bad[0].get('rc')}: {bad[0].get('err')}")
                    continue
                rows = {int(r["stdout_lines"]) - 1 for r in runs}      # (less the CSV header)
                results[side].append((scale, n, mib, statistics.median(float(r["rss_mib"]) for r in runs),
                                      min(rows) if len(rows) == 1 else -1))
            heap = [run_json([py, "-c", PY_HEAP, str(ROOT)] + base[3:] + ["--search", SYSMON_RULE], args.timeout)
                    for _ in range(max(1, args.repeat))]
            if any(h.get("rc") != 0 for h in heap):
                failures.append(f"py-heap {scale}x: {heap[0].get('err')}")
            else:
                results["py-heap"].append((scale, n, mib, statistics.median(float(h["heap_peak_mib"]) for h in heap),
                                           0))
            data.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"Peak memory of `localsearch run --memory-limit {args.memory_limit}` by input size "
          f"(medians of {args.repeat}); bound: peak RSS <= {args.memory_limit} + {args.allowance_mib:.0f} MiB "
          f"= {bound:.0f} MiB")
    print(f"  {'side':<8} {'scale':>5} {'events':>10} {'input MiB':>10} {'peak MiB':>9} {'x 1st':>6} "
          f"{'results':>8}  verdict")
    for side, rows in results.items():
        first = rows[0][3] if rows else 0.0
        for scale, n, mib, peak, count in rows:
            if side == "py-heap":
                ok = peak <= 2 * first + 16
                verdict = "ok" if ok else "FAIL: the Python heap grows with the input"
            else:
                ok = peak <= bound
                verdict = "ok" if ok else f"FAIL: over the bound of {bound:.0f} MiB"
            if not ok:
                failures.append(f"{side} {scale}x: {peak:.0f} MiB")
            shown = "" if side == "py-heap" else f"{count:>8,}"
            print(f"  {side:<8} {scale:>5} {n:>10,} {mib:>10,.0f} {peak:>9,.0f} {peak / first if first else 0:>6.2f} "
                  f"{shown:>8}  {verdict}")
    for side, expect in (("tstats", "same"), ("raw", "scaled")):
        rows = results[side]
        if len(rows) < 2:
            continue
        n0, c0 = rows[0][1], rows[0][4]
        for scale, n, _, _, count in rows[1:]:
            want = c0 if expect == "same" else c0 * n // n0      # (n: whole rounds of the shared files)
            if count != want:
                failures.append(f"{side} {scale}x: {count} results, expected {want}")
    print(f"\nmemory bench time {time.perf_counter() - t0:.0f}s")
    if failures:
        print("memory bound: FAIL\n  " + "\n  ".join(failures))
        return 1
    print("memory bound: PASS (peak RSS under the bound at every size; the Python heap does not grow)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
