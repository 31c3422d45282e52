"""The tokenize stage, one partition: kept documents (minus duplicates) -> safetensors shards."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from contextlib import ExitStack

from auralith.config import JobConfig
from auralith.pipeline.exact_dedup import dedup_shards, read_drops, read_exact_kept, read_kept_ids
from auralith.pipeline.near_dedup import read_near_drops
from auralith.pipeline.output import check_output_owner
from auralith.pipeline.outputs import OutputWriter
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.spill import SpillWriter
from auralith.pipeline.throttle import ProgressFn, Throttle
from auralith.pipeline.unit import UnitContext, UnitResult
from auralith.sources.readers import iter_jsonl_zst, jsonl_zst_writer
from auralith.steps.document_tokenizer import DocumentTokenizer, EncoderMismatch
from auralith.steps.profile import PartitionProfile
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
    n_out: int = 1,
) -> tuple[dict, dict]:
    """Tokenize one partition's clean documents (minus dropped duplicates) into shards in the output dir.

    `drop_positions` are exact duplicates, `near_positions` near duplicates (disjoint: see near_dedup). With
    `kept_ids` (keep_removed: position -> id of the document kept instead), the duplicates are written aside to
    `paths.duplicates(index)`, each with that id as `duplicate_of`.

    Shards are named after the partition (`part-{index:05d}-{k:05d}`), so a rerun overwrites the same
    files with the same bytes. Reads and writes go through `paths.files`, the job's storage. A job that mixes or
    shuffles (`cfg.spills`) spills the tokens to the work folder instead, grouped for `n_out` write units.
    Returns (counts, output_ref: {"shards", "megatron"} or {"spill"}).

    With `tokenization.encoder: auto` the ids come from fastokens, checked against `tokenizers` on a sample of
    documents; a difference re-encodes the whole partition with `tokenizers` and is reported in the counts
    (`encoder_fallback`), so what is written is always what `tokenizers` gives on every checked document.
    """
    args = (cfg, paths, index, drop_positions, progress, near_positions, kept_ids, n_out)
    try:
        return _tokenize(*args, fast=True)
    except _Mismatch as found:
        # Nothing the fast encoder wrote may stay: the whole partition again with the reference. Files are named
        # by position, so the reference rewrites those names; shards it does not reach are the first try's alone.
        counts, ref = _tokenize(*args, fast=False)
        for name in found.written - {s["path"] for s in ref.get("shards", [])}:
            paths.files.delete(join(cfg.output.path, name))
        counts["encoder_fallback"] = found.reason
        return counts, ref


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
    n_out: int,
    *,
    fast: bool,
) -> tuple[dict, dict]:
    tcfg = cfg.tokenization
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
    # Straight to the output files, or (mixed or shuffled output) aside for the `write` stage.
    writer: OutputWriter | SpillWriter = (
        SpillWriter(cfg, paths, index, n_out, dtype) if cfg.spills else OutputWriter(cfg, paths.files, index, dtype)
    )
    report = Throttle(progress)
    docs_in = docs_out = tokens = truncated = near = 0
    profile = PartitionProfile()  # lengths and tokens of the documents written, for `auralith report`
    batch: list[str] = []
    sources: list[int] = []
    positions: list[int] = []  # in the clean file: where a spilled document can be found again
    reads: list[dict] = []  # where each document was read, to name one the encoders disagree on
    batch_languages: list[str | None] = []
    languages: dict[str, dict[str, int]] = {}  # language -> documents and tokens written

    def flush() -> None:
        nonlocal tokens, truncated, docs_out
        try:
            arrays, n_trunc = encoder.encode(batch)
        except EncoderMismatch as exc:
            reason = {**reads[exc.position - docs_out], "partition": index, "detail": exc.detail}
            shards = writer.shards if isinstance(writer, OutputWriter) and writer.shards is not None else None
            raise _Mismatch(reason, {s.path for s in shards.shards} if shards else set()) from None
        truncated += n_trunc
        for text, source, pos, lang, arr in zip(batch, sources, positions, batch_languages, arrays, strict=True):
            writer.add(arr, source, text, pos, language=lang)
            tokens += len(arr)
            profile.add_output(text, len(arr))
            if lang is not None:
                per = languages.setdefault(lang, {"documents": 0, "tokens": 0})
                per["documents"] += 1
                per["tokens"] += len(arr)
        docs_out += len(arrays)
        batch.clear()
        sources.clear()
        positions.clear()
        reads.clear()
        batch_languages.clear()
        report({"documents": docs_in, "tokens": tokens})

    with ExitStack() as outputs:
        if isinstance(writer, OutputWriter):
            outputs.enter_context(writer)
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
            sources.append(rec.get("source", 0))  # clean files record their source (process.py)
            positions.append(pos)
            reads.append(_as_read(rec))
            batch_languages.append(rec.get("language"))
            if len(batch) >= tcfg.batch_size:
                flush()
        if batch:
            flush()
        ref = writer.close()
    exact = docs_in - docs_out - near
    removed = {**({"exact_duplicate": exact} if exact else {}), **({"near_duplicate": near} if near else {})}
    counts = {
        "documents": docs_in,
        "kept": docs_out,
        "tokens": tokens,
        "truncated": truncated,
        "removed": removed,
        "profile": profile.to_dict(),
        # Which encoder wrote this partition's ids (documents), and why not the fast one when it was asked for.
        "encoders": {encoder.encoder.name: docs_out} if docs_out else {},
        "verified": encoder.verified,
        **({"encoder_fallback": {"partition": index, "detail": encoder.fallback}} if encoder.fallback else {}),
        **(writer.counts(ref) if isinstance(writer, OutputWriter) else {"shards": 0}),
        **({"languages": dict(sorted(languages.items()))} if languages else {}),
    }
    return counts, ref


def _as_read(rec: dict) -> dict:
    return {"id": rec["id"], "file": rec["file"], "line": rec["line"]}


def read_kept_ids_of(cfg: JobConfig, paths: WorkPaths, index: int, shards: int = 1) -> dict[int, str]:
    """Position -> id of the document kept instead, for both kinds of duplicates of one partition."""
    kept: dict[int, str] = {}
    if cfg.preprocessing.exact_dedup:
        kept.update(read_exact_kept(paths, index, shards))
    if cfg.preprocessing.near_dedup.enabled:
        kept.update(read_kept_ids(paths.files, paths.near_drops_kept(index)))
    return kept


def tokenize_unit(unit: UnitContext) -> UnitResult:
    """The tokenize stage's unit: one partition's kept documents, less both kinds of duplicates."""
    cfg, paths = unit.cfg, unit.paths
    check_output_owner(unit.files, cfg.output.path, unit.job_id)
    # The hash ranges the dedup decisions were cut into (a job planned before them has one).
    ranges = dedup_shards(cfg.preprocessing, unit.ref["partitions"]) if "partitions" in unit.ref else 1
    drops = read_drops(paths, unit.index, required=cfg.preprocessing.exact_dedup, shards=ranges)
    near = read_near_drops(paths, unit.index) if cfg.preprocessing.near_dedup.enabled else set()
    kept_ids = read_kept_ids_of(cfg, paths, unit.index, ranges) if cfg.preprocessing.keep_removed else None
    n_out = unit.ref.get("partitions", 1)  # used with output.shuffle
    return tokenize_partition(
        cfg, paths, unit.index, drops, unit.progress, near_positions=near, kept_ids=kept_ids, n_out=n_out
    )
