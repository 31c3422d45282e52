"""Exact deduplication: a content hash per document, and the cross-partition decision of what to drop."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import xxhash


def content_hash(text: str) -> str:
    """128-bit xxh3 of the normalised text, as hex: collisions are negligible at billions of documents."""
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class HashRecord:
    """Where one kept document sits: its partition, its position in that partition's clean file, its id."""

    hash: str
    doc_id: str
    partition: int
    position: int


def _keep_key(rec: HashRecord) -> tuple:
    # "Keep the smallest id"; ties (the same id twice) fall back to input order so the choice is total.
    return (rec.doc_id, rec.partition, rec.position)


def decide_exact_duplicates(records: Iterable[HashRecord]) -> dict[int, list[int]]:
    """Map partition -> sorted positions to drop, keeping one document per hash (the smallest id).

    The result does not depend on the order `records` arrive in, so re-running the decision after a
    crash gives the same answer.
    """
    best: dict[str, HashRecord] = {}
    losers: list[HashRecord] = []
    for rec in records:
        cur = best.get(rec.hash)
        if cur is None:
            best[rec.hash] = rec
        elif _keep_key(rec) < _keep_key(cur):
            best[rec.hash] = rec
            losers.append(cur)
        else:
            losers.append(rec)
    drops: dict[int, list[int]] = {}
    for rec in losers:
        drops.setdefault(rec.partition, []).append(rec.position)
    return {p: sorted(v) for p, v in drops.items()}
