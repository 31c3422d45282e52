"""`tokenization`: which tokenizer, and how documents become token arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from auralith.config.base import StrictModel


class TokenizationConfig(StrictModel):
    tokenizer: str
    append_eos: bool = True
    eos_token: str | None = None
    max_length: int | None = Field(default=None, gt=0)
    dtype: Literal["auto", "uint16", "uint32"] = "auto"
    batch_size: int = Field(default=512, gt=0)
    # auto: fastokens where it loads the tokenizer and agrees with `tokenizers` on the checked documents.
    encoder: Literal["auto", "tokenizers"] = "auto"
    verify_every: int = Field(default=64, gt=0)


def is_tokenizer_path(spec: str, base_dir: str | Path | None = None) -> bool:
    """The one rule for a `tokenizer` value: a path (a tokenizer.json, or a folder holding one) rather than a
    HuggingFace name. Path-like spellings always are; a bare name is a path only if it exists beside the config
    (`tokenizer: tokdir`), so `gpt2` stays a hub name unless a `gpt2` folder is there."""
    if spec.endswith(".json") or spec.startswith(("/", ".", "~")):
        return True
    return base_dir is not None and (Path(base_dir) / spec).exists()
