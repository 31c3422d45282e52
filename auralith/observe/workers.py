"""Workers as their heartbeats in the store and the broker's remote control show them, and units left `started`
by workers that went silent.

Heartbeats (auralith.worker.heartbeat) are rows written every few seconds on the database's clock: they work on
every broker, the embedded SQLite one included, and are what the supervisor (auralith.worker.supervisor) takes
for liveness. `inspect()` adds what only a live worker can say (active tasks, pool size, peak RSS): it
broadcasts and collects the replies that arrive within `timeout`. Brokers without broadcast (the embedded SQLite
one) cannot be asked: `inspect_workers` says so by returning None rather than pretending no worker is up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from auralith.store import Beat
from auralith.store.models import Partition, PartitionState, utcnow

if TYPE_CHECKING:  # the caller's app: this module itself needs no Celery
    from celery import Celery

# A worker's state in `auralith workers`: its heartbeat is fresh; it answers pings but its heartbeat is missing or
# older than the timeout (the supervisor takes it for dead and sends its work again); neither.
ALIVE, NO_HEARTBEAT, DEAD = "alive", "no heartbeat", "dead"
_STATE_ORDER = {ALIVE: 0, NO_HEARTBEAT: 1, DEAD: 2}


@dataclass
class ActiveTask:
    id: str
    name: str
    args: list
    started: datetime | None

    def to_dict(self) -> dict:
        return {**asdict(self), "started": self.started.isoformat() if self.started else None}


@dataclass
class WorkerInfo:
    hostname: str
    state: str = ALIVE  # alive, no heartbeat, dead (see above)
    queues: list[str] = field(default_factory=list)
    active: list[ActiveTask] = field(default_factory=list)
    heartbeat: datetime | None = None  # its last heartbeat in the store (database clock)
    heartbeat_age_s: float | None = None
    held: int | None = None  # tasks its last heartbeat lists: reserved, running or waiting for a countdown
    answered: bool | None = None  # answered the ping; None when the broker cannot broadcast
    pid: int | None = None
    concurrency: int | None = None
    max_rss_mib: float | None = None  # peak resident memory of the worker's main process (rusage maxrss)
    tasks_done: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["active"] = [t.to_dict() for t in self.active]
        d["heartbeat"] = self.heartbeat.isoformat() if self.heartbeat else None
        return d


def supports_broadcast(app: Celery) -> bool:
    return not str(app.conf.broker_url or "").startswith(("sqla+", "memory"))


def inspect_workers(app: Celery, timeout: float = 1.0) -> list[WorkerInfo] | None:
    """Every worker answering a ping within `timeout`: its queues, active tasks, pid, peak RSS; None if this
    broker cannot broadcast."""
    if not supports_broadcast(app):
        return None
    insp = app.control.inspect(timeout=timeout)
    pings = insp.ping() or {}
    if not pings:
        return []
    insp = app.control.inspect(destination=list(pings), timeout=timeout)
    queues, active, stats = insp.active_queues() or {}, insp.active() or {}, insp.stats() or {}
    workers = []
    for host in sorted(pings):
        st = stats.get(host) or {}
        maxrss = (st.get("rusage") or {}).get("maxrss")  # KiB on Linux
        workers.append(
            WorkerInfo(
                hostname=host,
                queues=sorted(q["name"] for q in queues.get(host) or []),
                active=[_active_task(t) for t in active.get(host) or []],
                answered=True,
                pid=st.get("pid"),
                concurrency=(st.get("pool") or {}).get("max-concurrency"),
                max_rss_mib=round(maxrss / 1024, 1) if maxrss else None,
                tasks_done=sum((st.get("total") or {}).values()) if st.get("total") else 0,
            )
        )
    return workers


def _active_task(t: dict) -> ActiveTask:
    start = t.get("time_start")
    # time_start is a Unix timestamp on the worker's clock.
    started = datetime.fromtimestamp(start, tz=utcnow().tzinfo) if start else None
    return ActiveTask(t.get("id", ""), t.get("name", ""), list(t.get("args") or []), started)


def with_heartbeats(answered: list[WorkerInfo] | None, beats: dict[str, Beat], timeout: float) -> list[WorkerInfo]:
    """The workers that answered a ping (None: the broker cannot be asked) joined with every heartbeat row by
    name, each with its state; alive ones first."""
    found = {w.hostname: w for w in answered or ()}
    for name, beat in beats.items():
        w = found.setdefault(name, WorkerInfo(name, answered=False if answered is not None else None))
        w.heartbeat, w.heartbeat_age_s, w.held = beat.last_seen, round(beat.age_s, 1), len(beat.tasks)
        w.queues = w.queues or sorted(beat.queues)
        w.pid = w.pid or beat.pid
    for w in found.values():
        fresh = w.heartbeat_age_s is not None and w.heartbeat_age_s <= timeout
        w.state = ALIVE if fresh else NO_HEARTBEAT if w.answered else DEAD
    return sorted(found.values(), key=lambda w: (_STATE_ORDER[w.state], w.hostname))


def holder_silent(p: Partition, beat: Beat | None, timeout: float, now: datetime) -> bool:
    """Whether a `started` unit sits on a worker silent for longer than `timeout`, or on one with no heartbeat
    although the unit started longer ago than that (a worker's first heartbeat comes before its first task)."""
    if beat is not None:
        return not beat.alive(timeout)
    return p.started_at is None or (now - p.started_at).total_seconds() > timeout


def stale_partitions(
    partitions: list[Partition], beats: dict[str, Beat], timeout: float, now: datetime
) -> list[tuple[Partition, float | None]]:
    """Units `started` on a worker whose heartbeat is older than `timeout`, or that has none although the unit
    started longer ago than that; each with its worker's silence in seconds (None: no heartbeat). These are
    what the supervisor sends again."""
    stale: list[tuple[Partition, float | None]] = []
    for p in partitions:
        if p.state != PartitionState.STARTED:
            continue
        beat = beats.get(p.worker or "")
        if holder_silent(p, beat, timeout, now):
            stale.append((p, beat.age_s if beat is not None else None))
    return stale
