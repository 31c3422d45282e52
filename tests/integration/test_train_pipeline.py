"""A job with a `training:` section: the sample corpus is cleaned and tokenized, then the finalize step
chains the training task (queue `hpu`), a tiny GPT learns from the shards, and status shows it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from auralith.steps.shards import load_manifest
from auralith.storage import Files
from auralith.store import Store
from auralith.store.models import JobState
from tests.corpus import EXAMPLES

files = Files()  # no job: the environment's storage settings

pytestmark = pytest.mark.integration


def test_job_trains_on_its_own_shards_after_the_data_stages(client, pg_store, tmp_path: Path):
    shutil.copytree(EXAMPLES / "data", tmp_path / "data")
    shutil.copy(EXAMPLES / "tokenizer.json", tmp_path / "tokenizer.json")
    config = yaml.safe_load((EXAMPLES / "demo.yaml").read_text())
    config["training"] = {
        "layers": 2,
        "heads": 2,
        "d_model": 64,
        "context": 64,
        "batch_size": 8,
        "steps": 40,
        "lr": 3e-3,
        "warmup_steps": 4,
        "checkpoint_every": 20,
        "log_every": 10,
        "eval_every": 20,
        "threads": 1,
    }
    config["events"] = {"jsonl": "events.jsonl"}
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(config))

    info = client.wait(client.submit(tmp_path / "demo.yaml"), timeout=300)
    assert info.state == JobState.SUCCEEDED, info.error
    manifest = load_manifest(files, Path(info.output) / "manifest.json")
    assert manifest["tokens"] > 100_000

    t = info.to_dict()["training"]
    assert t["state"] == "committed" and t["step"] == 40 and t["device"].startswith("cpu")
    assert t["last_checkpoint"]["step"] == 40
    assert (Path(t["last_checkpoint"]["uri"]) / "model.safetensors").exists()
    history = Store(pg_store).metrics_history(info.id)
    assert [m["step"] for m in history] == [10, 20, 30, 40]
    assert history[-1]["loss"] < history[0]["loss"] - 0.5, history
    assert history[-1]["val_loss"] < history[1]["val_loss"] + 1e-9
    events = [message for _, _, message in client.events(info.id)]
    assert any(m.startswith("data ready") for m in events) and any("training finished" in m for m in events)
    # Event sinks see one `finished`, when training ends (not when the data stages do).
    sunk = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["kind"] for e in sunk].count("finished") == 1 and "training finished" in sunk[-1]["message"], sunk
