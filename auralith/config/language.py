"""`preprocessing.language`: language identification, which languages to keep, and the score to ask for."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from auralith.config.base import StrictModel

_CODE = re.compile(r"^[a-z]{2,3}$")


class LanguageConfig(StrictModel):
    """Identify each document's language (fastText lid.176, shipped in a wheel); optionally keep only some.

    `keep: null` keeps every language; `min_score` is one threshold, or a mapping of language -> threshold
    with an optional `default` key (FineWeb used 0.65 for English with this model).
    """

    enabled: bool = True
    keep: list[str] | None = None
    min_score: float | dict[str, float] = Field(default=0.0)

    @field_validator("keep")
    @classmethod
    def _codes(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("keep must name at least one language (or be null to keep every language)")
        bad = [c for c in v if not _CODE.match(c)]
        if bad:
            raise ValueError(f"not ISO 639 language codes (two or three lower-case letters): {', '.join(bad)}")
        return sorted(set(v))

    @field_validator("min_score")
    @classmethod
    def _scores(cls, v: float | dict[str, float]) -> float | dict[str, float]:
        values = v.values() if isinstance(v, dict) else [v]
        if any(not 0 <= s <= 1 for s in values):
            raise ValueError("scores must be between 0 and 1")
        if isinstance(v, dict):
            bad = [k for k in v if k != "default" and not _CODE.match(k)]
            if bad:
                raise ValueError(f"not ISO 639 language codes: {', '.join(bad)}")
        return v
