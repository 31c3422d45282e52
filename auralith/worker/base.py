"""What every Auralith task does around its work: retries, failure bookkeeping, and for a stage's units the
claim, throttle, cancellation and commit of their partition rows.

A stage's task declares its stage (`@app.task(base=StageTask, stage="process", ...)`: Celery turns the option
into a class attribute) and inherits the rest; the unit's work is the stage's function in the graph
(auralith.pipeline.stages), so a task is a few lines.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from celery.utils.log import get_task_logger
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from auralith.config import JobConfig
from auralith.errors import AuralithError, JobNotFound, TransientError
from auralith.pipeline.stages import stage as graph_stage
from auralith.pipeline.unit import UnitContext, UnitStopped
from auralith.sources.roots import ENV_VAR as ROOTS_VAR
from auralith.sources.roots import check_job_paths
from auralith.store import Store
from auralith.store.models import JobState, PartitionState
from auralith.store.outage import through_outage as retry_through_outage
from auralith.worker.events import record_event
from auralith.worker.settings import RETRY_BACKOFF_MAX, outage_retry_options

log = get_task_logger(__name__)

# Worth retrying: the database or broker went away (not IntegrityError and the like), a disk hiccup, a task
# stopped by its soft time limit (a slow disk or a busy machine; the hard limit and MAX_ATTEMPTS bound it).
# Bad input (InputError) and bad config are AuralithErrors, not in this list, so they fail at once.
TRANSIENT_ERRORS = (
    TransientError,
    OperationalError,
    InterfaceError,
    SQLAlchemyTimeout,
    ConnectionError,
    TimeoutError,
    OSError,
    SoftTimeLimitExceeded,
)
PERMANENT_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)

T = TypeVar("T")

# Seconds a partition over its job's `limits.max_partitions_in_flight` waits before it asks again.
THROTTLE_DELAY = 5


@lru_cache(maxsize=256)
def job_config(url: str, job_id: str) -> JobConfig:
    """The job's config as stored at submit time (cached: it never changes for a job)."""
    return JobConfig.model_validate(Store.for_url(url).get_job(job_id).config)


class AuralithTask(Task):
    """The retry policy every Auralith task shares, and what a failure does to its job."""

    autoretry_for = TRANSIENT_ERRORS
    dont_autoretry_for = PERMANENT_OS_ERRORS
    retry_backoff = 5
    retry_backoff_max = RETRY_BACKOFF_MAX
    retry_jitter = True
    max_retries = 8
    acks_late = True
    reject_on_worker_lost = True
    stage: str | None = None  # a stage task's stage (auralith.pipeline.stages), from `@app.task(stage=...)`

    @property
    def store(self) -> Store:
        return Store.for_url(self.app.conf.auralith_store_url)

    def job_config(self, job_id: str) -> JobConfig:
        return job_config(self.store.url, job_id)

    def through_outage(self, fn: Callable[[], T], what: str) -> T:
        """`fn()` retried through a database outage with the result backend's backoff (auralith.store.outage)."""
        return retry_through_outage(fn, what, **outage_retry_options(self.app))

    def event(self, job_id: str, message: str, level: str = "info", kind: str | None = None) -> None:
        record_event(self.app, self.store, job_id, message, level, kind)

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        """Out of retries, or a permanent error: the unit's row and its job are marked failed."""
        job_id = kwargs.get("job_id") or (args[0] if args and isinstance(args[0], str) else None)
        if job_id is None and self.name == "auralith.run_job":
            job_id = task_id
        if not job_id:
            return
        message = str(exc) if isinstance(exc, AuralithError) else f"{type(exc).__name__}: {exc}"
        try:
            store = self.store
            if self.stage:
                index = args[1] if len(args) > 1 else kwargs.get("index", 0)
                part = store.get_partition(job_id, self.stage, index)
                if part and part.state == PartitionState.COMMITTED:
                    # What failed came after the commit (storing the result, counting the chord): the unit's
                    # output stands, and the supervisor moves the job on if its chord cannot.
                    log.warning("job %s %s/%s failed after its commit: %s", job_id, self.stage, index, message)
                    return
                if part:
                    store.fail_partition(part.id, message)
                message = f"{self.stage} partition {index}: {message}"
            if store.set_job_state(
                job_id, JobState.FAILED, error=message, only_from=(JobState.PENDING, JobState.RUNNING)
            ):
                self.event(job_id, message, level="error", kind="failed")
        except Exception:  # the store itself is down: the worker log keeps the error
            log.exception("could not record the failure of job %s", job_id)


