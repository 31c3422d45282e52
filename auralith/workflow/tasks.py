"""The Celery tasks: thin. Each loads a partition reference, calls a runner, records the result.

Every task is idempotent: a committed partition is skipped, outputs are written atomically under
deterministic names, and a commit sets (never adds to) the row's figures.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache

from celery import Task, uuid
from celery.exceptions import Retry, SoftTimeLimitExceeded
from celery.utils.log import get_task_logger
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from auralith.app import app, priority_of, store_url
from auralith.config import JobConfig, parse_config
from auralith.documents import FilePiece
from auralith.errors import AuralithError, ConfigError, JobNotFound, TransientError
from auralith.settings import RETRY_BACKOFF_MAX
from auralith.steps.shards import write_manifest
from auralith.steps.tokenize import check_tokenizer, load_tokenizer, resolve_eos_id, tokenizer_hash
from auralith.storage import use_storage_config
from auralith.store import repo
from auralith.store.models import JobState, PartitionState, utcnow
from auralith.workflow import canvas, runners
from auralith.workflow.near_dedup import near_dedup_rows, read_near_drops
from auralith.workflow.plan import plan_partitions
from auralith.workflow.roots import check_job_paths
from auralith.workflow.stats import job_stats

log = get_task_logger(__name__)

# Worth retrying: the database or broker went away (not IntegrityError and the like), a disk hiccup, a task
# stopped by its soft time limit (a slow disk or a busy machine; the hard limit and MAX_ATTEMPTS bound it).
# Bad input (InputError) and bad config are AuralithErrors, not in this list, so they fail at once.
TRANSIENT_ERRORS = (TransientError, OperationalError, InterfaceError, SQLAlchemyTimeout, ConnectionError, TimeoutError,
                    OSError, SoftTimeLimitExceeded)
PERMANENT_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


class AuralithTask(Task):
    autoretry_for = TRANSIENT_ERRORS
    dont_autoretry_for = PERMANENT_OS_ERRORS
    retry_backoff = 5
    retry_backoff_max = RETRY_BACKOFF_MAX
    retry_jitter = True
    max_retries = 8
    acks_late = True
    reject_on_worker_lost = True

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        """Out of retries, or a permanent error: the partition and its job are marked failed."""
        job_id = kwargs.get("job_id") or (args[0] if args and isinstance(args[0], str) else None)
        if job_id is None and self.name == "auralith.run_job":
            job_id = task_id
        if not job_id:
            return
        message = str(exc) if isinstance(exc, AuralithError) else f"{type(exc).__name__}: {exc}"
        url = store_url()
        try:
            stage = STAGE_OF_TASK.get(self.name)
            if stage:
                index = args[1] if len(args) > 1 else 0
                part = repo.get_partition(url, job_id, stage, index)
                if part:
                    repo.fail_partition(url, part.id, message)
                message = f"{stage} partition {index}: {message}"
            if repo.set_job_state(url, job_id, JobState.FAILED, error=message,
                                  only_from=(JobState.PENDING, JobState.RUNNING)):
                repo.add_event(url, job_id, message, level="error", kind="failed")
        except Exception:  # the store itself is down: the worker log keeps the error
            log.exception("could not record the failure of job %s", job_id)


@lru_cache(maxsize=256)
def job_config(job_id: str) -> JobConfig:
    """The job's config as stored at submit time (cached: it never changes for a job)."""
    return JobConfig.model_validate(repo.get_job(store_url(), job_id).config)


class JobCancelled(AuralithError):
    """Raised inside a running partition when its job was cancelled; the partition is released."""


# Seconds a partition over its job's `limits.max_partitions_in_flight` waits before it asks again.
THROTTLE_DELAY = 5


def _wait_for_a_slot(task: Task) -> None:
    """Send the task again in THROTTLE_DELAY seconds: same id (its chord still counts it), priority and time
    limits, and the same retry count, since waiting is not one of its 8 error retries (`task.retry` would
    count it)."""
    sig = task.signature_from_request(task.request, countdown=THROTTLE_DELAY)
    sig.apply_async()
    raise Retry("waiting for limits.max_partitions_in_flight", when=THROTTLE_DELAY, sig=sig)


