"""Training checkpoints: `{root}/{step}/model.safetensors`, `train_state.safetensors`, `manifest.json`.

`model.safetensors` holds the weights (the tied embedding/output matrix once, via safetensors'
`save_model`). `train_state.safetensors` holds everything else a bit-exact resume needs: AdamW's moments
and step counts, the CPU and device RNG states, the step, the loader position. `manifest.json` is written
last, after both files are on disk (fsynced): a folder without one is an unfinished checkpoint and is
never loaded. File I/O goes through `_publish`, `_read_bytes` and `_remove` so a storage backend (S3)
can take their place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import load_model, save_model
from safetensors.torch import save as st_save

from auralith.errors import AuralithError
from auralith.storage.local import atomic_write
from auralith.train.devices import Device

FORMAT = "auralith-checkpoint/1"
MODEL_FILE, STATE_FILE, MANIFEST_FILE = "model.safetensors", "train_state.safetensors", "manifest.json"


class CheckpointError(AuralithError):
    """A checkpoint is incomplete, corrupt, or does not fit the model."""


@dataclass
class TrainState:
    """Where a run stands, apart from weights and optimizer: what a resume continues from."""

    step: int = 0  # optimizer steps done
    loader_position: int = 0  # training batches drawn
    tokens_seen: int = 0


def params_sha256(model: torch.nn.Module) -> str:
    """One hash over every parameter's name and raw bytes: equal iff the weights are bit-identical."""
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _publish(tmp: Path, final: Path) -> None:
    """Make a finished file durable under its final name (fsync, rename, fsync the folder)."""
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_write(path) as fh:
        fh.write(data)


def _read_bytes(path: Path) -> bytes:
    return path.read_bytes()


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def save_checkpoint(root: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    device: Device, state: TrainState, extra: dict | None = None) -> tuple[Path, dict]:
    """Write checkpoint `state.step` under `root`; returns (its folder, its manifest). Manifest last."""
    folder = Path(root) / str(state.step)
    if folder.exists():
        _remove(folder)  # an unfinished copy from a run that died mid-write, or a redone step
    folder.mkdir(parents=True)

    tmp = folder / f".{MODEL_FILE}.tmp"
    save_model(_unwrapped(model), str(tmp))
    _publish(tmp, folder / MODEL_FILE)

    tensors, groups = _optimizer_tensors(optimizer)
    tensors["rng.cpu"] = torch.get_rng_state()
    device_rng = device.rng_state()
    if device_rng is not None:
        tensors["rng.device"] = device_rng.cpu()
    for key in ("step", "loader_position", "tokens_seen"):
        tensors[f"state.{key}"] = torch.tensor([getattr(state, key)], dtype=torch.int64)
    _write_bytes(folder / STATE_FILE, st_save(tensors, metadata={"param_groups": json.dumps(groups)}))

    manifest = {
        "format": FORMAT,
        "step": state.step,
        "loader_position": state.loader_position,
        "tokens_seen": state.tokens_seen,
        "params_sha256": params_sha256(_unwrapped(model)),
        "files": {name: _file_sha256(folder / name) for name in (MODEL_FILE, STATE_FILE)},
        **(extra or {}),
    }
    _write_bytes(folder / MANIFEST_FILE, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return folder, manifest


def load_checkpoint(folder: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                    device: Device) -> TrainState:
    """Restore weights, optimizer, RNG states from a checkpoint folder; returns the run's state."""
    folder = Path(folder)
    try:
        manifest = json.loads(_read_bytes(folder / MANIFEST_FILE))
    except FileNotFoundError:
        raise CheckpointError(f"{folder}: no {MANIFEST_FILE}, so the checkpoint is incomplete") from None
    for name, digest in manifest["files"].items():
        if _file_sha256(folder / name) != digest:
            raise CheckpointError(f"{folder / name}: sha256 differs from the checkpoint's manifest")
    missing, unexpected = load_model(_unwrapped(model), str(folder / MODEL_FILE), strict=False,
                                     device=str(next(model.parameters()).device))
    if missing or unexpected:
        raise CheckpointError(f"{folder}: does not fit the model (missing {sorted(missing)}, "
                              f"unexpected {sorted(unexpected)}): was training.layers/d_model/... changed?")
    raw = _read_bytes(folder / STATE_FILE)
    tensors = st_load(raw)
    if optimizer is not None:
        groups = json.loads(_metadata(raw)["param_groups"])
        optimizer.load_state_dict(_optimizer_state(tensors, groups))
    torch.set_rng_state(tensors["rng.cpu"])
    device.set_rng_state(tensors.get("rng.device"))
    return TrainState(*(int(tensors[f"state.{k}"][0]) for k in ("step", "loader_position", "tokens_seen")))


def _metadata(raw: bytes) -> dict:
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n]).get("__metadata__", {})


def _unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)  # DistributedDataParallel wraps the model


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    sd = optimizer.state_dict()
    tensors = {f"optim.{i}.{k}": v.detach().cpu().contiguous().clone()
               for i, st in sd["state"].items() for k, v in st.items() if isinstance(v, torch.Tensor)}
    return tensors, sd["param_groups"]


def _optimizer_state(tensors: dict[str, torch.Tensor], groups: list[dict]) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = value
    return {"state": state, "param_groups": groups}


def read_manifest(folder: str | Path) -> dict | None:
    """A checkpoint's manifest, or None when it has none (unfinished)."""
    try:
        return json.loads(_read_bytes(Path(folder) / MANIFEST_FILE))
    except FileNotFoundError:
        return None


def prune_checkpoints(root: str | Path, keep_last: int, protect: int | None = None) -> list[int]:
    """Delete all but the newest `keep_last` complete checkpoints (never `protect`); returns steps deleted."""
    root = Path(root)
    if not root.is_dir():
        return []
    steps = sorted(int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / MANIFEST_FILE).exists())
    doomed = [s for s in steps[:-keep_last] if s != protect] if len(steps) > keep_last else []
    for step in doomed:
        _remove(root / str(step))
    return doomed
