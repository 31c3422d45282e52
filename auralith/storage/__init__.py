"""Where bytes live: local paths and `s3://bucket/key` URLs behind one small interface.

Every path in Auralith (sources, work_dir, output, checkpoints) may be either; code calls these helpers
with the path as a string and never builds URLs with pathlib (it would collapse `s3://` into `s3:/`).

Training checkpoints use the same calls: `atomic_write(join(dir, "model.safetensors"))` for each file
(each appears whole or not at all), `write_bytes_atomic(join(dir, "manifest.json"), ...)` last,
`list_files(join(root, "*", "manifest.json"))` to find committed steps, `read_bytes`/`open_random` to load
them, `delete` to prune old ones.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from auralith.storage.base import Storage
from auralith.storage.local import LocalStorage
from auralith.storage.settings import StorageConfig, use_storage_config

__all__ = ["Storage", "StorageConfig", "atomic_write", "delete", "exists", "is_url", "join", "list_files",
           "open_random", "open_read", "read_bytes", "size", "storage_for", "use_storage_config",
           "write_bytes_atomic"]

_LOCAL = LocalStorage()
_s3 = None


def is_url(path: str | Path) -> bool:
    """True for a remote URL (`s3://...`); False for a local path."""
    return isinstance(path, str) and "://" in path


def storage_for(path: str | Path) -> Storage:
    """The backend that holds `path`. Raises StorageError for a URL scheme other than s3://."""
    if not is_url(path):
        return _LOCAL
    if str(path).startswith("s3://"):
        global _s3
        if _s3 is None:
            from auralith.storage.s3 import S3Storage  # boto3 is imported only by jobs that use S3

            _s3 = S3Storage()
        return _s3
    from auralith.errors import StorageError

    raise StorageError(f"{path}: unsupported URL scheme; use a local path (a mounted NFS share is one), or s3:// "
                       "(GCS through its S3-compatible endpoint)")


def join(base: str | Path, *parts: str) -> str | Path:
    """`base/part/...`: a Path for a local base (as before URLs existed), a string for a URL."""
    if not is_url(base):
        return Path(base).joinpath(*parts)
    return "/".join([str(base).rstrip("/"), *(p.strip("/") for p in parts)])


def open_read(path: str | Path, start: int = 0, end: int | None = None, buffer_size: int = 1 << 20) -> BinaryIO:
    """A sequential binary stream of bytes [start, end) of a file or object, read through a buffer of
    `buffer_size` bytes."""
    return storage_for(path).open_read(str(path), start, end, buffer_size)


def open_random(path: str | Path) -> BinaryIO:
    """A seekable binary file (S3: each buffered read is a ranged GET)."""
    return storage_for(path).open_random(str(path))


def read_bytes(path: str | Path) -> bytes:
    with open_read(path) as fh:
        return fh.read()


def atomic_write(path: str | Path) -> AbstractContextManager[BinaryIO]:
    """A binary file that appears under `path` only if the `with` block ends without an error."""
    return storage_for(path).atomic_write(str(path))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_write(path) as fh:
        fh.write(data)


def list_files(pattern: str | Path) -> list[tuple[str, int]]:
    """(path, size) of every file matching a glob, sorted; local paths come back absolute."""
    return storage_for(pattern).list_files(str(pattern))


def exists(path: str | Path) -> bool:
    return storage_for(path).exists(str(path))


def size(path: str | Path) -> int:
    return storage_for(path).size(str(path))


def delete(path: str | Path) -> None:
    """Delete a file or object; a missing one is not an error."""
    storage_for(path).delete(str(path))
