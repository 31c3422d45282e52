"""Language identification through a whole job: `auralith run` (embedded); the Celery one is in integration/."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from auralith.sources.readers import iter_jsonl_zst
from auralith.steps.shards import load_manifest
from auralith.storage import Files
from tests.cli.command import run_auralith
from tests.corpus import write_jsonl
from tests.steps.quality_cases import KEEP, KEEP_DE, KEEP_ZH

files = Files()

# Public domain: the opening of Hugo's "Les Misérables" (1862).
FR = (
    "En 1815, M. Charles-François-Bienvenu Myriel était évêque de Digne. C'était un vieillard d'environ "
    "soixante-quinze ans ; il occupait le siège de Digne depuis 1806. Quoique ce détail ne touche en aucune "
    "manière au fond même de ce que nous avons à raconter, il n'est peut-être pas inutile, ne fût-ce que pour "
    "être exact en tout, d'indiquer ici les bruits et les propos qui avaient couru sur son compte au moment où "
    "il était arrivé dans le diocèse."
)


def mixed_job(tmp_path: Path, tokenizer_path: Path) -> tuple[Path, dict[str, str]]:
    """German, Chinese and English prose plus one French document the job does not keep; returns the config
    and id -> expected language of the kept documents."""
    rows = [
        {"id": "de1", "text": KEEP_DE},
        {"id": "zh1", "text": KEEP_ZH},
        {"id": "en1", "text": KEEP[3]},
        {"id": "en2", "text": KEEP[2]},
        {"id": "fr1", "text": FR},
    ]
    write_jsonl(tmp_path / "data" / "mix.jsonl", rows)
    config = tmp_path / "mix.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "mix",
                "sources": [{"path": "data/*.jsonl"}],
                "preprocessing": {"language": {"keep": ["de", "en", "zh"], "min_score": 0.5}, "keep_removed": True},
                "tokenization": {"tokenizer": str(tokenizer_path)},
                "output": {"path": "out"},
                "work_dir": "work",
            }
        )
    )
    return config, {"de1": "de", "zh1": "zh", "en1": "en", "en2": "en"}


def check_mixed_job(stats: dict, manifest: dict, work: Path) -> None:
    """What a finished mixed job must show, wherever it ran."""
    assert stats["removed"] == {"language.not_kept": 1}
    assert stats["documents_out"] == 4
    langs = manifest["languages"]
    assert {k: v["documents"] for k, v in langs.items()} == {"en": 2, "de": 1, "zh": 1}
    assert sum(v["tokens"] for v in langs.values()) == manifest["tokens"]
    per_shard = [s["languages"] for s in manifest["shards"]]
    assert sum(v["documents"] for s in per_shard for v in s.values()) == 4
    clean = {r["id"]: r for p in sorted(work.glob("*/clean/*.jsonl.zst")) for r in iter_jsonl_zst(files, p)}
    assert {i: r["language"] for i, r in clean.items()} == {"de1": "de", "zh1": "zh", "en1": "en", "en2": "en"}
    assert all(0.5 <= r["language_score"] <= 1 for r in clean.values())
    aside = [
        r for p in work.glob("*/removed/*.jsonl.zst") if "duplicates" not in p.name for r in iter_jsonl_zst(files, p)
    ]
    assert [(r["id"], r["reason"], r["language"]) for r in aside] == [("fr1", "language.not_kept", "fr")]


def test_auralith_run_keeps_german_chinese_english_and_reports_languages(tmp_path, tokenizer_path):
    config, _ = mixed_job(tmp_path, tokenizer_path)
    out = run_auralith("run", str(config), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    job = json.loads(out.stdout)
    manifest = load_manifest(files, tmp_path / "out" / "manifest.json")
    check_mixed_job(job["stats"], manifest, tmp_path / "work")
    assert job["stats"]["languages"] == manifest["languages"]

    store = f"sqlite:///{tmp_path / '.auralith' / 'auralith.db'}"
    report = run_auralith("--store", store, "report", job["id"], "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert report.returncode == 0, report.stdout + report.stderr
    profile = json.loads((tmp_path / "report" / "profile.json").read_text())
    assert profile["languages"] == manifest["languages"]
    html = (tmp_path / "report" / "report.html").read_text()
    assert "languages.png" in html and (tmp_path / "report" / "languages.png").stat().st_size > 0
