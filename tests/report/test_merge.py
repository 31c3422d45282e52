"""A job's profile merged from partition rows: sums, weighted means, min/max, quantiles, optional sections."""

from __future__ import annotations

import numpy as np
import pytest

from auralith.report.merge import NoProfile, build_profile, source_labels
from auralith.store.models import Partition
from tests.report.rows import dedup_row, job, process_row, tokenize_row


def test_sources_sum_counts_weight_means_and_combine_min_max():
    rows = [
        process_row(0, {0: [10, 20, 30], 1: [1000]}, removed={0: {"length.too_short": 1}}),
        process_row(1, {0: [100]}),
        tokenize_row(0, [3, 5]),
        tokenize_row(1, [4]),
    ]
    prof = build_profile(job(), rows)
    web, books = prof["sources"]
    assert web["path"] == "web/*.jsonl" and books["path"] == "books/*.txt"  # relative to the config's folder
    assert (web["documents_in"], web["chars_in"], web["min_chars_in"], web["max_chars_in"]) == (4, 160, 10, 100)
    # Weighted by documents: partition means 20 (3 docs) and 100 (1 doc) give 40, not their plain mean 60.
    assert web["mean_chars_in"] == pytest.approx(40.0)
    assert (web["documents_kept"], web["chars_kept"], web["removed"]) == (3, 150, 1)
    assert web["removed_pct"] == pytest.approx(25.0)
    assert books["documents_in"] == 1 and books["mean_chars_in"] == 1000
    assert prof["removals_by_source"] == {"length.too_short": {"web/*.jsonl": 1, "books/*.txt": 0}}

    before = prof["length_before"]
    assert (before["count"], before["min"], before["max"]) == (5, 10, 1000)
    assert before["mean"] == pytest.approx(1160 / 5)
    assert sum(before["histogram"]["counts"]) == 5 and len(before["histogram"]["edges"]) == 83
    assert prof["length_after_filters"]["count"] == 4
    tokens = prof["tokens_per_document"]
    assert (tokens["count"], tokens["sum"], tokens["mean"], tokens["min"], tokens["max"]) == (3, 12, 4, 3, 5)
    assert tokens["quantiles"]["p50"] == 4
    assert prof["totals"]["documents_in"] == 5 and prof["totals"]["tokens"] == 12
    assert prof["partitions"]["process"] == {"total": 2, "committed": 2, "profiled": 2}


def test_quantiles_of_many_partitions_match_numpy_on_the_union():
    rng = np.random.default_rng(11)
    parts = [rng.lognormal(4, 1.0, size=3_000).astype(int) + 1 for _ in range(5)]
    prof = build_profile(job(), [process_row(i, {0: p.tolist()}) for i, p in enumerate(parts)])
    union = np.sort(np.concatenate(parts))
    before = prof["length_before"]
    eps = before["quantile_rank_error"]
    for name, q in (("p05", 0.05), ("p50", 0.5), ("p95", 0.95)):
        lo = np.searchsorted(union, before["quantiles"][name], side="left") / len(union)
        hi = np.searchsorted(union, before["quantiles"][name], side="right") / len(union)
        assert lo - eps <= q <= hi + eps
    assert before["mean"] == pytest.approx(union.mean())


def test_removals_with_share_of_input_most_first():
    rows = [process_row(0, {0: [5] * 8}, removed={0: {"length.too_short": 2}}), tokenize_row(0, [1] * 3), dedup_row()]
    rows[1].counts["removed"] = {"exact_duplicate": 3}
    prof = build_profile(job(), rows)
    assert prof["removals"] == [
        {"reason": "exact_duplicate", "documents": 3, "percent_of_input": 37.5},
        {"reason": "length.too_short", "documents": 2, "percent_of_input": 25.0},
    ]


def test_pii_and_cluster_sizes_are_read_when_rows_carry_them():
    rows = [
        process_row(0, {0: [50]}, pii={"email": 3, "phone": 1}),
        process_row(1, {0: [60]}, pii={"email": 2}),
        process_row(2, {0: [70]}),  # a row without PII figures counts as none found
        dedup_row("near_dedup", cluster_sizes={"2": 10, "3": 4, "12": 1}),
    ]
    prof = build_profile(job(), rows)
    assert prof["pii"] == {"email": 5, "phone": 1}
    assert prof["dedup_clusters"] == {
        "sizes": {"2": 10, "3": 4, "12": 1},
        "clusters": 15,
        "documents_in_clusters": 20 + 12 + 12,
        "duplicates_removed": 10 + 8 + 11,
        "largest": 12,
    }


def test_sections_not_run_are_none():
    prof = build_profile(job(), [process_row(0, {0: [50]})])
    assert prof["pii"] is None and prof["dedup_clusters"] is None
    assert prof["tokens_per_document"] is None and prof["length_output"] is None
    assert prof["partitions"]["tokenize"] == {"total": 0, "committed": 0, "profiled": 0}


def test_rows_without_profiles_are_a_clear_error_and_partial_coverage_is_counted():
    old = process_row(0, {0: [5]})
    del old.counts["profile"]
    with pytest.raises(NoProfile, match="ran before `auralith report` existed"):
        build_profile(job(), [old])
    pending = Partition(job_id="job-1", stage="process", index=1, input_ref={}, input_bytes=1, state="pending")
    with pytest.raises(NoProfile, match="no partition has committed yet"):
        build_profile(job(), [pending])
    prof = build_profile(job(), [old, process_row(1, {0: [5]}), pending])
    assert prof["partitions"]["process"] == {"total": 3, "committed": 2, "profiled": 1}


def test_source_labels_keep_paths_outside_the_config_folder():
    assert source_labels({"base_dir": "/d", "sources": [{"path": ["/d/a/*.jsonl", "/e/b.txt"]}]}) == [
        "a/*.jsonl, /e/b.txt"
    ]
    assert source_labels({"sources": [{"path": "/x/*.txt"}]}) == ["/x/*.txt"]
