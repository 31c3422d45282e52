"""`preprocessing`: normalisation, length limits, dedup switches, quality filters and PII."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from auralith.config.base import StrictModel
from auralith.config.language import LanguageConfig
from auralith.config.near_dedup import NearDedupConfig
from auralith.config.quality import PIIConfig, QualityConfig


class NormalizeConfig(StrictModel):
    unicode: Literal["NFC", "NFKC", "none"] = "NFC"
    whitespace: bool = True


class LengthConfig(StrictModel):
    min_chars: int = Field(default=1, ge=0)
    max_chars: int | None = Field(default=1_000_000, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> LengthConfig:
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError("max_chars must be >= min_chars")
        return self


class PreprocessingConfig(StrictModel):
    normalize: NormalizeConfig = NormalizeConfig()
    length: LengthConfig = LengthConfig()
    exact_dedup: bool = True
    near_dedup: NearDedupConfig = NearDedupConfig()
    keep_removed: bool = False
    language: LanguageConfig = LanguageConfig()
    quality: QualityConfig = QualityConfig()
    pii: PIIConfig = PIIConfig()
