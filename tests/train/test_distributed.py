"""Several ranks without a launcher: the gang start names missing ranks; 2 ranks of batch B train exactly what 1 rank
of batch 2B does (gloo, CPU); Gaudi ranks use hccl."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from safetensors.torch import load_file

from auralith.config.training import TrainingConfig
from auralith.storage import Files
from auralith.train import loop
from auralith.train.devices import select_device
from auralith.train.distributed import RendezvousTimeout, form_gang
from tests.train.gang import file_gang, run_gang
from tests.train.test_devices import fake_habana as fake_habana  # the fixture: a fake habana_frameworks

files = Files()

CFG = TrainingConfig(
    layers=1,
    heads=2,
    d_model=32,
    context=16,
    batch_size=4,
    steps=8,
    lr=3e-3,
    warmup_steps=2,
    checkpoint_every=4,
    log_every=1,
    threads=1,
    seed=5,
    device="cpu",
)


def test_a_gang_that_never_completes_names_the_missing_ranks_and_does_not_hang(tmp_path):
    with pytest.raises(RendezvousTimeout, match=r"ranks 1, 2 of 3 did not start within .* \(0.5 s\)") as err:
        form_gang(file_gang(tmp_path / "board", 0, 3, timeout=0.5), "gloo")
    assert "ranks [1, 2] never wrote their key" in str(err.value)
    assert (tmp_path / "board").read_text().startswith("127.0.0.1:")  # rank 0 published where it listens
    with pytest.raises(RendezvousTimeout, match="rank 1: rank 0 did not start the run"):
        form_gang(file_gang(tmp_path / "nobody", 1, 2, timeout=0.5), "gloo")


def test_two_ranks_of_batch_b_train_like_one_rank_of_batch_2b(shards_manifest, tmp_path):
    one = loop.train(CFG.model_copy(update={"batch_size": 8}), shards_manifest, tmp_path / "one", files=files)
    ranks = run_gang(CFG, shards_manifest, tmp_path / "two", 2, tmp_path)
    # Every rank logs the global batch's loss; the curves agree to float rounding (the sums run in another order).
    for r in ranks:
        assert [m["step"] for m in r["history"]] == [m["step"] for m in one.history]
        assert [m["loss"] for m in r["history"]] == pytest.approx([m["loss"] for m in one.history], rel=1e-5)
        assert [m["tokens_seen"] for m in r["history"]] == [m["tokens_seen"] for m in one.history]
    assert ranks[0]["params_sha256"] == ranks[1]["params_sha256"]  # DDP keeps the replicas identical
    ours, theirs = (load_file(tmp_path / d / "8" / "model.safetensors") for d in ("two", "one"))
    for name, tensor in theirs.items():
        torch.testing.assert_close(ours[name], tensor, rtol=1e-4, atol=1e-5)
    # Rank 0's checkpoint holds both ranks' RNG states.
    state = load_file(tmp_path / "two" / "8" / "train_state.safetensors")
    assert {"rng.cpu.0", "rng.cpu.1", "rng.cpu"} <= state.keys()


def test_gaudi_ranks_form_their_gang_over_hccl(fake_habana, monkeypatch, shards_manifest, tmp_path):
    fake_habana()
    device = dataclasses.replace(select_device("hpu"), torch_device=torch.device("cpu"))
    backends = []

    def no_network(gang, backend):
        backends.append(backend)
        raise RendezvousTimeout("stopped here: the fake card has no hccl")

    monkeypatch.setattr(loop, "form_gang", no_network)
    with pytest.raises(RendezvousTimeout):
        loop.train(CFG, shards_manifest, tmp_path, device=device, files=files, gang=file_gang(tmp_path / "b", 1, 8))
    assert backends == ["hccl"]
