"""The write stage (one unit per output part), for a job whose output is mixed or shuffled: the spilled tokens
(auralith.pipeline.spill) -> the output files, less what the mix leaves out (removed as `sampled_out`).

Unit j reads out unit j of every partition's spill with `output.shuffle` (one byte range each), else partition
j's whole spill. Shuffled documents are ordered by their seeded hash (ties: partition, position), so the output
is the same on every run and after any fault.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from auralith.config import JobConfig
from auralith.pipeline.mix import keep_below_of, read_decision
from auralith.pipeline.output import check_output_owner
from auralith.pipeline.outputs import OutputWriter
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.spill import META, read_spill_unit
from auralith.pipeline.unit import UnitContext, UnitResult
from auralith.sources.readers import jsonl_zst_writer
from auralith.steps.tokenize import load_tokenizer, token_dtype
from auralith.storage import join


def sampled_path(paths: WorkPaths, index: int) -> Path | str:
    """The documents output part `index` left out of the mix (only with keep_removed)."""
    return join(paths.root, "removed", f"{index:05d}.sampled.jsonl.zst")


def job_token_dtype(cfg: JobConfig) -> np.dtype:
    tok = load_tokenizer(cfg.tokenization.tokenizer)
    return token_dtype(tok.get_vocab_size(with_added_tokens=True), cfg.tokenization.dtype)


def write_part(cfg: JobConfig, paths: WorkPaths, index: int, n: int, decision: dict | None) -> tuple[dict, dict]:
    """Write output part `index` of `n` from the spills; (counts, output_ref)."""
    files, dtype = paths.files, job_token_dtype(cfg)
    inputs = range(n) if cfg.output.shuffle else [index]
    out = index if cfg.output.shuffle else 0
    metas, tokens, partition = [], [], []
    for i in inputs:
        meta, toks = read_spill_unit(files, paths, i, out, dtype)
        metas.append(meta)
        tokens.append(toks)
        partition.append(np.full(len(meta), i, dtype=np.int64))
    meta = np.concatenate(metas) if metas else np.zeros(0, dtype=META)
    parts = np.concatenate(partition) if partition else np.zeros(0, dtype=np.int64)
    all_tokens = np.concatenate(tokens) if tokens else np.zeros(0, dtype=dtype)
    starts = np.zeros(len(meta) + 1, dtype=np.int64)  # each record's tokens in all_tokens (same order)
    np.cumsum(meta["length"], out=starts[1:])
    order = np.lexsort((meta["pos"], parts, meta["key"])) if cfg.output.shuffle else np.arange(len(meta))
    keep_below = keep_below_of(decision, len(cfg.sources))
    sampled_out: Counter[int] = Counter()
    sampled_tokens = 0
    with ExitStack() as stack:
        writer = stack.enter_context(OutputWriter(cfg, files, index, dtype))
        # With keep_removed, where each sampled-out document is: its partition's clean file holds its id and text.
        aside = (
            stack.enter_context(jsonl_zst_writer(files, sampled_path(paths, index)))
            if cfg.preprocessing.keep_removed
            else None
        )
        for k in order.tolist():
            rec = meta[k]
            source, length = int(rec["source"]), int(rec["length"])
            if keep_below is not None and rec["sample"] >= keep_below[source]:
                sampled_out[source] += 1
                sampled_tokens += length
                if aside is not None:
                    where = {"partition": int(parts[k]), "position": int(rec["pos"]), "source": source}
                    aside.write({**where, "tokens": length, "reason": "sampled_out"})
                continue
            writer.add(all_tokens[int(starts[k]) : int(starts[k]) + length], source)
        ref = writer.close()
    n_docs = len(meta)
    removed = sum(sampled_out.values())
    counts = {
        "documents": n_docs,
        "kept": n_docs - removed,
        "tokens_in": int(meta["length"].sum()),
        "tokens": int(meta["length"].sum()) - sampled_tokens,
        "removed": {"sampled_out": removed} if removed else {},
        "sampled_out_by_source": {str(s): c for s, c in sorted(sampled_out.items())},
        **writer.counts(ref),
    }
    return counts, ref


def write_unit(unit: UnitContext) -> UnitResult:
    cfg = unit.cfg
    check_output_owner(unit.files, cfg.output.path, unit.job_id)
    return write_part(cfg, unit.paths, unit.index, unit.ref["partitions"], read_decision(unit))
