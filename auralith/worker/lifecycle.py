"""A job's life: `advance(job)`, the one place that decides what runs next.

It reads the job's partition rows and the stage graph (auralith.pipeline.stages) and sends the units of the
first stage that is not committed, as a chord whose body is `advance` again. Every chord body, `run_job`
(start and `auralith resume`) and `Client.train` call it; it is idempotent and safe to call at any time from
anywhere, since it sends only units that nobody has sent (each row's task id is claimed atomically), unless
asked to resend lost ones, which keep their task ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from celery import Celery, chord, group, uuid
from celery.canvas import Signature

from auralith.config import JobConfig
from auralith.errors import one_line
from auralith.observe.queues import queued_task_ids
from auralith.observe.workers import supports_broadcast
from auralith.pipeline.stages import STAGES, Stage
from auralith.pipeline.stats import job_stats
from auralith.store import Beat, Store
from auralith.store.models import JobState, Partition, PartitionState
from auralith.store.partitions import StageStates
from auralith.worker.events import record_event
from auralith.worker.settings import message_priority, route

log = logging.getLogger(__name__)

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

    With `resend`, units of the current stage that were sent, are not committed, that no live worker holds (by
    its heartbeat) and that are not waiting in their queue (where the broker shows it) are sent again under their
    task ids (after a crash lost them; `auralith resume`).
    `send` applies the signature (tests collect it instead).
    """
    job = store.find_job(job_id)
    decision = Decision(job_id, job.state if job else None)
    if job is None or job.state != JobState.RUNNING:
        return decision
    # Counted in SQL, then only the current stage's units left, without their JSON documents: at 100,000 units a
    # chord body reads what it needs, not every row of the job.
    states = store.stage_states(job_id)
    stage, previous = current_stage_of(states)
    if previous is not None and previous.more and (stage is None or not _sent_any(store, job_id, stage, states)):
        # A stage that runs in rounds, its units so far committed: its next round goes first.
        rows = store.list_partitions(job_id, previous.name)
        # Decided from committed rows only: another caller may have added the next round since `states` was read.
        done = all(p.state == PartitionState.COMMITTED for p in rows)
        refs = previous.more_function()(JobConfig.model_validate(job.config), rows) if done else []
        if refs:
            store.add_units(job_id, previous.name, max(p.index for p in rows), refs)
        if refs or not done:  # the stage has units to run again
            states = store.stage_states(job_id)
            stage, previous = current_stage_of(states)
    if stage is not None:
        decision.stage = stage.name
        if states[stage.name].counts.get(PartitionState.FAILED):
            return decision  # the job is failing (on_failure marks it); a resume resets failed units first
        # Only a resume reads units: those sent before (with a task id), read before this call claims the others.
        sent = store.scan_partitions(job_id, stage.name, uncommitted=True, sent_only=True) if resend else []
        chord_id = uuid()
        new = store.claim_unsent(job_id, stage.name, chord_id)  # one UPDATE; none left to claim: no row written
        # A resume sends again what no live worker holds (under the same task ids); what runs is left to run.
        again: list[Partition] = []
        takeover: dict[int, str] = {}
        if resend:
            store.recount_chords(job_id, stage.name)
        if sent:  # no ping nor queue read where nothing was sent before (a resume after a cancel)
            beats = store.worker_beats()
            alive = answering(app, beats)
            held = live_holders(app, store, alive)
            waiting = waiting_task_ids(app, stage.queue)
            again = [p for p in sent if p.index not in new and not held(p) and p.task_id not in waiting]
            # A unit started on a worker whose heartbeat is recent but that answers no ping: its claim is taken over.
            takeover = {p.index: p.worker for p in again if p.worker and p.worker in beats and p.worker not in alive}
        if new and previous is not None and len(new) == states[stage.name].total:  # the first send of this stage
            record_event(app, store, job_id, _done_message(previous, store, job_id), kind="stage_done")
        cfg = JobConfig.model_validate(job.config)
        priority = message_priority(job.priority, app.conf.broker_url or "")
        limits = cfg.limits.task_options() if stage.throttled else {}
        if new:
            (send or _apply)(stage_signature(app, job_id, stage, new, priority, limits, chord_id))
        if again:
            send_again(app, store, job_id, stage, again, priority, limits, send=send, takeover=takeover)
        decision.sent = {**{p.index: p.task_id for p in again if p.task_id}, **new}
        return decision
    decision.finished = _succeed(app, store, job_id, store.scan_partitions(job_id, figures=True))
    return decision


