"""`auralith run` on a folder of .warc.gz files: every record accounted for, HTML reduced to its main text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from auralith.sources.readers import iter_jsonl_zst
from auralith.steps.shards import load_manifest
from auralith.storage import Files
from tests.cli.command import run_auralith

DATA = Path(__file__).parents[1] / "data"
files = Files()


def test_run_on_a_folder_of_warc_gz(tmp_path, tokenizer_path):
    (tmp_path / "crawl").mkdir()
    for f in DATA.glob("python-docs-*.warc.gz"):
        shutil.copy(f, tmp_path / "crawl" / f.name)
    (tmp_path / "job.yaml").write_text(
        "name: web\nsources: [{path: crawl/*.warc.gz}]\npartition_size_mb: 0.03\nwork_dir: work\n"
        "preprocessing: {quality: {enabled: false}, url_filter: {block_substrings: [/errors.html]}}\n"
        f"tokenization: {{tokenizer: {tokenizer_path}}}\noutput: {{path: out}}\n"
    )
    done = run_auralith("run", "job.yaml", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    stats = json.loads(done.stdout)["stats"]
    removed = stats["removed"]
    # 57 records: 2 warcinfo, 17 requests, 17 metadata, a revisit, a stylesheet, 3 broken, 16 pages.
    assert stats["documents_in"] == 57
    assert stats["input_errors"] == {"invalid_record": 1, "truncated": 2}
    skipped = {k: v for k, v in removed.items() if k.startswith("skipped.")}
    assert skipped == {
        "skipped.not_html": 1,
        "skipped.warc_metadata": 17,
        "skipped.warc_request": 17,
        "skipped.warc_revisit": 1,
        "skipped.warc_warcinfo": 2,
    }
    assert removed["url_filter.substring"] == 1
    # records in == documents out + removed by reason (skipped, input errors, filters, duplicates)
    assert stats["documents_in"] == stats["documents_out"] + sum(removed.values())
    assert stats["documents_out"] == 15 and stats["tokens"] > 0
    assert {i["line"] for i in stats["issues"]} and all(i["file"].endswith("-1.warc.gz") for i in stats["issues"])
    assert load_manifest(files, tmp_path / "out" / "manifest.json")["documents"] == 15

    kept = [r for f in sorted((tmp_path / "work").glob("*/clean/*.jsonl.zst")) for r in iter_jsonl_zst(files, f)]
    assert len(kept) == 15 and all(r["id"].startswith("<urn:uuid:") for r in kept)
    assert all(r["url"].startswith("https://docs.python.org/3.11/") and r["date"] for r in kept)
    text = "\n".join(r["text"] for r in kept)
    assert "Whetting Your Appetite" in text or "If you do much work on computers" in text
    assert "Previous topic" not in text and "<p>" not in text
