"""The partition rows of the store: one per unit of a stage, the ledger every task claims and commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast as typed

from sqlalchemy import String, cast, func, insert, literal, select, update
from sqlalchemy.engine import CursorResult  # what DML returns: it has rowcount
from sqlalchemy.exc import IntegrityError

from auralith.store.bulk import as_text, decode_rows
from auralith.store.clock import db_clock
from auralith.store.models import ChordCounter, Job, JobState, Partition, PartitionState, WorkerBeat
from auralith.store.session import SessionOwner
from auralith.store.workers import as_beat, db_now

# A partition that was claimed this often without committing keeps killing its worker (out of memory on a
# huge record, say): with acks_late its message would otherwise come back forever. Above max_retries (8),
# so ordinary retries of transient errors never reach it.
MAX_ATTEMPTS = 12


@dataclass
class Claim:
    """What a task learns when it claims a partition: whether to run, and the row's input."""

    run: bool
    reason: str = ""
    partition_id: int = 0
    input_ref: dict | None = None
    attempts: int = 0
    give_up: bool = False
    throttled: bool = False


@dataclass(slots=True)
class UnitRow:
    """A partition row read for a scan, without the ORM (4-5x faster to load at 100,000 rows): the attributes of
    `Partition` that the query selected; the others are None. Read-only: changes go through the store."""

    # The figures' columns first, in `_FIGURES`' order: those rows are made positionally (bulk.decode_rows).
    stage: str = ""
    state: str = PartitionState.PENDING
    index: int = 0
    input_bytes: int = 0
    counts: dict | None = None
    progress: dict | None = None
    output_ref: dict | None = None
    id: int = 0
    job_id: str = ""
    attempts: int = 0
    task_id: str | None = None
    chord_id: str | None = None
    sent_at: datetime | None = None
    redeliveries: int = 0
    lost_on: list | None = None
    worker: str | None = None
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    input_ref: dict | None = None


_DOCUMENTS = ("input_ref", "counts", "progress", "output_ref")  # the JSON columns a scan leaves out
_SCAN = [c for c in Partition.__table__.c if c.name not in _DOCUMENTS]
_FIGURES = [
    Partition.__table__.c[n] for n in ("stage", "state", "index", "input_bytes", "counts", "progress", "output_ref")
]
_LIVE_FIGURES = _FIGURES[:-1]  # what `job_stats` reads: not the outputs


@dataclass
class StageStates:
    """A stage's units counted by state in SQL, without reading them: how many, their input bytes, and when the
    last committed one finished."""

    counts: dict[str, int]
    input_bytes: int = 0
    last_finished: datetime | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def left(self) -> int:
        """Units not committed."""
        return self.total - self.counts.get(PartitionState.COMMITTED, 0)


