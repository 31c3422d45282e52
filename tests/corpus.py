"""Corpus builders shared by tests: deterministic text, JSONL writers, the repo's paths."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def sentences(n: int, seed: int = 0) -> list[str]:
    """Deterministic English-like documents of varied length."""
    import random

    rng = random.Random(seed)
    words = (
        "the data pipeline reads raw text from many files and writes clean shards for training a "
        "language model while workers share partitions through the broker and commit results to "
        "the store so a crash costs one partition at most"
    ).split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(8, 120))).capitalize() + "." for _ in range(n)]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
    return path
