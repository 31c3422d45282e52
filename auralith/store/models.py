"""Table definitions. Changing one needs an Alembic migration in `store/alembic/versions/`."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite drops the zone on the way back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


class Base(DeclarativeBase):
    pass


class JobState:
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FINAL = (SUCCEEDED, FAILED, CANCELLED)


class PartitionState:
    PENDING = "pending"
    STARTED = "started"
    COMMITTED = "committed"
    FAILED = "failed"


class Job(Base):
    __tablename__ = "auralith_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict] = mapped_column(JSON)
    config_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=JobState.PENDING, index=True)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    output_uri: Mapped[str | None] = mapped_column(Text)
    # Set when the job succeeds (advance): documents, tokens, shards, removals by reason.
    stats: Mapped[dict | None] = mapped_column(JSON)


class Partition(Base):
    """One unit of work of one stage. `committed` means its output is durable and must not be redone.

    On PostgreSQL its pages keep 30% free (fillfactor 70, migration 0006) so that claims, commits and resumes
    update rows in place."""

    __tablename__ = "auralith_partitions"
    __table_args__ = (
        UniqueConstraint("job_id", "stage", "index", name="uq_partition_job_stage_index"),
        Index("ix_partition_job_stage_state", "job_id", "stage", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(64), ForeignKey("auralith_jobs.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))
    index: Mapped[int] = mapped_column(Integer)
    input_ref: Mapped[dict] = mapped_column(JSON)
    input_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(16), default=PartitionState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Live progress while started (throttled writes); final figures in `counts` once committed.
    progress: Mapped[dict | None] = mapped_column(JSON)
    counts: Mapped[dict | None] = mapped_column(JSON)
    output_ref: Mapped[dict | None] = mapped_column(JSON)
    task_id: Mapped[str | None] = mapped_column(String(64))
    # The chord (group id) the unit was last sent in: a unit sent again joins it, so it is counted there once.
    chord_id: Mapped[str | None] = mapped_column(String(155))
    # When the unit was last sent (database time): the supervisor leaves freshly sent units alone.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Times the supervisor sent it again, and the workers that died holding it (max_redeliveries bounds them).
    redeliveries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lost_on: Mapped[list | None] = mapped_column(JSON)
    worker: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    # Database time (as is every timestamp the supervisor compares), so workers' clocks do not matter.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Checkpoint(Base):
    __tablename__ = "auralith_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(64), ForeignKey("auralith_jobs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    step: Mapped[int] = mapped_column(Integer)
    uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    __tablename__ = "auralith_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(64), ForeignKey("auralith_jobs.id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    level: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)


class TrainMetric(Base):
    """One logged training step of a job: the history behind `watch`, `status` and the loss curve."""

    __tablename__ = "auralith_train_metrics"
    __table_args__ = (Index("ix_train_metrics_job_step", "job_id", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(64), ForeignKey("auralith_jobs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    loss: Mapped[float] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    lr: Mapped[float] = mapped_column(Float)
    tokens_per_s: Mapped[float] = mapped_column(Float)
    tokens_seen: Mapped[int] = mapped_column(BigInteger)
    elapsed_s: Mapped[float] = mapped_column(Float)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkerBeat(Base):
    """A worker's heartbeat: written every few seconds by each worker (auralith.worker.heartbeat) with the
    task ids it holds; the supervisor takes a worker silent past the timeout for dead."""

    __tablename__ = "auralith_workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # the Celery node name, e.g. process@host
    pid: Mapped[int] = mapped_column(Integer)
    # prefork, threads, solo...: a solo worker runs its task in the loop that answers pings, so it answers none.
    pool: Mapped[str] = mapped_column(String(16))
    queues: Mapped[list] = mapped_column(JSON)
    # Task ids the worker has received and not finished (reserved, running, or waiting for a countdown).
    tasks: Mapped[list] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)  # database time


class HealRecord(Base):
    """One act of the supervisor: a unit sent again or a stalled job moved on, and why
    (auralith.worker.supervisor). Counted by reason for `auralith_heals_total`."""

    __tablename__ = "auralith_heals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(64), ForeignKey("auralith_jobs.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    index: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChordCounter(Base):
    """One chord's progress: header tasks that succeeded out of `size` (auralith.worker.chords)."""

    __tablename__ = "auralith_chords"

    group_id: Mapped[str] = mapped_column(String(155), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