class PartitionRows(SessionOwner):
    """Partitions: planned, claimed, committed, failed, released."""

    def create_partitions(self, job_id: str, stages: dict[str, list[tuple[dict, int]]]) -> None:
        """Insert one pending row per (input_ref, input_bytes) of each stage, indexed 0..n-1, in one
        transaction, so a worker killed while planning leaves no half plan. Already planned: no-op."""
        try:
            with self.session() as s:
                if s.scalar(select(func.count()).select_from(Partition).where(Partition.job_id == job_id)):
                    return
                # One multi-row INSERT per batch, not an ORM object per row: 100,000 partitions in seconds.
                rows = [
                    {"job_id": job_id, "stage": stage, "index": i, "input_ref": ref, "input_bytes": size}
                    for stage, refs in stages.items()
                    for i, (ref, size) in enumerate(refs)
                ]
                if rows:
                    s.execute(insert(Partition), rows)
        except IntegrityError:
            pass  # a second run_job of the same job planned it at the same moment: the same plan, kept once

    def add_units(self, job_id: str, stage: str, after: int, refs: list[dict]) -> None:
        """Append pending units to a stage of a running job (a stage that runs in rounds), indexed from `after` + 1,
        `after` being the stage's last index its caller decided from. Every caller that decides to add them adds the
        same ones at the same indexes (`advance` decides from committed rows), so a second caller at the same moment
        hits the unique index and keeps the first one's rows."""
        rows = [
            {"job_id": job_id, "stage": stage, "index": after + 1 + i, "input_ref": ref, "input_bytes": 0}
            for i, ref in enumerate(refs)
        ]
        try:
            with self.session() as s:
                if rows:
                    s.execute(insert(Partition), rows)
        except IntegrityError:
            pass  # another caller added the same units first

    def list_partitions(self, job_id: str, stage: str | None = None) -> list[Partition]:
        with self.session() as s:
            q = select(Partition).where(Partition.job_id == job_id).order_by(Partition.stage, Partition.index)
            if stage:
                q = q.where(Partition.stage == stage)
            return list(s.scalars(q))

    def stage_states(self, job_id: str) -> dict[str, StageStates]:
        """Each of the job's stages' units counted by state (one GROUP BY, whatever the number of units)."""
        out: dict[str, StageStates] = {}
        with self.session() as s:
            rows = s.execute(
                select(
                    Partition.stage,
                    Partition.state,
                    func.count(),
                    func.coalesce(func.sum(Partition.input_bytes), 0),
                    func.max(Partition.finished_at),
                )
                .where(Partition.job_id == job_id)
                .group_by(Partition.stage, Partition.state)
            )
            for stage, state, n, size, last in rows:
                st = out.setdefault(stage, StageStates({}))
                st.counts[state] = int(n)
                st.input_bytes += int(size)
                if state == PartitionState.COMMITTED:
                    st.last_finished = last
        return out

    def count_unsent(self, job_id: str, stage: str) -> int:
        """Units of the stage not committed that were never given a task id (their stage was never sent)."""
        with self.session() as s:
            q = select(func.count()).where(
                Partition.job_id == job_id,
                Partition.stage == stage,
                Partition.state != PartitionState.COMMITTED,
                Partition.task_id.is_(None),
            )
            return int(s.scalar(q) or 0)

    def count_waiting(self, job_id: str, stage: str, sent_before: datetime, not_held: set[str]) -> int:
        """How many `waiting_units` there are, counted in SQL."""
        with self.session() as s:
            where = self._waiting(job_id, stage, sent_before, not_held)
            return int(s.scalar(select(func.count()).where(where)) or 0)

    def waiting_units(self, job_id: str, stage: str, sent_before: datetime, not_held: set[str]) -> list[Partition]:
        """Pending units of the stage sent before `sent_before` (or never) whose task id is not in `not_held`
        (as `scan_partitions` reads them)."""
        names = [c.name for c in _SCAN]
        with self.session() as s:
            where = self._waiting(job_id, stage, sent_before, not_held)
            found = s.execute(select(*_SCAN).where(where).order_by(Partition.index))
            return typed(list[Partition], [UnitRow(**dict(zip(names, r, strict=True))) for r in found])

    @staticmethod
    def _waiting(job_id: str, stage: str, sent_before: datetime, not_held: set[str]):
        where = (
            (Partition.job_id == job_id)
            & (Partition.stage == stage)
            & (Partition.state == PartitionState.PENDING)
            & (Partition.sent_at.is_(None) | (Partition.sent_at < sent_before))
        )
        if not_held:
            where &= Partition.task_id.is_(None) | Partition.task_id.not_in(sorted(not_held))
        return where

    def scan_partitions(
        self,
        job_id: str,
        stage: str | None = None,
        *,
        figures: bool = False,
        state: str | None = None,
        uncommitted: bool = False,
        with_figures_only: bool = False,
        sent_only: bool = False,
    ) -> list[Partition]:
        """The job's units as `UnitRow`s (typed as Partition for the functions that read either), in stage and
        index order, without their JSON documents; with `figures` only what `job_stats` reads (stage, state,
        index, input bytes, counts, progress, output; not the output `with_figures_only`). For scans of big jobs:
        the supervisor, `advance`, status."""
        columns = (_LIVE_FIGURES if with_figures_only else _FIGURES) if figures else _SCAN
        with self.session() as s:
            q = select(*as_text(columns)).where(Partition.job_id == job_id).order_by(Partition.stage, Partition.index)
            if stage:
                q = q.where(Partition.stage == stage)
            if state:
                q = q.where(Partition.state == state)
            if uncommitted:
                q = q.where(Partition.state != PartitionState.COMMITTED)
            if sent_only:  # units given a task id
                q = q.where(Partition.task_id.is_not(None))
            if with_figures_only:  # only committed and started units have figures; `stage_states` counts the rest
                q = q.where(Partition.state.in_((PartitionState.COMMITTED, PartitionState.STARTED)))
            return typed(list[Partition], decode_rows(columns, s.connection().execute(q).all(), UnitRow))

    def get_partition(self, job_id: str, stage: str, index: int) -> Partition | None:
        with self.session() as s:
            return s.scalars(
                select(Partition).where(Partition.job_id == job_id, Partition.stage == stage, Partition.index == index)
            ).first()

    def set_task_ids(self, job_id: str, stage: str, task_ids: dict[int, str]) -> None:
        with self.session() as s:
            for index, task_id in task_ids.items():
                s.execute(
                    update(Partition)
                    .where(Partition.job_id == job_id, Partition.stage == stage, Partition.index == index)
                    .values(task_id=task_id)
                )

    def claim_partition(
        self,
        job_id: str,
        stage: str,
        index: int,
        worker: str,
        task_id: str | None,
        max_in_flight: int | None = None,
        alive_within: float | None = None,
        takeover_from: str | None = None,
    ) -> Claim:
        """Mark a partition started unless it is committed or its job is over; count the attempt.

        With `max_in_flight`, a job that already has that many partitions started gets `throttled` instead
        (the job row is locked meanwhile, so concurrent claims count each other on PostgreSQL). With
        `alive_within`, a partition that another worker runs, by a heartbeat younger than that, is left to it,
        unless that worker is `takeover_from` (a resume found it dead although its heartbeat is recent)."""
        with self.session() as s:
            job = s.get(Job, job_id, with_for_update=max_in_flight is not None)
            if job is None:
                return Claim(False, "job not found")
            if job.state in JobState.FINAL and job.state != JobState.FAILED:
                return Claim(False, f"job {job.state}")
            part = s.scalars(
                select(Partition)
                .where(Partition.job_id == job_id, Partition.stage == stage, Partition.index == index)
                .with_for_update()
            ).first()
            if part is None:
                return Claim(False, "partition not found")
            if part.state == PartitionState.COMMITTED:
                return Claim(False, "already committed", part.id)
            if (
                max_in_flight is not None
                and part.state != PartitionState.STARTED
                and (
                    s.scalar(
                        select(func.count())
                        .select_from(Partition)
                        .where(Partition.job_id == job_id, Partition.state == PartitionState.STARTED)
                    )
                    or 0
                )
                >= max_in_flight
            ):
                return Claim(False, f"{max_in_flight} partitions in flight", part.id, throttled=True)
            if part.attempts >= MAX_ATTEMPTS:
                return Claim(
                    False,
                    f"gave up after {part.attempts} attempts that did not finish (did the worker "
                    "process die, e.g. out of memory?)",
                    part.id,
                    give_up=True,
                )
            if (
                part.state == PartitionState.STARTED
                and part.worker not in (worker, takeover_from)
                and alive_within is not None
            ):
                row = s.get(WorkerBeat, part.worker) if part.worker else None
                beat = as_beat(row, db_now(s)) if row else None
                if beat and beat.runs(part.task_id, part.started_at, alive_within):
                    # A second copy of a unit that a live worker runs (a resume, a redelivery): running it again
                    # would only race the first.
                    return Claim(False, f"running on {part.worker}", part.id)
            part.state = PartitionState.STARTED
            part.attempts += 1
            part.worker = worker
            part.task_id = task_id or part.task_id
            part.started_at = db_clock()
            part.error = None
            part.progress = None
            return Claim(True, "", part.id, dict(part.input_ref), part.attempts)

    def update_progress(self, partition_id: int, progress: dict) -> str | None:
        """Record a running partition's progress; returns its job's state, so the task learns of a cancel
        in the same round trip."""
        with self.session() as s:
            s.execute(
                update(Partition)
                .where(Partition.id == partition_id, Partition.state == PartitionState.STARTED)
                .values(progress=progress)
            )
            return s.scalar(
                select(Job.state).join(Partition, Partition.job_id == Job.id).where(Partition.id == partition_id)
            )

    def commit_partition(self, partition_id: int, counts: dict, output_ref: dict | None) -> None:
        """The partition's output is durable: record its figures. Setting (not adding) keeps reruns exact."""
        with self.session() as s:
            s.execute(
                update(Partition)
                .where(Partition.id == partition_id)
                .values(
                    state=PartitionState.COMMITTED,
                    counts=counts,
                    output_ref=output_ref,
                    progress=None,
                    finished_at=db_clock(),
                    error=None,
                )
            )

    def fail_partition(self, partition_id: int, error: str) -> None:
        with self.session() as s:
            s.execute(
                update(Partition)
                .where(Partition.id == partition_id, Partition.state != PartitionState.COMMITTED)
                .values(state=PartitionState.FAILED, error=error, finished_at=db_clock(), progress=None)
            )

    def release_partition(self, partition_id: int) -> None:
        """A task stopped on purpose (its job was cancelled): the partition is to be done again."""
        with self.session() as s:
            s.execute(
                update(Partition)
                .where(Partition.id == partition_id, Partition.state == PartitionState.STARTED)
                .values(state=PartitionState.PENDING, progress=None)
            )

    def claim_unsent(self, job_id: str, stage: str, chord_id: str) -> dict[int, str]:
        """Give task ids to those of the stage's uncommitted partitions that have none, atomically, and record the
        chord they are sent in: one UPDATE ... RETURNING, whatever the number of units. Each id is the chord's
        id and the unit's index (`CHORD.INDEX`): unique, since a chord id is new for each sending.

        Returns {index: task id} of the ones this caller claimed: when two tasks race to start the same stage
        (a redelivered chord body, say), each partition is sent by one of them only.
        """
        with self.session() as s:
            claimed = s.execute(
                update(Partition)
                .where(
                    Partition.job_id == job_id,
                    Partition.stage == stage,
                    Partition.state != PartitionState.COMMITTED,
                    Partition.task_id.is_(None),
                )
                .values(
                    task_id=literal(f"{chord_id}.") + cast(Partition.index, String),
                    chord_id=chord_id,
                    sent_at=db_clock(),
                )
                .returning(Partition.index, Partition.task_id)
            )
            return {index: str(task_id) for index, task_id in claimed}

    def mark_sent(self, job_id: str, stage: str, indexes: list[int], chord_id: str | None) -> None:
        """Units sent again under their task ids (a resume): the chord they are in now, and when."""
        with self.session() as s:
            s.execute(
                update(Partition)
                .where(Partition.job_id == job_id, Partition.stage == stage, Partition.index.in_(indexes))
                .values(chord_id=chord_id, sent_at=db_clock())
            )

    def recount_chords(self, job_id: str, stage: str) -> int:
        """Set each chord's count of the stage to its committed units. A worker killed between a unit's commit and
        its count leaves its chord one short for ever, and its body would never run; a count too high only
        starts the body early, which `advance` shrugs off. Returns how many chords were short."""
        with self.session() as s:
            committed = (
                select(func.count())
                .select_from(Partition)
                .where(
                    Partition.job_id == job_id,
                    Partition.stage == stage,
                    Partition.chord_id == ChordCounter.group_id,
                    Partition.state == PartitionState.COMMITTED,
                )
                .scalar_subquery()
            )
            chords = select(Partition.chord_id).where(Partition.job_id == job_id, Partition.stage == stage)
            return typed(
                CursorResult,
                s.execute(
                    update(ChordCounter)
                    .where(ChordCounter.group_id.in_(chords), ChordCounter.done < committed)
                    .values(done=committed)
                ),
            ).rowcount

    def redeliver(self, part: Partition, lost_worker: str | None) -> Partition | None:
        """Record that the supervisor sends `part` again (its worker died holding it, or its message was
        lost): back to pending, one more redelivery, the dead worker added to `lost_on`. Only if the row is
        still as `part` shows it (a worker may have claimed or committed it since); returns the row then."""
        with self.session() as s:
            row = s.scalars(
                select(Partition)
                .where(
                    Partition.id == part.id,
                    Partition.state == part.state,
                    Partition.attempts == part.attempts,
                    Partition.task_id == part.task_id,
                )
                .with_for_update()
            ).first()
            if row is None:
                return None
            row.state = PartitionState.PENDING
            row.progress = None
            row.redeliveries = (row.redeliveries or 0) + 1
            if lost_worker:
                row.lost_on = [*(row.lost_on or []), lost_worker]
            row.sent_at = db_clock()
            s.flush()
            s.refresh(row)
            return row

    def reset_unfinished(self, job_id: str, clear_task_ids: bool = False) -> int:
        """Before a resume: failed partitions go back to pending with new task ids (their old ids hold FAILURE
        results, which would fail a chord that waits on them) and their attempts to 0. With `clear_task_ids`
        (after a cancel, whose task ids every worker now drops) every partition not committed does. Others
        are left as they are: the resume sends again those that no live worker holds. Returns how many
        partitions are not committed."""
        with self.session() as s:
            unfinished = (Partition.job_id == job_id) & (Partition.state != PartitionState.COMMITTED)
            redo = unfinished if clear_task_ids else unfinished & (Partition.state == PartitionState.FAILED)
            # Only rows that change: a stage never sent (100,000 tokenize units, say) is left as it is, which
            # took a resume of 100,000 partitions from 5.5 to about 1.5 s of PostgreSQL writes.
            redo &= (
                Partition.task_id.is_not(None)
                | (Partition.state != PartitionState.PENDING)
                | (Partition.attempts != 0)
                | Partition.error.is_not(None)
            )
            s.execute(
                update(Partition)
                .where(redo)
                .values(state=PartitionState.PENDING, progress=None, attempts=0, task_id=None, error=None)
            )
            return s.scalar(select(func.count()).select_from(Partition).where(unfinished)) or 0
