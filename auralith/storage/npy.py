"""numpy `.npy` arrays on any storage: whole-array writes, and reads of just the rows a task needs.

Local files keep `np.load(..., mmap_mode="r")`: the page cache holds what is touched, nothing else. An
S3 object cannot be mapped, and downloading a whole band-key file (every band of a partition) into each
of the `num_bands` band tasks would move the work dir `num_bands` times over. So the `.npy` header is
parsed (numpy.lib.format: shape, dtype, byte order, data offset) and only the bytes needed are fetched:

- `row_file`: one row of a 2-D array (one LSH band of a partition), streamed by one ranged GET into a
  file in a task-local temp folder, then memory-mapped. A band task binary-searches that row once per key
  slice; doing it with ranged GETs would cost ~log2(n) round trips per probe, while the row is 1/num_bands
  of the file and sits on local disk, not in memory, so the task's memory stays bounded by its slice.
- `read_rows`: scattered rows of a 2-D array (the signatures of verification candidates), by ranged
  GETs over runs of nearby rows (gaps under `_GAP` are read through rather than paid as another request).
"""

from __future__ import annotations

import io
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from auralith.errors import InputError
from auralith.storage.files import Files
from auralith.storage.paths import is_url

_HEADER_READ = 4096  # np.save's headers of plain arrays are 128 bytes; a longer one costs a second read
_GAP = 256 << 10  # read through gaps below this: a GET's round trip costs more than 256 kB of transfer
_RUN = 16 << 20  # but never hold more than this many bytes of one ranged read at once


@dataclass(frozen=True)
class NpyHeader:
    """Shape, dtype and where the data starts in a C-ordered `.npy` file."""

    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize


def save_npy(files: Files, path: str | Path, array: np.ndarray) -> None:
    """Write `array` as `.npy` atomically (a local temp file renamed, or one S3 upload)."""
    with files.atomic_write(path) as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)


def load_npy(files: Files, path: str | Path, mmap: bool = False) -> np.ndarray:
    """The whole array (for small files such as a band's edges); with `mmap`, a local file is memory-mapped
    (only the pages a reader touches are read)."""
    if not is_url(path):
        if mmap and read_header(files, path).shape != (0,):  # an empty array cannot be mapped
            return np.load(path, mmap_mode="r", allow_pickle=False)
        return np.load(path, allow_pickle=False)
    data = files.read_bytes(path)
    header = _parse_header(data, path)
    return np.frombuffer(data, dtype=header.dtype, offset=header.offset).reshape(header.shape)


def read_header(files: Files, path: str | Path) -> NpyHeader:
    """The header of a `.npy` file or object (one small read)."""
    with files.open_read(path, 0, _HEADER_READ, buffer_size=_HEADER_READ) as fh:
        data = fh.read(_HEADER_READ)
    # magic (6) + version (2) + header length (2 bytes in version 1, 4 after) + header
    if len(data) >= 12 and data[:6] == npy_format.MAGIC_PREFIX:
        wide = data[6] >= 2
        need = (12 + int.from_bytes(data[8:12], "little")) if wide else (10 + int.from_bytes(data[8:10], "little"))
        if need > len(data):
            with files.open_read(path, 0, need, buffer_size=need) as fh:
                data = fh.read(need)
    return _parse_header(data, path)


def _parse_header(data: bytes, path: str | Path) -> NpyHeader:
    fh = io.BytesIO(data)
    try:
        version = npy_format.read_magic(fh)
        read = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}.get(version)
        if read is None:  # 3.0 is only written for structured dtypes with non-ASCII field names
            raise ValueError(f"unsupported .npy version {version}")
        shape, fortran, dtype = read(fh)
    except (ValueError, OSError) as exc:
        raise InputError(f"not a .npy file: {exc}", file=str(path)) from None
    if fortran or dtype.hasobject:
        raise InputError("expected a C-ordered numeric .npy array", file=str(path))
    return NpyHeader(tuple(shape), dtype, fh.tell())


def row_file(files: Files, path: str | Path, row: int, tmpdir: str | Path) -> np.ndarray:
    """Row `row` of a 2-D `.npy` array as a read-only memory map: of the file itself when local, of a copy
    of just that row under `tmpdir` for an S3 object (see the module docstring)."""
    if not is_url(path):
        return np.load(path, mmap_mode="r")[row]
    header = read_header(files, path)
    if len(header.shape) != 2 or not 0 <= row < header.shape[0]:
        raise InputError(f"no row {row} in an array of shape {header.shape}", file=str(path))
    n = header.shape[1]
    if n == 0:
        return np.empty(0, dtype=header.dtype)  # an empty file cannot be mapped
    start = header.offset + row * header.row_bytes
    local = Path(tempfile.mkstemp(dir=tmpdir, suffix=".row")[1])
    with files.open_read(path, start, start + header.row_bytes) as src, open(local, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    if local.stat().st_size != header.row_bytes:
        raise InputError(f"truncated .npy object: row {row} ends past its end", file=str(path))
    return np.memmap(local, dtype=header.dtype, mode="r", shape=(n,))


def read_rows(files: Files, path: str | Path, rows: np.ndarray) -> np.ndarray:
    """`array[rows]` of a 2-D `.npy` array (rows: ascending ints), reading only those rows' bytes."""
    rows = np.asarray(rows, dtype=np.int64)
    if not is_url(path):
        mm = np.load(path, mmap_mode="r")
        try:
            return np.array(mm[rows])
        finally:
            del mm
    header = read_header(files, path)
    if len(header.shape) != 2:
        raise InputError(f"expected a 2-D array, found shape {header.shape}", file=str(path))
    if len(rows) and (rows[0] < 0 or rows[-1] >= header.shape[0] or np.any(np.diff(rows) <= 0)):
        raise ValueError(f"{path}: rows must be ascending and within 0..{header.shape[0] - 1}")
    out = np.empty((len(rows), header.shape[1]), dtype=header.dtype)
    size = header.row_bytes
    i = 0
    while i < len(rows):
        # A run: rows close enough to read in one GET, up to _RUN bytes.
        j = i + 1
        while j < len(rows) and (rows[j] - rows[j - 1] - 1) * size < _GAP and (rows[j] - rows[i] + 1) * size <= _RUN:
            j += 1
        first, last = int(rows[i]), int(rows[j - 1])
        start = header.offset + first * size
        with files.open_read(path, start, start + (last - first + 1) * size) as fh:
            data = fh.read((last - first + 1) * size)
        if len(data) != (last - first + 1) * size:
            raise InputError(f"truncated .npy object: rows {first}..{last} end past its end", file=str(path))
        block = np.frombuffer(data, dtype=header.dtype).reshape(-1, header.shape[1])
        out[i:j] = block[rows[i:j] - first]
        i = j
    return out
