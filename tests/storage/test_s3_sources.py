"""Every source format read from S3 gives the same plan and the same documents as from local files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import zstandard

from auralith.config import parse_config
from auralith.pipeline.plan import plan_partitions
from auralith.sources.documents import Document
from auralith.sources.readers import PieceReader
from auralith.storage import Files
from tests.corpus import sentences, write_jsonl
from tests.sources.test_columnar import save_to_disk_layout, write_parquet


def upload_tree(root: Path, base: str) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            Files().write_bytes_atomic(f"{base}/{path.relative_to(root).as_posix()}", path.read_bytes())


def corpus(root: Path) -> None:
    texts = sentences(3000, seed=11)
    write_jsonl(root / "big.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(texts[:1500])])
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts[1500:1800])  # no ids: "{file}:{line}"
    (root / "c.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    (root / "d.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines.encode()))
    (root / "e.txt").write_text(texts[1800])
    write_parquet(root / "f.parquet", texts[1900:2500], ids=[f"p{i}" for i in range(600)], row_group_size=100)
    save_to_disk_layout(root / "hf", texts[2500:])
    # A WARC cut at record starts (16 pages, 8 in this file), and a CSV file.
    (root / "g.warc.gz").write_bytes((Path(__file__).parents[1] / "data" / "python-docs-1.warc.gz").read_bytes())
    (root / "h.csv").write_text("id,text\n" + "".join(f'c{i},"{t}"\n' for i, t in enumerate(texts[:50])))


def job(paths: list[str]) -> object:
    return parse_config(
        {"sources": [{"path": p} for p in paths], "tokenization": {"tokenizer": "t.json"}, "partition_size_mb": 0.05}
    )


def read(cfg, root: str) -> tuple[list, list[tuple]]:
    """The plan's shape and the documents read; ids made relative to `root` (a .txt file's id is its path)."""
    plan = plan_partitions(cfg)
    files = Files(cfg.storage)
    docs = [
        (d.id.removeprefix(root), d.text, d.line)
        for pieces in plan
        for p in pieces
        for d in PieceReader(files, p, cfg.sources[p.source].text_field, cfg.sources[p.source].id_field)
        if isinstance(d, Document)
    ]
    shape = [
        [(Path(p.path).name, p.format, p.compression, p.size, p.start, p.end, p.first_line) for p in pieces]
        for pieces in plan
    ]
    return shape, docs


def test_s3_sources_plan_and_read_like_local_ones(tmp_path, bucket):
    corpus(tmp_path / "in")
    base = f"s3://{bucket}/corpus"
    upload_tree(tmp_path / "in", base)
    local = read(job([str(tmp_path / "in" / "*.*"), str(tmp_path / "in" / "hf")]), str(tmp_path / "in"))
    remote = read(job([f"{base}/*.*", f"{base}/hf"]), base)
    assert remote == local
    assert sum(1 for part in local[0] for p in part if p[0] == "big.jsonl") > 3, "big.jsonl is split by byte range"
    assert sum(1 for part in local[0] for p in part if p[0] == "g.warc.gz") > 1, "the WARC is cut at records"
    assert len(local[1]) == 1500 + 300 + 300 + 1 + 600 + 500 + 8 + 50
