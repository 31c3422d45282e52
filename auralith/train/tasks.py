"""The training task (queue `hpu`, routing key `hpu.train`): thin, like every Auralith task.

It claims the job's `train` row, finds the newest committed checkpoint, runs `loop.train` with hooks
that record progress and checkpoints in the store, then marks the job succeeded. torch (and the HPU
stack) is imported inside the task only, so a worker's parent process never touches a device, and
workers of the data queues need no torch at all.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from celery import Task, uuid
from celery.utils.log import get_task_logger

from auralith import storage
from auralith.app import app, priority_of, store_url
from auralith.config import JobConfig
from auralith.errors import AuralithError, ConfigError
from auralith.store import repo, train_repo
from auralith.store.models import JobState
from auralith.train.data import manifest_file
from auralith.workflow.tasks import STAGE_OF_TASK, AuralithTask, job_config

log = get_task_logger(__name__)


def checkpoint_root(cfg: JobConfig, job_id: str) -> str | Path:
    """`training.checkpoint_dir` if set (then per job), else `{work_dir}/{job_id}/ckpt`. Either may be an
    `s3://` URL (then a string: pathlib would turn `s3://` into `s3:/`)."""
    base = cfg.training.checkpoint_dir
    if base is None:
        return storage.join(cfg.work_dir, job_id, "ckpt")
    if storage.is_url(base):
        return storage.join(base, job_id)
    path = Path(base).expanduser()
    path = path if path.is_absolute() else Path(cfg.base_dir or ".") / path
    return path / job_id


def start_training(url: str, job_id: str, manifest: str, priority: str | None = None) -> str | None:
    """Create the job's `train` row if needed and send the training task, unless training is committed.

    Returns the task id sent, or None. A second send (a redelivered finalize, say) is harmless: the newer
    claim wins and the older run stops at its next log step.
    """
    train_repo.ensure_train_partition(url, job_id, str(manifest))
    part = train_repo.train_partition(url, job_id)
    if part.state == "committed":
        return None
    task_id = uuid()
    repo.set_task_ids(url, job_id, train_repo.TRAIN_STAGE, {0: task_id})
    train_model.apply_async(args=[job_id], task_id=task_id, priority=priority_of(priority or "normal"))
    return task_id


class StoreHooks:
    """Training progress into the store (live row, metrics history, checkpoint rows) and Celery's state.

    Logged steps are buffered and written together at most every `progress_interval_s` (and at the end),
    so the store costs one round of writes per interval whatever the step rate; the job's cancellation
    and a newer claim of the row are learnt in the same round.
    """

    def __init__(self, task: Task, url: str, job_id: str, partition_id: int, steps: int, interval: float,
                 start_kind: str | None = None):
        self.task, self.url, self.job_id = task, url, job_id
        self.start_kind = start_kind  # the event kind of "training started" (webhooks filter on it)
        self.partition_id, self.interval = partition_id, interval
        self.live: dict = {"run": uuid(), "steps": steps}
        train_repo.take_over(url, partition_id, self.live["run"])
        self.buffer: list[dict] = []
        self.pending: dict[int, int] = {}
        self.last_flush = time.monotonic()
        self.cancelled = self.superseded = False

    def started(self, info: dict) -> None:
        self.live.update(device=info["device"], step=info["start_step"])
        start = "resumed at step {start_step}".format(**info) if info["start_step"] else "started"
        repo.add_event(self.url, self.job_id, f"training {start} on {info['device']}: "
                                              f"{info['parameters']:,} parameters, {info['tokens']:,} tokens",
                       kind=self.start_kind)
        self.flush()

    def log(self, metrics: dict) -> None:
        self.live.update(metrics)
        self.buffer.append(metrics)
        if time.monotonic() - self.last_flush >= self.interval or metrics["step"] == self.live["steps"]:
            self.flush()

    def flush(self) -> None:
        state, ours = train_repo.publish_progress(self.url, self.job_id, self.partition_id, self.buffer, self.live)
        self.buffer = []
        self.cancelled = state == JobState.CANCELLED
        # A newer claim of the same row (a redelivered or resent task) takes over; this run gives way.
        self.superseded = not ours
        if self.task.request.id:  # also run eagerly by tests, where there is no task to update
            self.task.update_state(state="PROGRESS", meta=self.live)
        self.last_flush = time.monotonic()

    def checkpoint_started(self, step: int, folder: str | Path) -> bool:
        # Every step up to the checkpoint reaches the history first: a resume from it leaves no gap. A run
        # that was superseded or cancelled meanwhile writes no checkpoint.
        self.flush()
        if self.should_stop():
            return False
        self.pending[step] = train_repo.begin_checkpoint(self.url, self.job_id, step, str(folder))
        return True

    def checkpoint_committed(self, step: int, folder: str | Path, manifest: dict) -> None:
        train_repo.commit_checkpoint(self.url, self.pending.pop(step), manifest["params_sha256"])

    def checkpoints_removed(self, steps: list[int]) -> None:
        train_repo.mark_checkpoints_deleted(self.url, self.job_id, steps)

    def should_stop(self) -> bool:
        return self.cancelled or self.superseded


@app.task(bind=True, base=AuralithTask, name="auralith.train_model")
def train_model(self, job_id: str) -> dict:
    """Train the job's model on its shards, from its newest committed checkpoint if it has one."""
    from auralith.train.loop import train  # torch: imported in the process that trains, never before

    url = store_url()
    claim = repo.claim_partition(url, job_id, train_repo.TRAIN_STAGE, 0, self.request.hostname or "local",
                                 self.request.id)
    if claim.give_up:
        raise AuralithError(claim.reason)
    if not claim.run:
        log.info("job %s training skipped: %s", job_id, claim.reason)
        return {"job_id": job_id, "skipped": claim.reason}
    cfg = job_config(job_id)
    if cfg.training is None:
        raise ConfigError(["training: the job has no training section"], f"job {job_id}")
    training = cfg.training
    if training.threads is None and threading.current_thread() is not threading.main_thread():
        # A thread-pool worker (embedded `auralith run`/`train`) shares the process with the consumer's
        # threads: torch's one OpenMP thread per core then stalls at every op (291 vs 2,395 tok/s measured
        # on 2 cores). A solo worker trains in its main thread and keeps torch's default.
        training = training.model_copy(update={"threads": 1})
    # A job that only trains (`auralith train --shards`) starts here; a data job sent `started` at planning.
    train_only = all(p.stage == train_repo.TRAIN_STAGE for p in repo.list_partitions(url, job_id))
    # Take the row over first: an older run of this job still alive writes nothing from now on.
    hooks = StoreHooks(self, url, job_id, claim.partition_id, training.steps, training.progress_interval_s,
                       start_kind="started" if train_only else None)
    latest = train_repo.latest_checkpoint(url, job_id)
    train_repo.prepare_resume(url, job_id, latest.step if latest else 0)
    result = train(training, claim.input_ref["manifest"], checkpoint_root(cfg, job_id),
                   resume_from=latest.uri if latest else None, hooks=hooks)
    hooks.flush()
    if result.stopped:
        if hooks.superseded:  # the row is the newer run's now: leave it alone
            return {"job_id": job_id, "skipped": "superseded by a newer run of this job"}
        repo.release_partition(url, claim.partition_id)
        return {"job_id": job_id, "skipped": "job cancelled"}
    last = train_repo.latest_checkpoint(url, job_id)
    counts = {**hooks.live, "step": result.step, "params_sha256": result.params_sha256}
    repo.commit_partition(url, claim.partition_id, counts, {"checkpoint": last.uri if last else None})
    repo.set_job_state(url, job_id, JobState.SUCCEEDED, only_from=(JobState.RUNNING,))
    # kind "finished": the job's end for event sinks (finalize_job leaves it to training when the job trains).
    repo.add_event(url, job_id, f"training finished at step {result.step}: loss {result.loss:.4f}, "
                                f"checkpoint {last.uri if last else '-'}", kind="finished")
    return {"job_id": job_id, "step": result.step, "loss": result.loss, "params_sha256": result.params_sha256}


