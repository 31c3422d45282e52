"""`preprocessing.near_dedup`: the MinHash LSH settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class NearDedupConfig(BaseModel):
    """`preprocessing.near_dedup`: MinHash LSH over word n-grams.

    Off by default: it drops documents that are *not* identical, a corpus-level decision about what
    counts as the same text, and it costs a signature pass plus a bucketing stage. Turn it on for web
    or crawled corpora, where templated near-copies are common.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    ngram: int = Field(default=5, ge=1, le=32, description="Words per shingle.")
    num_bands: int = Field(default=20, ge=1, le=256)
    rows_per_band: int = Field(default=5, ge=1, le=64)
    seed: int = Field(default=1, ge=0, lt=2**32)
    threshold: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Jaccard a candidate pair must reach to count as a near duplicate (see `verify_on`).",
    )
    verify: bool = Field(
        default=True,
        description="Check LSH candidates against `threshold` on the full "
        "signature; off keeps every pair that shares a bucket (datatrove's behaviour).",
    )
    verify_on: Literal["shingles", "signature"] = Field(
        default="shingles",
        description="What `verify` compares with `threshold`: the exact Jaccard of the two documents' shingle "
        "sets (the process stage keeps each document's set, 4 bytes a shingle), or the signature's estimate.",
    )
    bucket_slice_entries: int = Field(
        default=2_000_000,
        ge=10,
        description="Most band keys one band task holds at once; bounds its memory whatever the corpus size.",
    )
    join_max_ranges: int = Field(
        default=8,
        ge=1,
        le=4096,
        description="Hash ranges (see `dedup_task_partitions`) up to which the clusters are joined in one task; "
        "a bigger job finds them in rounds of a task per range of partitions, so no task holds every pair. Each "
        "round is a chord (0.1-0.4 s here), which a small job would feel more than its one join.",
    )
    top_clusters: int = Field(
        default=100, ge=0, le=100_000, description="Biggest clusters listed for `auralith dedup-report`."
    )

    @model_validator(mode="after")
    def _signature_size(self) -> NearDedupConfig:
        if self.num_bands * self.rows_per_band > 1024:
            raise ValueError("num_bands * rows_per_band must be <= 1024 hashes")
        return self

    @property
    def keeps_shingles(self) -> bool:
        """Whether the process stage writes each document's shingle set (for exact verification)."""
        return self.enabled and self.verify and self.verify_on == "shingles"

    def in_rounds(self, ranges: int) -> bool:
        """Whether a job of `ranges` hash ranges finds its clusters in rounds (auralith.pipeline.components)."""
        return ranges > self.join_max_ranges

    @property
    def num_hashes(self) -> int:
        return self.num_bands * self.rows_per_band

    def lsh_threshold(self) -> float:
        """The Jaccard similarity at which a pair becomes a candidate with probability about 1/2."""
        return (1 / self.num_bands) ** (1 / self.rows_per_band)
