"""Job event sinks beside the store's events table: a JSONL log, and a webhook for alerting.

`record_event` stores an event, then calls `dispatch`, which reads the job's `events` config. A sink
that fails is logged and never fails the caller: alerting must not stop the pipeline. The webhook is a
Celery task of its own (queue `default`, sent at critical priority so alerts do not wait behind a
backlog), retried with exponential backoff, so a down endpoint delays only its own alerts.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from functools import lru_cache

from celery import Celery

from auralith.config.ops import EventsConfig
from auralith.observe.sinks import append_jsonl, jsonl_path
from auralith.observe.webhook_hosts import webhook_problem
from auralith.redact import expand, redact_text
from auralith.store import Store
from auralith.store.models import utcnow
from auralith.worker.app import app as worker_app
from auralith.worker.settings import message_priority

log = logging.getLogger(__name__)


@lru_cache(maxsize=256)
def _job_events_config(url: str, job_id: str) -> tuple[EventsConfig, str, str | None]:
    """(events config, job name, base dir) of a job; cached, since a job's config never changes."""
    job = Store.for_url(url).get_job(job_id)
    cfg = job.config or {}
    return EventsConfig.model_validate(cfg.get("events") or {}), job.name, cfg.get("base_dir")


def record_event(
    app: Celery, store: Store, job_id: str, message: str, level: str = "info", kind: str | None = None
) -> None:
    """Store a job event, then hand it to the job's sinks (JSONL log, webhook). Never raises for a sink.

    `kind` (submitted, started, stage_done, failed, finished, cancelled) is what webhooks filter on."""
    message = store.add_event(job_id, message, level)
    dispatch(app, store, job_id, level, message, kind)


def dispatch(app: Celery, store: Store, job_id: str, level: str, message: str, kind: str | None) -> None:
    """Send one stored event to the job's sinks. Never raises."""
    try:
        cfg, name, base_dir = _job_events_config(store.url, job_id)
        if not cfg.jsonl and not cfg.webhook:
            return
        record = {
            "time": utcnow().isoformat(),
            "job_id": job_id,
            "job_name": name,
            "kind": kind or "info",
            "level": level,
            "message": redact_text(message),
        }
        if cfg.jsonl:
            append_jsonl(jsonl_path(cfg.jsonl, job_id, base_dir), record)
        hook = cfg.webhook
        if hook and kind in hook.on:
            # By name: the sender may be a Client's own app, which has no task objects.
            app.send_task(
                WEBHOOK_TASK,
                args=[hook.url, record],
                kwargs={
                    "timeout": hook.timeout,
                    "max_retries": hook.max_retries,
                    "backoff": hook.retry_backoff,
                    "backoff_max": hook.retry_backoff_max,
                },
                queue="default",
                priority=message_priority("critical", app.conf.broker_url or ""),
            )
    except Exception as exc:  # a sink must never fail the pipeline; the worker log keeps why
        log.warning("job %s: event sink failed: %s", job_id, redact_text(str(exc)))


def post_json(url: str, payload: dict, timeout: float) -> int:
    """POST `payload` as JSON; returns the HTTP status. Raises on a connection error or a non-2xx status."""
    req = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "auralith-webhook"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (http/https checked in config)
        return resp.status


def backoff_delay(retries: int, base: float, cap: float) -> float:
    """Seconds before retry number `retries + 1`: base, 2*base, 4*base, ... capped."""
    return min(cap, base * 2**retries)


WEBHOOK_TASK = "auralith.send_webhook"


@worker_app.task(bind=True, name=WEBHOOK_TASK, ignore_result=True, acks_late=True, max_retries=None)
def send_webhook(
    self,
    url: str,
    payload: dict,
    timeout: float = 10.0,
    max_retries: int = 8,
    backoff: float = 2.0,
    backoff_max: float = 300.0,
) -> None:
    """POST one job event; `${NAME}` in the URL is expanded here, from this worker's secrets."""
    target = expand(url)
    # Checked here, after `${NAME}` is expanded and with the addresses the host resolves to now.
    if (problem := webhook_problem(target)) is not None:
        log.warning("webhook for job %s not sent: %s", payload.get("job_id"), redact_text(problem))
        return
    try:
        post_json(target, payload, timeout)
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            log.warning("webhook for job %s refused (HTTP %d): not retried", payload.get("job_id"), exc.code)
            return
        _retry_or_give_up(self, exc, max_retries, backoff, backoff_max, payload)
    except (urllib.error.URLError, OSError) as exc:
        _retry_or_give_up(self, exc, max_retries, backoff, backoff_max, payload)


def _retry_or_give_up(
    task, exc: Exception, max_retries: int, backoff: float, backoff_max: float, payload: dict
) -> None:
    retries = task.request.retries
    if retries >= max_retries:
        log.warning(
            "webhook for job %s (%s) gave up after %d retries: %s",
            payload.get("job_id"),
            payload.get("kind"),
            retries,
            redact_text(str(exc)),
        )
        return
    raise task.retry(countdown=backoff_delay(retries, backoff, backoff_max), exc=exc)
