"""Where a checkpoint's files live: a local folder, or `s3://bucket/prefix/{step}/` objects.

Local folders keep the durable write the training notes ask for: temp file, fsync, rename, fsync the
folder. On S3 each PUT is atomic already (an object appears whole or not at all), so a file is written
through the job's `Files`, and a folder is only a key prefix: "remove the folder" deletes its
objects. Either way the manifest is written last, so a step without `manifest.json` is unfinished.

safetensors' `save_model`/`load_model` need a local file: for S3 the model goes through a local temp
file (under `TMPDIR`), uploaded after writing or downloaded before loading.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from auralith.storage import Files, is_url, join

MANIFEST_FILE = "manifest.json"
_BLOCK = 1 << 20


def step_folder(root: str | Path, step: int) -> str | Path:
    """`{root}/{step}`: a Path for a local root, an `s3://` string for a URL (never pathlib on a URL)."""
    return join(root, str(step))


def fresh_folder(files: Files, folder: str | Path) -> None:
    """An empty folder for a new checkpoint: whatever an earlier, unfinished write left there is removed."""
    remove_folder(files, folder)
    if not is_url(folder):
        Path(folder).mkdir(parents=True)


def remove_folder(files: Files, folder: str | Path) -> None:
    """Delete a checkpoint folder and everything in it (S3: every object under the prefix)."""
    if not is_url(folder):
        shutil.rmtree(folder, ignore_errors=True)
        return
    # The manifest goes first: a half-deleted step then reads as unfinished, never as a broken checkpoint.
    files.delete(join(folder, MANIFEST_FILE))
    for path, _ in files.list_files(str(folder).rstrip("/") + "/"):
        files.delete(path)


def write_with(files: Files, path: str | Path, write: Callable[[str], None]) -> None:
    """Publish the file that `write(local_path)` creates (for writers that need a file name, like
    safetensors' `save_model`) under `path`, durably and atomically."""
    if is_url(path):
        with tempfile.TemporaryDirectory(prefix="auralith-ckpt-") as tmp:
            local = os.path.join(tmp, "file")
            write(local)
            with open(local, "rb") as src, files.atomic_write(path) as dst:
                shutil.copyfileobj(src, dst, _BLOCK)
        return
    final = Path(path)
    partial = final.with_name(f".{final.name}.tmp")
    write(str(partial))
    with partial.open("rb") as fh:
        os.fsync(fh.fileno())
        os.fchmod(fh.fileno(), 0o644)  # safetensors creates it 0600; the step's other files are 0644 (atomic_write)
    os.replace(partial, final)
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextmanager
def local_copy(files: Files, path: str | Path) -> Iterator[str]:
    """A local file name holding `path`'s bytes: the file itself, or a temp download of an S3 object."""
    if not is_url(path):
        yield str(path)
        return
    with tempfile.TemporaryDirectory(prefix="auralith-ckpt-") as tmp:
        local = os.path.join(tmp, "file")
        with files.open_read(path) as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, _BLOCK)
        yield local


def file_sha256(path: str | Path) -> str:
    """sha256 of a local file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def complete_steps(files: Files, root: str | Path) -> list[int]:
    """The steps under `root` whose folder has a manifest (complete checkpoints), ascending."""
    if not is_url(root):
        root = Path(root)
        if not root.is_dir():
            return []
        return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / MANIFEST_FILE).exists())
    steps = []
    for path, _ in files.list_files(join(root, "*", MANIFEST_FILE)):
        name = path.rsplit("/", 2)[-2]
        if name.isdigit():
            steps.append(int(name))
    return sorted(steps)
