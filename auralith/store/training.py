"""Repository functions for training: the `train` partition row, checkpoint rows, metrics history.

A job's training is one partition row (stage `train`, index 0): claiming, progress, commit and the
attempt counter work as for any stage. Checkpoint rows go `pending` before a checkpoint's files are
written and `committed` once they are durable; a resume loads the newest committed one.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update

from auralith.store.models import Checkpoint, Job, Partition, TrainMetric, utcnow
from auralith.store.session import SessionOwner

TRAIN_STAGE = "train"
KIND = "training"


class CheckpointState:
    PENDING = "pending"
    COMMITTED = "committed"
    DELETED = "deleted"  # pruned to keep the last K
    ABANDONED = "abandoned"  # pending when its run died: its files may be half written


class TrainingRows(SessionOwner):
    """The `train` row, checkpoint rows and the metrics history."""

    def train_partition(self, job_id: str) -> Partition | None:
        with self.session() as s:
            return s.scalars(  # rank 0's row: the job's figures (a training of several ranks has one per rank)
                select(Partition)
                .where(Partition.job_id == job_id, Partition.stage == TRAIN_STAGE)
                .order_by(Partition.index)
            ).first()

    def begin_checkpoint(self, job_id: str, step: int, uri: str) -> int:
        """A `pending` row for a checkpoint about to be written; returns its id."""
        with self.session() as s:
            row = Checkpoint(job_id=job_id, kind=KIND, step=step, uri=uri, state=CheckpointState.PENDING)
            s.add(row)
            s.flush()
            return row.id

    def commit_checkpoint(self, checkpoint_id: int, sha256: str) -> None:
        """The checkpoint's files are durable: from now on a resume may load it."""
        with self.session() as s:
            s.execute(
                update(Checkpoint)
                .where(Checkpoint.id == checkpoint_id)
                .values(state=CheckpointState.COMMITTED, sha256=sha256)
            )

    def mark_checkpoints_deleted(self, job_id: str, steps: list[int]) -> None:
        with self.session() as s:
            s.execute(
                update(Checkpoint)
                .where(
                    Checkpoint.job_id == job_id,
                    Checkpoint.kind == KIND,
                    Checkpoint.step.in_(steps),
                    Checkpoint.state == CheckpointState.COMMITTED,
                )
                .values(state=CheckpointState.DELETED)
            )

    def latest_checkpoint(self, job_id: str) -> Checkpoint | None:
        """The newest committed training checkpoint of the job, or None."""
        with self.session() as s:
            return s.scalars(
                select(Checkpoint)
                .where(
                    Checkpoint.job_id == job_id, Checkpoint.kind == KIND, Checkpoint.state == CheckpointState.COMMITTED
                )
                .order_by(Checkpoint.step.desc(), Checkpoint.id.desc())
                .limit(1)
            ).first()

    def prepare_resume(self, job_id: str, step: int) -> None:
        """Before a run continues from `step`: forget what a dead run logged or began after it."""
        with self.session() as s:
            s.execute(delete(TrainMetric).where(TrainMetric.job_id == job_id, TrainMetric.step > step))
            s.execute(
                update(Checkpoint)
                .where(
                    Checkpoint.job_id == job_id, Checkpoint.kind == KIND, Checkpoint.state == CheckpointState.PENDING
                )
                .values(state=CheckpointState.ABANDONED)
            )

    def take_over(self, partition_id: int, run_token: str) -> None:
        """Mark the `train` row as driven by the run with this token (a fresh one per claim): a run that
        finds another token there was superseded by a newer claim (a redelivered or resent task)."""
        with self.session() as s:
            s.execute(update(Partition).where(Partition.id == partition_id).values(progress={"run": run_token}))

    def publish_progress(self, job_id: str, partition_id: int, metrics: list[dict], live: dict) -> tuple[str, bool]:
        """One transaction for a running training: append logged steps and set the row's live progress, if
        the row is still this run's (`live["run"]`). Returns (the job's state, whether it is still ours), so
        the run learns of a cancel or a newer claim; a superseded run writes nothing."""
        with self.session() as s:
            row = s.scalars(select(Partition).where(Partition.id == partition_id).with_for_update()).one()
            ours = (row.progress or {}).get("run") == live.get("run")
            if ours:
                s.add_all(
                    TrainMetric(
                        job_id=job_id,
                        step=m["step"],
                        loss=m["loss"],
                        val_loss=m.get("val_loss"),
                        lr=m["lr"],
                        tokens_per_s=m["tokens_per_s"],
                        tokens_seen=m["tokens_seen"],
                        elapsed_s=m["elapsed_s"],
                        time=utcnow(),
                    )
                    for m in metrics
                )
                row.progress = live
            return s.scalar(select(Job.state).where(Job.id == job_id)) or "", ours

    def metrics_history(self, job_id: str) -> list[dict]:
        """Every logged step of the job's training, in step order, as dicts (for plots and `--json`)."""
        cols = ("step", "loss", "val_loss", "lr", "tokens_per_s", "tokens_seen", "elapsed_s")
        with self.session() as s:
            rows = s.scalars(
                select(TrainMetric).where(TrainMetric.job_id == job_id).order_by(TrainMetric.step, TrainMetric.id)
            ).all()
            return [{c: getattr(r, c) for c in cols} for r in rows]

    def training_summary(self, job_id: str) -> dict | None:
        """What `status --json` and `watch` show of a job's training, or None for a job without one."""
        part = self.train_partition(job_id)
        if part is None:
            return None
        live = dict((part.counts if part.state == "committed" else part.progress) or {})
        ckpt = self.latest_checkpoint(job_id)
        return {
            "state": part.state,
            "attempts": part.attempts,
            "worker": part.worker,
            **{
                k: live.get(k)
                for k in (
                    "device",
                    "step",
                    "steps",
                    "loss",
                    "val_loss",
                    "lr",
                    "tokens_per_s",
                    "tokens_seen",
                    "eta_s",
                    "params_sha256",
                )
            },
            "last_checkpoint": None
            if ckpt is None
            else {"step": ckpt.step, "uri": ckpt.uri, "sha256": ckpt.sha256, "created_at": ckpt.created_at.isoformat()},
        }