def _sent_any(store: Store, job_id: str, stage: Stage, states: dict[str, StageStates]) -> bool:
    return store.count_unsent(job_id, stage.name) < states[stage.name].total


def current_stage_of(states: dict[str, StageStates]) -> tuple[Stage | None, Stage | None]:
    """(the first of the job's stages in graph order with units not committed, the job's stage before it), from
    the units counted by state (Store.stage_states); (None, last stage) when every unit is committed."""
    previous: Stage | None = None
    for stage in STAGES:
        counted = states.get(stage.name)
        if counted is None or not counted.total:
            continue  # not one of this job's stages (near dedup off, a job that only trains)
        if counted.left:
            return stage, previous
        previous = stage
    return None, previous


def current_stage(rows: list[Partition]) -> tuple[Stage | None, list[Partition], Stage | None]:
    """(the first of the job's stages in graph order with units not committed, those units, the job's stage
    before it); (None, [], last stage) when every unit is committed."""
    by_stage: dict[str, list[Partition]] = {}
    for p in rows:
        by_stage.setdefault(p.stage, []).append(p)
    previous: Stage | None = None
    for stage in STAGES:
        parts = by_stage.get(stage.name)
        if not parts:
            continue  # not one of this job's stages (near dedup off, a job that only trains)
        todo = [p for p in parts if p.state != PartitionState.COMMITTED]
        if todo:
            return stage, todo, previous
        previous = stage
    return None, [], previous


def _apply(sig: Signature) -> None:
    # A chord's own apply_async (not Signature's, which would send a `celery.chord` task to the `default`
    # queue for some worker to apply: a needless hop, and none comes when only an `hpu` worker is up).
    sig.apply_async()


def stage_signature(
    app: Celery,
    job_id: str,
    stage: Stage,
    units: dict[int, str],
    priority: int | None,
    limits: dict,
    chord_id: str | None = None,
    takeover: dict[int, str] | None = None,
) -> Signature:
    """chord(group(one task per unit), advance): the units carry (job id, index) only, never data, and
    each its task id, so `auralith cancel` can revoke what is still queued. The next stage is not chained:
    that would copy its whole chord into every message of this one (O(N^2) bytes on the broker). `chord_id`
    is the header's group id, recorded on the rows so that a unit sent again joins the same chord."""
    takeover = takeover or {}
    header = group(
        _unit_signature(app, job_id, stage, i, tid, priority, limits, takeover.get(i))
        for i, tid in sorted(units.items())
    )
    sig = chord(header, _body_signature(app, job_id, stage, priority))
    # A chord's own task id becomes its header's group id (and its body's task id) when applied.
    return sig.set(task_id=chord_id) if chord_id else sig


def send_again(
    app: Celery,
    store: Store,
    job_id: str,
    stage: Stage,
    parts: list[Partition],
    priority: int | None,
    limits: dict,
    send: Callable[[Signature], object] | None = None,
    takeover: dict[int, str] | None = None,
) -> None:
    """Send units again under their task ids, each in the chord it was sent in: the chord counts it once
    (the copy that was lost never reported) and its body runs when the stage is done, as it would have.
    Units sent before chords were recorded go in a new chord of their own. `takeover`: unit index -> the dead
    worker whose claim the unit's claim takes over (see `answering`)."""
    loose = {}
    takeover = takeover or {}
    for p in parts:
        assert p.task_id is not None
        if p.chord_id:
            sig = _unit_signature(app, job_id, stage, p.index, p.task_id, priority, limits, takeover.get(p.index))
            (send or _apply)(sig.set(group_id=p.chord_id, chord=_body_signature(app, job_id, stage, priority)))
        else:
            loose[p.index] = p.task_id
    if loose:
        chord_id = uuid()
        store.mark_sent(job_id, stage.name, list(loose), chord_id)
        (send or _apply)(stage_signature(app, job_id, stage, loose, priority, limits, chord_id, takeover))


