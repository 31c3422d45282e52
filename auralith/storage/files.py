"""`Files`: the one way Auralith reads and writes bytes, local paths and `s3://` URLs alike, bound to one
job's storage settings.

A job's `Files` is built from its config's `storage` section and handed to whatever touches its bytes
(readers, work files, shard, manifest and checkpoint writers), as datatrove hands a DataFolder to each
reader and writer. The settings travel with the object: a thread-pool worker running units of two jobs
side by side, or a helper called from a new thread, cannot reach S3 with the other job's endpoint or with
none, as it could when the settings sat in a context variable that eight callers had to remember to set.

Training checkpoints use the same calls: `atomic_write(join(dir, "model.safetensors"))` for each file (each
appears whole or not at all), `write_bytes_atomic(join(dir, "manifest.json"), ...)` last,
`list_files(join(root, "*", "manifest.json"))` to find committed steps, `read_bytes`/`open_random` to load
them, `delete` to prune old ones.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from auralith.config.storage import StorageConfig
from auralith.errors import StorageError
from auralith.storage.base import Storage
from auralith.storage.local import LocalStorage
from auralith.storage.paths import is_url

_LOCAL = LocalStorage()


class Files:
    """Bytes of local paths and `s3://` URLs, S3 reached with `config` (default: the environment's
    AURALITH_S3_* / AWS_* settings, then boto3's). Cheap to build: boto3 is imported and a client made (and
    shared by every `Files` of equal settings) on the first S3 request."""

    def __init__(self, config: StorageConfig | None = None):
        self.config = config or StorageConfig()
        self._s3: Storage | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Files) and other.config == self.config

    def __hash__(self) -> int:
        return hash(self.config)

    def __repr__(self) -> str:
        return f"Files({self.config!r})"

    def backend(self, path: str | Path) -> Storage:
        """The backend that holds `path`. Raises StorageError for a URL scheme other than s3://."""
        if not is_url(path):
            return _LOCAL
        if str(path).startswith("s3://"):
            if self._s3 is None:
                from auralith.storage.s3 import S3Storage  # boto3 is imported only by jobs that use S3

                self._s3 = S3Storage(self.config.s3)
            return self._s3
        raise StorageError(
            f"{path}: unsupported URL scheme; use a local path (a mounted NFS share is one), or "
            "s3:// (GCS through its S3-compatible endpoint)"
        )

    def open_read(
        self, path: str | Path, start: int = 0, end: int | None = None, buffer_size: int = 1 << 20
    ) -> BinaryIO:
        """A sequential binary stream of bytes [start, end) of a file or object, read through a buffer of
        `buffer_size` bytes."""
        return self.backend(path).open_read(str(path), start, end, buffer_size)

    def open_random(self, path: str | Path) -> BinaryIO:
        """A seekable binary file (S3: each buffered read is a ranged GET)."""
        return self.backend(path).open_random(str(path))

    def read_bytes(self, path: str | Path) -> bytes:
        """A whole file's bytes; FileNotFoundError when it is missing (ObjectNotFound is one for S3)."""
        with self.open_read(path) as fh:
            return fh.read()

    def atomic_write(self, path: str | Path) -> AbstractContextManager[BinaryIO]:
        """A binary file that appears under `path` only if the `with` block ends without an error."""
        return self.backend(path).atomic_write(str(path))

    def write_bytes_atomic(self, path: str | Path, data: bytes) -> None:
        """Write a whole file atomically (local: temp + fsync + rename; S3: one upload)."""
        with self.atomic_write(path) as fh:
            fh.write(data)

    def list_files(self, pattern: str | Path) -> list[tuple[str, int]]:
        """(path, size) of every file matching a glob, sorted; local paths come back absolute."""
        return self.backend(pattern).list_files(str(pattern))

    def exists(self, path: str | Path) -> bool:
        return self.backend(path).exists(str(path))

    def size(self, path: str | Path) -> int:
        return self.backend(path).size(str(path))

    def delete(self, path: str | Path) -> None:
        """Delete a file or object; a missing one is not an error."""
        self.backend(path).delete(str(path))


# For code that runs outside any job (local tools, tests, benchmarks): the environment's settings.
DEFAULT_FILES = Files()
