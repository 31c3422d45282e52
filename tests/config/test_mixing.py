"""`output.format`, `output.shuffle`, `mixing` and the sources' `weight` / `max_tokens`."""

from __future__ import annotations

import pytest

from auralith.config import parse_config
from auralith.errors import ConfigError


def _cfg(**extra):
    return parse_config({"sources": {"path": "x"}, "tokenization": {"tokenizer": "t.json"}, **extra})


def test_defaults_write_shards_and_add_no_stage():
    cfg = _cfg()
    assert cfg.output.formats == ["safetensors"] and not cfg.mixes and not cfg.spills


def test_formats_one_or_several():
    assert _cfg(output={"format": "megatron"}).output.formats == ["megatron"]
    assert _cfg(output={"format": ["megatron", "safetensors", "megatron"]}).output.formats == [
        "megatron",
        "safetensors",
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"output": {"format": []}}, "output.format: name at least one format"),
        ({"output": {"format": "parquet"}}, "output.format"),
        ({"sources": {"path": "x", "weight": 0}}, "sources.0.weight"),
        ({"mixing": {"token_budget": 0}}, "mixing.token_budget"),
        ({"output": {"format": "megatron"}, "training": {}}, "training reads safetensors shards"),
    ],
)
def test_bad_values_name_their_key(extra, message):
    with pytest.raises(ConfigError) as caught:
        _cfg(**extra)
    assert message in str(caught.value)


def test_what_turns_mixing_and_the_write_stage_on():
    assert _cfg(mixing={"token_budget": 10}).mixes
    assert _cfg(sources={"path": "x", "max_tokens": 5}).mixes
    assert _cfg(sources=[{"path": "x", "weight": 2}, {"path": "y"}]).mixes
    shuffled = _cfg(output={"shuffle": True})
    assert shuffled.spills and not shuffled.mixes
