"""A real S3-compatible server on loopback for tests: moto's server (werkzeug, threaded) on a free port,
with a switch that makes it answer the next N requests with 503 SlowDown, as S3 does when throttling."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><RequestId>test</RequestId></Error>"
)


class Throttle:
    """WSGI middleware in front of moto: while `left` > 0, a request is answered 503 SlowDown and counted;
    while `cut_left` > 0, a GET's body is cut off after `cut_after` bytes by closing the connection."""

    def __init__(self, app):
        self.app = app
        self.left = 0
        self.skip = 0  # requests let through before the throttling starts
        self.throttled = 0
        self.cut_left = 0
        self.cut_after = 0
        self.cut = 0
        self.requests = 0
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self._lock:
            self.requests += 1
            throttle = self.left > 0 and self.skip == 0
            if self.left > 0 and self.skip > 0:
                self.skip -= 1
            if throttle:
                self.left -= 1
                self.throttled += 1
            cut = not throttle and self.cut_left > 0 and environ["REQUEST_METHOD"] == "GET"
            if cut:
                self.cut_left -= 1
                self.cut += 1
        if cut:
            return self._cut_body(self.app(environ, start_response))
        if not throttle:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)  # drain the body so the connection stays usable
        start_response("503 Slow Down", [("Content-Type", "application/xml"), ("Content-Length", str(len(SLOW_DOWN)))])
        return [SLOW_DOWN]

    def _cut_body(self, chunks):
        body = b"".join(chunks)
        yield body[: self.cut_after]
        raise ConnectionResetError("test server cut the connection")  # werkzeug then drops the socket


@dataclass
class S3Server:
    endpoint: str
    throttle: Throttle
    created: list[str] = field(default_factory=list)

    def throttle_next(self, n: int, after: int = 0) -> None:
        """Answer `n` requests (of anyone) with 503 SlowDown, after letting `after` requests through."""
        with self.throttle._lock:
            self.throttle.left = n
            self.throttle.skip = after
            self.throttle.throttled = 0

    def cut_next(self, n: int, after: int) -> None:
        """Cut the body of the next `n` GETs off after `after` bytes, as a reset connection would."""
        with self.throttle._lock:
            self.throttle.cut_left, self.throttle.cut_after, self.throttle.cut = n, after, 0

    def new_bucket(self) -> str:
        from auralith.storage.s3 import s3_client

        name = f"test-{uuid.uuid4().hex[:12]}"
        s3_client().create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto on 127.0.0.1:<free port>; AWS_* and AURALITH_S3_ENDPOINT_URL point this process at it."""
    # Imported here: every test session loads this module through conftest, few of them need moto.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    throttle = Throttle(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, throttle, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AURALITH_S3_ENDPOINT_URL": endpoint,
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from auralith.storage.s3 import clear_clients

    clear_clients()
    yield S3Server(endpoint, throttle)
    server.shutdown()
    thread.join()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    clear_clients()


@pytest.fixture()
def bucket(s3_server: S3Server) -> str:
    """A new empty bucket on the test server."""
    s3_server.throttle_next(0)
    s3_server.cut_next(0, 0)
    return s3_server.new_bucket()
