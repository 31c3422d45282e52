"""MinHash near-dup detection on seeded edits of real documents (the demo corpus's stdlib docstrings)."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

import numpy as np
import pytest

from auralith.config import parse_config
from auralith.errors import ConfigError
from auralith.steps.minhash import (
    EMPTY,
    MinHasher,
    NearDedupConfig,
    band_keys,
    bucket_edges,
    bucket_pairs,
    connected_components,
    estimated_jaccard,
    jaccard,
    word_ngrams,
)
from tests.corpus import EXAMPLES


def candidate_probability(similarity: float, num_bands: int, rows_per_band: int) -> float:
    """P(a pair with this Jaccard similarity shares at least one band bucket): the LSH S-curve."""
    return 1 - (1 - similarity**rows_per_band) ** num_bands


def find_near_duplicates(texts: Sequence[str], cfg: NearDedupConfig) -> list[int]:
    """In-memory near dedup of a small collection: the indexes to drop, keeping the first of each cluster.

    The same decision the distributed job makes (band buckets, verification, union-find), here on one
    batch of documents (the job's stages are tested in tests/pipeline/test_near_dedup.py).
    """
    sig = MinHasher.from_config(cfg).signatures(texts)
    nodes = np.flatnonzero(sig[:, 0] != EMPTY).astype(np.uint64)
    keys = band_keys(sig[nodes.astype(np.int64)], cfg.num_bands, cfg.rows_per_band, cfg.seed)
    edges = np.concatenate([bucket_edges(keys[b], nodes) for b in range(cfg.num_bands)])
    if cfg.verify and len(edges):
        e = edges.astype(np.int64)
        edges = edges[estimated_jaccard(sig[e[:, 0]], sig[e[:, 1]]) >= cfg.threshold]
    return sorted(int(n) for cluster in connected_components(edges) for n in cluster[1:])


CFG = NearDedupConfig(enabled=True)


def real_documents(min_words: int = 80) -> list[str]:
    with open(EXAMPLES / "data" / "stdlib-a.jsonl", encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    return [t for t in texts if len(t.split()) >= min_words]


def edit(text: str, rate: float, rng: random.Random) -> str:
    """Substitute, delete or insert words at `rate` per word (seeded)."""
    out = []
    for word in text.split():
        r = rng.random()
        if r < rate / 3:
            out.append(f"w{rng.randrange(10**6)}")
        elif r < 2 * rate / 3:
            continue
        elif r < rate:
            out.extend([word, f"w{rng.randrange(10**6)}"])
        else:
            out.append(word)
    return " ".join(out)


def labelled_pairs(seed: int = 0) -> list[tuple[str, str, float]]:
    """(original, edited copy, exact 5-gram Jaccard) for edit rates spread from 0.2% to 15% of words."""
    rng = random.Random(seed)
    pairs = []
    for doc in real_documents():
        for rate in (0.002, 0.01, 0.02, 0.035, 0.05, 0.08, 0.15):
            copy = edit(doc, rate, rng)
            pairs.append((doc, copy, jaccard(word_ngrams(doc, 5), word_ngrams(copy, 5))))
    return pairs


@pytest.fixture(scope="module")
def decisions() -> list[tuple[float, bool]]:
    """(true Jaccard, removed?) for every labelled pair, each pair deduplicated on its own."""
    return [(j, find_near_duplicates([a, b], CFG) == [1]) for a, b, j in labelled_pairs()]


def test_pairs_above_the_threshold_are_removed_and_well_below_kept(decisions):
    high = [removed for j, removed in decisions if j >= 0.9]
    low = [removed for j, removed in decisions if j <= 0.6]
    assert len(high) > 100 and len(low) > 100
    assert all(high), f"{high.count(False)} of {len(high)} pairs with Jaccard >= 0.9 kept"
    assert not any(low), f"{sum(low)} of {len(low)} pairs with Jaccard <= 0.6 removed"


def test_precision_and_recall_at_the_threshold(decisions):
    tp = sum(removed and j >= 0.8 for j, removed in decisions)
    fp = sum(removed and j < 0.8 for j, removed in decisions)
    fn = sum(not removed and j >= 0.8 for j, removed in decisions)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(
        f"\nlabelled pairs: {len(decisions)}, positives (J>=0.8): {tp + fn}, precision {precision:.3f}, "
        f"recall {recall:.3f}"
    )
    assert precision >= 0.9 and recall >= 0.9


def test_estimate_is_unbiased_on_real_edits():
    hasher = MinHasher(5, 112, seed=3)
    errors = []
    for a, b, j in labelled_pairs(seed=1)[:300]:
        sig = hasher.signatures([a, b])
        errors.append(estimated_jaccard(sig[0], sig[1]) - j)
    errors = np.array(errors)
    assert abs(errors.mean()) < 0.01
    assert errors.std() < 1.5 * np.sqrt(0.25 / 112)  # at most the binomial spread at J = 0.5


def test_signatures_are_seeded_and_batch_independent():
    docs = real_documents()[:20]
    one = MinHasher(5, 64, seed=7).signatures(docs)
    assert one.dtype == np.uint64 and one.shape == (20, 64)
    assert np.array_equal(one, MinHasher(5, 64, seed=7).signatures(docs))
    assert np.array_equal(one[3], MinHasher(5, 64, seed=7).signatures([docs[3]])[0])
    assert not np.array_equal(one, MinHasher(5, 64, seed=8).signatures(docs))


def test_a_huge_document_is_split_across_passes_with_the_same_signature():
    doc = " ".join(real_documents()[:50]) * 20
    hasher = MinHasher(5, 112)
    whole = hasher._permute(hasher.shingle_hashes(doc)).min(axis=0)
    assert len(hasher.shingle_hashes(doc)) * 112 > 2**21  # more than one pass
    assert np.array_equal(hasher.signatures([doc])[0], whole)


def test_short_and_wordless_documents():
    hasher = MinHasher(5, 16)
    sig = hasher.signatures(["two words", "two words", "!!! ...", ""])
    assert np.array_equal(sig[0], sig[1]) and sig[0, 0] != EMPTY
    assert (sig[2:] == EMPTY).all()
    assert find_near_duplicates(["two words", "Two, words!", "...", "..."], CFG) == [1]


def test_case_and_punctuation_do_not_matter():
    doc = real_documents()[0]
    assert find_near_duplicates([doc, doc.upper().replace(".", " ;")], CFG) == [1]


def test_band_keys_match_only_on_equal_bands():
    sig = np.arange(3 * 16, dtype=np.uint64).reshape(3, 16)
    sig[1, :8] = sig[0, :8]  # band 0 equal, band 1 not
    keys = band_keys(sig, 2, 8)
    assert keys.shape == (2, 3)
    assert keys[0, 0] == keys[0, 1] != keys[0, 2]
    assert keys[1, 0] != keys[1, 1]


def test_bucket_edges_are_stars_from_the_smallest_node_whatever_the_order():
    keys = np.array([5, 9, 5, 5, 1], dtype=np.uint64)
    nodes = np.array([40, 10, 30, 20, 99], dtype=np.uint64)
    want = [[20, 30], [20, 40]]
    assert bucket_edges(keys, nodes).tolist() == want
    perm = np.array([4, 2, 0, 3, 1])
    assert bucket_edges(keys[perm], nodes[perm]).tolist() == want


def test_connected_components_join_chains():
    edges = np.array([[1, 2], [3, 4], [2, 5], [5, 1], [7, 4]], dtype=np.uint64)
    clusters = sorted(c.tolist() for c in connected_components(edges))
    assert clusters == [[1, 2, 5], [3, 4, 7]]
    assert connected_components(np.empty((0, 2), dtype=np.uint64)) == []


def test_default_bands_find_nearly_every_pair_at_the_threshold_for_exact_verification():
    # Candidates are cheap to reject (the exact Jaccard of two shingle sets), a missed one is a duplicate kept:
    # the S-curve sits well below the threshold (bench/near_dedup_quality.py measured the choice).
    assert CFG.num_hashes == 100
    assert 0.5 < CFG.lsh_threshold() < 0.6
    assert candidate_probability(0.8, 20, 5) > 0.999
    assert candidate_probability(0.75, 20, 5) > 0.99
    assert candidate_probability(0.3, 20, 5) < 0.05


def test_config_errors_name_the_key_path():
    base = {"sources": {"path": "x"}, "tokenization": {"tokenizer": "t.json"}}
    with pytest.raises(ConfigError) as err:
        parse_config({**base, "preprocessing": {"near_dedup": {"ngram": 0, "bands": 3}}})
    text = str(err.value)
    assert "preprocessing.near_dedup.ngram" in text and "preprocessing.near_dedup.bands: unknown key" in text
    with pytest.raises(ConfigError, match="preprocessing.near_dedup: num_bands"):
        parse_config({**base, "preprocessing": {"near_dedup": {"num_bands": 100, "rows_per_band": 20}}})
    cfg = parse_config(
        {**base, "preprocessing": {"near_dedup": {"enabled": True, "num_bands": 20, "rows_per_band": 10}}}
    )
    assert cfg.preprocessing.near_dedup.num_hashes == 200


def test_bucket_pairs_compare_every_pair_of_a_small_bucket_and_chain_a_big_one():
    keys = np.array([5, 1, 5, 5, 9, 5, 1, 7, 7, 7, 7, 7], dtype=np.uint64)
    nodes = np.arange(12, dtype=np.uint64)[::-1].copy()
    got = {tuple(e) for e in bucket_pairs(keys, nodes, all_pairs_up_to=4).tolist()}
    # Bucket 5: nodes 11, 9, 8, 6 (sorted 6, 8, 9, 11): all 6 pairs. Bucket 1: 10, 5. Bucket 7 (5 members,
    # nodes 0..4): star from 0 and the chain.
    assert got == {
        (6, 8), (6, 9), (6, 11), (8, 9), (8, 11), (9, 11), (5, 10),
        (0, 1), (0, 2), (0, 3), (0, 4), (1, 2), (2, 3), (3, 4),
    }  # fmt: skip
    assert len(bucket_pairs(keys[:1], nodes[:1])) == 0
