"""Store-derived series and the worker's task series, rendered as Prometheus text."""

from __future__ import annotations

from celery import signals
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from auralith.observe.metrics import TASKS, registry_for, store_snapshot
from auralith.store import Store, migrate
from auralith.worker import signals as worker_signals  # noqa: F401 (connects the signal handlers)
from auralith.worker.tasks import finalize_job
from tests.heartbeats import silence


def _samples(text: str) -> dict[tuple, float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def _store(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    Store(url).create_job("job-1", {}, "h", "j", "normal")
    Store(url).create_partitions(
        "job-1", {"process": [({}, 100), ({}, 50)], "dedup": [({}, 0)], "tokenize": [({}, 0), ({}, 0)]}
    )
    parts = {(p.stage, p.index): p.id for p in Store(url).list_partitions("job-1")}
    Store(url).commit_partition(
        parts["process", 0], {"records": 10, "kept": 8, "bytes": 100, "removed": {"length.too_short": 2}}, None
    )
    Store(url).commit_partition(
        parts["tokenize", 0], {"documents": 8, "kept": 7, "tokens": 700, "removed": {"exact_duplicate": 1}}, None
    )
    Store(url).claim_partition("job-1", "process", 1, "w@h", "t1")
    # Two workers alive, one silent past the timeout; three heals by the supervisor.
    for name in ("w@h", "t@h", "gone@h"):
        Store(url).beat(name, 1, ["process"], [])
    silence(Store(url), "gone@h", 120)
    Store(url).add_heal("job-1", "process", 0, "worker_dead", "worker gone@h silent for 34 s")
    Store(url).add_heal("job-1", "process", 1, "worker_dead", "worker gone@h silent for 34 s")
    Store(url).add_heal("job-1", "dedup", None, "stalled", "stage dedup sent")
    return url


def test_store_snapshot(tmp_path):
    snap = store_snapshot(_store(tmp_path), heartbeat_timeout_s=30)
    assert snap["jobs"] == {"pending": 1}
    assert snap["partitions"] == {
        "process": {"committed": 1, "started": 1},
        "dedup": {"pending": 1},
        "tokenize": {"committed": 1, "pending": 1},
    }
    assert (snap["documents_processed"], snap["documents_kept"], snap["tokens_processed"]) == (10, 7, 700)
    assert snap["removed"] == {"exact_duplicate": 1, "length.too_short": 2}
    assert snap["heals"] == {"worker_dead": 2, "stalled": 1}
    assert snap["workers"] == {"alive": 2, "silent": 1}


def test_registry_exports_store_and_queue_series(tmp_path):
    registry = registry_for(_store(tmp_path), lambda: {"process": 3, "tokenize": 0}, heartbeat_timeout_s=30)
    text = generate_latest(registry).decode()
    s = _samples(text)
    assert s["auralith_partitions", (("stage", "process"), ("state", "started"))] == 1
    assert s["auralith_partitions", (("stage", "tokenize"), ("state", "failed"))] == 0
    assert s["auralith_tokens_processed_total", ()] == 700
    assert s["auralith_documents_removed_total", (("reason", "length.too_short"),)] == 2
    assert s["auralith_queue_messages", (("queue", "process"),)] == 3
    assert s["auralith_jobs", (("state", "pending"),)] == 1
    assert "# TYPE auralith_heals_total counter" in text
    assert s["auralith_heals_total", (("reason", "worker_dead"),)] == 2
    assert s["auralith_heals_total", (("reason", "stalled"),)] == 1
    assert s["auralith_workers", (("state", "alive"),)] == 2 and s["auralith_workers", (("state", "silent"),)] == 1
    # A longer timeout: the worker silent for 2 min is still taken for alive.
    text = generate_latest(registry_for(_store(tmp_path / "long"), heartbeat_timeout_s=600)).decode()
    assert _samples(text)["auralith_workers", (("state", "silent"),)] == 0


def test_task_signals_count_outcomes_and_durations():
    task = finalize_job
    before = TASKS.labels("finalize_job", "success")._value.get()
    signals.task_prerun.send(sender=task, task_id="t-1", task=task, args=(), kwargs={})
    signals.task_postrun.send(sender=task, task_id="t-1", task=task, args=(), kwargs={}, retval=None, state="SUCCESS")
    assert TASKS.labels("finalize_job", "success")._value.get() == before + 1
    text = generate_latest().decode()
    assert 'auralith_task_duration_seconds_count{outcome="success",task="finalize_job"}' in text


def test_a_running_training_is_a_series_per_job_and_rank(tmp_path):
    from auralith.store.models import JobState

    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    store = Store(url)
    store.create_job("train-1", {}, "h", "t", "normal")
    store.create_partitions("train-1", {"train": [({"rank": 0}, 0), ({"rank": 1}, 0)]})
    store.set_job_state("train-1", JobState.RUNNING)
    for rank, live in enumerate(
        (
            {"step": 40, "steps": 100, "loss": 3.5, "val_loss": 3.7, "tokens_per_s": 2048.0, "tokens_seen": 81920},
            {"step": 40, "steps": 100, "loss": 3.5, "device_memory_bytes": 1 << 30},
        )
    ):
        part = store.claim_partition("train-1", "train", rank, "hpu@h", f"t{rank}")
        store.update_progress(
            part.partition_id, {**live, "device_memory_bytes": live.get("device_memory_bytes", 1 << 29)}
        )
    got = _samples(generate_latest(registry_for(url, heartbeat_timeout_s=30)).decode())
    job0, job1 = (("job", "train-1"), ("rank", "0")), (("job", "train-1"), ("rank", "1"))
    assert got["auralith_train_step", job0] == 40 and got["auralith_train_steps", job0] == 100
    assert got["auralith_train_loss", job0] == 3.5 and got["auralith_train_val_loss", job0] == 3.7
    assert got["auralith_train_tokens_per_second", job0] == 2048.0
    assert got["auralith_train_device_memory_bytes", job1] == 1 << 30  # every rank's card
    assert got["auralith_train_device_memory_bytes", job0] == 1 << 29
    assert ("auralith_train_loss", job1) not in got  # the job's figures come from rank 0
