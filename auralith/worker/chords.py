"""Chords counted in SQL: Celery's database result backend without `celery.chord_unlock` polling.

Celery's database backend cannot count, so it completes a chord with `celery.chord_unlock`: a task that sends
itself again every `result_chord_retry_interval` (the first time after a fixed 1 s) and asks for the header's
results one query per task until all are ready. Measured on the bench (docs/performance.md), that added up to
1 s per stage hand-off and kept a worker process polling throughout every stage; near a stage's end each poll
reads one row per partition, so a job of tens of thousands of partitions would spend its stage tails polling.
And the unlock message is one more thing a broker restart can lose (the job then waits for `auralith resume`).

Celery's Redis backend counts instead, and so does this one, in the store it already writes results to: a
chord gets one `auralith_chords` row (its size) when it is applied; each header task that succeeds adds one in
a single `UPDATE ... RETURNING`, right after its result is stored; the task that brings the count to the size
sends the body. A header task that fails stops the chord (the body never runs, and gets a ChordError result,
as with chord_unlock); a retry is not counted, only the final success. A task run twice (a redelivery)
counts twice, so the body can start one task early; every count at or past the size therefore sends the
body, so the real last task still starts it. The body, `advance(job)`, reads the rows and is idempotent.
"""

from __future__ import annotations

import logging
from typing import cast

from celery import states
from celery.backends.database import DatabaseBackend
from celery.backends.database.session import SessionManager
from celery.canvas import maybe_signature
from celery.exceptions import ChordError
from celery.result import allow_join_result
from sqlalchemy import delete, insert, update
from sqlalchemy.engine import CursorResult  # what DML returns: it has rowcount
from sqlalchemy.exc import IntegrityError

from auralith.store.db import engine_and_sessionmaker, session_scope
from auralith.store.models import ChordCounter, utcnow
from auralith.store.outage import through_outage
from auralith.worker.settings import outage_retry_options

log = logging.getLogger(__name__)

# The result backend URL scheme: `auralith+postgresql+psycopg://...` (registered as a `celery.result_backends`
# entry point in pyproject.toml, so `celery -A auralith` and any Celery client resolve it).
SCHEME = "auralith"


class _OneEnginePerProcess(SessionManager):
    """Result sessions from Auralith's own engine, one per store URL and process (auralith.store.db).

    Celery's SessionManager pools connections only in forked pool processes; the worker's main process gets
    a new engine and connection for every call (NullPool, so that children forked later never share its
    sockets). The main process is where revokes are recorded, two calls per revoked id and one per revoked
    message it drops: about 20 ms per revoked id on PostgreSQL against 3.6 ms here (bench/revoke.py), during
    which it takes no work and sends no heartbeat. Keying engines by process id keeps forked children off
    the parent's sockets just as well. (`database_engine_options` and `database_engine_callback` do not
    apply to this engine.)"""

    def create_session(self, dburi, short_lived_sessions=False, **kwargs):
        return engine_and_sessionmaker(dburi)


