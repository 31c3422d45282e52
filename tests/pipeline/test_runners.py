"""The stage runners end to end on small real files, without Celery: process -> dedup -> tokenize."""

from __future__ import annotations

import gzip
import json
import random
import zlib
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from auralith.config import JobConfig, parse_config
from auralith.errors import InputError
from auralith.pipeline.exact_dedup import decide_dedup, read_drops
from auralith.pipeline.output import check_output_owner, claim_output, remove_stale_shards
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.plan import plan_partitions
from auralith.pipeline.process import process_partition
from auralith.pipeline.tokenize import read_kept_ids_of, tokenize_partition
from auralith.sources.readers import iter_jsonl_zst
from auralith.steps.shards import iter_shard_documents
from auralith.steps.tokenize import resolve_eos_id
from auralith.storage import Files

files = Files()  # no job: the environment's storage settings

WORDS = [
    "the",
    "cat",
    "dog",
    "sees",
    "likes",
    "river",
    "small",
    "house",
    "quiet",
    "town",
    "red",
    "apples",
    "student",
    "builds",
    "old",
    "sailor",
    "morning",
    "light",
    "paints",
    "follows",
]


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


@pytest.fixture(scope="module")
def bpe(tokenizer_path: Path) -> Tokenizer:
    return Tokenizer.from_file(str(tokenizer_path))


# a.jsonl is partition 0 on its own; b.jsonl, the truncated .gz and the empty file follow.
A_LINES = [
    b'{"id": "a1", "text": "The cat sees the river."}',
    b'{"text": "broken',  # 2: invalid JSON
    b'{"id": "a3", "text": "caf\xe9 au lait"}',  # 3: invalid UTF-8
    b'{"id": "a4", "body": "no text field"}',  # 4: missing field
    b'{"id": "a5", "text": "  tiny "}',  # 5: too short once stripped
    b'{"id": "z6", "text": "A dog  likes\\tthe quiet town.  "}',  # 6: a whitespace variant of b1
    b"",  # 7: blank, not a record
    b'{"id": "a8", "text": "Every student builds a small house."}',
]
B_LINES = [
    b'{"id": "b1", "text": "A dog likes the quiet town."}',  # kept over z6: "b1" < "z6"
    b'{"id": "b2", "text": "The cat sees the river."}',  # dropped: a1 has the smaller id
    b'{"id": "b3", "text": "My neighbour paints three red apples."}',
]


