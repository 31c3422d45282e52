"""The output folder: which job owns it, and clearing what an earlier job left there."""

from __future__ import annotations

import glob

from auralith.errors import InputError
from auralith.steps.shards import MANIFEST_NAME
from auralith.storage import Files, join

OWNER_FILE = ".auralith-job"
MEGATRON_DATA_PATH = "megatron-data-path.txt"  # finalize's `--data-path` argument for Megatron-LM


def claim_output(files: Files, out_dir: str, job_id: str) -> None:
    """Mark `out_dir` as this job's: shard names repeat from job to job, so a later job planned into the
    same folder takes it over, and this one must notice rather than list the other's shards."""
    files.write_bytes_atomic(join(out_dir, OWNER_FILE), job_id.encode())


def check_output_owner(files: Files, out_dir: str, job_id: str) -> None:
    """Raise InputError unless `out_dir` is still this job's (see `claim_output`)."""
    path = join(out_dir, OWNER_FILE)
    owner = files.read_bytes(path).decode().strip() if files.exists(path) else None
    if owner != job_id:
        raise InputError(
            f"the output folder now belongs to job {owner or '(none)'}, which replaced this job's "
            "shards; give this job its own output.path and submit it again",
            file=str(out_dir),
        )


def remove_stale_shards(files: Files, out_dir: str) -> int:
    """Delete shards and the manifest a previous job left in `out_dir` (only files named as ours).

    Returns how many files it deleted.
    """
    folder = glob.escape(str(out_dir))  # a "[" in the folder's own name is not a pattern
    ours = ["part-*.safetensors", "part-*.safetensors.zst", "part-*.bin", "part-*.idx", MEGATRON_DATA_PATH]
    ours.append(MANIFEST_NAME)
    stale = [path for name in ours for path, _ in files.list_files(join(folder, name))]
    for path in stale:
        files.delete(path)
    return len(stale)
