"""The train stage, one rank: train the job's model on its shards, from its newest committed checkpoint.

The loop (auralith.train.loop) knows nothing of the store; `StoreHooks` records its progress, checkpoints
and the job's cancellation in SQL. torch (and the HPU stack) is imported when a unit runs, never before, so
a worker's parent process never touches a device and workers of the data queues need no torch at all.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from auralith.config import JobConfig
from auralith.errors import ConfigError
from auralith.pipeline.unit import UnitContext, UnitResult, UnitStopped
from auralith.storage import is_url, join
from auralith.store import Store
from auralith.store.models import JobState
from auralith.train.hooks import TrainHooks


def checkpoint_root(cfg: JobConfig, job_id: str) -> str | Path:
    """`training.checkpoint_dir` if set (then per job), else `{work_dir}/{job_id}/ckpt`. Either may be an
    `s3://` URL (then a string: pathlib would turn `s3://` into `s3:/`)."""
    assert cfg.training is not None
    base = cfg.training.checkpoint_dir
    if base is None:
        return join(cfg.work_dir, job_id, "ckpt")
    if is_url(base):
        return join(base, job_id)
    path = Path(base).expanduser()
    path = path if path.is_absolute() else Path(cfg.base_dir or ".") / path
    return path / job_id


class StoreHooks(TrainHooks):
    """Training progress into the store (live row, metrics history, checkpoint rows) and the task's state.

    Logged steps are buffered and written together at most every `progress_interval_s` (and at the end),
    so the store costs one round of writes per interval whatever the step rate; the job's cancellation
    and a newer claim of the row are learnt in the same round.
    """

    def __init__(
        self,
        store: Store,
        job_id: str,
        partition_id: int,
        steps: int,
        interval: float,
        start_kind: str | None = None,
        publish_state: Callable[[dict], None] | None = None,
        on_event: Callable[[str, str | None], None] | None = None,
    ):
        self.store, self.job_id = store, job_id
        self.start_kind = start_kind  # the event kind of "training started" (webhooks filter on it)
        self.partition_id, self.interval = partition_id, interval
        self.publish_state = publish_state or (lambda meta: None)
        self.on_event = on_event or (lambda message, kind: store.add_event(job_id, message))
        self.live: dict = {"run": uuid.uuid4().hex, "steps": steps}
        store.take_over(partition_id, self.live["run"])
        self.buffer: list[dict] = []
        self.pending: dict[int, int] = {}
        self.last_flush = time.monotonic()
        self.cancelled = self.superseded = False

    def started(self, info: dict) -> None:
        self.live.update(device=info["device"], step=info["start_step"])
        start = "resumed at step {start_step}".format(**info) if info["start_step"] else "started"
        self.on_event(
            f"training {start} on {info['device']}: {info['parameters']:,} parameters, {info['tokens']:,} tokens",
            self.start_kind,
        )
        self.flush()

    def log(self, metrics: dict) -> None:
        self.live.update(metrics)
        self.buffer.append(metrics)
        if time.monotonic() - self.last_flush >= self.interval or metrics["step"] == self.live["steps"]:
            self.flush()

    def flush(self) -> None:
        state, ours = self.store.publish_progress(self.job_id, self.partition_id, self.buffer, self.live)
        self.buffer = []
        self.cancelled = state == JobState.CANCELLED
        # A newer claim of the same row (a redelivered or resent task) takes over; this run gives way.
        self.superseded = not ours
        self.publish_state(self.live)
        self.last_flush = time.monotonic()

    def checkpoint_started(self, step: int, folder: str | Path) -> bool:
        # Every step up to the checkpoint reaches the history first: a resume from it leaves no gap. A run
        # that was superseded or cancelled meanwhile writes no checkpoint.
        self.flush()
        if self.should_stop():
            return False
        self.pending[step] = self.store.begin_checkpoint(self.job_id, step, str(folder))
        return True

    def checkpoint_committed(self, step: int, folder: str | Path, manifest: dict) -> None:
        self.store.commit_checkpoint(self.pending.pop(step), manifest["params_sha256"])

    def checkpoints_removed(self, steps: list[int]) -> None:
        self.store.mark_checkpoints_deleted(self.job_id, steps)

    def should_stop(self) -> bool:
        return self.cancelled or self.superseded


def train_unit(unit: UnitContext) -> UnitResult:
    """Train the job's model on the shards of `unit.ref["manifest"]`, from the newest committed checkpoint."""
    from auralith.train.loop import train  # torch: imported in the process that trains, never before

    store, job_id = unit.store, unit.job_id
    if unit.cfg.training is None:
        raise ConfigError(["training: the job has no training section"], f"job {job_id}")
    training = unit.cfg.training
    if training.threads is None and threading.current_thread() is not threading.main_thread():
        # A thread-pool worker (embedded `auralith run`/`train`) shares the process with the consumer's
        # threads: torch's one OpenMP thread per core then stalls at every op (291 vs 2,395 tok/s measured
        # on 2 cores). A solo worker trains in its main thread and keeps torch's default.
        training = training.model_copy(update={"threads": 1})
    # A job that only trains (`auralith train --shards`) starts here; a data job sent `started` at planning.
    train_only = all(p.stage == unit.stage for p in unit.rows())
    # Take the row over first: an older run of this job still alive writes nothing from now on.
    hooks = StoreHooks(
        store,
        job_id,
        unit.partition_id,
        training.steps,
        training.progress_interval_s,
        start_kind="started" if train_only else None,
        publish_state=unit.publish_state,
        on_event=unit.event,
    )
    latest = store.latest_checkpoint(job_id)
    store.prepare_resume(job_id, latest.step if latest else 0)
    result = train(
        training,
        unit.ref["manifest"],
        checkpoint_root(unit.cfg, job_id),
        files=unit.files,
        resume_from=latest.uri if latest else None,
        hooks=hooks,
    )
    hooks.flush()
    if result.stopped:
        if hooks.superseded:  # the row is the newer run's now: leave it alone
            raise UnitStopped("superseded by a newer run of this job", release=False)
        raise UnitStopped("job cancelled")
    last = store.latest_checkpoint(job_id)
    # The job's end (and its `finished` event, which names the step and loss) is advance()'s to record.
    counts = {**hooks.live, "step": result.step, "loss": result.loss, "params_sha256": result.params_sha256}
    return counts, {"checkpoint": last.uri if last else None}
