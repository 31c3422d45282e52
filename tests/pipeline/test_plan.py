import gzip
import json
import os
import random

import pytest

from auralith.config import parse_config
from auralith.errors import ConfigError, InputError
from auralith.pipeline.plan import detect_format, list_source_files, plan_partitions
from auralith.sources.documents import FilePiece
from auralith.sources.readers import PieceReader
from auralith.storage import Files

files = Files()  # no job: the environment's storage settings


def make_cfg(tmp_path, *sources, target_bytes: int = 2**20, taper: bool = False):
    # Most tests pin partitions of one size; test_the_last_stretch_is_cut_finer covers the taper.
    return parse_config(
        {
            "sources": [s if isinstance(s, dict) else {"path": s} for s in sources],
            "partition_size_mb": target_bytes / 2**20,
            "taper_partitions": taper,
            "tokenization": {"tokenizer": "tok.json"},
        },
        base_dir=tmp_path,
    )


def jsonl_bytes(n: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        r = rng.random()
        if r < 0.05:
            lines.append(b"")  # blank line
        elif r < 0.08:
            lines.append(b"{broken")
        else:
            lines.append(json.dumps({"text": "w" * rng.randrange(0, 300) + str(i)}).encode())
    return b"\n".join(lines)


def pieces(plan: list[list[FilePiece]]) -> list[FilePiece]:
    return [p for part in plan for p in part]


@pytest.mark.parametrize("target", [1, 97, 1000, 5000, 10**6])
@pytest.mark.parametrize("trailing_newline", [True, False])
def test_big_file_split_covers_it_exactly(tmp_path, target, trailing_newline):
    data = jsonl_bytes(400) + (b"\n" if trailing_newline else b"")
    path = tmp_path / "big.jsonl"
    path.write_bytes(data)
    plan = plan_partitions(make_cfg(tmp_path, "big.jsonl", target_bytes=target))
    got = pieces(plan)

    assert got[0].start == 0 and got[-1].end is None
    assert all(a.end == b.start for a, b in zip(got[:-1], got[1:], strict=True))
    assert sum(p.size for p in got) == len(data)
    for p in got:
        assert p.start == 0 or data[p.start - 1 : p.start] == b"\n"
        assert p.first_line == data.count(b"\n", 0, p.start) + 1
        assert p.size == (p.end if p.end is not None else len(data)) - p.start
    if target < len(data) // 4:
        assert len(got) > 4

    whole = FilePiece(str(path), 0, "jsonl", "none", size=len(data))
    expected = list(PieceReader(files, whole, "text", None))
    assert [item for p in got for item in PieceReader(files, p, "text", None)] == expected


def test_partitions_fill_to_target(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(jsonl_bytes(300, seed=1))
    (tmp_path / "b.jsonl").write_bytes(jsonl_bytes(300, seed=2))
    plan = plan_partitions(make_cfg(tmp_path, "*.jsonl", target_bytes=4000))
    sizes = [sum(p.size for p in part) for part in plan]
    assert all(s >= 4000 for s in sizes[:-1])
    assert all(s < 4000 + 400 for s in sizes)  # overshoot is at most one line
    assert {p.path for p in plan[0]} == {str(tmp_path / "a.jsonl")}


def test_the_last_stretch_is_cut_finer(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(jsonl_bytes(300, seed=1))
    (tmp_path / "b.jsonl").write_bytes(jsonl_bytes(300, seed=2))
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes(20, seed=3)))  # packed whole, at the end
    plan = plan_partitions(make_cfg(tmp_path, "*.jsonl", "*.jsonl.gz", target_bytes=4000, taper=True))
    sizes = [sum(p.size for p in part) for part in plan]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    total = sum(sizes)
    assert total == sum(f.stat().st_size for f in tmp_path.iterdir())
    bulk = [s for s, at in zip(sizes, starts, strict=True) if at < total - 8000]
    tail = sizes[len(bulk) :]
    assert all(4000 <= s < 4400 for s in bulk)
    assert len(tail) >= 6 and all(1000 <= s < 1000 + 400 for s in tail[:-1])
    assert plan[-1][-1].path.endswith(".gz")  # packed whole into the last partition
    # Still every line once, in order, across the pieces of each file.
    for name in ("a.jsonl", "b.jsonl"):
        parts = [p for p in pieces(plan) if p.path.endswith(name)]
        assert parts[0].start == 0 and parts[-1].end is None
        assert all(x.end == y.start for x, y in zip(parts, parts[1:], strict=False))
    # And the default (taper on) gives the same plan twice.
    assert plan == plan_partitions(make_cfg(tmp_path, "*.jsonl", "*.jsonl.gz", target_bytes=4000, taper=True))


def test_small_files_are_packed(tmp_path):
    for i in range(5):
        (tmp_path / f"f{i}.jsonl").write_text(json.dumps({"text": f"doc {i}"}) + "\n")
    (tmp_path / "zero.jsonl").write_bytes(b"")
    plan = plan_partitions(make_cfg(tmp_path, str(tmp_path / "*.jsonl")))
    assert len(plan) == 1
    assert [p.path.rsplit("/", 1)[1] for p in plan[0]] == [f"f{i}.jsonl" for i in range(5)] + ["zero.jsonl"]
    assert plan[0][-1].size == 0
    assert all((p.start, p.end, p.first_line) == (0, None, 1) for p in plan[0])


def test_compressed_and_txt_files_are_not_split(tmp_path):
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes(300)))
    (tmp_path / "d.txt").write_text("some text " * 500)
    plan = plan_partitions(make_cfg(tmp_path, "c.jsonl.gz", "d.txt", target_bytes=100))
    assert [[(p.format, p.compression, p.start, p.end) for p in part] for part in plan] == [
        [("jsonl", "gzip", 0, None)],
        [("txt", "none", 0, None)],
    ]
    assert plan[0][0].size == (tmp_path / "c.jsonl.gz").stat().st_size


