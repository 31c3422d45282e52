"""The tokenize stage vs raw HF `tokenizers` `encode_batch`, on the same documents, in one process.

    python bench/tokenize_stage.py [--mb 16] [--threads 1]

Auralith: `tokenize_partition` on one clean partition (read the zstd JSONL, drop-list check, encode in
batches, EOS, write safetensors shards, per-document profile), as a tokenize task runs it. Raw: the same texts,
already in memory, through one `Tokenizer.encode_batch` call and nothing else (and through
`encode_batch_fast`, which skips character offsets as the stage does). Tokens per second of wall time
and of CPU time; the tokenizer is a 16k byte-level BPE trained on the same kind of text (bench/pipeline.py).
`--threads` sets RAYON_NUM_THREADS for both (a subprocess, since the Rust thread pool reads it once): a worker
pool runs one process per core, so 1 thread is the figure that matters for it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
# raw: encode_batch, as the issue names it; raw_fast: encode_batch_fast (no character offsets), which the stage
# itself calls, so the stage's own overhead shows against it.
SIDES = ("raw", "raw_fast", "auralith")

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from auralith.config import parse_config
from auralith.sources.readers import jsonl_zst_writer
from auralith.steps.normalize import normalize_whitespace
from auralith.steps.tokenize import load_tokenizer
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.tokenize import tokenize_partition
from bench.corpus import real_text_documents

mb, tokenizer, tmp = float(sys.argv[1]), sys.argv[2], Path(sys.argv[4])
texts = [normalize_whitespace(t) for t in real_text_documents(mb, seed=3)]
cfg = parse_config({"sources": [{"path": "unused.jsonl"}], "work_dir": str(tmp / "work"),
                    "tokenization": {"tokenizer": tokenizer}, "output": {"path": str(tmp / "out")}}).resolved()
paths = WorkPaths.for_job(cfg, "bench")
with jsonl_zst_writer(paths.files, paths.clean(0)) as w:
    for i, t in enumerate(texts):
        w.write({"id": f"d{i}", "text": t, "file": "corpus.jsonl", "line": i + 1})
tok = load_tokenizer(tokenizer)
tok.encode_batch(texts[:64])  # warm-up: the thread pool and caches, for both sides

def timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    n = fn()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "tokens": n}

rounds = []
for _ in range(int(sys.argv[5])):
    raw = timed(lambda: sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)))
    fast = timed(lambda: sum(len(e.ids) for e in tok.encode_batch_fast(texts, add_special_tokens=False)))
    ours = timed(lambda: tokenize_partition(cfg, paths, 0, set())[0]["tokens"] - len(texts))
    rounds.append({"raw": raw, "raw_fast": fast, "auralith": ours})
print(json.dumps({"documents": len(texts), "mb": sum(len(t.encode()) for t in texts) / 2**20, "rounds": rounds}))
"""


def measure(mb: float = 16.0, threads: int | None = 1, rounds: int = 3) -> dict:
    """Median over rounds of tokens/s (wall and CPU) of both sides, and the ratio of the medians."""
    from bench.pipeline import tokenizer

    env = {**os.environ, **({"RAYON_NUM_THREADS": str(threads)} if threads else {})}
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(mb), str(tokenizer()), str(REPO), tmp, str(rounds)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    result = json.loads(out.stdout)
    for side in SIDES:
        walls = sorted(r[side]["wall"] for r in result["rounds"])
        cpus = sorted(r[side]["cpu"] for r in result["rounds"])
        tokens = result["rounds"][0][side]["tokens"]
        result[side] = {
            "tokens": tokens,
            "tok_s": tokens / walls[len(walls) // 2],
            "tok_cpu_s": tokens / cpus[len(cpus) // 2],
        }
    if len({result[side]["tokens"] for side in SIDES}) != 1:
        raise RuntimeError(f"token counts differ: {[result[side]['tokens'] for side in SIDES]}")
    for base in ("raw", "raw_fast"):
        result[f"ratio_{base}"] = result["auralith"]["tok_s"] / result[base]["tok_s"]
        result[f"cpu_ratio_{base}"] = result["auralith"]["tok_cpu_s"] / result[base]["tok_cpu_s"]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=16.0)
    ap.add_argument("--threads", type=int, default=1, help="RAYON_NUM_THREADS for both sides (0: the default)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    r = measure(args.mb, args.threads or None, args.rounds)
    print(
        f"{r['documents']:,} documents, {r['mb']:.1f} MB, {r['raw']['tokens']:,} tokens, "
        f"threads {args.threads or 'default'}"
    )
    print(f"{'':<10} {'tokens/s':>12} {'tokens/CPU-s':>13}")
    for side in SIDES:
        print(f"{side:<10} {r[side]['tok_s']:12,.0f} {r[side]['tok_cpu_s']:13,.0f}")
    for base, call in (("raw", "encode_batch"), ("raw_fast", "encode_batch_fast")):
        print(f"ratio auralith / raw {call}: {r['ratio_' + base]:.1%} (wall), {r['cpu_ratio_' + base]:.1%} (CPU)")


if __name__ == "__main__":
    main()
