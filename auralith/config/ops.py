"""The job config's operational sections: `events` (JSONL log, webhook) and `limits` (time, in-flight).

Kept apart from the sinks and tasks that use them, so `auralith/config.py` can import these models
without importing Celery.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auralith.redact import has_literal_credential

EventKind = Literal["submitted", "started", "stage_done", "healed", "failed", "finished", "cancelled"]
ALERT_KINDS: list[EventKind] = ["started", "stage_done", "failed", "finished"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookConfig(_Strict):
    """POST one JSON object per job event of the kinds in `on`, retried with exponential backoff."""

    url: str = Field(min_length=1)
    on: list[EventKind] = Field(default_factory=lambda: list(ALERT_KINDS), min_length=1)
    timeout: float = Field(default=10.0, gt=0, le=300)
    max_retries: int = Field(default=8, ge=0, le=100)
    retry_backoff: float = Field(default=2.0, gt=0, le=3600)
    retry_backoff_max: float = Field(default=300.0, gt=0, le=86400)

    @field_validator("url")
    @classmethod
    def _no_literal_credentials(cls, v: str) -> str:
        if not v.split("${", 1)[0].startswith(("http://", "https://")) and not v.startswith("${"):
            raise ValueError("expected an http:// or https:// URL (or ${NAME} naming one)")
        # The config is stored and shown (`auralith status --json`): a credential must be a reference.
        if has_literal_credential(v):
            raise ValueError(
                "holds a credential; put it in an environment variable or the secrets file "
                "(AURALITH_SECRETS_FILE) and write ${NAME} in its place"
            )
        return v


class EventsConfig(_Strict):
    """Event sinks beside the store's events table."""

    # One JSON object a line per event; `{job_id}` is replaced. Relative paths resolve like the config's
    # other paths (against the config file's folder).
    jsonl: str | None = Field(default=None, min_length=1)
    webhook: WebhookConfig | None = None

    @field_validator("jsonl")
    @classmethod
    def _local_file(cls, v: str | None) -> str | None:
        # Lines are appended by many workers with O_APPEND; an object store cannot append to an object.
        if v is not None and "://" in v:
            raise ValueError(
                "must be a local file (lines are appended, which S3 objects cannot be); "
                "use the webhook, or `auralith logs`, for a job whose files are all on S3"
            )
        return v


class LimitsConfig(_Strict):
    """Per-job resource limits on its tasks; None means the worker's setting (see docs/operations.md)."""

    soft_time_limit: float | None = Field(default=None, gt=0)
    time_limit: float | None = Field(default=None, gt=0)
    max_partitions_in_flight: int | None = Field(default=None, ge=1)
    # How often the supervisor sends one unit again after the worker running it died, before it fails the job:
    # an input that kills every worker it reaches must not go round forever.
    max_redeliveries: int = Field(default=3, ge=0, le=100)

    @model_validator(mode="after")
    def _soft_below_hard(self) -> LimitsConfig:
        if self.soft_time_limit and self.time_limit and self.soft_time_limit >= self.time_limit:
            raise ValueError("soft_time_limit must be below time_limit (the soft one lets the task clean up)")
        return self

    def task_options(self) -> dict:
        """Celery signature options for these limits (only those set)."""
        return {
            k: v
            for k, v in (("soft_time_limit", self.soft_time_limit), ("time_limit", self.time_limit))
            if v is not None
        }
