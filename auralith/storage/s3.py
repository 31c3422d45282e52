"""S3 and S3-compatible servers (MinIO, Ceph, GCS's XML API, moto) through boto3.

Retries: botocore's own retry (standard or adaptive mode, `max_attempts`) absorbs short throttling and
5xx bursts; what outlives it becomes `TransientError`, which Celery tasks retry with their exponential
backoff. Requests that retrying cannot fix (no such bucket, access denied, bad keys) raise `StorageError`
naming the URL, and a missing key raises `ObjectNotFound` (a FileNotFoundError).

Atomic writes: the bytes are spooled to a local temp file, then uploaded by boto3's managed transfer
(one PUT, or a multipart upload for big files). S3 makes an object visible only when its PUT or its
CompleteMultipartUpload succeeds, so a task killed mid-upload leaves nothing under the final key (at
most an unfinished multipart upload, invisible to readers and removed by the transfer's abort or a
bucket lifecycle rule). Writing to a temporary key and copying would add a server-side copy of every
shard (multipart again above 5 GB) for no extra atomicity.
"""

from __future__ import annotations

import io
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, TypeVar

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from urllib3.exceptions import HTTPError as Urllib3Error

from auralith.config.storage import S3Settings
from auralith.errors import ObjectNotFound, StorageError, TransientError

T = TypeVar("T")
_READ_SIZE = 1 << 20
_SPOOL_BYTES = 8 << 20  # smaller files (drop lists, markers) never touch the local disk
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_THROTTLED = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "TooManyRequests",
    "RequestLimitExceeded",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
}
_PERMANENT = {
    "NoSuchBucket": "no such bucket",
    "AccessDenied": "access denied",
    "403": "access denied",
    "AllAccessDisabled": "access to the bucket is disabled",
    "InvalidAccessKeyId": "the AWS access key id is not known to the server",
    "SignatureDoesNotMatch": "the AWS secret key does not match the access key id",
    "InvalidBucketName": "invalid bucket name",
}
# Errors of a connection that broke while a body was being read: worth a resumed read, then a task retry.
_STREAM_ERRORS = (
    ResponseStreamingError,
    IncompleteReadError,
    ReadTimeoutError,
    BotoConnectionError,
    Urllib3Error,
    ConnectionError,
    TimeoutError,
)
_STREAM_RESUMES = 3
_GLOB_CHARS = re.compile(r"[*?\[]")

_clients: dict[S3Settings, Any] = {}
_clients_lock = threading.Lock()


def split_url(url: str) -> tuple[str, str]:
    """("bucket", "key") of `s3://bucket/key`."""
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url}")
    bucket, _, key = url[5:].partition("/")
    if not bucket:
        raise StorageError(f"{url}: no bucket name")
    return bucket, key


def s3_client(settings: S3Settings | None = None) -> Any:
    """A boto3 S3 client for these settings over the environment (`S3Settings.effective`; default: the
    environment's alone), shared by the process's threads and by every `Files` of equal settings."""
    settings = (settings or S3Settings()).effective()
    with _clients_lock:  # boto3 sessions are not thread-safe while they create clients
        client = _clients.get(settings)
        if client is None:
            # `total_max_attempts` counts the first request, as `storage.s3.max_attempts` does; botocore's
            # `max_attempts` key counts retries only (2 would mean 3 requests).
            config = Config(
                retries={"mode": settings.retry_mode, "total_max_attempts": settings.max_attempts},
                s3={"addressing_style": settings.addressing_style or "auto"},
                connect_timeout=10,
                read_timeout=120,
                max_pool_connections=32,
            )
            session = boto3.session.Session(profile_name=settings.profile)
            client = session.client(
                "s3", endpoint_url=settings.endpoint_url, region_name=settings.region, config=config
            )
            _clients[settings] = client
    return client


def clear_clients() -> None:
    """Forget cached clients (after credentials or endpoint variables change, as in tests)."""
    with _clients_lock:
        _clients.clear()


def translate_error(exc: Exception, url: str, action: str) -> Exception:
    """The Auralith error for a boto3/botocore error on `url` (see the module docstring)."""
    if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, ClientError):
        exc = exc.__context__  # boto3 wraps the upload's ClientError in a message-only error
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _NOT_FOUND or (status == 404 and code not in _PERMANENT):
            return ObjectNotFound(url)
        if code in _THROTTLED or status >= 500 or status == 429:
            return TransientError(f"{url}: {action} failed after retries: {code or status}")
        reason = _PERMANENT.get(code) or f"{code or status}: {err.get('Message', '')}".rstrip(": ")
        return StorageError(f"{url}: {action} failed: {reason}")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return StorageError(
            f"{url}: no usable AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE, or an instance role)"
        )
    if isinstance(exc, _STREAM_ERRORS):
        return TransientError(f"{url}: {action} failed: {type(exc).__name__}: {exc}")
    if isinstance(exc, S3UploadFailedError):
        return TransientError(f"{url}: {action} failed: {exc}")
    return StorageError(f"{url}: {action} failed: {type(exc).__name__}: {exc}")


def _call(url: str, action: str, fn: Callable[..., T], **kwargs: Any) -> T:
    try:
        return fn(**kwargs)
    except (BotoCoreError, ClientError, S3UploadFailedError, *_STREAM_ERRORS) as exc:
        raise translate_error(exc, url, action) from exc


