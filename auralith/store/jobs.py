"""The job and event rows of the store."""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import CursorResult  # what DML returns: it has rowcount
from sqlalchemy.exc import IntegrityError

from auralith.errors import JobNotFound
from auralith.redact import redact, redact_text
from auralith.store.models import Event, Job, JobState, utcnow
from auralith.store.session import SessionOwner

MIN_PREFIX = 4  # characters of a job id that `get_job` accepts as a prefix


def new_job_id() -> str:
    return str(uuid.uuid4())


class JobRows(SessionOwner):
    """Jobs and their events."""

    def create_job(self, job_id: str, config: dict, config_hash: str, name: str, priority: str) -> bool:
        """Insert the job row; False if a job with this id already exists (a redelivered submit)."""
        try:
            with self.session() as s:
                # Credentials never reach the store: a config names them as ${NAME} (see auralith/secrets.py).
                s.add(
                    Job(
                        id=job_id,
                        name=name,
                        config=redact(config),
                        config_hash=config_hash,
                        priority=priority,
                        state=JobState.PENDING,
                    )
                )
        except IntegrityError:
            return False
        return True

    def get_job(self, job_id: str) -> Job:
        """The job with this id, or the only job whose id starts with it (as `docker` accepts prefixes)."""
        with self.session() as s:
            job = s.get(Job, job_id)
            if job is None and len(job_id) < MIN_PREFIX:
                raise JobNotFound(f"job id prefix {job_id!r} is too short: give at least {MIN_PREFIX} characters")
            if job is None:
                found = s.scalars(select(Job).where(Job.id.startswith(job_id, autoescape=True)).limit(2)).all()
                if len(found) == 1:
                    job = found[0]
                elif len(found) > 1:
                    raise JobNotFound(f"job id prefix {job_id!r} is ambiguous; give more characters")
            if job is None:
                raise JobNotFound(f"no job {job_id!r} in the store")
            return job

    def find_job(self, job_id: str) -> Job | None:
        with self.session() as s:
            return s.get(Job, job_id)

    def list_jobs(
        self, limit: int = 50, state: str | None = None, offset: int = 0, name: str | None = None
    ) -> list[Job]:
        """Newest first; `name`: only jobs whose name contains it; `offset`: skip that many (paging)."""
        with self.session() as s:
            q = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
            if state:
                q = q.where(Job.state == state)
            if name:
                q = q.where(Job.name.contains(name, autoescape=True))
            return list(s.scalars(q))

    def set_job_state(
        self, job_id: str, state: str, *, error: str | None = None, only_from: tuple[str, ...] | None = None, **fields
    ) -> bool:
        """Move a job to `state`; with `only_from`, only if it is in one of those states now."""
        values: dict = {"state": state, **fields}
        if state == JobState.RUNNING:
            # The first start: a resumed job's time runs from when it first started.
            values.setdefault("started_at", func.coalesce(Job.started_at, utcnow()))
            values["error"] = None
            values["finished_at"] = None
        if state in JobState.FINAL:
            values["finished_at"] = utcnow()
        if error is not None:
            values["error"] = redact_text(error)  # error texts may quote a connection URL
        with self.session() as s:
            q = update(Job).where(Job.id == job_id)
            if only_from:
                q = q.where(Job.state.in_(only_from))
            return cast(CursorResult, s.execute(q.values(**values))).rowcount > 0

    def add_event(self, job_id: str, message: str, level: str = "info") -> str:
        """Store a job event, credentials masked; returns the stored text. Only the row: the caller hands
        the event to the job's sinks (auralith.worker.events.record_event)."""
        message = redact_text(message)
        with self.session() as s:
            s.add(Event(job_id=job_id, level=level, message=message))
        return message

    def list_events(self, job_id: str, limit: int = 200) -> list[Event]:
        with self.session() as s:
            q = select(Event).where(Event.job_id == job_id).order_by(Event.id.desc()).limit(limit)
            return list(reversed(list(s.scalars(q))))

    def events_after(self, job_id: str, after_id: int = 0, limit: int = 1000) -> list[Event]:
        """The job's events with an id above `after_id`, oldest first; with `after_id` 0 its last `limit` ones."""
        if after_id == 0:
            return self.list_events(job_id, limit)
        with self.session() as s:
            q = select(Event).where(Event.job_id == job_id, Event.id > after_id).order_by(Event.id).limit(limit)
            return list(s.scalars(q))

    def delete_job(self, job_id: str) -> None:
        with self.session() as s:
            s.execute(delete(Job).where(Job.id == job_id))
