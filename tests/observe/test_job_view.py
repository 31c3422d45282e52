"""A job's view (stages with progress and ETA) and its stream (events, snapshots, training steps, end)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from auralith.observe.job_view import follow_job, job_detail, stage_progress
from auralith.pipeline.stats import job_stats
from auralith.store import Store, migrate
from auralith.store.models import JobState


def _store(tmp_path) -> Store:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    store = Store(url)
    store.create_job(
        "job-1", {"name": "j", "storage": {"s3": {"endpoint_url": "http://k:s3cret@minio:9000"}}}, "h", "j", "normal"
    )
    store.create_partitions("job-1", {"process": [({}, 10)] * 4, "train": [({}, 0)]})
    return store


def test_stage_progress_and_eta_from_the_rate_since_the_first_start(tmp_path):
    store = _store(tmp_path)
    parts = [p for p in store.list_partitions("job-1") if p.stage == "process"]
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for p, started in zip(parts[:2], (t0, t0 + timedelta(seconds=5)), strict=True):
        p.state, p.started_at = "committed", started.replace(tzinfo=None)
    parts[2].state, parts[2].started_at = "started", (t0 + timedelta(seconds=8)).replace(tzinfo=None)
    (process,) = [
        s for s in stage_progress(job_stats(parts), parts, t0 + timedelta(seconds=10)) if s["name"] == "process"
    ]
    # 2 units in 10 s since the first started: 0.2 units/s, 2 left, 10 s to go.
    assert (process["committed"], process["total"], process["progress"]) == (2, 4, 0.5)
    assert process["units_per_s"] == 0.2 and process["eta_s"] == 10.0
    (dedup,) = [s for s in stage_progress(job_stats(parts), parts, t0) if s["name"] == "dedup"]
    assert dedup["total"] == 0 and dedup["eta_s"] is None


def test_detail_masks_the_config_and_the_stream_ends_with_the_job(tmp_path):
    store = _store(tmp_path)
    detail = job_detail(store, store.get_job("job-1"))
    assert detail["config"]["storage"]["s3"]["endpoint_url"] == "http://k:***@minio:9000"
    store.add_event("job-1", "planned 4 partitions")
    store.claim_partition("job-1", "train", 0, "hpu@h", "t-train")
    train = store.train_partition("job-1")
    store.update_progress(train.id, {"run": "r1"})
    store.publish_progress(
        "job-1",
        train.id,
        [
            {"step": s, "loss": 5.0 - s, "lr": 1e-3, "tokens_per_s": 100.0, "tokens_seen": s * 64, "elapsed_s": s}
            for s in (1, 2)
        ],
        {"run": "r1", "step": 2, "loss": 3.0},
    )
    rounds = []

    def sleep(_: float) -> None:
        rounds.append(1)
        if len(rounds) == 1:
            store.add_event("job-1", "cancelled", "warning")
            store.set_job_state("job-1", JobState.CANCELLED)

    updates = list(follow_job(store, "job-1", poll=0, sleep=sleep))
    kinds = [u.kind for u in updates]
    assert kinds == ["event", "snapshot", "metrics", "event", "snapshot", "end"]
    assert [m["step"] for m in updates[2].data["steps"]] == [1, 2] and updates[2].data["steps"][1]["loss"] == 3.0
    assert updates[-1].data["state"] == "cancelled" and "config" not in updates[1].data
    paused = follow_job(store, "job-1", poll=0, sleep=None)
    assert [u.kind for u in paused][-1] == "end"
