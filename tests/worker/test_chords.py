"""The counting chord backend on SQLite: the body is sent once, when the last header task succeeds."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from celery import Celery, signature
from celery.app.backends import by_url

from auralith.store import migrate
from auralith.store.db import session_scope
from auralith.store.models import ChordCounter
from auralith.worker.chords import CountingDatabaseBackend


@pytest.fixture()
def backend(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    app = Celery("chords-test", broker="memory://", backend=f"auralith+{url}", set_as_current=False)
    be = app.backend
    sent: list[tuple] = []
    monkeypatch.setattr(app.amqp, "_retry_publish", lambda fn, *args, **kw: sent.append((fn.__self__.task, args)))
    be.sent = sent
    return be


def apply(backend, n: int, body: str = "auralith.finalize_job", group_id: str = "g1"):
    results = [backend.app.AsyncResult(f"t{i}") for i in range(n)]
    backend.apply_chord((group_id, results), signature(body, args=("job-1",), immutable=True, app=backend.app))
    return SimpleNamespace(group=group_id, chord=dict(signature(body, args=("job-1",), immutable=True)))


def part(backend, request, i: int, state: str = "SUCCESS") -> None:
    backend.on_chord_part_return(SimpleNamespace(**vars(request), id=f"t{i}"), state, None)


def counter(backend, group_id: str = "g1") -> ChordCounter:
    with session_scope(backend.url) as s:
        return s.get(ChordCounter, group_id)


def test_the_auralith_scheme_resolves_to_the_counting_backend():
    cls, url = by_url("auralith+postgresql+psycopg://postgres@127.0.0.1/test")
    assert cls is CountingDatabaseBackend and url == "postgresql+psycopg://postgres@127.0.0.1/test"


def test_body_sent_once_when_the_last_header_task_succeeds(backend):
    req = apply(backend, 3)
    part(backend, req, 0)
    part(backend, req, 1)
    assert backend.sent == [] and counter(backend).done == 2
    part(backend, req, 2)
    assert backend.sent == [("auralith.finalize_job", ())]


def test_no_chord_unlock_task_is_sent(backend, monkeypatch):
    monkeypatch.setattr(backend, "fallback_chord_unlock", lambda *a, **k: pytest.fail("chord_unlock sent"))
    apply(backend, 2)


def test_a_task_counted_twice_sends_the_body_again_after_the_real_last_one(backend, caplog):
    req = apply(backend, 2)
    for i in (1, 1):  # task 1 redelivered after its result was stored: the count reaches 2 of 2 early
        part(backend, req, i)
    assert len(backend.sent) == 1  # early: advance() finds task 0 uncommitted and sends nothing
    part(backend, req, 0)
    assert len(backend.sent) == 2  # the real last task: advance() now moves the job on
    assert "ran twice" in caplog.text


def test_retries_do_not_count(backend):
    req = apply(backend, 1)
    part(backend, req, 0, state="RETRY")
    assert backend.sent == [] and counter(backend).done == 0
    part(backend, req, 0)
    assert len(backend.sent) == 1


def test_a_failed_header_task_stops_the_chord(backend, monkeypatch):
    errors = []
    monkeypatch.setattr(backend, "chord_error_from_stack", lambda callback, exc: errors.append((callback.task, exc)))
    req = apply(backend, 3)
    part(backend, req, 0)
    part(backend, req, 1, state="FAILURE")
    part(backend, req, 2, state="REVOKED")  # a second failure reports nothing more
    part(backend, req, 2)
    assert backend.sent == [] and counter(backend).failed
    assert [(task, type(exc).__name__) for task, exc in errors] == [("auralith.finalize_job", "ChordError")]


def test_a_revoke_outside_any_exception_fails_the_body(backend):
    # `auralith cancel --terminate`: the worker's main process marks the terminated task revoked, with no
    # exception being handled. Recording the body's ChordError used to raise there (no traceback to read),
    # which left the task's message unacknowledged and the worker taking no more work.
    results = [backend.app.AsyncResult(f"t{i}") for i in range(2)]
    body = signature("auralith.finalize_job", args=("job-1",), immutable=True, app=backend.app).set(task_id="body")
    backend.apply_chord(("g1", results), body)
    backend.mark_as_revoked(
        "t0",
        "terminated",
        request=SimpleNamespace(id="t0", group="g1", chord=dict(body), errbacks=None, ignore_result=False),
    )
    assert counter(backend).failed and backend.get_state("t0") == "REVOKED"
    assert backend.get_state("body") == "FAILURE" and "t0" in str(backend.get_result("body"))


def test_a_store_error_while_failing_a_chord_is_logged_not_raised(backend, monkeypatch, caplog):
    req = apply(backend, 2)
    monkeypatch.setattr(backend, "chord_error_from_stack", lambda *a: 1 / 0)
    part(backend, req, 0, state="FAILURE")
    assert counter(backend).failed and "could not record its failure" in caplog.text


def test_applying_the_same_chord_twice_keeps_its_count(backend):
    req = apply(backend, 2)
    part(backend, req, 0)
    apply(backend, 2)
    part(backend, req, 1)
    assert len(backend.sent) == 1


def test_tasks_outside_a_chord_are_ignored(backend):
    backend.on_chord_part_return(SimpleNamespace(group=None, chord=None, id="x"), "SUCCESS", None)
    backend.on_chord_part_return(SimpleNamespace(group="unknown", chord={"task": "t"}, id="x"), "SUCCESS", None)
    assert backend.sent == []


def test_concurrent_parts_send_the_body_once(backend):
    n = 40
    req = apply(backend, n)
    threads = [threading.Thread(target=part, args=(backend, req, i)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(backend.sent) == 1 and counter(backend).done == n


def test_cleanup_drops_old_counters(backend):
    from datetime import timedelta

    from sqlalchemy import update

    from auralith.store.models import utcnow

    apply(backend, 1, group_id="old")
    apply(backend, 1, group_id="new")
    with session_scope(backend.url) as s:
        s.execute(
            update(ChordCounter).where(ChordCounter.group_id == "old").values(created_at=utcnow() - timedelta(days=30))
        )
    backend.cleanup()
    assert counter(backend, "old") is None and counter(backend, "new") is not None


def test_a_mutable_body_gets_the_header_results(backend):
    results = [backend.app.AsyncResult(f"t{i}") for i in range(2)]
    body = signature("collect", app=backend.app)  # not immutable: Celery passes it the header's results
    backend.apply_chord(("g2", results), body)
    req = SimpleNamespace(group="g2", chord=dict(body))
    for i in range(2):
        backend.store_result(f"t{i}", i * 10, "SUCCESS")
        part(backend, req, i)
    assert backend.sent == [("collect", ([0, 10],))]


def test_two_workers_recording_one_revoke_at_once_log_nothing(backend, monkeypatch, caplog):
    # On `cancel` every worker records the broadcast revokes: one inserts the row between the other's lookup
    # and its insert, which then hits the unique task id.
    backend.mark_as_revoked("t9", reason="revoked")
    lookup = backend._query_task
    calls = []

    def missed_the_other_insert(session, task_id, for_update=False):
        calls.append(task_id)
        return None if len(calls) == 1 else lookup(session, task_id, for_update)

    monkeypatch.setattr(backend, "_query_task", missed_the_other_insert)
    with caplog.at_level("WARNING"):
        backend.mark_as_revoked("t9", reason="revoked")
    assert len(calls) > 1, "the race was staged"
    assert "Retrying" not in caplog.text and "IntegrityError" not in caplog.text, caplog.text
    assert backend.get_task_meta("t9")["status"] == "REVOKED"
