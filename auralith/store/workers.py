"""Worker heartbeats: each worker's row says it is alive and which task ids it holds (auralith.worker.heartbeat);
the supervisor reads them (auralith.worker.supervisor).

Every time here is the database's (`now()`), never a machine's clock: a worker whose clock runs a minute
off is neither taken for dead nor kept alive by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, func, select, update

from auralith.store.models import WorkerBeat
from auralith.store.session import SessionOwner


@dataclass(frozen=True)
class Beat:
    """A worker's last heartbeat, and how long ago it was by the database's clock."""

    name: str
    pid: int
    queues: tuple[str, ...]
    tasks: frozenset[str]
    last_seen: datetime
    age_s: float


class WorkerRows(SessionOwner):
    def db_now(self) -> datetime:
        with self.session() as s:
            return _aware(s.scalar(select(func.now())))

    def beat(self, name: str, pid: int, queues: list[str], tasks: list[str]) -> None:
        """Record that worker `name` is alive now, holding `tasks`."""
        with self.session() as s:
            moved = s.execute(
                update(WorkerBeat)
                .where(WorkerBeat.name == name)
                .values(pid=pid, queues=queues, tasks=tasks, last_seen=func.now())
            ).rowcount  # type: ignore[attr-defined]
            if not moved:
                s.add(
                    WorkerBeat(
                        name=name, pid=pid, queues=queues, tasks=tasks, started_at=func.now(), last_seen=func.now()
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
            now = _aware(s.scalar(select(func.now())))
            rows = list(s.scalars(select(WorkerBeat)))
        return {
            r.name: Beat(
                r.name,
                r.pid,
                tuple(r.queues or ()),
                frozenset(r.tasks or ()),
                _aware(r.last_seen),
                max(0.0, (now - _aware(r.last_seen)).total_seconds()),
            )
            for r in rows
        }

    def forget_silent_workers(self, older_than_s: float) -> int:
        """Drop heartbeats silent for longer than `older_than_s` (workers gone for good); returns how many."""
        beats = self.worker_beats()
        gone = [b.name for b in beats.values() if b.age_s > older_than_s]
        if gone:
            with self.session() as s:
                s.execute(delete(WorkerBeat).where(WorkerBeat.name.in_(gone)))
        return len(gone)


def age_s(session, when: datetime) -> float:
    """Seconds from `when` to the database's now, in `session`."""
    return max(0.0, (_aware(session.scalar(select(func.now()))) - _aware(when)).total_seconds())


def _aware(value) -> datetime:
    """SQLite's CURRENT_TIMESTAMP comes back as text or a naive datetime, in UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
