"""Training's part of `auralith watch` and `status`: a progress bar (step, loss, tokens/s, ETA) and rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.progress import Progress, TaskID

if TYPE_CHECKING:
    from auralith.client import JobInfo


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def train_line(t: dict) -> str:
    """`loss 3.2104  val 3.3001  12,345 tok/s  eta 0:01:02  cpu (2 threads)` from a training summary."""
    parts = []
    if t.get("loss") is not None:
        parts.append(f"loss {t['loss']:.4f}")
    if t.get("val_loss") is not None:
        parts.append(f"val {t['val_loss']:.4f}")
    if t.get("tokens_per_s"):
        parts.append(f"{t['tokens_per_s']:,.0f} tok/s")
    if t.get("eta_s") is not None and t.get("state") != "committed":
        parts.append(f"eta {_eta(t['eta_s'])}")
    if t.get("device"):
        parts.append(t["device"])
    return "  ".join(parts)


class TrainBar:
    """Adds a `train` bar to `watch` once the job has a training row; hides the data bars of a job that
    only trains (`auralith train --shards`)."""

    def __init__(self, progress: Progress, data_bars: dict[str, TaskID]):
        self.progress, self.data_bars = progress, data_bars
        self.bar: TaskID | None = None

    def update(self, info: JobInfo) -> None:
        t = info.training
        if not t:
            return
        if self.bar is None:
            self.bar = self.progress.add_task("train", total=t.get("steps") or None, info="")
            if not info.figures.stages.get("process") or not info.figures.stages["process"].total:
                for bar in self.data_bars.values():
                    self.progress.update(bar, visible=False)
        self.progress.update(
            self.bar,
            total=t.get("steps") or None,
            completed=t.get("step") or 0,
            info=f"step {t.get('step') or 0}/{t.get('steps') or '?'}  {train_line(t)}",
        )


def training_rows(t: dict | None) -> list[tuple[str, str]]:
    """Rows for the summary table of `run`, `watch` and `status`."""
    if not t:
        return []
    rows = [("training", f"{t['state']}, step {t.get('step') or 0}/{t.get('steps') or '?'}")]
    line = train_line(t)
    if line:
        rows.append(("  last log", line))
    ckpt = t.get("last_checkpoint")
    rows.append(("  last checkpoint", f"step {ckpt['step']}: {ckpt['uri']}" if ckpt else "none yet"))
    return rows
