"""Local files (and anything mounted as one: NFS, a FUSE bucket): every write is atomic (temp file,
fsync, rename), so a reader never sees a half-written file under its final name."""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_READ_SIZE = 1 << 20


@contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """Open a temp file beside `path`; on success fsync it and rename it over `path`, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), 0o644)  # mkstemp's 0600 would hide outputs from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_write(path) as fh:
        fh.write(data)


class LocalStorage:
    """The `Storage` interface over the local filesystem."""

    def open_read(self, path: str, start: int = 0, end: int | None = None, buffer_size: int = _READ_SIZE) -> BinaryIO:
        # `end` is not enforced: readers of a byte range stop at their own end, and a plain file is cheaper.
        fh = open(path, "rb", buffering=buffer_size)
        if start:
            fh.seek(start)
        return fh

    def open_random(self, path: str) -> BinaryIO:
        return open(path, "rb")

    def atomic_write(self, path: str):
        return atomic_write(path)

    def list_files(self, pattern: str) -> list[tuple[str, int]]:
        # An existing path is taken literally, so names holding glob characters like "[" still work.
        matches = [pattern] if os.path.isfile(pattern) else glob.glob(pattern, recursive=True)
        paths = sorted(os.path.abspath(m) for m in matches if os.path.isfile(m))
        return [(p, os.path.getsize(p)) for p in paths]

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def size(self, path: str) -> int:
        return os.path.getsize(path)

    def delete(self, path: str) -> None:
        Path(path).unlink(missing_ok=True)
