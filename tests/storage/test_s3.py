"""The S3 backend against a real S3-compatible server (moto) on loopback: no mocked boto3 calls."""

from __future__ import annotations

import glob
import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from auralith.config.storage import S3Settings
from auralith.errors import ObjectNotFound, StorageError, TransientError
from auralith.storage import Files, StorageConfig, join
from auralith.storage.s3 import glob_regex, s3_client, translate_error

files = Files()  # the environment's settings, which the s3_server fixture points at moto


def test_write_read_list_delete(bucket):
    base = f"s3://{bucket}/data"
    for name in ("a.jsonl", "b.jsonl", "sub/c.jsonl", "sub/deeper/d.jsonl", "e.txt"):
        files.write_bytes_atomic(join(base, name), name.encode())
    assert files.read_bytes(f"{base}/sub/c.jsonl") == b"sub/c.jsonl"
    assert files.exists(f"{base}/a.jsonl") and not files.exists(f"{base}/zz.jsonl")
    assert files.size(f"{base}/e.txt") == 5
    names = lambda pattern: [p.removeprefix(base + "/") for p, _ in files.list_files(pattern)]  # noqa: E731
    assert names(f"{base}/*.jsonl") == ["a.jsonl", "b.jsonl"]
    assert names(f"{base}/**/*.jsonl") == ["a.jsonl", "b.jsonl", "sub/c.jsonl", "sub/deeper/d.jsonl"]
    assert names(f"{base}/sub/*/d.jsonl") == ["sub/deeper/d.jsonl"]
    assert names(f"{base}/[ab].jsonl") == ["a.jsonl", "b.jsonl"]
    assert names(f"{base}/e.txt") == ["e.txt"]  # a plain key is that object
    assert names(base) == ["a.jsonl", "b.jsonl", "e.txt", "sub/c.jsonl", "sub/deeper/d.jsonl"]  # or a folder
    assert files.list_files(f"{base}/nothing*") == []
    files.delete(f"{base}/a.jsonl")
    files.delete(f"{base}/a.jsonl")  # deleting a missing object is fine
    assert not files.exists(f"{base}/a.jsonl")


def test_byte_range_and_random_reads(bucket):
    url = f"s3://{bucket}/blob.bin"
    data = os.urandom(3 << 20)
    files.write_bytes_atomic(url, data)
    with files.open_read(url, 1000, 2_500_000) as fh:
        assert fh.read() == data[1000:2_500_000]
    with files.open_read(url, len(data)) as fh:  # at the end: empty, not an error
        assert fh.read() == b""
    with files.open_random(url) as fh:
        fh.seek(-10, os.SEEK_END)
        assert fh.read() == data[-10:]
        fh.seek(5)
        assert fh.read(7) == data[5:12]


def test_big_writes_use_multipart_and_appear_whole(bucket):
    big_parts = Files(StorageConfig(s3=S3Settings(multipart_threshold_mb=5, multipart_chunk_mb=5)))
    url = f"s3://{bucket}/shard.safetensors"
    data = os.urandom(12 << 20)
    with big_parts.atomic_write(url) as fh:
        fh.write(data)
    head = s3_client().head_object(Bucket=bucket, Key="shard.safetensors")
    assert head["ETag"].strip('"').endswith("-3")  # a multipart object's ETag counts its parts
    assert hashlib.sha256(files.read_bytes(url)).digest() == hashlib.sha256(data).digest()


def test_a_failed_write_leaves_nothing(bucket):
    url = f"s3://{bucket}/half.bin"
    with pytest.raises(RuntimeError), files.atomic_write(url) as fh:
        fh.write(b"x" * 1000)
        raise RuntimeError("killed mid-write")
    assert not files.exists(url)
    assert s3_client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_missing_bucket_and_key_are_clear_and_not_retried(s3_server, bucket):
    with pytest.raises(StorageError, match=r"s3://no-such-bucket-x/k: read failed: no such bucket") as exc:
        files.read_bytes("s3://no-such-bucket-x/k")
    assert not isinstance(exc.value, TransientError)
    with pytest.raises(StorageError, match="no such bucket"):
        files.write_bytes_atomic("s3://no-such-bucket-x/k", b"data")
    with pytest.raises(StorageError, match="no such bucket"):
        files.list_files("s3://no-such-bucket-x/*.jsonl")
    with pytest.raises(ObjectNotFound, match=f"s3://{bucket}/missing.jsonl: no such object") as missing:
        files.read_bytes(f"s3://{bucket}/missing.jsonl")
    assert isinstance(missing.value, FileNotFoundError)  # tasks never retry it; readers report it as unreadable


def test_access_denied_and_throttling_map_to_the_right_errors():
    def client_error(code: str, status: int) -> ClientError:
        return ClientError(
            {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
        )

    denied = translate_error(client_error("AccessDenied", 403), "s3://b/k", "read")
    assert isinstance(denied, StorageError) and str(denied) == "s3://b/k: read failed: access denied"
    assert str(translate_error(client_error("403", 403), "s3://b/k", "stat")) == "s3://b/k: stat failed: access denied"
    assert isinstance(translate_error(client_error("SlowDown", 503), "s3://b/k", "read"), TransientError)
    assert isinstance(translate_error(client_error("InternalError", 500), "s3://b/k", "read"), TransientError)


def test_throttling_is_retried_by_botocore_then_raised_as_transient(s3_server, bucket):
    url = f"s3://{bucket}/t.txt"
    files.write_bytes_atomic(url, b"hello")
    s3_server.throttle_next(3)
    assert files.read_bytes(url) == b"hello"  # botocore's standard retry absorbed three 503 SlowDown
    assert s3_server.throttle.throttled == 3

    two_tries = Files(StorageConfig(s3=S3Settings(max_attempts=2)))
    s3_server.throttle_next(100)
    try:
        with pytest.raises(TransientError, match=f"{url}: read failed after retries: SlowDown"):
            two_tries.read_bytes(url)
        assert s3_server.throttle.throttled == 2  # max_attempts counts the first request
    finally:
        s3_server.throttle_next(0)


def test_a_connection_reset_mid_read_resumes_where_it_stopped(s3_server, bucket):
    url = f"s3://{bucket}/long.bin"
    data = os.urandom(2 << 20)
    files.write_bytes_atomic(url, data)
    s3_server.cut_next(2, after=300_000)
    with files.open_read(url, 1000) as fh:
        assert fh.read() == data[1000:]
    assert s3_server.throttle.cut == 2

    s3_server.cut_next(10, after=1000)
    try:
        with pytest.raises(TransientError, match=f"{url}: read failed"), files.open_read(url) as fh:
            fh.read()
    finally:
        s3_server.cut_next(0, 0)


def test_credentials_never_appear_in_settings_or_errors(s3_server):
    settings = StorageConfig().model_dump_json()
    assert "testing" not in settings and "secret" not in settings.lower()
    with pytest.raises(StorageError) as exc:
        files.read_bytes("s3://no-such-bucket-x/k")
    assert "testing" not in str(exc.value)


def test_glob_regex():
    assert glob_regex("a/**/b.jsonl").match("a/b.jsonl") and glob_regex("a/**/b.jsonl").match("a/x/y/b.jsonl")
    assert not glob_regex("a/*.jsonl").match("a/x/b.jsonl")
    assert glob_regex("a/[!x]?.txt").match("a/yz.txt") and not glob_regex("a/[!x]?.txt").match("a/xz.txt")


def test_unsupported_scheme_is_a_clear_error():
    with pytest.raises(StorageError, match="unsupported URL scheme"):
        files.read_bytes("gs://bucket/x")


def test_output_folder_housekeeping_on_s3(bucket):
    from auralith.pipeline.output import check_output_owner, claim_output, remove_stale_shards

    out = f"s3://{bucket}/out[1]"
    for name in ("part-00000-00000.safetensors", "part-00001-00000.safetensors.zst", "manifest.json", "notes.txt"):
        files.write_bytes_atomic(f"{out}/{name}", b"x")
    assert remove_stale_shards(files, out) == 3
    assert [p for p, _ in files.list_files(glob.escape(out) + "/*")] == [f"{out}/notes.txt"]  # others stay
    claim_output(files, out, "job-a")
    check_output_owner(files, out, "job-a")
    with pytest.raises(Exception, match="now belongs to job job-a"):
        check_output_owner(files, out, "job-b")


def test_checkpoint_pattern_on_s3(bucket):
    """What training checkpoints need: files written whole, a manifest last, committed steps listed, pruned."""
    root = f"s3://{bucket}/ckpt"
    for step in (100, 200, 300):
        step_dir = join(root, f"{step:08d}")
        with files.atomic_write(join(step_dir, "model.safetensors")) as fh:
            fh.write(b"weights-%d" % step)
        if step != 300:  # step 300 "crashed" before its manifest: not committed
            files.write_bytes_atomic(join(step_dir, "manifest.json"), b'{"step": %d}' % step)
    committed = [p for p, _ in files.list_files(f"{root}/*/manifest.json")]
    assert [p.split("/")[-2] for p in committed] == ["00000100", "00000200"]
    assert files.read_bytes(f"{root}/00000200/model.safetensors") == b"weights-200"
    for path, _ in files.list_files(f"{root}/00000100/*"):
        files.delete(path)
    assert [p.split("/")[-2] for p, _ in files.list_files(f"{root}/*/manifest.json")] == ["00000200"]
