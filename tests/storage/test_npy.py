"""`.npy` helpers on local files and on S3 (moto on loopback): whole writes, headers, one row, scattered rows."""

from __future__ import annotations

import os

import numpy as np
import pytest

from auralith.errors import InputError
from auralith.storage import Files, join, npy
from auralith.storage.npy import load_npy, read_header, read_rows, row_file, save_npy

files = Files()  # the environment's settings, which the s3_server fixture points at moto


@pytest.fixture(params=["local", "s3"])
def where(request, tmp_path) -> str:
    """A folder on each backend (the S3 one on a fresh bucket)."""
    if request.param == "local":
        return str(tmp_path / "npy")
    return f"s3://{request.getfixturevalue('bucket')}/npy"


def array(rows: int = 50, cols: int = 7, dtype=np.uint64) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 2**32, size=(rows, cols)).astype(dtype)


def test_save_then_load_header_and_rows(where, tmp_path):
    a = array()
    path = join(where, "sig.npy")
    save_npy(files, path, a)
    assert np.array_equal(load_npy(files, path), a)
    header = read_header(files, path)
    assert header.shape == (50, 7) and header.dtype == np.uint64 and header.row_bytes == 56
    assert header.offset + a.nbytes == files.size(path)

    rows = np.array([0, 3, 4, 20, 49])
    assert np.array_equal(read_rows(files, path, rows), a[rows])
    assert read_rows(files, path, np.array([], dtype=np.int64)).shape == (0, 7)
    row = row_file(files, path, 5, tmp_path)
    assert np.array_equal(row, a[5]) and not row.flags.writeable


def test_scattered_rows_on_s3_are_read_in_few_ranged_requests(s3_server, bucket, monkeypatch):
    a = array(rows=2000, cols=16)
    path = f"s3://{bucket}/sig.npy"
    save_npy(files, path, a)
    rows = np.array([1, 2, 3, 10, 900, 901, 1999])
    before = s3_server.throttle.requests
    assert np.array_equal(read_rows(files, path, rows), a[rows])
    assert s3_server.throttle.requests - before == 2  # the header, then one run (gaps under 256 kB)

    monkeypatch.setattr(npy, "_GAP", 128)  # 128 B = one row of 16 uint64: only adjacent rows share a read
    before = s3_server.throttle.requests
    assert np.array_equal(read_rows(files, path, rows), a[rows])
    assert s3_server.throttle.requests - before == 1 + 4  # header; 1-3, 10, 900-901, 1999


def test_one_band_row_of_an_s3_object_is_fetched_alone(s3_server, bucket, tmp_path):
    keys = np.sort(array(rows=4, cols=5000), axis=1)
    pos = np.arange(4 * 5000, dtype=np.uint32).reshape(4, 5000)
    save_npy(files, f"s3://{bucket}/k.npy", keys)
    save_npy(files, f"s3://{bucket}/p.npy", pos)
    got_k = row_file(files, f"s3://{bucket}/k.npy", 2, tmp_path)
    got_p = row_file(files, f"s3://{bucket}/p.npy", 3, tmp_path)
    assert np.array_equal(got_k, keys[2]) and np.array_equal(got_p, pos[3]) and got_p.dtype == np.uint32
    # Only the row is on local disk: 5000 x 8 bytes, not the 4 rows of the object.
    assert sorted(os.path.getsize(tmp_path / f) for f in os.listdir(tmp_path)) == [5000 * 4, 5000 * 8]


def test_empty_arrays_and_bad_objects(where, tmp_path):
    path = join(where, "empty.npy")
    save_npy(files, path, np.empty((3, 0), dtype=np.uint64))
    assert row_file(files, path, 1, tmp_path).shape == (0,)
    assert load_npy(files, path).shape == (3, 0)
    bad = join(where, "bad.npy")
    files.write_bytes_atomic(bad, b"not numpy at all")
    with pytest.raises(InputError, match="not a .npy file"):
        read_header(files, bad)


def test_a_missing_object_is_file_not_found(bucket, tmp_path):
    with pytest.raises(FileNotFoundError):
        row_file(files, f"s3://{bucket}/nothing.npy", 0, tmp_path)
    with pytest.raises(FileNotFoundError):
        load_npy(files, str(tmp_path / "nothing.npy"))


def test_a_header_longer_than_the_first_read(where, monkeypatch):
    monkeypatch.setattr(npy, "_HEADER_READ", 16)  # np.save's header is 128 bytes: a second read fetches it
    path = join(where, "a.npy")
    save_npy(files, path, array(rows=3, cols=2))
    assert read_header(files, path).shape == (3, 2) and read_header(files, path).offset == 128
    assert np.array_equal(read_rows(files, path, np.array([2])), array(rows=3, cols=2)[[2]])
