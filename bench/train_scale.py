"""Training at scale, on CPU: 1 vs 2 ranks (gloo, one thread each), and Auralith's loop vs a plain transformers +
PyTorch loop on the same llama-family model. Run through `python bench/train.py --ranks --llama`.

Each side runs in a process of its own (ranks rendezvous as Auralith's do, through `auralith.train.distributed`,
here with a file where a job has its store), the sides alternate within each round, and the table shows every
round, each side's median and the median of the per-round ratios. Tokens/s counts the whole gang's tokens over the
loop's own time (`TrainResult.seconds`: from the first step to the last, rendezvous and model build excluded),
the same span the plain loop times.
"""

from __future__ import annotations

import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
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
    torch.manual_seed(cfg.seed)
    model = LlamaForCausalLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
    batches = BatchSampler(stream, cfg.context, cfg.batch_size, cfg.seed, val_fraction=cfg.val_fraction)
    start = time.perf_counter()
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
    return time.perf_counter() - start

loop(2)
print(json.dumps({"seconds": loop(cfg.steps)}))
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
    result = train(cfg, manifest, root, files=Files(), gang=gang)
    Path(out).write_text(json.dumps({"seconds": result.seconds}))


def run_gang(training: dict, manifest: Path, world: int, tmp: Path) -> float:
    """Seconds of rank 0's loop for `world` ranks, one process each."""
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
    return json.loads(outs[0].read_text())["seconds"]


def run_plain_llama(training: dict, manifest: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PLAIN_LLAMA, str(manifest), json.dumps(training)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)["seconds"]


def _table(title: str, names: tuple[str, str], runs: list[tuple[float, float]], ratio_name: str) -> dict:
    a, b = names
    print(title)
    print(f"{'round':>6} | {a:>12} | {b:>12} | {ratio_name:>10}")
    for i, (x, y) in enumerate(runs, 1):
        print(f"{i:>6} | {x:>12,.0f} | {y:>12,.0f} | {y / x:>10.1%}")
    med = {a: statistics.median(x for x, _ in runs), b: statistics.median(y for _, y in runs)}
    ratio = statistics.median(y / x for x, y in runs)
    print(f"{'median':>6} | {med[a]:>12,.0f} | {med[b]:>12,.0f} | {ratio:>10.1%}")
    return {**med, "ratio": ratio}


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
            one = per_rank / run_gang(training, manifest, 1, Path(tmp))
            two = 2 * per_rank / run_gang(training, manifest, 2, Path(tmp))
            runs.append((one, two))
    return _table(
        f"GPT 2 layers, d_model 64, context 64, batch 8 per rank, {steps} steps, gloo, 1 thread per rank; "
        "tokens/s of the gang",
        ("1 rank", "2 ranks"),
        runs,
        "2 vs 1",
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
            plain = tokens / run_plain_llama(training, manifest)
            ours = tokens / run_gang(training, manifest, 1, Path(tmp))
            runs.append((plain, ours))
    return _table(
        f"llama {LLAMA}, context 64, batch 8, {steps} steps, 1 thread; tokens/s",
        ("plain HF", "Auralith"),
        runs,
        "vs plain",
    )