class StageTask(AuralithTask):
    """A task that runs one unit (partition, band, rank, or the job's one unit) of its stage."""

    # Whether `limits.max_partitions_in_flight` applies (the data stages; training has a card per rank).
    throttled = True

    def run_unit(self, job_id: str, index: int, takeover_from: str | None = None) -> dict:
        """Claim the unit's row, run the stage's function on it, commit its figures. `takeover_from`: the
        worker a resume found dead while its heartbeat was still recent (its claim is taken over)."""
        assert self.stage is not None, f"{self.name} declares no stage"
        store, stage = self.store, self.stage
        limit = None
        if self.throttled:
            try:
                limit = self.job_config(job_id).limits.max_partitions_in_flight
            except JobNotFound:
                pass  # the claim reports the missing job
        claim = store.claim_partition(
            job_id,
            stage,
            index,
            self.request.hostname or "local",
            self.request.id,
            max_in_flight=limit,
            alive_within=float(self.app.conf.auralith_heartbeat_timeout),
            takeover_from=takeover_from,
        )
        if claim.throttled:
            self._wait_for_a_slot()
        if claim.give_up:
            raise AuralithError(claim.reason)  # not retried: on_failure fails the unit and the job
        if not claim.run:
            log.info("job %s %s unit %d skipped: %s", job_id, stage, index, claim.reason)
            return {"job_id": job_id, "stage": stage, "index": index, "skipped": claim.reason}

        def progress(values: dict) -> None:
            # Called about once a second: also where a running unit learns that its job was cancelled.
            if store.update_progress(claim.partition_id, values) == JobState.CANCELLED:
                raise UnitStopped(f"job {job_id} cancelled")

        try:
            # Inside the try: a soft time limit can land anywhere after the claim (a tiny limit, a slow store).
            cfg = self.job_config(job_id)
            _check_paths_once(self.store.url, job_id, os.environ.get(ROOTS_VAR, ""))
            unit = UnitContext(
                job_id=job_id,
                stage=stage,
                index=index,
                cfg=cfg,
                ref=claim.input_ref or {},
                store=store,
                partition_id=claim.partition_id,
                attempt=claim.attempts,
                progress=progress,
                publish_state=self._publish_state,
                event=lambda message, kind: self.event(job_id, message, kind=kind),
            )
            counts, output_ref = graph_stage(stage).unit_function()(unit)
            if self.throttled:
                _fault_test_delay(claim.attempts)
        except UnitStopped as stop:
            if stop.release:
                store.release_partition(claim.partition_id)
            return {"job_id": job_id, "stage": stage, "index": index, "skipped": stop.reason}
        except SoftTimeLimitExceeded:
            # Given back before the retry (autoretry_for), so the row does not claim a running task; its files
            # are rewritten whole by the retry and the commit sets the figures, so nothing is counted twice.
            store.release_partition(claim.partition_id)
            raise
        # The work is done and durable: a database outage now must delay the commit, not fail the unit.
        self.through_outage(
            lambda: store.commit_partition(claim.partition_id, counts, output_ref), f"commit of {stage}/{index}"
        )
        return {"job_id": job_id, "stage": stage, "index": index, "committed": True}

    def _publish_state(self, meta: dict) -> None:
        if self.request.id:  # also run eagerly by tests, where there is no task to update
            self.update_state(state="PROGRESS", meta=meta)

    def _wait_for_a_slot(self) -> None:
        """Send the task again in THROTTLE_DELAY seconds: same id (its chord still counts it), priority and
        time limits, and the same retry count, since waiting is not one of its 8 error retries (`self.retry`
        would count it)."""
        sig = self.signature_from_request(self.request, countdown=THROTTLE_DELAY)
        sig.apply_async()
        raise Retry("waiting for limits.max_partitions_in_flight", when=THROTTLE_DELAY, sig=sig)


@lru_cache(maxsize=256)
def _check_paths_once(url: str, job_id: str, roots: str) -> None:
    """AURALITH_ALLOWED_ROOTS for every unit, not only at `run_job`: a job that only trains (`auralith train`)
    has no run_job. Once per job and setting per process (a raise is not cached, so it fails every unit)."""
    check_job_paths(job_config(url, job_id))


def _fault_test_delay(attempt: int) -> None:
    """Test seam for tests/integration/test_faults.py: AURALITH_TEST_PARTITION_DELAY seconds of sleep
    between a unit's outputs being written and its commit, on its first attempt only, so that a kill, an
    outage or a time limit lands mid-unit once and the retry runs clean. Unset in production."""
    delay = float(os.environ.get("AURALITH_TEST_PARTITION_DELAY") or 0)
    if delay > 0 and attempt == 1:
        time.sleep(delay)
