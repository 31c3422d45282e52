"""The SQL store on a SQLite file: migrations, jobs, partition claims and commits, URL redaction."""

from __future__ import annotations

import pytest

from auralith.errors import JobNotFound, StoreNotReady
from auralith.redact import redact_url
from auralith.store import MAX_ATTEMPTS, Store, migrate
from auralith.store.db import check_ready, dispose_all
from auralith.store.models import JobState, PartitionState

REFS = [({"pieces": ["a"]}, 100), ({"pieces": ["b"]}, 200), ({"pieces": ["c"]}, 50)]


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    assert migrate.upgrade(url) is True
    yield url
    dispose_all()


def new_job(url: str, job_id: str = "0123abcd-job", **kw) -> str:
    args = {"config": {"name": "j"}, "config_hash": "h" * 64, "name": "j", "priority": "normal", **kw}
    assert Store(url).create_job(job_id, **args)
    return job_id


def partition(url: str, job_id: str, stage: str, index: int):
    part = Store(url).get_partition(job_id, stage, index)
    assert part is not None
    return part


def test_upgrade_twice_is_a_no_op(url):
    assert migrate.upgrade(url) is False
    assert migrate.current_revision(url) == migrate.head_revision()
    check_ready(url)


def test_check_ready_on_empty_database(tmp_path):
    url = f"sqlite:///{tmp_path}/empty.db"
    try:
        with pytest.raises(StoreNotReady, match="run `auralith db upgrade`"):
            check_ready(url)
    finally:
        dispose_all()


def test_create_and_get_job(url):
    job_id = new_job(url, config={"name": "j", "sources": [{"path": "/x"}]}, priority="high")
    assert Store(url).create_job(job_id, {}, "other", "again", "low") is False  # a redelivered submit
    job = Store(url).get_job(job_id)
    assert (job.id, job.name, job.priority, job.state) == (job_id, "j", "high", JobState.PENDING)
    assert job.config == {"name": "j", "sources": [{"path": "/x"}]}
    assert job.created_at is not None and job.started_at is None
    assert Store(url).find_job(job_id).id == job_id and Store(url).find_job("nope") is None


def test_get_job_by_unique_prefix(url):
    new_job(url, "0123abcd-one")
    new_job(url, "0123ffff-two")
    assert Store(url).get_job("0123a").id == "0123abcd-one"
    assert Store(url).get_job("0123f").id == "0123ffff-two"
    with pytest.raises(JobNotFound, match="ambiguous"):
        Store(url).get_job("0123")
    with pytest.raises(JobNotFound, match="job id prefix '012' is too short: give at least 4 characters"):
        Store(url).get_job("012")
    with pytest.raises(JobNotFound, match="no job '9999'"):
        Store(url).get_job("9999")
    for wildcard in ("%%%%", "0123_bcd", "____"):  # LIKE wildcards are taken literally
        with pytest.raises(JobNotFound, match="no job"):
            Store(url).get_job(wildcard)


def test_create_partitions_twice_is_a_no_op(url):
    job_id = new_job(url)
    Store(url).create_partitions(job_id, {"process": REFS, "dedup": [({"partitions": 3}, 0)]})
    Store(url).create_partitions(job_id, {"process": REFS[:1]})
    parts = Store(url).list_partitions(job_id, "process")
    assert [(p.index, p.input_ref, p.input_bytes, p.state, p.attempts) for p in parts] == [
        (0, {"pieces": ["a"]}, 100, "pending", 0),
        (1, {"pieces": ["b"]}, 200, "pending", 0),
        (2, {"pieces": ["c"]}, 50, "pending", 0),
    ]
    assert [(p.stage, p.index) for p in Store(url).list_partitions(job_id)] == [
        ("dedup", 0),
        ("process", 0),
        ("process", 1),
        ("process", 2),
    ]
    assert Store(url).get_partition(job_id, "process", 7) is None


