"""The planner: which input files a job reads and how they are cut into partitions of about equal size.

Pure: the plan is a function of the config and the files in storage (local or s3://), so planning twice
gives the same plan.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path

from auralith.config import JobConfig
from auralith.errors import ConfigError, InputError
from auralith.pipeline.output import claim_output, remove_stale_shards
from auralith.pipeline.stages import job_stages
from auralith.sources.columnar import hf_dataset_files, is_hf_dataset, parquet_pieces
from auralith.sources.documents import Compression, FilePiece, Format
from auralith.sources.roots import allowed_roots, path_problem
from auralith.sources.warc import split_warc
from auralith.storage import Files, is_url
from auralith.store import Store
from auralith.store.models import JobState

_COMPRESSIONS: dict[str, Compression] = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_FORMATS: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".txt": "txt",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".warc": "warc",
    ".wet": "warc",  # Common Crawl's extracted text: .warc.wet.gz
    ".csv": "csv",
    ".tsv": "tsv",
}
_SUPPORTED = f"{', '.join(_FORMATS)}, each optionally followed by {', '.join(_COMPRESSIONS)}"
# Newlines are counted in chunks this big, so planning never holds a whole file in memory.
_SCAN_CHUNK = 4 << 20
# An unset partition_size_mb: about this many partitions per worker process, each between these sizes. 16 MiB
# is bench/run's best size for big jobs (Celery adds ~1%); a small job is cut finer so that every process has
# work and each stage ends evenly, but not below 1 MiB, where the ~20-30 ms of bookkeeping per task shows.
PARTITIONS_PER_PROCESS = 4
MAX_PARTITION_MB = 16.0
MIN_AUTO_PARTITION_MB = 1.0


def detect_format(path: str, source_format: str = "auto") -> tuple[Format, Compression]:
    """(format, compression) of a file from its extension; a source_format other than "auto" wins.

    Raises InputError naming the file when the extension is unknown and the format is "auto".
    """
    stem, ext = os.path.splitext(os.path.basename(path).lower())
    compression = _COMPRESSIONS.get(ext, "none")
    if compression != "none":
        ext = os.path.splitext(stem)[1]
    if source_format == "hf_dataset":
        return "arrow", compression
    if source_format == "hf_hub":
        return "hf_hub", "none"
    fmt = _FORMATS.get(ext) if source_format == "auto" else source_format
    if fmt is None:
        raise InputError(f"unsupported file extension; supported: {_SUPPORTED} (or set the source's format)", file=path)
    if fmt == "warc" and compression == "zstd":
        # Crawlers gzip each record alone; that is what lets a big WARC be cut into partitions.
        raise InputError("zstd-compressed WARC is not supported: use .warc or .warc.gz", file=path)
    return fmt, compression  # type: ignore[return-value]


def list_source_files(cfg: JobConfig) -> list[tuple[int, str, int]]:
    """(source index, absolute path, size in bytes) of every input file, in a stable order.

    Sources in config order, patterns in order, each pattern's matches sorted. A file matched twice (by
    two patterns or two sources) is read once, under the first. Raises ConfigError listing every pattern
    that matches no file, a matched path that cannot be read (a symlink loop, a dangling link), or one
    outside the allowed roots (see `auralith.sources.roots`). A HuggingFace dataset folder (format
    hf_dataset, or auto and the folder holds state.json or dataset_dict.json) lists its Arrow files. URLs are
    listed with the job's storage settings (`cfg.storage`).
    """
    files = Files(cfg.storage)
    inputs: list[tuple[int, str, int]] = []
    seen: set[str] = set()
    problems: list[str] = []
    roots = allowed_roots()
    for i, src in enumerate(cfg.sources):
        for pattern in src.patterns:
            if "\x00" in pattern:
                problems.append(f"sources[{i}].path: {pattern!r}: a path cannot contain a NUL byte")
                continue
            bad: list[str] = []
            if src.format == "hf_hub":  # a dataset name: the worker loads it (sources.hf_hub)
                if pattern not in seen:
                    seen.add(pattern)
                    inputs.append((i, pattern, 0))
                continue
            if src.format == "hf_dataset" or (
                src.format == "auto" and not _has_glob(pattern) and is_hf_dataset(files, pattern)
            ):
                found = [
                    (p if is_url(p) else os.path.abspath(p), files.size(p)) for p in hf_dataset_files(files, pattern)
                ]
            elif is_url(pattern):
                found = files.list_files(pattern)
            else:
                matches = _glob(pattern)
                bad = [f"sources[{i}].path: {p}" for m in matches if (p := _unusable(m, roots))]
                problems += bad[:5] + ([f"sources[{i}].path: ... and {len(bad) - 5} more"] if len(bad) > 5 else [])
                paths = [] if bad else sorted(os.path.abspath(m) for m in matches if os.path.isfile(m))
                found = [(path, os.path.getsize(path)) for path in paths]
            if not found and not bad:
                problems.append(f"sources[{i}].path: no files match {pattern!r}")
            for path, size in found:
                key = path if is_url(path) else os.path.realpath(path)
                if key not in seen:
                    seen.add(key)
                    inputs.append((i, path, size))
    if problems:
        raise ConfigError(problems)
    return inputs


def _has_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def _glob(pattern: str) -> list[str]:
    """The paths a source pattern names. `**` does not descend into symlinked folders (pathlib's rule), so a
    symlink loop cannot make planning run forever, as it can with glob.glob's `**`."""
    if os.path.isfile(pattern):  # taken literally, so names holding glob characters like "[" still work
        return [pattern]
    if "**" not in pattern:
        return glob.glob(pattern)
    anchor = os.sep if os.path.isabs(pattern) else "."
    matches = Path(anchor).glob(os.path.relpath(pattern, anchor) if anchor == os.sep else pattern)
    # glob.glob's rule kept: wildcards skip hidden names (.git, .venv, .auralith) unless the pattern names them.
    named = set(Path(pattern).parts)
    return [str(m) for m in matches if not any(p.startswith(".") and p not in named for p in m.parts)]


def _unusable(path: str, roots: list[str] | None) -> str | None:
    """Why a matched path cannot be read, or None. Folders are fine (a pattern may match some)."""
    if problem := path_problem(path, roots):
        return problem
    if os.path.isfile(path) or os.path.isdir(path):
        return None
    try:
        os.stat(path)
    except OSError as exc:  # ELOOP for a symlink loop, ENOENT for a dangling link
        return f"{path}: cannot be read: {exc.strerror}"
    return f"{path}: not a regular file"


def partition_size(cfg: JobConfig, total: int, processes: int | None) -> int:
    """The target partition size in bytes: `partition_size_mb` when set; else, for a job of `total` input bytes
    run by `processes` worker processes, PARTITIONS_PER_PROCESS partitions per process, between
    MIN_AUTO_PARTITION_MB and MAX_PARTITION_MB."""
    if cfg.partition_size_mb is not None:
        return max(1, int(cfg.partition_size_mb * 2**20))
    per_process = total / (PARTITIONS_PER_PROCESS * max(1, processes or 1))
    return int(min(MAX_PARTITION_MB * 2**20, max(MIN_AUTO_PARTITION_MB * 2**20, per_process)))


def plan_partitions(cfg: JobConfig, processes: int | None = None) -> list[list[FilePiece]]:
    """Cut the job's input into partitions of about `partition_size_mb` each (unset: see `partition_size`, for
    `processes` worker processes), as lists of file pieces.

    Files are packed greedily in `list_source_files` order; a partition closes once it holds at least the
    target size, so a partition can overshoot by up to one line (split files) or one whole file
    (compressed and .txt files are never split). Only uncompressed JSONL is split, at line starts,
    Parquet between row groups, and WARC at record starts (`sources.warc.split_warc`). With
    `taper_partitions` (the default) the last 2 x `partition_size_mb` of input is cut into quarter-size
    partitions (`partition_targets`). Files are read with the job's storage
    settings (`cfg.storage`).
    """
    files = Files(cfg.storage)
    inputs = list_source_files(cfg)
    total = sum(size for _, _, size in inputs)
    target_at = partition_targets(cfg, total, partition_size(cfg, total, processes))
    partitions: list[list[FilePiece]] = []
    current: list[FilePiece] = []
    used = 0  # bytes in `current`
    done = 0  # bytes in `partitions`: where `current` starts in the whole input
    target = target_at(0)
    for source, path, size in inputs:
        fmt, compression = detect_format(path, cfg.sources[source].format)
        # A split file's later pieces each start a partition: their size is the target at that offset.
        base = done + used

        def every(in_file: int, base: int = base) -> int:
            return target_at(base + in_file)

        if fmt == "jsonl" and compression == "none" and size > target - used:
            pieces = split_jsonl(files, path, source, first=target - used, every=every)
        elif fmt == "parquet":
            pieces = parquet_pieces(files, path, source, first=target - used, every=every)
        elif fmt == "warc" and compression != "zstd" and size > target - used:
            pieces = split_warc(files, path, source, compression, first=target - used, every=every)
        elif fmt == "hf_hub":  # rows 1..max_samples, a partition of its own (its size is unknown)
            if current:
                partitions.append(current)
                done += used
                current, used = [], 0
            pieces = [FilePiece(path, source, fmt, "none", size=0, end=cfg.sources[source].max_samples)]
        else:
            pieces = [FilePiece(path=path, source=source, format=fmt, compression=compression, size=size)]
        for piece in pieces:
            current.append(piece)
            used += piece.size
            if used >= target or fmt == "hf_hub":
                partitions.append(current)
                done += used
                current, used = [], 0
                target = target_at(done)
    if current:
        partitions.append(current)
    return partitions


def partition_targets(cfg: JobConfig, total: int, target: int | None = None) -> Callable[[int], int]:
    """The target size in bytes of the partition that starts `offset` bytes into the job's `total` bytes.

    Each stage ends at a chord: its next stage waits for the last partition, while workers that have
    finished theirs sit idle. Cutting the last 2 x `partition_size_mb` into quarter-size partitions makes
    that last round short and even on any number of workers (guided scheduling, as in OpenMP), for a few
    more tasks: on 200 MB over 2 workers it was 4% of the job's wall time (docs/performance.md).
    """
    target = target or partition_size(cfg, total, None)
    if not cfg.taper_partitions:
        return lambda offset: target
    tail_from, tail_target = total - 2 * target, max(1, target // 4)
    return lambda offset: target if offset < tail_from else tail_target


def split_jsonl(files: Files, path: str, source: int, first: int, every: int | Callable[[int], int]) -> list[FilePiece]:
    """Cut an uncompressed JSONL file into pieces of about `first`, then `every`, bytes (or `every(offset)`
    bytes for the piece that starts at that offset in the file).

    Each boundary moves forward to just after the next newline, so every piece starts at a line start;
    `first_line` comes from counting newlines in one streaming pass. The last piece has end=None.
    """
    size_at = every if callable(every) else (lambda offset: every)
    pieces: list[FilePiece] = []
    start, start_line = 0, 1
    want = start + max(1, first)  # the piece ends at the first line start at or after this offset
    newlines = 0  # in the file before `chunk_pos + counted`
    chunk_pos = 0  # file offset of the current chunk
    with files.open_read(path) as fh:
        while chunk := fh.read(_SCAN_CHUNK):
            counted = 0  # chunk bytes whose newlines are in `newlines`
            while True:
                # A newline at want - 1 means `want` itself is a line start.
                nl = chunk.find(b"\n", max(want - 1 - chunk_pos, counted))
                if nl < 0:
                    break
                newlines += chunk.count(b"\n", counted, nl + 1)
                counted = nl + 1
                end = chunk_pos + nl + 1
                pieces.append(
                    FilePiece(
                        path=path,
                        source=source,
                        format="jsonl",
                        compression="none",
                        size=end - start,
                        start=start,
                        end=end,
                        first_line=start_line,
                    )
                )
                start, start_line = end, newlines + 1
                want = start + max(1, size_at(start))
            newlines += chunk.count(b"\n", counted)
            chunk_pos += len(chunk)
    if start < chunk_pos or not pieces:
        pieces.append(
            FilePiece(
                path=path,
                source=source,
                format="jsonl",
                compression="none",
                size=chunk_pos - start,
                start=start,
                first_line=start_line,
            )
        )
    else:  # the last boundary fell exactly at EOF: that piece reads to the end
        pieces[-1].end = None
    return pieces


def plan_job(store: Store, job_id: str, cfg: JobConfig, processes: int | None = None) -> str:
    """Plan a job: a row per unit of every stage it runs (auralith.pipeline.stages), in one transaction, so
    a worker killed while planning leaves no half plan; `processes`: the worker processes that will run it,
    for an unset partition_size_mb. Returns the event text that says what was planned."""
    for other in store.list_jobs(limit=1000, state=JobState.RUNNING):
        if other.id != job_id and (other.config.get("output") or {}).get("path") == cfg.output.path:
            # Shard names repeat from job to job: two jobs writing one folder would mix their shards.
            raise ConfigError([f"output.path: {cfg.output.path} is being written by running job {other.id}"])
    partitions = plan_partitions(cfg, processes)
    files = Files(cfg.storage)
    remove_stale_shards(files, cfg.output.path)
    claim_output(files, cfg.output.path, job_id)
    rows: dict[str, list[tuple[dict, int]]] = {}
    for stage in job_stages(cfg):
        if stage.name == "process":
            rows[stage.name] = [
                ({"pieces": [p.to_dict() for p in pieces]}, sum(p.size for p in pieces)) for pieces in partitions
            ]
        else:
            rows[stage.name] = [(ref, 0) for ref in stage.refs(cfg, len(partitions))]
    store.create_partitions(job_id, rows)
    total = sum(p.size for pieces in partitions for p in pieces)
    text = f"planned {len(partitions)} partitions over {total / 2**20:.1f} MB"
    if cfg.partition_size_mb is None:
        size = partition_size(cfg, total, processes) / 2**20
        text += f" (partitions of {size:.3g} MB for {processes or 1} worker processes: partition_size_mb unset)"
    return text
