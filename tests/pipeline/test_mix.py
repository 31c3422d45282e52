"""The mix decision (auralith.pipeline.mix.decide_mix) on histograms: weights, caps, budgets."""

from __future__ import annotations

import numpy as np
import pytest

from auralith.config import parse_config
from auralith.pipeline.mix import decide_mix, keep_below_of
from auralith.pipeline.spill import SAMPLE_BUCKETS, sample_bucket


def _cfg(sources: list[dict], **mixing) -> object:
    return parse_config({"sources": sources, "tokenization": {"tokenizer": "t.json"}, "mixing": mixing})


def _hist(*totals: int) -> np.ndarray:
    """Each source's tokens spread evenly, 10 to each of its first totals/10 buckets."""
    hist = np.zeros((len(totals), SAMPLE_BUCKETS), dtype=np.int64)
    for s, total in enumerate(totals):
        hist[s, : total // 10] = 10
    return hist


def test_weights_bound_the_total_by_the_smallest_source():
    d = decide_mix(_cfg([{"path": "a", "weight": 3}, {"path": "b", "weight": 1}]), _hist(10_000, 1_000))
    a, b = d["sources"]
    assert (a["share_requested"], b["share_requested"]) == (0.75, 0.25)
    assert (a["target_tokens"], b["target_tokens"]) == (3_000, 1_000)  # b in full, a at three times b
    assert (a["selected_tokens"], b["selected_tokens"]) == (3_000, 1_000)
    assert (a["keep_below"], b["keep_below"]) == (300, SAMPLE_BUCKETS)


def test_an_empty_source_does_not_empty_the_output():
    d = decide_mix(_cfg([{"path": "a", "weight": 1}, {"path": "b", "weight": 1}]), _hist(1_000, 0))
    assert [s["target_tokens"] for s in d["sources"]] == [1_000, 0]


def test_a_budget_scales_the_weighted_mix():
    d = decide_mix(_cfg([{"path": "a", "weight": 1}, {"path": "b"}], token_budget=1_000), _hist(10_000, 5_000))
    assert [s["target_tokens"] for s in d["sources"]] == [500, 500]  # an unset weight counts 1


def test_without_weights_a_budget_keeps_the_natural_mix_and_caps_apply():
    d = decide_mix(_cfg([{"path": "a"}, {"path": "b", "max_tokens": 2_000}], token_budget=6_000), _hist(8_000, 4_000))
    assert [s["target_tokens"] for s in d["sources"]] == [4_800, 1_200]  # 8000:2000 scaled to 6000
    assert [s["available_tokens"] for s in d["sources"]] == [8_000, 4_000]


def test_never_over_the_target_within_one_bucket():
    hist = np.zeros((1, SAMPLE_BUCKETS), dtype=np.int64)
    hist[0, :100] = 37
    d = decide_mix(_cfg([{"path": "a", "max_tokens": 1_000}]), hist)["sources"][0]
    assert d["selected_tokens"] <= 1_000 < d["selected_tokens"] + 37


def test_no_decision_keeps_everything():
    assert keep_below_of(None, 2) is None
    assert keep_below_of({"sources": [{"source": 1, "keep_below": 5}]}, 2).tolist() == [SAMPLE_BUCKETS, 5]


@pytest.mark.parametrize("seed", [0, 1])
def test_sample_buckets_follow_the_text_and_the_seed(seed):
    texts = [f"document {i}" for i in range(2000)]
    buckets = [sample_bucket(t, seed) for t in texts]
    assert buckets == [sample_bucket(t, seed) for t in texts]
    assert buckets != [sample_bucket(t, seed + 1) for t in texts]
    assert 0 <= min(buckets) and max(buckets) < SAMPLE_BUCKETS and len(set(buckets)) > 1000  # spread out
