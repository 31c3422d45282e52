"""`preprocessing`: normalisation, length limits, dedup switches, quality filters and PII."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from auralith.config.base import StrictModel
from auralith.config.language import LanguageConfig
from auralith.config.near_dedup import NearDedupConfig
from auralith.config.quality import PIIConfig, QualityConfig
from auralith.config.web import HtmlConfig, UrlFilterConfig


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
    url_filter: UrlFilterConfig = UrlFilterConfig()
    html: HtmlConfig = HtmlConfig()
    normalize: NormalizeConfig = NormalizeConfig()
    length: LengthConfig = LengthConfig()
    exact_dedup: bool = True
    near_dedup: NearDedupConfig = NearDedupConfig()
    keep_removed: bool = False
    # How many partitions' worth of hashes (exact) or band keys (near) one dedup task decides: the number of
    # dedup tasks grows with the corpus, so no single one does.
    dedup_task_partitions: int = Field(default=16, ge=1, le=1_000_000)
    language: LanguageConfig = LanguageConfig()
    quality: QualityConfig = QualityConfig()
    pii: PIIConfig = PIIConfig()
