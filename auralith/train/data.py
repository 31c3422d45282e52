"""Training batches from a job's shards: memory-mapped token streams, windows sampled from the seed.

The shards' `input_ids` (documents with their EOS, back to back) are read as one long token stream. A
batch is `batch_size` windows of `context + 1` tokens at start positions drawn by a generator seeded
with (seed, split, batch number): batch `n` is the same on every run, so the loader's whole position is
the batch counter, and a resumed run picks up at batch `n` without replaying anything. Shards of an
`s3://` manifest are downloaded once (through the job's `Files`) into a local cache folder (as `.zst` ones
are decompressed into it) and memory-mapped from there.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tempfile
from bisect import bisect_right
from pathlib import Path

import numpy as np
import zstandard

from auralith.errors import InputError
from auralith.steps.shards import load_manifest, manifest_file
from auralith.storage import Files, is_url, join
from auralith.storage.local import atomic_write

SAFETENSORS_DTYPES = {"U16": np.uint16, "U32": np.uint32, "I32": np.int32, "I64": np.int64}
SPLITS = {"train": 0, "val": 1}


def memmap_tensor(path: Path, name: str) -> np.ndarray:
    """A read-only memory map of one tensor of a safetensors file: no copy, pages load on demand.

    Hand-written over the documented header (8-byte little-endian length, JSON, raw data) because
    safetensors' numpy loader reads the whole tensor into memory, which a corpus does not fit.
    """
    try:
        with path.open("rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(n))
        info = header[name]
        dtype = SAFETENSORS_DTYPES[info["dtype"]]
        start, end = info["data_offsets"]
    except (KeyError, ValueError) as exc:
        raise InputError(f"not a readable shard (tensor {name!r}): {exc}", file=str(path)) from None
    count = (end - start) // np.dtype(dtype).itemsize
    if count == 0:
        return np.empty(0, dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=8 + n + start, shape=(count,))


def default_cache_dir(root: str | Path) -> Path:
    """Where shards that need a local copy go: `.cache/` beside a local manifest; for an `s3://` one, a
    folder per output URL under the temp dir (`TMPDIR`), kept between runs so each machine downloads once."""
    if not is_url(root):
        return Path(root) / ".cache"
    return Path(tempfile.gettempdir()) / "auralith-shards" / hashlib.sha256(str(root).encode()).hexdigest()[:16]


def local_shard(files: Files, path: str | Path, cache_dir: Path, version: str = "") -> Path:
    """A local, uncompressed safetensors file of a shard, ready to memory-map: a plain local shard is
    itself; a `.zst` one is decompressed, an `s3://` one downloaded (and decompressed), into `cache_dir`
    once and reused. `version` (the manifest's sha256 of the shard) tells a rewritten object from the
    cached copy, without a request per shard."""
    name = str(path).rsplit("/", 1)[-1]
    if is_url(path):
        key = f"{path}:{version}"
    elif name.endswith(".zst"):
        stat = Path(path).stat()
        key = f"{Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    else:
        return Path(path)
    target = cache_dir / f"{name.removesuffix('.zst')}.{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    if not target.exists():
        # Written under a temp name and renamed: two workers filling the cache at once never see half a file.
        with files.open_read(path) as src, atomic_write(target) as dst:
            if name.endswith(".zst"):
                zstandard.ZstdDecompressor().copy_stream(src, dst)
            else:
                shutil.copyfileobj(src, dst, 1 << 20)
    return target


class TokenStream:
    """The token stream of every shard in a manifest (local or `s3://`, read through the job's `files`), read
    through memory maps."""

    def __init__(self, files: Files, manifest_path: str | Path, cache_dir: str | Path | None = None):
        manifest_path = manifest_file(manifest_path)
        root = str(manifest_path).rsplit("/", 1)[0] if is_url(manifest_path) else Path(manifest_path).parent
        try:
            self.manifest = load_manifest(files, manifest_path)
        except FileNotFoundError:
            raise InputError("no manifest.json: did the job's data stages finish?", file=str(manifest_path)) from None
        except ValueError as exc:
            raise InputError(f"manifest is not valid JSON: {exc}", file=str(manifest_path)) from None
        cache = Path(cache_dir) if cache_dir else default_cache_dir(root)
        self.parts = [
            memmap_tensor(local_shard(files, join(root, s["path"]), cache, s.get("sha256", "")), "input_ids")
            for s in self.manifest.get("shards", [])
        ]
        self.parts = [p for p in self.parts if p.size]
        self.offsets = np.cumsum([0] + [p.size for p in self.parts]).tolist()
        tok = self.manifest.get("tokenizer") or {}
        self.vocab_size = int(tok.get("vocab_size") or 0)
        if not self.vocab_size:
            raise InputError("manifest has no tokenizer.vocab_size", file=str(manifest_path))

    def __len__(self) -> int:
        return self.offsets[-1]

    def read(self, start: int, length: int) -> np.ndarray:
        """Tokens [start, start + length) of the stream, across shard boundaries, as int64."""
        out = np.empty(length, dtype=np.int64)
        filled = 0
        part = bisect_right(self.offsets, start) - 1
        while filled < length:
            lo = start + filled - self.offsets[part]
            take = min(length - filled, self.parts[part].size - lo)
            out[filled : filled + take] = self.parts[part][lo : lo + take]
            filled += take
            part += 1
        return out


def min_tokens_to_train(context: int, val_fraction: float, evaluates: bool) -> int:
    """The fewest tokens a manifest can hold for BatchSampler to draw windows of `context + 1` from the train
    split and, when the run evaluates (`eval_every` and `val_fraction`), from the val split."""
    with_val = evaluates and val_fraction > 0
    n = context + 1
    if with_val:
        n = max(n, math.ceil((context + 1) / val_fraction))
    # The samplers' own arithmetic (val = int(n * val_fraction) tokens at the end), stepped past float rounding.
    while n - int(n * val_fraction) <= context or (with_val and int(n * val_fraction) <= context):
        n += 1
    return n


class BatchSampler:
    """Deterministic batches of (inputs, targets) windows; `position` is the number of batches drawn."""

    def __init__(
        self,
        stream: TokenStream,
        context: int,
        batch_size: int,
        seed: int,
        *,
        val_fraction: float = 0.0,
        split: str = "train",
        position: int = 0,
        rank: int = 0,
        world: int = 1,
    ):
        self.stream, self.context, self.batch_size, self.seed = stream, context, batch_size, seed
        self.split, self.position, self.rank, self.world = split, position, rank, world
        n = len(stream)
        val_tokens = int(n * val_fraction)
        # Validation windows come from the end of the stream, training windows from the rest: disjoint.
        self.lo, self.hi = (n - val_tokens, n) if split == "val" else (0, n - val_tokens)
        self.windows = self.hi - self.lo - context  # start positions with context + 1 tokens after them
        if self.windows <= 0:
            raise InputError(
                f"the {split} split has {self.hi - self.lo} tokens, fewer than context + 1 "
                f"({context + 1}): lower training.context or val_fraction, or add data"
            )

    def batch_at(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch number `n`: (inputs, targets), each int64 of shape (batch_size, context). With several ranks,
        global batch `n` is `batch_size * world` windows and rank r takes its r-th slice: 2 ranks of batch B
        train on exactly the windows of 1 rank of batch 2B, step for step."""
        rng = np.random.Generator(np.random.PCG64([self.seed, SPLITS[self.split], n]))
        starts = self.lo + rng.integers(0, self.windows, size=self.batch_size * self.world)
        starts = starts[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
        rows = np.stack([self.stream.read(int(s), self.context + 1) for s in starts])
        return rows[:, :-1], rows[:, 1:]

    def next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        batch = self.batch_at(self.position)
        self.position += 1
        return batch