class _ObjectStream(io.RawIOBase):
    """Bytes [start, end) of one object, read by one ranged GET; a connection dropped mid-body is resumed
    from where it stopped (a few times), then raises TransientError."""

    def __init__(self, client: Any, url: str, start: int, end: int | None):
        self._client, self._url = client, url
        self._bucket, self._key = split_url(url)
        self._pos, self._end = start, end
        self._body: Any = None
        self._resumes = 0
        self._open()  # a missing object or bucket is reported on open, as for a local file

    def _open(self) -> None:
        if self._end is not None and self._pos >= self._end:
            self._body = io.BytesIO(b"")
            return
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Key": self._key}
        if self._pos or self._end is not None:
            kwargs["Range"] = f"bytes={self._pos}-{'' if self._end is None else self._end - 1}"
        try:
            self._body = self._client.get_object(**kwargs)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # start at or past the end
                self._body = io.BytesIO(b"")
                return
            raise translate_error(exc, self._url, "read") from exc
        except (BotoCoreError, *_STREAM_ERRORS) as exc:
            raise translate_error(exc, self._url, "read") from exc

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        while True:
            if self._body is None:
                self._open()
            try:
                data = self._body.read(len(buf))
            except _STREAM_ERRORS as exc:
                self._body = None
                self._resumes += 1
                if self._resumes > _STREAM_RESUMES:
                    raise translate_error(exc, self._url, "read") from exc
                continue
            n = len(data)
            buf[:n] = data
            self._pos += n
            return n

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
        super().close()


class _ObjectFile(io.RawIOBase):
    """A seekable view of one object: every read is a ranged GET (wrap it in a BufferedReader)."""

    def __init__(self, client: Any, url: str, size: int):
        self._client, self._url, self._size = client, url, size
        self._bucket, self._key = split_url(url)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buf: Any) -> int:
        n = min(len(buf), self._size - self._pos)
        if n <= 0:
            return 0
        stream = _ObjectStream(self._client, self._url, self._pos, self._pos + n)
        with stream:
            got = 0
            view = memoryview(buf)
            while got < n and (k := stream.readinto(view[got:n])):
                got += k
        self._pos += got
        return got


class S3Storage:
    """The `Storage` interface over S3 with one job's settings (see the module docstring for retries and
    atomicity)."""

    def __init__(self, settings: S3Settings | None = None):
        self.settings = settings or S3Settings()

    def _client(self) -> Any:
        # Resolved over the environment at each request, not once: a process may set AURALITH_S3_* or AWS_*
        # after its `Files` were built (tests start their S3 server after import); clients stay cached.
        return s3_client(self.settings)

    def open_read(self, path: str, start: int = 0, end: int | None = None, buffer_size: int = _READ_SIZE) -> BinaryIO:
        return io.BufferedReader(_ObjectStream(self._client(), path, start, end), buffer_size)

    def open_random(self, path: str) -> BinaryIO:
        return io.BufferedReader(_ObjectFile(self._client(), path, self.size(path)), _READ_SIZE)

    @contextmanager
    def atomic_write(self, path: str) -> Iterator[BinaryIO]:
        bucket, key = split_url(path)
        settings = self.settings
        transfer = TransferConfig(
            multipart_threshold=int(settings.multipart_threshold_mb * 2**20),
            multipart_chunksize=int(settings.multipart_chunk_mb * 2**20),
        )
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as tmp:
            yield tmp  # type: ignore[misc]
            tmp.seek(0)
            _call(path, "upload", self._client().upload_fileobj, Fileobj=tmp, Bucket=bucket, Key=key, Config=transfer)

    def list_files(self, pattern: str) -> list[tuple[str, int]]:
        """Objects matching a glob. A pattern with no glob characters names one object, or else every
        object under it as a folder (`s3://bucket/corpus` reads `corpus/**`)."""
        bucket, key_pattern = split_url(pattern)
        magic = _GLOB_CHARS.search(key_pattern)
        if magic:
            prefix, regex = key_pattern[: magic.start()], glob_regex(key_pattern)
        else:
            if key_pattern and not key_pattern.endswith("/"):
                try:
                    return [(pattern, self.size(pattern))]
                except ObjectNotFound:
                    pass
            prefix, regex = (key_pattern.rstrip("/") + "/" if key_pattern else ""), None
        found = []
        pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in _call(pattern, "list", lambda: list(pages)):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith("/") or (regex is not None and not regex.match(key)):
                    continue  # "folder" marker objects hold no data
                found.append((f"s3://{bucket}/{key}", int(obj["Size"])))
        return sorted(found)

    def exists(self, path: str) -> bool:
        try:
            self.size(path)
        except ObjectNotFound:
            return False
        return True

    def size(self, path: str) -> int:
        bucket, key = split_url(path)
        return int(_call(path, "stat", self._client().head_object, Bucket=bucket, Key=key)["ContentLength"])

    def delete(self, path: str) -> None:
        bucket, key = split_url(path)
        _call(path, "delete", self._client().delete_object, Bucket=bucket, Key=key)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a glob over keys: `*` and `?` stay within one `/` level, `**/` spans levels.

    Hand-written: fnmatch lets `*` cross `/`, and glob.translate is Python 3.13+.
    """
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (close := pattern.find("]", i + 2)) > 0:
            body = pattern[i + 1 : close]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = close + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)
