"""The loss curve of a training run as a PNG (`auralith report` draws it into the job's report)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from auralith.storage.local import write_bytes_atomic


def plot_loss_curve(history: Sequence[dict], path: str | Path, title: str = "training loss") -> Path:
    """Plot `loss` (and `val_loss` where logged) against `step` from metrics dicts; writes a PNG atomically.

    `history` is what `Store.metrics_history` returns (or `TrainResult.history`).
    """
    # A bare Figure saves through Agg: no pyplot global state, no display backend (workers, CI, threads).
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.subplots()
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
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    path = Path(path)
    write_bytes_atomic(path, buf.getvalue())
    return path
