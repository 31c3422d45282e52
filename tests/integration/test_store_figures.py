"""auralith.store.figures on PostgreSQL: a job's figures summed in SQL read the same as summed in Python."""

from __future__ import annotations

import pytest

from auralith.client import figure_rows
from auralith.pipeline.stats import job_stats
from auralith.store import Store, migrate

pytestmark = pytest.mark.integration


def test_figures_summed_in_sql_are_the_figures_summed_in_python(pg_store):
    migrate.upgrade(pg_store)
    store = Store(pg_store)
    store.create_job("fig-job", {"name": "j"}, "h" * 64, "j", "normal")
    refs = [({"pieces": []}, 1000 + i) for i in range(6)]
    store.create_partitions("fig-job", {"process": refs, "dedup": [({}, 0)], "tokenize": refs})
    for i in range(5):  # five committed, one left pending
        counts = {
            "records": 10 + i,
            "kept": 7 + i,
            "bytes": 1000 + i,
            "issue_count": i,
            "issues": [{"file": f"f{i}", "line": n} for n in range(i)],
            "removed": {"length.too_short": i, **({"c4.no_terminal_punct": 2} if i % 2 else {})},
            "pii": {"email": i},
            "input_errors": {},
        }
        claim = store.claim_partition("fig-job", "process", i, "w", f"p{i}")
        store.commit_partition(claim.partition_id, counts, None)
    claim = store.claim_partition("fig-job", "dedup", 0, "w", "d")
    store.commit_partition(claim.partition_id, {"removed": {"exact_duplicate": 3}}, None)
    for i in range(2):
        claim = store.claim_partition("fig-job", "tokenize", i, "w", f"t{i}")
        store.commit_partition(claim.partition_id, {"kept": 5, "tokens": 1234 + i, "shards": 1, "removed": {}}, None)
    store.claim_partition("fig-job", "tokenize", 2, "w", "t2")
    store.update_progress(store.get_partition("fig-job", "tokenize", 2).id, {"tokens": 99, "documents": 3})

    summed = job_stats(figure_rows(store, "fig-job"), states=store.stage_states("fig-job"))
    assert store.summed_counts("fig-job") is not None  # the SQL path ran
    assert summed.to_dict() == job_stats(store.list_partitions("fig-job")).to_dict()
    assert summed.duplicates_decided == 3 and summed.tokens == 1234 + 1235 + 99
