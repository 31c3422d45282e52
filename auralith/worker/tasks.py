"""The Celery tasks: thin. Each stage of the graph has a task that runs one unit (auralith.worker.base.StageTask);
`run_job` plans a job and `advance` is every chord's body (auralith.worker.lifecycle).

Every task is idempotent: a committed unit is skipped, outputs are written atomically under deterministic
names, and a commit sets (never adds to) the row's figures.
"""

from __future__ import annotations

from celery.utils.log import get_task_logger

from auralith.config import parse_config
from auralith.errors import ConfigError
from auralith.observe.webhook_hosts import check_webhook
from auralith.pipeline.output import check_output_owner
from auralith.pipeline.plan import plan_job
from auralith.pipeline.stages import STAGES, Stage
from auralith.sources.roots import check_job_paths
from auralith.steps.tokenize import check_tokenizer
from auralith.storage import Files
from auralith.store.models import JobState, PartitionState
from auralith.worker.app import app
from auralith.worker.base import AuralithTask, StageTask
from auralith.worker.lifecycle import ADVANCE_TASK, advance
from auralith.worker.settings import HEAL_TASK
from auralith.worker.supervisor import supervisor_for
from auralith.worker.worker_count import worker_processes

log = get_task_logger(__name__)


def _stage_task(stage: Stage) -> StageTask:
    """The Celery task of one stage of the graph: it runs one unit, `(job_id, index)`, on the stage's queue."""

    def run(self: StageTask, job_id: str, index: int = 0, takeover_from: str | None = None) -> dict:
        return self.run_unit(job_id, index, takeover_from)

    run.__doc__ = f"{stage.description} (stage `{stage.name}`, one {stage.unit}, queue `{stage.queue}`)."
    return app.task(bind=True, base=StageTask, name=stage.task, stage=stage.name, throttled=stage.throttled)(run)


# One task per stage, made from the graph: a new stage needs no code here.
STAGE_TASKS: dict[str, StageTask] = {s.name: _stage_task(s) for s in STAGES}
# The names callers and tests use (`process_partition.delay(job_id, 3)` runs one unit by hand).
process_partition = STAGE_TASKS["process"]
dedup_exact = STAGE_TASKS["dedup"]
minhash_band = STAGE_TASKS["minhash"]
dedup_near = STAGE_TASKS["near_dedup"]
tokenize_partition = STAGE_TASKS["tokenize"]
finalize_job = STAGE_TASKS["finalize"]
train_model = STAGE_TASKS["train"]


@app.task(bind=True, base=AuralithTask, name=ADVANCE_TASK)
def advance_job(self: AuralithTask, job_id: str) -> dict:
    """Send what runs next for the job (every stage's chord body): see auralith.worker.lifecycle."""
    decision = advance(self.app, self.store, job_id)
    return {"job_id": job_id, "stage": decision.stage, "sent": len(decision.sent), "finished": decision.finished}


@app.task(bind=True, base=AuralithTask, name=HEAL_TASK, ignore_result=True)
def heal(self: AuralithTask) -> int:
    """One round of the supervisor (auralith.worker.supervisor), for a beat whose scheduler sends its entries to
    the workers, or by hand (`celery -A auralith call auralith.heal`). Returns how many units it healed."""
    return len(supervisor_for(self.app).round())


@app.task(bind=True, base=AuralithTask, name="auralith.run_job")
def run_job(
    self: AuralithTask, config: dict, job_id: str | None = None, resume: bool = False, reuse_task_ids: bool = False
) -> str:
    """Start (or resume) a job from its config dict; the job id is this task's id unless given.

    Plans the job's rows once, then lets `advance` send what is not yet committed. A resume after a crash
    sends lost units again under their task ids (`reuse_task_ids`); after a cancel it must not, since
    workers drop revoked ids.
    """
    store = self.store
    job_id = job_id or self.request.id
    try:
        cfg = parse_config(config, source=f"job {job_id}").resolved()
    except ConfigError:
        # Record the job anyway, so `auralith status` can say why it never ran.
        name = str(config.get("name") or "job")[:200] if isinstance(config, dict) else "job"
        store.create_job(job_id, config if isinstance(config, dict) else {}, "", name, "normal")
        raise
    store.create_job(job_id, cfg.model_dump(mode="json"), cfg.config_hash(), cfg.name, cfg.priority)
    job = store.get_job(job_id)
    if job.state in (JobState.SUCCEEDED, JobState.CANCELLED) and not resume:
        return job_id
    cfg = self.job_config(job_id)
    check_job_paths(cfg)  # AURALITH_ALLOWED_ROOTS, before any file is opened
    if cfg.events.webhook:
        check_webhook(cfg.events.webhook.url)  # AURALITH_WEBHOOK_HOSTS: refused now, not silently at each event
    parts = store.scan_partitions(job_id)
    data_left = not parts or any(p.stage == "tokenize" and p.state != PartitionState.COMMITTED for p in parts)
    if data_left:
        check_tokenizer(cfg.tokenization)  # fail before hours of processing, not after
    if not parts:
        self.event(job_id, plan_job(store, job_id, cfg, worker_processes(self.app, store)), kind="started")
    elif resume:
        if data_left:
            check_output_owner(Files(cfg.storage), cfg.output.path, job_id)
        # After a crash the lost tasks' ids are reused, so work still queued under them is not sent twice
        # to the same chord, and what live workers still run is left to them; after a cancel the ids are
        # revoked in every worker and must be new.
        n = store.reset_unfinished(job_id, clear_task_ids=not reuse_task_ids)
        self.event(job_id, f"resumed: {n} partitions to redo", kind="started")
    if not store.set_job_state(job_id, JobState.RUNNING, only_from=(JobState.PENDING, JobState.RUNNING)):
        return job_id  # cancelled since it was sent
    advance(self.app, store, job_id, resend=resume)
    return job_id
