"""A mixed, shuffled, Megatron-format output, stage by stage without Celery: process -> dedup -> tokenize
(spilled) -> mix -> write. The same documents are picked whatever the partitioning; a rerun writes the same
bytes; every document is accounted for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from auralith.config import JobConfig, parse_config
from auralith.pipeline.exact_dedup import decide_dedup, read_drops
from auralith.pipeline.mix import decide_mix
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.plan import plan_partitions
from auralith.pipeline.process import process_partition
from auralith.pipeline.spill import SAMPLE_BUCKETS, read_histogram
from auralith.pipeline.tokenize import tokenize_partition
from auralith.pipeline.write_output import sampled_path, write_part
from auralith.sources.readers import iter_jsonl_zst
from auralith.steps.megatron import read_megatron
from auralith.steps.shards import iter_shard_documents
from auralith.storage import Files
from tests.corpus import sentences, write_jsonl

files = Files()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mix-data")
    write_jsonl(root / "web.jsonl", [{"id": f"w{i}", "text": t} for i, t in enumerate(sentences(300, seed=1))])
    write_jsonl(root / "code.jsonl", [{"id": f"c{i}", "text": t} for i, t in enumerate(sentences(80, seed=2))])
    return root


def _config(tmp: Path, data: Path, tokenizer: Path, partition_mb: float, **output) -> JobConfig:
    return parse_config(
        {
            "sources": [
                {"path": str(data / "web.jsonl"), "weight": 2},
                {"path": str(data / "code.jsonl"), "weight": 1},
            ],
            "partition_size_mb": partition_mb,
            "taper_partitions": False,
            "work_dir": str(tmp / "work"),
            "preprocessing": {"quality": {"enabled": False}},
            "tokenization": {"tokenizer": str(tokenizer)},
            "output": {"path": str(tmp / "out"), "format": ["megatron", "safetensors"], **output},
            "mixing": {"token_budget": 9_000, "seed": 5},
        }
    )


def _run(cfg: JobConfig) -> tuple[list[dict], dict, list[dict]]:
    """Every stage in turn; (tokenize counts, mix decision, write counts)."""
    plan = plan_partitions(cfg)
    paths = WorkPaths.for_job(cfg, "job")
    n = len(plan)
    processed = [process_partition(cfg, pieces, paths, i) for i, pieces in enumerate(plan)]
    decide_dedup(paths, n)
    tokenized = [tokenize_partition(cfg, paths, i, read_drops(paths, i), n_out=n)[0] for i in range(n)]
    hist = sum(read_histogram(files, paths, i) for i in range(n))
    decision = decide_mix(cfg, hist)
    written = [write_part(cfg, paths, j, n, decision) for j in range(n)]
    assert sum(p["records"] for p in processed) == 380
    return tokenized, decision, [c for c, _ in written]


def _documents(cfg: JobConfig) -> list[list[int]]:
    out = Path(cfg.output.path)
    return [d.tolist() for idx in sorted(out.glob("part-*.idx")) for d in read_megatron(files, idx.with_suffix(""))]


def test_mixed_output_is_what_was_decided_and_accounted_for(tmp_path, data, tokenizer_path):
    cfg = _config(tmp_path, data, tokenizer_path, 0.01, shuffle=True, shuffle_seed=1)
    cfg = cfg.model_copy(update={"preprocessing": cfg.preprocessing.model_copy(update={"keep_removed": True})})
    tokenized, decision, written = _run(cfg)
    assert len(written) > 3
    web, code = decision["sources"]
    assert (web["target_tokens"], code["target_tokens"]) == (6_000, 3_000)  # the budget at 2:1
    assert web["available_tokens"] > 6_000 and code["available_tokens"] > 3_000
    assert 5_900 < web["selected_tokens"] <= 6_000 and 2_900 < code["selected_tokens"] <= 3_000
    assert web["keep_below"] < SAMPLE_BUCKETS and code["keep_below"] < SAMPLE_BUCKETS
    by_source = [sum(c["tokens_by_source"].get(str(s), 0) for c in written) for s in (0, 1)]
    assert by_source == [web["selected_tokens"], code["selected_tokens"]]
    # every document tokenize kept is written or removed as sampled_out
    assert sum(c["kept"] for c in tokenized) == sum(c["kept"] + c["removed"].get("sampled_out", 0) for c in written)
    docs = _documents(cfg)
    assert len(docs) == sum(c["kept"] for c in written)
    # keep_removed: where each sampled-out document is, in its partition's clean file
    paths = WorkPaths.for_job(cfg, "job")
    aside = [r for j in range(len(written)) for r in iter_jsonl_zst(files, sampled_path(paths, j))]
    assert len(aside) == sum(c["removed"].get("sampled_out", 0) for c in written) > 0
    clean = {i: list(iter_jsonl_zst(files, paths.clean(i))) for i in {r["partition"] for r in aside}}
    assert all(clean[r["partition"]][r["position"]]["source"] == r["source"] for r in aside)
    shards = [
        d.tolist() for p in sorted(Path(cfg.output.path).glob("*.safetensors")) for d in iter_shard_documents(files, p)
    ]
    assert sorted(map(tuple, shards)) == sorted(map(tuple, docs))  # both formats hold the same documents


def test_same_documents_whatever_the_partitioning_and_same_bytes_on_a_rerun(tmp_path, data, tokenizer_path):
    small = _config(tmp_path / "a", data, tokenizer_path, 0.01, shuffle=True, shuffle_seed=1)
    large = _config(tmp_path / "b", data, tokenizer_path, 1.0)
    _run(small)
    _run(large)
    assert len(list(Path(large.output.path).glob("*.idx"))) == 1 < len(list(Path(small.output.path).glob("*.idx")))
    assert sorted(map(tuple, _documents(small))) == sorted(map(tuple, _documents(large)))
    before = {p.name: p.read_bytes() for p in Path(small.output.path).iterdir()}
    _run(small)
    assert {p.name: p.read_bytes() for p in Path(small.output.path).iterdir()} == before


def test_shuffle_mixes_partitions_and_follows_its_seed(tmp_path, data, tokenizer_path):
    plain = _config(tmp_path / "plain", data, tokenizer_path, 0.01)
    _run(plain)
    orders = []
    for seed in (1, 2):
        cfg = _config(tmp_path / f"s{seed}", data, tokenizer_path, 0.01, shuffle=True, shuffle_seed=seed)
        _run(cfg)
        orders.append(_documents(cfg))
    assert sorted(orders[0]) == sorted(orders[1]) == sorted(_documents(plain))
    assert orders[0] != orders[1] != _documents(plain)
    # the first output part holds documents from both sources (the unshuffled one is all web.jsonl)
    first = read_megatron(files, Path(tmp_path / "s1" / "out" / "part-00000"))
    assert len(first) > 1 and np.concatenate(first).size > 0


def test_without_mix_or_shuffle_tokenize_writes_megatron_files_itself(tmp_path, data, tokenizer_path):
    cfg = _config(tmp_path, data, tokenizer_path, 0.01)
    cfg = cfg.model_copy(update={"sources": [s.model_copy(update={"weight": None}) for s in cfg.sources]})
    cfg = cfg.model_copy(update={"mixing": cfg.mixing.model_copy(update={"token_budget": None})})
    assert not cfg.spills
    plan = plan_partitions(cfg)
    paths = WorkPaths.for_job(cfg, "job")
    for i, pieces in enumerate(plan):
        process_partition(cfg, pieces, paths, i)
    decide_dedup(paths, len(plan))
    refs = [tokenize_partition(cfg, paths, i, read_drops(paths, i))[1] for i in range(len(plan))]
    assert [m["prefix"] for r in refs for m in r["megatron"]] == [f"part-{i:05d}" for i in range(len(plan))]
    assert not (Path(cfg.work_dir) / "job" / "spill").exists()
    out = Path(cfg.output.path)
    shards = [d.tolist() for p in sorted(out.glob("*.safetensors")) for d in iter_shard_documents(files, p)]
    assert _documents(cfg) == shards  # the same documents in the same order
