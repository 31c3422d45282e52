"""Workers as the broker's remote control sees them, and partitions left `started` by workers that are gone.

`inspect()` broadcasts to every worker and collects the replies that arrive within `timeout`. A worker
that answers is alive at that moment: its "last heartbeat" below is the time of its reply (a ping),
not a stored event. Brokers without broadcast (the embedded SQLite one) cannot be asked: the functions
say so by returning None rather than pretending no worker is up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from auralith.store.models import Partition, PartitionState, utcnow

if TYPE_CHECKING:  # the caller's app: this module itself needs no Celery
    from celery import Celery


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
    queues: list[str] = field(default_factory=list)
    active: list[ActiveTask] = field(default_factory=list)
    heartbeat: datetime | None = None  # when it answered the ping
    pid: int | None = None
    concurrency: int | None = None
    max_rss_mib: float | None = None  # peak resident memory of the worker's main process (rusage maxrss)
    tasks_done: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["active"] = [t.to_dict() for t in self.active]
        d["heartbeat"] = self.heartbeat.isoformat() if self.heartbeat else None
        return d


def _supports_broadcast(app: Celery) -> bool:
    return not str(app.conf.broker_url or "").startswith(("sqla+", "memory"))


def live_workers(app: Celery, timeout: float = 1.0) -> set[str] | None:
    """Hostnames of the workers answering a ping now; None when this broker cannot broadcast."""
    if not _supports_broadcast(app):
        return None
    return set((app.control.inspect(timeout=timeout).ping() or {}).keys())


def list_workers(app: Celery, timeout: float = 1.0) -> list[WorkerInfo] | None:
    """Every worker answering within `timeout`: its queues, active tasks, pid, peak RSS; None if unsupported."""
    if not _supports_broadcast(app):
        return None
    insp = app.control.inspect(timeout=timeout)
    pings = insp.ping() or {}
    answered = utcnow()
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
                heartbeat=answered,
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


def stuck_partitions(partitions: list[Partition], live: set[str] | None) -> list[Partition]:
    """Partitions `started` on a worker that did not answer; [] when liveness is unknown (`live` None)."""
    if live is None:
        return []
    return [p for p in partitions if p.state == PartitionState.STARTED and p.worker not in live]
