"""Moved to `auralith.worker.tasks`; this name stays so `from auralith.workflow.tasks import run_job` works."""

from auralith.worker.tasks import run_job

__all__ = ["run_job"]