def test_claim_commit_and_claim_again(url):
    job_id = new_job(url)
    Store(url).create_partitions(job_id, {"process": REFS})
    claim = Store(url).claim_partition(job_id, "process", 1, "w1", "task-1")
    assert (claim.run, claim.input_ref, claim.attempts) == (True, {"pieces": ["b"]}, 1)
    part = partition(url, job_id, "process", 1)
    assert (part.id, part.state, part.attempts, part.worker, part.task_id) == (
        claim.partition_id,
        PartitionState.STARTED,
        1,
        "w1",
        "task-1",
    )
    assert part.started_at is not None

    Store(url).update_progress(claim.partition_id, {"documents": 5})
    assert partition(url, job_id, "process", 1).progress == {"documents": 5}
    Store(url).commit_partition(claim.partition_id, {"records": 10}, {"clean": "x"})
    part = partition(url, job_id, "process", 1)
    assert (part.state, part.counts, part.output_ref, part.progress) == (
        "committed",
        {"records": 10},
        {"clean": "x"},
        None,
    )
    Store(url).update_progress(claim.partition_id, {"documents": 99})  # late progress must not land
    assert partition(url, job_id, "process", 1).progress is None

    again = Store(url).claim_partition(job_id, "process", 1, "w2", "task-2")
    assert (again.run, again.reason, again.partition_id) == (False, "already committed", claim.partition_id)
    assert partition(url, job_id, "process", 1).attempts == 1


def test_reclaim_counts_attempts_and_keeps_task_id(url):
    job_id = new_job(url)
    Store(url).create_partitions(job_id, {"process": REFS})
    Store(url).claim_partition(job_id, "process", 0, "w1", "task-1")
    claim = Store(url).claim_partition(job_id, "process", 0, "w2", None)  # a redelivery
    assert claim.run and claim.attempts == 2
    assert partition(url, job_id, "process", 0).task_id == "task-1"


def test_claim_refused(url):
    assert Store(url).claim_partition("nope", "process", 0, "w", None).reason == "job not found"
    job_id = new_job(url)
    Store(url).create_partitions(job_id, {"process": REFS})
    assert Store(url).claim_partition(job_id, "process", 9, "w", None).reason == "partition not found"
    assert Store(url).set_job_state(job_id, JobState.CANCELLED)
    claim = Store(url).claim_partition(job_id, "process", 0, "w", None)
    assert (claim.run, claim.reason) == (False, "job cancelled")
    assert partition(url, job_id, "process", 0).state == PartitionState.PENDING
    # A failed job can still be worked on (a resume re-runs its partitions).
    assert Store(url).set_job_state(job_id, JobState.FAILED)
    assert Store(url).claim_partition(job_id, "process", 0, "w", None).run


def test_fail_partition_leaves_committed_alone(url):
    job_id = new_job(url)
    Store(url).create_partitions(job_id, {"process": REFS})
    done = Store(url).claim_partition(job_id, "process", 0, "w", None)
    Store(url).commit_partition(done.partition_id, {"records": 1}, None)
    running = Store(url).claim_partition(job_id, "process", 1, "w", None)
    Store(url).fail_partition(done.partition_id, "boom")
    Store(url).fail_partition(running.partition_id, "boom")
    p0, p1 = partition(url, job_id, "process", 0), partition(url, job_id, "process", 1)
    assert (p0.state, p0.error, p0.counts) == ("committed", None, {"records": 1})
    assert (p1.state, p1.error) == ("failed", "boom") and p1.finished_at is not None


def test_reset_unfinished(url):
    job_id = new_job(url)
    Store(url).create_partitions(job_id, {"process": REFS})
    done = Store(url).claim_partition(job_id, "process", 0, "w", None)
    Store(url).commit_partition(done.partition_id, {}, None)
    failed = Store(url).claim_partition(job_id, "process", 1, "w", None)
    Store(url).update_progress(failed.partition_id, {"documents": 3})
    Store(url).fail_partition(failed.partition_id, "boom")
    assert Store(url).reset_unfinished(job_id) == 2
    states = [(p.state, p.progress) for p in Store(url).list_partitions(job_id, "process")]
    assert states == [("committed", None), ("pending", None), ("pending", None)]


