"""What a training run tells its caller: callbacks the loop calls, no torch needed to implement them."""

from __future__ import annotations

from pathlib import Path


class TrainHooks:
    """Callbacks of a training run; the defaults do nothing. Subclass to record progress."""

    def started(self, info: dict) -> None:
        """Once, before the first step: device, parameters, the step it starts (or resumes) from."""

    def log(self, metrics: dict) -> None:
        """Every `log_every` steps: step, loss, lr, tokens_per_s, tokens_seen, elapsed_s, eta_s (+ val_loss)."""

    def checkpoint_started(self, step: int, folder: str | Path) -> bool:
        """Before a checkpoint's files are written (the store's row goes `pending`); False: do not write
        it, stop the run (it was cancelled or superseded)."""
        return True

    def checkpoint_committed(self, step: int, folder: str | Path, manifest: dict) -> None:
        """After its files, manifest last, are durable (the row goes `committed`)."""

    def checkpoints_removed(self, steps: list[int]) -> None:
        """Older checkpoints deleted to keep the last `keep_last`."""

    def should_stop(self) -> bool:
        """Asked at every log step; True ends the run early (the job was cancelled)."""
        return False
