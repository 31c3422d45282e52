"""Training at scale, on CPU: 1 vs 2 ranks (gloo, one thread each), and Auralith's loop vs a plain transformers +
PyTorch loop on the same llama-family model. Run through `python bench/train.py --ranks --llama`.

Each side runs in a process of its own (ranks rendezvous as Auralith's do, through `auralith.train.distributed`,
here with a file where a job has its store), the sides alternate within each round, and the table shows every
round, each side's median and the median of the per-round ratios. Wall tokens/s counts the whole gang's tokens
over rank 0's loop (`TrainResult.seconds`, first step to last); on a shared machine it swings several-fold, so the
table also gives tokens per CPU-second, summed over the ranks' whole `train()` calls (model build and the final
checkpoint included) and, for the plain loop, over its model build and steps: the cost of the work, whatever the
machine's other load.
"""

from __future__ import annotations

import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

LLAMA = {"family": "llama", "layers": 2, "heads": 4, "kv_heads": 2, "d_model": 64, "ffn": 172}

PLAIN_LLAMA = r"""
import json, sys, time
import torch
from torch.nn import functional as F
from transformers import LlamaConfig, LlamaForCausalLM
from auralith.config.training import TrainingConfig
from auralith.storage import Files
from auralith.train.data import BatchSampler, TokenStream
from auralith.train.schedule import lr_at

cfg = TrainingConfig.model_validate(json.loads(sys.argv[2]))
torch.set_num_threads(cfg.threads)
stream = TokenStream(Files(), sys.argv[1])
m = cfg.model
config = LlamaConfig(vocab_size=stream.vocab_size, hidden_size=m.d_model, intermediate_size=m.ffn,
                     num_hidden_layers=m.layers, num_attention_heads=m.heads, num_key_value_heads=m.kv_heads,
                     max_position_embeddings=cfg.context)

def loop(steps):
    start, cpu = time.perf_counter(), time.process_time()
    torch.manual_seed(cfg.seed)
    model = LlamaForCausalLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
    batches = BatchSampler(stream, cfg.context, cfg.batch_size, cfg.seed, val_fraction=cfg.val_fraction)
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        x, y = (torch.from_numpy(a) for a in batches.next_batch())
        logits = model(input_ids=x).logits
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return time.perf_counter() - start, time.process_time() - cpu

loop(2)
wall, cpu = loop(cfg.steps)
print(json.dumps({"seconds": wall, "cpu": cpu}))
"""


def _rank(training: dict, manifest: str, root: str, board: str, rank: int, world: int, out: str) -> None:
    from auralith.config.training import TrainingConfig
    from auralith.storage import Files
    from auralith.train.distributed import Gang
    from auralith.train.loop import train

    path = Path(board)
    gang = Gang(
        rank=rank,
        world=world,
        publish=path.write_text,
        lookup=lambda: path.read_text() if path.exists() else None,
        describe_missing=str,
    )
    cfg = TrainingConfig.model_validate(training)
    train(cfg.model_copy(update={"steps": 2, "warmup_steps": 1}), manifest, root + "-warm", files=Files(), gang=gang)
    path.unlink(missing_ok=True)
    cpu = time.process_time()
    result = train(cfg, manifest, root, files=Files(), gang=gang)
    Path(out).write_text(json.dumps({"seconds": result.seconds, "cpu": time.process_time() - cpu}))


def run_gang(training: dict, manifest: Path, world: int, tmp: Path) -> tuple[float, float]:
    """(wall seconds of rank 0's loop, CPU seconds of all ranks' `train()` calls) for `world` ranks, one process
    each."""
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp / f"r{world}-{r}.json" for r in range(world)]
    procs = [
        ctx.Process(
            target=_rank,
            args=(training, str(manifest), str(tmp / f"ckpt{world}"), str(tmp / f"board{world}"), r, world, str(o)),
        )
        for r, o in enumerate(outs)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode for p in procs):
        raise SystemExit(f"a rank failed: exit codes {[p.exitcode for p in procs]}")
    results = [json.loads(o.read_text()) for o in outs]
    return results[0]["seconds"], sum(r["cpu"] for r in results)