def _run_partition(task: Task, job_id: str, stage: str, index: int, work) -> dict:
    url = store_url()
    try:
        limit = job_config(job_id).limits.max_partitions_in_flight
    except JobNotFound:
        limit = None  # the claim reports the missing job
    claim = repo.claim_partition(url, job_id, stage, index, task.request.hostname or "local", task.request.id,
                                 max_in_flight=limit)
    if claim.throttled:
        _wait_for_a_slot(task)
    if claim.give_up:
        raise AuralithError(claim.reason)  # not retried: on_failure fails the partition and the job
    if not claim.run:
        log.info("job %s %s partition %d skipped: %s", job_id, stage, index, claim.reason)
        return {"job_id": job_id, "stage": stage, "index": index, "skipped": claim.reason}

    def progress(values: dict) -> None:
        # Called about once a second: also where a running partition learns that its job was cancelled.
        if repo.update_progress(url, claim.partition_id, values) == JobState.CANCELLED:
            raise JobCancelled(f"job {job_id} cancelled")

    try:
        # Inside the try: a soft time limit can land anywhere after the claim (a tiny limit, a slow store).
        cfg = job_config(job_id)
        use_storage_config(cfg.storage)
        counts, output_ref = work(cfg, claim.input_ref, progress)
        _fault_test_delay(claim.attempts)
    except JobCancelled:
        repo.release_partition(url, claim.partition_id)
        return {"job_id": job_id, "stage": stage, "index": index, "skipped": "job cancelled"}
    except SoftTimeLimitExceeded:
        # Given back before the retry (autoretry_for), so the row does not claim a running task; its files
        # are rewritten whole by the retry and the commit sets the figures, so nothing is counted twice.
        repo.release_partition(url, claim.partition_id)
        raise
    repo.commit_partition(url, claim.partition_id, counts, output_ref)
    return {"job_id": job_id, "stage": stage, "index": index, "committed": True}


def _fault_test_delay(attempt: int) -> None:
    """Test seam for tests/integration/test_faults.py: AURALITH_TEST_PARTITION_DELAY seconds of sleep
    between a partition's outputs being written and its commit, on its first attempt only, so that a kill,
    an outage or a time limit lands mid-partition once and the retry runs clean. Unset in production."""
    delay = float(os.environ.get("AURALITH_TEST_PARTITION_DELAY") or 0)
    if delay > 0 and attempt == 1:
        time.sleep(delay)


@app.task(bind=True, base=AuralithTask, name="auralith.process_partition")
def process_partition(self, job_id: str, index: int) -> dict:
    """Read, clean, filter and hash one partition of input (queue `process`)."""

    def work(cfg, ref, progress):
        pieces = [FilePiece.from_dict(p) for p in ref["pieces"]]
        paths = runners.WorkPaths.for_job(cfg, job_id)
        counts = runners.process_partition(cfg, pieces, paths, index, progress)
        return counts, {"clean": str(paths.clean(index))}

    return _run_partition(self, job_id, "process", index, work)


@app.task(bind=True, base=AuralithTask, name="auralith.dedup_exact")
def dedup_exact(self, job_id: str) -> dict:
    """Decide, across all partitions, which exact duplicates to drop (chord body of the process stage)."""

    def work(cfg, ref, progress):
        n = ref["partitions"]
        _require_committed(job_id, "process", n)
        if not cfg.preprocessing.exact_dedup:
            return {"removed": {}}, None
        return runners.decide_dedup(runners.WorkPaths.for_job(cfg, job_id), n), None

    if job_config(job_id).preprocessing.near_dedup.enabled:
        from auralith.workflow.near_dedup_tasks import start_near_dedup

        # Replaced by the band chord, whose body commits the dedup row; goes on here only once committed.
        if not start_near_dedup(self, job_id):
            return {"job_id": job_id, "stage": "dedup", "index": 0, "skipped": "job not running"}
    result = _run_partition(self, job_id, "dedup", 0, work)
    return start_tokenization(self, job_id, result)


def start_tokenization(task: Task, job_id: str, result: dict):
    """After the dedup row is committed: replace `task` with the tokenize chord (partitions not yet sent)."""
    url = store_url()
    if result.get("committed"):
        repo.add_event(url, job_id, "stage process done", kind="stage_done")
        repo.add_event(url, job_id, "stage dedup done", kind="stage_done")
    job = repo.find_job(url, job_id)
    if job is None or job.state != JobState.RUNNING:
        return result
    # Start tokenization of the partitions nobody has sent yet. Also when this run found dedup already
    # committed (the redelivery of a task whose worker died after its commit), but a second chord body
    # firing after a resume finds every partition claimed and starts nothing.
    plan = _stage_plan(url, job_id, priority_of(job.priority), job_config(job_id).limits.task_options())
    unsent = repo.claim_unsent(url, job_id, "tokenize", {i: uuid() for i in plan.tokenize})
    if plan.tokenize and not unsent:
        return result
    plan.process, plan.dedup, plan.tokenize = [], False, sorted(unsent)
    plan.task_ids = {"tokenize": unsent}
    _send_stage(task, url, plan)