def test_plan_is_deterministic(tmp_path):
    for i in range(4):
        (tmp_path / f"{i}.jsonl").write_bytes(jsonl_bytes(100, seed=i))
    cfg = make_cfg(tmp_path, "*.jsonl", target_bytes=3000)
    assert plan_partitions(cfg) == plan_partitions(cfg)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a.jsonl", ("jsonl", "none")),
        ("a.JSON", ("jsonl", "none")),
        ("a.ndjson.gz", ("jsonl", "gzip")),
        ("a.jsonl.zst", ("jsonl", "zstd")),
        ("a.jsonl.zstd", ("jsonl", "zstd")),
        ("a.txt", ("txt", "none")),
        ("a.txt.gz", ("txt", "gzip")),
        ("a.txt.zst", ("txt", "zstd")),
    ],
)
def test_detect_format(name, expected):
    assert detect_format(f"/data/{name}") == expected


def test_unknown_extension(tmp_path):
    with pytest.raises(InputError) as err:
        detect_format("/data/table.xlsx")
    assert "/data/table.xlsx" in str(err.value) and ".jsonl" in str(err.value)
    with pytest.raises(InputError):
        detect_format("/data/x.gz")
    (tmp_path / "t.xlsx").write_text("a,b\n")
    with pytest.raises(InputError):
        plan_partitions(make_cfg(tmp_path, "t.xlsx"))


def test_web_and_table_extensions():
    assert detect_format("/c/a.warc.gz") == ("warc", "gzip")
    assert detect_format("/c/a.warc") == ("warc", "none")
    assert detect_format("/c/CC-MAIN-1.warc.wet.gz") == ("warc", "gzip")
    assert detect_format("/t/a.csv.zst") == ("csv", "zstd")
    assert detect_format("/t/a.tsv") == ("tsv", "none")
    with pytest.raises(InputError, match="zstd-compressed WARC"):
        detect_format("/c/a.warc.zst")


def test_a_big_warc_gz_is_planned_in_record_ranges(tmp_path):
    from pathlib import Path

    fixture = Path(__file__).parents[1] / "data" / "python-docs-1.warc.gz"
    (tmp_path / "crawl").mkdir()
    (tmp_path / "crawl" / "a.warc.gz").write_bytes(fixture.read_bytes())
    plan = plan_partitions(make_cfg(tmp_path, "crawl/*.warc.gz", target_bytes=20000))
    got = pieces(plan)
    assert len(plan) > 4 and all(len(part) == 1 for part in plan)
    data = fixture.read_bytes()
    assert all(data[p.start : p.start + 3] == b"\x1f\x8b\x08" for p in got)


def test_source_format_overrides_extension(tmp_path):
    assert detect_format("/data/notes.md", "txt") == ("txt", "none")
    assert detect_format("/data/dump.log.gz", "jsonl") == ("jsonl", "gzip")
    (tmp_path / "notes.md").write_text("hello")
    plan = plan_partitions(make_cfg(tmp_path, {"path": "notes.md", "format": "txt"}))
    assert plan[0][0].format == "txt"


def test_glob_matching_nothing(tmp_path):
    (tmp_path / "a.jsonl").write_text("{}\n")
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(ConfigError) as err:
        list_source_files(make_cfg(tmp_path, "a.jsonl", ["none/*.jsonl", "dir.jsonl"]))
    assert err.value.problems == [
        f"sources[1].path: no files match {str(tmp_path / 'none/*.jsonl')!r}",
        f"sources[1].path: no files match {str(tmp_path / 'dir.jsonl')!r}",
    ]


def test_files_are_listed_once_in_order(tmp_path):
    (tmp_path / "sub" / "deep").mkdir(parents=True)
    for rel in ["b.jsonl", "a.jsonl", "sub/deep/c.jsonl"]:
        (tmp_path / rel).write_text('{"text": "x"}\n')
    files = list_source_files(make_cfg(tmp_path, ["a.jsonl", "*.jsonl"], "**/*.jsonl"))
    assert [(i, p.removeprefix(str(tmp_path) + "/"), size) for i, p, size in files] == [
        (0, "a.jsonl", 14),
        (0, "b.jsonl", 14),
        (1, "sub/deep/c.jsonl", 14),
    ]


