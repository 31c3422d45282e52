"""The learning-rate schedule: a pure function of the step, so a resumed run needs no scheduler state."""

from __future__ import annotations

import math

from auralith.config.training import TrainingConfig


def lr_at(step: int, cfg: TrainingConfig) -> float:
    """Learning rate for optimizer step `step` (0-based): linear warmup to `lr` over `warmup_steps`,
    then cosine decay to `min_lr` at `steps`; `min_lr` beyond it."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if step >= cfg.steps:
        return cfg.min_lr
    span = max(cfg.steps - cfg.warmup_steps, 1)
    progress = (step - cfg.warmup_steps) / span
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - cfg.min_lr)
