"""Partition profiles: exact counts, fixed-bin histograms and KLL sketches that merge across partitions."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from auralith.steps.profile import (
    EDGES,
    N_BINS,
    PartitionProfile,
    bin_index,
    dense_hist,
    merge_series,
    series_sketch,
)


def _profile_of(lengths: list[int], source: int = 0) -> dict:
    prof = PartitionProfile()
    for n in lengths:
        prof.add_before(source, "x" * n)
    return prof.to_dict()


def test_bins_are_fixed_log_spaced_with_zero_and_overflow_bins():
    assert bin_index(np.array([0, 0.5])).tolist() == [0, 0]
    assert bin_index(np.array([1])).tolist() == [1]
    assert bin_index(np.array([10, 100])).tolist() == [11, 21]  # ten bins per decade
    assert bin_index(np.array([1e8, 1e12])).tolist() == [N_BINS - 1] * 2
    assert EDGES[0] == 0 and np.all(np.diff(EDGES) > 0)


def test_partition_profile_counts_per_source_and_series():
    prof = PartitionProfile()
    for text in ("a" * 10, "b" * 30, "c" * 3):
        prof.add_before(0, text)
    prof.add_after(0, "a" * 9)  # normalised, then kept
    prof.add_removed(0, "length.too_short")
    prof.add_removed(0, "length.too_short")
    prof.add_bad_record(1, "input_error.invalid_json")
    d = json.loads(json.dumps(prof.to_dict()))  # stays JSON through the partition row
    assert d["sources"]["0"] == {
        "records": 3,
        "documents_in": 3,
        "chars_in": 43,
        "min_in": 3,
        "max_in": 30,
        "documents_kept": 1,
        "chars_kept": 9,
        "removed": {"length.too_short": 2},
    }
    assert d["sources"]["1"]["records"] == 1 and d["sources"]["1"]["documents_in"] == 0
    before = d["length_before"]
    assert (before["count"], before["sum"], before["min"], before["max"]) == (3, 43, 3, 30)
    assert dense_hist(before).sum() == 3
    assert series_sketch(before).n == 3
    assert "tokens" not in d and "length_output" not in d  # series with no values are left out


def test_tokenize_side_records_output_lengths_and_tokens():
    prof = PartitionProfile()
    prof.add_output("hello world", 3)
    prof.add_output("hi", 2)
    d = prof.to_dict()
    assert "sources" not in d and "length_before" not in d
    assert (d["tokens"]["count"], d["tokens"]["sum"], d["tokens"]["max"]) == (2, 5, 3)
    assert d["length_output"]["sum"] == 13


def test_merge_sums_counts_and_histograms_and_combines_min_max():
    parts = [_profile_of([5, 50, 500]), _profile_of([7]), _profile_of([2, 3000])]
    merged = merge_series([p["length_before"] for p in parts])
    assert merged["count"] == 6 and merged["sum"] == 5 + 50 + 500 + 7 + 2 + 3000
    assert (merged["min"], merged["max"]) == (2, 3000)
    assert (
        dense_hist(merged).tolist()
        == np.bincount(bin_index(np.array([5, 50, 500, 7, 2, 3000])), minlength=N_BINS).tolist()
    )
    assert merge_series([None, {}]) is None


@pytest.mark.parametrize("n_parts", [1, 7])
def test_merged_quantiles_are_within_the_sketch_rank_error_of_the_union(n_parts):
    rng = np.random.default_rng(3)
    parts = [rng.lognormal(5 + i % 3, 1.0, size=rng.integers(2_000, 20_000)).astype(int) + 1 for i in range(n_parts)]
    merged = merge_series([_profile_of(p.tolist())["length_before"] for p in parts])
    union = np.sort(np.concatenate(parts))
    sketch = series_sketch(merged)
    eps = sketch.normalized_rank_error(False)
    assert merged["count"] == len(union) and merged["sum"] == union.sum()
    for q in (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
        value = sketch.get_quantile(q)
        # The rank of the sketch's answer in the true union lies within eps of q (ties widen the interval).
        lo = np.searchsorted(union, value, side="left") / len(union)
        hi = np.searchsorted(union, value, side="right") / len(union)
        assert lo - eps <= q <= hi + eps, (q, value, lo, hi, eps)


def test_a_partition_profile_stays_small_in_the_row():
    prof = PartitionProfile()
    rng = np.random.default_rng(0)
    for n in rng.lognormal(6, 1.5, size=50_000).astype(int):
        prof.add_before(0, "x" * int(n % 5000))
        prof.add_after(0, "x")
    size = len(json.dumps(prof.to_dict()))
    assert size < 12_000, size  # two ~3 KB sketches plus sparse histograms, whatever the partition size
    assert len(base64.b64decode(prof.to_dict()["length_before"]["kll"])) < 4_000
