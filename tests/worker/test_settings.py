"""Celery settings that protect the pipeline: JSON only, and a visibility timeout no task can outlast."""

from __future__ import annotations

import pytest

from auralith.errors import ConfigError
from auralith.worker.app import app
from auralith.worker.settings import RETRY_BACKOFF_MAX, celery_settings
from auralith.worker.tasks import AuralithTask


def test_json_only_pickle_never_accepted():
    conf = celery_settings({})
    assert conf["accept_content"] == ["json"] and conf["result_accept_content"] == ["json"]
    assert conf["task_serializer"] == conf["result_serializer"] == "json"
    assert app.conf.accept_content == ["json"]


def test_visibility_timeout_default_exceeds_any_retry_countdown():
    conf = celery_settings({})
    assert conf["broker_transport_options"]["visibility_timeout"] == 6 * 3600
    assert AuralithTask.retry_backoff_max == RETRY_BACKOFF_MAX < 6 * 3600


def test_visibility_timeout_above_the_hard_time_limit_is_accepted():
    conf = celery_settings({"AURALITH_VISIBILITY_TIMEOUT": "4000", "AURALITH_TASK_TIME_LIMIT": "3600"})
    assert conf["broker_transport_options"]["visibility_timeout"] == 4000
    assert conf["task_time_limit"] == 3600


@pytest.mark.parametrize(
    "env",
    [
        {"AURALITH_VISIBILITY_TIMEOUT": "3600", "AURALITH_TASK_TIME_LIMIT": "3600"},
        {"AURALITH_VISIBILITY_TIMEOUT": "100"},
    ],
)
def test_visibility_timeout_a_task_could_outlast_is_refused(env):
    with pytest.raises(ConfigError, match="AURALITH_VISIBILITY_TIMEOUT=.*must exceed the longest task"):
        celery_settings(env)


def test_results_are_stored_through_a_database_outage():
    """A task that finished while PostgreSQL is away keeps retrying to store its result (else its chord
    would wait forever)."""
    conf = celery_settings({})
    assert conf["result_backend_always_retry"] is True
    assert conf["result_backend_max_retries"] >= 30
