"""`training: {world_size: 2, model: {family: llama}}` on two `hpu` workers (`--pool=solo`, gloo, CPU): the ranks
rendezvous through the store with no launcher; 2 ranks of batch B train the loss curve of 1 rank of batch 2B; a
rank's worker SIGKILLed mid-run (rank 0's by default, whose published address then goes stale;
AURALITH_TEST_KILL_RANK=1 kills the other) is healed by the supervisor (`celery beat`; AURALITH_TEST_HEAL_BY=resume:
by `auralith resume`): the live rank stops at its next collective, the gang forms again on the live workers from
the newest committed checkpoint, the final weights equal those of an uninterrupted 2-rank run, and the exported
folder loads in transformers and generates.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from auralith.store import Store
from auralith.store.models import JobState
from tests.integration.conftest import SUBPROCESS_REDIS_DB, flush_redis
from tests.integration.faultkit import HEALING_ENV, Beat, Worker, cli
from tests.train.conftest import write_shards

pytestmark = pytest.mark.integration
STEPS = 40
# The rank whose worker is killed: rank 0 (its published address goes stale too) unless AURALITH_TEST_KILL_RANK says.
VICTIM = int(os.environ.get("AURALITH_TEST_KILL_RANK", "0"))
# Who heals: the supervisor in `celery beat` (default), or `auralith resume JOB` by hand (`resume`): both `advance`.
HEAL_BY = os.environ.get("AURALITH_TEST_HEAL_BY", "supervisor")
TRAINING = {
    "model": {"family": "llama", "layers": 1, "heads": 2, "kv_heads": 1, "d_model": 32, "ffn": 64},
    "context": 32,
    "batch_size": 4,
    "steps": STEPS,
    "lr": 3e-3,
    "warmup_steps": 5,
    "checkpoint_every": 10,
    "log_every": 1,
    "progress_interval_s": 0,
    "threads": 1,
    "device": "cpu",
    "seed": 4,
    "world_size": 2,
    "rendezvous_timeout_s": 60,
    "collective_timeout_s": 30,
}


def _config(tmp_path: Path, tokenizer_path: Path, name: str, **training) -> Path:
    path = tmp_path / f"{name}.yaml"
    cfg = {
        "name": name,
        "sources": [{"path": "data/*.jsonl"}],
        "tokenization": {"tokenizer": str(tokenizer_path)},
        "work_dir": "work",
        "training": {**TRAINING, **training},
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def _rank_rows(store: Store, job_id: str) -> list:
    return sorted(store.list_partitions(job_id, "train"), key=lambda p: p.index)


def test_two_ranks_train_like_one_of_twice_the_batch_and_heal_a_killed_rank(
    client, redis_base, pg_store, tokenizer_path, tmp_path
):
    manifest = write_shards(tmp_path / "shards", tokenizer_path)
    # 1 rank of batch 2B, on the in-process worker.
    single = client.wait(
        client.train(_config(tmp_path, tokenizer_path, "one", world_size=1, batch_size=8), manifest), timeout=120
    )
    assert single.state == JobState.SUCCEEDED, single.error

    flush_redis(SUBPROCESS_REDIS_DB)
    env = {
        **os.environ,
        "AURALITH_BROKER_URL": f"{redis_base}/{SUBPROCESS_REDIS_DB}",
        "AURALITH_STORE_URL": pg_store,
        **HEALING_ENV,
    }
    store = Store(pg_store)
    beat = Beat(env, tmp_path / "beat.log") if HEAL_BY == "supervisor" else None
    workers = [Worker(env, tmp_path / f"hpu{i}.log", queues="hpu", pool="solo") for i in range(2)]
    if beat is None:  # `auralith resume` sends run_job to the default queue
        workers.append(Worker(env, tmp_path / "default.log", queues="default", pool="solo"))
    logs = lambda: "\n".join(w.tail(2000) for w in workers)  # noqa: E731
    try:
        # The uninterrupted 2-rank run.
        two = str(_config(tmp_path, tokenizer_path, "two"))
        whole_id = cli(env, "train", two, "--shards", str(manifest), "--submit")
        whole = client.wait(whole_id, timeout=180)
        assert whole.state == JobState.SUCCEEDED, (whole.error or "") + logs()

        # The same again, with the worker of rank 1 killed past step 15.
        job_id = cli(env, "train", two, "--shards", str(manifest), "--submit")
        deadline = time.monotonic() + 120
        while ((_rank_rows(store, job_id)[0].progress or {}).get("step") or 0) < 15:
            assert time.monotonic() < deadline, logs()
            time.sleep(0.01)
        victim = _rank_rows(store, job_id)[VICTIM].worker
        killed = next(w for w in workers if w.proc.args[-1].split("@")[0] == victim.split("@")[0])
        killed.kill()
        killed_at = (_rank_rows(store, job_id)[0].progress or {}).get("step")
        workers.append(Worker(env, tmp_path / "hpu2.log", queues="hpu", pool="solo"))  # a live worker to heal onto
        if beat is None:
            time.sleep(float(HEALING_ENV["AURALITH_HEARTBEAT_TIMEOUT_S"]) + 1)  # the dead worker's heartbeat expires
            cli(env, "resume", job_id)
        info = client.wait(job_id, timeout=180)
        assert info.state == JobState.SUCCEEDED, (info.error or "") + logs()
    finally:
        for w in workers:
            w.kill()
        if beat is not None:
            beat.kill()
        flush_redis(SUBPROCESS_REDIS_DB)

    # 2 ranks x B trace the loss curve of 1 rank x 2B.
    ones, twos, healed = (store.metrics_history(j) for j in (single.id, whole_id, job_id))
    assert [m["step"] for m in twos] == list(range(1, STEPS + 1))
    assert [m["loss"] for m in twos] == pytest.approx([m["loss"] for m in ones], rel=1e-5)
    # The healed run: every step logged once, each loss and the final weights those of the uninterrupted 2 ranks.
    assert STEPS > killed_at >= 15
    assert [m["step"] for m in healed] == list(range(1, STEPS + 1))
    assert [m["loss"] for m in healed] == [m["loss"] for m in twos]
    assert info.training["params_sha256"] == whole.training["params_sha256"]
    events = [message for _, _, message in client.events(job_id)]
    live = 1 - VICTIM
    if HEAL_BY == "supervisor":
        assert any(m.startswith(f"train/{VICTIM} sent again: worker ") for m in events), events
    else:
        assert any(m.startswith("resume requested") for m in events), events
    assert any(f"train rank {live}: rank {live} of 2: the gang broke" in m for m in events), events
    assert any("training resumed at step" in m for m in events), events
    # The end of training wrote a folder that transformers loads and generates from.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = store.get_partition(job_id, "train", 0).output_ref["export"]
    model, tok = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    ids = tok("the cat", return_tensors="pt")
    assert model.config.model_type == "llama"
    assert model.generate(**ids, max_new_tokens=4, do_sample=False).shape[1] == ids["input_ids"].shape[1] + 4
    print(f"\nrank {VICTIM} killed at step {killed_at}; events: {events}")
