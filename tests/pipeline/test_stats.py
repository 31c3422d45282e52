"""Job figures from partition rows (built in memory, no database)."""

from __future__ import annotations

from auralith.pipeline.stats import job_stats
from auralith.store.models import Partition


def part(
    stage: str, index: int, state: str, counts: dict | None = None, progress: dict | None = None, input_bytes: int = 0
) -> Partition:
    return Partition(
        job_id="j",
        stage=stage,
        index=index,
        input_ref={},
        input_bytes=input_bytes,
        state=state,
        attempts=1,
        counts=counts,
        progress=progress,
    )


def issue(n: int) -> dict:
    return {"file": "/d/a.jsonl", "line": n, "field": None, "reason": "invalid_json", "message": "bad"}


def process_counts(records: int, kept: int, removed: dict, issues: int = 0, bytes_: int = 1000) -> dict:
    errors = {k.removeprefix("input_error."): v for k, v in removed.items() if k.startswith("input_error.")}
    return {
        "records": records,
        "documents": records - sum(errors.values()),
        "kept": kept,
        "bytes": bytes_,
        "removed": removed,
        "input_errors": errors,
        "issues": [issue(i) for i in range(issues)],
        "issue_count": issues,
    }


def test_empty_job():
    st = job_stats([])
    d = st.to_dict()
    assert d["stages"] == {
        s: {"total": 0, "pending": 0, "started": 0, "committed": 0, "failed": 0}
        for s in ("process", "dedup", "tokenize")
    }
    assert (d["documents_in"], d["documents_out"], d["tokens"], d["removed"], d["removed_total"]) == (0, 0, 0, {}, 0)


def test_finished_job_sums_committed_counts_once():
    parts = [
        part(
            "process",
            0,
            "committed",
            process_counts(10, 6, {"input_error.invalid_json": 1, "length.too_short": 3}, issues=1, bytes_=500),
            input_bytes=500,
        ),
        part("process", 1, "committed", process_counts(5, 5, {}, bytes_=300), input_bytes=300),
        part("dedup", 0, "committed", {"removed": {"exact_duplicate": 2}, "per_partition": {"0": 1, "1": 1}}),
        part(
            "tokenize",
            0,
            "committed",
            {"documents": 6, "kept": 5, "tokens": 50, "truncated": 0, "removed": {"exact_duplicate": 1}, "shards": 2},
        ),
        part(
            "tokenize",
            1,
            "committed",
            {"documents": 5, "kept": 4, "tokens": 40, "truncated": 0, "removed": {"exact_duplicate": 1}, "shards": 1},
        ),
    ]
    st = job_stats(parts)
    assert (st.input_bytes, st.bytes_read, st.records, st.kept_after_filters) == (800, 800, 15, 11)
    assert (st.documents_out, st.tokens, st.shards, st.tokenize_documents_done) == (9, 90, 3, 11)
    assert st.removed == {"exact_duplicate": 2, "input_error.invalid_json": 1, "length.too_short": 3}
    assert st.input_errors == {"invalid_json": 1}
    assert st.records == st.documents_out + sum(st.removed.values())  # every record accounted for once
    assert (st.issue_count, st.issues) == (1, [issue(0)])
    assert {k: vars(v)["committed"] for k, v in st.stages.items()} == {"process": 2, "dedup": 1, "tokenize": 2}
    d = st.to_dict()
    assert d["removed_total"] == 6 and d["documents_in"] == 15 and list(d["removed"]) == sorted(d["removed"])


def test_live_progress_of_started_partitions():
    parts = [
        part("process", 0, "committed", process_counts(10, 10, {}, bytes_=500), input_bytes=500),
        part("process", 1, "started", progress={"documents": 4, "bytes": 120}, input_bytes=400),
        part("process", 2, "pending", input_bytes=100),
        part("dedup", 0, "pending"),
        part("tokenize", 0, "started", progress={"documents": 7, "tokens": 70}),
        part(
            "tokenize",
            1,
            "committed",
            {"documents": 3, "kept": 3, "tokens": 30, "truncated": 0, "removed": {}, "shards": 1},
        ),
    ]
    st = job_stats(parts)
    assert (st.input_bytes, st.bytes_read) == (1000, 620)
    assert st.records == 10  # live progress moves the bytes bar only; records come from commits
    assert (st.tokens, st.tokenize_documents_done, st.documents_out, st.shards) == (100, 10, 3, 1)
    assert vars(st.stages["process"]) == {"total": 3, "pending": 1, "started": 1, "committed": 1, "failed": 0}
    assert vars(st.stages["tokenize"]) == {"total": 2, "pending": 0, "started": 1, "committed": 1, "failed": 0}


def test_failed_and_uncommitted_rows_add_no_removals():
    parts = [
        part("process", 0, "failed", progress={"documents": 3, "bytes": 50}, input_bytes=100),
        part("process", 1, "pending", input_bytes=100),
        part("tokenize", 0, "failed"),
    ]
    st = job_stats(parts)
    assert st.removed == {} and st.records == 0 and st.issue_count == 0
    assert st.bytes_read == 0  # only running partitions add live progress: a failed one would over-report
    assert (st.stages["process"].failed, st.stages["tokenize"].failed) == (1, 1)


def test_issues_are_capped_but_counted():
    parts = [
        part("process", i, "committed", process_counts(30, 10, {"input_error.invalid_json": 20}, issues=20))
        for i in range(4)
    ]
    st = job_stats(parts, max_issues=50)
    assert st.issue_count == 80 and len(st.issues) == 50
    assert st.issues[:20] == [issue(i) for i in range(20)]  # partition order, first ones first
    assert len(job_stats(parts, max_issues=0).issues) == 0
    assert job_stats(parts).input_errors == {"invalid_json": 80}


def test_dropped_lines_and_pii_are_summed_over_process_partitions():
    a = {**process_counts(4, 3, {"c4.lorem_ipsum": 1}), "lines_removed": {"c4.policy": 2}, "pii": {"email": 1}}
    b = {
        **process_counts(2, 2, {}),
        "lines_removed": {"c4.policy": 1, "c4.javascript": 4},
        "pii": {"email": 2, "ip": 1},
    }
    old = process_counts(1, 1, {})  # written before these counts existed
    st = job_stats(
        [
            part("process", 0, "committed", a),
            part("process", 1, "committed", b),
            part("process", 2, "committed", old),
            part("process", 3, "started", None),
        ]
    )
    assert st.lines_removed == {"c4.javascript": 4, "c4.policy": 3}
    assert st.pii == {"email": 3, "ip": 1}
    d = st.to_dict()
    assert d["lines_removed"] == st.lines_removed and d["pii"] == st.pii