def test_set_job_state(url):
    job_id = new_job(url)
    assert Store(url).set_job_state(job_id, JobState.RUNNING)
    job = Store(url).get_job(job_id)
    assert job.state == "running" and job.started_at is not None and job.finished_at is None
    assert not Store(url).set_job_state(job_id, JobState.SUCCEEDED, only_from=(JobState.PENDING,))
    assert Store(url).get_job(job_id).state == "running"
    assert Store(url).set_job_state(
        job_id, JobState.FAILED, error="boom", only_from=(JobState.PENDING, JobState.RUNNING)
    )
    job = Store(url).get_job(job_id)
    assert (job.state, job.error) == ("failed", "boom") and job.finished_at is not None
    assert Store(url).set_job_state(job_id, JobState.RUNNING)  # a resume clears the error
    job = Store(url).get_job(job_id)
    assert (job.state, job.error, job.finished_at) == ("running", None, None)
    assert Store(url).set_job_state(job_id, JobState.SUCCEEDED, output_uri="/out", stats={"tokens": 5})
    job = Store(url).get_job(job_id)
    assert (job.output_uri, job.stats) == ("/out", {"tokens": 5})
    assert not Store(url).set_job_state("nope", JobState.RUNNING)


def test_events_in_order(url):
    job_id = new_job(url)
    for i in range(5):
        Store(url).add_event(job_id, f"m{i}", level="error" if i == 3 else "info")
    assert [(e.message, e.level) for e in Store(url).list_events(job_id, limit=3)] == [
        ("m2", "info"),
        ("m3", "error"),
        ("m4", "info"),
    ]


def test_delete_job_cascades(url):
    job_id = new_job(url)
    Store(url).create_partitions(job_id, {"process": REFS})
    Store(url).add_event(job_id, "x")
    Store(url).delete_job(job_id)
    assert Store(url).find_job(job_id) is None
    assert Store(url).list_partitions(job_id) == [] and Store(url).list_events(job_id) == []


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("postgresql+psycopg://user:s3cret@db:5432/test", "postgresql+psycopg://user:***@db:5432/test"),
        ("postgresql://u:p%40ss@h/d", "postgresql://u:***@h/d"),
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("rediss://default:s3cret@h:6380/0?ssl_cert_reqs=none", "rediss://default:***@h:6380/0?ssl_cert_reqs=none"),
        ("redis://:s3cret@host:port/0", "redis://:***@host:port/0"),  # not a SQLAlchemy URL: the fallback
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("sqlite:////tmp/s.db", "sqlite:////tmp/s.db"),
    ],
)
def test_redact_url(raw, shown):
    assert redact_url(raw) == shown
    assert "s3cret" not in redact_url(raw)


def test_claim_gives_up_on_a_partition_that_keeps_dying(url):
    job_id = new_job(url)
    Store(url).create_partitions(job_id, {"process": REFS})
    for _ in range(MAX_ATTEMPTS):  # each claim of a worker that then died without committing
        assert Store(url).claim_partition(job_id, "process", 0, "w", None).run
    claim = Store(url).claim_partition(job_id, "process", 0, "w", None)
    assert not claim.run and claim.give_up and "did the worker process die" in claim.reason


def test_claim_unsent_hands_each_partition_to_one_caller(url):
    job_id = new_job(url)
    Store(url).create_partitions(job_id, {"tokenize": REFS})
    Store(url).set_task_ids(job_id, "tokenize", {2: "sent-before"})
    first = Store(url).claim_unsent(job_id, "tokenize", "a")
    second = Store(url).claim_unsent(job_id, "tokenize", "b")
    assert first == {0: "a.0", 1: "a.1"} and second == {}
    rows = {p.index: p for p in Store(url).list_partitions(job_id)}
    assert rows[0].chord_id == "a" and rows[0].sent_at is not None and rows[2].task_id == "sent-before"


def test_reset_gives_failed_partitions_new_task_ids(url):
    job_id = new_job(url)
    Store(url).create_partitions(job_id, {"process": REFS})
    Store(url).set_task_ids(job_id, "process", {0: "t0", 1: "t1", 2: "t2"})
    claim = Store(url).claim_partition(job_id, "process", 1, "w", "t1")
    Store(url).fail_partition(claim.partition_id, "boom")
    assert Store(url).reset_unfinished(job_id) == 3
    parts = Store(url).list_partitions(job_id, "process")
    # The failed task's id holds a FAILURE result that would fail a chord waiting on it.
    assert [(p.state, p.task_id, p.attempts) for p in parts] == [
        ("pending", "t0", 0),
        ("pending", None, 0),
        ("pending", "t2", 0),
    ]
    Store(url).reset_unfinished(job_id, clear_task_ids=True)
    assert {p.task_id for p in Store(url).list_partitions(job_id, "process")} == {None}


