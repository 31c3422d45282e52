"""Celery and store settings, read from `AURALITH_*` environment variables over sane defaults.

The defaults point at the standard local ports (Redis 6379, PostgreSQL 5432), so
`celery -A auralith worker` and `auralith submit` agree without flags on a single machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from kombu import Queue

from auralith.errors import ConfigError
from auralith.pipeline.stages import QUEUES, STAGES

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
DEFAULT_STORE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

HEAL_TASK = "auralith.heal"  # the supervisor's round (auralith.worker.supervisor)

# A queue's binding key where it is not the queue's name: training is sent with routing key `hpu.train`.
ROUTING_KEYS = {"hpu": "hpu.train"}


def route(queue: str) -> dict:
    """The options that send a message to `queue` (its binding key where that is not the queue's name)."""
    return {"queue": queue, "routing_key": ROUTING_KEYS.get(queue, queue)}


# Each stage's task goes to its stage's queue (the graph says which); planning and advancing are control tasks.
TASK_ROUTES = {
    **{s.task: route(s.queue) for s in STAGES},
    "auralith.run_job": route("default"),
    "auralith.advance": route("default"),
    HEAL_TASK: route("default"),
}

# Redis serves priority 0 first; these are the message priorities a job's tasks are sent with.
PRIORITIES = {"critical": 0, "high": 3, "normal": 6, "low": 9}
# RabbitMQ serves the highest number first, and only from queues declared with `x-max-priority`.
AMQP_PRIORITIES = {"critical": 9, "high": 6, "normal": 3, "low": 0}
AMQP_MAX_PRIORITY = 9
AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")


def message_priority(name: str | None, broker: str) -> int | None:
    """The message priority for a job priority name on this broker (the two kinds count opposite ways)."""
    if name is None:
        return None
    table = AMQP_PRIORITIES if broker.split("://", 1)[0] in AMQP_SCHEMES else PRIORITIES
    return table[name]


def task_queues(names: tuple[str, ...] | list[str] = QUEUES) -> list[Queue]:
    """Queue declarations; `x-max-priority` makes RabbitMQ honour message priorities (Redis ignores it)."""
    return [
        Queue(name, routing_key=ROUTING_KEYS.get(name, name), queue_arguments={"x-max-priority": AMQP_MAX_PRIORITY})
        for name in names
    ]


# The longest countdown of a retry (AuralithTask.retry_backoff_max): the retried message waits that long
# unacknowledged in Redis, so it counts against the visibility timeout as much as a running task does.
RETRY_BACKOFF_MAX = 300


def check_visibility_timeout(visibility: int, time_limit: int | None) -> None:
    """Refuse a broker visibility timeout that a task (its hard time limit) plus a retry's countdown could
    outlast: Redis would hand the still-running task to a second worker, and it would run twice."""
    longest = (time_limit or 0) + RETRY_BACKOFF_MAX
    if visibility <= longest:
        raise ConfigError(
            [
                f"AURALITH_VISIBILITY_TIMEOUT={visibility}: must exceed the longest task plus the longest "
                f"retry countdown ({time_limit or 0} s AURALITH_TASK_TIME_LIMIT + {RETRY_BACKOFF_MAX} s "
                f"= {longest} s), or a task still running is delivered a second time"
            ]
        )


def _env_int(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = env.get(name)
    return int(raw) if raw not in (None, "") else default


def _env_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    value = float(raw)
    if value <= 0:
        raise ConfigError([f"{name}={raw}: must be a number of seconds above 0"])
    return value


# Self-healing (auralith.worker.heartbeat, auralith.worker.supervisor): how often workers write their
# heartbeat, how long a silent worker is taken for alive, and how often the supervisor looks at running jobs.
HEARTBEAT_INTERVAL = 10.0
HEARTBEAT_TIMEOUT = 30.0
HEAL_INTERVAL = 15.0


def broker_url(env: Mapping[str, str] = os.environ) -> str:
    return env.get("AURALITH_BROKER_URL") or DEFAULT_BROKER_URL


def store_url(env: Mapping[str, str] = os.environ) -> str:
    return env.get("AURALITH_STORE_URL") or DEFAULT_STORE_URL


def result_backend_for(store: str) -> str:
    """Celery's result backend lives in the same database as Auralith's tables: Celery's database backend
    with chords counted in SQL instead of polled (`auralith+` URLs, auralith.worker.chords)."""
    from auralith.store.db import normalize_store_url

    return "auralith+" + normalize_store_url(store)


def celery_settings(env: Mapping[str, str] = os.environ) -> dict:
    """The full Celery configuration Auralith runs with; `celeryconfig.py` may override any key."""
    store = store_url(env)
    visibility = _env_int(env, "AURALITH_VISIBILITY_TIMEOUT", 6 * 3600) or 6 * 3600
    check_visibility_timeout(visibility, _env_int(env, "AURALITH_TASK_TIME_LIMIT", None))
    return {
        "broker_url": broker_url(env),
        "result_backend": env.get("AURALITH_RESULT_BACKEND") or result_backend_for(store),
        "auralith_store_url": store,
        # JSON only: a pickle payload from the broker could execute code in the worker.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # A task is acknowledged after it finishes, and redelivered if its worker dies mid-way; every
        # task is idempotent, so running twice changes nothing.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_track_started": True,
        "result_extended": True,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "broker_connection_retry_on_startup": True,
        # Must exceed the longest task, or Redis redelivers a task that is still running.
        "broker_transport_options": {
            "visibility_timeout": visibility,
            "priority_steps": list(range(10)),
            "sep": ":",
            "queue_order_strategy": "priority",
        },
        # Only with a plain `db+` AURALITH_RESULT_BACKEND: Auralith's own backend counts chords, never polls.
        "result_chord_retry_interval": 0.5,
        # A result that cannot be stored leaves its chord waiting forever: when the database goes away just
        # after a task finished, keep retrying (jittered backoff up to 10 s, ~3 min in all), not 3 times.
        "result_backend_always_retry": True,
        "result_backend_max_retries": 40,
        "task_default_queue": "default",
        "task_queues": task_queues(),
        "task_routes": TASK_ROUTES,
        "task_default_priority": message_priority("normal", broker_url(env)),
        "worker_max_memory_per_child": _env_int(env, "AURALITH_WORKER_MAX_MEMORY_PER_CHILD", None),
        "task_soft_time_limit": _env_int(env, "AURALITH_TASK_SOFT_TIME_LIMIT", None),
        "task_time_limit": _env_int(env, "AURALITH_TASK_TIME_LIMIT", None),
        "worker_hijack_root_logger": False,
        **heal_settings(env),
    }


def heal_settings(env: Mapping[str, str] = os.environ) -> dict:
    """Heartbeats and the supervisor: `celery -A auralith beat` runs the `auralith.heal` entry every
    AURALITH_HEAL_INTERVAL_S seconds in its own process (auralith.worker.supervisor.HealScheduler), so no
    worker queue has to be free for it."""
    interval = _env_seconds(env, "AURALITH_HEARTBEAT_INTERVAL_S", HEARTBEAT_INTERVAL)
    timeout = _env_seconds(env, "AURALITH_HEARTBEAT_TIMEOUT_S", HEARTBEAT_TIMEOUT)
    if timeout < 2 * interval:
        raise ConfigError(
            [
                f"AURALITH_HEARTBEAT_TIMEOUT_S={timeout:g} must be at least twice AURALITH_HEARTBEAT_INTERVAL_S="
                f"{interval:g}, or one late heartbeat makes a live worker look dead"
            ]
        )
    heal = _env_seconds(env, "AURALITH_HEAL_INTERVAL_S", HEAL_INTERVAL)
    return {
        "auralith_heartbeat_interval": interval,
        "auralith_heartbeat_timeout": timeout,
        "auralith_heal_interval": heal,
        "beat_scheduler": "auralith.worker.supervisor:HealScheduler",
        "beat_schedule": {"auralith-heal": {"task": HEAL_TASK, "schedule": heal}},
    }


def outage_retry_options(app) -> dict:
    """How long a write retries through a database outage (auralith.store.outage): as long as Celery retries
    storing a result (`result_backend_*` settings)."""
    conf = app.conf
    return {
        "max_retries": float(conf.result_backend_max_retries),
        "base_ms": float(conf.result_backend_base_sleep_between_retries_ms or 10),
        "max_ms": float(conf.result_backend_max_sleep_between_retries_ms or 10_000),
    }
