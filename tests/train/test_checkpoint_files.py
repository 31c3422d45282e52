"""Checkpoints under an `s3://` root, on a real S3-compatible server (moto on loopback): the same round
trip, manifest-last and prune rules as local folders."""

from __future__ import annotations

import json

import pytest
import torch

from auralith.storage import Files
from auralith.storage.s3 import s3_client
from auralith.train.checkpoint import (
    MANIFEST_FILE,
    MODEL_FILE,
    STATE_FILE,
    CheckpointError,
    TrainState,
    load_checkpoint,
    params_sha256,
    prune_checkpoints,
    read_manifest,
    save_checkpoint,
)
from auralith.train.checkpoint_files import complete_steps, step_folder
from auralith.train.devices import select_device
from tests.train.test_checkpoint import _trained

files = Files()  # no job: the environment's storage settings


def _keys(bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3_client().list_objects_v2(Bucket=bucket).get("Contents", []))


def test_step_folder_keeps_the_url():
    assert step_folder("s3://b/job/ckpt", 7) == "s3://b/job/ckpt/7"
    assert str(step_folder("/tmp/ckpt", 7)) == "/tmp/ckpt/7"


def test_round_trip_on_s3(bucket):
    root = f"s3://{bucket}/job1/ckpt"
    model, opt = _trained()
    device = select_device("cpu")
    torch.manual_seed(1234)
    expected_next = torch.rand(3)
    torch.manual_seed(1234)
    folder, manifest = save_checkpoint(files, root, model, opt, device, TrainState(3, 3, 48))
    assert folder == f"{root}/3"
    assert _keys(bucket) == [f"job1/ckpt/3/{n}" for n in (MANIFEST_FILE, MODEL_FILE, STATE_FILE)]
    assert read_manifest(files, folder) == manifest and manifest["params_sha256"] == params_sha256(model)

    fresh, fresh_opt = _trained(seed=99)
    state = load_checkpoint(files, folder, fresh, fresh_opt, device)
    assert state == TrainState(3, 3, 48)
    assert params_sha256(fresh) == manifest["params_sha256"]
    assert torch.equal(torch.rand(3), expected_next)
    saved, loaded = opt.state_dict()["state"], fresh_opt.state_dict()["state"]
    assert all(torch.equal(saved[i][k], loaded[i][k]) for i in saved for k in ("step", "exp_avg", "exp_avg_sq"))
    assert fresh.lm_head.weight is fresh.wte.weight


def test_s3_and_local_checkpoints_hold_the_same_files(bucket, tmp_path):
    model, opt = _trained()
    device = select_device("cpu")
    local, _ = save_checkpoint(files, tmp_path, model, opt, device, TrainState(2))
    remote, _ = save_checkpoint(files, f"s3://{bucket}/c", model, opt, device, TrainState(2))
    for name in (MODEL_FILE, STATE_FILE):
        assert files.read_bytes(f"{remote}/{name}") == (local / name).read_bytes()


def test_a_step_without_manifest_is_incomplete(bucket):
    root = f"s3://{bucket}/ckpt"
    model, opt = _trained()
    folder, _ = save_checkpoint(files, root, model, opt, select_device("cpu"), TrainState(1))
    files.delete(f"{folder}/{MANIFEST_FILE}")
    assert read_manifest(files, folder) is None and complete_steps(files, root) == []
    with pytest.raises(CheckpointError, match="incomplete"):
        load_checkpoint(files, folder, model, opt, select_device("cpu"))


def test_a_corrupt_object_is_refused(bucket):
    model, opt = _trained()
    folder, _ = save_checkpoint(files, f"s3://{bucket}/ckpt", model, opt, select_device("cpu"), TrainState(1))
    data = bytearray(files.read_bytes(f"{folder}/{MODEL_FILE}"))
    data[-1] ^= 0xFF
    files.write_bytes_atomic(f"{folder}/{MODEL_FILE}", bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(files, folder, model, opt, select_device("cpu"))


def test_rewriting_a_step_replaces_leftovers(bucket):
    root = f"s3://{bucket}/ckpt"
    files.write_bytes_atomic(f"{root}/4/junk.tmp", b"left by a run that died mid-write")
    model, opt = _trained()
    save_checkpoint(files, root, model, opt, select_device("cpu"), TrainState(4))
    assert _keys(bucket) == [f"ckpt/4/{n}" for n in (MANIFEST_FILE, MODEL_FILE, STATE_FILE)]


def test_prune_on_s3_keeps_the_last_k_complete_checkpoints(bucket):
    root = f"s3://{bucket}/ckpt"
    model, opt = _trained()
    for step in (10, 20, 30, 40, 100):
        save_checkpoint(files, root, model, opt, select_device("cpu"), TrainState(step))
    files.write_bytes_atomic(f"{root}/50/{MODEL_FILE}", b"unfinished: no manifest")
    files.write_bytes_atomic(f"{root}/notes/{MANIFEST_FILE}", b"{}")  # not a step
    assert complete_steps(files, root) == [10, 20, 30, 40, 100]  # numeric order, not key order
    assert prune_checkpoints(files, root, keep_last=2, protect=30) == [10, 20]  # 30 is protected, 40 and 100 kept
    steps = sorted({k.split("/")[1] for k in _keys(bucket)})
    assert steps == ["100", "30", "40", "50", "notes"]
    assert json.loads(files.read_bytes(f"{root}/100/{MANIFEST_FILE}"))["step"] == 100
