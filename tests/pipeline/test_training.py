"""The training task's store hooks: a second claim of the `train` row (a redelivered or resent task)
supersedes the first run, which then stops and writes no checkpoint."""

from __future__ import annotations

from pathlib import Path

from auralith.config import parse_config
from auralith.pipeline.training import StoreHooks, checkpoint_root
from auralith.store import Store, migrate
from auralith.store.db import dispose_all


def _metrics(step: int) -> dict:
    return {"step": step, "loss": 1.0, "lr": 1e-3, "tokens_per_s": 1.0, "tokens_seen": step, "elapsed_s": 1.0}


def test_a_newer_claim_supersedes_the_running_one(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    migrate.upgrade(url)
    Store(url).create_job("job-1", {"name": "j"}, "h" * 64, "j", "normal")
    Store(url).set_job_state("job-1", "running")
    Store(url).create_partitions("job-1", {"train": [({"manifest": "/m.json"}, 0)]})
    pid = Store(url).claim_partition("job-1", "train", 0, "w1", "t1").partition_id
    first = StoreHooks(Store(url), "job-1", pid, steps=10, interval=0)
    first.log(_metrics(1))
    assert not first.should_stop()

    Store(url).claim_partition("job-1", "train", 0, "w2", "t1")  # the same message, redelivered
    second = StoreHooks(Store(url), "job-1", pid, steps=10, interval=0)
    first.log(_metrics(2))
    assert first.should_stop() and first.superseded
    assert first.checkpoint_started(2, Path("/nowhere/2")) is False
    second.log(_metrics(1))
    assert not second.should_stop() and second.checkpoint_started(1, tmp_path / "1") is True
    assert [m["step"] for m in Store(url).metrics_history("job-1")] == [1, 1]  # step 2 of the old run: dropped

    Store(url).set_job_state("job-1", "cancelled")
    second.log(_metrics(2))
    assert second.should_stop() and second.cancelled
    dispose_all()


def test_checkpoint_root_keeps_s3_urls(tmp_path):
    base = {"sources": {"path": "data/*.jsonl"}, "tokenization": {"tokenizer": "tok.json"}, "training": {}}
    cfg = parse_config({**base, "work_dir": "s3://bkt/work/"}, base_dir=tmp_path)
    assert checkpoint_root(cfg, "j1") == "s3://bkt/work/j1/ckpt"
    cfg = parse_config({**base, "training": {"checkpoint_dir": "s3://bkt/ckpts"}}, base_dir=tmp_path)
    assert checkpoint_root(cfg, "j1") == "s3://bkt/ckpts/j1"
    cfg = parse_config({**base, "work_dir": "w"}, base_dir=tmp_path)
    assert checkpoint_root(cfg, "j1") == tmp_path.resolve() / "w" / "j1" / "ckpt"


def test_ranks_find_rank_0_through_its_row_and_a_timeout_says_what_each_missing_rank_is_doing(tmp_path):
    from auralith.pipeline.training import rank_gang
    from auralith.pipeline.unit import UnitContext

    url = f"sqlite:///{tmp_path}/s.db"
    migrate.upgrade(url)
    base = {"sources": {"path": "data/*.jsonl"}, "tokenization": {"tokenizer": "tok.json"}}
    cfg = parse_config({**base, "training": {"world_size": 3, "rendezvous_timeout_s": 5}}, base_dir=tmp_path)
    store = Store(url)
    store.create_job("job-1", {"name": "j"}, "h" * 64, "j", "normal")
    store.set_job_state("job-1", "running")
    refs = [{"manifest": "/m.json", "rank": r, "world_size": 3} for r in range(3)]
    store.create_partitions("job-1", {"train": [(ref, 0) for ref in refs]})
    units = []
    for rank, worker in ((0, "hpu0@a"), (1, "hpu1@b")):
        claim = store.claim_partition("job-1", "train", rank, worker, f"t{rank}")
        unit = UnitContext("job-1", "train", rank, cfg, refs[rank], store, claim.partition_id)
        hooks = StoreHooks(store, "job-1", claim.partition_id, steps=10, interval=0, rank=rank)
        units.append((unit, hooks))
    gang0 = rank_gang(*units[0], decide=dict)
    gang1 = rank_gang(*units[1], decide=dict)
    assert gang0 is not None and gang1 is not None
    assert (gang1.rank, gang1.world, gang1.host, gang1.rendezvous_timeout_s) == (1, 3, "127.0.0.1", 5)
    assert gang1.lookup() is None  # rank 0 has not published yet
    gang0.publish("127.0.0.1:4242/abc")
    assert gang1.lookup() == "127.0.0.1:4242/abc"
    said = gang0.describe_missing([1, 2])
    assert "rank 1 is started on hpu1@b" in said and "rank 2 is waiting for a free `train` worker" in said
    dispose_all()
