"""Queue depths straight from the broker, per queue and (on Redis) per priority band.

Redis keeps one list per queue and priority step (kombu names them `queue`, `queue:3`, ... with the
`sep` Auralith configures); RabbitMQ reports a queue's count on a passive declare. Other kombu virtual
transports (the embedded SQLite broker) answer through the channel's `_size`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from auralith.pipeline.stages import QUEUES

if TYPE_CHECKING:  # the caller's app: this module itself needs no Celery
    from celery import Celery


@dataclass
class QueueDepth:
    name: str
    messages: int
    # Redis only: messages per priority step (0 is served first); empty where the broker does not say.
    by_priority: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class BrokerQueues:
    queues: list[QueueDepth]
    # Redis only: messages delivered to a worker and not yet acknowledged (running or reserved tasks).
    unacked: int | None = None

    def to_dict(self) -> dict:
        return {"queues": [q.to_dict() for q in self.queues], "unacked": self.unacked}

    def depths(self) -> dict[str, int]:
        return {q.name: q.messages for q in self.queues}


def queue_depths(app: Celery, names: tuple[str, ...] | list[str] = QUEUES) -> BrokerQueues:
    """Depth of each queue in `names` on the app's broker (a queue never declared counts 0)."""
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1)
        channel = conn.default_channel
        if hasattr(channel, "_q_for_pri") and hasattr(channel, "client"):  # Redis
            return _redis_depths(channel, names)
        if hasattr(channel, "_size"):  # other kombu virtual transports
            return BrokerQueues([QueueDepth(n, int(channel._size(n) or 0)) for n in names])
        return BrokerQueues([QueueDepth(n, _amqp_depth(conn, n)) for n in names])


def _redis_depths(channel, names) -> BrokerQueues:
    steps = list(channel.priority_steps)
    with channel.client.pipeline() as pipe:
        for name in names:
            for pri in steps:
                pipe.llen(channel._q_for_pri(name, pri))
        pipe.hlen(channel.unacked_key)
        sizes = pipe.execute()
    queues = []
    for i, name in enumerate(names):
        bands = dict(zip(steps, sizes[i * len(steps) : (i + 1) * len(steps)], strict=True))
        queues.append(QueueDepth(name, sum(bands.values()), {p: n for p, n in bands.items() if n}))
    return BrokerQueues(queues, unacked=int(sizes[-1]))


@dataclass
class QueuedTasks:
    """Task ids a Redis broker holds: waiting in a queue, or delivered to a worker and not acknowledged."""

    waiting: set[str]
    unacked: set[str]


def queued_task_ids(app: Celery, names: list[str] | tuple[str, ...]) -> QueuedTasks | None:
    """The ids of the task messages on the broker: those waiting in the queues `names` (read message by
    message: call it for the queues that need it), and those delivered and not acknowledged. None on a
    broker that cannot be read without consuming (RabbitMQ
    keeps its queues durable, and hands a dead consumer's messages back by itself; the embedded SQLite
    broker lives and dies with its only worker)."""
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1)
        channel = conn.default_channel
        if not (hasattr(channel, "_q_for_pri") and hasattr(channel, "client")):
            return None
        client = channel.client
        waiting: set[str] = set()
        for name in names:
            for pri in channel.priority_steps:
                waiting.update(_task_id(raw) for raw in client.lrange(channel._q_for_pri(name, pri), 0, -1))
        unacked = set()
        for raw in client.hvals(channel.unacked_key):
            try:
                unacked.add(_task_id(json.loads(raw)[0]))
            except (ValueError, IndexError, TypeError):
                continue
        waiting.discard("")
        unacked.discard("")
        return QueuedTasks(waiting, unacked)


def _task_id(message) -> str:
    """A kombu Redis message (JSON text, or the dict) -> its Celery task id ("" if it has none)."""
    if isinstance(message, (bytes, str)):
        try:
            message = json.loads(message)
        except ValueError:
            return ""
    headers = message.get("headers") or {} if isinstance(message, dict) else {}
    return str(headers.get("id") or "")


def _amqp_depth(conn, name: str) -> int:
    from amqp.exceptions import NotFound

    # A channel of its own: a passive declare of a missing queue closes the channel it ran on.
    channel = conn.channel()
    try:
        return int(channel.queue_declare(queue=name, passive=True).message_count)
    except NotFound:
        return 0
    finally:
        try:
            channel.close()
        except Exception:  # already closed by the broker after NotFound
            pass
