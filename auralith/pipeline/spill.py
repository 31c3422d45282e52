"""Tokens set aside in the work folder, for a job whose output is mixed or shuffled (`JobConfig.spills`).

Tokenize then writes each partition's documents here instead of the output, grouped by the `write` unit that
will read them, plus a histogram of tokens per source and sample bucket for the mix decision
(auralith.pipeline.mix). Each `write` unit reads one byte range of each spill (auralith.pipeline.write_output):
O(number of partitions) reads of 1/n of each, so no task holds more than about one partition.

Per tokenize partition i, under `work/<job>/spill/`:

    {i:05d}.bin         the tokens, documents in (out, key, pos) order (pos: in the partition's clean file)
    {i:05d}.meta        one META record per document, in the same order
    {i:05d}.bounds.npy  (2, n_out + 1) int64: first document and first byte of each out unit
    {i:05d}.hist.npy    (sources, SAMPLE_BUCKETS) int64: tokens per source and sample bucket

A document's sample bucket is the top bits of a seeded hash of its text (`mixing.seed`), so the mix picks a
document or not by its content alone: a re-run, a resume or another partitioning picks the same ones. With
`output.shuffle`, its out unit and its place there come from another seeded hash of its text
(`output.shuffle_seed`), ties broken by (partition, position): the same order on every run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xxhash

from auralith.config import JobConfig
from auralith.pipeline.paths import WorkPaths
from auralith.storage import Files, join
from auralith.storage.npy import load_npy, save_npy

# 4096 buckets: a source's budget is met to within 1/4096 of its tokens (one bucket's worth), never over.
SAMPLE_BITS = 12
SAMPLE_BUCKETS = 1 << SAMPLE_BITS
META = np.dtype(
    [("length", "<i8"), ("source", "<i4"), ("sample", "<u2"), ("out", "<u4"), ("key", "<u8"), ("pos", "<i8")]
)
_SHUFFLE_SALT = b"auralith-shuffle\0"  # another hash than the sample's, so the two never correlate


def spill_path(paths: WorkPaths, index: int, kind: str) -> Path | str:
    return join(paths.root, "spill", f"{index:05d}.{kind}")


def sample_bucket(text: str, seed: int) -> int:
    return xxhash.xxh3_64_intdigest(text.encode("utf-8"), seed=seed) >> (64 - SAMPLE_BITS)


class SpillWriter:
    """Collects one tokenize partition's documents and writes its spill files on `close()`.

    Holds the partition's tokens in memory (a partition is ~16 MB of text), to write them grouped by out unit.
    """

    def __init__(self, cfg: JobConfig, paths: WorkPaths, index: int, n_out: int, dtype: np.dtype):
        self.paths, self.index, self.dtype = paths, index, np.dtype(dtype)
        self.n_out = n_out if cfg.output.shuffle else 1
        self.shuffle, self.shuffle_seed, self.mix_seed = cfg.output.shuffle, cfg.output.shuffle_seed, cfg.mixing.seed
        self.hist = np.zeros((len(cfg.sources), SAMPLE_BUCKETS), dtype=np.int64)
        self._docs: list[np.ndarray] = []
        self._meta: list[tuple[int, int, int, int, int, int]] = []

    def add(self, tokens: np.ndarray, source: int, text: str, pos: int, language: str | None = None) -> None:
        """One document; `pos` is its position in the partition's clean file (increasing). `language` is not kept:
        the `write` stage's shards carry no per-shard language figures (the job's totals come from tokenize)."""
        sample = sample_bucket(text, self.mix_seed)
        out, key = 0, pos
        if self.shuffle:
            key = xxhash.xxh3_64_intdigest(_SHUFFLE_SALT + text.encode("utf-8"), seed=self.shuffle_seed)
            out = key % self.n_out
        self._docs.append(np.asarray(tokens, dtype=self.dtype))
        self._meta.append((len(tokens), source, sample, out, key, pos))
        self.hist[source, sample] += len(tokens)

    def close(self) -> dict:
        """Write the four files (each atomically; the bounds last of the three a reader needs); the output_ref."""
        files = self.paths.files
        meta = np.array(self._meta, dtype=META)
        order = np.lexsort((meta["pos"], meta["key"], meta["out"]))
        meta = meta[order]
        with files.atomic_write(spill_path(self.paths, self.index, "bin")) as fh:
            for i in order.tolist():
                fh.write(self._docs[i].astype(self.dtype.newbyteorder("<"), copy=False).tobytes())
        with files.atomic_write(spill_path(self.paths, self.index, "meta")) as fh:
            fh.write(meta.tobytes())
        first_doc = np.searchsorted(meta["out"], np.arange(self.n_out + 1), side="left").astype(np.int64)
        byte_at = np.zeros(len(meta) + 1, dtype=np.int64)
        np.cumsum(meta["length"] * self.dtype.itemsize, out=byte_at[1:])
        save_npy(files, spill_path(self.paths, self.index, "hist.npy"), self.hist)
        save_npy(files, spill_path(self.paths, self.index, "bounds.npy"), np.stack([first_doc, byte_at[first_doc]]))
        return {"spill": {"documents": len(meta), "tokens": int(meta["length"].sum()), "dtype": self.dtype.name}}


def read_spill_unit(
    files: Files, paths: WorkPaths, index: int, out: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """(META records, their tokens concatenated) of out unit `out` in partition `index`'s spill: two ranged reads."""
    bounds = load_npy(files, spill_path(paths, index, "bounds.npy"))
    d0, d1 = int(bounds[0, out]), int(bounds[0, out + 1])
    b0, b1 = int(bounds[1, out]), int(bounds[1, out + 1])
    if d1 == d0:
        return np.zeros(0, dtype=META), np.zeros(0, dtype=dtype)
    with files.open_read(spill_path(paths, index, "meta"), d0 * META.itemsize, d1 * META.itemsize) as fh:
        meta = np.frombuffer(fh.read((d1 - d0) * META.itemsize), dtype=META)
    with files.open_read(spill_path(paths, index, "bin"), b0, b1) as fh:
        tokens = np.frombuffer(fh.read(b1 - b0), dtype=np.dtype(dtype).newbyteorder("<"))
    return meta, tokens


def read_histogram(files: Files, paths: WorkPaths, index: int) -> np.ndarray:
    return load_npy(files, spill_path(paths, index, "hist.npy"))
