"""Token shards: safetensors files of packed documents (`input_ids` + `doc_offsets`), and the manifest.

A shard holds `input_ids` (1-D uint16/uint32, every document's tokens concatenated, EOS included when on)
and `doc_offsets` (1-D int64, n_docs + 1 entries: document i is input_ids[off[i]:off[i+1]]). Its metadata
is {"format": "auralith-shard/1", "n_docs", "n_tokens"}. With zstd the whole file is compressed and named
`*.safetensors.zst`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import zstandard
from safetensors.numpy import load as st_load
from safetensors.numpy import load_file as st_load_file
from safetensors.numpy import save as st_save

from auralith.errors import InputError
from auralith.storage import Files, is_url, join

SHARD_FORMAT = "auralith-shard/1"
MANIFEST_NAME = "manifest.json"
Compression = Literal["none", "zstd"]


def tensor_sha256(arr: np.ndarray) -> str:
    """sha256 of the array's raw little-endian C-order bytes: the same tensor hashes the same in any file."""
    arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    return hashlib.sha256(arr.data.cast("B")).hexdigest()


@dataclass
class ShardInfo:
    """What the manifest records about one shard. `path` is the file name, relative to the output dir."""

    path: str
    n_docs: int
    n_tokens: int
    dtype: str
    compression: str
    bytes: int
    sha256: str
    tensors: dict[str, str] = field(default_factory=dict)
    # language -> {"documents": n, "tokens": n} of the shard's documents, when the job identified languages
    languages: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        if not self.languages:  # manifests of jobs without language identification stay as they were
            del data["languages"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ShardInfo:
        return cls(**{**data, "tensors": dict(data.get("tensors", {})), "languages": dict(data.get("languages", {}))})


class ShardWriter:
    """Packs documents into shards of at most `max_shard_bytes` of tokens, written under `out_dir` through the
    job's `files`; never splits a document.

    The limit counts token bytes only (tokens * itemsize), not offsets or the header. A document larger
    than the limit gets a shard of its own. Call `close()` to write the last shard and get every ShardInfo.
    """

    def __init__(
        self,
        files: Files,
        out_dir: str | Path,
        prefix: str,
        *,
        dtype: np.dtype | str,
        max_shard_bytes: int,
        compression: Compression = "none",
        zstd_level: int = 3,
    ):
        if compression not in ("none", "zstd"):
            raise ValueError(f"unknown compression {compression!r}")
        if max_shard_bytes <= 0:
            raise ValueError("max_shard_bytes must be positive")
        self.files = files
        self.out_dir = out_dir if is_url(out_dir) else Path(out_dir)
        self.prefix = prefix
        self.dtype = np.dtype(dtype)
        self.max_shard_bytes = max_shard_bytes
        self.compression = compression
        self.zstd_level = zstd_level
        self._docs: list[np.ndarray] = []
        self._n_tokens = 0
        self._shards: list[ShardInfo] = []
        self._languages: dict[str, dict[str, int]] = {}
        self._closed = False

    def add(self, doc_tokens: np.ndarray, language: str | None = None) -> None:
        """Buffer one document; writes the current shard first if this one would push it over the limit.

        `language` (the document's, when identified) is counted in the shard's `languages`.
        """
        if self._closed:
            raise RuntimeError("ShardWriter is closed")
        doc = self._as_dtype(np.asarray(doc_tokens))
        if self._docs and (self._n_tokens + doc.size) * self.dtype.itemsize > self.max_shard_bytes:
            self._flush()
        self._docs.append(doc)
        self._n_tokens += doc.size
        if language is not None:
            per = self._languages.setdefault(language, {"documents": 0, "tokens": 0})
            per["documents"] += 1
            per["tokens"] += int(doc.size)

    @property
    def shards(self) -> list[ShardInfo]:
        """The shards written so far."""
        return list(self._shards)

    def close(self) -> list[ShardInfo]:
        """Write what is buffered (no empty shard) and return every shard written, in order."""
        if not self._closed:
            if self._docs:
                self._flush()
            self._closed = True
        return list(self._shards)

    def _as_dtype(self, doc: np.ndarray) -> np.ndarray:
        if doc.ndim != 1:
            raise ValueError(f"a document must be a 1-D token array, got shape {doc.shape}")
        if doc.dtype == self.dtype:
            return doc
        # A silent wrap-around would corrupt the data, so check the range before narrowing.
        if doc.size and (doc.min() < 0 or doc.max() > np.iinfo(self.dtype).max):
            raise ValueError(f"token ids out of range for {self.dtype}")
        return doc.astype(self.dtype)

    def _flush(self) -> None:
        lengths = np.fromiter((d.size for d in self._docs), dtype=np.int64, count=len(self._docs))
        offsets = np.zeros(len(self._docs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        input_ids = np.concatenate(self._docs) if self._docs else np.empty(0, self.dtype)
        tensors = {"input_ids": input_ids, "doc_offsets": offsets}
        metadata = {"format": SHARD_FORMAT, "n_docs": str(len(self._docs)), "n_tokens": str(input_ids.size)}
        data = _sorted_header(st_save(tensors, metadata=metadata))
        name = f"{self.prefix}-{len(self._shards):05d}.safetensors"
        if self.compression == "zstd":
            data = zstandard.ZstdCompressor(level=self.zstd_level).compress(data)
            name += ".zst"
        with self.files.atomic_write(join(self.out_dir, name)) as fh:
            fh.write(data)
        self._shards.append(
            ShardInfo(
                path=name,
                n_docs=len(self._docs),
                n_tokens=int(input_ids.size),
                dtype=self.dtype.name,
                compression=self.compression,
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                tensors={k: tensor_sha256(v) for k, v in tensors.items()},
                languages=dict(sorted(self._languages.items())),
            )
        )
        self._docs = []
        self._n_tokens = 0
        self._languages = {}


def _sorted_header(data: bytes) -> bytes:
    """The file with its JSON header's keys sorted: safetensors writes metadata in hash-map order, which
    changes from call to call, and a rerun must write the same bytes. Same length, so no offset moves."""
    n = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8 : 8 + n]), sort_keys=True, separators=(",", ":")).encode()
    return data[:8] + header.ljust(n) + data[8 + n :] if len(header) <= n else data


