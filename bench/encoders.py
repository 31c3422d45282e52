"""Encoders that load a `tokenizer.json`, against HF `tokenizers`: CPU throughput and identical ids.

    python bench/encoders.py [--mb 16] [--rounds 3] [--vocab 32000]

Real text: the bench corpus (man pages and /usr/share/doc, English and technical) plus every language of the
machine's gettext catalogues (tests/multilingual.py), with two byte-level BPE tokenizers: the demo's (examples/)
and one trained here on the same mix (`--vocab`). Each candidate encodes every document in batches of 512 on one
thread (RAYON_NUM_THREADS=1 and FASTOKENS_BPE_THREADS=1, set before anything loads: a worker pool runs one
process per core). Rounds alternate the candidates; the table gives the median tokens per CPU-second, the ratio
to `tokenizers`' encode_batch_fast (what the tokenize stage called until now), and how many documents' ids differ
from it. Auralith adopts a candidate only with zero differences (steps/encoders.py).
"""

from __future__ import annotations

import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("FASTOKENS_BPE_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BATCH = 512


def candidates(path: str) -> dict[str, Callable[[list[str]], list[list[int]]]]:
    """Name -> encode(texts) giving one id list per text, for each encoder that installs and loads `path`."""
    import numpy as np
    from tokenizers import Tokenizer

    hf = Tokenizer.from_file(path)
    found: dict[str, Callable[[list[str]], list[list[int]]]] = {
        "tokenizers": lambda texts: [e.ids for e in hf.encode_batch_fast(texts, add_special_tokens=False)]
    }
    try:
        import fastokens

        ft = fastokens.Tokenizer.from_file(path)

        def fast(texts: list[str]) -> list[list[int]]:
            ids, offsets = ft.encode_batch_flat(texts, add_special_tokens=False)
            flat, off = np.frombuffer(ids, np.uint32), np.frombuffer(offsets, np.uint64)
            return [flat[off[i] : off[i + 1]] for i in range(len(texts))]  # type: ignore[misc]

        found["fastokens"] = fast
    except ImportError:
        pass
    try:
        import kitoken

        kt = kitoken.Kitoken.from_tokenizers_file(path)
        found["kitoken"] = lambda texts: kt.encode_all(texts, True)
    except ImportError:
        pass
    return found


def corpus(mb: float) -> list[str]:
    from bench.corpus import real_text_documents
    from tests.multilingual import translated_documents

    docs = [t for texts in translated_documents(per_language=8).values() for t in texts]
    return docs + real_text_documents(max(0.0, mb - sum(len(d.encode()) for d in docs) / 2**20), seed=5)


def measure(texts: list[str], path: str, rounds: int) -> dict[str, dict]:
    encoders = candidates(path)
    reference = [list(ids) for b in range(0, len(texts), BATCH) for ids in encoders["tokenizers"](texts[b : b + BATCH])]
    cpu: dict[str, list[float]] = {name: [] for name in encoders}
    differ: dict[str, int] = {}
    tokens = sum(len(ids) for ids in reference)
    for _ in range(rounds):
        # Freshly loaded each round: both libraries cache words they have seen, and a worker never sees the same
        # text twice, so no round may start with the previous round's cache.
        encoders = candidates(path)
        for name, encode in encoders.items():
            start = time.process_time()
            got = [ids for b in range(0, len(texts), BATCH) for ids in encode(texts[b : b + BATCH])]
            cpu[name].append(time.process_time() - start)
            differ[name] = sum(1 for a, b in zip(got, reference, strict=True) if list(a) != b)
    base = statistics.median(cpu["tokenizers"])
    return {
        name: {"tok_cpu_s": tokens / statistics.median(c), "ratio": base / statistics.median(c), "differ": differ[name]}
        for name, c in cpu.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=16.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--vocab", type=int, default=32000)
    args = ap.parse_args()
    import tempfile

    from auralith.steps.tokenize import train_bpe_tokenizer

    texts = corpus(args.mb)
    mb = sum(len(t.encode()) for t in texts) / 2**20
    with tempfile.TemporaryDirectory() as tmp:
        trained = Path(tmp) / "tokenizer.json"
        train_bpe_tokenizer(texts, args.vocab).save(str(trained))
        tokenizers = {
            "demo (examples/)": str(REPO / "examples" / "tokenizer.json"),
            f"{args.vocab // 1000}k": str(trained),
        }
        print(f"{len(texts):,} documents, {mb:.1f} MB; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"{'tokenizer':<18} {'encoder':<11} {'tokens/CPU-s':>13} {'vs tokenizers':>14} {'docs differ':>12}")
        for label, path in tokenizers.items():
            for name, r in measure(texts, path, args.rounds).items():
                print(f"{label:<18} {name:<11} {r['tok_cpu_s']:13,.0f} {r['ratio']:13.1f}x {r['differ']:12,}")


if __name__ == "__main__":
    main()
