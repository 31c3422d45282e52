"""The train stage, one rank: train the job's model on its shards, from its newest committed checkpoint.

The loop (auralith.train.loop) knows nothing of the store; `StoreHooks` records its progress, checkpoints
and the job's cancellation in SQL. torch (and the HPU stack) is imported when a unit runs, never before, so
a worker's parent process never touches a device and workers of the data queues need no torch at all.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from auralith.config import JobConfig
from auralith.errors import AuralithError, ConfigError, one_line
from auralith.pipeline.unit import UnitContext, UnitResult, UnitStopped
from auralith.storage import is_url, join
from auralith.store import Store
from auralith.store.models import JobState, PartitionState
from auralith.train.hooks import TrainHooks

if TYPE_CHECKING:
    from auralith.train.distributed import Gang

# How often one rank's task forms its gang again after a rank died, before it fails (then the job does).
MAX_FORMATIONS = 10


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
        rank: int = 0,
    ):
        self.store, self.job_id, self.rank = store, job_id, rank
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
        self.live.update(device=info["device"], step=info["start_step"], rank=self.rank)
        if self.rank == 0:  # one event for the job, not one per rank
            start = "resumed at step {start_step}".format(**info) if info["start_step"] else "started"
            ranks = f" x {info['world_size']} ranks" if info.get("world_size", 1) > 1 else ""
            self.on_event(
                f"training {start} on {info['device']}{ranks}: {info.get('family', 'auralith')} model, "
                f"{info['parameters']:,} parameters, {info['tokens']:,} tokens",
                self.start_kind,
            )
        self.flush()

    def log(self, metrics: dict) -> None:
        self.live.update(metrics)
        if self.rank == 0:  # the job's history is rank 0's (its loss is the global batch's)
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

    def publish_rendezvous(self, address: str) -> None:
        """Rank 0: its rendezvous address into its row's progress, where the other ranks read it."""
        self.live["rendezvous"] = address
        self.flush()


def rank_gang(unit: UnitContext, hooks: StoreHooks, decide: Callable[[], dict]) -> Gang | None:
    """How this rank finds the others through the store: rank 0's row carries its address. None for one rank."""
    from auralith.train.distributed import Gang, reachable_address

    training = unit.cfg.training
    assert training is not None
    world = int(unit.ref.get("world_size", 1))
    if world <= 1:
        return None
    store, job_id = unit.store, unit.job_id

    def lookup() -> str | None:
        row = store.get_partition(job_id, unit.stage, 0)
        return ((row and row.state == PartitionState.STARTED and row.progress) or {}).get("rendezvous")

    def describe(ranks: list[int]) -> str:
        rows = {p.index: p for p in unit.rows(unit.stage)}
        words = []
        for r in ranks:
            p = rows.get(r)
            if p is None or p.state == PartitionState.PENDING:
                words.append(f"rank {r} is waiting for a free `{unit.stage}` worker (queue hpu)")
            else:
                words.append(f"rank {r} is {p.state} on {p.worker or '?'}")
        return "; ".join(words) + " (start more `-Q hpu --pool=solo` workers, or lower training.world_size)"

    return Gang(
        rank=unit.index,
        world=world,
        publish=hooks.publish_rendezvous,
        lookup=lookup,
        describe_missing=describe,
        host=os.environ.get("AURALITH_TRAIN_ADDR") or reachable_address(make_url(store.url).host),
        port=training.rendezvous_port,
        rendezvous_timeout_s=training.rendezvous_timeout_s,
        collective_timeout_s=training.collective_timeout_s,
        decide=decide,
    )


def export_root(cfg: JobConfig, job_id: str) -> str | Path:
    """Where the Hugging Face folder of a finished training goes: `training.export_dir` (per job), else
    `{work_dir}/{job_id}/hf`."""
    assert cfg.training is not None
    base = cfg.training.export_dir
    if base is None:
        return join(cfg.work_dir, job_id, "hf")
    if is_url(base):
        return join(base, job_id)
    path = Path(base).expanduser()
    return (path if path.is_absolute() else Path(cfg.base_dir or ".") / path) / job_id