def test_claim_leaves_a_unit_a_live_worker_runs(url):
    """A second copy of a running unit (a resume, a redelivery) is skipped, not run beside the first."""
    store = Store(url)
    job_id = new_job(url)
    store.create_partitions(job_id, {"process": REFS})
    store.beat("w1@host", 1, ["process"], [])  # a worker's first heartbeat comes before its first task
    assert store.claim_partition(job_id, "process", 0, "w1@host", "t0", alive_within=30).run
    # Claimed since w1's last heartbeat: taken to run there even before a heartbeat lists it.
    store.beat("w1@host", 1, ["process"], [])
    second = store.claim_partition(job_id, "process", 0, "w2@host", "t0", alive_within=30)
    assert (second.run, second.reason) == (False, "running on w1@host")
    store.beat("w1@host", 1, ["process"], ["t0"])
    assert not store.claim_partition(job_id, "process", 0, "w2@host", "t0", alive_within=30).run
    # w1 restarted under its name (a new process): the unit it claimed before is not running there any more.
    store.beat("w1@host", 2, ["process"], [])
    assert store.claim_partition(job_id, "process", 0, "w2@host", "t0", alive_within=30).attempts == 2
    # Without a heartbeat younger than the timeout, a worker is dead: a copy takes over.
    store.beat("w2@host", 3, ["process"], ["t0"])
    store.forget_worker("w2@host")
    assert store.claim_partition(job_id, "process", 0, "w3@host", "t0", alive_within=30).attempts == 3


def test_reset_unfinished_leaves_running_units_as_they_are(url):
    """`auralith resume` of a job whose partitions still run: their rows (and attempts) stay."""
    store = Store(url)
    job_id = new_job(url)
    store.create_partitions(job_id, {"process": REFS})
    store.claim_partition(job_id, "process", 0, "w1@host", "t0")
    assert store.reset_unfinished(job_id) == 3
    assert [(p.state, p.attempts) for p in store.list_partitions(job_id, "process")][0] == ("started", 1)


def test_heartbeats_are_timed_by_the_database(url):
    store = Store(url)
    store.beat("w1@host", 7, ["process", "default"], ["a", "b"])
    (beat,) = store.worker_beats().values()
    assert (beat.name, beat.pid, beat.queues, beat.tasks) == ("w1@host", 7, ("process", "default"), {"a", "b"})
    assert beat.age_s < 5 and beat.alive(30) and not beat.alive(-1)
    store.forget_worker("w1@host", pid=8)  # another process of that name: not this one
    assert store.worker_beats()
    store.forget_worker("w1@host", pid=7)
    assert store.worker_beats() == {}


def test_workers_silent_for_long_are_forgotten(url):
    from datetime import timedelta

    from sqlalchemy import update

    from auralith.store.db import session_scope
    from auralith.store.models import WorkerBeat

    store = Store(url)
    store.beat("old@host", 1, [], [])
    store.beat("new@host", 2, [], [])
    with session_scope(url) as s:
        s.execute(
            update(WorkerBeat).where(WorkerBeat.name == "old@host").values(last_seen=store.db_now() - timedelta(days=2))
        )
    assert store.forget_silent_workers(86_400) == 1
    assert list(store.worker_beats()) == ["new@host"]


def test_recount_chords_restores_a_count_lost_with_its_worker(url):
    """A worker killed between a unit's commit and its chord count: the count is set from the committed rows."""
    from auralith.store.db import session_scope
    from auralith.store.models import ChordCounter

    store = Store(url)
    job_id = new_job(url)
    store.create_partitions(job_id, {"process": REFS})
    store.claim_unsent(job_id, "process", "chord-1")
    with session_scope(url) as s:
        s.add(ChordCounter(group_id="chord-1", size=3, done=1, failed=False))
    for index in (0, 1):  # two committed, one of them never counted
        claim = store.claim_partition(job_id, "process", index, "w", f"t{index}")
        store.commit_partition(claim.partition_id, {}, None)
    assert store.recount_chords(job_id, "process") == 1
    assert store.recount_chords(job_id, "process") == 0  # counts are never lowered
    with session_scope(url) as s:
        assert s.get(ChordCounter, "chord-1").done == 2


