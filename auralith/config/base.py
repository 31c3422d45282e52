"""The base of every config model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in a threshold must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid")
