"""A job's life: `advance(job)`, the one place that decides what runs next.

It reads the job's partition rows and the stage graph (auralith.pipeline.stages) and sends the units of the
first stage that is not committed, as a chord whose body is `advance` again. Every chord body, `run_job`
(start and `auralith resume`) and `Client.train` call it; it is idempotent and safe to call at any time from
anywhere, since it sends only units that nobody has sent (each row's task id is claimed atomically), unless
asked to resend lost ones, which keep their task ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from celery import Celery, chord, group, uuid
from celery.canvas import Signature

from auralith.config import JobConfig
from auralith.pipeline.stages import STAGES, Stage
from auralith.pipeline.stats import job_stats
from auralith.store import Store
from auralith.store.models import JobState, Partition, PartitionState
from auralith.worker.events import record_event
from auralith.worker.settings import message_priority, route

ADVANCE_TASK = "auralith.advance"


@dataclass
class Decision:
    """What one call of `advance` found and did."""

    job_id: str
    state: str | None = None
    stage: str | None = None  # the stage that has work left (None: none, or the job is not running)
    sent: dict[int, str] = field(default_factory=dict)  # unit index -> task id sent now
    finished: bool = False  # this call marked the job succeeded


def advance(
    app: Celery, store: Store, job_id: str, *, resend: bool = False, send: Callable[[Signature], object] | None = None
) -> Decision:
    """Send what should run next for a running job; mark it succeeded when every stage is committed.

    With `resend`, units of the current stage that were sent but are not committed are sent again under
    their task ids (after a crash lost them; `auralith resume`). `send` applies the signature (tests
    collect it instead).
    """
    job = store.find_job(job_id)
    decision = Decision(job_id, job.state if job else None)
    if job is None or job.state != JobState.RUNNING:
        return decision
    rows = store.list_partitions(job_id)
    by_stage: dict[str, list[Partition]] = {}
    for p in rows:
        by_stage.setdefault(p.stage, []).append(p)
    previous: Stage | None = None
    for stage in STAGES:
        parts = by_stage.get(stage.name)
        if not parts:
            continue  # not one of this job's stages (near dedup off, a job that only trains)
        todo = [p for p in parts if p.state != PartitionState.COMMITTED]
        if not todo:
            previous = stage
            continue
        decision.stage = stage.name
        if any(p.state == PartitionState.FAILED for p in todo):
            return decision  # the job is failing (on_failure marks it); a resume resets failed units first
        new = store.claim_unsent(job_id, stage.name, {p.index: uuid() for p in todo if p.task_id is None})
        again = {p.index: p.task_id for p in todo if p.task_id and resend}
        if new and previous is not None and len(new) == len(parts):  # the first send of this stage
            record_event(app, store, job_id, _done_message(previous, rows), kind="stage_done")
        units = {**again, **new}
        if units:
            cfg = JobConfig.model_validate(job.config)
            sig = stage_signature(
                app,
                job_id,
                stage,
                units,
                message_priority(job.priority, app.conf.broker_url or ""),
                cfg.limits.task_options() if stage.throttled else {},
            )
            (send or _apply)(sig)
        decision.sent = units
        return decision
    decision.finished = _succeed(app, store, job_id, rows)
    return decision


def _apply(sig: Signature) -> None:
    # The chord's own apply_async (not Signature's, which would send a `celery.chord` task to the `default`
    # queue for some worker to apply: a needless hop, and none comes when only an `hpu` worker is up).
    sig.apply_async()


def stage_signature(
    app: Celery, job_id: str, stage: Stage, units: dict[int, str], priority: int | None, limits: dict
) -> Signature:
    """chord(group(one task per unit), advance): the units carry (job id, index) only, never data, and
    each its task id, so `auralith cancel` can revoke what is still queued. The next stage is not chained:
    that would copy its whole chord into every message of this one (O(N^2) bytes on the broker)."""
    opts = {**limits, "priority": priority}
    header = group(
        app.signature(stage.task, args=(job_id, i), immutable=True).set(task_id=tid, **opts)
        for i, tid in sorted(units.items())
    )
    # The body runs on the stage's own queue: the pool that just ran the stage is there to decide what follows
    # (a job that only trains, on a cluster with `hpu` workers alone, still finishes).
    body = app.signature(ADVANCE_TASK, args=(job_id,), immutable=True).set(priority=priority, **route(stage.queue))
    return chord(header, body)


def _done_message(stage: Stage, rows: list[Partition]) -> str:
    if stage.name == "finalize":
        st = job_stats(rows)
        return f"data ready: {st.tokens} tokens in {st.shards} shards; training queued"
    if stage.name == "tokenize":
        return f"stage tokenize done: {job_stats(rows).shards} shards"
    return f"stage {stage.name} done"


def _succeed(app: Celery, store: Store, job_id: str, rows: list[Partition]) -> bool:
    job = store.get_job(job_id)
    cfg = JobConfig.model_validate(job.config)
    stats = job_stats(rows)
    summary = stats.to_dict()
    summary.pop("issues")
    data = any(p.stage == "tokenize" for p in rows)
    if data:
        moved = store.set_job_state(
            job_id, JobState.SUCCEEDED, only_from=(JobState.RUNNING,), output_uri=cfg.output.path, stats=summary
        )
    else:  # a job that only trains keeps the output_uri it was given at submit
        moved = store.set_job_state(job_id, JobState.SUCCEEDED, only_from=(JobState.RUNNING,))
    if not moved:
        return False
    parts = []
    if data:
        parts.append(
            f"succeeded: {stats.documents_out} documents, {stats.tokens} tokens, {stats.shards} shards "
            f"in {cfg.output.path}"
        )
    trained = next((p for p in rows if p.stage == "train"), None)
    if trained is not None:
        c, out = trained.counts or {}, trained.output_ref or {}
        parts.append(
            f"training finished at step {c.get('step')}: loss {c.get('loss', float('nan')):.4f}, "
            f"checkpoint {out.get('checkpoint') or '-'}"
        )
    message = "; ".join(parts) or "succeeded"
    record_event(app, store, job_id, message, kind="finished")
    return True
