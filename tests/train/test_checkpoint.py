"""Checkpoints: a round trip restores everything, tied weights are stored once, the manifest comes last."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from auralith.config.training import TrainingConfig
from auralith.storage import Files
from auralith.train.checkpoint import (
    MANIFEST_FILE,
    MODEL_FILE,
    STATE_FILE,
    CheckpointError,
    TrainState,
    load_checkpoint,
    params_sha256,
    prune_checkpoints,
    save_checkpoint,
)
from auralith.train.devices import select_device
from auralith.train.model import GPT, make_optimizer

files = Files()  # no job: the environment's storage settings

CFG = TrainingConfig(layers=1, heads=2, d_model=16, context=8)


def _trained(seed: int = 0):
    torch.manual_seed(seed)
    model = GPT.from_config(CFG, 60)
    opt = make_optimizer(model, CFG)
    for _ in range(3):
        idx = torch.randint(0, 60, (2, 8))
        model(idx, idx)[1].backward()
        opt.step()
        opt.zero_grad()
    return model, opt


def test_round_trip_restores_weights_optimizer_rng_and_state(tmp_path):
    device = select_device("cpu")
    model, opt = _trained()
    torch.manual_seed(123)
    folder, manifest = save_checkpoint(files, tmp_path, model, opt, device, TrainState(3, 3, 48))
    expected_next = torch.rand(3)
    assert folder == tmp_path / "3" and manifest["params_sha256"] == params_sha256(model)

    fresh, fresh_opt = _trained(seed=99)
    assert params_sha256(fresh) != params_sha256(model)
    state = load_checkpoint(files, folder, fresh, fresh_opt, device)
    assert state == TrainState(3, 3, 48)
    assert params_sha256(fresh) == params_sha256(model)
    assert torch.equal(torch.rand(3), expected_next)  # the CPU RNG continues where it was saved
    saved, loaded = opt.state_dict()["state"], fresh_opt.state_dict()["state"]
    assert saved.keys() == loaded.keys()
    for i in saved:
        assert all(torch.equal(saved[i][k], loaded[i][k]) for k in ("step", "exp_avg", "exp_avg_sq"))
    assert fresh.lm_head.weight is fresh.wte.weight


def test_tied_matrix_is_stored_once(tmp_path):
    model, opt = _trained()
    folder, _ = save_checkpoint(files, tmp_path, model, opt, select_device("cpu"), TrainState(1))
    with safe_open(folder / MODEL_FILE, "pt") as f:
        keys = set(f.keys())
    assert ("wte.weight" in keys) != ("lm_head.weight" in keys)


def test_a_checkpoint_without_manifest_is_not_loaded(tmp_path):
    model, opt = _trained()
    folder, _ = save_checkpoint(files, tmp_path, model, opt, select_device("cpu"), TrainState(1))
    (folder / MANIFEST_FILE).unlink()
    with pytest.raises(CheckpointError, match="incomplete"):
        load_checkpoint(files, folder, model, opt, select_device("cpu"))


def test_a_corrupt_file_is_refused(tmp_path):
    model, opt = _trained()
    folder, _ = save_checkpoint(files, tmp_path, model, opt, select_device("cpu"), TrainState(1))
    data = bytearray((folder / STATE_FILE).read_bytes())
    data[-1] ^= 0xFF
    (folder / STATE_FILE).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(files, folder, model, opt, select_device("cpu"))


def test_manifest_lists_file_hashes(tmp_path):
    model, opt = _trained()
    folder, _ = save_checkpoint(files, tmp_path, model, opt, select_device("cpu"), TrainState(5, 5, 80))
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    assert set(manifest["files"]) == {MODEL_FILE, STATE_FILE} and manifest["step"] == 5


def test_every_file_of_a_checkpoint_is_readable_by_others_alike(tmp_path):
    model, opt = _trained()
    folder, _ = save_checkpoint(files, tmp_path, model, opt, select_device("cpu"), TrainState(1))
    modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
    assert set(modes) == {MODEL_FILE, STATE_FILE, MANIFEST_FILE} and set(modes.values()) == {0o644}, modes


def test_prune_keeps_the_last_k_complete_checkpoints(tmp_path):
    model, opt = _trained()
    for step in (10, 20, 30, 40):
        save_checkpoint(files, tmp_path, model, opt, select_device("cpu"), TrainState(step))
    (tmp_path / "50").mkdir()  # unfinished: no manifest, neither counted nor deleted
    assert prune_checkpoints(files, tmp_path, keep_last=2) == [10, 20]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["30", "40", "50"]
