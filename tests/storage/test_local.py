"""The local backend: the same interface over plain files."""

from __future__ import annotations

from pathlib import Path

import pytest

from auralith.storage import DEFAULT_FILES, Files, join
from auralith.storage.local import LocalStorage


def test_local_interface(tmp_path: Path):
    files = Files()
    files.write_bytes_atomic(tmp_path / "d" / "a.jsonl", b"0123456789")
    files.write_bytes_atomic(tmp_path / "d" / "sub" / "b.jsonl", b"xy")
    assert files.read_bytes(tmp_path / "d" / "a.jsonl") == b"0123456789"
    with files.open_read(tmp_path / "d" / "a.jsonl", 3) as fh:
        assert fh.read() == b"3456789"
    with files.open_random(tmp_path / "d" / "a.jsonl") as fh:
        fh.seek(-2, 2)
        assert fh.read() == b"89"
    assert files.list_files(str(tmp_path / "d" / "**" / "*.jsonl")) == [
        (str(tmp_path / "d" / "a.jsonl"), 10),
        (str(tmp_path / "d" / "sub" / "b.jsonl"), 2),
    ]
    assert files.exists(tmp_path / "d" / "a.jsonl") and files.size(tmp_path / "d" / "sub" / "b.jsonl") == 2
    files.delete(tmp_path / "d" / "a.jsonl")
    files.delete(tmp_path / "d" / "a.jsonl")
    assert not files.exists(tmp_path / "d" / "a.jsonl")


def test_failed_local_write_leaves_nothing(tmp_path: Path):
    with pytest.raises(RuntimeError), DEFAULT_FILES.atomic_write(tmp_path / "x.bin") as fh:
        fh.write(b"partial")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_join_keeps_urls_as_strings_and_local_paths_as_paths(tmp_path: Path):
    assert join("s3://bucket/work/", "job", "clean/") == "s3://bucket/work/job/clean"
    assert join(str(tmp_path), "job", "x.json") == tmp_path / "job" / "x.json"


def test_files_of_equal_settings_are_equal_and_local_paths_need_no_s3():
    assert Files() == DEFAULT_FILES and hash(Files()) == hash(DEFAULT_FILES)
    assert isinstance(Files().backend("/data/x.jsonl"), LocalStorage)
