"""Megatron-LM's indexed dataset (`PREFIX.bin` + `PREFIX.idx`): the files megatron-core's `IndexedDataset`
reads, as Megatron-LM, NeMo and Megatron-DeepSpeed load them (`--data-path PREFIX`).

Written here rather than with megatron-core's `IndexedDatasetBuilder`: that needs torch (only `train/` may
import it), writes with a local `open()` (not through the job's storage, so not to s3:// and not atomically),
and the layout is small and fixed (megatron/core/datasets/indexed_dataset.py, `_IndexWriter`):

    .idx  b"MMIDIDX\\x00\\x00" | <Q version 1 | <B dtype code | <Q sequence count | <Q document count
          | int32 sequence lengths | int64 byte offsets into .bin | int64 document indices (0, 1, ..., n)
    .bin  every sequence's tokens, concatenated, in the dtype of the code

One document is one sequence (as Megatron-LM's tools/preprocess_data.py writes it without --split-sentences).
tests/steps/test_megatron.py reads these files with megatron-core itself and compares them byte for byte
with its builder's.
"""

from __future__ import annotations

import hashlib
import struct
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from auralith.storage import Files, join

INDEX_HEADER = b"MMIDIDX\x00\x00"
# megatron.core.datasets.indexed_dataset.DType: the codes of the dtypes a token file may have.
DTYPE_CODES = {"uint8": 1, "int8": 2, "int16": 3, "int32": 4, "int64": 5, "float64": 6, "float32": 7, "uint16": 8}


def megatron_dtype(token_dtype: np.dtype | str) -> np.dtype:
    """The .bin dtype for shards of `token_dtype`: Megatron has no uint32, so wider ids are int32 (its own choice
    for vocabularies past 65500: `DType.optimal_dtype`)."""
    return np.dtype(np.uint16) if np.dtype(token_dtype) == np.uint16 else np.dtype(np.int32)


def index_bytes(lengths: np.ndarray, dtype: np.dtype) -> bytes:
    """The whole .idx file for sequences of these lengths (one document each)."""
    dtype = np.dtype(dtype)
    lengths = np.asarray(lengths, dtype=np.int64)
    pointers = np.zeros(len(lengths), dtype="<i8")
    if len(lengths):
        np.cumsum(lengths[:-1] * dtype.itemsize, out=pointers[1:])
    documents = np.arange(len(lengths) + 1, dtype="<i8")
    return b"".join(
        (
            INDEX_HEADER,
            struct.pack("<Q", 1),
            struct.pack("<B", DTYPE_CODES[dtype.name]),
            struct.pack("<Q", len(lengths)),
            struct.pack("<Q", len(documents)),
            lengths.astype("<i4").tobytes(),
            pointers.tobytes(),
            documents.tobytes(),
        )
    )


@dataclass
class MegatronInfo:
    """What the manifest records of one .bin/.idx pair; `prefix` is relative to the output folder."""

    prefix: str
    n_docs: int
    n_tokens: int
    dtype: str
    bin_sha256: str
    idx_sha256: str

    def to_dict(self) -> dict:
        return asdict(self)


class MegatronWriter:
    """Streams documents into `out_dir/prefix.bin`, then writes `prefix.idx` on `close()`, each atomically (a
    rerun rewrites the same bytes). No document: no files (Megatron cannot load an empty dataset)."""

    def __init__(self, files: Files, out_dir: str | Path, prefix: str, *, token_dtype: np.dtype | str):
        self.files, self.out_dir, self.prefix = files, out_dir, prefix
        self.dtype = megatron_dtype(token_dtype)
        self._lengths: list[int] = []
        self._hash = hashlib.sha256()
        self._stack = ExitStack()
        self._bin: BinaryIO | None = None

    def add(self, tokens: np.ndarray) -> None:
        if self._bin is None:
            self._bin = self._stack.enter_context(self.files.atomic_write(join(self.out_dir, self.prefix + ".bin")))
        data = np.ascontiguousarray(tokens, dtype=self.dtype.newbyteorder("<")).tobytes()
        self._bin.write(data)
        self._hash.update(data)
        self._lengths.append(len(tokens))

    def close(self) -> MegatronInfo | None:
        """Finish the .bin, then write the .idx; None when no document came."""
        self._stack.close()  # renames the .bin into place
        if self._bin is None:
            return None
        idx = index_bytes(np.array(self._lengths, dtype=np.int64), self.dtype)
        self.files.write_bytes_atomic(join(self.out_dir, self.prefix + ".idx"), idx)
        return MegatronInfo(
            prefix=self.prefix,
            n_docs=len(self._lengths),
            n_tokens=int(sum(self._lengths)),
            dtype=self.dtype.name,
            bin_sha256=self._hash.hexdigest(),
            idx_sha256=hashlib.sha256(idx).hexdigest(),
        )

    def __enter__(self) -> MegatronWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        """On an error, the temp .bin is deleted (nothing renamed); call `close()` on success."""
        self._stack.__exit__(*exc)  # type: ignore[arg-type]


def read_megatron(files: Files, prefix: str | Path) -> list[np.ndarray]:
    """Every document of a .bin/.idx pair (for checks and tests; trainers use megatron-core)."""
    idx = files.read_bytes(f"{prefix}.idx")
    if idx[:9] != INDEX_HEADER:
        raise ValueError(f"{prefix}.idx: not a Megatron index (header {idx[:9]!r})")
    code = idx[17]
    dtype = np.dtype({v: k for k, v in DTYPE_CODES.items()}[code])
    n_seq, n_docs = struct.unpack("<QQ", idx[18:34])
    lengths = np.frombuffer(idx, dtype="<i4", count=n_seq, offset=34)
    pointers = np.frombuffer(idx, dtype="<i8", count=n_seq, offset=34 + 4 * n_seq)
    data = np.frombuffer(files.read_bytes(f"{prefix}.bin"), dtype=dtype.newbyteorder("<"))
    return [data[p // dtype.itemsize : p // dtype.itemsize + n] for p, n in zip(pointers, lengths, strict=True)]
