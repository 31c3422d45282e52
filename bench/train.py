"""Training throughput: Auralith's loop inside a Celery task vs a plain PyTorch loop, same model and data.

    python bench/train.py                 # Redis db 7 as broker, a SQLite store in a temp folder
    python bench/train.py --steps 300 --rounds 3 --broker redis://127.0.0.1:6379/7
    python bench/train.py --only --ranks --llama --rounds 3   # 1 vs 2 ranks; vs a plain transformers loop

The Celery side runs as users run it: `celery -A auralith worker -Q hpu --pool=solo` in its own process,
the job sent with `Client.train`, timed from the send until the worker marks the job succeeded (its
`finished_at`), so it includes queueing, the store writes of progress and metrics, `update_state`, and the
checkpoints. The plain side
is a loop a researcher would write in one process: the same GPT, AdamW, lr schedule and batches, no
checkpoints, no logging, timed from building the model to the last step; it runs twice per round, as
written and with the malloc settings Auralith's loop makes (auralith/train/host_memory.py), so the table
shows both what a user gains and what the loop itself costs. Each side gets one untimed
2-step warm-up first (the worker's is a tiny job), so neither pays one-off kernel and allocator set-up.
Rounds alternate the sides, so machine noise hits all; the table shows every round, each side's median,
and the median over rounds of each round's ratio. On a machine shared with other work, `--threads 1`
gives steadier figures: two OpenMP threads on two busy cores swing several-fold from run to run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]

PLAIN = r"""
import json, sys, time
import torch
from auralith.config.training import TrainingConfig
from auralith.storage import Files
from auralith.train.data import BatchSampler, TokenStream
from auralith.train.model import GPT, make_optimizer
from auralith.train.schedule import lr_at

