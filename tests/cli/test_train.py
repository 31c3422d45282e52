"""`auralith train CONFIG --shards manifest.json`: trains here with no servers; status shows the checkpoint."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import yaml
from click.testing import CliRunner

from auralith.cli.main import main
from auralith.report.loss_curve import plot_loss_curve
from auralith.storage import Files
from auralith.store import Store
from auralith.store.db import dispose_all
from auralith.train.checkpoint import read_manifest
from auralith.train.checkpoint_files import complete_steps
from tests.cli.command import AURALITH, auralith_env, run_auralith
from tests.train.conftest import upload_folder

files = Files()  # no job: the environment's storage settings

TRAINING = {
    "layers": 2,
    "heads": 2,
    "d_model": 64,
    "context": 32,
    "batch_size": 8,
    "steps": 30,
    "lr": 3e-3,
    "warmup_steps": 3,
    "checkpoint_every": 10,
    "keep_last": 2,
    "log_every": 5,
    "eval_every": 10,
    "threads": 1,
    "device": "auto",
}


def _config(tmp_path: Path, tokenizer_path: Path, training: dict | None = TRAINING, **extra) -> Path:
    cfg = {
        "name": "tiny",
        "sources": [{"path": "data/*.jsonl"}],
        "tokenization": {"tokenizer": str(tokenizer_path)},
        "events": {"jsonl": "events.jsonl"},
        **extra,
    }
    if training:
        cfg["training"] = training
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_here_on_existing_shards(tmp_path, tokenizer_path, shards_manifest):
    config = _config(tmp_path, tokenizer_path)
    out = run_auralith("train", str(config), "--shards", str(shards_manifest), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    for expected in ("train", "step 30/30", "succeeded", "last checkpoint", "tok/s"):
        assert expected in out.stdout, out.stdout

    store = f"sqlite:///{tmp_path / '.auralith' / 'auralith.db'}"
    job = json.loads(run_auralith("--store", store, "jobs", "--json", cwd=tmp_path).stdout)[0]
    status = json.loads(run_auralith("--store", store, "status", job["id"], "--json", cwd=tmp_path).stdout)
    training = status["training"]
    assert status["state"] == "succeeded" and training["state"] == "committed" and training["step"] == 30
    last = training["last_checkpoint"]
    assert last["step"] == 30 and (Path(last["uri"]) / "manifest.json").exists()
    ckpt_root = Path(last["uri"]).parent
    assert sorted(p.name for p in ckpt_root.iterdir()) == ["20", "30"], "keep_last: 2"

    history = Store(store).metrics_history(job["id"])
    dispose_all()
    assert [m["step"] for m in history] == [5, 10, 15, 20, 25, 30]
    assert history[-1]["loss"] < history[0]["loss"]
    # The job's life reaches event sinks with the kinds webhooks filter on (submitted, started, finished).
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert kinds[0] == "submitted" and kinds[-1] == "finished" and "started" in kinds, kinds
    png = plot_loss_curve(history, tmp_path / "loss.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The end of training wrote a Hugging Face folder; `auralith export` writes one from the newest checkpoint.
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in ckpt_root.parent.joinpath("hf").iterdir()
    }
    out = run_auralith("--store", store, "export", job["id"], "--out", str(tmp_path / "hf"), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    exported = json.loads(out.stdout)
    assert exported["step"] == 30 and "model.safetensors" in exported["files"]
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["model_type"] == "gpt2"


def test_train_on_s3_shards_with_checkpoints_on_s3(tmp_path, tokenizer_path, shards_manifest, bucket):
    manifest = upload_folder(shards_manifest.parent, f"s3://{bucket}/out")
    config = _config(
        tmp_path, tokenizer_path, {**TRAINING, "cache_dir": str(tmp_path / "cache")}, work_dir=f"s3://{bucket}/work"
    )
    s3_env = {
        k: os.environ[k]
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AURALITH_S3_ENDPOINT_URL")
    }
    out = run_auralith("train", str(config), "--shards", f"s3://{bucket}/out", cwd=tmp_path, env=s3_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "succeeded" in out.stdout and manifest in " ".join(out.stdout.split()), out.stdout
    store = f"sqlite:///{tmp_path / '.auralith' / 'auralith.db'}"
    job = json.loads(run_auralith("--store", store, "jobs", "--json", cwd=tmp_path).stdout)[0]
    last = json.loads(run_auralith("--store", store, "status", job["id"], "--json", cwd=tmp_path).stdout)["training"][
        "last_checkpoint"
    ]
    root = f"s3://{bucket}/work/{job['id']}/ckpt"
    assert last["uri"] == f"{root}/30" and complete_steps(files, root) == [20, 30], "keep_last: 2"
    assert read_manifest(files, last["uri"])["params_sha256"] == last["sha256"]


def test_config_without_training_section_is_one_line_error(tmp_path, tokenizer_path, shards_manifest):
    result = CliRunner().invoke(
        main, ["train", str(_config(tmp_path, tokenizer_path, None)), "--shards", str(shards_manifest)]
    )
    assert result.exit_code == 1
    assert "no `training:` section" in " ".join(result.output.split()) and "Traceback" not in result.output


def test_several_ranks_here_are_one_line_error_pointing_at_submit(tmp_path, tokenizer_path, shards_manifest):
    config = _config(tmp_path, tokenizer_path, {**TRAINING, "world_size": 2})
    result = CliRunner().invoke(main, ["train", str(config), "--shards", str(shards_manifest)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "world_size is 2" in result.output and "--submit" in " ".join(result.output.split())


def test_missing_manifest_is_one_line_error(tmp_path, tokenizer_path):
    result = CliRunner().invoke(
        main, ["train", str(_config(tmp_path, tokenizer_path)), "--shards", str(tmp_path / "nowhere")]
    )
    assert result.exit_code == 1 and "no manifest.json" in " ".join(result.output.split())


def test_interrupted_training_goes_on_from_its_checkpoint_with_the_printed_command(
    tmp_path, tokenizer_path, shards_manifest
):
    config = _config(tmp_path, tokenizer_path, {**TRAINING, "steps": 60})
    # SIGINT at its default in the child (see tests/cli/test_run.py).
    proc = subprocess.Popen(
        [str(AURALITH), "train", config.name, "--shards", str(shards_manifest), "--state-dir", "st"],
        cwd=tmp_path,
        env=auralith_env(tmp_path),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    store = f"sqlite:///{tmp_path / 'st' / 'auralith.db'}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            jobs = Store(store).list_jobs()
            if jobs and Store(store).latest_checkpoint(jobs[0].id):
                break
        except Exception:  # the store is being created
            pass
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, out
    job_id = Store(store).list_jobs()[0].id
    hint = re.search(r"cancelled, its checkpoints kept; continue with: (.*)", out).group(1)
    assert hint == f"auralith train train.yaml --resume {job_id} --state-dir st"

    resumed = run_auralith(*shlex.split(hint)[1:], cwd=tmp_path)  # pasted as printed
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # It names the shards it goes on training on, not the config's output.path.
    first = resumed.stdout.splitlines()[0]
    assert first == f"job {job_id} (tiny) resumed, training on {shards_manifest}", resumed.stdout
    status = run_auralith("status", job_id, "--json", "--state-dir", "st", cwd=tmp_path)
    info = json.loads(status.stdout)
    assert info["id"] == job_id and info["state"] == "succeeded" and info["training"]["step"] == 60
    dispose_all()
