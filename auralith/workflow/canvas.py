"""How a job's tasks are composed: the one module that uses `celery.canvas`.

    chord(group(process_i ...), dedup_exact)    dedup_exact then replaces itself with
    chord(group(tokenize_i ...), finalize_job)
    or, with near dedup on, first with chord(group(minhash_band_b ...), dedup_near), whose body then
    starts the tokenize chord.

Headers carry (job id, partition index) only; the data stays on disk. The tokenize chord is built by
the dedup task rather than chained up front: a chain would copy the whole second chord into every
message of the first, O(N^2) bytes on the broker. Each signature gets its task id up front so
`auralith cancel` can revoke work that is still queued.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from celery import chord, group, uuid
from celery.canvas import Signature


@dataclass
class StagePlan:
    """What is left to run for one job, read from its partition rows."""

    job_id: str
    process: list[int] = field(default_factory=list)
    dedup: bool = False
    tokenize: list[int] = field(default_factory=list)
    priority: int | None = None
    # Per-task Celery options from the job's `limits` (soft_time_limit, time_limit).
    options: dict = field(default_factory=dict)
    # Task ids to reuse per stage and index. A resumed partition keeps the id of the task a dead worker
    # lost, so the first run's chord sees it finish and stops polling instead of waiting forever.
    task_ids: dict[str, dict[int, str]] = field(default_factory=dict)


def _fan_out(task, job_id: str, indexes: list[int], options: dict,
             reuse: dict[int, str]) -> tuple[group, dict[int, str]]:
    ids = {i: reuse.get(i) or uuid() for i in indexes}
    return group(task.si(job_id, i).set(task_id=ids[i], **options) for i in indexes), ids


def job_canvas(plan: StagePlan) -> tuple[Signature, dict[str, dict[int, str]]]:
    """The signature of the first stage with work left, and the task ids it assigns per stage.

    Later stages are started by the stage before them (`dedup_exact` starts tokenization).
    """
    from auralith.workflow import tasks

    # Every task of the job carries its priority (and limits); the chord body is sent with its own options.
    opts = {**plan.options, "priority": plan.priority}
    if plan.process:
        header, ids = _fan_out(tasks.process_partition, plan.job_id, plan.process, opts,
                               plan.task_ids.get("process", {}))
        return chord(header, tasks.dedup_exact.si(plan.job_id).set(**opts)), {"process": ids}
    if plan.dedup:
        return tasks.dedup_exact.si(plan.job_id).set(**opts), {}
    finalize = tasks.finalize_job.si(plan.job_id).set(**opts)
    if plan.tokenize:
        header, ids = _fan_out(tasks.tokenize_partition, plan.job_id, plan.tokenize, opts,
                               plan.task_ids.get("tokenize", {}))
        return chord(header, finalize), {"tokenize": ids}
    return finalize, {}


def near_dedup_canvas(job_id: str, bands: dict[int, str], options: dict) -> Signature:
    """chord(group(minhash_band_b ...), dedup_near) over the bands left (band -> task id); just the body
    when every band is done. `options` carries the job's priority and limits, as in `job_canvas`."""
    from auralith.workflow import near_dedup_tasks as t

    body = t.dedup_near.si(job_id).set(**options)
    if not bands:
        return body
    header = group(t.minhash_band.si(job_id, b).set(task_id=tid, **options) for b, tid in sorted(bands.items()))
    return chord(header, body)
