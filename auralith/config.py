"""The job config: a pydantic v2 model loaded from YAML. Every error names its key path."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auralith.errors import ConfigError
from auralith.monitoring.ops_config import EventsConfig, LimitsConfig
from auralith.steps.minhash import NearDedupConfig
from auralith.steps.quality_config import PIIConfig, QualityConfig
from auralith.storage.settings import StorageConfig
from auralith.train.config import TrainingConfig

Priority = Literal["low", "normal", "high", "critical"]


class _Strict(BaseModel):
    # Unknown keys are errors: a typo in a threshold must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid")


class SourceConfig(_Strict):
    """One input: a glob (or list of globs) of local files or s3:// objects, or a saved HF dataset folder."""

    path: str | list[str]
    text_field: str = "text"
    id_field: str | None = "id"
    format: Literal["auto", "jsonl", "txt", "parquet", "hf_dataset"] = "auto"

    @property
    def patterns(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path)


class NormalizeConfig(_Strict):
    unicode: Literal["NFC", "NFKC", "none"] = "NFC"
    whitespace: bool = True


class LengthConfig(_Strict):
    min_chars: int = Field(default=1, ge=0)
    max_chars: int | None = Field(default=1_000_000, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> LengthConfig:
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError("max_chars must be >= min_chars")
        return self


class PreprocessingConfig(_Strict):
    normalize: NormalizeConfig = NormalizeConfig()
    length: LengthConfig = LengthConfig()
    exact_dedup: bool = True
    near_dedup: NearDedupConfig = NearDedupConfig()
    keep_removed: bool = False
    quality: QualityConfig = QualityConfig()
    pii: PIIConfig = PIIConfig()


class TokenizationConfig(_Strict):
    tokenizer: str
    append_eos: bool = True
    eos_token: str | None = None
    max_length: int | None = Field(default=None, gt=0)
    dtype: Literal["auto", "uint16", "uint32"] = "auto"
    batch_size: int = Field(default=512, gt=0)


class OutputConfig(_Strict):
    path: str = "./out"
    max_shard_size_mb: float = Field(default=256.0, gt=0)
    compression: Literal["none", "zstd"] = "none"
    zstd_level: int = Field(default=3, ge=1, le=22)


class JobConfig(_Strict):
    name: str = Field(default="job", min_length=1, max_length=200)
    sources: list[SourceConfig] = Field(min_length=1)
    # 16 MB: picked from bench/run's partition-size curve (docs/performance.md#partition-size).
    partition_size_mb: float = Field(default=16.0, gt=0)
    # The last 2 x partition_size_mb of input in quarter-size partitions: stages end evenly (plan.py).
    taper_partitions: bool = True
    work_dir: str = "./work"
    preprocessing: PreprocessingConfig = PreprocessingConfig()
    tokenization: TokenizationConfig
    output: OutputConfig = OutputConfig()
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
            src["path"] = [absolute(p) for p in ([src["path"]] if isinstance(src["path"], str) else src["path"])]
        data["work_dir"] = absolute(self.work_dir)
        data["output"]["path"] = absolute(self.output.path)
        tok = self.tokenization.tokenizer
        # A bare name like "gpt2" is a HuggingFace name; anything path-like is resolved.
        if tok.endswith(".json") or "/" in tok and (base / tok).exists():
            data["tokenization"]["tokenizer"] = absolute(tok)
        data["base_dir"] = str(base)
        return JobConfig.model_validate(data)

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the config, so two jobs with the same settings share it."""
        payload = json.dumps(self.model_dump(mode="json", exclude={"base_dir"}), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


def format_validation_error(exc: ValidationError) -> list[str]:
    """One `key.path: message` line per pydantic error."""
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{path}: {msg}")
    return lines


def parse_config(data: Any, source: str | None = None, base_dir: str | Path | None = None) -> JobConfig:
    """Validate a config mapping; raise ConfigError listing every problem by key path."""
    if not isinstance(data, dict):
        raise ConfigError(["(top level): expected a mapping of keys to values"], source)
    try:
        cfg = JobConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc), source) from None
    return cfg.resolved(base_dir) if base_dir is not None else cfg


def load_config(path: str | Path) -> JobConfig:
    """Load a YAML job config; relative paths in it are resolved against the file's directory."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"file not found: {path}"], str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read: {exc}"], str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([f"{where}invalid YAML: {getattr(exc, 'problem', exc)}"], str(path)) from None
    return parse_config(data, str(path), base_dir=path.resolve().parent)
