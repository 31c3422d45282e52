"""Worker heartbeats: each worker's row says it is alive and which task ids it holds (auralith.worker.heartbeat);
the supervisor reads them (auralith.worker.supervisor).

Every time here is the database's (`now()`), never a machine's clock: a worker whose clock runs a minute
off is neither taken for dead nor kept alive by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select, update

from auralith.store.clock import db_clock
from auralith.store.models import WorkerBeat
from auralith.store.session import SessionOwner

# A heartbeat written this long after a unit's claim was taken after it (the time between its snapshot of the
# worker's tasks and its write, and SQLite's one-second timestamps): if it does not list the unit, the worker no
# longer runs it. Before that, a live worker that claimed a unit is taken to run it.
SNAPSHOT_MARGIN_S = 2.0


@dataclass(frozen=True)
class Beat:
    """A worker's last heartbeat, and how long ago it was by the database's clock."""

    name: str
    pid: int
    pool: str
    queues: tuple[str, ...]
    tasks: frozenset[str]
    started_at: datetime  # when this worker process wrote its first heartbeat
    last_seen: datetime
    age_s: float

    def alive(self, timeout: float) -> bool:
        return self.age_s <= timeout

    def runs(self, task_id: str | None, started_at: datetime | None, timeout: float) -> bool:
        """Whether this worker, alive, still runs the unit it claimed at `started_at` under `task_id`."""
        if not self.alive(timeout):
            return False
        if started_at is not None and self.started_at > _aware(started_at):
            return False  # claimed by an earlier process of the same name (a worker restarted with its name)
        return task_id in self.tasks or started_at is None or self.written_since(started_at) <= SNAPSHOT_MARGIN_S

    def written_since(self, when: datetime) -> float:
        return (self.last_seen - _aware(when)).total_seconds()


class WorkerRows(SessionOwner):
    def db_now(self) -> datetime:
        with self.session() as s:
            return db_now(s)

    def beat(self, name: str, pid: int, queues: list[str], tasks: list[str], pool: str = "prefork") -> None:
        """Record that worker `name` (its main process `pid`, its `pool` kind) is alive now, holding `tasks`."""
        with self.session() as s:
            moved = s.execute(
                update(WorkerBeat)
                .where(WorkerBeat.name == name, WorkerBeat.pid == pid)
                .values(pool=pool, queues=queues, tasks=tasks, last_seen=db_clock())
            ).rowcount  # type: ignore[attr-defined]
            if not moved:  # a new worker process, maybe under the name of one that died: its own row, from now
                s.execute(delete(WorkerBeat).where(WorkerBeat.name == name))
                s.add(
                    WorkerBeat(
                        name=name,
                        pid=pid,
                        pool=pool,
                        queues=queues,
                        tasks=tasks,
                        started_at=db_clock(),
                        last_seen=db_clock(),
                    )
                )

    def forget_worker(self, name: str, pid: int | None = None) -> None:
        """A worker that stopped cleanly removes its row (a restarted one of the same name keeps its own)."""
        with self.session() as s:
            q = delete(WorkerBeat).where(WorkerBeat.name == name)
            if pid is not None:
                q = q.where(WorkerBeat.pid == pid)
            s.execute(q)

    def worker_beats(self) -> dict[str, Beat]:
        """Every worker's last heartbeat, by name, with its age on the database's clock."""
        with self.session() as s:
            now = db_now(s)
            rows = list(s.scalars(select(WorkerBeat)))
        return {r.name: as_beat(r, now) for r in rows}

    def forget_silent_workers(self, older_than_s: float) -> int:
        """Drop the heartbeats of workers silent for longer than `older_than_s` (gone for good); returns how many."""
        with self.session() as s:
            cutoff = db_now(s) - timedelta(seconds=older_than_s)
            return s.execute(delete(WorkerBeat).where(WorkerBeat.last_seen < cutoff)).rowcount  # type: ignore[attr-defined]


def db_now(session) -> datetime:
    """The database's clock, the one every heartbeat and claim time is written with."""
    return _aware(session.scalar(select(db_clock())))


def as_beat(row: WorkerBeat, now: datetime) -> Beat:
    """A heartbeat row as of the database's `now`."""
    seen = _aware(row.last_seen)
    return Beat(
        row.name,
        row.pid,
        row.pool,
        tuple(row.queues or ()),
        frozenset(row.tasks or ()),
        _aware(row.started_at),
        seen,
        max(0.0, (_aware(now) - seen).total_seconds()),
    )


def _aware(value) -> datetime:
    """SQLite's CURRENT_TIMESTAMP comes back as text or a naive datetime, in UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
