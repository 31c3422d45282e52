"""Training rows on a SQLite store: the train partition, checkpoint rows pending -> committed, metrics."""

from __future__ import annotations

import pytest

from auralith.store import Store, migrate
from auralith.store.db import dispose_all
from auralith.store.models import Checkpoint
from auralith.store.training import CheckpointState


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    migrate.upgrade(url)
    Store(url).create_job("job-1", {"name": "j"}, "h" * 64, "j", "normal")
    yield url
    dispose_all()


def _metrics(step: int, loss: float) -> dict:
    return {
        "step": step,
        "loss": loss,
        "lr": 1e-3,
        "tokens_per_s": 100.0,
        "tokens_seen": step * 10,
        "elapsed_s": step / 10,
    }


def test_train_partition_is_planned_once(url):
    Store(url).create_partitions("job-1", {"train": [({"manifest": "/out/manifest.json"}, 0)]})
    Store(url).create_partitions("job-1", {"train": [({"manifest": "/out/manifest.json"}, 0)]})
    parts = Store(url).list_partitions("job-1")
    assert [(p.stage, p.index, p.input_ref) for p in parts] == [("train", 0, {"manifest": "/out/manifest.json"})]
    claim = Store(url).claim_partition("job-1", "train", 0, "w", "t1")
    assert claim.run
    Store(url).take_over(claim.partition_id, "run-a")
    assert Store(url).publish_progress("job-1", claim.partition_id, [], {"run": "run-a"}) == ("pending", True)
    # A redelivered task claims the row again: the first run is superseded and writes nothing more.
    Store(url).claim_partition("job-1", "train", 0, "w", "t2")
    Store(url).take_over(claim.partition_id, "run-b")
    assert Store(url).publish_progress("job-1", claim.partition_id, [_metrics(5, 1.0)], {"run": "run-a"}) == (
        "pending",
        False,
    )
    assert Store(url).metrics_history("job-1") == []
    assert Store(url).publish_progress("job-1", claim.partition_id, [], {"run": "run-b"})[1] is True


def test_only_committed_checkpoints_are_resumed_from(url):
    assert Store(url).latest_checkpoint("job-1") is None
    first = Store(url).begin_checkpoint("job-1", 10, "/ck/10")
    Store(url).commit_checkpoint(first, "a" * 64)
    Store(url).begin_checkpoint("job-1", 20, "/ck/20")  # its worker died while writing the files
    latest = Store(url).latest_checkpoint("job-1")
    assert (latest.step, latest.uri, latest.sha256, latest.state) == (10, "/ck/10", "a" * 64, "committed")

    Store(url).prepare_resume("job-1", 10)
    from auralith.store.db import session_scope

    with session_scope(url) as s:
        states = {c.step: c.state for c in s.query(Checkpoint)}
    assert states == {10: CheckpointState.COMMITTED, 20: CheckpointState.ABANDONED}


def test_pruned_checkpoints_are_marked_deleted(url):
    for step in (10, 20):
        Store(url).commit_checkpoint(Store(url).begin_checkpoint("job-1", step, f"/ck/{step}"), "x")
    Store(url).mark_checkpoints_deleted("job-1", [20])
    assert Store(url).latest_checkpoint("job-1").step == 10


def test_metrics_after_the_resume_step_are_forgotten(url):
    Store(url).create_partitions("job-1", {"train": [({"manifest": "/m.json"}, 0)]})
    pid = Store(url).claim_partition("job-1", "train", 0, "w", "t").partition_id
    logged = [_metrics(step, loss) for step, loss in ((10, 5.0), (20, 4.0), (30, 3.5))]
    Store(url).publish_progress("job-1", pid, logged, logged[-1])
    Store(url).prepare_resume("job-1", 20)
    Store(url).publish_progress("job-1", pid, [_metrics(30, 3.4)], {})
    history = Store(url).metrics_history("job-1")
    assert [(m["step"], m["loss"]) for m in history] == [(10, 5.0), (20, 4.0), (30, 3.4)]


def test_summary_shows_live_progress_and_the_last_checkpoint(url):
    assert Store(url).training_summary("job-1") is None
    Store(url).create_partitions("job-1", {"train": [({"manifest": "/m.json"}, 0)]})
    claim = Store(url).claim_partition("job-1", "train", 0, "w", "t")
    Store(url).publish_progress(
        "job-1", claim.partition_id, [_metrics(40, 3.0)], {"steps": 100, "device": "cpu", **_metrics(40, 3.0)}
    )
    Store(url).commit_checkpoint(Store(url).begin_checkpoint("job-1", 40, "/ck/40"), "s" * 64)
    summary = Store(url).training_summary("job-1")
    assert summary["state"] == "started" and summary["step"] == 40 and summary["steps"] == 100
    assert summary["last_checkpoint"]["step"] == 40 and summary["last_checkpoint"]["uri"] == "/ck/40"
