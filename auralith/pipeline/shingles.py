"""Each kept document's shingle set, kept by the process stage so that near-duplicate candidates are confirmed
by their exact Jaccard, not by the signature's estimate.

    process partition i -> minhash/shingles/i.u32 (every document's sorted distinct values, one after another)
                           minhash/shingles/i.off.npy (n + 1 offsets into it, in values)

Why keep the sets rather than re-read the candidates' texts: the clean files are zstd streams, so reaching
one document means decompressing its partition up to it, and candidates are spread over every partition.
The sets cost 4 bytes a distinct shingle on disk (about 0.5x the text (measured)) and nothing in memory: a verifying
task reads only its candidates' sets (a memory map locally, one ranged read per document on S3).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence

import numpy as np

from auralith.pipeline.paths import WorkPaths
from auralith.steps.minhash import exact_jaccard, shingle_set
from auralith.storage import is_url
from auralith.storage.npy import load_npy, save_npy

_DTYPE = np.dtype("<u4")


class ShingleWriter:
    """Streams one partition's shingle sets to a local spool file (a partition's sets may not fit in memory)
    and publishes it atomically at `close()`."""

    def __init__(self, paths: WorkPaths, index: int):
        self.paths, self.index = paths, index
        self.spool = tempfile.TemporaryFile(prefix="auralith-shingles-")
        self.offsets = [0]

    def add(self, shingles: Sequence[np.ndarray]) -> None:
        """The shingle hashes of the next documents, in position order."""
        for s in shingles:
            values = shingle_set(s).astype(_DTYPE, copy=False)
            self.spool.write(values.tobytes())
            self.offsets.append(self.offsets[-1] + len(values))

    def close(self) -> None:
        files = self.paths.files
        self.spool.seek(0)
        with files.atomic_write(self.paths.shingles(self.index)) as out:
            shutil.copyfileobj(self.spool, out, 1 << 20)
        self.spool.close()
        save_npy(files, self.paths.shingle_offsets(self.index), np.asarray(self.offsets, dtype=np.uint64))


def read_shingle_sets(paths: WorkPaths, partition: int, positions: np.ndarray) -> list[np.ndarray]:
    """The shingle sets of some documents of one partition (positions in its clean file)."""
    files = paths.files
    # Mapped locally: only the candidates' offsets are read, not the partition's (a task reads many partitions).
    offsets = load_npy(files, paths.shingle_offsets(partition), mmap=True)
    path = paths.shingles(partition)
    starts, ends = np.asarray(offsets[positions]), np.asarray(offsets[positions + 1])
    if not is_url(path):
        if int(offsets[-1]) == 0:  # an empty file cannot be mapped
            return [np.empty(0, dtype=_DTYPE) for _ in positions]
        mm = np.memmap(path, dtype=_DTYPE, mode="r")
        try:
            return [np.array(mm[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        finally:
            del mm
    out = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        with files.open_read(path, a * _DTYPE.itemsize, b * _DTYPE.itemsize) as fh:
            out.append(np.frombuffer(fh.read((b - a) * _DTYPE.itemsize), dtype=_DTYPE))
    return out


def exact_edge_jaccard(paths: WorkPaths, edges: np.ndarray) -> np.ndarray:
    """The exact Jaccard of each candidate pair's shingle sets (edges: node ids, shape (E, 2)), reading only
    those documents' sets, one partition at a time."""
    uniq, inverse = np.unique(edges.reshape(-1), return_inverse=True)
    sets: list[np.ndarray] = [np.empty(0, dtype=_DTYPE)] * len(uniq)
    parts = (uniq >> np.uint64(32)).astype(np.int64)
    for p in np.unique(parts):
        where = np.flatnonzero(parts == p)
        positions = (uniq[where] & np.uint64(0xFFFFFFFF)).astype(np.int64)
        for i, values in zip(where.tolist(), read_shingle_sets(paths, int(p), positions), strict=True):
            sets[i] = values
    pair = inverse.reshape(-1, 2)
    return np.fromiter((exact_jaccard(sets[a], sets[b]) for a, b in pair.tolist()), dtype=np.float64, count=len(pair))
