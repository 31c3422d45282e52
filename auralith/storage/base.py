"""The storage interface every backend implements: what the pipeline and training checkpoints need of a
place that holds bytes, and nothing more."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol


class Storage(Protocol):
    """One kind of place bytes live in (local files, S3). Paths are full strings (`/data/x`, `s3://b/k`).

    Writes are atomic: a reader sees the whole new object or none of it, never a part under the final name.
    Errors: a missing object raises FileNotFoundError; throttling, 5xx and lost connections that outlive
    the backend's own retries raise `TransientError` (tasks retry it); a missing bucket or a denied
    request raises `StorageError` naming the path (never retried).
    """

    def open_read(self, path: str, start: int = 0, end: int | None = None, buffer_size: int = 1 << 20) -> BinaryIO:
        """A sequential binary stream of bytes `start` to `end` (exclusive; None = to the end)."""
        ...

    def open_random(self, path: str) -> BinaryIO:
        """A seekable binary file (for readers that jump around, like Parquet's footer and row groups)."""
        ...

    def atomic_write(self, path: str) -> AbstractContextManager[BinaryIO]:
        """A binary file to write; it appears under `path` only when the block ends without an error."""
        ...

    def list_files(self, pattern: str) -> list[tuple[str, int]]:
        """(path, size) of every object matching the glob `pattern` (`**` spans folders), sorted by path."""
        ...

    def exists(self, path: str) -> bool: ...

    def size(self, path: str) -> int: ...

    def delete(self, path: str) -> None:
        """Delete one object. Deleting a missing object is not an error."""
        ...