def answering(app: Celery, beats: dict[str, Beat]) -> dict[str, Beat]:
    """The heartbeats of workers that are alive by their heartbeat and, where the broker can broadcast, answer a
    ping now (a resume should not wait a whole heartbeat timeout for a worker killed a moment ago). A `solo`
    worker cannot answer while it runs a task: its heartbeat alone speaks for it."""
    timeout = float(app.conf.auralith_heartbeat_timeout)
    asked = [b.name for b in beats.values() if b.alive(timeout) and b.pool != "solo"]
    if not asked or not supports_broadcast(app):
        return beats
    try:
        replies = app.control.ping(destination=asked, timeout=1.0) or []
    except Exception as exc:  # noqa: BLE001  no answer at all: trust the heartbeats
        log.warning("cannot ping workers: %s", one_line(exc))
        return beats
    answered = {name for reply in replies for name in reply}
    return {name: b for name, b in beats.items() if name not in asked or name in answered}


def waiting_task_ids(app: Celery, queue: str) -> set[str]:
    """Ids of the messages waiting in `queue`, where the broker shows them (Redis); else none."""
    try:
        queued = queued_task_ids(app, [queue])
    except Exception as exc:  # noqa: BLE001  the broker will refuse the resend too, with a clearer error
        log.warning("cannot read queue %s: %s", queue, one_line(exc))
        return set()
    return queued.waiting if queued is not None else set()


def live_holders(app: Celery, store: Store, beats: dict[str, Beat] | None = None) -> Callable[[Partition], bool]:
    """A test of whether a live worker holds a unit, by the heartbeats (auralith.worker.heartbeat): it runs it
    (listed, or claimed since its last heartbeat), has it reserved, or waits to retry it."""
    timeout = float(app.conf.auralith_heartbeat_timeout)
    beats = store.worker_beats() if beats is None else beats
    listed = {t for b in beats.values() if b.alive(timeout) for t in b.tasks}

    def held(p: Partition) -> bool:
        if p.task_id in listed:
            return True
        beat = beats.get(p.worker or "")
        return p.state == PartitionState.STARTED and beat is not None and beat.runs(p.task_id, p.started_at, timeout)

    return held


def _unit_signature(
    app: Celery,
    job_id: str,
    stage: Stage,
    index: int,
    task_id: str,
    priority: int | None,
    limits: dict,
    takeover_from: str | None = None,
) -> Signature:
    kwargs = {"takeover_from": takeover_from} if takeover_from else {}
    return app.signature(stage.task, args=(job_id, index), kwargs=kwargs, immutable=True).set(
        task_id=task_id, priority=priority, **limits
    )


def _body_signature(app: Celery, job_id: str, stage: Stage, priority: int | None) -> Signature:
    # The body runs on the stage's own queue: the pool that just ran the stage is there to decide what follows
    # (a job that only trains, on a cluster with `hpu` workers alone, still finishes).
    return app.signature(ADVANCE_TASK, args=(job_id,), immutable=True).set(priority=priority, **route(stage.queue))


def _done_message(stage: Stage, store: Store, job_id: str) -> str:
    if stage.name == "finalize":
        st = job_stats(store.scan_partitions(job_id, figures=True))
        return f"data ready: {st.tokens} tokens in {st.shards} shards; training queued"
    if stage.name == "tokenize":
        return f"stage tokenize done: {job_stats(store.scan_partitions(job_id, figures=True)).shards} shards"
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
