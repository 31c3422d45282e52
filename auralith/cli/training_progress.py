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


def train_line(t: dict, with_eta: bool = True) -> str:
    """`loss 3.2104  val 3.3001  12,345 tok/s  eta 0:01:02  cpu (2 threads)` from a training summary."""
    parts = []
    if t.get("loss") is not None:
        parts.append(f"loss {t['loss']:.4f}")
    if t.get("val_loss") is not None:
        parts.append(f"val {t['val_loss']:.4f}")
    if t.get("tokens_per_s"):
        parts.append(f"{t['tokens_per_s']:,.0f} tok/s")
    if with_eta and _running_eta(t) is not None:
        parts.append(f"eta {_running_eta(t)}")
    if t.get("device"):
        parts.append(t["device"])
    return "  ".join(parts)


def _running_eta(t: dict) -> str | None:
    return _eta(t["eta_s"]) if t.get("eta_s") is not None and t.get("state") != "committed" else None


class TrainBar:
    """Adds a `train` bar to `watch` once the job has a training row. Its ETA is the trainer's own, from its
    measured step time, in the bar's eta column (EtaColumn): rich's estimate from a bar of steps would differ."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.bar: TaskID | None = None

    def update(self, info: JobInfo) -> None:
        t = info.training
        if not t:
            return
        if self.bar is None:
            self.bar = self.progress.add_task("train", total=t.get("steps") or None, info="", eta=None)
        self.progress.update(
            self.bar,
            total=t.get("steps") or None,
            completed=t.get("step") or 0,
            info=f"step {t.get('step') or 0}/{t.get('steps') or '?'}  {train_line(t, with_eta=False)}",
            eta=_running_eta(t) or ("0:00:00" if t.get("state") == "committed" else "-:--:--"),
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
