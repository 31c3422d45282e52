"""What each output costs, after tokenization: safetensors shards, Megatron .bin/.idx, both, and a mixed and
shuffled output (tokens spilled to the work folder, then the mix decision and the write stage).

    python bench/output_formats.py [--mb 8] [--partitions 4] [--rounds 3]

The same clean partitions (real text, bench/corpus.py) through `tokenize_partition` (and for the last column
`decide_mix` + `write_part` for every part), in one process with RAYON_NUM_THREADS=1, as one worker process
runs them. Rounds alternate the variants; the table shows the median CPU seconds of each and its ratio to
safetensors alone. Prints the machine's load (`uptime`) with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # before tokenizers starts its thread pool
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS = {
    "safetensors": {"format": "safetensors"},
    "megatron": {"format": "megatron"},
    "both": {"format": ["safetensors", "megatron"]},
    "megatron, shuffled + mixed": {"format": "megatron", "shuffle": True},
}


def _prepare(tmp: Path, mb: float, partitions: int) -> list[list[str]]:
    from auralith.steps.normalize import normalize_whitespace
    from bench.corpus import real_text_documents

    texts = [normalize_whitespace(t) for t in real_text_documents(mb, seed=3)]
    return [texts[i::partitions] for i in range(partitions)]


def _run(tmp: Path, name: str, parts: list[list[str]], tokenizer: Path) -> float:
    from auralith.config import parse_config
    from auralith.pipeline.mix import decide_mix
    from auralith.pipeline.paths import WorkPaths
    from auralith.pipeline.spill import read_histogram
    from auralith.pipeline.tokenize import tokenize_partition
    from auralith.pipeline.write_output import write_part
    from auralith.sources.readers import jsonl_zst_writer

    extra = {"mixing": {"token_budget": 10**12}} if "mixed" in name else {}
    cfg = parse_config(
        {
            "sources": [{"path": "unused.jsonl", "weight": 1}] if extra else [{"path": "unused.jsonl"}],
            "work_dir": str(tmp / "work"),
            "tokenization": {"tokenizer": str(tokenizer)},
            "output": {"path": str(tmp / "out" / name.replace(" ", "_")), **VARIANTS[name]},
            **extra,
        }
    ).resolved()
    paths = WorkPaths.for_job(cfg, name.replace(" ", "_"))
    n = len(parts)
    for i, texts in enumerate(parts):
        with jsonl_zst_writer(paths.files, paths.clean(i)) as w:
            for k, t in enumerate(texts):
                w.write({"id": f"d{i}-{k}", "text": t, "file": "corpus.jsonl", "line": k + 1, "source": 0})
    cpu = time.process_time()
    for i in range(n):
        tokenize_partition(cfg, paths, i, set(), n_out=n if cfg.output.shuffle else 1)
    if cfg.spills:
        decision = decide_mix(cfg, sum(read_histogram(paths.files, paths, i) for i in range(n))) if cfg.mixes else None
        for j in range(n):
            write_part(cfg, paths, j, n, decision)
    return time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=8.0)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from bench.pipeline import tokenizer

    tok = tokenizer()
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        parts = _prepare(Path(tmp), args.mb, args.partitions)
        for r in range(args.rounds):
            order = list(VARIANTS) if r % 2 == 0 else list(reversed(VARIANTS))
            for name in order:
                times[name].append(_run(Path(tmp) / f"r{r}", name, parts, tok))
    base = statistics.median(times["safetensors"])
    print(f"output formats: {args.mb} MB of text in {args.partitions} partitions, {args.rounds} rounds, CPU s")
    print(f"load: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"| {'output':28} | CPU s (median) | vs safetensors |")
    print(f"|{'-' * 30}|----------------|----------------|")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"| {name:28} | {med:14.2f} | {med / base:14.2f} |")


if __name__ == "__main__":
    main()
