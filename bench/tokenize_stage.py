"""The tokenize stage (fastokens, checked) vs the same stage on HF `tokenizers` and vs datatrove's DocumentTokenizer.

    python bench/tokenize_stage.py [--mb 16] [--threads 1] [--rounds 3]

Auralith: `tokenize_partition` on one clean partition (read the zstd JSONL, drop-list check, encode in batches,
EOS, write safetensors shards, per-document profile), as a tokenize task runs it: once with its default encoder
(`auto`: fastokens, a sample checked against `tokenizers`) and once with `encoder: tokenizers` (HF
`encode_batch_fast`, what the stage called before). datatrove: its `DocumentTokenizer` (HF `tokenizers`
`encode_batch`, EOS, `.ds` files with an index), unshuffled, over the same texts as `Document`s. Raw: one
`encode_batch_fast` call on the texts in memory. The text is real (man pages and /usr/share/doc) plus every
language of the machine's gettext catalogues; the tokenizer a 16k byte-level BPE (bench/pipeline.py).
Tokens per CPU-second (and wall), median over rounds that alternate the sides; each round loads every tokenizer
afresh, since all of them cache words they have seen and a worker never sees the same text twice. The two
Auralith runs' shards must be byte-identical. `--threads` sets RAYON_NUM_THREADS and FASTOKENS_BPE_THREADS (a
subprocess: the Rust thread pools read them once): a worker pool runs one process per core, so 1 thread is the
figure that matters for it.
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
SIDES = ("raw_fast", "datatrove", "auralith_hf", "auralith")

CHILD = r"""
import hashlib, json, sys, time
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from auralith.config import parse_config
from auralith.sources.readers import jsonl_zst_writer
from auralith.steps import encoders, tokenize as steps_tokenize
from auralith.steps.normalize import normalize_whitespace
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.tokenize import tokenize_partition
from bench.corpus import real_text_documents
from tests.multilingual import translated_documents
from tokenizers import Tokenizer

mb, tokenizer, tmp = float(sys.argv[1]), sys.argv[2], Path(sys.argv[4])
texts = [t for per_lang in translated_documents(per_language=4).values() for t in per_lang]
english_mb = mb - sum(len(t.encode()) for t in texts) / 2**20
texts = [normalize_whitespace(t) for t in texts + real_text_documents(english_mb, seed=3)]


def config(encoder):
    return parse_config({"sources": [{"path": "unused.jsonl"}], "work_dir": str(tmp / "work"),
                         "tokenization": {"tokenizer": tokenizer, "encoder": encoder},
                         "output": {"path": str(tmp / f"out-{encoder}")}}).resolved()


paths = WorkPaths.for_job(config("auto"), "bench")
with jsonl_zst_writer(paths.files, paths.clean(0)) as w:
    for i, t in enumerate(texts):
        w.write({"id": f"d{i}", "text": t, "file": "corpus.jsonl", "line": i + 1})


def fresh():  # no round starts with the word caches of the one before
    steps_tokenize._LOADED.clear()
    encoders._FAST.clear()


def raw_fast():
    tok = Tokenizer.from_file(tokenizer)
    return lambda: sum(len(e.ids) for e in tok.encode_batch_fast(texts, add_special_tokens=False))


def ours(encoder):
    cfg = config(encoder)
    fresh()
    steps_tokenize.load_tokenizer(tokenizer)
    return lambda: tokenize_partition(cfg, paths, 0, set())[0]["tokens"] - len(texts)


def datatrove():
    from datatrove.data import Document
    from datatrove.pipeline.tokens import DocumentTokenizer

    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    step = DocumentTokenizer(str(tmp / "datatrove"), tokenizer_name_or_path=tokenizer, eos_token="<|endoftext|>",
                             shuffle_documents=False, save_final_metadata=False, batch_size=512)
    step.tokenizer  # loaded outside the timing, like the other sides

    def run():
        for _ in step.run(iter(docs), rank=0, world_size=1) or ():  # a generator in some datatrove versions
            pass
        return step.stats["tokens"].total - len(texts)

    return run


def timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    n = fn()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "tokens": n}


def shards(encoder):
    out = tmp / f"out-{encoder}"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("part-*"))}


rounds = []
for _ in range(int(sys.argv[5])):
    rounds.append({"raw_fast": timed(raw_fast()), "datatrove": timed(datatrove()),
                   "auralith_hf": timed(ours("tokenizers")), "auralith": timed(ours("auto"))})
print(json.dumps({"documents": len(texts), "mb": sum(len(t.encode()) for t in texts) / 2**20, "rounds": rounds,
                  "identical": shards("auto") == shards("tokenizers") != {}}))
"""


def measure(mb: float = 16.0, threads: int | None = 1, rounds: int = 3) -> dict:
    """Median over rounds of tokens/s (wall and CPU) of both sides, and the ratio of the medians."""
    from bench.pipeline import tokenizer

    pools = ("RAYON_NUM_THREADS", "FASTOKENS_BPE_THREADS")
    env = {**os.environ, **({name: str(threads) for name in pools} if threads else {})}
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
    for base in ("raw_fast", "datatrove", "auralith_hf"):
        result[f"ratio_{base}"] = result["auralith"]["tok_s"] / result[base]["tok_s"]
        result[f"cpu_ratio_{base}"] = result["auralith"]["tok_cpu_s"] / result[base]["tok_cpu_s"]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=16.0)
    ap.add_argument("--threads", type=int, default=1, help="threads of the Rust pools (0: their default)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    r = measure(args.mb, args.threads or None, args.rounds)
    print(
        f"{r['documents']:,} documents, {r['mb']:.1f} MB, {r['auralith']['tokens']:,} tokens, "
        f"threads {args.threads or 'default'}; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"{'':<12} {'tokens/s':>12} {'tokens/CPU-s':>13} {'auralith is':>12}")
    for side in SIDES:
        ratio = f"{r['cpu_ratio_' + side]:.1f}x" if side != "auralith" else ""
        print(f"{side:<12} {r[side]['tok_s']:12,.0f} {r[side]['tok_cpu_s']:13,.0f} {ratio:>12}")
    print(f"shards byte-identical to the tokenizers run: {'yes' if r['identical'] else 'NO'}")


if __name__ == "__main__":
    main()
