"""Parquet and saved-HuggingFace-dataset sources, built here with pyarrow."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auralith.config import parse_config
from auralith.errors import InputError
from auralith.pipeline.plan import list_source_files, plan_partitions
from auralith.sources.columnar import hf_dataset_files, parquet_pieces
from auralith.sources.documents import Document, InputIssue
from auralith.sources.readers import PieceReader
from auralith.storage import Files
from tests.corpus import sentences

files = Files()  # no job: the environment's storage settings


def write_parquet(path: Path, texts: list, ids: list | None = None, row_group_size: int = 50) -> None:
    columns = {"text": pa.array(texts, type=pa.string())}
    if ids is not None:
        columns["id"] = pa.array(ids)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)


def save_to_disk_layout(folder: Path, texts: list[str], n_files: int = 2) -> None:
    """The layout `datasets.Dataset.save_to_disk` writes: Arrow stream files listed in state.json."""
    folder.mkdir(parents=True)
    per = -(-len(texts) // n_files)
    names = []
    for k in range(n_files):
        name = f"data-{k:05d}-of-{n_files:05d}.arrow"
        chunk = texts[k * per : (k + 1) * per]
        table = pa.table({"text": chunk, "idx": list(range(k * per, k * per + len(chunk)))})
        with pa.OSFile(str(folder / name), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
            for batch in table.to_batches(max_chunksize=17):
                writer.write_batch(batch)
        names.append({"filename": name})
    (folder / "state.json").write_text(json.dumps({"_data_files": names, "_split": "train"}))
    (folder / "dataset_info.json").write_text(json.dumps({"features": {"text": {"dtype": "string"}}}))


def config(path: str, **src) -> object:
    return parse_config(
        {"sources": [{"path": path, **src}], "tokenization": {"tokenizer": "t.json"}, "partition_size_mb": 0.01}
    )


def read_all(cfg) -> list:
    out = []
    for pieces in plan_partitions(cfg):
        for piece in pieces:
            src = cfg.sources[piece.source]
            out.extend(PieceReader(files, piece, src.text_field, src.id_field))
    return out


def test_parquet_row_groups_become_partitions_and_rows_documents(tmp_path):
    texts = sentences(600, seed=3)
    write_parquet(tmp_path / "a.parquet", texts, ids=[f"doc{i}" for i in range(600)], row_group_size=100)
    cfg = config(str(tmp_path / "*.parquet"))
    plan = plan_partitions(cfg)
    assert len(plan) > 1, "a big Parquet file spreads over several partitions"
    pieces = [p for part in plan for p in part]
    assert pieces[0].start == 0 and pieces[-1].end == 6  # six row groups, each read once, in order
    assert all(a.end == b.start for a, b in zip(pieces[:-1], pieces[1:], strict=True))
    docs = read_all(cfg)
    assert [d.text for d in docs] == texts and [d.id for d in docs] == [f"doc{i}" for i in range(600)]
    assert docs[150].line == 151


def test_bad_parquet_rows_name_file_row_and_field(tmp_path):
    path = tmp_path / "b.parquet"
    write_parquet(path, ["ok", None, "fine"], ids=None)
    items = read_all(config(str(path)))
    assert [d.id for d in items if isinstance(d, Document)] == ["b.parquet:1", "b.parquet:3"]
    issue = next(i for i in items if isinstance(i, InputIssue))
    assert (issue.file, issue.line, issue.field, issue.reason) == (str(path), 2, "text", "wrong_type")
    assert issue.message == "expected a string, got null"

    pq.write_table(pa.table({"body": ["x", "y"], "n": [1, 2]}), tmp_path / "c.parquet")
    items = read_all(config(str(tmp_path / "c.parquet")))
    assert [(i.line, i.field, i.reason) for i in items] == [(1, "text", "missing_field"), (2, "text", "missing_field")]
    items = read_all(config(str(tmp_path / "c.parquet"), text_field="n"))
    assert [(i.line, i.reason, i.message) for i in items][0] == (1, "wrong_type", "expected a string, got int64")


def test_corrupt_parquet_fails_planning_with_the_file_named(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="bad.parquet: not a readable Parquet file"):
        plan_partitions(config(str(tmp_path / "bad.parquet")))


def test_hf_dataset_saved_to_disk_is_read_without_the_datasets_library(tmp_path):
    texts = sentences(300, seed=5)
    save_to_disk_layout(tmp_path / "ds", texts)
    cfg = config(str(tmp_path / "ds"), id_field="idx")  # auto-detected from state.json
    assert [Path(p).name for _, p, _ in list_source_files(cfg)] == [
        "data-00000-of-00002.arrow",
        "data-00001-of-00002.arrow",
    ]
    docs = read_all(cfg)
    assert [d.text for d in docs] == texts and docs[200].id == "200"
    assert read_all(config(str(tmp_path / "ds"), format="hf_dataset", id_field="idx")) == docs


def test_hf_dataset_dict_reads_every_split_in_order(tmp_path):
    save_to_disk_layout(tmp_path / "dd" / "train", ["a", "b", "c"], n_files=1)
    save_to_disk_layout(tmp_path / "dd" / "test", ["d"], n_files=1)
    (tmp_path / "dd" / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    assert [Path(f).parent.name for f in hf_dataset_files(files, str(tmp_path / "dd"))] == ["train", "test"]
    assert [d.text for d in read_all(config(str(tmp_path / "dd")))] == ["a", "b", "c", "d"]


def test_a_folder_that_is_no_dataset_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a dataset saved with save_to_disk"):
        list_source_files(config(str(tmp_path / "empty"), format="hf_dataset"))


def test_arrow_file_format_is_read_too(tmp_path):
    table = pa.table({"text": ["x", "y"]})
    with pa.OSFile(str(tmp_path / "t.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    assert [d.text for d in read_all(config(str(tmp_path / "t.arrow")))] == ["x", "y"]


def test_parquet_runs_follow_a_size_that_changes_along_the_file(tmp_path):
    write_parquet(tmp_path / "a.parquet", sentences(1000, seed=4), row_group_size=50)  # 20 row groups
    one = parquet_pieces(files, str(tmp_path / "a.parquet"), 0, first=1, every=1)  # a run per row group
    group = max(p.size for p in one)
    half = sum(p.size for p in one) // 2
    runs = parquet_pieces(
        files, str(tmp_path / "a.parquet"), 0, first=4 * group, every=lambda done: 4 * group if done < half else 1
    )
    before = [p for p in runs if sum(q.size for q in runs[: runs.index(p)]) < half]
    assert all(p.end - p.start >= 4 for p in before[:-1])
    assert all(p.end - p.start == 1 for p in runs[len(before) :])
    assert [p.start for p in runs[1:]] == [p.end for p in runs[:-1]] and runs[-1].end == 20
