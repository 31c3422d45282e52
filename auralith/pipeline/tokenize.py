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
from auralith.steps.profile import PartitionProfile
from auralith.steps.shards import ShardWriter
from auralith.steps.tokenize import DocumentTokenizer, load_tokenizer, resolve_eos_id, token_dtype


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
    """
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
    batch: list[str] = []
    batch_languages: list[str | None] = []
    languages: dict[str, dict[str, int]] = {}  # language -> documents and tokens written

    def flush() -> None:
        nonlocal tokens, truncated, docs_out
        arrays, n_trunc = encoder.encode(batch)
        truncated += n_trunc
        for text, lang, arr in zip(batch, batch_languages, arrays, strict=True):
            writer.add(arr, language=lang)
            tokens += len(arr)
            profile.add_output(text, len(arr))
            if lang is not None:
                per = languages.setdefault(lang, {"documents": 0, "tokens": 0})
                per["documents"] += 1
                per["tokens"] += len(arr)
        docs_out += len(arrays)
        batch.clear()
        batch_languages.clear()
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
            batch.append(rec["text"])
            batch_languages.append(rec.get("language"))
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
        **({"languages": dict(sorted(languages.items()))} if languages else {}),
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