@pytest.fixture
def job(tmp_path: Path, tokenizer_path: Path):
    """Input files, a resolved config, the plan, and the texts the shards must hold, in order."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_bytes(b"\n".join(A_LINES) + b"\n")
    (data / "b.jsonl").write_bytes(b"\n".join(B_LINES) + b"\n")
    rng = random.Random(7)
    gz_texts = [f"{i}: {sentence(rng, 12)}" for i in range(400)]
    blob = gzip.compress(
        b"".join(json.dumps({"id": f"c{i:03d}", "text": t}).encode() + b"\n" for i, t in enumerate(gz_texts))
    )
    cut = blob[: len(blob) // 2]
    (data / "c.jsonl.gz").write_bytes(cut)
    (data / "d-empty.jsonl").write_bytes(b"")
    n_gz = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut).count(b"\n")  # whole lines before the cut
    assert 10 < n_gz < 400

    cfg = parse_config(
        {
            "sources": {"path": "data/*"},
            "partition_size_mb": (data / "a.jsonl").stat().st_size / 2**20,
            "work_dir": "work",
            # Short synthetic sentences: the web-text quality filters would remove them all (tested on their own).
            "preprocessing": {"length": {"min_chars": 5}, "keep_removed": True, "quality": {"enabled": False}},
            "tokenization": {"tokenizer": str(tokenizer_path), "batch_size": 16},
            "output": {"path": "out", "max_shard_size_mb": 0.001},  # ~1 KB: several shards per partition
        },
        base_dir=tmp_path,
    )
    plan = plan_partitions(cfg)
    expected = [
        "The cat sees the river.",
        "Every student builds a small house.",
        "A dog likes the quiet town.",
        "My neighbour paints three red apples.",
        *gz_texts[:n_gz],
    ]
    return cfg, plan, WorkPaths.for_job(cfg, "job-1"), expected, n_gz


def run_process(cfg: JobConfig, plan, paths: WorkPaths) -> list[dict]:
    return [process_partition(cfg, pieces, paths, i) for i, pieces in enumerate(plan)]


def run_all(cfg: JobConfig, plan, paths: WorkPaths) -> tuple[list[dict], dict, list[tuple[dict, list[dict]]]]:
    processed = run_process(cfg, plan, paths)
    dedup = decide_dedup(paths, len(plan))
    tokenized = [
        (c, ref["shards"])
        for c, ref in (tokenize_partition(cfg, paths, i, read_drops(paths, i)) for i in range(len(plan)))
    ]
    return processed, dedup, tokenized


def test_plan_puts_the_duplicates_in_two_partitions(job):
    cfg, plan, *_ = job
    assert [Path(p.path).name for p in plan[0]] == ["a.jsonl"]
    assert [Path(p.path).name for part in plan[1:] for p in part] == ["b.jsonl", "c.jsonl.gz", "d-empty.jsonl"]


def test_process_accounting_and_reasons(job):
    cfg, plan, paths, _, n_gz = job
    counts = run_process(cfg, plan, paths)
    for c in counts:
        assert c["records"] == c["kept"] + sum(c["removed"].values())
        assert c["documents"] == c["records"] - sum(v for k, v in c["removed"].items() if k.startswith("input_error."))
    a = counts[0]
    assert (a["records"], a["documents"], a["kept"], a["blank_lines"]) == (7, 4, 3, 1)
    assert a["removed"] == {
        "input_error.invalid_json": 1,
        "input_error.invalid_utf8": 1,
        "input_error.missing_field": 1,
        "length.too_short": 1,
    }
    assert a["bytes"] == plan[0][0].size

    rest = counts[1:]
    assert sum(c["records"] for c in rest) == 3 + n_gz + 1  # the cut-off tail counts as one bad record
    assert sum(c["kept"] for c in rest) == 3 + n_gz
    removed_rest: dict[str, int] = {}
    errors_rest: dict[str, int] = {}
    for c in rest:
        for k, v in c["removed"].items():
            removed_rest[k] = removed_rest.get(k, 0) + v
        for k, v in c["input_errors"].items():
            errors_rest[k] = errors_rest.get(k, 0) + v
    assert removed_rest == {"input_error.truncated": 1}
    assert errors_rest == {"truncated": 1, "empty_file": 1}  # an empty file is listed, but is no record


def test_partitions_record_profiles_that_add_up_to_their_counts(job):
    cfg, plan, paths, expected, _ = job
    processed, _, tokenized = run_all(cfg, plan, paths)
    for c in processed:
        prof = c["profile"]
        sources = prof.get("sources", {}).values()  # a partition of one empty file measured nothing
        assert sum(s["records"] for s in sources) == c["records"]
        assert (
            sum(s["documents_in"] for s in sources) == prof.get("length_before", {}).get("count", 0) == c["documents"]
        )
        assert sum(s["documents_kept"] for s in sources) == prof.get("length_after", {}).get("count", 0) == c["kept"]
        assert sum(n for s in sources for n in s["removed"].values()) == sum(c["removed"].values())
    a = processed[0]["profile"]
    assert a["length_before"]["min"] == len("  tiny ") and a["length_after"]["min"] == len("The cat sees the river.")
    outputs = [counts["profile"] for counts, _ in tokenized]
    assert sum(p.get("tokens", {}).get("sum", 0) for p in outputs) == sum(c["tokens"] for c, _ in tokenized)
    assert sum(p.get("length_output", {}).get("sum", 0) for p in outputs) == sum(len(t) for t in expected)


def test_issues_name_file_line_and_reason(job):
    cfg, plan, paths, _, n_gz = job
    counts = run_process(cfg, plan, paths)
    issues = [i for c in counts for i in c["issues"]]
    data = Path(cfg.base_dir) / "data"
    assert [(Path(i["file"]).name, i["line"], i["reason"]) for i in issues] == [
        ("a.jsonl", 2, "invalid_json"),
        ("a.jsonl", 3, "invalid_utf8"),
        ("a.jsonl", 4, "missing_field"),
        ("c.jsonl.gz", n_gz + 1, "truncated"),
        ("d-empty.jsonl", None, "empty_file"),
    ]
    assert all(i["file"].startswith(str(data)) and i["message"] for i in issues)
    assert sum(c["issue_count"] for c in counts) == len(issues)
    # The side file holds the same issues.
    side = [i for p in range(len(plan)) if paths.issues(p).exists() for i in iter_jsonl_zst(files, paths.issues(p))]
    assert side == issues


def test_keep_removed_writes_side_file(job):
    cfg, plan, paths, *_ = job
    run_process(cfg, plan, paths)
    aside = list(iter_jsonl_zst(files, paths.removed(0)))
    assert aside == [
        {
            "id": "a5",
            "file": str(Path(cfg.base_dir) / "data" / "a.jsonl"),
            "line": 5,
            "reason": "length.too_short",
            "text": "tiny",
        }
    ]
    assert not any(list(iter_jsonl_zst(files, paths.removed(i))) for i in range(1, len(plan)))  # nothing filtered there


def test_clean_files_hold_normalised_text(job):
    cfg, plan, paths, *_ = job
    run_process(cfg, plan, paths)
    clean = list(iter_jsonl_zst(files, paths.clean(0)))
    assert [(r["id"], r["text"], r["line"]) for r in clean] == [
        ("a1", "The cat sees the river.", 1),
        ("z6", "A dog likes the quiet town.", 6),
        ("a8", "Every student builds a small house.", 8),
    ]
    hashes = [json.loads(line) for line in paths.hashes(0).read_bytes().splitlines()]
    # Sorted by hash for the dedup merge; each record points back at its position in the clean file.
    assert [r["h"] for r in hashes] == sorted(r["h"] for r in hashes)
    assert sorted((r["pos"], r["id"]) for r in hashes) == [(0, "a1"), (1, "z6"), (2, "a8")]


def test_dedup_across_partitions(job):
    cfg, plan, paths, *_ = job
    run_process(cfg, plan, paths)
    result = decide_dedup(paths, len(plan))
    assert result == {"removed": {"exact_duplicate": 2}, "shard": 0, "of": 1}
    assert read_drops(paths, 0) == {1}  # z6 loses to b1
    assert read_drops(paths, 1) == {1}  # b2 loses to a1
    assert all(read_drops(paths, i) == set() for i in range(2, len(plan)))
    elsewhere = WorkPaths(Path(paths.root) / "elsewhere", paths.files)
    assert read_drops(elsewhere, 0, required=False) == set()  # dedup off: no list, nothing to drop
    with pytest.raises(InputError, match="drop list missing"):
        read_drops(elsewhere, 0)


@pytest.mark.parametrize("shards", [2, 5, 4096])
def test_dedup_cut_into_hash_ranges_decides_as_one_merge(job, shards):
    cfg, plan, paths, *_ = job
    run_process(cfg, plan, paths)
    counts = [decide_dedup(paths, len(plan), True, s, shards)["removed"]["exact_duplicate"] for s in range(shards)]
    assert sum(counts) == 2 and len(counts) == shards
    assert [read_drops(paths, i, shards=shards) for i in range(3)] == [{1}, {1}, set()]
    assert read_kept_ids_of(cfg, paths, 0, shards) == {1: "b1"} and read_kept_ids_of(cfg, paths, 1, shards) == {1: "a1"}


def test_keep_removed_puts_duplicates_aside_with_the_id_they_duplicate(job):
    cfg, plan, paths, *_ = job
    run_process(cfg, plan, paths)
    decide_dedup(paths, len(plan), name_kept=True)
    outputs = [
        tokenize_partition(cfg, paths, i, read_drops(paths, i), kept_ids=read_kept_ids_of(cfg, paths, i))
        for i in range(len(plan))
    ]
    data = Path(cfg.base_dir) / "data"
    assert list(iter_jsonl_zst(files, paths.duplicates(0))) == [
        {
            "id": "z6",
            "file": str(data / "a.jsonl"),
            "line": 6,
            "reason": "exact_duplicate",
            "duplicate_of": "b1",
            "text": "A dog likes the quiet town.",
        }
    ]
    assert list(iter_jsonl_zst(files, paths.duplicates(1))) == [
        {
            "id": "b2",
            "file": str(data / "b.jsonl"),
            "line": 2,
            "reason": "exact_duplicate",
            "duplicate_of": "a1",
            "text": "The cat sees the river.",
        }
    ]
    assert all(not list(iter_jsonl_zst(files, paths.duplicates(i))) for i in range(2, len(plan)))
    assert sum(c["removed"].get("exact_duplicate", 0) for c, _ in outputs) == 2


def test_without_keep_removed_dedup_writes_what_it_always_did(job, tmp_path):
    cfg, plan, paths, *_ = job
    off = cfg.model_copy(update={"preprocessing": cfg.preprocessing.model_copy(update={"keep_removed": False})})

    def run(config, name_kept: bool) -> dict[str, bytes]:
        run_process(config, plan, paths)
        decide_dedup(paths, len(plan), name_kept=name_kept)
        for i in range(len(plan)):
            kept = read_kept_ids_of(config, paths, i) if config.preprocessing.keep_removed else None
            tokenize_partition(config, paths, i, read_drops(paths, i), kept_ids=kept)
        outputs = [Path(config.output.path), Path(paths.root) / "dedup"]
        return {str(f): f.read_bytes() for root in outputs for f in sorted(root.rglob("*")) if f.is_file()}

    with_aside = run(cfg, True)
    for stale in [*Path(paths.root, "dedup").rglob("*.*"), *Path(paths.root, "removed").iterdir()]:
        stale.unlink()
    without = run(off, False)
    assert not any(".kept." in name for name in without) and not list(Path(paths.root, "removed").iterdir())
    assert without == {k: v for k, v in with_aside.items() if ".kept." not in k}, "shards and drop lists alike"


def test_shards_decode_to_kept_documents_in_order(job, bpe):
    cfg, plan, paths, expected, _ = job
    processed, dedup, tokenized = run_all(cfg, plan, paths)
    eos = resolve_eos_id(bpe, None)
    out = Path(cfg.output.path)
    shard_names = [s["path"] for _, shards in tokenized for s in shards]
    assert shard_names == sorted(p.name for p in out.iterdir())  # partition order is name order
    assert len(shard_names) > len(plan)  # the small shard limit rolled over
    docs = [d for name in shard_names for d in iter_shard_documents(files, out / name)]
    assert all(d[-1] == eos and eos not in d[:-1].tolist() for d in docs)
    assert [bpe.decode(d[:-1].tolist()) for d in docs] == expected

    assert sum(c["kept"] for c, _ in tokenized) == len(expected)
    assert sum(c["tokens"] for c, _ in tokenized) == sum(d.size for d in docs)
    assert [c["shards"] for c, _ in tokenized] == [len(s) for _, s in tokenized]
    assert tokenized[0][0]["removed"] == {"exact_duplicate": 1} and tokenized[2][0]["removed"] == {}
    # Over the job: every record read is a kept document or has a removal reason.
    removed = sum(sum(c["removed"].values()) for c in processed) + sum(sum(c["removed"].values()) for c, _ in tokenized)
    assert sum(c["records"] for c in processed) == len(expected) + removed
    assert dedup["removed"]["exact_duplicate"] == sum(c["removed"].get("exact_duplicate", 0) for c, _ in tokenized)


def test_rerun_gives_identical_bytes(job):
    cfg, plan, paths, *_ = job

    def snapshot() -> dict[str, bytes]:
        roots = [paths.root, Path(cfg.output.path)]
        return {str(p): p.read_bytes() for r in roots for p in sorted(r.rglob("*")) if p.is_file()}

    first = run_all(cfg, plan, paths)
    files = snapshot()
    assert not any(Path(f).name.startswith(".") for f in files)  # no temp files left
    assert run_all(cfg, plan, paths) == first
    assert snapshot() == files


def test_no_exact_dedup_writes_no_hashes(job):
    cfg, plan, paths, *_ = job
    cfg = cfg.model_copy(update={"preprocessing": cfg.preprocessing.model_copy(update={"exact_dedup": False})})
    run_process(cfg, plan, paths)
    assert not paths.hashes(0).exists()
    counts, _ = tokenize_partition(cfg, paths, 0, read_drops(paths, 0, required=False))
    assert (counts["documents"], counts["kept"], counts["removed"]) == (3, 3, {})


def test_remove_stale_shards(tmp_path):
    ours = ["part-00000-00000.safetensors", "part-00001-00003.safetensors.zst", "manifest.json"]
    ours += ["part-00000.bin", "part-00000.idx", "megatron-data-path.txt"]  # output.format: megatron
    others = ["notes.txt", "part-00000.txt", "x-part-00000.safetensors"]
    for name in ours + others:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "part-00000-00000.safetensors").write_bytes(b"x")
    assert remove_stale_shards(files, str(tmp_path)) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(others + ["sub"])
    assert (tmp_path / "sub" / "part-00000-00000.safetensors").exists()
    assert remove_stale_shards(files, str(tmp_path)) == 0
    assert remove_stale_shards(files, str(tmp_path / "missing")) == 0


def test_file_gone_after_planning_fails_the_partition_naming_it(job):
    from auralith.errors import InputError

    cfg, plan, paths, *_ = job
    gone = Path(plan[0][0].path)
    gone.unlink()
    with pytest.raises(InputError, match="a.jsonl"):
        process_partition(cfg, plan[0], paths, 0)


def test_output_folder_owner(tmp_path):
    from auralith.errors import InputError

    claim_output(files, str(tmp_path), "job-a")
    check_output_owner(files, str(tmp_path), "job-a")
    claim_output(files, str(tmp_path), "job-b")  # a later job planned into the same folder
    with pytest.raises(InputError, match="now belongs to job job-b"):
        check_output_owner(files, str(tmp_path), "job-a")


def test_quality_and_pii_in_a_partition(tmp_path, tokenizer_path):
    from tests.steps.quality_cases import KEEP, REMOVE

    kept_text = KEEP[2] + " Write to ishmael@pequod.org for a berth, built with libxi6 (>= 2:1.5.99.2)."
    edited = KEEP[3] + "\nShare this page"  # C4 drops the last line
    rows = [
        {"id": "k1", "text": kept_text},
        {"id": "k2", "text": edited},
        {"id": "r1", "text": REMOVE[2]},
        {"id": "r2", "text": REMOVE[1]},
        {"id": "d1", "text": KEEP[4] + " Call 030 1234567 today."},  # a phone number with phone_regions [DE]
    ]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = parse_config(
        {
            "sources": {"path": "data/*.jsonl"},
            "work_dir": "work",
            "preprocessing": {"keep_removed": True, "pii": {"replace": {"phone": "drop"}, "phone_regions": ["DE"]}},
            "tokenization": {"tokenizer": str(tokenizer_path)},
        },
        base_dir=tmp_path,
    )
    paths = WorkPaths.for_job(cfg, "job-q")
    counts = run_process(cfg, plan_partitions(cfg), paths)[0]

    assert counts["removed"] == {"c4.lorem_ipsum": 1, "gopher_repetition.top_2gram": 1, "pii.phone": 1}
    assert counts["lines_removed"] == {"c4.no_terminal_punct": 1}
    assert counts["pii"] == {"email": 1, "phone": 1}
    clean = {r["id"]: r["text"] for r in iter_jsonl_zst(files, paths.clean(0))}
    assert clean == {"k1": kept_text.replace("ishmael@pequod.org", "<EMAIL>"), "k2": KEEP[3]}
    aside = {r["id"]: (r["reason"], r["text"]) for r in iter_jsonl_zst(files, paths.removed(0))}
    assert aside["d1"] == ("pii.phone", rows[4]["text"])  # kept aside as read, so nothing silently disappears
    assert aside["r1"][0] == "c4.lorem_ipsum" and set(aside) == {"r1", "r2", "d1"}

    # With PII off the partition records no `pii` figures (the report then says "not scanned", not "none").
    off = parse_config(
        {
            "sources": {"path": "data/*.jsonl"},
            "work_dir": "work",
            "preprocessing": {"pii": {"enabled": False}},
            "tokenization": {"tokenizer": str(tokenizer_path)},
        },
        base_dir=tmp_path,
    )
    assert "pii" not in run_process(off, plan_partitions(off), WorkPaths.for_job(off, "job-q2"))[0]


def test_a_fast_encoder_difference_re_encodes_the_partition_with_tokenizers(job, monkeypatch, tmp_path):
    from auralith.steps import document_tokenizer
    from tests.steps.test_encoders import OneWrongId

    cfg, plan, paths, *_ = job
    run_process(cfg, plan, paths)
    decide_dedup(paths, len(plan))
    gz = max(range(len(plan)), key=lambda i: Path(paths.clean(i)).stat().st_size)  # the partition of many docs
    cfg = cfg.model_copy(update={"tokenization": cfg.tokenization.model_copy(update={"verify_every": 5})})

    reference_cfg = cfg.model_copy(
        update={"tokenization": cfg.tokenization.model_copy(update={"encoder": "tokenizers"})}
    )
    want_counts, want_shards = tokenize_partition(reference_cfg, paths, gz, read_drops(paths, gz))
    out = Path(cfg.output.path)
    want_bytes = {p.name: p.read_bytes() for p in out.iterdir()}
    assert want_counts["encoders"] == {"tokenizers": want_counts["kept"]}

    # The difference sits in the fifth batch, after shards were written: they all go, and the reference rewrites.
    monkeypatch.setattr(document_tokenizer, "fast_encoder", lambda t: OneWrongId(t, wrong_at=70))
    (out / f"part-{gz:05d}-00999.safetensors").write_bytes(b"a shard of no run")  # not ours to judge: stays
    counts, shards = tokenize_partition(cfg, paths, gz, read_drops(paths, gz))
    assert shards == want_shards
    assert counts["encoders"] == {"tokenizers": counts["kept"]}
    assert counts["encoder_fallback"]["partition"] == gz
    assert counts["encoder_fallback"]["detail"].startswith("fastokens gave")
    assert counts["encoder_fallback"]["file"].endswith("c.jsonl.gz")
    got = {p.name: p.read_bytes() for p in out.iterdir() if p.name != f"part-{gz:05d}-00999.safetensors"}
    assert got == want_bytes


def test_fastokens_shards_are_byte_identical_to_tokenizers_shards(job):
    cfg, plan, paths, *_ = job
    run_process(cfg, plan, paths)
    decide_dedup(paths, len(plan))
    out = Path(cfg.output.path)
    written = {}
    for encoder in ("auto", "tokenizers"):
        tcfg = cfg.tokenization.model_copy(update={"encoder": encoder})
        counts = [
            tokenize_partition(cfg.model_copy(update={"tokenization": tcfg}), paths, i, read_drops(paths, i))[0]
            for i in range(len(plan))
        ]
        written[encoder] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
        assert {name for c in counts for name in c["encoders"]} == {"fastokens" if encoder == "auto" else "tokenizers"}
    assert written["auto"] == written["tokenizers"]
