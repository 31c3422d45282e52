"""Malloc keeps what a step frees: repeated steps stop faulting their memory in; user settings win."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from auralith.config.training import TrainingConfig
from auralith.storage import Files
from auralith.train import loop

files = Files()  # no job: the environment's storage settings

# A "step" allocates and frees blocks of several sizes, as a forward/backward pass does; the page faults of
# 20 further steps are what the tuning removes. Each case runs in a fresh interpreter: malloc's settings
# last for the life of a process.
STEPS = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from auralith.train.host_memory import retain_freed_memory
    tuned = retain_freed_memory()
    def step():
        arrays = [np.ones(mb * 1024 * 1024 // 8) for mb in (3, 7, 12, 20, 1, 5)]
        del arrays
    step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        step()
    print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")


def run_steps(**env: str) -> tuple[bool, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    out = subprocess.run(
        [sys.executable, "-c", STEPS], env={**clean, **env}, capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0] == "True", int(out[1])


@linux_only
def test_after_tuning_repeated_steps_reuse_their_memory():
    tuned, faults = run_steps()
    assert tuned
    # 20 steps touch ~960 MB: untuned that is tens of thousands of faults (46k here); tuned, almost none.
    assert faults < 1000, faults


@linux_only
def test_the_users_own_malloc_settings_are_left_alone():
    tuned, faults = run_steps(MALLOC_MMAP_THRESHOLD_="131072")
    assert not tuned
    assert faults > 10_000, faults  # every block above 128 KiB mapped and unmapped each step, as asked


def test_train_tunes_malloc_before_building_the_model(monkeypatch, shards_manifest, tmp_path):
    calls = []
    monkeypatch.setattr(loop, "retain_freed_memory", lambda: calls.append(1) or True)
    cfg = TrainingConfig(
        layers=1, heads=1, d_model=16, context=8, batch_size=2, steps=1, warmup_steps=0, threads=1, device="cpu"
    )
    loop.train(cfg, shards_manifest, tmp_path, files=files)
    assert calls == [1]
