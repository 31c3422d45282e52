"""What one unit of a stage is handed, and what it hands back: the seam between the worker and the stages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from auralith.config import JobConfig
from auralith.errors import AuralithError
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.throttle import ProgressFn
from auralith.storage import Files
from auralith.store import Store
from auralith.store.models import Partition

# (counts set on the row at commit, output_ref or None)
UnitResult = tuple[dict, dict | None]


def _no_state(meta: dict) -> None:
    """No task to publish to (a unit run directly, in tests)."""


@dataclass
class UnitContext:
    """One unit of one stage of one job, as its partition row was claimed."""

    job_id: str
    stage: str
    index: int
    cfg: JobConfig
    ref: dict[str, Any]  # the row's input_ref
    store: Store
    partition_id: int
    attempt: int = 1
    # Live figures, about once a second; raises UnitStopped once the job is cancelled.
    progress: ProgressFn = field(default=lambda values: None)
    # The task's own state for Flower and result.info (Celery's update_state), where there is a task.
    publish_state: Callable[[dict], None] = _no_state
    # A job event (message, kind) for `auralith logs` and the job's sinks.
    event: Callable[[str, str | None], None] = field(default=lambda message, kind: None)

    @cached_property
    def paths(self) -> WorkPaths:
        return WorkPaths.for_job(self.cfg, self.job_id)

    @property
    def files(self) -> Files:
        """The job's storage, bound to its config's `storage` settings: every byte the unit reads or writes."""
        return self.paths.files

    def rows(self, stage: str | None = None) -> list[Partition]:
        return self.store.list_partitions(self.job_id, stage)


class UnitStopped(AuralithError):
    """A unit stopped on purpose before its end (its job was cancelled, a newer run took it over).

    With `release`, its row goes back to pending so a resume redoes it; without, the row is left as it is
    (another run owns it now)."""

    def __init__(self, reason: str, release: bool = True):
        super().__init__(reason)
        self.reason, self.release = reason, release
