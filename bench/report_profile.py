"""Cost of the report's per-partition profile: process and tokenize a partition with and without it.

    python bench/report_profile.py     # prints a table: seconds with / without the profile, and row size

Both variants run in this process over the same files, alternating, best of REPEATS, in CPU seconds
(process_time: the machine may be shared, and wall time then measures the neighbours); "without" swaps in
an accumulator that does nothing, so the difference is the profile's own cost (lengths, sketches, JSON).
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path

from auralith.config import parse_config
from auralith.pipeline import process as process_stage
from auralith.pipeline import tokenize as tokenize_stage
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.plan import plan_partitions
from auralith.report import profile as profile_module

DOCS = 20_000
REPEATS = 3
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class NoProfile:
    """The profile's interface doing nothing: the baseline."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None

    def to_dict(self) -> dict:
        return {}


def write_corpus(root: Path) -> None:
    rng = random.Random(0)
    words = "the a data pipeline reads raw text writes clean shards for training language models".split()
    with open(root / "corpus.jsonl", "w") as fh:
        for i in range(DOCS):
            n = int(rng.lognormvariate(4.5, 1.0)) + 1
            fh.write(json.dumps({"id": f"d{i}", "text": " ".join(rng.choice(words) for _ in range(n))}) + "\n")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_corpus(root)
        cfg = parse_config(
            {
                "sources": {"path": "corpus.jsonl"},
                "partition_size_mb": 1024,
                "work_dir": "work",
                "preprocessing": {"exact_dedup": False},
                "tokenization": {"tokenizer": str(EXAMPLES / "tokenizer.json")},
                "output": {"path": "out"},
            },
            base_dir=root,
        )
        (pieces,) = plan_partitions(cfg)
        paths = WorkPaths.for_job(cfg, "bench")
        best: dict[tuple[str, str], float] = {}
        sizes: dict[str, int] = {}
        for _ in range(REPEATS):
            for variant, cls in (("with profile", profile_module.PartitionProfile), ("without", NoProfile)):
                process_stage.PartitionProfile = tokenize_stage.PartitionProfile = cls
                t = time.process_time()
                counts = process_stage.process_partition(cfg, pieces, paths, 0)
                t_proc = time.process_time() - t
                t = time.process_time()
                tok_counts, _ = tokenize_stage.tokenize_partition(cfg, paths, 0, set())
                t_tok = time.process_time() - t
                for stage, secs in (("process", t_proc), ("tokenize", t_tok)):
                    best[stage, variant] = min(best.get((stage, variant), secs), secs)
                if variant == "with profile":
                    sizes["process"] = len(json.dumps(counts["profile"]))
                    sizes["tokenize"] = len(json.dumps(tok_counts["profile"]))
        process_stage.PartitionProfile = tokenize_stage.PartitionProfile = profile_module.PartitionProfile
        mb = (root / "corpus.jsonl").stat().st_size / 2**20
        texts = [json.loads(line)["text"] for line in open(root / "corpus.jsonl")]
    # The accumulator alone, on the same texts: steadier than a difference of two noisy stage timings.
    alone = float("inf")
    for _ in range(REPEATS):
        t = time.process_time()
        prof = profile_module.PartitionProfile()
        for text in texts:
            prof.add_before(0, text)
            prof.add_after(0, text)
            prof.add_output(text, len(text) // 4)
        json.dumps(prof.to_dict())
        alone = min(alone, time.process_time() - t)
    print(f"one partition: {DOCS:,} documents, {mb:.1f} MB; best of {REPEATS}")
    print(
        f"{'stage':<9} | {'with profile (cpu s)':>20} | {'without (cpu s)':>15} | {'ratio':>5} | "
        "profile JSON in the row"
    )
    for stage in ("process", "tokenize"):
        w, wo = best[stage, "with profile"], best[stage, "without"]
        print(f"{stage:<9} | {w:20.3f} | {wo:15.3f} | {w / wo:5.2f} | {sizes[stage]:,} bytes")
    print(
        f"profile calls alone (before+after+output, all {DOCS:,} documents): {alone:.3f} cpu s, "
        f"{alone / (best['process', 'without'] + best['tokenize', 'without']):.1%} of both stages without it"
    )


if __name__ == "__main__":
    main()