class CountingDatabaseBackend(DatabaseBackend):
    """DatabaseBackend whose chords complete by counting (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.session_manager = _OneEnginePerProcess()

    def _store_result(self, task_id, result, state, traceback=None, request=None, **kwargs):
        try:
            return super()._store_result(task_id, result, state, traceback, request=request, **kwargs)
        except IntegrityError:
            # Another process inserted this task's row between our lookup and our insert: on `cancel` every
            # worker records the same broadcast revokes at once. The row exists now, so this write updates it.
            # Celery's own retry would log a ~60-line UniqueViolation warning first.
            return super()._store_result(task_id, result, state, traceback, request=request, **kwargs)

    def apply_chord(self, header_result_args, body, **kwargs):
        self.ensure_chords_allowed()
        header_result = self.app.GroupResult(*header_result_args)
        try:
            with session_scope(self.url) as s:
                s.execute(
                    insert(ChordCounter).values(
                        group_id=header_result.id,
                        size=len(header_result.results),
                        done=0,
                        failed=False,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            pass  # the same chord applied again (a replaced task that ran twice): its counter stands
        if not body.immutable:
            header_result.save(backend=self)  # a mutable body gets the header's results: keep them findable

    def on_chord_part_return(self, request, state, result, **kwargs):
        group_id = request.group
        if not group_id or not request.chord:
            return
        if state in (states.FAILURE, states.REVOKED):
            self._fail_chord(request, group_id, result)
            return
        if state != states.SUCCESS:
            return  # Celery reports only final states here; anything else does not count

        def count():
            with session_scope(self.url) as s:
                return s.execute(
                    update(ChordCounter)
                    .where(ChordCounter.group_id == group_id, ChordCounter.failed.is_(False))
                    .values(done=ChordCounter.done + 1)
                    .returning(ChordCounter.done, ChordCounter.size)
                ).first()

        # Retried through a database outage like the result it follows: an error here would fail a task whose
        # output is committed. A retry after an update that landed counts twice, which the body tolerates.
        row = through_outage(count, f"chord {group_id} count", **outage_retry_options(self.app))
        if row is None:
            return  # a failed chord, or one applied by another backend (no row): nothing to start
        done, size = row
        if done < size:
            return
        if done > size:
            # A header task ran twice (redelivered after its result was stored) and was counted twice, so
            # the body may have started before the real last task finished: start it again now. The body
            # (auralith.advance) decides from the rows, so a second start is harmless and this one is on time.
            log.warning("chord %s counted %d of %d: a header task ran twice; body sent again", group_id, done, size)
        callback = maybe_signature(request.chord, app=self.app)
        # Celery 5.7 publishes chord bodies through `_retry_publish` (waits between publish retries); older
        # releases call `delay` directly.
        publish = getattr(self.app.amqp, "_retry_publish", lambda fn, *args: fn(*args))
        try:
            if callback.immutable:
                publish(callback.delay)
            else:
                deps = self.app.GroupResult.restore(group_id, backend=self)
                with allow_join_result():
                    values = deps.join(timeout=self.app.conf.result_chord_join_timeout, propagate=True)
                publish(callback.delay, values)
        except Exception as exc:  # noqa: BLE001  the broker refused the body: record it on the body's result
            log.exception("chord %s: could not send its body", group_id)
            self.chord_error_from_stack(callback, ChordError(f"Callback error: {exc!r}"))

    def _fail_chord(self, request, group_id: str, exc) -> None:
        """The first header task to fail marks the chord failed and the body's result with a ChordError.

        Never raises: a revoke runs this in the worker's main process, inside Celery's bookkeeping of the
        revoked task, and an exception there leaves the task's message unacknowledged, which with a prefetch
        of one stops the worker from taking any more work."""
        try:
            with session_scope(self.url) as s:
                first = cast(
                    CursorResult,
                    s.execute(
                        update(ChordCounter)
                        .where(ChordCounter.group_id == group_id, ChordCounter.failed.is_(False))
                        .values(failed=True)
                    ),
                ).rowcount
            if first:
                callback = maybe_signature(request.chord, app=self.app)
                # Celery stores the body's error from the exception being handled, and a revoke has none.
                try:
                    raise ChordError(f"Dependency {request.id} raised {exc!r}")
                except ChordError as error:
                    self.chord_error_from_stack(callback, error)
        except Exception:  # noqa: BLE001  the job's own rows say what failed; the chord's body never runs
            log.exception("chord %s: could not record its failure", group_id)

    def cleanup(self):
        """Celery beat's `celery.backend_cleanup`: results past `result_expires`, and chord rows as old."""
        super().cleanup()
        if self.expires:
            with session_scope(self.url) as s:
                s.execute(delete(ChordCounter).where(ChordCounter.created_at < utcnow() - self.expires))
