"""What the manifest says of the mix (tokens per source, requested vs realised) and the Megatron data path."""

from __future__ import annotations

from collections import Counter

from auralith.config import JobConfig
from auralith.pipeline.output import MEGATRON_DATA_PATH
from auralith.storage import Files, join
from auralith.store.models import Partition


def output_rows(cfg: JobConfig, partitions: list[Partition]) -> list[Partition]:
    """The rows that wrote the output: tokenize's, or with a mixed or shuffled output the write stage's."""
    stage = "write" if cfg.spills else "tokenize"
    return sorted((p for p in partitions if p.stage == stage), key=lambda p: p.index)


def realised_mix(cfg: JobConfig, partitions: list[Partition], outputs: list[Partition]) -> list[dict]:
    """Per source: the tokens and documents written, its share of the output, and (with mixing) what was asked
    and what the mix stage decided."""
    tokens: Counter[str] = Counter()
    documents: Counter[str] = Counter()
    sampled_out: Counter[str] = Counter()
    for p in outputs:
        c = p.counts or {}
        tokens.update(c.get("tokens_by_source", {}))
        documents.update(c.get("documents_by_source", {}))
        sampled_out.update(c.get("sampled_out_by_source", {}))
    decided = next((p.output_ref or {} for p in partitions if p.stage == "mix"), {}).get("mix")
    total = sum(tokens.values())
    rows = []
    for s, src in enumerate(cfg.sources):
        row: dict[str, object] = {
            "source": s,
            "path": src.path,
            "tokens": tokens[str(s)],
            "documents": documents[str(s)],
            "share": round(tokens[str(s)] / total, 6) if total else 0.0,
        }
        if decided is not None:
            d = decided["sources"][s]
            row.update(
                weight=src.weight,
                max_tokens=src.max_tokens,
                share_requested=d["share_requested"],
                available_tokens=d["available_tokens"],
                target_tokens=d["target_tokens"],
                documents_sampled_out=sampled_out[str(s)],
            )
        rows.append(row)
    return rows


def write_data_path(files: Files, out_dir: str, megatron: list[dict]) -> None:
    """`megatron-data-path.txt`: "weight prefix" pairs, each .bin/.idx pair weighted by its tokens, so Megatron's
    blend reads every document as often as one concatenated dataset would (`--data-path $(cat FILE)`, or
    `--data-args-path FILE`)."""
    pairs = " ".join(f"{m['n_tokens']} {join(out_dir, m['prefix'])}" for m in megatron)
    files.write_bytes_atomic(join(out_dir, MEGATRON_DATA_PATH), (pairs + "\n").encode())
