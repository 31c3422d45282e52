"""The supervisor: jobs heal themselves when a worker machine dies, the broker loses its queues, or a chord's
body never runs. Nothing here decides what a job runs next; it re-drives the job through `advance` and sends
lost units again under their task ids.

Every `auralith_heal_interval` seconds it looks at each running job's current stage:

- a unit `started` on a worker whose heartbeat (auralith.worker.heartbeat) is older than
  `auralith_heartbeat_timeout` is released and sent again at the highest priority, in the chord it was sent in
  (so the chord counts it once); so is one whose worker is alive but no longer holds it (its pool process died:
  Celery requeues the message at the back of the queue, behind every partition queued since);
- a unit sent but neither claimed, nor held by a live worker, nor on the broker (Redis restarted without
  persistence, or a dead worker had prefetched it) is sent again;
- a stage whose units are all committed but whose next step was never sent (the chord's body was lost, or its
  counter could not be written) is moved on by `advance`, which also finishes a job whose body never ran;
- after `limits.max_redeliveries` deaths of workers on one unit, the job fails with an error naming the unit,
  its input and the workers: an input that kills every worker it reaches must not go round forever.

Each heal is an event (`auralith logs`), a row of `auralith_heals` (`auralith_heals_total{reason}`, `auralith
status`). It runs in `celery -A auralith beat` (HealScheduler runs the `auralith.heal` entry in the beat process,
so it needs no free worker), under a PostgreSQL advisory lock so that of several beats one heals; and in a thread
of the embedded `auralith run`.

Liveness is read from heartbeats in the store, on the database's clock, never from a ping: a `--pool=solo` worker
busy training answers no ping. After the supervisor itself lost the store (an outage), it waits one heartbeat
timeout of a reachable store before it takes silent workers for dead: they could not write their heartbeats either.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import Celery, beat

from auralith.errors import one_line
from auralith.observe.queues import queue_depths, queued_task_ids
from auralith.observe.workers import holder_silent
from auralith.pipeline.stages import Stage
from auralith.store import Beat, Store
from auralith.store.locks import LeaderLock
from auralith.store.models import Job, JobState, Partition, PartitionState
from auralith.store.partitions import StageStates
from auralith.worker.base import job_config
from auralith.worker.events import record_event
from auralith.worker.lifecycle import advance, current_stage_of, send_again
from auralith.worker.settings import HEAL_TASK, message_priority

log = logging.getLogger(__name__)

LOCK_NAME = "auralith-supervisor"
# A worker silent this long is gone for good: its heartbeat row goes (`auralith workers` shows it dead until then).
FORGET_WORKERS_AFTER_S = 86_400


@dataclass
class Heal:
    """One act of the supervisor."""

    job_id: str
    stage: str
    index: int | None
    reason: str  # worker_dead, run_lost, message_lost, stalled, gave_up
    detail: str

    @property
    def message(self) -> str:
        if self.index is None or self.reason == "gave_up":
            return self.detail
        return f"{self.stage}/{self.index} sent again: {self.detail}"


class Supervisor:
    """One supervisor's state across rounds: whether the store has been reachable long enough to trust
    heartbeats, and since when unacknowledged messages have had no live holder."""

    def __init__(self, app: Celery):
        self.app = app
        self.lock = LeaderLock(app.conf.auralith_store_url, LOCK_NAME)
        self._store_ok_since: float | None = None
        self._unheld_since: dict[str, float] = {}  # task id unacknowledged on the broker -> first seen unheld

    @property
    def store(self) -> Store:
        return Store.for_url(self.app.conf.auralith_store_url)

    @property
    def timeout(self) -> float:
        return float(self.app.conf.auralith_heartbeat_timeout)

    @property
    def grace(self) -> float:
        """How long a unit just sent, or a stage just finished, is left alone: its message or chord body may be
        on its way."""
        return float(self.app.conf.auralith_heartbeat_interval)

    def round(self) -> list[Heal]:
        """Look at every running job once; returns what was healed. Never raises."""
        try:
            if not self.lock.held():
                return []  # another supervisor heals
            jobs = self.store.list_jobs(limit=10_000, state=JobState.RUNNING)
            self.store.forget_silent_workers(FORGET_WORKERS_AFTER_S)
            beats = self.store.worker_beats()
            now = self.store.db_now()
        except Exception as exc:  # noqa: BLE001  the store is down: heartbeats cannot be trusted until it is back
            if self._store_ok_since is not None:
                log.warning("supervisor: cannot reach the store (%s); waiting", one_line(exc))
            self._store_ok_since = None
            return []
        if self._store_ok_since is None:
            self._store_ok_since = time.monotonic()
        heals: list[Heal] = []
        pending: list[tuple[Job, Stage, int, datetime]] = []  # units waiting past the grace, per job and stage
        held = {t for b in beats.values() if b.alive(self.timeout) for t in b.tasks}
        for job in jobs:
            try:
                heals += self._heal_job(job, beats, held, now, pending)
            except Exception as exc:  # noqa: BLE001  one job's trouble must not stop the others' healing
                log.warning("supervisor: job %s: %s", job.id, one_line(exc))
        try:
            heals += self._heal_lost_messages(pending, held)
        except Exception as exc:  # noqa: BLE001  the broker is down: its messages are looked at next round
            log.warning("supervisor: cannot read the broker (%s)", one_line(exc))
        return heals

    # --- one job ---------------------------------------------------------------------------------------------

    def _heal_job(
        self,
        job: Job,
        beats: dict[str, Beat],
        held: set[str],
        now: datetime,
        pending: list[tuple[Job, Stage, int, datetime]],
    ) -> list[Heal]:
        # Counted in SQL: of a stage of 100,000 units only those started are read (a few per worker); those waiting
        # are counted, and read only when their queue holds fewer messages than that (_heal_lost_messages).
        states = self.store.stage_states(job.id)
        current, previous = current_stage_of(states)
        if current is None or self.store.count_unsent(job.id, current.name):
            return self._move_on(job, states, current, previous, now)
        if states[current.name].counts.get(PartitionState.FAILED):
            return []  # the job is failing on its own
        heals = []
        trusted = self._store_ok_since is not None and time.monotonic() - self._store_ok_since >= self.timeout
        for p in self.store.scan_partitions(job.id, current.name, state=PartitionState.STARTED):
            if p.task_id in held:
                continue  # a live worker has it: running, reserved, or waiting for a retry's countdown
            why = self._lost_run(p, beats.get(p.worker or ""), now, trusted)
            if why:
                heals += self._send_again(job, current, p, *why)
        sent_before = now - timedelta(seconds=self.grace)
        waiting = self.store.count_waiting(job.id, current.name, sent_before, held)
        if waiting:
            pending.append((job, current, waiting, sent_before))
        return heals

    def _lost_run(self, p: Partition, b: Beat | None, now: datetime, trusted: bool) -> tuple[str, str] | None:
        """(reason, detail) when the unit, started and held by no live worker, started on a worker that is dead
        or that no longer runs it, else None."""
        if holder_silent(p, b, self.timeout, now):
            if not trusted:
                return None
            if b is None:
                return "worker_dead", f"worker {p.worker} has no heartbeat (stopped, or never wrote one)"
            return "worker_dead", f"worker {b.name} silent for {b.age_s:.0f} s"
        if b is not None and not b.runs(p.task_id, p.started_at, self.timeout):
            return "run_lost", f"worker {b.name} no longer runs it (its pool process died, or it restarted)"
        return None

    def _move_on(
        self, job: Job, states: dict[str, StageStates], current: Stage | None, previous: Stage | None, now: datetime
    ) -> list[Heal]:
        """The job's next step was never sent (or its end never recorded) although what precedes it is done:
        a lost chord body. `advance` sends it (it is idempotent: a body arriving meanwhile sends nothing)."""
        done = [s.last_finished for s in states.values() if s.last_finished]
        since = max(done) if done else job.started_at
        if _age(now, since) <= self.grace:
            return []  # the chord body is probably on its way
        decision = advance(self.app, self.store, job.id)
        after = f"stage {previous.name} finished {_age(now, since):.0f} s ago" if previous else "the job started"
        if decision.finished:
            detail = f"job marked finished: {after} and nothing recorded its end"
        elif decision.sent:
            detail = f"stage {decision.stage} sent: {after} and nothing sent it"
        else:
            return []
        heal = Heal(job.id, decision.stage or (current.name if current else "-"), None, "stalled", detail)
        self._record(heal, level="warning")
        return [heal]

    # --- units whose messages are gone -------------------------------------------------------------------------

    def _heal_lost_messages(self, pending: list[tuple[Job, Stage, int, datetime]], held: set[str]) -> list[Heal]:
        """Units sent, not claimed and held by no live worker: send again those the broker no longer has.

        A queue is read message by message only when it holds fewer messages than units waiting for it."""
        if not pending:
            self._unheld_since.clear()
            return []
        wanted: dict[str, int] = {}
        for _, stage, n, _ in pending:
            wanted[stage.queue] = wanted.get(stage.queue, 0) + n
        depths = queue_depths(self.app, sorted(wanted)).depths()
        short = sorted(q for q, n in wanted.items() if depths.get(q, 0) < n)
        if not short:
            return []
        on_broker = queued_task_ids(self.app, short)
        if on_broker is None:
            return []  # a broker that cannot be read: RabbitMQ gives a dead consumer's messages back itself
        now = time.monotonic()
        # A message delivered to a worker whose heartbeat does not list it yet, or to one that died: the first
        # passes within a heartbeat, the second never does.
        self._unheld_since = {t: self._unheld_since.get(t, now) for t in on_broker.unacked if t not in held}
        heals = []
        units = [
            (job, stage, p)
            for job, stage, _, sent_before in pending
            if stage.queue in short
            for p in self.store.waiting_units(job.id, stage.name, sent_before, held)
        ]
        for job, stage, p in units:
            if p.task_id in on_broker.waiting:
                continue
            if p.task_id in on_broker.unacked:
                if now - self._unheld_since.get(p.task_id or "", now) <= self.timeout:
                    continue
                detail = "its message was delivered to a worker that died before running it"
            else:
                detail = "its message is not on the broker (restarted without persistence?)"
            heals += self._send_again(job, stage, p, "message_lost", detail)
        return heals

    # --- acting ------------------------------------------------------------------------------------------------

    def _send_again(self, job: Job, stage: Stage, p: Partition, reason: str, detail: str) -> list[Heal]:
        dead = p.worker if reason in ("worker_dead", "run_lost") else None
        cfg = job_config(self.store.url, job.id)
        deaths = [*(p.lost_on or []), *([dead] if dead else [])]
        if dead and len(deaths) > cfg.limits.max_redeliveries:
            return [self._give_up(job, stage, p, deaths, cfg.limits.max_redeliveries)]
        row = self.store.redeliver(p, dead)
        if row is None:
            return []  # claimed or committed since we looked: nothing lost
        if dead:
            detail += f" (redelivery {len(deaths)} of at most {cfg.limits.max_redeliveries})"
        limits = cfg.limits.task_options() if stage.throttled else {}
        send_again(
            self.app, self.store, job.id, stage, [row], message_priority("critical", self.app.conf.broker_url), limits
        )
        heal = Heal(job.id, stage.name, p.index, reason, detail)
        self._record(heal, level="warning")
        return [heal]

    def _give_up(self, job: Job, stage: Stage, p: Partition, deaths: list[str], limit: int) -> Heal:
        p = self.store.get_partition(job.id, stage.name, p.index) or p  # with its input, which the scan left out
        message = (
            f"{stage.name} {stage.unit} {p.index} ({describe_input(p.input_ref)}): the workers running it died "
            f"{len(deaths)} times ({', '.join(deaths)}); limits.max_redeliveries is {limit}. An input that kills "
            f"its worker (out of memory?) is the usual cause: fix or remove it, or raise the limit, then "
            f"`auralith resume {job.id}`"
        )
        self.store.fail_partition(p.id, message)
        heal = Heal(job.id, stage.name, p.index, "gave_up", message)
        self.store.add_heal(job.id, stage.name, p.index, heal.reason, message)
        if self.store.set_job_state(job.id, JobState.FAILED, error=message, only_from=(JobState.RUNNING,)):
            record_event(self.app, self.store, job.id, message, level="error", kind="failed")
        return heal

    def _record(self, heal: Heal, level: str) -> None:
        self.store.add_heal(heal.job_id, heal.stage, heal.index, heal.reason, heal.detail)
        record_event(self.app, self.store, heal.job_id, heal.message, level=level, kind="healed")
        log.warning("supervisor: job %s: %s", heal.job_id, heal.message)


def _age(now: datetime, then: datetime | None) -> float:
    return (now - then).total_seconds() if then is not None else float("inf")


def describe_input(ref: dict | None) -> str:
    """A unit's input in words: its files and byte ranges, or what the stage reads."""
    ref = ref or {}
    if ref.get("pieces"):
        parts = []
        for piece in ref["pieces"]:
            where = piece.get("source") or "?"
            start, end = piece.get("start"), piece.get("end")
            if start is not None and (start or end is not None):
                where += f" bytes {start}-{end if end is not None else 'end'}"
            if piece.get("first_line"):
                where += f" from line {piece['first_line']}"
            parts.append(where)
        return "input " + ", ".join(parts)
    if "manifest" in ref:
        return f"shards {ref['manifest']}"
    return ", ".join(f"{k} {v}" for k, v in sorted(ref.items())) or "no input"


