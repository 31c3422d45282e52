"""Worker-side hooks: no clock-drift warning for events that waited while a task held the main thread."""

from __future__ import annotations

import logging
import time
import uuid
from types import SimpleNamespace

from celery.events.state import Worker

from auralith.worker import signals


def _heartbeat(sent: float, received: float) -> None:
    # Celery warns once per worker name: a new one each time.
    Worker(hostname=f"w-{uuid.uuid4().hex[:6]}@h").event("heartbeat", sent, received, {})


def test_events_read_late_after_a_long_task_are_not_clock_drift(caplog):
    now = time.time()
    signals._on_postrun(task_id="t", task=SimpleNamespace(name="auralith.train_model"), state="SUCCESS")
    with caplog.at_level(logging.WARNING, logger="celery.events.state"):
        _heartbeat(sent=now - 64, received=now + 0.5)  # sent mid-training, read once it ended
    assert "clocks are out of sync" not in caplog.text


def test_a_real_skew_still_warns(caplog):
    now = time.time()
    signals._on_postrun(task_id="t", task=SimpleNamespace(name="auralith.train_model"), state="SUCCESS")
    with caplog.at_level(logging.WARNING, logger="celery.events.state"):
        _heartbeat(sent=now + 64, received=now + 0.5)  # from the future: the other clock is ahead
        _heartbeat(sent=now + 30, received=now + 60)  # sent well after the task ended, read 30 s late
    assert caplog.text.count("clocks are out of sync") == 2, caplog.text


def test_a_worker_without_allowed_roots_confines_jobs_and_says_so(monkeypatch, tmp_path, caplog):
    import logging
    import os

    from auralith.worker import signals

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AURALITH_ALLOWED_ROOTS", raising=False)
    signals._confine_jobs()
    with caplog.at_level(logging.WARNING):
        signals._say_where_jobs_may_go()
    assert os.environ["AURALITH_ALLOWED_ROOTS"].split(os.pathsep)[0] == str(tmp_path.resolve())
    assert "AURALITH_ALLOWED_ROOTS is not set: jobs may read and write only under" in caplog.text
    monkeypatch.setenv("AURALITH_ALLOWED_ROOTS", "/data")
    signals._confine_jobs()
    assert os.environ["AURALITH_ALLOWED_ROOTS"] == "/data" and not signals._pending_notes
