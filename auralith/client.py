"""Python API for other apps: submit jobs, read their state, cancel and resume them.

from auralith.client import Client
client = Client(broker_url="redis://127.0.0.1:6379/0",
                store_url="postgresql+psycopg://postgres@127.0.0.1/test")
job_id = client.submit("examples/demo.yaml")
print(client.wait(job_id).state)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from auralith.config import JobConfig, load_config, parse_config
from auralith.errors import AuralithError, ConfigError, JobNotFound
from auralith.observe.job_view import JobUpdate, follow_job, job_detail
from auralith.observe.metrics import store_snapshot
from auralith.observe.queues import BrokerQueues, queue_depths
from auralith.observe.workers import WorkerInfo, inspect_workers, stale_partitions, with_heartbeats
from auralith.pipeline.stages import train_refs
from auralith.pipeline.stats import JobStats, job_stats
from auralith.redact import redact_text
from auralith.steps.shards import manifest_file
from auralith.storage import Files, is_url
from auralith.store import Store, new_job_id
from auralith.store.models import HealRecord, Job, JobState, Partition, PartitionState
from auralith.worker.app import make_app, priority_of
from auralith.worker.events import record_event
from auralith.worker.lifecycle import advance

RUN_JOB_TASK = "auralith.run_job"


@dataclass
class JobInfo:
    id: str
    name: str
    state: str
    priority: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    output: str | None
    config: dict = field(repr=False)
    stats: JobStats | None = field(default=None, repr=False)
    training: dict | None = field(default=None, repr=False)  # step, loss, last checkpoint (Store.training_summary)

    @property
    def figures(self) -> JobStats:
        """The job's figures: on a JobInfo read with stats (`get_job`'s default), never None."""
        if self.stats is None:
            raise ValueError(f"job {self.id} was read without its figures (with_stats=False)")
        return self.stats

    @property
    def done(self) -> bool:
        return self.state in JobState.FINAL

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("id", "name", "state", "priority", "error", "output")}
        for k in ("created_at", "started_at", "finished_at"):
            v = getattr(self, k)
            d[k] = v.isoformat() if v else None
        d["stats"] = self.stats.to_dict() if self.stats else None
        d["training"] = self.training
        return d


def _info(job: Job, stats: JobStats | None = None, training: dict | None = None) -> JobInfo:
    return JobInfo(
        job.id,
        job.name,
        job.state,
        job.priority,
        job.created_at,
        job.started_at,
        job.finished_at,
        job.error,
        job.output_uri,
        job.config,
        stats,
        training,
    )


class Client:
    """Talks to the broker (to send tasks) and the SQL store (to read and record job state).

    Each client owns its Celery app and its `Store`: two clients in one process, pointed at different
    brokers and stores, never see each other's. Unset URLs come from AURALITH_BROKER_URL /
    AURALITH_STORE_URL, then the local defaults."""

    def __init__(self, broker_url: str | None = None, store_url: str | None = None, *, migrate_store: bool = True):
        self.app = make_app(broker_url, store_url)
        self.store = Store(self.app.conf.auralith_store_url)
        self.migrate_store = migrate_store
        self._ready = self._migrated = False

    @property
    def store_url(self) -> str:
        return self.store.url

    @property
    def broker_url(self) -> str:
        return self.app.conf.broker_url

    def _checked_store(self, write: bool = False) -> Store:
        """The store, checked once; migrated first when about to write a new job (`submit`)."""
        if write and self.migrate_store and not self._migrated:
            self.store.upgrade()
            self._migrated = True
        if not self._ready:
            self.store.check_ready()
            self._ready = True
        return self.store

    def _event(self, job_id: str, message: str, level: str = "info", kind: str | None = None) -> None:
        record_event(self.app, self.store, job_id, message, level, kind)

    def submit(self, config: JobConfig | dict | str | Path, *, priority: str | None = None) -> str:
        """Record the job and send it to the workers; returns the job id at once."""
        cfg = _load(config)
        if priority:
            cfg = cfg.model_copy(update={"priority": priority})
            cfg = parse_config(cfg.model_dump(mode="json"))  # validates the priority name
        store = self._checked_store(write=True)
        job_id = new_job_id()
        store.create_job(job_id, cfg.model_dump(mode="json"), cfg.config_hash(), cfg.name, cfg.priority)
        self._event(job_id, f"submitted ({cfg.name}, priority {cfg.priority})", kind="submitted")
        try:
            self._send(job_id, cfg.model_dump(mode="json"), cfg.priority, resume=False)
        except Exception as exc:  # the broker is down: no pending job may linger that nothing will run
            store.set_job_state(job_id, JobState.FAILED, error=f"could not send the job to the broker: {exc}")
            raise
        return job_id

    def _send(self, job_id: str, config: dict, priority: str, resume: bool, reuse_task_ids: bool = False) -> None:
        # By name: this client's app has no task objects (they are the workers').
        self.app.send_task(
            RUN_JOB_TASK,
            args=[config],
            kwargs={"job_id": job_id, "resume": resume, "reuse_task_ids": reuse_task_ids},
            task_id=job_id if not resume else None,
            priority=priority_of(self.app, priority),
        )

    def get_job(self, job_id: str, *, with_stats: bool = True) -> JobInfo:
        store = self._checked_store()
        job = store.get_job(job_id)
        stats = None
        if with_stats:  # units counted in SQL; only those with figures (committed, started) are read
            rows = store.scan_partitions(job.id, figures=True, with_figures_only=True)
            stats = job_stats(rows, states=store.stage_states(job.id))
        training = store.training_summary(job.id) if with_stats else None
        return _info(job, stats, training)

    def partitions(self, job_id: str, stage: str | None = None) -> list[Partition]:
        """The job's partition rows (every stage's units), for reports and tools."""
        store = self._checked_store()
        return store.list_partitions(store.get_job(job_id).id, stage)

    def profile(self, job_id: str) -> dict:
        """The job's data profile merged across its partitions: what `auralith report` writes as profile.json."""
        from auralith.report.merge import build_profile  # pandas loads only when a profile is asked for

        store = self._checked_store()
        job = store.get_job(job_id)
        return build_profile(job, store.list_partitions(job.id), store.metrics_history(job.id))

    def export(self, job_id: str, out: str | Path) -> tuple[int, list[str]]:
        """Write the job's newest committed checkpoint as a Hugging Face model folder (config.json,
        model.safetensors, tokenizer files) under `out`; returns (its step, the files written)."""
        from auralith.pipeline.training import export_job  # torch and transformers load only here

        store = self._checked_store()
        job = store.get_job(job_id)
        cfg = JobConfig.model_validate(job.config)
        if cfg.training is None:
            raise AuralithError(f"job {job.id} has no training section: nothing to export")
        out = out if is_url(out) else Path(out).resolve()
        return export_job(store, cfg, job.id, out, Files(cfg.storage))

    def list_jobs(
        self, limit: int = 50, state: str | None = None, *, offset: int = 0, name: str | None = None
    ) -> list[JobInfo]:
        """Newest first; `state` and `name` (a part of it) filter, `offset` pages."""
        return [_info(j) for j in self._checked_store().list_jobs(limit, state, offset, name)]

    def job_detail(self, job_id: str) -> dict:
        """The job as its page shows it: state, stages with progress and ETA, figures, training, config (masked)."""
        store = self._checked_store()
        return job_detail(store, store.get_job(job_id))

    def follow(
        self, job_id: str, poll: float = 1.0, *, snapshots: bool = True, pauses: bool = False
    ) -> Iterator[JobUpdate]:
        """The job's events and changes as they happen, until it ends (auralith.observe.job_view.follow_job): what
        `GET /api/jobs/{id}/events` streams and `auralith logs --follow` prints. `pauses`: yield a `pause` update
        where it would sleep `poll` seconds."""
        store = self._checked_store()
        return follow_job(store, job_id, poll=poll, snapshots=snapshots, sleep=None if pauses else time.sleep)

    def check_ready(self) -> dict[str, str | None]:
        """Whether the store and the broker answer: {"store": None | why not, "broker": None | why not}."""
        problems: dict[str, str | None] = {"store": None, "broker": None}
        try:
            self.store.check_ready()
        except Exception as exc:
            problems["store"] = redact_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        try:
            self.queue_depths()
        except Exception as exc:
            problems["broker"] = redact_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return problems

    def events(self, job_id: str, limit: int = 200) -> list[tuple[datetime, str, str]]:
        store = self._checked_store()
        job = store.get_job(job_id)
        return [(e.time, e.level, e.message) for e in store.list_events(job.id, limit)]

    def cancel(self, job_id: str, terminate: bool = False) -> int:
        """Mark the job cancelled and revoke its queued tasks; committed outputs stay. Returns tasks revoked.

        Tasks check the job's state before they start, so work queued on a broker without remote
        control (the embedded SQLite one) is skipped as well. Running partitions stop at their next
        progress report (about a second) and go back to pending. `terminate` also sends SIGTERM to the
        prefork children running them, for tasks that report no progress: safe, since outputs are written
        to temporary names and only a committed SQL row makes them count.
        """
        store = self._checked_store()
        job = store.get_job(job_id)
        if job.state in JobState.FINAL:
            raise AuralithError(f"job {job.id} is already {job.state}")
        if not store.set_job_state(job.id, JobState.CANCELLED, only_from=(JobState.PENDING, JobState.RUNNING)):
            raise AuralithError(f"job {job.id} is already {store.get_job(job.id).state}")
        self._event(job.id, "cancelled", level="warning", kind="cancelled")
        ids = [p.task_id for p in store.scan_partitions(job.id) if p.task_id and p.state != PartitionState.COMMITTED]
        ids.append(job.id)
        try:
            self.app.control.revoke(ids, terminate=terminate, signal="SIGTERM")
        except Exception:  # brokers without broadcast (SQLite): the state check above does the work
            return 0
        if terminate:  # a terminated task cannot release its own partition
            for p in store.list_partitions(job.id):
                if p.state == PartitionState.STARTED:
                    store.release_partition(p.id)
        return len(ids)

    def resume(self, job_id: str) -> str:
        """Re-enqueue everything of the job that is not committed."""
        store = self._checked_store()
        job = store.get_job(job_id)
        if job.state == JobState.SUCCEEDED:
            raise AuralithError(f"job {job.id} already succeeded; nothing to resume")
        store.set_job_state(job.id, JobState.RUNNING)
        try:
            self._send(job.id, job.config, job.priority, resume=True, reuse_task_ids=job.state != JobState.CANCELLED)
        except Exception:  # the broker is down: the job is as it was, not running with nothing queued
            store.set_job_state(job.id, job.state, error=job.error, only_from=(JobState.RUNNING,))
            raise
        self._event(job.id, f"resume requested (was {job.state})")
        return job.id

    def heals(self, job_id: str) -> list[HealRecord]:
        """What the supervisor did for the job, oldest first: rows with `time`, `stage`, `index` (None for a
        stage moved on), `reason` (worker_dead, run_lost, message_lost, stalled, gave_up) and `detail`."""
        store = self._checked_store()
        return store.list_heals(store.get_job(job_id).id)

    @property
    def heartbeat_timeout(self) -> float:
        """Seconds of silence after which a worker is taken for dead (AURALITH_HEARTBEAT_TIMEOUT_S)."""
        return float(self.app.conf.auralith_heartbeat_timeout)

    def list_workers(self, timeout: float = 1.0) -> list[WorkerInfo]:
        """Every worker with a heartbeat in the store or answering a ping within `timeout`: its state (alive,
        no heartbeat, dead), heartbeat age, queues; active tasks, pool size and peak RSS where the broker can
        broadcast (not the embedded SQLite one)."""
        beats = self._checked_store().worker_beats()
        return with_heartbeats(inspect_workers(self.app, timeout), beats, self.heartbeat_timeout)

    def queue_depths(self) -> BrokerQueues:
        """Messages waiting per queue (and per priority band on Redis)."""
        return queue_depths(self.app)

    def get_metrics(self) -> dict:
        """What `auralith metrics serve` exports from the store and broker, as plain data."""
        snapshot = store_snapshot(self._checked_store().url, self.heartbeat_timeout)
        return {**snapshot, "queues": self.queue_depths().depths()}

    def stuck_partitions(self, job_id: str) -> list[dict]:
        """The job's units `started` on workers whose heartbeat is older than the heartbeat timeout (or missing):
        the supervisor sends them again by itself."""
        store = self._checked_store()
        started = store.scan_partitions(store.get_job(job_id).id, state=PartitionState.STARTED)
        if not started:
            return []
        return [
            {
                "stage": p.stage,
                "index": p.index,
                "worker": p.worker,
                "silent_s": round(silent, 1) if silent is not None else None,
                "attempts": p.attempts,
                "redeliveries": p.redeliveries,
                "started_at": p.started_at.isoformat() if p.started_at else None,
            }
            for p, silent in stale_partitions(started, store.worker_beats(), self.heartbeat_timeout, store.db_now())
        ]

    def train(self, config: JobConfig | dict | str | Path, shards: str | Path, *, priority: str | None = None) -> str:
        """Train on existing shards (a manifest.json) with the config's `training:` section; returns the job id."""
        cfg = _load(config)
        manifest = manifest_file(shards if is_url(shards) else Path(shards).resolve())
        if not Files(cfg.storage).exists(manifest):  # with the S3 settings its workers will read it with
            raise AuralithError(f"{manifest}: no such manifest (give the manifest.json of a finished job's output)")
        if cfg.training is None:
            raise ConfigError(["training: required to train (see docs/training.md)"])
        store = self._checked_store(write=True)
        job_id = new_job_id()
        priority = priority or cfg.priority
        store.create_job(job_id, cfg.model_dump(mode="json"), cfg.config_hash(), cfg.name, priority)
        # A job that only trains: its one stage is `train` (auralith.pipeline.stages), on these shards.
        store.create_partitions(job_id, {"train": [(ref, 0) for ref in train_refs(str(manifest), cfg)]})
        store.set_job_state(job_id, JobState.RUNNING, output_uri=str(manifest).rsplit("/", 1)[0])
        self._event(job_id, f"training submitted on {manifest}", kind="submitted")
        advance(self.app, store, job_id)
        return job_id

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.5) -> JobInfo:
        """Block until the job ends; TimeoutError after `timeout` seconds.

        A job sent with `run_job.delay()` has no row until a worker picks it up, so an unknown id is
        waited for too (up to `timeout`).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                info = self.get_job(job_id, with_stats=False)
            except JobNotFound:
                if deadline is not None and time.monotonic() > deadline:
                    raise
                time.sleep(poll)
                continue
            if info.done:
                return self.get_job(job_id)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {info.state} after {timeout} s")
            time.sleep(poll)


def _load(config: JobConfig | dict | str | Path) -> JobConfig:
    if isinstance(config, JobConfig):
        return config.resolved()
    if isinstance(config, dict):
        return parse_config(config, base_dir=config.get("base_dir") or Path.cwd())
    return load_config(config)