def loop(cfg):
    stream = TokenStream(Files(), sys.argv[1])
    torch.manual_seed(cfg.seed)
    model = GPT.from_config(cfg, stream.vocab_size)
    opt = make_optimizer(model, cfg)
    batches = BatchSampler(stream, cfg.context, cfg.batch_size, cfg.seed, val_fraction=cfg.val_fraction)
    for step in range(cfg.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        x, y = (torch.from_numpy(a) for a in batches.next_batch())
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return loss.item()


cfg = TrainingConfig.model_validate(json.loads(sys.argv[2]))
if sys.argv[3] == "tuned":  # the malloc settings Auralith's loop uses (auralith/train/host_memory.py)
    from auralith.train.host_memory import retain_freed_memory
    assert retain_freed_memory()
if cfg.threads:
    torch.set_num_threads(cfg.threads)
loop(cfg.model_copy(update={"steps": 2}))  # warm-up, as the Celery worker got one: kernels, allocator
start, cpu = time.perf_counter(), time.process_time()
loss = loop(cfg)
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "loss": loss}))
"""


def make_shards(out: Path) -> Path:
    """The example corpus (examples/data) tokenized with examples/tokenizer.json into shards + manifest."""
    from tokenizers import Tokenizer

    from auralith.steps.shards import ShardWriter, write_manifest
    from auralith.storage import Files

    tok = Tokenizer.from_file(str(REPO / "examples" / "tokenizer.json"))
    texts = []
    for path in sorted((REPO / "examples" / "data").glob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh if line.strip()]
    eos = tok.get_vocab_size() - 1
    writer = ShardWriter(Files(), out, "part-00000", dtype="uint16", max_shard_bytes=256_000)
    for enc in tok.encode_batch(texts):
        writer.add(np.array([*enc.ids, eos], dtype=np.uint16))
    shards = writer.close()
    return write_manifest(
        Files(),
        out,
        {
            "format": "auralith-manifest/1",
            "shards": [s.to_dict() for s in shards],
            "tokenizer": {"vocab_size": tok.get_vocab_size(), "eos_id": eos},
            "tokens": sum(s.n_tokens for s in shards),
        },
    )


def write_config(path: Path, work: Path, training: dict) -> Path:
    # sources/tokenization are required keys of any job config; training on existing shards reads neither.
    path.write_text(
        yaml.safe_dump(
            {
                "name": "bench-train",
                "sources": [{"path": "unused.jsonl"}],
                "tokenization": {"tokenizer": "unused.json"},
                "work_dir": str(work),
                "training": training,
            }
        )
    )
    return path


def run_plain(manifest: Path, training: dict, tuned: bool = False) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process) of the plain loop; `tuned`: with Auralith's malloc settings."""
    out = subprocess.run(
        [sys.executable, "-c", PLAIN, str(manifest), json.dumps(training), "tuned" if tuned else "default"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    return result["seconds"], result["cpu"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_celery(client, config: Path, manifest: Path, worker_pid: int) -> tuple[float, float]:
    """(wall seconds from send to succeeded, CPU seconds the solo worker spent meanwhile)."""
    cpu = cpu_seconds(worker_pid)
    sent = datetime.now(timezone.utc)
    job_id = client.train(config, manifest)
    while not client.get_job(job_id, with_stats=False).done:
        time.sleep(0.5)  # slow polling leaves the CPU to the worker; the end time comes from the store
    cpu = cpu_seconds(worker_pid) - cpu
    info = client.get_job(job_id)
    if info.state != "succeeded":
        raise SystemExit(f"training job failed: {info.error}")
    return (info.finished_at - sent).total_seconds(), cpu


def measure(
    steps: int = 200,
    rounds: int = 3,
    checkpoint_every: int = 100,
    threads: int | None = None,
    broker: str = "redis://127.0.0.1:6379/7",
    show: bool = True,
) -> dict:
    """Rounds of (plain loop, plain loop with Auralith's malloc settings, Celery task) back to back; tokens/s
    per side and the median per-round ratios of the Celery task to each plain side."""
    training = {
        "layers": 2,
        "heads": 2,
        "d_model": 64,
        "context": 64,
        "batch_size": 8,
        "steps": steps,
        "lr": 3e-3,
        "warmup_steps": 10,
        "checkpoint_every": checkpoint_every,
        "log_every": 10,
        "threads": threads,
        "device": "cpu",
    }
    tokens = steps * 8 * 64
    out = print if show else (lambda *a, **k: None)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest = make_shards(tmp / "shards")
        config = write_config(tmp / "bench.yaml", tmp / "work", training)
        store = f"sqlite:///{tmp / 'store.db'}"
        env = {**os.environ, "AURALITH_BROKER_URL": broker, "AURALITH_STORE_URL": store}
        from auralith.client import Client

        client = Client(broker, store)
        client.store.upgrade()  # migrate before the worker starts
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "auralith",
                "worker",
                "-Q",
                "hpu",
                "--pool=solo",
                "-l",
                "WARNING",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            # Untimed warm-up: the worker's start and the first job's imports are not training speed.
            warm = write_config(tmp / "warm.yaml", tmp / "work", {**training, "steps": 2, "warmup_steps": 1})
            run_celery(client, warm, manifest, worker.pid)
            sides = {"plain": [], "tuned": [], "celery": []}  # tokens/s of wall time, per round
            cpu = {"plain": [], "tuned": [], "celery": []}  # tokens per CPU-second of the training process
            out(
                f"GPT 2 layers, d_model 64, context 64, batch 8, {steps} steps ({tokens:,} tokens), "
                f"checkpoint every {checkpoint_every} (Auralith only), threads {threads or 'default'}"
            )
            out("tokens/s of wall time; the plain loop as written, and with Auralith's malloc settings")
            out(
                f"{'round':>6} | {'plain':>9} | {'plain+malloc':>12} | {'Auralith':>9} | {'vs plain':>8} | "
                f"{'vs plain+malloc':>15}"
            )
            for r in range(rounds):
                runs = {
                    "plain": run_plain(manifest, training),
                    "tuned": run_plain(manifest, training, tuned=True),
                    "celery": run_celery(client, config, manifest, worker.pid),
                }
                for side, (wall, cpu_s) in runs.items():
                    sides[side].append(tokens / wall)
                    cpu[side].append(tokens / cpu_s)
                out(
                    f"{r + 1:>6} | {sides['plain'][-1]:>9,.0f} | {sides['tuned'][-1]:>12,.0f} | "
                    f"{sides['celery'][-1]:>9,.0f} | {sides['celery'][-1] / sides['plain'][-1]:>8.1%} | "
                    f"{sides['celery'][-1] / sides['tuned'][-1]:>15.1%}"
                )

            # A ratio's median is over rounds (each round runs the sides back to back, under the same load).
            def ratio(figures: dict, base: str) -> float:
                return statistics.median(c / p for c, p in zip(figures["celery"], figures[base], strict=True))

            result = {
                **{side: statistics.median(v) for side, v in sides.items()},
                **{f"{side}_cpu": statistics.median(v) for side, v in cpu.items()},
                "ratio": ratio(sides, "plain"),
                "ratio_tuned": ratio(sides, "tuned"),
                "cpu_ratio": ratio(cpu, "plain"),
                "cpu_ratio_tuned": ratio(cpu, "tuned"),
            }
            out(
                f"{'median':>6} | {result['plain']:>9,.0f} | {result['tuned']:>12,.0f} | {result['celery']:>9,.0f} | "
                f"{result['ratio']:>8.1%} | {result['ratio_tuned']:>15.1%}"
            )
            return result
        finally:
            os.killpg(worker.pid, 9)
            worker.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--checkpoint-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--broker", default=os.environ.get("AURALITH_BENCH_BROKER", "redis://127.0.0.1:6379/7"))
    ap.add_argument("--ranks", action="store_true", help="Also 1 vs 2 ranks (gloo, 1 thread each).")
    ap.add_argument("--llama", action="store_true", help="Also Auralith's loop vs a plain transformers loop (llama).")
    ap.add_argument("--only", action="store_true", help="Skip the Celery-task comparison.")
    args = ap.parse_args()
    if not args.only:
        measure(args.steps, args.rounds, args.checkpoint_every, args.threads, args.broker)
    if args.ranks or args.llama:
        sys.path.insert(0, str(REPO))
        from bench.train_scale import measure_llama, measure_ranks

        with tempfile.TemporaryDirectory() as tmp:
            manifest = make_shards(Path(tmp) / "shards")
            if args.ranks:
                measure_ranks(manifest, args.steps, args.rounds)
            if args.llama:
                measure_llama(manifest, args.steps, args.rounds)


if __name__ == "__main__":
    main()
