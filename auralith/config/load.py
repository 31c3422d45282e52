"""Loading a job config from YAML or a mapping: every error a `key.path: message` line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from auralith.config.job import JobConfig
from auralith.errors import ConfigError


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
    return parse_config_text(text, str(path), base_dir=path.resolve().parent)


def parse_config_text(text: str, source: str | None = None, base_dir: str | Path | None = None) -> JobConfig:
    """A config from YAML (or JSON, which YAML reads too) text: a YAML error names its line and column."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([f"{where}invalid YAML: {getattr(exc, 'problem', exc)}"], source) from None
    return parse_config(data, source, base_dir=base_dir)
