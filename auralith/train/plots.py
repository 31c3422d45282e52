"""The loss curve of a training run as a PNG (for `auralith report`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def plot_loss_curve(history: Sequence[dict], path: str | Path, title: str = "training loss") -> Path:
    """Plot `loss` (and `val_loss` where logged) against `step` from metrics dicts; writes a PNG.

    `history` is what `train_repo.metrics_history` returns (or `TrainResult.history`).
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on workers and CI
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    try:
        ax.plot([m["step"] for m in history], [m["loss"] for m in history], label="train loss")
        val = [(m["step"], m["val_loss"]) for m in history if m.get("val_loss") is not None]
        if val:
            ax.plot(*zip(*val, strict=True), marker="o", label="validation loss")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy (nats/token)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path
