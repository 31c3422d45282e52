"""One job as the API, the dashboard and `auralith logs --follow` see it: every stage's progress and ETA, the
figures, and a stream of what changed (`follow_job`), all read from the store's rows."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

from auralith.pipeline.stats import JobStats, job_stats
from auralith.redact import redact
from auralith.store import Store
from auralith.store.models import Job, JobState, Partition, PartitionState


def _aware(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=timezone.utc) if t is not None and t.tzinfo is None else t


def stage_progress(stats: JobStats, partitions: list[Partition], now: datetime) -> list[dict]:
    """Per stage: its units by state, the fraction done, units per second since its first unit started, and an
    ETA in seconds at that rate (None until a unit has been committed)."""
    first_start: dict[str, datetime] = {}
    for p in partitions:
        started = _aware(p.started_at)
        if started is not None and (p.stage not in first_start or started < first_start[p.stage]):
            first_start[p.stage] = started
    out = []
    for name, c in stats.stages.items():
        done = c.committed
        elapsed = (now - first_start[name]).total_seconds() if name in first_start else 0.0
        rate = done / elapsed if done and elapsed > 0 else None
        left = c.total - done
        out.append(
            {
                "name": name,
                **vars(c),
                "progress": round(done / c.total, 4) if c.total else 0.0,
                "units_per_s": round(rate, 4) if rate else None,
                "eta_s": round(left / rate, 1) if rate and left else (0.0 if c.total and not left else None),
            }
        )
    return out


def job_summary(job: Job) -> dict:
    """The job row as plain data: what lists show."""
    return {
        "id": job.id,
        "name": job.name,
        "state": job.state,
        "priority": job.priority,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "error": redact(job.error) if job.error else None,
        "output": job.output_uri,
    }


def _iso(t: datetime | None) -> str | None:
    return _aware(t).isoformat() if t is not None else None  # type: ignore[union-attr]


def job_detail(store: Store, job: Job, *, with_config: bool = True) -> dict:
    """Everything a job page shows: the row, stages with progress and ETA, figures (removals, input issues, PII,
    languages when counted), training, and the config with credentials masked."""
    parts = store.list_partitions(job.id)
    stats = job_stats(parts)
    figures = stats.to_dict()
    stages = stage_progress(stats, parts, store.db_now().replace(tzinfo=timezone.utc))
    done = sum(s["committed"] for s in stages)
    total = sum(s["total"] for s in stages)
    detail = {
        **job_summary(job),
        "progress": round(done / total, 4) if total else (1.0 if job.state == JobState.SUCCEEDED else 0.0),
        "stages": stages,
        "figures": figures,
        "training": store.training_summary(job.id),
    }
    if with_config:
        detail["config"] = redact({k: v for k, v in (job.config or {}).items() if k != "base_dir"})
    return detail


@dataclass
class JobUpdate:
    """One item of a job's stream: `kind` is `snapshot` (the job_detail, when anything changed), `event` (a log
    line), `metrics` (new training steps) or `end` (the job reached a final state; the stream stops)."""

    kind: str  # snapshot, event, metrics, end; `pause` where the caller asked to do the waiting
    data: dict = field(default_factory=dict)


def follow_job(
    store: Store,
    job_id: str,
    *,
    poll: float = 1.0,
    history: int = 200,
    sleep: Callable[[float], None] | None = time.sleep,
    snapshots: bool = True,
) -> Iterator[JobUpdate]:
    """What happens to a job, as it happens: its last `history` events, a snapshot, then every new event, a
    snapshot whenever its figures change, new training steps; `end` once it is final. Polls the store every
    `poll` seconds (the store is the one place every worker writes to); with `sleep=None` it yields a `pause`
    update instead of sleeping, for a caller that waits its own way (the API's event loop)."""
    job = store.get_job(job_id)
    last_event = 0
    last_snapshot: dict | None = None
    last_step = -1
    while True:
        for e in store.events_after(job.id, last_event, history if last_event == 0 else 1000):
            last_event = e.id
            yield JobUpdate("event", {"id": e.id, "time": _iso(e.time), "level": e.level, "message": e.message})
        job = store.get_job(job.id)
        if snapshots:
            detail = job_detail(store, job, with_config=False)
            if detail != last_snapshot:
                last_snapshot = detail
                yield JobUpdate("snapshot", detail)
            steps = [m for m in store.metrics_history(job.id) if m["step"] > last_step]
            if steps:
                last_step = steps[-1]["step"]
                yield JobUpdate("metrics", {"steps": steps})
        if job.state in JobState.FINAL:
            # Events written after the state (the final summary): one more read.
            for e in store.events_after(job.id, last_event, 1000):
                last_event = e.id
                yield JobUpdate("event", {"id": e.id, "time": _iso(e.time), "level": e.level, "message": e.message})
            yield JobUpdate("end", job_summary(job))
            return
        if sleep is None:
            yield JobUpdate("pause")
        else:
            sleep(poll)


__all__ = ["JobUpdate", "follow_job", "job_detail", "job_summary", "stage_progress", "PartitionState"]
