"""The supervisor's log: one row per unit it sent again or stalled job it moved on (auralith.worker.supervisor)."""

from __future__ import annotations

from sqlalchemy import func, select

from auralith.store.models import HealRecord
from auralith.store.session import SessionOwner


class HealRows(SessionOwner):
    def add_heal(self, job_id: str, stage: str, index: int | None, reason: str, detail: str) -> None:
        with self.session() as s:
            s.add(HealRecord(job_id=job_id, stage=stage, index=index, reason=reason, detail=detail))

    def list_heals(self, job_id: str) -> list[HealRecord]:
        with self.session() as s:
            return list(s.scalars(select(HealRecord).where(HealRecord.job_id == job_id).order_by(HealRecord.id)))

    def heal_counts(self) -> dict[str, int]:
        """Heals by reason over the whole store (the `auralith_heals_total` series)."""
        with self.session() as s:
            return dict(s.execute(select(HealRecord.reason, func.count()).group_by(HealRecord.reason)).all())
