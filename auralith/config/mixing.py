"""`mixing`, `sources[].weight` / `max_tokens` and `output.format` / `shuffle`: what share of each source the
output holds, and the files it is written as."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from auralith.config.base import StrictModel

OutputFormat = Literal["safetensors", "megatron"]


class MixingConfig(StrictModel):
    """The job's token budget and the seed that picks which documents fill it.

    A document is picked by a hash of its text and `seed` alone, so a re-run or a resumed job picks the same
    documents however the input was partitioned."""

    token_budget: int | None = Field(default=None, gt=0)
    seed: int = Field(default=0, ge=0, lt=2**63)


def formats_of(value: OutputFormat | list[OutputFormat]) -> list[OutputFormat]:
    """`output.format` as a list without repeats, in the order given."""
    return list(dict.fromkeys([value] if isinstance(value, str) else value))