# --- where it runs -------------------------------------------------------------------------------------------


class HealScheduler(beat.Scheduler):
    """`celery -A auralith beat`'s scheduler: the `auralith.heal` entry runs in the beat process itself (every
    worker may be busy for minutes with a partition; healing must not queue behind them); every other entry is
    sent to the workers as usual. In memory: an entry every few seconds has nothing worth persisting."""

    def setup_schedule(self) -> None:
        super().setup_schedule()
        self.supervisor = Supervisor(self.app)

    def apply_entry(self, entry, producer=None) -> None:
        if entry.task != HEAL_TASK:
            return super().apply_entry(entry, producer)
        self.supervisor.round()

    def close(self) -> None:
        self.supervisor.lock.release()
        super().close()


_supervisors: dict[int, Supervisor] = {}


def supervisor_for(app: Celery) -> Supervisor:
    """The one Supervisor of `app` in this process (its state spans rounds)."""
    return _supervisors.setdefault(id(app), Supervisor(app))


class SupervisorThread(threading.Thread):
    """The supervisor in a thread (the embedded `auralith run`)."""

    def __init__(self, app: Celery):
        super().__init__(name="auralith-supervisor", daemon=True)
        self.supervisor = Supervisor(app)
        self.interval = float(app.conf.auralith_heal_interval)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.supervisor.round()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)
        self.supervisor.lock.release()
