"""One unit's output files in every format of `output.format`: safetensors shards and/or a Megatron .bin/.idx
pair, both named after the unit (`part-{index:05d}`), so a rerun overwrites the same files with the same bytes."""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack

import numpy as np

from auralith.config import JobConfig
from auralith.steps.megatron import MegatronWriter
from auralith.steps.shards import ShardWriter
from auralith.storage import Files


class OutputWriter:
    """Writes documents to the formats the job asks for; counts tokens and documents per source."""

    def __init__(self, cfg: JobConfig, files: Files, index: int, dtype: np.dtype):
        ocfg = cfg.output
        prefix = f"part-{index:05d}"
        self._stack = ExitStack()
        self.shards = (
            ShardWriter(
                files,
                ocfg.path,
                prefix,
                dtype=dtype,
                max_shard_bytes=int(ocfg.max_shard_size_mb * 2**20),
                compression=ocfg.compression,
                zstd_level=ocfg.zstd_level,
            )
            if "safetensors" in ocfg.formats
            else None
        )
        self.megatron = (
            self._stack.enter_context(MegatronWriter(files, ocfg.path, prefix, token_dtype=dtype))
            if "megatron" in ocfg.formats
            else None
        )
        self.primary = ocfg.formats[0]
        self.tokens_by_source: Counter[int] = Counter()
        self.documents_by_source: Counter[int] = Counter()

    def add(self, tokens: np.ndarray, source: int, text: str = "", pos: int = 0, language: str | None = None) -> None:
        if self.shards is not None:
            self.shards.add(tokens, language=language)
        if self.megatron is not None:
            self.megatron.add(tokens)
        self.tokens_by_source[source] += len(tokens)
        self.documents_by_source[source] += 1

    def close(self) -> dict:
        """Write what is buffered; the output_ref part: {"shards": [...], "megatron": [...]}."""
        shards = [info.to_dict() for info in self.shards.close()] if self.shards is not None else []
        megatron = self.megatron.close() if self.megatron is not None else None
        self._stack.close()
        return {"shards": shards, "megatron": [megatron.to_dict()] if megatron else []}

    def counts(self, ref: dict) -> dict:
        """The figures a row records of what this writer wrote (`shards`: files of the first format named)."""
        n_files = len(ref["shards"]) if self.primary == "safetensors" else len(ref["megatron"])
        return {
            "shards": n_files,
            "tokens_by_source": {str(s): n for s, n in sorted(self.tokens_by_source.items())},
            "documents_by_source": {str(s): n for s, n in sorted(self.documents_by_source.items())},
        }

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.__exit__(*exc)  # type: ignore[arg-type]
