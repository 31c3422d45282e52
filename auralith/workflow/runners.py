"""One partition of each stage, run without Celery: readers -> steps -> atomic files, returning counts.

Tasks call these with paths and a progress callback; tests and benchmarks call them directly.
"""

from __future__ import annotations

import glob
import heapq
import json
import resource
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

from auralith import storage
from auralith.config import JobConfig
from auralith.documents import Document, FilePiece, InputIssue
from auralith.errors import InputError
from auralith.readers import PieceReader, iter_jsonl_zst, jsonl_zst_writer
from auralith.report.profile import PartitionProfile
from auralith.steps.dedup import HashRecord, content_hash, exact_duplicates_sorted
from auralith.steps.filters import LengthFilter
from auralith.steps.normalize import TextNormalizer
from auralith.steps.quality import QualityChain
from auralith.steps.shards import MANIFEST_NAME, ShardWriter
from auralith.steps.tokenize import DocumentTokenizer, load_tokenizer, resolve_eos_id, token_dtype
from auralith.storage import atomic_write, write_bytes_atomic

ProgressFn = Callable[[dict], None]
MAX_ISSUES_IN_COUNTS = 20  # the first issues travel in the partition row; all of them go to a side file


@dataclass(frozen=True)
class WorkPaths:
    """Where one job keeps its intermediate files: `{work_dir}/{job_id}/...` (Paths, or s3:// strings)."""

    root: Path | str

    @classmethod
    def for_job(cls, cfg: JobConfig, job_id: str) -> WorkPaths:
        return cls(storage.join(cfg.work_dir, job_id))

    def clean(self, i: int) -> Path | str:
        return storage.join(self.root, "clean", f"{i:05d}.jsonl.zst")

    def hashes(self, i: int) -> Path | str:
        # Plain JSON lines: hex hashes barely compress, and the dedup merge keeps one reader per partition
        # open, which costs a small read buffer instead of a zstd window each.
        return storage.join(self.root, "hashes", f"{i:05d}.jsonl")

    def issues(self, i: int) -> Path | str:
        return storage.join(self.root, "issues", f"{i:05d}.jsonl.zst")

    def removed(self, i: int) -> Path | str:
        return storage.join(self.root, "removed", f"{i:05d}.jsonl.zst")

    def drops(self, i: int) -> Path | str:
        return storage.join(self.root, "dedup", f"{i:05d}.json")


class _Throttle:
    """Calls `fn` at most once per `interval` seconds, so live progress costs few SQL writes.

    The first call comes `interval` after creation, not at once: a partition that ends sooner reports nothing
    until its commit (which records its figures), saving a store round trip per short task (bench/suite.py).
    """

    def __init__(self, fn: ProgressFn | None, interval: float = 1.0):
        self.fn, self.interval, self.last = fn, interval, time.monotonic()

    def __call__(self, progress: dict) -> None:
        now = time.monotonic()
        if self.fn and now - self.last >= self.interval:
            self.last = now
            self.fn(progress)