def run_plain_llama(training: dict, manifest: Path) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", PLAIN_LLAMA, str(manifest), json.dumps(training)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    return result["seconds"], result["cpu"]


def _table(title: str, names: tuple[str, str], runs: list[tuple[float, float, float, float]]) -> dict:
    """Rows of (a tokens/s, b tokens/s, a tokens per CPU-second, b tokens per CPU-second)."""
    a, b = names
    print(title)
    head = f"{'round':>6} | {a:>10} | {b:>10} | {'wall ratio':>10} | {a + ' /cpu-s':>14} | {b + ' /cpu-s':>14}"
    print(f"{head} | {'cpu ratio':>9}")
    for i, (x, y, cx, cy) in enumerate(runs, 1):
        print(f"{i:>6} | {x:>10,.0f} | {y:>10,.0f} | {y / x:>10.1%} | {cx:>14,.0f} | {cy:>14,.0f} | {cy / cx:>9.1%}")
    med = {k: statistics.median(r[i] for r in runs) for i, k in enumerate((a, b, f"{a}_cpu", f"{b}_cpu"))}
    ratio = statistics.median(r[1] / r[0] for r in runs)
    cpu_ratio = statistics.median(r[3] / r[2] for r in runs)
    print(
        f"{'median':>6} | {med[a]:>10,.0f} | {med[b]:>10,.0f} | {ratio:>10.1%} | {med[a + '_cpu']:>14,.0f} | "
        f"{med[b + '_cpu']:>14,.0f} | {cpu_ratio:>9.1%}"
    )
    return {**med, "ratio": ratio, "cpu_ratio": cpu_ratio}


def measure_ranks(manifest: Path, steps: int, rounds: int) -> dict:
    """tokens/s of 1 rank and of 2 ranks (gloo, 1 thread each, batch 8 per rank: the gang's batch doubles)."""
    training = {
        "layers": 2,
        "heads": 2,
        "d_model": 64,
        "context": 64,
        "batch_size": 8,
        "steps": steps,
        "lr": 3e-3,
        "warmup_steps": 10,
        "checkpoint_every": steps,
        "log_every": 10,
        "threads": 1,
        "device": "cpu",
    }
    per_rank = steps * 8 * 64
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            (w1, c1), (w2, c2) = run_gang(training, manifest, 1, Path(tmp)), run_gang(training, manifest, 2, Path(tmp))
            runs.append((per_rank / w1, 2 * per_rank / w2, per_rank / c1, 2 * per_rank / c2))
    return _table(
        f"GPT 2 layers, d_model 64, context 64, batch 8 per rank, {steps} steps, gloo, 1 thread per rank; "
        "tokens/s of the gang (wall), and tokens per CPU-second of all ranks",
        ("1 rank", "2 ranks"),
        runs,
    )


def measure_llama(manifest: Path, steps: int, rounds: int) -> dict:
    """tokens/s of Auralith's loop (one rank, checkpoint at the end, logging every 10 steps) vs the plain loop."""
    training = {
        "model": LLAMA,
        "context": 64,
        "batch_size": 8,
        "steps": steps,
        "lr": 3e-3,
        "warmup_steps": 10,
        "checkpoint_every": steps,
        "log_every": 10,
        "threads": 1,
        "device": "cpu",
    }
    tokens = steps * 8 * 64
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            (pw, pc), (aw, ac) = run_plain_llama(training, manifest), run_gang(training, manifest, 1, Path(tmp))
            runs.append((tokens / pw, tokens / aw, tokens / pc, tokens / ac))
    return _table(
        f"llama {LLAMA}, context 64, batch 8, {steps} steps, 1 thread; tokens/s (wall), tokens per CPU-second",
        ("plain HF", "Auralith"),
        runs,
    )