@app.task(bind=True, base=AuralithTask, name="auralith.tokenize_partition")
def tokenize_partition(self, job_id: str, index: int) -> dict:
    """Tokenize one partition's kept documents into safetensors shards (queue `tokenize`)."""

    def work(cfg, ref, progress):
        _require_committed(job_id, "dedup", 1)
        runners.check_output_owner(cfg.output.path, job_id)
        paths = runners.WorkPaths.for_job(cfg, job_id)
        drops = runners.read_drops(paths, index, required=cfg.preprocessing.exact_dedup)
        near = read_near_drops(paths, index) if cfg.preprocessing.near_dedup.enabled else set()
        counts, shards = runners.tokenize_partition(cfg, paths, index, drops, progress, near_positions=near)
        return counts, {"shards": shards}

    return _run_partition(self, job_id, "tokenize", index, work)


STAGE_OF_TASK = {"auralith.process_partition": "process", "auralith.dedup_exact": "dedup",
                 "auralith.tokenize_partition": "tokenize"}


def _require_committed(job_id: str, stage: str, expected: int) -> None:
    parts = repo.list_partitions(store_url(), job_id, stage)
    done = sum(p.state == PartitionState.COMMITTED for p in parts)
    if done < expected:
        # Only a chord that fired early could get here; retrying lets the missing partitions land.
        raise TransientError(f"{stage}: {done} of {expected} partitions committed")


@app.task(bind=True, base=AuralithTask, name="auralith.finalize_job")
def finalize_job(self, job_id: str) -> dict:
    """Write manifest.json after every shard, then mark the job succeeded (chord body of tokenize)."""
    url = store_url()
    job = repo.get_job(url, job_id)
    if job.state != JobState.RUNNING:
        return {"job_id": job_id, "state": job.state, "skipped": f"job {job.state}"}
    cfg = job_config(job_id)
    use_storage_config(cfg.storage)
    parts = repo.list_partitions(url, job_id)
    tokenize = [p for p in parts if p.stage == "tokenize"]
    _require_committed(job_id, "tokenize", len(tokenize))
    runners.check_output_owner(cfg.output.path, job_id)
    stats = job_stats(parts)
    tok = load_tokenizer(cfg.tokenization.tokenizer)
    shards = [s for p in sorted(tokenize, key=lambda p: p.index) for s in p.output_ref["shards"]]
    manifest = {
        "format": "auralith-manifest/1",
        "job_id": job_id,
        "name": cfg.name,
        "created_at": utcnow().isoformat(),
        "config_hash": job.config_hash,
        "tokenizer": {
            "spec": cfg.tokenization.tokenizer,
            "sha256": tokenizer_hash(tok),
            "vocab_size": tok.get_vocab_size(with_added_tokens=True),
            "eos_id": resolve_eos_id(tok, cfg.tokenization.eos_token) if cfg.tokenization.append_eos else None,
        },
        "dtype": shards[0]["dtype"] if shards else None,
        "documents": stats.documents_out,
        "tokens": stats.tokens,
        "documents_in": stats.records,
        "removed": stats.removed,
        "shards": shards,
    }
    repo.add_event(url, job_id, f"stage tokenize done: {len(shards)} shards", kind="stage_done")
    path = write_manifest(cfg.output.path, manifest)
    summary = stats.to_dict()
    summary.pop("issues")
    if cfg.training is not None:  # the job goes on to train (queue `hpu`); that task marks it succeeded
        from auralith.train.tasks import start_training

        repo.set_job_state(url, job_id, JobState.RUNNING, output_uri=cfg.output.path, stats=summary,
                           only_from=(JobState.RUNNING,))
        repo.add_event(url, job_id, f"data ready: {stats.tokens} tokens in {len(shards)} shards; training queued",
                       kind="stage_done")
        start_training(url, job_id, str(path), job.priority)
        return {"job_id": job_id, "state": JobState.RUNNING, "manifest": str(path), "training": "queued"}
    repo.set_job_state(url, job_id, JobState.SUCCEEDED, output_uri=cfg.output.path, stats=summary,
                       only_from=(JobState.RUNNING,))
    repo.add_event(url, job_id, f"succeeded: {stats.documents_out} documents, {stats.tokens} tokens, "
                                f"{len(shards)} shards in {cfg.output.path}", kind="finished")
    return {"job_id": job_id, "state": JobState.SUCCEEDED, "manifest": str(path)}


