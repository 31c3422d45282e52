"""Training checkpoints: `{root}/{step}/model.safetensors`, `train_state.safetensors`, `manifest.json`.

`model.safetensors` holds the weights (the tied embedding/output matrix once, via safetensors'
`save_model`). `train_state.safetensors` holds everything else a bit-exact resume needs: AdamW's moments
and step counts, the CPU and device RNG states, the step, the loader position. `manifest.json` is written
last, after both files are durable: a folder without one is an unfinished checkpoint and is never
loaded. `root` is a local folder or an `s3://` URL, reached through the job's `Files`; what differs between
the two (durable local renames, folders that are only key prefixes on S3) is in `checkpoint_files`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import load_model, save_model
from safetensors.torch import save as st_save

from auralith.errors import AuralithError
from auralith.storage import Files, join
from auralith.train import checkpoint_files as ckpt_files
from auralith.train.checkpoint_files import MANIFEST_FILE
from auralith.train.devices import Device

FORMAT = "auralith-checkpoint/1"
MODEL_FILE, STATE_FILE = "model.safetensors", "train_state.safetensors"
__all__ = [
    "MANIFEST_FILE",
    "MODEL_FILE",
    "STATE_FILE",
    "CheckpointError",
    "TrainState",
    "load_checkpoint",
    "params_sha256",
    "prune_checkpoints",
    "read_manifest",
    "save_checkpoint",
]


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


def save_checkpoint(
    files: Files,
    root: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    device: Device,
    state: TrainState,
    extra: dict | None = None,
    rank_rngs: list[list[torch.Tensor | None]] | None = None,
) -> tuple[str | Path, dict]:
    """Write checkpoint `state.step` under `root` (a folder or `s3://` URL); returns (its folder, its
    manifest). Each file is durable before the next is written; the manifest comes last. `rank_rngs`: every
    rank's [CPU, device] RNG states, by rank, when several ranks train (rank 0's are also the plain `rng.*`)."""
    folder = ckpt_files.step_folder(root, state.step)
    ckpt_files.fresh_folder(files, folder)  # an unfinished copy from a run that died mid-write, or a redone step

    digests: dict[str, str] = {}

    def write_model(local: str) -> None:  # save_model needs a file name; hashed before it is published
        save_model(_unwrapped(model), local)
        digests[MODEL_FILE] = ckpt_files.file_sha256(local)

    ckpt_files.write_with(files, join(folder, MODEL_FILE), write_model)

    tensors, groups = _optimizer_tensors(optimizer)
    tensors["rng.cpu"] = torch.get_rng_state()
    device_rng = device.rng_state()
    if device_rng is not None:
        tensors["rng.device"] = device_rng.cpu()
    for r, (cpu_rng, dev_rng) in enumerate(rank_rngs or []):
        if cpu_rng is not None:
            tensors[f"rng.cpu.{r}"] = cpu_rng
        if dev_rng is not None:
            tensors[f"rng.device.{r}"] = dev_rng
    for key in ("step", "loader_position", "tokens_seen"):
        tensors[f"state.{key}"] = torch.tensor([getattr(state, key)], dtype=torch.int64)
    raw = st_save(tensors, metadata={"param_groups": json.dumps(groups)})
    digests[STATE_FILE] = hashlib.sha256(raw).hexdigest()
    files.write_bytes_atomic(join(folder, STATE_FILE), raw)

    manifest = {
        "format": FORMAT,
        "step": state.step,
        "loader_position": state.loader_position,
        "tokens_seen": state.tokens_seen,
        "params_sha256": params_sha256(_unwrapped(model)),
        "files": digests,
        **(extra or {}),
    }
    files.write_bytes_atomic(
        join(folder, MANIFEST_FILE), (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    )
    return folder, manifest


def load_checkpoint(
    files: Files,
    folder: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    device: Device,
    rank: int = 0,
) -> TrainState:
    """Restore weights, optimizer, RNG states (rank `rank`'s, where the checkpoint has them by rank) from a
    checkpoint folder (local or `s3://`); returns the run's state. Every file is checked against the manifest's
    sha256 before anything is loaded."""
    manifest = read_manifest(files, folder)
    if manifest is None:
        raise CheckpointError(f"{folder}: no {MANIFEST_FILE}, so the checkpoint is incomplete")
    raw = files.read_bytes(join(folder, STATE_FILE))
    _check_digest(folder, STATE_FILE, hashlib.sha256(raw).hexdigest(), manifest)
    with ckpt_files.local_copy(files, join(folder, MODEL_FILE)) as model_file:
        _check_digest(folder, MODEL_FILE, ckpt_files.file_sha256(model_file), manifest)
        missing, unexpected = load_model(
            _unwrapped(model), model_file, strict=False, device=str(next(model.parameters()).device)
        )
    if missing or unexpected:
        raise CheckpointError(
            f"{folder}: does not fit the model (missing {sorted(missing)}, "
            f"unexpected {sorted(unexpected)}): was training.layers/d_model/model... changed?"
        )
    tensors = st_load(raw)
    if optimizer is not None:
        groups = json.loads(_metadata(raw)["param_groups"])
        optimizer.load_state_dict(_optimizer_state(tensors, groups))
    torch.set_rng_state(tensors.get(f"rng.cpu.{rank}", tensors["rng.cpu"]))
    device.set_rng_state(tensors.get(f"rng.device.{rank}", tensors.get("rng.device")))
    return TrainState(*(int(tensors[f"state.{k}"][0]) for k in ("step", "loader_position", "tokens_seen")))


def _check_digest(folder: str | Path, name: str, digest: str, manifest: dict) -> None:
    if manifest["files"].get(name) != digest:
        raise CheckpointError(f"{join(folder, name)}: sha256 differs from the checkpoint's manifest")


def _metadata(raw: bytes) -> dict:
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]).get("__metadata__", {})


def _unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)  # DistributedDataParallel wraps the model


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    sd = optimizer.state_dict()
    tensors = {
        f"optim.{i}.{k}": v.detach().cpu().contiguous().clone()
        for i, st in sd["state"].items()
        for k, v in st.items()
        if isinstance(v, torch.Tensor)
    }
    return tensors, sd["param_groups"]


def _optimizer_state(tensors: dict[str, torch.Tensor], groups: list[dict]) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = value
    return {"state": state, "param_groups": groups}


def read_manifest(files: Files, folder: str | Path) -> dict | None:
    """A checkpoint's manifest, or None when it has none (unfinished)."""
    try:
        return json.loads(files.read_bytes(join(folder, MANIFEST_FILE)))
    except FileNotFoundError:
        return None


def prune_checkpoints(files: Files, root: str | Path, keep_last: int, protect: int | None = None) -> list[int]:
    """Delete all but the newest `keep_last` complete checkpoints (never `protect`); returns steps deleted.
    Unfinished ones (no manifest) are neither counted nor deleted."""
    steps = ckpt_files.complete_steps(files, root)
    doomed = [s for s in steps[:-keep_last] if s != protect] if len(steps) > keep_last else []
    for step in doomed:
        ckpt_files.remove_folder(files, ckpt_files.step_folder(root, step))
    return doomed
