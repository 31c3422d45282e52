"""Training rows on a SQLite store: the train partition, checkpoint rows pending -> committed, metrics."""

from __future__ import annotations

import pytest

from auralith.store import migrate, repo, train_repo
from auralith.store.db import dispose_all
from auralith.store.models import Checkpoint
from auralith.store.train_repo import CheckpointState


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    migrate.upgrade(url)
    repo.create_job(url, "job-1", {"name": "j"}, "h" * 64, "j", "normal")
    yield url
    dispose_all()


def _metrics(step: int, loss: float) -> dict:
    return {"step": step, "loss": loss, "lr": 1e-3, "tokens_per_s": 100.0, "tokens_seen": step * 10,
            "elapsed_s": step / 10}


def test_train_partition_is_created_once(url):
    train_repo.ensure_train_partition(url, "job-1", "/out/manifest.json")
    train_repo.ensure_train_partition(url, "job-1", "/out/manifest.json")
    parts = repo.list_partitions(url, "job-1")
    assert [(p.stage, p.index, p.input_ref) for p in parts] == [("train", 0, {"manifest": "/out/manifest.json"})]
    claim = repo.claim_partition(url, "job-1", "train", 0, "w", "t1")
    assert claim.run
    train_repo.take_over(url, claim.partition_id, "run-a")
    assert train_repo.publish_progress(url, "job-1", claim.partition_id, [], {"run": "run-a"}) == ("pending", True)
    # A redelivered task claims the row again: the first run is superseded and writes nothing more.
    repo.claim_partition(url, "job-1", "train", 0, "w", "t2")
    train_repo.take_over(url, claim.partition_id, "run-b")
    assert train_repo.publish_progress(url, "job-1", claim.partition_id, [_metrics(5, 1.0)], {"run": "run-a"}) \
        == ("pending", False)
    assert train_repo.metrics_history(url, "job-1") == []
    assert train_repo.publish_progress(url, "job-1", claim.partition_id, [], {"run": "run-b"})[1] is True


def test_only_committed_checkpoints_are_resumed_from(url):
    assert train_repo.latest_checkpoint(url, "job-1") is None
    first = train_repo.begin_checkpoint(url, "job-1", 10, "/ck/10")
    train_repo.commit_checkpoint(url, first, "a" * 64)
    train_repo.begin_checkpoint(url, "job-1", 20, "/ck/20")  # its worker died while writing the files
    latest = train_repo.latest_checkpoint(url, "job-1")
    assert (latest.step, latest.uri, latest.sha256, latest.state) == (10, "/ck/10", "a" * 64, "committed")

    train_repo.prepare_resume(url, "job-1", 10)
    from auralith.store.db import session_scope

    with session_scope(url) as s:
        states = {c.step: c.state for c in s.query(Checkpoint)}
    assert states == {10: CheckpointState.COMMITTED, 20: CheckpointState.ABANDONED}


def test_pruned_checkpoints_are_marked_deleted(url):
    for step in (10, 20):
        train_repo.commit_checkpoint(url, train_repo.begin_checkpoint(url, "job-1", step, f"/ck/{step}"), "x")
    train_repo.mark_checkpoints_deleted(url, "job-1", [20])
    assert train_repo.latest_checkpoint(url, "job-1").step == 10


def test_metrics_after_the_resume_step_are_forgotten(url):
    train_repo.ensure_train_partition(url, "job-1", "/m.json")
    pid = repo.claim_partition(url, "job-1", "train", 0, "w", "t").partition_id
    logged = [_metrics(step, loss) for step, loss in ((10, 5.0), (20, 4.0), (30, 3.5))]
    train_repo.publish_progress(url, "job-1", pid, logged, logged[-1])
    train_repo.prepare_resume(url, "job-1", 20)
    train_repo.publish_progress(url, "job-1", pid, [_metrics(30, 3.4)], {})
    history = train_repo.metrics_history(url, "job-1")
    assert [(m["step"], m["loss"]) for m in history] == [(10, 5.0), (20, 4.0), (30, 3.4)]


def test_summary_shows_live_progress_and_the_last_checkpoint(url):
    assert train_repo.training_summary(url, "job-1") is None
    train_repo.ensure_train_partition(url, "job-1", "/m.json")
    claim = repo.claim_partition(url, "job-1", "train", 0, "w", "t")
    train_repo.publish_progress(url, "job-1", claim.partition_id, [_metrics(40, 3.0)],
                                {"steps": 100, "device": "cpu", **_metrics(40, 3.0)})
    train_repo.commit_checkpoint(url, train_repo.begin_checkpoint(url, "job-1", 40, "/ck/40"), "s" * 64)
    summary = train_repo.training_summary(url, "job-1")
    assert summary["state"] == "started" and summary["step"] == 40 and summary["steps"] == 100
    assert summary["last_checkpoint"]["step"] == 40 and summary["last_checkpoint"]["uri"] == "/ck/40"
