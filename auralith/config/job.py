"""The job config: a pydantic v2 model loaded from YAML. Every error names its key path."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from auralith.config.base import StrictModel
from auralith.config.mixing import MixingConfig, OutputFormat, formats_of
from auralith.config.ops import EventsConfig, LimitsConfig
from auralith.config.preprocessing import PreprocessingConfig
from auralith.config.storage import StorageConfig
from auralith.config.tokenization import TokenizationConfig, is_tokenizer_path
from auralith.config.training import TrainingConfig

Priority = Literal["low", "normal", "high", "critical"]


class SourceConfig(StrictModel):
    """One input: a glob (or list of globs) of local files or s3:// objects, or a saved HF dataset folder."""

    path: str | list[str]
    text_field: str = "text"
    id_field: str | None = "id"
    format: Literal["auto", "jsonl", "txt", "parquet", "hf_dataset", "warc", "csv", "tsv", "hf_hub"] = "auto"
    # Mixing (config/mixing.py): this source's share of the output's tokens, and a cap on its tokens.
    weight: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    # format hf_hub only: `path` is the dataset's name on the hub (docs/sources.md#huggingface-hub).
    subset: str | None = None
    split: str = "train"
    streaming: bool = True
    max_samples: int | None = Field(default=None, gt=0)

    @property
    def patterns(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path)

    @model_validator(mode="after")
    def _hub_keys(self) -> SourceConfig:
        if self.format != "hf_hub":
            defaults = {"subset": None, "split": "train", "streaming": True, "max_samples": None}
            used = [k for k, v in defaults.items() if getattr(self, k) != v]
            if used:
                raise ValueError(f"{', '.join(used)}: only for format hf_hub")
        return self

    def reader_options(self) -> dict:
        """What `PieceReader` needs besides the fields: the split to read of a hub dataset."""
        if self.format != "hf_hub":
            return {}
        return {"subset": self.subset, "split": self.split, "streaming": self.streaming}


class OutputConfig(StrictModel):
    path: str = "./out"
    max_shard_size_mb: float = Field(default=256.0, gt=0)
    compression: Literal["none", "zstd"] = "none"
    zstd_level: int = Field(default=3, ge=1, le=22)
    format: OutputFormat | list[OutputFormat] = "safetensors"
    shuffle: bool = False
    shuffle_seed: int = Field(default=0, ge=0, lt=2**63)

    @field_validator("format")
    @classmethod
    def _some_format(cls, v: OutputFormat | list[OutputFormat]) -> OutputFormat | list[OutputFormat]:
        if isinstance(v, list) and not v:
            raise ValueError("name at least one format: safetensors, megatron")
        return v

    @property
    def formats(self) -> list[OutputFormat]:
        return formats_of(self.format)


class JobConfig(StrictModel):
    name: str = Field(default="job", min_length=1, max_length=200)
    sources: list[SourceConfig] = Field(min_length=1)
    # Unset (None): chosen when the job is planned from its input size and the worker processes, at most
    # MAX_PARTITION_MB (pipeline/plan.py, docs/config.md#partitions); 16 MB came from bench/run's curve.
    partition_size_mb: float | None = Field(default=None, gt=0)
    # The last 2 x partition_size_mb of input in quarter-size partitions: stages end evenly (plan.py).
    taper_partitions: bool = True
    work_dir: str = "./work"
    preprocessing: PreprocessingConfig = PreprocessingConfig()
    tokenization: TokenizationConfig
    output: OutputConfig = OutputConfig()
    mixing: MixingConfig = MixingConfig()
    training: TrainingConfig | None = None
    priority: Priority = "normal"
    storage: StorageConfig = StorageConfig()
    events: EventsConfig = EventsConfig()
    limits: LimitsConfig = LimitsConfig()
    base_dir: str | None = Field(
        default=None, description="Directory that relative paths are resolved against; set by the loader."
    )

    @field_validator("sources", mode="before")
    @classmethod
    def _one_source(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _training_reads_safetensors(self) -> JobConfig:
        if self.training is not None and "safetensors" not in self.output.formats:
            raise ValueError("output.format: training reads safetensors shards; add safetensors to output.format")
        return self

    @property
    def mixes(self) -> bool:
        """Whether the output is a chosen share of the data: a budget, a cap or a weight is set."""
        return self.mixing.token_budget is not None or any(
            s.weight is not None or s.max_tokens is not None for s in self.sources
        )

    @property
    def spills(self) -> bool:
        """Whether tokenize writes its tokens to the work folder and a `write` stage makes the output (after
        the mix is decided, or to shuffle across partitions)."""
        return self.mixes or self.output.shuffle

    def resolved(self, base_dir: str | Path | None = None) -> JobConfig:
        """A copy whose local paths are absolute, so workers in other directories find them."""
        base = Path(base_dir or self.base_dir or Path.cwd()).resolve()

        def absolute(p: str) -> str:
            if "://" in p:
                return p
            q = Path(p).expanduser()
            return str(q if q.is_absolute() else base / q)

        data = self.model_dump()
        for src in data["sources"]:
            if src["format"] == "hf_hub":  # names on the hub, not paths
                continue
            src["path"] = [absolute(p) for p in ([src["path"]] if isinstance(src["path"], str) else src["path"])]
        data["work_dir"] = absolute(self.work_dir)
        url_filter = data["preprocessing"]["url_filter"]
        for key in ("block_domain_files", "block_substring_files"):
            url_filter[key] = [absolute(p) for p in url_filter[key]]
        data["output"]["path"] = absolute(self.output.path)
        tok = self.tokenization.tokenizer
        if is_tokenizer_path(tok, base):
            data["tokenization"]["tokenizer"] = absolute(tok)
        data["base_dir"] = str(base)
        return JobConfig.model_validate(data)

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the config, so two jobs with the same settings share it."""
        payload = json.dumps(self.model_dump(mode="json", exclude={"base_dir"}), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()