def test_symlink_loops_neither_hang_nor_pass_silently(tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "a.jsonl").write_text('{"text": "x"}\n')
    (tmp_path / "d" / "e" / "up").symlink_to("..")  # two folder loops: glob.glob's ** would walk 2^40 paths
    (tmp_path / "d" / "e" / "top").symlink_to("../..")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "h.jsonl").write_text('{"text": "x"}\n')
    files = list_source_files(make_cfg(tmp_path, "**/*.jsonl"))
    assert [p.removeprefix(str(tmp_path) + "/") for _, p, _ in files] == ["d/e/a.jsonl"]

    (tmp_path / "d" / "loop.jsonl").symlink_to("loop.jsonl")
    (tmp_path / "d" / "gone.jsonl").symlink_to("missing.jsonl")
    with pytest.raises(ConfigError) as err:
        list_source_files(make_cfg(tmp_path, "d/*.jsonl"))
    assert err.value.problems == [
        f"sources[0].path: {tmp_path}/d/gone.jsonl: cannot be read: No such file or directory",
        f"sources[0].path: {tmp_path}/d/loop.jsonl: cannot be read: Too many levels of symbolic links",
    ]


def test_nul_byte_and_undecodable_names_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="sources\\[0\\].path: .*a path cannot contain a NUL byte"):
        list_source_files(make_cfg(tmp_path, "a\x00.jsonl"))
    (tmp_path / os.fsdecode(b"bad\xff.jsonl")).write_text('{"text": "x"}\n')
    with pytest.raises(ConfigError, match=r"sources\[0\].path: .*bad\\udcff.jsonl': the file name is not valid UTF-8"):
        list_source_files(make_cfg(tmp_path, "*.jsonl"))


def test_allowed_roots(tmp_path, monkeypatch):
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (inside / "a.jsonl").write_text('{"text": "x"}\n')
    (outside / "secret.jsonl").write_text('{"text": "x"}\n')
    (inside / "link.jsonl").symlink_to(outside / "secret.jsonl")
    monkeypatch.setenv("AURALITH_ALLOWED_ROOTS", f"{inside}:/nonexistent")
    assert len(list_source_files(make_cfg(tmp_path, "in/a.jsonl"))) == 1
    with pytest.raises(ConfigError) as err:
        list_source_files(make_cfg(tmp_path, "in/*.jsonl", "out/secret.jsonl"))
    roots = f"(AURALITH_ALLOWED_ROOTS={inside}:/nonexistent)"
    assert err.value.problems == [
        f"sources[0].path: {inside}/link.jsonl (-> {outside}/secret.jsonl) is outside the allowed roots {roots}",
        f"sources[1].path: {outside}/secret.jsonl is outside the allowed roots {roots}",
    ]


def test_an_unset_partition_size_is_cut_for_the_worker_processes(tmp_path):
    from auralith.pipeline.plan import MAX_PARTITION_MB, MIN_AUTO_PARTITION_MB, PARTITIONS_PER_PROCESS, partition_size

    cfg = parse_config({"sources": {"path": "x.jsonl"}, "tokenization": {"tokenizer": "t.json"}}, base_dir=tmp_path)
    mib = 2**20
    assert cfg.partition_size_mb is None
    # 20 MiB over 2 processes: 4 partitions each; the same job on 1 process: 4 partitions in all.
    assert partition_size(cfg, 20 * mib, 2) == 20 * mib // (2 * PARTITIONS_PER_PROCESS)
    assert partition_size(cfg, 20 * mib, 1) == 5 * mib
    assert partition_size(cfg, 10**6 * mib, 32) == MAX_PARTITION_MB * mib  # a big job: the bench's best size
    assert partition_size(cfg, 2 * mib, 8) == MIN_AUTO_PARTITION_MB * mib  # tasks never go below 1 MiB
    fixed = parse_config({**cfg.model_dump(mode="json"), "partition_size_mb": 3}, base_dir=tmp_path)
    assert partition_size(fixed, 20 * mib, 2) == 3 * mib  # a size the user set is kept


def test_the_planner_cuts_an_unset_size_by_processes(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(jsonl_bytes(4000))
    cfg = parse_config(
        {"sources": {"path": "a.jsonl"}, "tokenization": {"tokenizer": "t.json"}, "taper_partitions": False},
        base_dir=tmp_path,
    )
    from auralith.pipeline import plan

    size = (tmp_path / "a.jsonl").stat().st_size
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plan, "MIN_AUTO_PARTITION_MB", size / 2**20 / 100)  # the test file is far below 1 MiB
        assert len(plan_partitions(cfg, 1)) == 4 and len(plan_partitions(cfg, 3)) == 12