def export_job(store: Store, cfg: JobConfig, job_id: str, out: str | Path, files) -> tuple[int, list[str]]:
    """Write the job's newest committed checkpoint as a Hugging Face folder under `out`; (its step, files)."""
    from auralith.train.export import export_checkpoint  # torch and transformers: only where it runs

    latest = store.latest_checkpoint(job_id)
    if latest is None:
        raise AuralithError(f"job {job_id} has no committed checkpoint to export")
    rows = store.list_partitions(job_id, "train")
    manifest = rows[0].input_ref.get("manifest") if rows else None
    eos_id = None
    if manifest:
        from auralith.steps.shards import load_manifest, manifest_file

        eos_id = (load_manifest(files, manifest_file(manifest)).get("tokenizer") or {}).get("eos_id")
    names = export_checkpoint(files, latest.uri, out, cfg.tokenization.tokenizer, eos_id=eos_id)
    return latest.step, names


def train_unit(unit: UnitContext) -> UnitResult:
    """Train the job's model on the shards of `unit.ref["manifest"]`, from the newest committed checkpoint."""
    from auralith.train.distributed import GangBroken  # torch: imported in the process that trains, never before
    from auralith.train.loop import train

    store, job_id = unit.store, unit.job_id
    if unit.cfg.training is None:
        raise ConfigError(["training: the job has no training section"], f"job {job_id}")
    training = unit.cfg.training
    in_thread_pool = threading.current_thread() is not threading.main_thread()
    if training.world_size > 1 and in_thread_pool:
        # One process per rank: a process holds one default process group, and ranks in threads would share it.
        raise ConfigError(
            [
                f"training.world_size: {training.world_size} ranks need one worker process each: "
                "`auralith train --submit` to a cluster with as many `celery -A auralith worker -Q hpu "
                "--pool=solo` workers (docs/training.md#several-cards)"
            ],
            f"job {job_id}",
        )
    if training.threads is None and in_thread_pool:
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
        rank=unit.index,
    )

    def decide() -> dict:
        # What every rank resumes from, read once the gang is complete (with one rank: now).
        latest = store.latest_checkpoint(job_id)
        hooks.buffer = []  # steps a broken gang logged past that checkpoint are trained again
        store.prepare_resume(job_id, latest.step if latest else 0)
        return {"resume": latest.uri if latest else None}

    gang = rank_gang(unit, hooks, decide)
    for formation in range(1, MAX_FORMATIONS + 1):
        try:
            result = train(
                training,
                unit.ref["manifest"],
                checkpoint_root(unit.cfg, job_id),
                files=unit.files,
                resume_from=None if gang else decide()["resume"],
                hooks=hooks,
                gang=gang,
            )
            break
        except GangBroken as exc:
            # In this task, not as a Celery retry: a solo worker holding a retry's countdown would take the dead
            # rank's redelivery meanwhile and wait for itself. The supervisor sends the dead rank's unit again to a
            # live `hpu` worker; every live rank joins the new gang and resumes from the newest checkpoint.
            if formation == MAX_FORMATIONS:
                raise
            unit.event(f"train rank {unit.index}: {exc}; forming the gang again", None)
    hooks.flush()
    if result.stopped:
        if hooks.superseded:  # the row is the newer run's now: leave it alone
            raise UnitStopped("superseded by a newer run of this job", release=False)
        raise UnitStopped("job cancelled")
    last = store.latest_checkpoint(job_id)
    # The job's end (and its `finished` event, which names the step and loss) is advance()'s to record.
    counts = {**hooks.live, "step": result.step, "loss": result.loss, "params_sha256": result.params_sha256}
    counts.pop("rendezvous", None)
    out: dict = {"checkpoint": last.uri if last else None}
    if unit.index == 0 and training.export and last is not None:
        where = export_root(unit.cfg, job_id)
        try:
            export_job(store, unit.cfg, job_id, where, unit.files)
            out["export"] = str(where)
            unit.event(f"model exported for transformers to {where}", None)
        except Exception as exc:  # noqa: BLE001  the checkpoint is the training's product; an export can be redone
            unit.event(
                f"the model was trained but not exported ({one_line(exc)}): `auralith export {job_id} --out DIR` "
                "writes it from the last checkpoint",
                None,
            )
    return counts, out
