"""Benchmark: localsearch ingest (and the whole runner) against a plain Python baseline, same run, same data.

    .venv/bin/python -m bench.localsearch_bench [--events 1000000] [--evtx-copies 200] [--evtx-big 4]
        [--evtx-big-chunks 2000] [--repeat 3] [--no-run] [--no-json]
    (from the repository root, or `make bench`)

Data (built in a temporary folder, removed afterwards; needs the shared datasets next to the repository,
../shared/datasets, and skips with a message without them):
  * JSON lines: the OTRF files of the shared datasets (otrf/ and otrf-negatives/, 19,480 events, ~2.2 KB
    per event) concatenated as many times as needed for --events events, one file.
  * EVTX, many small files: the three shared EVTX files copied --evtx-copies times under different names.
  * EVTX, a few large files: --evtx-big files of --evtx-big-chunks 64 KiB chunks each, built from the chunks of the
    shared EVTX files by bench/evtx_build.py (valid EVTX: records renumbered, checksums recomputed).

Sides, each in its own subprocess so peak RSS (the child's ru_maxrss from wait4) is per side:
  (a) baseline  plain Python: json.loads per line (EVTX: evtx records_json + json.loads) and a dict filter
                keeping process creations whose ParentImage/ParentProcessName ends in \\WmiPrvSE.exe.
  (b) ingest    load_events into an in-memory DuckDB with the raw `events` view too (what a raw-event
                search needs), then the same filter as a query on `processes`.
  (c) run       `python -m localsearch run <data> --format csv`: the shipped tstats correlation search end to
                end (it loads only the data model), the same work as the baseline plus the rest of the search
                and the rbascore subprocess.
  (d) raw-run   the same for the raw Sysmon variant, a raw-event search over the `events` view.
  (skip c and d with --no-run.)
  For EVTX also (e) bare: the bare one-process `evtx` parse, PyEvtxParser(path).records_json() touching each
  record's JSON text and nothing else; EVTX ratios are against it. And (f) stage: the runner's EVTX staging
  alone (evtx_pool.stage_files on both cores, as a tstats load stages: only possible process creations are
  flattened and written, the others counted). EVTX sides run --repeat times: medians. Before them, the
  start-up cost of a run is measured on a one-record EVTX file, and the run's ratio is also given without it.
All sides run with bytecode caching on (PYTHONPYCACHEPREFIX in the temporary folder), as an installed package
runs from the bytecode pip compiled.
Reported: seconds, events/s, peak RSS, and ratios against the baseline. Goals: the correlation search end to end
(c) >= 5x the baseline's events/s on ~1,000,000 JSON-lines events, peak RSS < 2 GB; EVTX ingest >= 1.0x the
bare parse, for ingest and for the tstats run (not reached: README "Benchmarks" says what limits it); the
last lines print these EVTX ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.project import DATASETS, SYSMON_RULE, datasets_missing
from tests.project import REPO as ROOT

RAW_SEARCH = SYSMON_RULE

BASELINE = r'''
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
n = hits = 0
def keep(d):
    parent = d.get("ParentImage") or d.get("ParentProcessName") or ""
    return parent.lower().endswith("\\wmiprvse.exe")
for name in sys.argv[1:]:
    p = Path(name)
    if p.suffix == ".evtx":
        from evtx import PyEvtxParser
        for rec in PyEvtxParser(str(p)).records_json():
            d = json.loads(rec["data"])["Event"]
            n += 1
            hits += keep(d.get("EventData") or {})
    else:
        with open(p, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    n += 1
                    hits += keep(json.loads(line))
print(json.dumps({"events": n, "hits": hits, "seconds": time.perf_counter() - t0}))
'''

BARE = r'''
import json, sys, time
from evtx import PyEvtxParser
t0 = time.perf_counter()
n = 0
for name in sys.argv[1:]:
    for rec in PyEvtxParser(name).records_json():
        rec["data"]
        n += 1
print(json.dumps({"events": n, "hits": 0, "seconds": time.perf_counter() - t0}))
'''

INGEST = r'''
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import duckdb
from localsearch.ingest import load_events
t0 = time.perf_counter()
con = duckdb.connect()
r = load_events([Path(p) for p in sys.argv[2:]], con)
hits = con.execute("SELECT count(*) FROM processes WHERE parent_process_path ILIKE '%\\wmiprvse.exe'").fetchone()[0]
print(json.dumps({"events": r.events, "hits": hits, "seconds": time.perf_counter() - t0,
                  "processes": r.processes, "skipped": len(r.skipped)}))
'''


STAGE = r'''
import json, shutil, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
from localsearch.ingest import evtx_pool
out = Path(tempfile.mkdtemp(prefix="localsearch-bench-stage-"))
try:
    _, outcomes = evtx_pool.stage_files(sorted(Path(sys.argv[2]).iterdir()), out, processes_only=True)
finally:
    shutil.rmtree(out)
print(json.dumps({"events": sum(o.events for o in outcomes), "hits": 0, "seconds": time.perf_counter() - t0}))
'''


RSS_WRAPPER = r'''
import json, resource, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out, err = p.communicate()
ru = resource.getrusage(resource.RUSAGE_CHILDREN)   # the wrapper's only child: the side measured
lines = out.decode("utf-8", "replace").strip().splitlines()
try:
    data = json.loads(lines[-1]) if lines else {}
    if not isinstance(data, dict):
        data = {}
except ValueError:
    data = {}
data["_rss_mib"] = ru.ru_maxrss / 1024.0
data["_rc"] = p.returncode
data["_err"] = err.decode("utf-8", "replace").strip()[-400:]
print(json.dumps(data))
'''


# The sides run as an installed package does: Python reads the compiled bytecode that pip writes at install time
# (here cached in the benchmark's temporary folder, filled by a first run), not the sources compiled afresh.
BENCH_ENV: dict = {}


def bytecode_env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def run_side(argv, timeout):
    """Run a side under RSS_WRAPPER: (its JSON result, wall seconds, peak RSS in MiB)."""
    t0 = time.perf_counter()
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, timeout=timeout, cwd=str(ROOT), check=False,
                             env=BENCH_ENV or None).stdout
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout}s"}, time.perf_counter() - t0, 0.0
    wall = time.perf_counter() - t0
    data = json.loads(out.decode("utf-8").strip().splitlines()[-1])
    rss = data.pop("_rss_mib")
    rc = data.pop("_rc")
    err = data.pop("_err")
    if rc != 0:               # localsearch run: 0 ok, 1 search error, 2 usage or input error
        data["error"] = f"exit {rc}: {err}"
    return data, wall, rss


def measured(argv, timeout):
    """Run argv under a small wrapper whose only child is argv, so RUSAGE_CHILDREN.ru_maxrss is that child's."""
    return run_side([sys.executable, "-c", RSS_WRAPPER] + argv, timeout)


