"""The local backend: the same interface over plain files."""

from __future__ import annotations

from pathlib import Path

import pytest

from auralith import storage


def test_local_interface(tmp_path: Path):
    storage.write_bytes_atomic(tmp_path / "d" / "a.jsonl", b"0123456789")
    storage.write_bytes_atomic(tmp_path / "d" / "sub" / "b.jsonl", b"xy")
    assert storage.read_bytes(tmp_path / "d" / "a.jsonl") == b"0123456789"
    with storage.open_read(tmp_path / "d" / "a.jsonl", 3) as fh:
        assert fh.read() == b"3456789"
    with storage.open_random(tmp_path / "d" / "a.jsonl") as fh:
        fh.seek(-2, 2)
        assert fh.read() == b"89"
    assert storage.list_files(str(tmp_path / "d" / "**" / "*.jsonl")) == [
        (str(tmp_path / "d" / "a.jsonl"), 10), (str(tmp_path / "d" / "sub" / "b.jsonl"), 2)]
    assert storage.exists(tmp_path / "d" / "a.jsonl") and storage.size(tmp_path / "d" / "sub" / "b.jsonl") == 2
    storage.delete(tmp_path / "d" / "a.jsonl")
    storage.delete(tmp_path / "d" / "a.jsonl")
    assert not storage.exists(tmp_path / "d" / "a.jsonl")


def test_failed_local_write_leaves_nothing(tmp_path: Path):
    with pytest.raises(RuntimeError), storage.atomic_write(tmp_path / "x.bin") as fh:
        fh.write(b"partial")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_join_keeps_urls_as_strings_and_local_paths_as_paths(tmp_path: Path):
    assert storage.join("s3://bucket/work/", "job", "clean/") == "s3://bucket/work/job/clean"
    assert storage.join(str(tmp_path), "job", "x.json") == tmp_path / "job" / "x.json"