# on_failure marks the `train` row failed, like any stage's partition.
STAGE_OF_TASK[train_model.name] = train_repo.TRAIN_STAGE


def resume_training_only(url: str, job_id: str, priority: str | None) -> bool:
    """Resume a job made by `auralith train --shards` (a `train` row, no data stages): resend its training.

    False for any other job, which `run_job` resumes stage by stage.
    """
    parts = repo.list_partitions(url, job_id)
    if not parts or any(p.stage != train_repo.TRAIN_STAGE for p in parts):
        return False
    if repo.set_job_state(url, job_id, JobState.RUNNING, only_from=(JobState.PENDING, JobState.RUNNING,
                                                                    JobState.FAILED)):
        repo.reset_unfinished(url, job_id)
        start_training(url, job_id, parts[0].input_ref["manifest"], priority)
    return True


def submit_training(cfg: JobConfig, manifest: str | Path, *, priority: str | None = None) -> str:
    """Record a job that trains on existing shards (`auralith train --shards`) and send its task."""
    manifest = manifest_file(manifest if storage.is_url(manifest) else Path(manifest).resolve())
    if not storage.exists(manifest):
        raise AuralithError(f"{manifest}: no such manifest (give the manifest.json of a finished job's output)")
    if cfg.training is None:
        raise ConfigError(["training: required to train (see docs/training.md)"])
    url = store_url()
    job_id = repo.new_job_id()
    repo.create_job(url, job_id, cfg.model_dump(mode="json"), cfg.config_hash(), cfg.name, priority or cfg.priority)
    repo.set_job_state(url, job_id, JobState.RUNNING, output_uri=str(manifest).rsplit("/", 1)[0])
    repo.add_event(url, job_id, f"training submitted on {manifest}", kind="submitted")
    start_training(url, job_id, str(manifest), priority or cfg.priority)
    return job_id
