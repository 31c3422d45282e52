"""The near-dedup tasks: one per LSH band (a chord header), and the join that is its body.

    dedup_exact --(near_dedup on)--> chord(group(minhash_band_b ...), dedup_near) --> tokenize chord

Headers carry (job id, band) only. The `dedup` row is committed by `dedup_near`, after exact and near
drop lists are both written, so tokenization never starts on half a decision.
"""

from __future__ import annotations

from celery import Task, uuid

from auralith.app import app, priority_of, store_url
from auralith.storage import use_storage_config
from auralith.store import repo
from auralith.store.models import JobState, PartitionState
from auralith.workflow import canvas, runners
from auralith.workflow.near_dedup import decide_exact_first, find_band_edges, join_clusters
from auralith.workflow.tasks import (
    STAGE_OF_TASK,
    AuralithTask,
    _require_committed,
    _run_partition,
    job_config,
    start_tokenization,
)

STAGE_OF_TASK.update({"auralith.minhash_band": "minhash", "auralith.dedup_near": "dedup"})


def start_near_dedup(task: Task, job_id: str) -> bool:
    """From the process chord's body: decide exact duplicates (once), then replace `task` with the band
    chord. Returns True (without replacing) when the dedup row is already committed, so the caller goes on
    to tokenization; False when the job is not running (nothing to do)."""
    url = store_url()
    job = repo.find_job(url, job_id)
    dedup = repo.get_partition(url, job_id, "dedup", 0)
    if dedup is not None and dedup.state == PartitionState.COMMITTED:
        return True
    if job is None or job.state != JobState.RUNNING or dedup is None:
        return False
    cfg = job_config(job_id)
    use_storage_config(cfg.storage)  # outside _run_partition, which sets it for the other tasks
    n = dedup.input_ref["partitions"]
    _require_committed(job_id, "process", n)
    decide_exact_first(cfg.preprocessing.exact_dedup, runners.WorkPaths.for_job(cfg, job_id), n)
    bands = {p.index: p.task_id or uuid() for p in repo.list_partitions(url, job_id, "minhash")
             if p.state != PartitionState.COMMITTED}
    repo.set_task_ids(url, job_id, "minhash", bands)
    opts = {**cfg.limits.task_options(), "priority": priority_of(job.priority)}
    raise task.replace(canvas.near_dedup_canvas(job_id, bands, opts))


@app.task(bind=True, base=AuralithTask, name="auralith.minhash_band")
def minhash_band(self, job_id: str, band: int) -> dict:
    """Bucket one LSH band of every partition and write its verified candidate pairs (chord header)."""

    def work(cfg, ref, progress):
        n = ref["partitions"]
        _require_committed(job_id, "process", n)
        counts = find_band_edges(cfg.preprocessing.near_dedup, runners.WorkPaths.for_job(cfg, job_id), n, band,
                                 progress)
        return counts, None

    return _run_partition(self, job_id, "minhash", band, work)


@app.task(bind=True, base=AuralithTask, name="auralith.dedup_near")
def dedup_near(self, job_id: str) -> dict:
    """Join the bands' pairs into clusters, write drop lists, commit the dedup row, start tokenization."""

    def work(cfg, ref, progress):
        near = cfg.preprocessing.near_dedup
        _require_committed(job_id, "minhash", near.num_bands)
        return join_clusters(near, runners.WorkPaths.for_job(cfg, job_id), ref["partitions"]), None

    return start_tokenization(self, job_id, _run_partition(self, job_id, "dedup", 0, work))
