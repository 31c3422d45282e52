"""The training loop, top to bottom: build, maybe resume, step, log, evaluate, checkpoint.

Knows nothing of Celery or SQL: whoever runs it passes `TrainHooks` to hear about progress and
checkpoints (the `auralith.train_model` task records them in the store). Same config, same shards, same
thread count: the same weights, bit for bit, whether the run was interrupted and resumed or not.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from auralith.config.training import TrainingConfig
from auralith.storage import Files
from auralith.train.checkpoint import TrainState, load_checkpoint, params_sha256, prune_checkpoints, save_checkpoint
from auralith.train.checkpoint_files import step_folder
from auralith.train.data import BatchSampler, TokenStream
from auralith.train.devices import Device, select_device
from auralith.train.distributed import (
    Gang,
    GangBroken,
    agree,
    form_gang,
    gather_rng,
    is_collective_failure,
    leave_gang,
    mean_over_ranks,
)
from auralith.train.families import build_model
from auralith.train.hooks import TrainHooks
from auralith.train.host_memory import retain_freed_memory
from auralith.train.model import make_optimizer
from auralith.train.schedule import lr_at

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    step: int
    loss: float | None
    tokens_seen: int
    params_sha256: str
    seconds: float
    device: str
    resumed_from: int = 0
    stopped: bool = False
    history: list[dict] = field(default_factory=list)


def train(
    cfg: TrainingConfig,
    manifest_path: str | Path,
    checkpoint_root: str | Path,
    *,
    files: Files,
    device: Device | None = None,
    resume_from: str | Path | None = None,
    hooks: TrainHooks | None = None,
    gang: Gang | None = None,
) -> TrainResult:
    """Train (or continue from the checkpoint folder `resume_from`) until `cfg.steps` optimizer steps.

    `files` (the job's storage) reads the shards and reads and writes the checkpoints. With a `gang` of several
    ranks, the ranks rendezvous first and rank 0 decides what to resume from (`resume_from` is then ignored); a
    rank that dies makes the others raise `GangBroken` at their next collective."""
    hooks = hooks or TrainHooks()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)  # the thread count changes float sums: fix it for exact resume
    retain_freed_memory()  # else every step faults its activations in again (host_memory.py)
    device = device or select_device(cfg.device)
    rank, world = 0, 1
    try:
        if gang is not None and gang.world > 1:
            rank, world = gang.rank, gang.world
            resume_from = form_gang(gang, device.distributed_backend).get("resume")
        else:
            rank, world = init_distributed(device)
        return _train(cfg, manifest_path, checkpoint_root, files, device, resume_from, hooks, rank, world)
    except RuntimeError as exc:
        if world > 1 and is_collective_failure(exc):
            raise GangBroken(f"rank {rank} of {world}: the gang broke (a rank died or timed out): {exc}") from exc
        raise
    finally:
        if world > 1:
            leave_gang()


def _train(
    cfg: TrainingConfig,
    manifest_path: str | Path,
    checkpoint_root: str | Path,
    files: Files,
    device: Device,
    resume_from: str | Path | None,
    hooks: TrainHooks,
    rank: int,
    world: int,
) -> TrainResult:
    # Model, optimizer and data: the same seed gives the same initial weights on every run (and every rank).
    stream = TokenStream(files, manifest_path, cfg.cache_dir)
    eos_id = (stream.manifest.get("tokenizer") or {}).get("eos_id")
    torch.manual_seed(cfg.seed)
    raw = build_model(cfg, stream.vocab_size, eos_id).to(device.torch_device)
    optimizer = make_optimizer(raw, cfg)
    model: torch.nn.Module = raw  # wrapped for DDP below when there are several ranks
    state = TrainState()
    if resume_from is not None:
        state = load_checkpoint(files, resume_from, model, optimizer, device, rank=rank)
        log.info("rank %d resumed from %s at step %d", rank, resume_from, state.step)
    if world > 1:
        # No buffers change during training: broadcasting them at every forward would be one collective more. The
        # option was renamed in torch 2.13; Gaudi's torch builds are older.
        ddp = torch.nn.parallel.DistributedDataParallel
        no_sync = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(ddp).parameters else None
        options: dict[str, Any] = {no_sync or "broadcast_buffers": False}
        model = ddp(model, **options)
    train_batches = BatchSampler(
        stream,
        cfg.context,
        cfg.batch_size,
        cfg.seed,
        val_fraction=cfg.val_fraction,
        position=state.loader_position,
        rank=rank,
        world=world,
    )
    val_batches = (  # evaluated by rank 0 alone, on the model without DDP (no collective)
        BatchSampler(stream, cfg.context, cfg.batch_size, cfg.seed, val_fraction=cfg.val_fraction, split="val")
        if cfg.eval_every and cfg.val_fraction and rank == 0
        else None
    )
    hooks.started(
        {
            "device": device.description,
            "parameters": sum(p.numel() for p in raw.parameters()),
            "family": cfg.family,
            "start_step": state.step,
            "steps": cfg.steps,
            "tokens": len(stream),
            "world_size": world,
            "rank": rank,
        }
    )

    resumed_from, start = state.step, time.perf_counter()
    window_start, window_steps, loss_sum = start, 0, torch.zeros((), device=device.torch_device)
    result = TrainResult(state.step, None, state.tokens_seen, "", 0.0, device.kind, resumed_from)
    model.train()
    while state.step < cfg.steps:
        lr = lr_at(state.step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr

        # One optimizer step over `grad_accum` micro-batches.
        for _ in range(cfg.grad_accum):
            x, y = (torch.from_numpy(a).to(device.torch_device) for a in train_batches.next_batch())
            with device.autocast(cfg.precision):
                _, loss = model(x, y)
            (loss / cfg.grad_accum).backward()
            device.mark_step()  # Gaudi lazy mode: run the forward+backward graph now
            loss_sum += loss.detach() / cfg.grad_accum
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        device.mark_step()  # and the optimizer's graph
        optimizer.zero_grad(set_to_none=True)
        state.step += 1
        state.loader_position = train_batches.position
        state.tokens_seen += cfg.tokens_per_step * world
        window_steps += 1

        # Logging reads the loss back from the device only here: a sync per step would stall HPU/CUDA.
        last = state.step == cfg.steps
        if state.step % cfg.log_every == 0 or last:
            now = time.perf_counter()
            metrics = {
                "step": state.step,
                "loss": mean_over_ranks(loss_sum).item() / window_steps,  # the global batch's loss
                "lr": lr,
                "tokens_per_s": window_steps * cfg.tokens_per_step * world / max(now - window_start, 1e-9),
                "tokens_seen": state.tokens_seen,
                "elapsed_s": now - start,
            }
            metrics["eta_s"] = (cfg.steps - state.step) * cfg.tokens_per_step * world / metrics["tokens_per_s"]
            if val_batches is not None and (state.step % cfg.eval_every == 0 or last):
                metrics["val_loss"] = evaluate(raw, val_batches, cfg, device)
            memory = device.memory_bytes()
            if memory is not None:
                metrics["device_memory_bytes"] = memory
            result.loss = metrics["loss"]
            result.history.append(metrics)
            hooks.log(metrics)
            window_start, window_steps, loss_sum = time.perf_counter(), 0, torch.zeros_like(loss_sum)

        if state.step % cfg.checkpoint_every == 0 or last:
            folder = step_folder(checkpoint_root, state.step)
            # Every rank's RNG goes into rank 0's checkpoint; whether to write it at all is decided together.
            rngs = gather_rng([torch.get_rng_state(), device.rng_state()], device.torch_device)
            refused = rank == 0 and not hooks.checkpoint_started(state.step, folder)
            if agree(refused, device.torch_device):
                result.stopped = True
                break
            if rank == 0:
                extra = {"config": cfg.model_dump(mode="json"), "vocab_size": stream.vocab_size, "eos_id": eos_id}
                folder, manifest = save_checkpoint(
                    files, checkpoint_root, model, optimizer, device, state, extra=extra, rank_rngs=rngs
                )
                hooks.checkpoint_committed(state.step, folder, manifest)
                removed = prune_checkpoints(files, checkpoint_root, cfg.keep_last, protect=state.step)
                if removed:
                    hooks.checkpoints_removed(removed)

        if (state.step % cfg.log_every == 0 or last) and agree(hooks.should_stop(), device.torch_device):
            result.stopped = not last
            break

    result.step, result.tokens_seen = state.step, state.tokens_seen
    result.seconds = time.perf_counter() - start
    result.params_sha256 = params_sha256(raw)
    return result


@torch.no_grad()
def evaluate(model: torch.nn.Module, batches: BatchSampler, cfg: TrainingConfig, device: Device) -> float:
    """Mean loss over the first `eval_batches` validation batches (the same ones every time)."""
    model.eval()
    total = torch.zeros((), device=device.torch_device)
    for n in range(cfg.eval_batches):
        x, y = (torch.from_numpy(a).to(device.torch_device) for a in batches.batch_at(n))
        with device.autocast(cfg.precision):
            _, loss = model(x, y)
        device.mark_step()
        total += loss.float()
    model.train()
    return total.item() / cfg.eval_batches


def init_distributed(device: Device) -> tuple[int, int]:
    """(rank, world size) under an external launcher (torchrun sets WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT);
    Auralith's own ranks rendezvous through `Gang` instead. The backend is the device's: `hccl` on Gaudi."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend=device.distributed_backend)
    return dist.get_rank(), world
