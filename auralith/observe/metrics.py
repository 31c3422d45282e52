"""Prometheus metrics: task figures from the workers, job figures from the store, queue depths from the broker.

Workers count tasks, durations and retries through Celery signals (auralith/worker/signals.py). Prefork pool
children are separate processes, so with `PROMETHEUS_MULTIPROC_DIR` set (before the worker starts) each
writes its own file there and `auralith metrics serve` on the same host merges them
(prometheus-client's multiprocess mode). The store-derived series are computed at each scrape, so
they are right whichever worker did the work. Series and PromQL: docs/metrics.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import load_only

from auralith.pipeline.stats import job_stats
from auralith.store import Store
from auralith.store.db import session_scope
from auralith.store.models import Job, JobState, Partition, PartitionState

PARTITION_STATES = (PartitionState.PENDING, PartitionState.STARTED, PartitionState.COMMITTED, PartitionState.FAILED)
# Partition tasks run seconds to hours; the control tasks well under a second.
DURATION_BUCKETS = (0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, float("inf"))

TASK_DURATION = Histogram(
    "auralith_task_duration_seconds",
    "Run time of Auralith tasks, by task and outcome",
    ["task", "outcome"],
    buckets=DURATION_BUCKETS,
)
TASKS = Counter("auralith_tasks", "Auralith tasks finished, by task and outcome", ["task", "outcome"])
TASK_RETRIES = Counter("auralith_task_retries", "Task retries, by task and reason (exception type)", ["task", "reason"])


def store_snapshot(url: str, heartbeat_timeout_s: float) -> dict:
    """Jobs by state, partitions by stage and state, committed work summed over the whole store, the
    supervisor's heals by reason, and workers whose heartbeat is fresh (`alive`) or older than
    `heartbeat_timeout_s` (`silent`: dead, or cut off from the store)."""
    with session_scope(url) as s:
        jobs = dict(s.execute(select(Job.state, func.count()).group_by(Job.state)).all())
        parts: dict[str, dict[str, int]] = {}
        for stage, state, n in s.execute(
            select(Partition.stage, Partition.state, func.count()).group_by(Partition.stage, Partition.state)
        ):
            parts.setdefault(stage, {})[state] = n
        committed = list(
            s.scalars(
                select(Partition)
                .where(Partition.state == PartitionState.COMMITTED)
                .options(load_only(Partition.stage, Partition.state, Partition.counts, Partition.input_bytes))
            )
        )
    st = job_stats(committed, max_issues=0)
    store = Store.for_url(url)
    ages = [b.age_s for b in store.worker_beats().values()]
    return {
        "jobs": jobs,
        "partitions": parts,
        "documents_processed": st.records,
        "documents_kept": st.documents_out,
        "tokens_processed": st.tokens,
        "bytes_processed": st.bytes_read,
        "removed": st.removed,
        "heals": store.heal_counts(),
        "workers": {
            "alive": sum(age <= heartbeat_timeout_s for age in ages),
            "silent": sum(age > heartbeat_timeout_s for age in ages),
        },
    }


class StoreCollector:
    """Collects the store- and broker-derived series at scrape time."""

    def __init__(self, store_url: str, queue_depths=None, *, heartbeat_timeout_s: float):
        self.store_url = store_url
        self.queue_depths = queue_depths  # () -> {queue: messages}, or None to leave the broker out
        self.heartbeat_timeout_s = heartbeat_timeout_s  # the workers' AURALITH_HEARTBEAT_TIMEOUT_S

    def collect(self) -> Iterator:
        t0 = time.monotonic()
        snap = store_snapshot(self.store_url, self.heartbeat_timeout_s)
        jobs = GaugeMetricFamily("auralith_jobs", "Jobs in the store, by state", labels=["state"])
        for state, n in sorted(snap["jobs"].items()):
            jobs.add_metric([state], n)
        yield jobs
        parts = GaugeMetricFamily("auralith_partitions", "Partitions by stage and state", labels=["stage", "state"])
        for stage, states in sorted(snap["partitions"].items()):
            for state in PARTITION_STATES:
                parts.add_metric([stage, state], states.get(state, 0))
        yield parts
        for name, key, help_ in (
            ("auralith_documents_processed", "documents_processed", "Records read by committed partitions"),
            ("auralith_documents_kept", "documents_kept", "Documents written to shards"),
            ("auralith_tokens_processed", "tokens_processed", "Tokens written to shards"),
            ("auralith_bytes_processed", "bytes_processed", "Input bytes read by committed partitions"),
        ):
            yield CounterMetricFamily(name, help_, value=snap[key])
        removed = CounterMetricFamily("auralith_documents_removed", "Documents removed, by reason", labels=["reason"])
        for reason, n in snap["removed"].items():
            removed.add_metric([reason], n)
        yield removed
        # `auralith_heals_total`: what the supervisor did (auralith.worker.supervisor), over the jobs in the store.
        heals = CounterMetricFamily(
            "auralith_heals", "Units sent again or stages moved on, by reason", labels=["reason"]
        )
        for reason, n in sorted(snap["heals"].items()):
            heals.add_metric([reason], n)
        yield heals
        workers = GaugeMetricFamily(
            "auralith_workers", "Workers with a heartbeat row, by whether it is within the timeout", labels=["state"]
        )
        for state in ("alive", "silent"):
            workers.add_metric([state], snap["workers"][state])
        yield workers
        yield from training_families(training_snapshot(self.store_url))
        if self.queue_depths is not None:
            depth = GaugeMetricFamily("auralith_queue_messages", "Messages waiting in each queue", labels=["queue"])
            for queue, n in sorted(self.queue_depths().items()):
                depth.add_metric([queue], n)
            yield depth
        yield GaugeMetricFamily(
            "auralith_scrape_duration_seconds",
            "Time to compute the store and queue series",
            value=time.monotonic() - t0,
        )


# (series, key of the train row's live progress, help): one gauge each, labelled by job and rank.
TRAINING_SERIES = (
    ("auralith_train_step", "step", "Optimizer steps done by the job's training"),
    ("auralith_train_steps", "steps", "Optimizer steps the job's training runs to"),
    ("auralith_train_loss", "loss", "Training loss at the last logged step (the global batch's)"),
    ("auralith_train_val_loss", "val_loss", "Validation loss at the last evaluation"),
    ("auralith_train_tokens_per_second", "tokens_per_s", "Training throughput of the whole gang, tokens per second"),
    ("auralith_train_tokens_seen", "tokens_seen", "Tokens trained on so far"),
    ("auralith_train_device_memory_bytes", "device_memory_bytes", "Device memory in use by tensors (HPU, CUDA)"),
)


def training_snapshot(url: str) -> list[tuple[str, int, dict]]:
    """(job id, rank, live figures) of every training rank of a running job: its row's progress as the loop last
    published it (auralith.pipeline.training.StoreHooks)."""
    with session_scope(url) as s:
        rows = s.execute(
            select(Partition.job_id, Partition.index, Partition.progress)
            .join(Job, Job.id == Partition.job_id)
            .where(Partition.stage == "train", Job.state == JobState.RUNNING, Partition.state == PartitionState.STARTED)
            .order_by(Partition.job_id, Partition.index)
        ).all()
    return [(job_id, index, dict(progress or {})) for job_id, index, progress in rows]


def training_families(ranks: list[tuple[str, int, dict]]) -> Iterator[GaugeMetricFamily]:
    """The training gauges: loss and val loss, tokens/s and step from rank 0 (the job's figures), device memory
    from every rank."""
    for name, key, help_ in TRAINING_SERIES:
        family = GaugeMetricFamily(name, help_, labels=["job", "rank"])
        for job_id, rank, live in ranks:
            value = live.get(key)
            if isinstance(value, (int, float)) and (rank == 0 or key == "device_memory_bytes"):
                family.add_metric([job_id, str(rank)], float(value))
        yield family


def registry_for(store_url: str, queue_depths=None, *, heartbeat_timeout_s: float) -> CollectorRegistry:
    """The registry `auralith metrics serve` exposes: the workers' files (multiprocess mode) plus the store."""
    registry = CollectorRegistry()
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=path)
    registry.register(StoreCollector(store_url, queue_depths, heartbeat_timeout_s=heartbeat_timeout_s))
    return registry


def serve(store_url: str, host: str, port: int, queue_depths=None, *, heartbeat_timeout_s: float):
    """Start the HTTP endpoint in a thread; returns (server, thread)."""
    from prometheus_client import start_http_server

    return start_http_server(
        port, addr=host, registry=registry_for(store_url, queue_depths, heartbeat_timeout_s=heartbeat_timeout_s)
    )
