"""The job config's `storage` section: how S3 is reached, over environment variables.

Credentials are never config keys: boto3 finds them in its usual chain (AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE, ~/.aws, an instance or pod role), so they never
reach a stored config, a config dump or a log line.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class S3Settings(BaseModel):
    """`storage.s3` keys. Unset keys fall back to the environment, then to boto3's defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = Field(default=None, pattern=r"^https?://")
    region: str | None = None
    profile: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] | None = None
    retry_mode: Literal["standard", "adaptive"] = "standard"
    max_attempts: int = Field(default=8, ge=1, le=50)
    multipart_threshold_mb: float = Field(default=64.0, ge=5)
    multipart_chunk_mb: float = Field(default=16.0, ge=5)

    def effective(self) -> S3Settings:
        """These settings with unset keys filled from AURALITH_S3_* / AWS_* environment variables."""
        env = os.environ
        return self.model_copy(
            update={
                "endpoint_url": self.endpoint_url or env.get("AURALITH_S3_ENDPOINT_URL") or None,
                "region": self.region
                or env.get("AURALITH_S3_REGION")
                or env.get("AWS_REGION")
                or env.get("AWS_DEFAULT_REGION")
                or None,
                "profile": self.profile or env.get("AURALITH_S3_PROFILE") or None,
                # MinIO, moto and most S3-compatible servers only answer path-style requests.
                "addressing_style": self.addressing_style
                or env.get("AURALITH_S3_ADDRESSING_STYLE")
                or ("path" if (self.endpoint_url or env.get("AURALITH_S3_ENDPOINT_URL")) else "auto"),
            }
        )


class StorageConfig(BaseModel):
    """The job config's `storage` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    s3: S3Settings = S3Settings()
