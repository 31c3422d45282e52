"""The Celery app: `celery -A auralith worker -Q default,process` finds it (through auralith.celery).

`app` is the workers' app, configured from `AURALITH_*` variables and `celeryconfig.py`; its tasks are
registered on it. `make_app` builds another one for a caller that only sends and inspects (each `Client`
owns one), so two clients in one process never share a broker or a store.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu.exceptions import OperationalError as BrokerUnreachable  # what a call raises when no broker answers

from auralith.errors import AuralithError
from auralith.redact import redact_url
from auralith.worker.heartbeat import Heartbeat
from auralith.worker.settings import celery_settings, message_priority, result_backend_for

__all__ = ["BrokerUnreachable", "app", "configure", "make_app", "priority_of"]

TASK_MODULES = ("auralith.worker.tasks", "auralith.worker.events", "auralith.worker.signals")
STORE_SCHEMES = ("sqlite", "postgresql", "postgres")
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp", "sqla+sqlite", "sqla+postgresql", "memory")


def make_app(
    broker: str | None = None, store: str | None = None, *, include: tuple[str, ...] = (), set_as_current: bool = False
) -> Celery:
    """A Celery app with Auralith's settings, pointed at `broker` and `store` where given."""
    new = Celery("auralith", include=list(include), set_as_current=set_as_current)
    new.add_defaults(celery_settings)
    # A top-level `celeryconfig.py` (or the module named by AURALITH_CELERY_CONFIG) overrides the defaults.
    new.config_from_object(os.environ.get("AURALITH_CELERY_CONFIG", "celeryconfig"), silent=True)
    configure(broker, store, new)
    return new


def _check_scheme(kind: str, url: str, schemes: tuple[str, ...]) -> None:
    scheme = url.split("://", 1)[0]
    if "://" not in url or not (scheme in schemes or scheme.split("+")[0] in schemes):
        raise AuralithError(
            f"{kind} URL {redact_url(url)!r}: expected a URL starting with one of "
            + ", ".join(f"{s}://" for s in schemes)
        )


def configure(broker: str | None = None, store: str | None = None, target: Celery | None = None) -> None:
    """Point an app (the workers' by default) at a broker and store chosen at run time (CLI flags, the
    embedded mode, tests)."""
    if broker:
        _check_scheme("broker", broker, BROKER_SCHEMES)
    if store:
        _check_scheme("store", store, STORE_SCHEMES)
    changes: dict = {}
    if broker:
        changes["broker_url"] = broker
        changes["task_default_priority"] = message_priority("normal", broker)
        if broker.startswith("sqla+"):
            # kombu's SQLAlchemy transport passes its options to create_engine: the Redis ones would break it.
            changes["broker_transport_options"] = {"connect_args": {"timeout": 30}}
    if store:
        changes["auralith_store_url"] = store
        changes["result_backend"] = result_backend_for(store)
    if changes:
        (target or app).conf.update(changes)


def priority_of(target: Celery, name: str | None) -> int | None:
    """The message priority of a job priority name on the broker `target` sends to."""
    return message_priority(name, target.conf.broker_url or "")


app = make_app(include=TASK_MODULES, set_as_current=True)
# Every worker of this app writes its heartbeat to the store (the supervisor's view of who is alive).
app.steps["consumer"].add(Heartbeat)