def process_partition(cfg: JobConfig, pieces: list[FilePiece], paths: WorkPaths, index: int,
                      progress: ProgressFn | None = None) -> dict:
    """Read, normalise, filter and hash one partition; write its clean documents. Returns its counts.

    Every record read ends up exactly once: kept, or under `removed[reason]`. Records that are not
    documents at all (bad JSON, invalid UTF-8, ...) are removed as `input_error.{reason}` and listed.
    Outputs are streamed to their files; only the hash list (~100 B a kept document) is held, to be
    sorted before it is written.
    """
    storage.use_storage_config(cfg.storage)
    pre = cfg.preprocessing
    normalize = TextNormalizer(pre.normalize)
    length_filter = LengthFilter(pre.length)
    chain = QualityChain(pre.quality, pre.pii)
    removed: Counter[str] = Counter()
    input_errors: Counter[str] = Counter()
    first_issues: list[dict] = []
    records = documents = blank_lines = 0
    bytes_done = 0
    report = _Throttle(progress)
    hashes: list[tuple[str, str, int]] = []  # (hash, id, position in the clean file): ~100 B a document
    signatures = near_dedup_writer(cfg, paths, index)
    profile = PartitionProfile()  # lengths per source before/after filters, for `auralith report`

    with ExitStack() as files:
        kept = files.enter_context(jsonl_zst_writer(paths.clean(index)))
        issues = files.enter_context(jsonl_zst_writer(paths.issues(index)))
        aside = files.enter_context(jsonl_zst_writer(paths.removed(index))) if pre.keep_removed else None
        for piece in pieces:
            src = cfg.sources[piece.source]
            reader = PieceReader(piece, src.text_field, src.id_field)
            for item in reader:
                report({"documents": records, "bytes": bytes_done + reader.bytes_read})
                if isinstance(item, InputIssue):
                    if item.reason == "unreadable":
                        # A file listed at planning that a worker cannot open is a setup problem (a missing
                        # mount, permissions), not bad data: fail the partition rather than lose the file.
                        raise InputError(item.message, file=item.file)
                    input_errors[item.reason] += 1
                    if item.line is not None:  # a bad record (an empty file is not a record)
                        records += 1
                        removed[f"input_error.{item.reason}"] += 1
                        profile.add_bad_record(piece.source, f"input_error.{item.reason}")
                    issues.write(item.to_dict())
                    if len(first_issues) < MAX_ISSUES_IN_COUNTS:
                        first_issues.append(item.to_dict())
                    continue
                records += 1
                documents += 1
                profile.add_before(piece.source, item.text)
                reason = _clean(item, normalize, length_filter, chain)
                if reason:
                    removed[reason] += 1
                    profile.add_removed(piece.source, reason)
                    if aside:
                        aside.write({"id": item.id, "file": item.file, "line": item.line, "reason": reason,
                                     "text": item.text})
                    continue
                profile.add_after(piece.source, item.text)
                if pre.exact_dedup:
                    hashes.append((content_hash(item.text), item.id, kept.count))
                if signatures:
                    signatures.add(kept.count, item.id, item.text)
                kept.write({"id": item.id, "text": item.text, "file": item.file, "line": item.line})
            blank_lines += reader.blank_lines
            bytes_done += piece.size

    # No final progress report: the commit that follows sets the partition's figures and clears its progress.
    if pre.exact_dedup:
        # Sorted by hash, so the dedup step merges all partitions' files in one streaming pass.
        hashes.sort()
        with atomic_write(paths.hashes(index)) as fh:
            fh.writelines(json.dumps({"h": h, "id": i, "pos": pos}).encode() + b"\n" for h, i, pos in hashes)
    return {
        **({"minhash": signatures.close()} if signatures else {}),
        "records": records,
        "documents": documents,
        "kept": kept.count,
        "bytes": bytes_done,
        "blank_lines": blank_lines,
        "removed": dict(sorted(removed.items())),
        "input_errors": dict(sorted(input_errors.items())),
        "issues": first_issues,
        "issue_count": issues.count,
        "profile": profile.to_dict(),
        "lines_removed": dict(sorted(chain.lines_removed.items())),
        # Only when the PII stage ran: the report tells "no PII found" ({}) from "not scanned" (no key).
        **({"pii": dict(sorted(chain.pii.items()))} if pre.pii.enabled else {}),
    }


def near_dedup_writer(cfg: JobConfig, paths: WorkPaths, index: int):
    """The partition's MinHash signature writer, or None with near dedup off."""
    if not cfg.preprocessing.near_dedup.enabled:
        return None
    from auralith.workflow.near_dedup import NearDedupPaths, SignatureWriter

    return SignatureWriter(cfg.preprocessing.near_dedup, NearDedupPaths(paths), index)


def _clean(doc: Document, normalize: TextNormalizer, length_filter: LengthFilter, chain: QualityChain) -> str | None:
    doc.text = normalize(doc.text)
    reason = length_filter(doc.text)
    if reason is None:
        # On removal the chain hands back the text it was given: `keep_removed` gets it before C4 or redaction.
        doc.text, reason = chain(doc.text)
    return reason