def median_side(argv, timeout, repeat):
    """measured() `repeat` times: the run with the median wall time."""
    runs = [measured(argv, timeout) for _ in range(max(1, repeat))]
    ok = [r for r in runs if "error" not in r[0]]
    if not ok:
        return runs[0]
    ok.sort(key=lambda r: r[1])
    return ok[len(ok) // 2]


def build_jsonl(dst: Path, target: int) -> int:
    files = sorted((DATASETS / "otrf").glob("*.json")) + sorted((DATASETS / "otrf-negatives").glob("*.json"))
    blobs = []
    per_round = 0
    for f in files:
        b = f.read_bytes()
        if not b.endswith(b"\n"):
            b += b"\n"
        blobs.append(b)
        per_round += sum(1 for line in b.splitlines() if line.strip())
    rounds = max(1, -(-target // per_round))
    with open(dst, "wb") as out:
        for _ in range(rounds):
            for b in blobs:
                out.write(b)
    return rounds * per_round


def report(title, sides, base_key="baseline"):
    print(f"\n{title}")
    print(f"  {'side':<10} {'events':>10} {'seconds':>9} {'events/s':>11} {'peak RSS':>10} {'speed x':>8} {'RSS x':>7}")
    base = sides.get(base_key)
    for name, (data, wall, rss) in sides.items():
        if "error" in data:
            print(f"  {name:<10} error: {data['error']}")
            continue
        ev = data.get("events") or (base[0].get("events") if base else 0)
        eps = ev / wall if wall else 0.0
        sx = rx = ""
        if base and "error" not in base[0] and base[1]:
            beps = base[0]["events"] / base[1]
            sx = f"{eps / beps:.2f}"
            rx = f"{rss / base[2]:.2f}" if base[2] else ""
        print(f"  {name:<10} {ev:>10,} {wall:>9.2f} {eps:>11,.0f} {rss:>8.0f} MiB {sx:>8} {rx:>7}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--evtx-copies", type=int, default=200)
    ap.add_argument("--no-run", action="store_true", help="skip the full `python -m localsearch run` side")
    ap.add_argument("--timeout", type=int, default=150)
    ap.add_argument("--evtx-big", type=int, default=4, help="large EVTX files built (0: none)")
    ap.add_argument("--evtx-big-chunks", type=int, default=2000, help="64 KiB chunks per large EVTX file")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each EVTX side (the median is reported)")
    ap.add_argument("--no-json", action="store_true", help="skip the JSON lines part")
    args = ap.parse_args()
    missing = datasets_missing("otrf", "otrf-negatives", "mdecrevoisier")
    if missing:
        print(f"localsearch_bench: skipped: {missing}")
        return 0
    py = sys.executable
    have_cli = (ROOT / "localsearch" / "cli.py").is_file() and not args.no_run
    tmp = Path(tempfile.mkdtemp(prefix="localsearch-bench-"))
    BENCH_ENV.update(bytecode_env(tmp))
    try:
        t0 = time.perf_counter()
        if not args.no_json:
            json_part(args, tmp, py, have_cli)
        evtx_part(args, tmp, py, have_cli)
        print(f"\ntotal bench time {time.perf_counter() - t0:.0f}s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def json_part(args, tmp, py, have_cli) -> None:
    t0 = time.perf_counter()
    big = tmp / "otrf-big.json"
    n = build_jsonl(big, args.events)
    print(f"JSON lines: {n:,} events, {big.stat().st_size / 2**20:,.0f} MiB (built in {time.perf_counter() - t0:.1f}s)")
    sides = {
        "baseline": measured([py, "-c", BASELINE, str(big)], args.timeout),
        "ingest": measured([py, "-c", INGEST, str(ROOT), str(big)], args.timeout),
    }
    if have_cli:
        sides["run"] = measured([py, "-m", "localsearch", "run", str(big), "--format", "csv",
                                 "--app-dir", str(ROOT)], args.timeout)
        sides["raw-run"] = measured([py, "-m", "localsearch", "run", str(big), "--format", "csv",
                                     "--app-dir", str(ROOT), "--search", RAW_SEARCH], args.timeout)
    for name in ("baseline", "ingest"):
        d = sides[name][0]
        if "error" not in d and d.get("events") != n:
            d["error"] = f"read {d.get('events')} events, expected {n}"
    if "error" not in sides["baseline"][0] and "error" not in sides["ingest"][0]:
        if sides["baseline"][0]["hits"] != sides["ingest"][0]["hits"]:
            print(f"  MISMATCH: baseline found {sides['baseline'][0]['hits']} WmiPrvSE children, "
                  f"ingest {sides['ingest'][0]['hits']}")
    report("JSON lines (~1M events)", sides)
    big.unlink()


def evtx_part(args, tmp, py, have_cli) -> None:
    from bench import evtx_build
    srcs = sorted((DATASETS / "mdecrevoisier").glob("*.evtx"))
    sets = []
    evdir = tmp / "evtx"
    evdir.mkdir()
    for i in range(args.evtx_copies):
        for s in srcs:
            shutil.copyfile(s, evdir / f"{i:04d}-{s.name}")
    sets.append((f"EVTX, many small files ({args.evtx_copies * len(srcs)} files: the 3 shared EVTX files x "
                 f"{args.evtx_copies}), medians of {args.repeat}", evdir))
    if args.evtx_big:
        bigdir = tmp / "evtx-big"
        bigdir.mkdir()
        for i in range(args.evtx_big):
            evtx_build.build(srcs, bigdir / f"big-{i}.evtx", args.evtx_big_chunks)
        mib = sum(p.stat().st_size for p in bigdir.iterdir()) / 2**20
        sets.append((f"EVTX, a few large files ({args.evtx_big} files of {args.evtx_big_chunks} chunks, "
                     f"{mib:,.0f} MiB), medians of {args.repeat}", bigdir))
    startup = None
    if have_cli:      # the fixed cost of a run: one record (this run also fills the bytecode cache)
        one = tmp / "one"
        one.mkdir()
        shutil.copyfile(DATASETS / "mdecrevoisier" / "ID1-WMI_spawning_PowerShell_process-WMImplant.evtx",
                        one / "one.evtx")
        argv = [py, "-m", "localsearch", "run", str(one), "--format", "csv", "--app-dir", str(ROOT)]
        measured(argv, args.timeout)
        data, startup, _ = median_side(argv, args.timeout, max(3, args.repeat))
        if "error" in data:
            startup = None
        else:
            print(f"\nStart-up: `localsearch run` on a one-record EVTX file takes {startup:.2f}s (median of "
                  f"{max(3, args.repeat)}: interpreter, imports, DuckDB, the search, the rbascore process)")
    ratios = []
    for title, folder in sets:
        files = [str(p) for p in sorted(folder.iterdir())]
        sides = {
            "bare": median_side([py, "-c", BARE] + files, args.timeout, args.repeat),
            "stage": median_side([py, "-c", STAGE, str(ROOT), str(folder)], args.timeout, args.repeat),
            "baseline": median_side([py, "-c", BASELINE] + files, args.timeout, args.repeat),
            "ingest": median_side([py, "-c", INGEST, str(ROOT), str(folder)], args.timeout, args.repeat),
        }
        if have_cli:
            sides["run"] = median_side([py, "-m", "localsearch", "run", str(folder), "--format", "csv",
                                        "--app-dir", str(ROOT)], args.timeout, args.repeat)
        report(title, sides, base_key="bare")
        ratios.append((title.split(" (")[0], sides))
    # the EVTX goal (issue: at least 1.0x the bare one-process parse), one line per side
    for title, sides in ratios:
        bare = sides["bare"]
        if "error" in bare[0] or not bare[1]:
            continue
        got = ", ".join(f"{name} {bare[1] / wall:.2f}x" for name, (data, wall, _) in sides.items()
                        if name in ("stage", "ingest", "run") and "error" not in data and wall)
        print(f"EVTX records/s against the bare parse, {title}: {got} (goal 1.0x)")
        run = sides.get("run")
        if startup and run and "error" not in run[0] and run[1] > 2 * startup:
            print(f"  (of the run's {run[1]:.2f}s, {startup:.2f}s is start-up; the rest against the bare parse: "
                  f"{bare[1] / (run[1] - startup):.2f}x)")


if __name__ == "__main__":
    sys.exit(main())
