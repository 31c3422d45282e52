"""The tokenize stage, one partition: kept documents (minus duplicates) -> safetensors shards."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from contextlib import ExitStack

from auralith.config import JobConfig
from auralith.pipeline.exact_dedup import read_drops, read_kept_ids
from auralith.pipeline.near_dedup import read_near_drops
from auralith.pipeline.output import check_output_owner
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.throttle import ProgressFn, Throttle
from auralith.pipeline.unit import UnitContext, UnitResult
from auralith.sources.readers import iter_jsonl_zst, jsonl_zst_writer
from auralith.steps.document_tokenizer import DocumentTokenizer, EncoderMismatch
from auralith.steps.profile import PartitionProfile
from auralith.steps.shards import ShardWriter
from auralith.steps.tokenize import load_tokenizer, resolve_eos_id, token_dtype
from auralith.storage.paths import join


def tokenize_partition(
    cfg: JobConfig,
    paths: WorkPaths,
    index: int,
    drop_positions: AbstractSet[int],
    progress: ProgressFn | None = None,
    near_positions: AbstractSet[int] = frozenset(),
    kept_ids: Mapping[int, str] | None = None,
) -> tuple[dict, list[dict]]:
    """Tokenize one partition's clean documents (minus dropped duplicates) into shards in the output dir.

    `drop_positions` are exact duplicates, `near_positions` near duplicates (disjoint: see near_dedup). With
    `kept_ids` (keep_removed: position -> id of the document kept instead), the duplicates are written aside to
    `paths.duplicates(index)`, each with that id as `duplicate_of`.

    Shards are named after the partition (`part-{index:05d}-{k:05d}`), so a rerun overwrites the same
    files with the same bytes. Reads and writes go through `paths.files`, the job's storage. Returns (counts,
    shard infos).

    With `tokenization.encoder: auto` the ids come from fastokens, checked against `tokenizers` on a sample of
    documents; a difference re-encodes the whole partition with `tokenizers` and is reported in the counts
    (`encoder_fallback`), so what is written is always what `tokenizers` gives on every checked document.
    """
    try:
        return _tokenize(cfg, paths, index, drop_positions, progress, near_positions, kept_ids, fast=True)
    except _Mismatch as found:
        # Nothing the fast encoder wrote may stay: the whole partition again with the reference. Shards are named
        # by position, so the reference rewrites those names; any it does not reach are the first try's alone.
        counts, shards = _tokenize(cfg, paths, index, drop_positions, progress, near_positions, kept_ids, fast=False)
        kept = {s["path"] for s in shards}
        for name in found.written - kept:
            paths.files.delete(join(cfg.output.path, name))
        counts["encoder_fallback"] = found.reason
        return counts, shards


class _Mismatch(Exception):
    def __init__(self, reason: dict, written: set[str]):
        super().__init__(reason["detail"])
        self.reason = reason
        self.written = written


def _tokenize(
    cfg: JobConfig,
    paths: WorkPaths,
    index: int,
    drop_positions: AbstractSet[int],
    progress: ProgressFn | None,
    near_positions: AbstractSet[int],
    kept_ids: Mapping[int, str] | None,
    *,
    fast: bool,
) -> tuple[dict, list[dict]]:
    tcfg, ocfg = cfg.tokenization, cfg.output
    tok = load_tokenizer(tcfg.tokenizer)
    eos_id = resolve_eos_id(tok, tcfg.eos_token) if tcfg.append_eos else None
    dtype = token_dtype(tok.get_vocab_size(with_added_tokens=True), tcfg.dtype)
    encoder = DocumentTokenizer(
        tok,
        append_eos=tcfg.append_eos,
        eos_id=eos_id,
        max_length=tcfg.max_length,
        batch_size=tcfg.batch_size,
        dtype=dtype,
        fast=fast and tcfg.encoder == "auto",
        verify_every=tcfg.verify_every,
    )
    writer = ShardWriter(
        paths.files,
        ocfg.path,
        f"part-{index:05d}",
        dtype=dtype,
        max_shard_bytes=int(ocfg.max_shard_size_mb * 2**20),
        compression=ocfg.compression,
        zstd_level=ocfg.zstd_level,
    )
    report = Throttle(progress)
    docs_in = docs_out = tokens = truncated = near = 0
    profile = PartitionProfile()  # lengths and tokens of the documents written, for `auralith report`
    batch: list[dict] = []

    def flush() -> None:
        nonlocal tokens, truncated, docs_out
        try:
            arrays, n_trunc = encoder.encode([rec["text"] for rec in batch])
        except EncoderMismatch as exc:
            rec = batch[exc.position - docs_out]
            reason = {**_as_read(rec), "partition": index, "detail": str(exc.detail)}
            raise _Mismatch(reason, {s.path for s in writer.shards}) from None
        truncated += n_trunc
        for rec, arr in zip(batch, arrays, strict=True):
            writer.add(arr)
            tokens += len(arr)
            profile.add_output(rec["text"], len(arr))
        docs_out += len(arrays)
        batch.clear()
        report({"documents": docs_in, "tokens": tokens})

    with ExitStack() as outputs:
        aside = None
        if kept_ids is not None:
            aside = outputs.enter_context(jsonl_zst_writer(paths.files, paths.duplicates(index)))
        for pos, rec in enumerate(iter_jsonl_zst(paths.files, paths.clean(index))):
            docs_in += 1
            dropped = "exact_duplicate" if pos in drop_positions else "near_duplicate" if pos in near_positions else ""
            if dropped:
                near += dropped == "near_duplicate"
                if aside is not None:
                    of = (kept_ids or {})[pos]
                    aside.write({**_as_read(rec), "reason": dropped, "duplicate_of": of, "text": rec["text"]})
                continue
            batch.append(rec)
            if len(batch) >= tcfg.batch_size:
                flush()
        if batch:
            flush()
    shards = [info.to_dict() for info in writer.close()]
    exact = docs_in - docs_out - near
    removed = {**({"exact_duplicate": exact} if exact else {}), **({"near_duplicate": near} if near else {})}
    counts = {
        "documents": docs_in,
        "kept": docs_out,
        "tokens": tokens,
        "truncated": truncated,
        "removed": removed,
        "shards": len(shards),
        "profile": profile.to_dict(),
        # Which encoder wrote this partition's ids (documents), and why not the fast one when it was asked for.
        "encoders": {encoder.encoder.name: docs_out} if docs_out else {},
        "verified": encoder.verified,
        **({"encoder_fallback": {"partition": index, "detail": encoder.fallback}} if encoder.fallback else {}),
    }
    return counts, shards


def _as_read(rec: dict) -> dict:
    return {"id": rec["id"], "file": rec["file"], "line": rec["line"]}


def read_kept_ids_of(cfg: JobConfig, paths: WorkPaths, index: int) -> dict[int, str]:
    """Position -> id of the document kept instead, for both kinds of duplicates of one partition."""
    kept: dict[int, str] = {}
    if cfg.preprocessing.exact_dedup:
        kept.update(read_kept_ids(paths.files, paths.drops_kept(index)))
    if cfg.preprocessing.near_dedup.enabled:
        kept.update(read_kept_ids(paths.files, paths.near_drops_kept(index)))
    return kept


def tokenize_unit(unit: UnitContext) -> UnitResult:
    """The tokenize stage's unit: one partition's kept documents, less both kinds of duplicates."""
    cfg, paths = unit.cfg, unit.paths
    check_output_owner(unit.files, cfg.output.path, unit.job_id)
    drops = read_drops(paths, unit.index, required=cfg.preprocessing.exact_dedup)
    near = read_near_drops(paths, unit.index) if cfg.preprocessing.near_dedup.enabled else set()
    kept_ids = read_kept_ids_of(cfg, paths, unit.index) if cfg.preprocessing.keep_removed else None
    counts, shards = tokenize_partition(
        cfg, paths, unit.index, drops, unit.progress, near_positions=near, kept_ids=kept_ids
    )
    return counts, {"shards": shards}