def test_scans_read_the_rows_without_their_documents(url):
    store = Store(url)
    job_id = new_job(url)
    store.create_partitions(job_id, {"process": REFS, "tokenize": REFS})
    claim = store.claim_partition(job_id, "process", 1, "w", "t1")
    store.commit_partition(claim.partition_id, {"kept": 5}, {"out": "x"})
    full = store.list_partitions(job_id)
    scanned = store.scan_partitions(job_id)
    assert [(p.stage, p.index, p.state, p.task_id, p.worker) for p in scanned] == [
        (p.stage, p.index, p.state, p.task_id, p.worker) for p in full
    ]
    assert all(p.input_ref is None and p.counts is None for p in scanned)  # JSON documents are left out
    figures = store.scan_partitions(job_id, figures=True)
    assert [p.counts for p in figures] == [p.counts for p in full] and figures[1].output_ref == {"out": "x"}
    assert [p.index for p in store.scan_partitions(job_id, "process", state="committed")] == [1]


def test_scans_decode_the_documents_as_the_orm_does(url):
    """The JSON columns come as text and are decoded a column at a time (auralith.store.bulk): the same values."""
    store = Store(url)
    job_id = new_job(url)
    store.create_partitions(job_id, {"process": REFS, "tokenize": REFS})
    counts = {"kept": 5, "removed": {"längd.kurz": 2, "x": 0}, "issues": [{"file": "a,b]", "line": None}]}
    for index, (c, out) in enumerate([(counts, {"out": "é"}), ({}, None)]):
        claim = store.claim_partition(job_id, "process", index, "w", f"t{index}")
        store.commit_partition(claim.partition_id, c, out)
    store.claim_partition(job_id, "tokenize", 0, "w", "t9")
    store.update_progress(partition(url, job_id, "tokenize", 0).id, {"tokens": 7})
    full = store.list_partitions(job_id)
    for kw in ({"figures": True}, {"figures": True, "with_figures_only": True}):
        rows = store.scan_partitions(job_id, **kw)
        want = [p for p in full if not kw.get("with_figures_only") or p.state in ("committed", "started")]
        assert [(p.stage, p.index, p.counts, p.progress) for p in rows] == [
            (p.stage, p.index, p.counts, p.progress) for p in want
        ]
    assert [p.output_ref for p in store.scan_partitions(job_id, figures=True)][:3] == [{"out": "é"}, None, None]
    sent = store.scan_partitions(job_id, uncommitted=True, sent_only=True)  # units with a task id
    assert [(p.stage, p.index, p.task_id) for p in sent] == [("tokenize", 0, "t9")]


def test_units_waiting_past_the_grace_are_counted_without_the_held_ones(url):
    from datetime import timedelta

    store = Store(url)
    job_id = new_job(url)
    store.create_partitions(job_id, {"process": REFS})
    assert store.count_unsent(job_id, "process") == len(REFS)
    sent = store.claim_unsent(job_id, "process", "c")
    assert store.count_unsent(job_id, "process") == 0
    later = store.db_now() + timedelta(seconds=5)
    assert store.count_waiting(job_id, "process", later, set()) == len(REFS)
    assert store.count_waiting(job_id, "process", later, {sent[0]}) == len(REFS) - 1  # a live worker holds it
    assert store.count_waiting(job_id, "process", later - timedelta(seconds=60), set()) == 0  # sent just now
    assert [p.index for p in store.waiting_units(job_id, "process", later, {sent[0]})] == list(range(1, len(REFS)))


def test_units_added_after_the_same_index_are_added_once(url):
    job = new_job(url)
    store = Store(url)
    store.create_partitions(job, {"near_dedup": [({"round": 0}, 0), ({"round": 0}, 0)]})
    store.add_units(job, "near_dedup", 1, [{"round": 1}, {"round": 1}])
    store.add_units(job, "near_dedup", 1, [{"round": 1}, {"round": 1}])  # a second caller, same decision
    rows = store.list_partitions(job, "near_dedup")
    assert [(p.index, p.input_ref, p.state) for p in rows] == [
        (0, {"round": 0}, PartitionState.PENDING),
        (1, {"round": 0}, PartitionState.PENDING),
        (2, {"round": 1}, PartitionState.PENDING),
        (3, {"round": 1}, PartitionState.PENDING),
    ]
