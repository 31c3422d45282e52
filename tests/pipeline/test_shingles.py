"""Shingle sets kept per partition and the exact Jaccard of candidate pairs read back from them."""

from __future__ import annotations

import numpy as np

from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.shingles import ShingleWriter, exact_edge_jaccard, read_shingle_sets
from auralith.steps.minhash import MinHasher, exact_jaccard, jaccard, node_id, shingle_set, word_ngrams
from auralith.storage import Files
from tests.steps.test_minhash import real_documents


def test_sets_read_back_by_position_and_their_jaccard_is_the_word_ngram_one(tmp_path):
    docs = real_documents()[:6]
    docs += [docs[0] + " appended words at the end", "", docs[1][: len(docs[1]) // 2]]
    hasher = MinHasher()
    work = WorkPaths(tmp_path, Files())
    for p in (0, 1):  # the same documents in two partitions
        writer = ShingleWriter(work, p)
        writer.add([hasher.shingle_hashes(t) for t in docs[:4]])
        writer.add([hasher.shingle_hashes(t) for t in docs[4:]])
        writer.close()
    got = read_shingle_sets(work, 1, np.array([0, 7, 8]))
    assert [len(g) for g in got][1] == 0
    assert np.array_equal(got[0], shingle_set(hasher.shingle_hashes(docs[0])))

    pairs = [(0, 6), (1, 8), (2, 3), (7, 7)]
    edges = np.array([[node_id(0, a), node_id(1, b)] for a, b in pairs], dtype=np.uint64)
    sims = exact_edge_jaccard(work, edges)
    for (a, b), s in zip(pairs, sims, strict=True):
        assert abs(s - jaccard(word_ngrams(docs[a], 5), word_ngrams(docs[b], 5))) < 1e-3
    assert sims[3] == 1.0  # two empty sets


def test_exact_jaccard_of_sorted_sets():
    a, b = np.array([1, 2, 3, 4], dtype=np.uint32), np.array([3, 4, 5], dtype=np.uint32)
    assert exact_jaccard(a, b) == 2 / 5 and exact_jaccard(a[:0], b[:0]) == 1.0 and exact_jaccard(a, b[:0]) == 0.0
