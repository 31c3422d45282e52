"""The Celery app: `celery -A auralith worker -Q default,process` finds it here."""

from __future__ import annotations

import os

from celery import Celery

from auralith.errors import AuralithError
from auralith.settings import celery_settings, message_priority, result_backend_for
from auralith.store.db import redact_url

app = Celery("auralith", include=["auralith.workflow.tasks", "auralith.workflow.near_dedup_tasks",
                                  "auralith.train.tasks", "auralith.monitoring.events",
                                  "auralith.monitoring.worker_signals"])
app.add_defaults(celery_settings)
# A top-level `celeryconfig.py` (or the module named by AURALITH_CELERY_CONFIG) overrides the defaults.
app.config_from_object(os.environ.get("AURALITH_CELERY_CONFIG", "celeryconfig"), silent=True)


STORE_SCHEMES = ("sqlite", "postgresql", "postgres")
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp", "sqla+sqlite", "sqla+postgresql", "memory")


def _check_scheme(kind: str, url: str, schemes: tuple[str, ...]) -> None:
    scheme = url.split("://", 1)[0]
    if "://" not in url or not (scheme in schemes or scheme.split("+")[0] in schemes):
        raise AuralithError(f"{kind} URL {redact_url(url)!r}: expected a URL starting with one of "
                            + ", ".join(f"{s}://" for s in schemes))


def configure(broker: str | None = None, store: str | None = None) -> None:
    """Point the app at a broker and store chosen at run time (CLI flags, the embedded mode, tests)."""
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
        app.conf.update(changes)


def store_url() -> str:
    return app.conf.auralith_store_url


def priority_of(name: str | None) -> int | None:
    """The message priority of a job priority name on the broker this app sends to."""
    return message_priority(name, app.conf.broker_url or "")
