"""Device selection, and the Gaudi code path run against a fake `habana_frameworks` (no HPU here).

The fake is imported through a meta-path finder, so the test sees what the environment held at import
time (PT_HPU_LAZY_MODE must be set before it), and counts `htcore.mark_step()` calls.
"""

from __future__ import annotations

import dataclasses
import importlib.abc
import importlib.machinery
import math
import os
import sys
import types

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from auralith.config.training import TrainingConfig
from auralith.storage import Files
from auralith.train.devices import DeviceUnavailable, select_device
from auralith.train.loop import train

files = Files()  # no job: the environment's storage settings

HABANA = (
    "habana_frameworks",
    "habana_frameworks.torch",
    "habana_frameworks.torch.core",
    "habana_frameworks.torch.hpu",
    "habana_frameworks.torch.hpu.random",
)


class FakeHabana(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Builds the habana_frameworks modules on import; records the calls the loop makes."""

    def __init__(self, available: bool = True):
        self.available = available
        self.calls: list[str] = []
        self.lazy_mode_at_import: str | None = "unset"

    def find_spec(self, name, path=None, target=None):
        if name in HABANA:
            return importlib.machinery.ModuleSpec(name, self, is_package=name != "habana_frameworks.torch.core")
        return None

    def create_module(self, spec):
        return types.ModuleType(spec.name)

    def exec_module(self, module):
        module.__path__ = []
        if module.__name__ == "habana_frameworks.torch.core":
            self.lazy_mode_at_import = os.environ.get("PT_HPU_LAZY_MODE")
            module.mark_step = lambda: self.calls.append("mark_step")
        if module.__name__ == "habana_frameworks.torch.hpu":
            module.is_available = lambda: self.available
            module.get_device_name = lambda: "GAUDI2 (fake)"
            module.memory_allocated = lambda: 4096
        if module.__name__ == "habana_frameworks.torch.hpu.random":
            module.get_rng_state = lambda: torch.tensor([7], dtype=torch.uint8)
            module.set_rng_state = lambda state: self.calls.append("set_rng")


@pytest.fixture()
def fake_habana(monkeypatch):
    def install(available: bool = True) -> FakeHabana:
        fake = FakeHabana(available)
        monkeypatch.setattr(sys, "meta_path", [fake, *sys.meta_path])
        return fake

    monkeypatch.delenv("PT_HPU_LAZY_MODE", raising=False)
    yield install
    for name in HABANA:
        sys.modules.pop(name, None)


def test_auto_picks_hpu_when_habana_is_importable_and_a_card_is_present(fake_habana, caplog):
    fake = fake_habana()
    with caplog.at_level("INFO", logger="auralith.train.devices"):
        device = select_device("auto")
    assert device.kind == "hpu" and device.torch_device == torch.device("hpu")
    assert fake.lazy_mode_at_import == "1", "PT_HPU_LAZY_MODE must be set before habana_frameworks is imported"
    assert device.distributed_backend == "hccl"
    assert "training on hpu (GAUDI2 (fake), lazy mode on)" in caplog.text


def test_auto_falls_back_to_cpu_without_a_card(fake_habana):
    fake_habana(available=False)
    assert select_device("auto").kind == ("cuda" if torch.cuda.is_available() else "cpu")


def test_asking_for_a_missing_device_is_a_clear_error():
    with pytest.raises(DeviceUnavailable, match="hpu requested"):
        select_device("hpu")


def test_auto_without_habana_installed_is_cpu_here():
    assert select_device("auto").kind == "cpu"
    assert select_device("cpu").distributed_backend == "gloo"


def test_hpu_loop_marks_steps_after_backward_and_optimizer_step_in_bf16_autocast(
    fake_habana, monkeypatch, shards_manifest, tmp_path
):
    fake = fake_habana()
    # The fake card computes on the CPU; everything else is the HPU path.
    device = dataclasses.replace(select_device("hpu"), torch_device=torch.device("cpu"))

    backward = torch.Tensor.backward

    def recording_backward(tensor, *args, **kwargs):
        backward(tensor, *args, **kwargs)
        fake.calls.append("backward")

    monkeypatch.setattr(torch.Tensor, "backward", recording_backward)
    hook = register_optimizer_step_post_hook(lambda *a: fake.calls.append("step"))
    autocast_types = []
    real_autocast = torch.autocast

    def recording_autocast(device_type, dtype=None, **kw):
        autocast_types.append((device_type, dtype))
        return real_autocast(device_type=device_type, dtype=dtype, **kw)

    monkeypatch.setattr(torch, "autocast", recording_autocast)
    cfg = TrainingConfig(
        layers=1,
        heads=2,
        d_model=32,
        context=16,
        batch_size=2,
        grad_accum=2,
        steps=3,
        warmup_steps=1,
        checkpoint_every=3,
        log_every=3,
        precision="bf16",
        threads=1,
    )
    try:
        result = train(cfg, shards_manifest, tmp_path, device=device, files=files)
    finally:
        hook.remove()
    assert result.step == 3 and math.isfinite(result.loss)
    assert result.history[-1]["device_memory_bytes"] == 4096  # the card's allocator, for metrics serve
    per_step = ["backward", "mark_step", "backward", "mark_step", "step", "mark_step"]
    assert fake.calls == per_step * 3
    assert set(autocast_types) == {("hpu", torch.bfloat16)} and len(autocast_types) == 6


def test_bf16_on_cpu_autocasts_on_the_cpu(shards_manifest, tmp_path):
    device = select_device("cpu")
    ctx = device.autocast("bf16")
    assert isinstance(ctx, torch.autocast) and ctx.device == "cpu" and ctx.fast_dtype == torch.bfloat16
    cfg = TrainingConfig(
        layers=1,
        heads=2,
        d_model=32,
        context=16,
        batch_size=2,
        steps=2,
        warmup_steps=1,
        checkpoint_every=2,
        log_every=1,
        precision="bf16",
        threads=1,
    )
    assert math.isfinite(train(cfg, shards_manifest, tmp_path, device=device, files=files).loss)
