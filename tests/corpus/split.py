"""The deterministic development / held-out split of the corpus: by the SHA-256 of an item's SPL text.

About 30% of the items are held out. The held-out items (tests/corpus/heldout/) measure the SPL runner on
published SPL that its development was not tuned to: look at the tally's figures for them, not at the items.
"""
from __future__ import annotations

import hashlib

HELD_OUT_PERCENT = 30


def split_of(spl: str) -> str:
    """'heldout' or 'dev', from the first 8 bytes of the SHA-256 of the UTF-8 text."""
    bucket = int.from_bytes(hashlib.sha256(spl.encode("utf-8")).digest()[:8], "big") % 100
    return "heldout" if bucket < HELD_OUT_PERCENT else "dev"
