"""The mix stage (one unit per job): how many tokens of each source the output holds, and which documents.

From the tokenize partitions' histograms (tokens per source and sample bucket, auralith.pipeline.spill) it sets
each source's target and the sample bucket below which its documents are kept: the documents of smallest
seeded hash, bucket by bucket, while the source's tokens stay within its target. The `write` units apply it.

Targets, with `available` the tokens a source has after filters and dedup, capped by its `max_tokens`:
- with weights (any `sources[].weight` set; an unset one counts 1): each source gets `share = weight / sum`
  of a total that is the largest every source can fill at its share, no more than `mixing.token_budget`: the
  mix is the one asked for, the smallest source bounds the total, and nothing is repeated (a source with no
  tokens at all bounds nothing);
- without weights: each source keeps its natural share, all scaled down to the budget when one is set.
"""

from __future__ import annotations

import math

import numpy as np

from auralith.config import JobConfig
from auralith.pipeline.spill import SAMPLE_BUCKETS, read_histogram
from auralith.pipeline.unit import UnitContext, UnitResult


def decide_mix(cfg: JobConfig, hist: np.ndarray) -> dict:
    """The mix for token histograms `hist` (sources x SAMPLE_BUCKETS): per source, its figures and `keep_below`,
    the first sample bucket not kept."""
    available = hist.sum(axis=1)
    caps = np.array([int(a) for a in available], dtype=np.float64)
    for s, src in enumerate(cfg.sources):
        if src.max_tokens is not None:
            caps[s] = min(caps[s], src.max_tokens)
    budget = cfg.mixing.token_budget
    weighted = any(s.weight is not None for s in cfg.sources)
    shares: list[float | None] = [None] * len(cfg.sources)
    if weighted:
        weights = np.array([s.weight if s.weight is not None else 1.0 for s in cfg.sources])
        share = weights / weights.sum()
        shares = [float(x) for x in share]
        # A source with nothing left after the filters cannot be filled at any total: it bounds nothing (the
        # manifest shows its share as 0) rather than emptying the whole output.
        filled = caps > 0
        total = float(np.min(caps[filled] / share[filled])) if filled.any() else 0.0
        if budget is not None:
            total = min(total, float(budget))
        targets = np.minimum(share * total, caps)
    else:
        scale = min(1.0, budget / caps.sum()) if budget is not None and caps.sum() else 1.0
        targets = caps * scale
    sources = []
    for s, (row, target) in enumerate(zip(hist, targets, strict=True)):
        cumulative = np.cumsum(row)
        target_tokens = math.floor(target + 1e-6)  # a float rounding must not lose the last bucket of a full source
        keep_below = int(np.searchsorted(cumulative, target_tokens, side="right"))
        selected = int(cumulative[keep_below - 1]) if keep_below else 0
        src = cfg.sources[s]
        sources.append(
            {
                "source": s,
                "path": src.path,
                "weight": src.weight,
                "max_tokens": src.max_tokens,
                "share_requested": shares[s],
                "available_tokens": int(available[s]),
                "target_tokens": target_tokens,
                "selected_tokens": selected,
                "keep_below": min(keep_below, SAMPLE_BUCKETS),
            }
        )
    return {"token_budget": budget, "seed": cfg.mixing.seed, "weighted": weighted, "sources": sources}


def keep_below_of(decision: dict | None, n_sources: int) -> np.ndarray | None:
    """Per source, the first sample bucket the mix drops (None: no mix, keep everything)."""
    if decision is None:
        return None
    keep = np.full(n_sources, SAMPLE_BUCKETS, dtype=np.int64)
    for s in decision["sources"]:
        keep[s["source"]] = s["keep_below"]
    return keep


def mix_unit(unit: UnitContext) -> UnitResult:
    """The mix stage's unit: sum every tokenize partition's histogram, decide, hand the decision on in the row."""
    n = unit.ref["partitions"]
    hist = np.zeros((len(unit.cfg.sources), SAMPLE_BUCKETS), dtype=np.int64)
    for i in range(n):
        hist += read_histogram(unit.files, unit.paths, i)
    decision = decide_mix(unit.cfg, hist)
    counts = {
        "available_tokens": int(sum(s["available_tokens"] for s in decision["sources"])),
        "selected_tokens": int(sum(s["selected_tokens"] for s in decision["sources"])),
    }
    return counts, {"mix": decision}


def read_decision(unit: UnitContext) -> dict | None:
    """The committed mix decision of the unit's job (None when the job does not mix)."""
    if not unit.cfg.mixes:
        return None
    rows = unit.rows("mix")
    if not rows or rows[0].output_ref is None:  # advance() sends `write` only after `mix`: a bug, not a state
        raise RuntimeError(f"write of job {unit.job_id} before its mix was decided")
    return rows[0].output_ref["mix"]