def read_shard(files: Files, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, doc_offsets) of a shard (a local path or an s3:// URL, read whole into memory); a `.zst`
    file is decompressed in memory."""
    if is_url(path):
        data = files.read_bytes(path)
        try:
            if str(path).endswith(".zst"):
                data = zstandard.ZstdDecompressor().stream_reader(data).read()
            tensors = st_load(data)
        except Exception as exc:  # safetensors and zstandard errors: the object is not a valid shard
            raise InputError(f"not a readable shard: {exc}", file=str(path)) from None
        return _check_shard(tensors, str(path))
    path = Path(path)
    try:
        if path.name.endswith(".zst"):
            # stream_reader, unlike decompress(), also accepts frames that do not record their size.
            with path.open("rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh) as reader:
                tensors = st_load(reader.read())
        else:
            tensors = st_load_file(str(path))
    except OSError:
        raise
    except Exception as exc:  # safetensors and zstandard errors: the file is not a valid shard
        raise InputError(f"not a readable shard: {exc}", file=str(path)) from None
    return _check_shard(tensors, str(path))


def _check_shard(tensors: dict[str, np.ndarray], path: str) -> tuple[np.ndarray, np.ndarray]:
    missing = {"input_ids", "doc_offsets"} - tensors.keys()
    if missing:
        raise InputError(f"not an auralith shard: missing tensor(s) {', '.join(sorted(missing))}", file=path)
    return tensors["input_ids"], tensors["doc_offsets"]


def iter_shard_documents(files: Files, path: str | Path) -> Iterator[np.ndarray]:
    """Each document's tokens (EOS included), in order, as views into the shard's input_ids."""
    input_ids, offsets = read_shard(files, path)
    for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
        yield input_ids[start:end]


def write_manifest(files: Files, out_dir: str | Path, manifest: dict) -> Path | str:
    """Write `manifest.json` atomically. Call it last: its presence means every shard it lists is complete."""
    path = join(out_dir, MANIFEST_NAME)
    with files.atomic_write(path) as fh:
        fh.write((json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return path


def manifest_file(path: str | Path) -> str | Path:
    """The manifest a `--shards` argument names: the file itself, or `manifest.json` in the folder given
    (local or `s3://`). Only a local path is looked at (is it a folder?); a URL is told by its name."""
    if is_url(path):
        return path if str(path).endswith(".json") else join(path, MANIFEST_NAME)
    path = Path(path)
    return path / MANIFEST_NAME if path.is_dir() else path


def load_manifest(files: Files, path: str | Path) -> dict:
    """Read a manifest, given its file or the output directory that holds it (local or s3://)."""
    return json.loads(files.read_bytes(manifest_file(path)))
