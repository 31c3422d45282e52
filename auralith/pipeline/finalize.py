"""The finalize stage: `manifest.json` written after every shard, from the committed rows' figures.

The manifest is the last file of a job's output: a trainer that finds it knows every shard it lists is whole.
"""

from __future__ import annotations

from pathlib import Path

from auralith.config import JobConfig
from auralith.pipeline.mix_report import output_rows, realised_mix, write_data_path
from auralith.pipeline.output import check_output_owner
from auralith.pipeline.stats import job_stats
from auralith.pipeline.unit import UnitContext, UnitResult
from auralith.steps.shards import write_manifest
from auralith.steps.tokenize import load_tokenizer, resolve_eos_id, tokenizer_hash
from auralith.store.models import Partition, PartitionState, utcnow


def build_manifest(cfg: JobConfig, job_id: str, config_hash: str, partitions: list[Partition]) -> dict:
    """The manifest's content: the tokenizer, the figures and every shard, in partition order."""
    tokenize = sorted((p for p in partitions if p.stage == "tokenize"), key=lambda p: p.index)
    missing = [p.index for p in tokenize if p.state != PartitionState.COMMITTED]
    if missing:  # advance() sends finalize only after tokenize: this is a bug, never a state to write
        raise RuntimeError(f"finalize of job {job_id} before tokenize partitions {missing} committed")
    stats = job_stats(partitions)
    tok = load_tokenizer(cfg.tokenization.tokenizer)
    # The output's rows: tokenize's, or with a mixed or shuffled output the write stage's (spilled first).
    outputs = output_rows(cfg, partitions)
    shards = [s for p in outputs for s in (p.output_ref or {}).get("shards", [])]
    megatron = [m for p in outputs for m in (p.output_ref or {}).get("megatron", [])]
    return {
        "format": "auralith-manifest/1",
        "job_id": job_id,
        "name": cfg.name,
        "created_at": utcnow().isoformat(),
        "config_hash": config_hash,
        "tokenizer": {
            "spec": cfg.tokenization.tokenizer,
            "sha256": tokenizer_hash(tok),
            "vocab_size": tok.get_vocab_size(with_added_tokens=True),
            "eos_id": resolve_eos_id(tok, cfg.tokenization.eos_token) if cfg.tokenization.append_eos else None,
            "encoders": stats.encoders,
            "encoder_fallbacks": stats.encoder_fallbacks,
        },
        "dtype": shards[0]["dtype"] if shards else None,
        "mix": _mix_of(partitions),
        "documents": stats.documents_out,
        "tokens": stats.tokens,
        "documents_in": stats.records,
        "removed": stats.removed,
        **({"languages": stats.languages} if stats.languages else {}),
        "shards": shards,
        "formats": cfg.output.formats,
        **({"megatron": megatron, "megatron_dtype": megatron[0]["dtype"] if megatron else None} if megatron else {}),
        "shuffle": {"seed": cfg.output.shuffle_seed} if cfg.output.shuffle else None,
        "sources": realised_mix(cfg, partitions, outputs),
    }


def _mix_of(partitions: list[Partition]) -> dict | None:
    """The job's mix settings and totals, with `auralith.pipeline.mix`'s decision (None: not mixed)."""
    decided = next((p.output_ref or {} for p in partitions if p.stage == "mix"), {}).get("mix")
    if decided is None:
        return None
    return {
        "token_budget": decided["token_budget"],
        "seed": decided["seed"],
        "weighted": decided["weighted"],
        "available_tokens": sum(s["available_tokens"] for s in decided["sources"]),
        "target_tokens": sum(s["target_tokens"] for s in decided["sources"]),
    }


def finalize_unit(unit: UnitContext) -> UnitResult:
    """The finalize stage's one unit: write the manifest last."""
    cfg = unit.cfg
    check_output_owner(unit.files, cfg.output.path, unit.job_id)
    job = unit.store.get_job(unit.job_id)
    manifest = build_manifest(cfg, unit.job_id, job.config_hash, unit.rows())
    if manifest.get("megatron"):
        write_data_path(unit.files, cfg.output.path, manifest["megatron"])
    path: str | Path = write_manifest(unit.files, cfg.output.path, manifest)
    counts = {"documents": manifest["documents"], "tokens": manifest["tokens"], "shards": len(manifest["shards"])}
    return counts, {"manifest": str(path)}
