"""Tokenizer loading (offline only), EOS and dtype resolution, and tiny BPE training."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from auralith.config.tokenization import TokenizationConfig, is_tokenizer_path
from auralith.errors import ConfigError, TokenizerNotFound

# Tried in order when tokenization.eos_token is not set: GPT-2/Llama-3, Llama/T5, Gemma, BERT, Llama-3 base.
EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "[SEP]", "<|end_of_text|>")
TRAIN_HINT = "auralith tokenizer train CONFIG --vocab-size N --out tokenizer.json"

# (resolved path, mtime_ns) -> Tokenizer: a worker process loads each tokenizer file once, and reloads
# it if the file is replaced.
_LOADED: dict[tuple[str, int], Tokenizer] = {}


def hf_cache_dir() -> Path:
    """The HuggingFace hub cache directory, resolved from the environment the way huggingface_hub does."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path("~/.cache/huggingface/hub").expanduser()


def _find_in_hf_cache(name: str) -> tuple[Path | None, Path]:
    """(tokenizer.json path or None, repo dir searched). Prefers the snapshot that refs/main points at."""
    repo_dir = hf_cache_dir() / ("models--" + name.replace("/", "--"))
    snapshots = repo_dir / "snapshots"
    ref = repo_dir / "refs" / "main"
    if ref.is_file():
        candidate = snapshots / ref.read_text().strip() / "tokenizer.json"
        if candidate.is_file():
            return candidate, repo_dir
    if snapshots.is_dir():
        # No usable ref: the newest snapshot with a tokenizer.json (name breaks ties, for determinism).
        found = [p for p in snapshots.glob("*/tokenizer.json") if p.is_file()]
        if found:
            return max(found, key=lambda p: (p.stat().st_mtime_ns, p.parent.name)), repo_dir
    return None, repo_dir


def _load_file(path: Path) -> Tokenizer:
    resolved = path.resolve()
    key = (str(resolved), resolved.stat().st_mtime_ns)
    tok = _LOADED.get(key)
    if tok is None:
        try:
            tok = Tokenizer.from_file(str(resolved))
        except Exception as exc:  # tokenizers raises a bare Exception on malformed JSON
            raise ConfigError([f"tokenization.tokenizer: cannot load {resolved}: {exc}"]) from None
        _LOADED[key] = tok
    return tok


def load_tokenizer(spec: str) -> Tokenizer:
    """Load a tokenizer from a tokenizer.json path, or a HuggingFace name found in the local cache.

    Never downloads. Raises TokenizerNotFound for a missing path or a name absent from the cache.
    Returned objects are shared per process: do not mutate them beyond disabling truncation/padding.
    """
    path = Path(spec).expanduser()
    if path.is_file():
        return _load_file(path)
    if path.is_dir() and (path / "tokenizer.json").is_file():
        return _load_file(path / "tokenizer.json")
    if is_tokenizer_path(spec):
        raise TokenizerNotFound(f"tokenizer file not found: {path}")
    found, searched = _find_in_hf_cache(spec)
    if found is None:
        raise TokenizerNotFound(
            f"tokenizer {spec!r} is not in the local HuggingFace cache (searched {searched}). "
            "Auralith loads tokenizers offline and never downloads them. Pass the path of a "
            f"tokenizer.json, or create one with `{TRAIN_HINT}`."
        )
    return _load_file(found)


def tokenizer_hash(tok: Tokenizer) -> str:
    """sha256 of the tokenizer's canonical JSON: identifies the exact vocabulary and merges used."""
    return hashlib.sha256(tok.to_str().encode("utf-8")).hexdigest()


def resolve_eos_id(tok: Tokenizer, eos_token: str | None) -> int:
    """The id of `eos_token`, or of the first well-known EOS token in the vocabulary when it is None."""
    if eos_token is not None:
        eos_id = tok.token_to_id(eos_token)
        if eos_id is None:
            raise ConfigError([f"tokenization.eos_token: token {eos_token!r} is not in the tokenizer's vocabulary"])
        return eos_id
    for candidate in EOS_CANDIDATES:
        eos_id = tok.token_to_id(candidate)
        if eos_id is not None:
            return eos_id
    raise ConfigError(
        [
            "tokenization.eos_token: the tokenizer has none of the usual EOS tokens "
            f"({', '.join(EOS_CANDIDATES)}); set tokenization.eos_token, or append_eos: false"
        ]
    )


def check_tokenizer(cfg: TokenizationConfig) -> Tokenizer:
    """Load the configured tokenizer and resolve its EOS token and dtype, raising what a job would hit."""
    tok = load_tokenizer(cfg.tokenizer)
    if cfg.append_eos:
        resolve_eos_id(tok, cfg.eos_token)
    token_dtype(tok.get_vocab_size(with_added_tokens=True), cfg.dtype)
    return tok


def token_dtype(vocab_size: int, dtype: str) -> np.dtype:
    """The shard dtype for token ids: "auto" picks uint16 when every id fits, else uint32."""
    if dtype == "auto":
        return np.dtype(np.uint16 if vocab_size <= 65536 else np.uint32)
    if dtype == "uint16":
        if vocab_size > 65536:
            raise ConfigError(
                [f"tokenization.dtype: uint16 cannot hold ids of a {vocab_size}-token vocabulary; use uint32 or auto"]
            )
        return np.dtype(np.uint16)
    if dtype == "uint32":
        return np.dtype(np.uint32)
    raise ConfigError([f"tokenization.dtype: unknown dtype {dtype!r}; expected auto, uint16 or uint32"])


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int, *, min_frequency: int = 2) -> Tokenizer:
    """Train a byte-level BPE tokenizer; decode(encode(text)) gives back any text exactly.

    `<|endoftext|>` is the only special token (id 0), so resolve_eos_id finds it with no config.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok
