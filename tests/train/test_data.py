"""The shard loader: memory maps, the zstd cache, deterministic windows, restart from a position."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest

from auralith.errors import InputError
from auralith.steps.shards import load_manifest, read_shard
from auralith.storage import Files
from auralith.train.data import BatchSampler, TokenStream, default_cache_dir, memmap_tensor, min_tokens_to_train
from tests.train.conftest import upload_folder, write_shards

files = Files()  # no job: the environment's storage settings


def _all_tokens(manifest_path):
    manifest = load_manifest(files, manifest_path)
    return np.concatenate([read_shard(files, manifest_path.parent / s["path"])[0] for s in manifest["shards"]])


def test_memmap_matches_the_shard_reader(shards_manifest):
    first = load_manifest(files, shards_manifest)["shards"][0]["path"]
    mapped = memmap_tensor(shards_manifest.parent / first, "input_ids")
    assert isinstance(mapped, np.memmap)
    assert np.array_equal(mapped, read_shard(files, shards_manifest.parent / first)[0])


def test_stream_reads_across_shard_boundaries(shards_manifest):
    stream = TokenStream(files, shards_manifest)
    tokens = _all_tokens(shards_manifest)
    assert len(stream.parts) >= 2 and len(stream) == tokens.size
    boundary = stream.offsets[1]
    assert np.array_equal(stream.read(boundary - 5, 40), tokens[boundary - 5 : boundary + 35])
    assert stream.vocab_size == 400


def test_zstd_shards_are_decompressed_to_the_cache_once(tmp_path, tokenizer_path, shards_manifest):
    manifest = write_shards(tmp_path / "z", tokenizer_path, compression="zstd")
    cache = tmp_path / "cache"
    stream = TokenStream(files, manifest, cache)
    cached = sorted(cache.iterdir())
    assert cached and all(p.suffix != ".zst" for p in cached)
    mtimes = [p.stat().st_mtime_ns for p in cached]
    TokenStream(files, manifest, cache)
    assert [p.stat().st_mtime_ns for p in sorted(cache.iterdir())] == mtimes
    assert np.array_equal(stream.read(0, len(stream)), _all_tokens(shards_manifest))


def test_windows_are_contiguous_targets_shifted_by_one(shards_manifest):
    stream = TokenStream(files, shards_manifest)
    x, y = BatchSampler(stream, 32, 4, seed=1).batch_at(0)
    assert x.shape == y.shape == (4, 32)
    assert np.array_equal(x[:, 1:], y[:, :-1])
    tokens = _all_tokens(shards_manifest)
    row = x[0]
    starts = [i for i in range(tokens.size - 32) if np.array_equal(tokens[i : i + 32], row)]
    assert starts, "every window is a contiguous piece of the token stream"


def test_batches_depend_on_seed_and_position_only(shards_manifest):
    stream = TokenStream(files, shards_manifest)
    a = BatchSampler(stream, 16, 4, seed=7)
    run = [a.next_batch()[0] for _ in range(5)]
    restarted = BatchSampler(stream, 16, 4, seed=7, position=3)
    assert np.array_equal(restarted.next_batch()[0], run[3]) and restarted.position == 4
    assert not np.array_equal(BatchSampler(stream, 16, 4, seed=8).batch_at(0)[0], run[0])


def test_train_and_val_windows_are_disjoint(shards_manifest):
    stream = TokenStream(files, shards_manifest)
    train = BatchSampler(stream, 16, 4, seed=0, val_fraction=0.1)
    val = BatchSampler(stream, 16, 4, seed=0, val_fraction=0.1, split="val")
    assert train.hi == val.lo and train.hi + train.windows + 16 == val.lo + 16 + train.windows


def test_too_little_data_is_a_clear_error(shards_manifest):
    with pytest.raises(InputError, match="fewer than context"):
        BatchSampler(TokenStream(files, shards_manifest), 10**9, 1, seed=0)


def test_missing_manifest_names_the_file(tmp_path):
    with pytest.raises(InputError, match="no manifest.json"):
        TokenStream(files, tmp_path / "manifest.json")


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_an_s3_manifest_reads_like_its_local_copy(bucket, tmp_path, tokenizer_path, compression):
    local = write_shards(tmp_path / "out", tokenizer_path, compression=compression)
    url = upload_folder(local.parent, f"s3://{bucket}/out")
    cache = tmp_path / "cache"
    remote = TokenStream(files, url, cache)
    expected = TokenStream(files, local, tmp_path / "local-cache")
    assert len(remote) == len(expected) and remote.vocab_size == expected.vocab_size
    assert np.array_equal(remote.read(0, len(remote)), expected.read(0, len(expected)))
    a, b = BatchSampler(remote, 16, 4, seed=2), BatchSampler(expected, 16, 4, seed=2)
    assert all(np.array_equal(a.batch_at(n)[0], b.batch_at(n)[0]) for n in range(5))
    # Downloaded once: a second loader maps the cached copies, and the folder URL works like the file.
    cached = {p: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert len(cached) == len(remote.parts) and not any(p.suffix == ".zst" for p in cached)
    again = TokenStream(files, f"s3://{bucket}/out", cache)
    assert {p: p.stat().st_mtime_ns for p in cache.iterdir()} == cached
    assert np.array_equal(again.read(0, len(again)), expected.read(0, len(expected)))


def test_an_s3_manifest_caches_under_the_temp_dir_by_default(bucket, tmp_path, tokenizer_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    tempfile.tempdir = None  # gettempdir() caches its answer: let it read TMPDIR again
    try:
        local = write_shards(tmp_path / "out", tokenizer_path)
        url = upload_folder(local.parent, f"s3://{bucket}/x")
        stream = TokenStream(files, url)
        assert default_cache_dir(f"s3://{bucket}/x").parent == tmp_path / "tmp" / "auralith-shards"
        assert len(list(default_cache_dir(f"s3://{bucket}/x").iterdir())) == len(stream.parts)
    finally:
        tempfile.tempdir = None
    assert default_cache_dir(local.parent) == local.parent / ".cache"


def test_a_missing_s3_manifest_names_the_url(bucket):
    with pytest.raises(InputError, match="no manifest.json"):
        TokenStream(files, f"s3://{bucket}/nothing/manifest.json")


@pytest.mark.parametrize("context", [1, 8, 31, 128])
@pytest.mark.parametrize("val_fraction", [0.0, 0.05, 0.1, 0.33])
@pytest.mark.parametrize("evaluates", [False, True])
def test_min_tokens_to_train_is_exactly_what_the_samplers_need(context, val_fraction, evaluates):
    class Stream:
        def __init__(self, n: int):
            self.n = n

        def __len__(self) -> int:
            return self.n

    def samplers_work(n: int) -> bool:
        try:
            BatchSampler(Stream(n), context, 1, 0, val_fraction=val_fraction)
            if evaluates and val_fraction:
                BatchSampler(Stream(n), context, 1, 0, val_fraction=val_fraction, split="val")
        except InputError:
            return False
        return True

    n = min_tokens_to_train(context, val_fraction, evaluates)
    assert samplers_work(n) and not samplers_work(n - 1)