def decide_dedup(paths: WorkPaths, n_partitions: int) -> dict:
    """Merge every partition's hash-sorted file, keep one document per hash, write a drop list per
    partition. Memory holds one open reader per partition and the drop lists, not the corpus's hashes."""
    _allow_open_files(n_partitions + 64)

    def stream(p: int) -> Iterator[HashRecord]:
        with storage.open_read(paths.hashes(p), buffer_size=1 << 16) as fh:
            for line in fh:
                rec = json.loads(line)
                yield HashRecord(rec["h"], rec["id"], p, rec["pos"])

    merged = heapq.merge(*(stream(p) for p in range(n_partitions)), key=attrgetter("hash"))
    drops = [array("q") for _ in range(n_partitions)]  # 8 bytes a dropped document, not a Python int's ~36
    for rec in exact_duplicates_sorted(merged):
        drops[rec.partition].append(rec.position)
    for p, positions in enumerate(drops):
        write_bytes_atomic(paths.drops(p), json.dumps(sorted(positions)).encode())
    return {"removed": {"exact_duplicate": sum(len(v) for v in drops)},
            "per_partition": {str(p): len(v) for p, v in enumerate(drops) if v}}


def _allow_open_files(needed: int) -> None:
    # The merge keeps one file open per partition; the soft limit is often 1024 while the hard one is higher.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else min(needed, hard),
                                                    hard))


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


def read_drops(paths: WorkPaths, index: int, required: bool = True) -> set[int]:
    """Positions of one partition's clean file that dedup dropped.

    With dedup on, a missing list means this worker does not see the dedup worker's files (no shared
    filesystem): failing beats writing shards that silently keep the duplicates.
    """
    path = paths.drops(index)
    if storage.exists(path):
        return set(json.loads(storage.read_bytes(path)))
    if required:
        raise InputError("dedup drop list missing: do all workers share the work_dir?", file=str(path))
    return set()


def tokenize_partition(cfg: JobConfig, paths: WorkPaths, index: int, drop_positions: set[int],
                       progress: ProgressFn | None = None, near_positions: set[int] = frozenset(),
                       ) -> tuple[dict, list[dict]]:
    """Tokenize one partition's clean documents (minus dropped duplicates) into shards in the output dir.

    `drop_positions` are exact duplicates, `near_positions` near duplicates (disjoint: see near_dedup).

    Shards are named after the partition (`part-{index:05d}-{k:05d}`), so a rerun overwrites the same
    files with the same bytes. Returns (counts, shard infos).
    """
    storage.use_storage_config(cfg.storage)
    tcfg, ocfg = cfg.tokenization, cfg.output
    tok = load_tokenizer(tcfg.tokenizer)
    eos_id = resolve_eos_id(tok, tcfg.eos_token) if tcfg.append_eos else None
    dtype = token_dtype(tok.get_vocab_size(with_added_tokens=True), tcfg.dtype)
    encoder = DocumentTokenizer(tok, append_eos=tcfg.append_eos, eos_id=eos_id,
                                max_length=tcfg.max_length, batch_size=tcfg.batch_size, dtype=dtype)
    writer = ShardWriter(ocfg.path, f"part-{index:05d}", dtype=dtype,
                         max_shard_bytes=int(ocfg.max_shard_size_mb * 2**20),
                         compression=ocfg.compression, zstd_level=ocfg.zstd_level)
    report = _Throttle(progress)
    docs_in = docs_out = tokens = truncated = near = 0
    profile = PartitionProfile()  # lengths and tokens of the documents written, for `auralith report`
    batch: list[str] = []

    def flush() -> None:
        nonlocal tokens, truncated, docs_out
        arrays, n_trunc = encoder.encode(batch)
        truncated += n_trunc
        for text, arr in zip(batch, arrays, strict=True):
            writer.add(arr)
            tokens += len(arr)
            profile.add_output(text, len(arr))
        docs_out += len(arrays)
        batch.clear()
        report({"documents": docs_in, "tokens": tokens})

    for pos, rec in enumerate(iter_jsonl_zst(paths.clean(index))):
        docs_in += 1
        if pos in drop_positions:
            continue
        if pos in near_positions:
            near += 1
            continue
        batch.append(rec["text"])
        if len(batch) >= tcfg.batch_size:
            flush()
    if batch:
        flush()
    shards = [info.to_dict() for info in writer.close()]
    exact = docs_in - docs_out - near
    removed = {**({"exact_duplicate": exact} if exact else {}), **({"near_duplicate": near} if near else {})}
    counts = {"documents": docs_in, "kept": docs_out, "tokens": tokens, "truncated": truncated,
              "removed": removed, "shards": len(shards), "profile": profile.to_dict()}
    return counts, shards
