"""The output folder: which job owns it, and clearing what an earlier job left there."""

from __future__ import annotations

import glob

from auralith import storage
from auralith.errors import InputError
from auralith.steps.shards import MANIFEST_NAME
from auralith.storage import write_bytes_atomic

OWNER_FILE = ".auralith-job"


def claim_output(out_dir: str, job_id: str) -> None:
    """Mark `out_dir` as this job's: shard names repeat from job to job, so a later job planned into the
    same folder takes it over, and this one must notice rather than list the other's shards."""
    write_bytes_atomic(storage.join(out_dir, OWNER_FILE), job_id.encode())


def check_output_owner(out_dir: str, job_id: str) -> None:
    path = storage.join(out_dir, OWNER_FILE)
    owner = storage.read_bytes(path).decode().strip() if storage.exists(path) else None
    if owner != job_id:
        raise InputError(f"the output folder now belongs to job {owner or '(none)'}, which replaced this job's "
                         "shards; give this job its own output.path and submit it again", file=str(out_dir))


def remove_stale_shards(out_dir: str) -> int:
    """Delete shards and the manifest a previous job left in `out_dir` (only files named as ours).

    Returns how many files it deleted.
    """
    folder = glob.escape(str(out_dir))  # a "[" in the folder's own name is not a pattern
    stale = [path for name in ("part-*.safetensors", "part-*.safetensors.zst", MANIFEST_NAME)
             for path, _ in storage.list_files(storage.join(folder, name))]
    for path in stale:
        storage.delete(path)
    return len(stale)
