"""Exact dedup: the content hash, and a drop decision that keeps the smallest id whatever the input order."""

from __future__ import annotations

import random

from auralith.steps.dedup import HashRecord, content_hash, decide_exact_duplicates


def test_content_hash_is_stable_hex():
    h = content_hash("The cat sees the river.")
    assert h == content_hash("The cat sees the river.")
    assert len(h) == 32 and int(h, 16) >= 0 and h == h.lower()
    assert content_hash("The cat sees the river") != h
    assert content_hash("caf\u00e9") != content_hash("cafe\u0301")  # normalising is the caller's job
    assert len({content_hash(t) for t in ["", " ", "a", "A", "日本語"]}) == 5


def test_content_hash_known_value():
    # xxh3-128 of the UTF-8 bytes, pinned: a changed hash would stop old and new outputs deduplicating alike.
    assert content_hash("héllo") == "5c04d7f26e6ecfce2ad2fc5553253f9c"
    assert content_hash("") == "99aa06d3014798d86001c324468d497f"


def test_no_duplicates_no_drops():
    recs = [HashRecord(f"h{i}", f"d{i}", i % 2, i) for i in range(10)]
    assert decide_exact_duplicates(recs) == {}
    assert decide_exact_duplicates([]) == {}


def test_keeps_smallest_id():
    recs = [HashRecord("h", "d3", 0, 0), HashRecord("h", "d1", 1, 5), HashRecord("h", "d2", 2, 1)]
    assert decide_exact_duplicates(recs) == {0: [0], 2: [1]}


def test_ids_compare_as_strings():
    recs = [HashRecord("h", "10", 0, 0), HashRecord("h", "9", 0, 1)]
    assert decide_exact_duplicates(recs) == {0: [1]}  # "10" < "9"


def test_equal_ids_fall_back_to_partition_then_position():
    recs = [HashRecord("h", "same", 1, 0), HashRecord("h", "same", 0, 7), HashRecord("h", "same", 0, 3)]
    assert decide_exact_duplicates(recs) == {0: [7], 1: [0]}


def make_records(seed: int = 0) -> list[HashRecord]:
    rng = random.Random(seed)
    recs = []
    for part in range(4):
        for pos in range(60):
            # Few hashes and few ids, so there are many duplicates and many id ties.
            recs.append(HashRecord(f"h{rng.randrange(15)}", f"id{rng.randrange(40)}", part, pos))
    return recs


def expected_drops(recs: list[HashRecord]) -> dict[int, list[int]]:
    keep = {}
    for r in recs:
        if r.hash not in keep or (r.doc_id, r.partition, r.position) < keep[r.hash]:
            keep[r.hash] = (r.doc_id, r.partition, r.position)
    drops: dict[int, list[int]] = {}
    for r in recs:
        if (r.doc_id, r.partition, r.position) != keep[r.hash]:
            drops.setdefault(r.partition, []).append(r.position)
    return {p: sorted(v) for p, v in drops.items()}


def test_result_independent_of_record_order():
    recs = make_records()
    want = decide_exact_duplicates(recs)
    assert want == expected_drops(recs)
    rng = random.Random(1234)
    for _ in range(10):
        shuffled = recs[:]
        rng.shuffle(shuffled)
        assert decide_exact_duplicates(shuffled) == want
    assert decide_exact_duplicates(reversed(recs)) == want  # any iterable


def test_drops_grouped_per_partition_sorted_one_kept_per_hash():
    recs = make_records(seed=5)
    drops = decide_exact_duplicates(recs)
    assert all(v == sorted(v) and len(v) == len(set(v)) for v in drops.values())
    dropped = {(p, pos) for p, v in drops.items() for pos in v}
    kept_hashes = [r.hash for r in recs if (r.partition, r.position) not in dropped]
    assert sorted(kept_hashes) == sorted({r.hash for r in recs})
    assert len(dropped) == len(recs) - len({r.hash for r in recs})


def test_streaming_merge_of_sorted_partitions_matches_the_in_memory_decision():
    import heapq
    from operator import attrgetter

    from auralith.steps.dedup import exact_duplicates_sorted, group_drops

    recs = make_records(seed=5)
    per_partition = [sorted((r for r in recs if r.partition == p), key=attrgetter("hash")) for p in range(4)]
    merged = heapq.merge(*per_partition, key=attrgetter("hash"))
    assert group_drops(exact_duplicates_sorted(merged)) == expected_drops(recs)
