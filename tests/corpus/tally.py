"""Print the tally of the corpus of published SPL run through the local runner (README, "Supported SPL").

    .venv/bin/python tests/corpus/tally.py [--no-datasets] [--examples N] [--show STATUS]

Rows: each kind (tuning filters, ESCU searches) in the development and held-out sets, over the bundled
samples (and the shared datasets for tuning, when present): how many ran, were refused, failed with another
error or crashed; then the refusal reasons and the other errors, most frequent first. `--show error` (or
refused, crash, ran) lists the development items with that outcome on the samples, with their source and SPL;
held-out items are only counted, never listed.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parents[1])]
import harness  # noqa: E402

STATUSES = ("ran", "refused", "error", "crash", "unavailable")
KINDS = {"tuning": "tuning filters", "search": "ESCU Endpoint.Processes searches"}


def table(tally: "harness.Tally") -> list:
    lines = ["| items | set | events | n | " + " | ".join(STATUSES) + " | ran % |",
             "|---|---|---|---:|" + "---:|" * len(STATUSES) + "---:|"]
    for kind, label in KINDS.items():
        for part in harness.PARTS:
            for dataset in dict.fromkeys(o.dataset for o in tally.outcomes):
                sel = tally.select(kind, part, dataset)
                if not sel:
                    continue
                c = Counter(o.status for o in sel)
                lines.append(f"| {label} | {part} | {dataset} | {len(sel)} | "
                             + " | ".join(str(c[s]) for s in STATUSES) + f" | {100 * tally.rate(sel):.0f} |")
    return lines


def reasons(tally: "harness.Tally", status: str, examples: int) -> list:
    sel = tally.select(dataset="samples")
    counts = tally.reasons(sel, status)
    lines = []
    for reason, n in counts.most_common():
        ids = [o.item.id for o in sel if o.status == status and o.reason == reason and o.item.part == "dev"][:examples]
        lines.append(f"| {n} | {reason} | {', '.join(ids)} |")
    return (["| n | " + ("unsupported in local runs: <what>" if status == "refused" else "message") + " | dev items |",
             "|---:|---|---|"] + lines) if lines else [f"(no {status} outcomes)"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-datasets", action="store_true", help="only the bundled samples")
    parser.add_argument("--examples", type=int, default=3, help="item ids shown per reason")
    parser.add_argument("--show", choices=STATUSES, help="list the development items with this outcome")
    args = parser.parse_args()
    items = harness.load_items()
    with tempfile.TemporaryDirectory() as tmp:
        tally = harness.run_corpus(Path(tmp), items, with_datasets=not args.no_datasets)
    by = Counter((i.kind, i.source_repo) for i in items)
    print("corpus: " + ", ".join(f"{n} {KINDS[k]} from {repo}" for (k, repo), n in sorted(by.items())))
    print()
    print("\n".join(table(tally)))
    for status in ("refused", "error", "crash", "unavailable"):
        print(f"\n{status} (all sets, over the samples):\n")
        print("\n".join(reasons(tally, status, args.examples)))
    if args.show:
        print(f"\ndevelopment items {args.show} on the samples:")
        for o in tally.select(part="dev", dataset="samples"):
            if o.status == args.show:
                print(f"\n{o.item.id} {o.item.kind} {o.item.source_repo}@{o.item.commit[:12]}:{o.item.path}"
                      f"\n  {o.message or f'{o.count} results'}\n  {o.item.spl}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
