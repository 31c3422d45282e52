"""The stage graph as data: its order, what a config turns on, and that every stage can run a unit."""

from __future__ import annotations

import subprocess
import sys

from auralith.config import parse_config
from auralith.pipeline.stages import BY_TASK, QUEUES, STAGES, job_stages
from auralith.pipeline.stages import stage as graph_stage
from auralith.worker.settings import TASK_ROUTES
from tests.corpus import REPO

BASE = {"sources": {"path": "x.jsonl"}, "tokenization": {"tokenizer": "tok.json"}, "output": {"path": "/o"}}


def names(config: dict) -> list[str]:
    return [s.name for s in job_stages(parse_config({**BASE, **config}))]


def test_a_plain_job_runs_the_data_stages_in_order():
    assert names({}) == ["process", "dedup", "tokenize", "finalize"]


def test_near_dedup_and_training_add_their_stages_in_place():
    assert names({"preprocessing": {"near_dedup": {"enabled": True}}, "training": {}}) == [
        "process",
        "dedup",
        "minhash",
        "near_dedup",
        "tokenize",
        "finalize",
        "train",
    ]


def test_a_training_of_n_ranks_plans_one_unit_per_rank():
    cfg = parse_config({**BASE, "training": {"world_size": 3}})
    refs = next(s for s in job_stages(cfg) if s.name == "train").refs(cfg, 5)
    assert [(r["rank"], r["world_size"]) for r in refs] == [(0, 3), (1, 3), (2, 3)]


def test_units_planned_per_stage():
    cfg = parse_config({**BASE, "preprocessing": {"near_dedup": {"enabled": True, "num_bands": 4}}, "training": {}})
    refs = {s.name: s.refs(cfg, 3) for s in job_stages(cfg) if s.name != "process"}
    one = {"partitions": 3, "shard": 0, "shards": 1}
    assert refs == {
        "dedup": [one],
        "minhash": [{**one, "band": b} for b in range(4)],
        "near_dedup": [{"partitions": 3}],
        "tokenize": [{"process_index": i, "partitions": 3} for i in range(3)],
        "finalize": [{"partitions": 3}],
        "train": [{"manifest": "/o/manifest.json", "rank": 0, "world_size": 1}],
    }


def test_dedup_units_grow_with_the_corpus_one_hash_range_per_16_partitions():
    cfg = parse_config({**BASE, "preprocessing": {"near_dedup": {"enabled": True, "num_bands": 2}}})
    dedup, minhash = (graph_stage(name).refs(cfg, 40) for name in ("dedup", "minhash"))
    assert dedup == [{"partitions": 40, "shard": s, "shards": 3} for s in range(3)]
    # Unit b * shards + s: band b, key range s.
    assert [(r["band"], r["shard"]) for r in minhash] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert len(graph_stage("dedup").refs(cfg, 10**6)) == 4096  # the hash index's grid


def test_every_stage_names_a_unit_function_a_task_and_a_routed_queue():
    for stage in STAGES:
        assert callable(stage.unit_function()), stage.name
        assert not stage.more or callable(stage.more_function()), stage.name
        assert BY_TASK[stage.task] is stage and TASK_ROUTES[stage.task]["queue"] == stage.queue
    assert QUEUES == ("default", "process", "dedup", "tokenize", "hpu")


def test_the_graph_is_a_cheap_import():
    code = (
        "import sys, auralith.pipeline.stages; "
        "assert not {'numpy', 'celery', 'sqlalchemy', 'tokenizers'} & set(sys.modules), sorted(sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_near_clusters_are_one_join_up_to_join_max_ranges_and_rounds_above():
    cfg = parse_config({**BASE, "preprocessing": {"near_dedup": {"enabled": True}}})
    near = graph_stage("near_dedup")
    assert near.refs(cfg, 128) == [{"partitions": 128}]  # 8 hash ranges: one join
    rounds = near.refs(cfg, 129)  # 9 ranges: round 0 of the labels, a unit per range of partitions
    assert rounds == [{"partitions": 129, "phase": "label", "round": 0, "shard": s, "shards": 9} for s in range(9)]
