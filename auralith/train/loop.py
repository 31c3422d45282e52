"""The training loop, top to bottom: build, maybe resume, step, log, evaluate, checkpoint.

Knows nothing of Celery or SQL: whoever runs it passes `TrainHooks` to hear about progress and
checkpoints (the `auralith.train_model` task records them in the store). Same config, same shards, same
thread count: the same weights, bit for bit, whether the run was interrupted and resumed or not.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from auralith.config.training import TrainingConfig
from auralith.storage import Files
from auralith.train.checkpoint import TrainState, load_checkpoint, params_sha256, prune_checkpoints, save_checkpoint
from auralith.train.checkpoint_files import step_folder
from auralith.train.data import BatchSampler, TokenStream
from auralith.train.devices import Device, select_device
from auralith.train.hooks import TrainHooks
from auralith.train.host_memory import retain_freed_memory
from auralith.train.model import GPT, make_optimizer
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
) -> TrainResult:
    """Train (or continue from the checkpoint folder `resume_from`) until `cfg.steps` optimizer steps.

    `files` (the job's storage) reads the shards and reads and writes the checkpoints."""
    hooks = hooks or TrainHooks()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)  # the thread count changes float sums: fix it for exact resume
    retain_freed_memory()  # else every step faults its activations in again (host_memory.py)
    device = device or select_device(cfg.device)
    rank, world = init_distributed(device)

    # Model, optimizer and data: the same seed gives the same initial weights on every run.
    stream = TokenStream(files, manifest_path, cfg.cache_dir)
    torch.manual_seed(cfg.seed)
    gpt = GPT.from_config(cfg, stream.vocab_size).to(device.torch_device)
    optimizer = make_optimizer(gpt, cfg)
    model: torch.nn.Module = gpt  # wrapped for DDP below when there are several ranks
    state = TrainState()
    if resume_from is not None:
        state = load_checkpoint(files, resume_from, model, optimizer, device)
        log.info("resumed from %s at step %d", resume_from, state.step)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
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
    val_batches = (
        BatchSampler(stream, cfg.context, cfg.batch_size, cfg.seed, val_fraction=cfg.val_fraction, split="val")
        if cfg.eval_every and cfg.val_fraction
        else None
    )
    hooks.started(
        {
            "device": device.description,
            "parameters": _raw(model).num_parameters(),
            "start_step": state.step,
            "steps": cfg.steps,
            "tokens": len(stream),
            "world_size": world,
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
                "loss": loss_sum.item() / window_steps,
                "lr": lr,
                "tokens_per_s": window_steps * cfg.tokens_per_step * world / max(now - window_start, 1e-9),
                "tokens_seen": state.tokens_seen,
                "elapsed_s": now - start,
            }
            metrics["eta_s"] = (cfg.steps - state.step) * cfg.tokens_per_step * world / metrics["tokens_per_s"]
            if val_batches is not None and (state.step % cfg.eval_every == 0 or last):
                metrics["val_loss"] = evaluate(model, val_batches, cfg, device)
            result.loss = metrics["loss"]
            result.history.append(metrics)
            hooks.log(metrics)
            window_start, window_steps, loss_sum = time.perf_counter(), 0, torch.zeros_like(loss_sum)

        if rank == 0 and (state.step % cfg.checkpoint_every == 0 or last):
            folder = step_folder(checkpoint_root, state.step)
            if not hooks.checkpoint_started(state.step, folder):
                result.stopped = True
                break
            folder, manifest = save_checkpoint(
                files, checkpoint_root, model, optimizer, device, state, extra={"config": cfg.model_dump(mode="json")}
            )
            hooks.checkpoint_committed(state.step, folder, manifest)
            removed = prune_checkpoints(files, checkpoint_root, cfg.keep_last, protect=state.step)
            if removed:
                hooks.checkpoints_removed(removed)

        if (state.step % cfg.log_every == 0 or last) and hooks.should_stop():
            result.stopped = not last
            break

    result.step, result.tokens_seen = state.step, state.tokens_seen
    result.seconds = time.perf_counter() - start
    result.params_sha256 = params_sha256(_raw(model))
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
    """(rank, world size). One process per card; with WORLD_SIZE > 1 (set by the launcher, with RANK,
    MASTER_ADDR, MASTER_PORT) the process group uses the device's backend: `hccl` on Gaudi."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend=device.distributed_backend)
    return dist.get_rank(), world


def _raw(model: torch.nn.Module) -> GPT:
    raw = getattr(model, "module", model)  # the model inside DistributedDataParallel
    assert isinstance(raw, GPT)
    return raw
