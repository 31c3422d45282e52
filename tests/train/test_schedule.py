"""The learning-rate schedule is a pure function: warmup, cosine decay, floor."""

from __future__ import annotations

import math

import pytest

from auralith.config.training import TrainingConfig
from auralith.train.schedule import lr_at

CFG = TrainingConfig(steps=110, warmup_steps=10, lr=1e-3, min_lr=1e-4)


def test_linear_warmup_reaches_lr_at_the_last_warmup_step():
    assert [lr_at(s, CFG) for s in (0, 4, 9)] == pytest.approx([1e-4, 5e-4, 1e-3])


def test_cosine_decay_from_lr_to_min_lr():
    assert lr_at(10, CFG) == pytest.approx(1e-3)
    assert lr_at(60, CFG) == pytest.approx(1e-4 + 0.5 * (1e-3 - 1e-4))
    assert lr_at(110, CFG) == lr_at(500, CFG) == pytest.approx(1e-4)
    lrs = [lr_at(s, CFG) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_same_step_same_value_whatever_came_before():
    assert lr_at(37, CFG) == lr_at(37, CFG) == 1e-4 + 0.5 * (1 + math.cos(math.pi * 27 / 100)) * 9e-4


def test_no_warmup():
    cfg = TrainingConfig(steps=10, warmup_steps=0, lr=1e-3, min_lr=0)
    assert lr_at(0, cfg) == pytest.approx(1e-3)
