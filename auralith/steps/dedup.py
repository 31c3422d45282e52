"""Exact deduplication: a content hash per document, and the cross-partition decision of what to drop."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter

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


def exact_duplicate_pairs(records: Iterable[HashRecord]) -> Iterator[tuple[HashRecord, HashRecord]]:
    """(dropped, kept) for each record to drop, from records sorted by hash: of each run of equal hashes (the
    copies of one text) all but the one with the smallest id. Streams: memory holds one run, not the corpus."""
    for _, run in groupby(records, key=attrgetter("hash")):
        copies = list(run)
        if len(copies) > 1:
            keep = min(copies, key=_keep_key)
            yield from ((rec, keep) for rec in copies if rec is not keep)


def exact_duplicates_sorted(records: Iterable[HashRecord]) -> Iterator[HashRecord]:
    """The records to drop, from records sorted by hash (see `exact_duplicate_pairs`)."""
    return (dropped for dropped, _ in exact_duplicate_pairs(records))


def group_drops(losers: Iterable[HashRecord]) -> dict[int, list[int]]:
    """Map partition -> sorted positions to drop."""
    drops: dict[int, list[int]] = {}
    for rec in losers:
        drops.setdefault(rec.partition, []).append(rec.position)
    return {p: sorted(v) for p, v in drops.items()}


def decide_exact_duplicates(records: Iterable[HashRecord]) -> dict[int, list[int]]:
    """Map partition -> sorted positions to drop, keeping one document per hash (the smallest id).

    Accepts records in any order (it sorts them in memory, so it suits small inputs); the result does
    not depend on that order, so re-running the decision after a crash gives the same answer. Jobs
    merge per-partition sorted files into `exact_duplicates_sorted` instead.
    """
    return group_drops(exact_duplicates_sorted(sorted(records, key=attrgetter("hash"))))
