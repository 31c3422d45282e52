"""Shard writer/reader round trips, rollover, compression, hashes, and the manifest."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from safetensors import safe_open

from auralith.errors import InputError
from auralith.steps.shards import (
    ShardInfo,
    ShardWriter,
    iter_shard_documents,
    load_manifest,
    read_shard,
    tensor_sha256,
    write_manifest,
)
from auralith.storage import Files

files = Files()  # no job: the environment's storage settings

EOS = 0


def make_docs(n: int, seed: int = 0, max_len: int = 40, high: int = 1000) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n):
        body = rng.integers(1, high, size=int(rng.integers(0, max_len)))
        docs.append(np.append(body, EOS).astype(np.uint16 if high <= 65536 else np.uint32))
    return docs


def write_all(tmp_path, docs, **kwargs) -> list[ShardInfo]:
    kwargs = {"dtype": np.uint16, "max_shard_bytes": 1 << 20, "compression": "none", **kwargs}
    writer = ShardWriter(files, tmp_path, "part", **kwargs)
    for doc in docs:
        writer.add(doc)
    return writer.close()


def read_all(tmp_path, infos) -> list[np.ndarray]:
    return [doc.copy() for info in infos for doc in iter_shard_documents(files, tmp_path / info.path)]


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_round_trip(tmp_path, compression):
    docs = make_docs(50)
    infos = write_all(tmp_path, docs, compression=compression)
    assert len(infos) == 1
    info = infos[0]
    suffix = ".safetensors.zst" if compression == "zstd" else ".safetensors"
    assert info.path == "part-00000" + suffix
    assert info.n_docs == 50 and info.n_tokens == sum(d.size for d in docs)
    assert info.dtype == "uint16" and info.compression == compression

    back = read_all(tmp_path, infos)
    assert len(back) == len(docs)
    for a, b in zip(docs, back, strict=True):
        np.testing.assert_array_equal(a, b)
        assert b[-1] == EOS

    ids, offsets = read_shard(files, tmp_path / info.path)
    assert ids.dtype == np.uint16 and offsets.dtype == np.int64
    assert offsets[0] == 0 and offsets[-1] == ids.size
    np.testing.assert_array_equal(np.diff(offsets), [d.size for d in docs])

    data = (tmp_path / info.path).read_bytes()
    assert info.bytes == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.tensors == {"input_ids": tensor_sha256(ids), "doc_offsets": tensor_sha256(offsets)}


def test_metadata(tmp_path):
    docs = make_docs(5)
    (info,) = write_all(tmp_path, docs)
    with safe_open(str(tmp_path / info.path), framework="numpy") as f:
        meta = f.metadata()
    assert meta == {"format": "auralith-shard/1", "n_docs": "5", "n_tokens": str(info.n_tokens)}


def test_rollover_never_splits_documents(tmp_path):
    docs = [np.full(10, i, dtype=np.uint16) for i in range(1, 8)]
    # 50 bytes = 25 uint16 tokens: two 10-token documents fit, a third would not.
    infos = write_all(tmp_path, docs, max_shard_bytes=50)
    assert [i.n_docs for i in infos] == [2, 2, 2, 1]
    assert [i.path for i in infos] == [f"part-{k:05d}.safetensors" for k in range(4)]
    assert all(i.n_tokens * 2 <= 50 for i in infos)
    back = read_all(tmp_path, infos)
    assert [d.tolist() for d in back] == [d.tolist() for d in docs]


def test_exact_fit_stays_in_one_shard(tmp_path):
    docs = [np.ones(5, dtype=np.uint16)] * 4
    infos = write_all(tmp_path, docs, max_shard_bytes=40)
    assert [i.n_docs for i in infos] == [4]


def test_oversize_document_gets_its_own_shard(tmp_path):
    small, big = np.ones(3, dtype=np.uint16), np.arange(100, dtype=np.uint16)
    infos = write_all(tmp_path, [small, big, small], max_shard_bytes=20)
    assert [(i.n_docs, i.n_tokens) for i in infos] == [(1, 3), (1, 100), (1, 3)]
    assert [d.tolist() for d in read_all(tmp_path, infos)] == [small.tolist(), big.tolist(), small.tolist()]


def test_uint32(tmp_path):
    docs = make_docs(20, high=200_000)
    infos = write_all(tmp_path, docs, dtype=np.uint32, compression="zstd")
    ids, _ = read_shard(files, tmp_path / infos[0].path)
    assert ids.dtype == np.uint32 and infos[0].dtype == "uint32"
    assert int(ids.max()) > 65535
    assert [d.tolist() for d in read_all(tmp_path, infos)] == [d.tolist() for d in docs]


def test_narrowing_checks_range(tmp_path):
    writer = ShardWriter(files, tmp_path, "part", dtype=np.uint16, max_shard_bytes=100)
    writer.add(np.array([1, 2, 3], dtype=np.int64))  # fits: converted
    with pytest.raises(ValueError, match="out of range"):
        writer.add(np.array([70_000], dtype=np.int64))
    assert writer.close()[0].n_tokens == 3


def test_tensor_hashes_independent_of_compression(tmp_path):
    docs = make_docs(30, seed=3)
    plain = write_all(tmp_path / "plain", docs)
    packed = write_all(tmp_path / "zst", docs, compression="zstd", zstd_level=10)
    assert [i.tensors for i in plain] == [i.tensors for i in packed]
    assert plain[0].sha256 != packed[0].sha256
    assert tensor_sha256(np.arange(4, dtype=">u2")) == tensor_sha256(np.arange(4, dtype="<u2"))


def test_no_empty_shard(tmp_path):
    assert write_all(tmp_path, []) == []
    assert list(tmp_path.iterdir()) == []
    docs = [np.ones(10, dtype=np.uint16)] * 2
    infos = write_all(tmp_path, docs, max_shard_bytes=40)  # the last add fills the shard exactly
    assert len(infos) == 1


def test_close_is_final(tmp_path):
    writer = ShardWriter(files, tmp_path, "part", dtype=np.uint16, max_shard_bytes=100)
    writer.add(np.ones(2, dtype=np.uint16))
    first = writer.close()
    assert writer.close() == first
    with pytest.raises(RuntimeError):
        writer.add(np.ones(2, dtype=np.uint16))


def test_empty_documents_survive(tmp_path):
    docs = [np.empty(0, dtype=np.uint16), np.array([5, EOS], dtype=np.uint16), np.empty(0, dtype=np.uint16)]
    infos = write_all(tmp_path, docs)
    assert [d.tolist() for d in read_all(tmp_path, infos)] == [[], [5, EOS], []]


def test_no_temp_files_left(tmp_path):
    write_all(tmp_path, make_docs(40), max_shard_bytes=100, compression="zstd")
    assert all(not p.name.startswith(".") for p in tmp_path.iterdir())


def test_read_garbage_raises_input_error(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a shard")
    with pytest.raises(InputError, match="bad.safetensors"):
        read_shard(files, bad)
    bad_zst = tmp_path / "bad.safetensors.zst"
    bad_zst.write_bytes(b"not zstd")
    with pytest.raises(InputError):
        read_shard(files, bad_zst)


def test_manifest_round_trip(tmp_path):
    infos = write_all(tmp_path, make_docs(10), max_shard_bytes=30)
    manifest = {"format": "auralith-manifest/1", "shards": [i.to_dict() for i in infos], "n_docs": 10}
    path = write_manifest(files, tmp_path, manifest)
    assert path == tmp_path / "manifest.json"
    text = path.read_text()
    assert text.startswith('{\n  "format"') and text.endswith("\n")
    assert load_manifest(files, path) == manifest
    assert load_manifest(files, tmp_path) == manifest
    assert [ShardInfo.from_dict(d) for d in load_manifest(files, path)["shards"]] == infos