@app.task(bind=True, base=AuralithTask, name="auralith.run_job")
def run_job(self, config: dict, job_id: str | None = None, resume: bool = False,
            reuse_task_ids: bool = False) -> str:
    """Start (or resume) a job from its config dict; the job id is this task's id unless given.

    Plans partitions once, then replaces itself with the canvas of what is not yet committed. A resume
    after a crash reuses the lost tasks' ids (`reuse_task_ids`); after a cancel it must not, since
    workers drop revoked ids.
    """
    url = store_url()
    job_id = job_id or self.request.id
    try:
        cfg = parse_config(config, source=f"job {job_id}").resolved()
    except ConfigError:
        # Record the job anyway, so `auralith status` can say why it never ran.
        name = str(config.get("name") or "job")[:200] if isinstance(config, dict) else "job"
        repo.create_job(url, job_id, config if isinstance(config, dict) else {}, "", name, "normal")
        raise
    repo.create_job(url, job_id, cfg.model_dump(mode="json"), cfg.config_hash(), cfg.name, cfg.priority)
    job = repo.get_job(url, job_id)
    if job.state in (JobState.SUCCEEDED, JobState.CANCELLED) and not resume:
        return job_id
    cfg = job_config(job_id)
    use_storage_config(cfg.storage)
    check_job_paths(cfg)  # AURALITH_ALLOWED_ROOTS, before any file is opened
    from auralith.train.tasks import resume_training_only

    if resume and resume_training_only(url, job_id, cfg.priority):  # `auralith train` jobs have no data stages
        return job_id
    check_tokenizer(cfg.tokenization)  # fail before hours of processing, not after
    if not repo.list_partitions(url, job_id, "process"):
        _plan(url, job_id, cfg)
    elif resume:
        if any(p.state != PartitionState.COMMITTED for p in repo.list_partitions(url, job_id, "tokenize")):
            runners.check_output_owner(cfg.output.path, job_id)
        # After a crash the lost tasks' ids are reused, so the first run's chord sees them finish; after a
        # cancel they are revoked in every worker and must be new.
        n = repo.reset_unfinished(url, job_id, clear_task_ids=not reuse_task_ids)
        repo.add_event(url, job_id, f"resumed: {n} partitions to redo", kind="started")
    if not repo.set_job_state(url, job_id, JobState.RUNNING, only_from=(JobState.PENDING, JobState.RUNNING)):
        return job_id  # cancelled since it was sent
    _send_stage(self, url, _stage_plan(url, job_id, priority_of(cfg.priority), cfg.limits.task_options()))


def _send_stage(task: Task, url: str, plan: canvas.StagePlan):
    """Replace `task` with the next stage's canvas, recording the task ids it will run under."""
    sig, task_ids = canvas.job_canvas(plan)
    for stage, ids in task_ids.items():
        repo.set_task_ids(url, plan.job_id, stage, ids)
    raise task.replace(sig)


def _plan(url: str, job_id: str, cfg: JobConfig) -> None:
    for other in repo.list_jobs(url, limit=1000, state=JobState.RUNNING):
        if other.id != job_id and (other.config.get("output") or {}).get("path") == cfg.output.path:
            # Shard names repeat from job to job: two jobs writing one folder would mix their shards.
            raise ConfigError([f"output.path: {cfg.output.path} is being written by running job {other.id}"])
    partitions = plan_partitions(cfg)
    runners.remove_stale_shards(cfg.output.path)
    runners.claim_output(cfg.output.path, job_id)
    repo.create_partitions(url, job_id, {
        "process": [({"pieces": [p.to_dict() for p in pieces]}, sum(p.size for p in pieces)) for pieces in partitions],
        "dedup": [({"partitions": len(partitions)}, 0)],
        "tokenize": [({"process_index": i}, 0) for i in range(len(partitions))],
        **near_dedup_rows(cfg.preprocessing.near_dedup, len(partitions)),
    })
    total = sum(p.size for pieces in partitions for p in pieces)
    repo.add_event(url, job_id, f"planned {len(partitions)} partitions over {total / 2**20:.1f} MB",
                   kind="started")


def _stage_plan(url: str, job_id: str, priority: int | None, options: dict | None = None) -> canvas.StagePlan:
    """What is left of a job, from its partition rows; stored task ids are reused (see run_job)."""
    plan = canvas.StagePlan(job_id, priority=priority, options=options or {},
                            task_ids={"process": {}, "tokenize": {}})
    todo: dict[str, list[int]] = {"process": plan.process, "dedup": [], "tokenize": plan.tokenize}
    for p in repo.list_partitions(url, job_id):
        if p.stage not in todo:
            continue  # the `train` row: finalize_job starts training again (auralith.train.tasks)
        if p.state != PartitionState.COMMITTED:
            todo.setdefault(p.stage, []).append(p.index)
            if p.task_id and p.stage in plan.task_ids:
                plan.task_ids[p.stage][p.index] = p.task_id
    plan.dedup = bool(todo["dedup"] or plan.process)
    return plan
