"""Hostile input through the real pipeline (Redis + PostgreSQL + a worker): 1,000+ generated bad records
and files mixed with valid documents. Each bad input must end as a counted, reported input error (or, for
paths, a clean config error), the worker must survive, nothing may hang, and every valid document in the
same files must come through.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest
import yaml
import zstandard

from auralith.client import Client
from auralith.sources.readers import MAX_RECORD_BYTES, iter_jsonl_zst
from auralith.storage import Files
from auralith.store.models import JobState

files = Files()  # no job: the environment's storage settings

pytestmark = pytest.mark.integration
SEED = 20261123
JOB_TIMEOUT = 240


def _valid(rng: random.Random, doc_id: str) -> dict:
    words = [rng.choice(["data", "shard", "token", "queue", "worker", "résumé", "日本", "naïve"]) for _ in range(12)]
    return {"id": doc_id, "text": f"{doc_id} " + " ".join(words)}


def _record(rng: random.Random) -> bytes:
    return json.dumps({"id": f"x{rng.randrange(10**9)}", "text": "plain ascii text " * rng.randint(1, 5)}).encode()


# Each generator makes one bad line (no newline inside, never blank) and says how it must be reported.
def _truncated_json(rng):
    raw = _record(rng)
    return raw[: rng.randrange(1, len(raw) - 1)], "invalid_json"


def _broken_json(rng):
    return rng.choice(
        [
            b"{'text': 'single quotes'}",
            b'{"text": "x",}',
            b'{text: "x"}',
            b'{"text": "x"} extra',
            b'{"text": "unterminated',
            b'{"text": "bad \\q escape"}',
            b'{"text": "ctl \x01 char"}',
            b'{"text" "x"}',
            b"{",
            b"}",
            b'"text',
            b"nul",
            b'{"text": "x"}}',
        ]
    ), "invalid_json"


def _invalid_utf8(rng):
    raw = _record(rng)
    cut = raw.index(b"plain") + rng.randrange(0, 5)
    return raw[:cut] + bytes([rng.choice([0x80, 0xBF, 0xC0, 0xC1, 0xF5, 0xFF])]) + raw[cut:], "invalid_utf8"


def _nul_bytes(rng):
    return rng.choice([b'{"text": "a\x00b"}', b'\x00{"text": "x"}', b'{"text": "x"}\x00', b"\x00" * 10]), "invalid_json"


def _deep_nesting(rng):
    depth = rng.randint(1_500, 200_000)
    return rng.choice(
        [
            b"[" * depth + b"]" * depth,
            b'{"a":' * depth + b"1" + b"}" * depth,
            b'{"text": "x", "m": ' + b"[" * depth + b"]" * depth + b"}",
        ]
    ), "invalid_json"


def _wrong_type(rng):
    return rng.choice(
        [
            b"[1, 2]",
            b'"just a string"',
            b"42",
            b"null",
            b"true",
            b'{"text": 7}',
            b'{"text": null}',
            b'{"text": ["a"]}',
            b'{"text": {"a": 1}}',
            b'{"text": false}',
            b"[]",
        ]
    ), "wrong_type"


def _missing_field(rng):
    return json.dumps({"id": f"m{rng.randrange(10**6)}", "body": "no text field"}).encode(), "missing_field"


def _surrogate_or_huge_number(rng):
    return rng.choice(
        [
            b'{"text": "\\ud800"}',
            b'{"text": "ok \\udfff"}',
            b'{"id": "\\ud83d", "text": "x"}',
            b'{"text": "x", "n": ' + b"9" * 5000 + b"}",
        ]
    ), "invalid_json"


BAD = [
    _truncated_json,
    _broken_json,
    _invalid_utf8,
    _nul_bytes,
    _deep_nesting,
    _wrong_type,
    _missing_field,
    _surrogate_or_huge_number,
]


def _mixed_lines(rng: random.Random, name: str, n_valid: int, n_bad: int):
    """(lines, valid ids, {line number: expected reason}) for one file, bad and valid records shuffled."""
    items = [
        ("ok", json.dumps(_valid(rng, f"{name}-{k}"), ensure_ascii=rng.random() < 0.5).encode()) for k in range(n_valid)
    ]
    items += [(reason, line) for line, reason in (rng.choice(BAD)(rng) for _ in range(n_bad))]
    # Valid records that look odd but are documents: an escaped NUL, nesting within limits, NaN, a blank line.
    items += [
        ("ok", json.dumps({"id": f"{name}-nul", "text": f"{name}-nul a\u0000b"}).encode()),
        ("ok", (f'{{"id": "{name}-deep", "text": "{name}-deep", "m": ' + "[" * 40 + "]" * 40 + "}").encode()),
        ("ok", f'{{"id": "{name}-nan", "text": "{name}-nan", "v": NaN}}'.encode()),
        ("blank", b"   "),
    ]
    rng.shuffle(items)
    valid, bad = set(), {}
    for lineno, (kind, line) in enumerate(items, start=1):
        assert b"\n" not in line
        if kind == "ok":
            valid.add(json.loads(line)["id"])
        elif kind != "blank":
            bad[lineno] = kind
    return [line for _, line in items], valid, bad


def _build_corpus(root: Path):
    """Write the hostile corpus; returns (valid ids, {(file, line): reason}, files whose tail may be lost)."""
    rng = random.Random(SEED)
    valid: set[str] = set()
    bad: dict[tuple[str, int], str] = {}
    (root / "sub").mkdir(parents=True)
    for i in range(8):
        path = root / ("sub" if i % 2 else ".") / f"mixed{i}.jsonl"
        lines, ok, wrong = _mixed_lines(rng, f"m{i}", n_valid=60, n_bad=130)
        path.write_bytes(b"\n".join(lines) + (b"\n" if i % 3 else b""))  # some end without a newline
        valid |= ok
        bad |= {(str(path.resolve()), n): r for n, r in wrong.items()}
    for name, compress in (("c.jsonl.gz", gzip.compress), ("c.jsonl.zst", zstandard.ZstdCompressor().compress)):
        lines, ok, wrong = _mixed_lines(rng, name, n_valid=40, n_bad=60)
        path = root / name
        path.write_bytes(compress(b"\n".join(lines) + b"\n"))
        valid |= ok
        bad |= {(str(path), n): r for n, r in wrong.items()}
    # Whole files: empty, cut off, not compressed at all, bad UTF-8, one line over the record limit.
    for name in ("empty.jsonl", "empty.jsonl.gz", "empty.jsonl.zst"):
        (root / name).write_bytes(b"")
    may_lose = set()
    for name, compress in (("cut.jsonl.gz", gzip.compress), ("cut.jsonl.zst", zstandard.ZstdCompressor().compress)):
        data = compress(b"".join(json.dumps(_valid(rng, f"{name}-{k}")).encode() + b"\n" for k in range(300)))
        (root / name).write_bytes(data[: len(data) // 2])
        may_lose.add(str(root / name))
    (root / "garbage.jsonl.gz").write_bytes(bytes(rng.randrange(256) for _ in range(4000)))
    (root / "garbage.jsonl.zst").write_bytes(b"\x28\xb5\x2f\xfd" + bytes(rng.randrange(256) for _ in range(4000)))
    may_lose |= {str(root / "garbage.jsonl.gz"), str(root / "garbage.jsonl.zst")}
    (root / "bad.txt").write_bytes(b"text then \xff\xfe invalid")
    bad[(str(root / "bad.txt"), 0)] = "invalid_utf8"
    (root / "good.txt").write_text("a whole text file is one document")
    valid.add(str(root / "good.txt"))
    with open(root / "huge.jsonl", "wb") as fh:
        fh.write(json.dumps(_valid(rng, "huge-before")).encode() + b"\n")
        fh.write(b'{"id": "huge", "text": "')
        chunk = b"x" * (1 << 20)
        for _ in range(100):  # a 100 MB single line
            fh.write(chunk)
        fh.write(b'"}\n' + json.dumps(_valid(rng, "huge-after")).encode() + b"\n")
    assert (root / "huge.jsonl").stat().st_size > MAX_RECORD_BYTES
    valid |= {"huge-before", "huge-after"}
    bad[(str(root / "huge.jsonl"), 2)] = "record_too_large"
    # Two symlink loops among the folders, which `**` must neither follow forever nor read twice.
    (root / "sub" / "up").symlink_to("..")
    (root / "sub" / "top").symlink_to("../..")
    return valid, bad, may_lose


def _submit(client: Client, tmp_path: Path, tokenizer_path: Path, name: str, **over) -> str:
    cfg = {
        "name": name,
        "sources": over.pop("sources"),
        "partition_size_mb": 0.25,
        # Every valid document must come through: no quality filtering of the random texts.
        "preprocessing": {"quality": {"enabled": False}},
        "tokenization": {"tokenizer": str(tokenizer_path)},
        "output": {"path": str(tmp_path / f"out-{name}")},
        "work_dir": str(tmp_path / f"work-{name}"),
        **over,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return client.submit(path)


def test_fuzz_bad_input_is_counted_and_valid_documents_come_through(client, tokenizer_path, tmp_path):
    data = tmp_path / "data"
    valid, bad, may_lose = _build_corpus(data)
    assert len(bad) >= 1000
    patterns = [f"{data}/**/*.jsonl", f"{data}/**/*.jsonl.gz", f"{data}/**/*.jsonl.zst", f"{data}/*.txt"]
    job_id = _submit(client, tmp_path, tokenizer_path, "fuzz", sources=[{"path": patterns}])
    info = client.wait(job_id, timeout=JOB_TIMEOUT)
    assert info.state == JobState.SUCCEEDED, info.error

    work = tmp_path / "work-fuzz" / job_id
    kept = [rec["id"] for f in sorted((work / "clean").glob("*.jsonl.zst")) for rec in iter_jsonl_zst(files, f)]
    assert len(kept) == len(set(kept)), "a document came through twice (a symlink loop read a file again?)"
    lost_tail = {i for i in set(kept) - valid if any(i.startswith(Path(p).name) for p in may_lose)}
    assert set(kept) - lost_tail == valid

    issues = {}
    for f in sorted((work / "issues").glob("*.jsonl.zst")):
        for rec in iter_jsonl_zst(files, f):
            assert (rec["file"], rec["line"]) not in issues
            issues[(rec["file"], rec["line"])] = rec["reason"]
    for where, reason in bad.items():
        assert issues.get(where) == reason, (where, reason, issues.get(where))
    extra = {k: v for k, v in issues.items() if k not in bad}
    # Beyond the generated bad records: the empty files, and the end of each cut-off or corrupt file (its
    # cut last line may also show up as invalid JSON first).
    assert Counter(v for k, v in extra.items() if k[1] is None) == {"empty_file": 3}
    assert {k[0] for k, v in extra.items() if k[1] is not None} == may_lose
    assert Counter(v for k, v in extra.items() if v == "truncated") == {"truncated": 4}

    stats = info.stats
    assert stats.documents_out == len(kept)
    assert stats.records == stats.documents_out + sum(stats.removed.values())  # each record once
    expected_removed = Counter(f"input_error.{r}" for k, r in issues.items() if k[1] is not None)
    assert {k: v for k, v in stats.removed.items() if k.startswith("input_error.")} == dict(expected_removed)
    print(
        f"\n[fuzz] {len(bad)} generated bad records + {len(extra)} file-level issues, {len(valid)} valid documents; "
        f"removed: {dict(sorted(stats.removed.items()))}",
        flush=True,
    )


@pytest.mark.parametrize(
    "case",
    ["symlink_loop", "outside_roots", "symlink_out_of_roots", "output_outside", "nul_in_path", "undecodable_name"],
)
def test_fuzz_bad_paths_are_clean_config_errors(client, tokenizer_path, tmp_path, monkeypatch, case):
    data = tmp_path / "data"
    data.mkdir()
    (data / "ok.jsonl").write_text('{"text": "fine"}\n')
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir(exist_ok=True)
    (elsewhere / "secret.jsonl").write_text('{"text": "not yours"}\n')
    # The in-process worker reads the variable at planning time, as a worker process would at its start.
    monkeypatch.setenv("AURALITH_ALLOWED_ROOTS", f"{tmp_path}:{tokenizer_path.parent}")
    sources, over, expect = [{"path": f"{data}/*.jsonl"}], {}, ""
    if case == "symlink_loop":
        (data / "loop.jsonl").symlink_to("loop.jsonl")
        expect = f"sources[0].path: {data}/loop.jsonl: cannot be read: Too many levels of symbolic links"
    elif case == "outside_roots":
        sources = [{"path": str(elsewhere / "*.jsonl")}]
        expect = f"sources[0].path: {elsewhere}/secret.jsonl is outside the allowed roots"
    elif case == "symlink_out_of_roots":
        (data / "link.jsonl").symlink_to(elsewhere / "secret.jsonl")
        expect = f"sources[0].path: {data}/link.jsonl (-> {elsewhere}/secret.jsonl) is outside the allowed roots"
    elif case == "output_outside":
        over = {"output": {"path": str(elsewhere / "out")}}
        expect = f"output.path: {elsewhere}/out is outside the allowed roots"
    elif case == "nul_in_path":
        sources = [{"path": f"{data}/a\x00.jsonl"}]
        expect = "a path cannot contain a NUL byte"
    elif case == "undecodable_name":
        (data / os.fsdecode(b"bad\xff.jsonl")).write_text('{"text": "x"}\n')
        expect = "the file name is not valid UTF-8; rename it"
    job_id = _submit(client, tmp_path, tokenizer_path, case, sources=sources, **over)
    info = client.wait(job_id, timeout=60)
    assert info.state == JobState.FAILED
    assert "invalid config" in info.error and expect in info.error, info.error
    assert "Traceback" not in info.error
    assert not (elsewhere / "out").exists()
