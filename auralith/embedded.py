"""A job run on this machine with no servers: a worker process (one prefork child per core by default) on a
SQLite broker and store, a Client on it, and Ctrl-C that cancels the job so that a resume finishes it.

    with embedded_client(".auralith") as client:
        info = client.wait(client.submit("examples/demo.yaml"))

`auralith run` and `auralith train` both go through `run_to_end`.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from auralith.client import Client, JobInfo
from auralith.errors import AuralithError
from auralith.worker.embedded import embedded_urls, embedded_worker

DEFAULT_STATE_DIR = Path(".auralith")


class JobInterrupted(Exception):
    """Ctrl-C stopped the job: it is cancelled, its committed work is kept and a resume finishes it."""

    def __init__(self, job_id: str):
        super().__init__(f"job {job_id} interrupted and cancelled")
        self.job_id = job_id


@contextmanager
def embedded_client(
    state_dir: str | Path = DEFAULT_STATE_DIR,
    workers: int | None = None,
    broker: str | None = None,
    store: str | None = None,
    loglevel: str = "WARNING",
) -> Iterator[Client]:
    """A Client on a worker of `workers` processes (default: one per core); broker and store live in `state_dir`
    unless given.

    This process's Celery app is pointed at them, so one embedded worker runs per process at a time. Leaving
    the block stops it; RuntimeError if a task does not stop in time.
    """
    with embedded_worker(Path(state_dir), workers, broker, store, loglevel=loglevel) as (broker_url, store_url):
        yield Client(broker_url, store_url)


def check_state_dir(state_dir: str | Path) -> None:
    """AuralithError unless an embedded run kept its store in `state_dir` (before reading it, or resuming there
    instead of creating an empty one)."""
    _, store_url = embedded_urls(Path(state_dir))
    if not Path(store_url.removeprefix("sqlite:///")).exists():
        raise AuralithError(
            f"no embedded store in {state_dir} (`auralith run` keeps one there, in {DEFAULT_STATE_DIR} by default)"
        )


def state_dir_client(state_dir: str | Path = DEFAULT_STATE_DIR) -> Client:
    """A Client on the store an embedded run kept in `state_dir`, to read its jobs (no worker starts)."""
    check_state_dir(state_dir)
    return Client(*embedded_urls(Path(state_dir)))


def watch_to_end(client: Client, job_id: str, watch: Callable[[Client, str], JobInfo] | None = None) -> JobInfo:
    """Wait for the job to end, through `watch` (a progress view; default `client.wait`).

    Ctrl-C cancels the job (its committed work stays) and raises JobInterrupted.
    """
    try:
        with _ctrl_c_never_lost():
            return watch(client, job_id) if watch else client.wait(job_id)
    except KeyboardInterrupt:
        client.cancel(job_id)
        raise JobInterrupted(job_id) from None


def run_to_end(
    start: Callable[[Client], str],
    watch: Callable[[Client, str], JobInfo] | None = None,
    *,
    state_dir: str | Path = DEFAULT_STATE_DIR,
    workers: int | None = None,
    broker: str | None = None,
    store: str | None = None,
    loglevel: str = "WARNING",
    on_end: Callable[[JobInfo], None] | None = None,
) -> JobInfo:
    """Start a job with `start(client)` (submit, train or resume) on an embedded worker and watch it end.

    `on_end` gets the ended job before the worker stops, so what it prints shows while the worker shuts
    down. Ctrl-C cancels the job and raises JobInterrupted.
    """
    with embedded_client(state_dir, workers, broker, store, loglevel) as client:
        info = watch_to_end(client, start(client), watch)
        if on_end is not None:
            on_end(info)
    return info


@contextmanager
def _ctrl_c_never_lost() -> Iterator[None]:
    """Deliver again a Ctrl-C that Python dropped because it landed in a finaliser or weakref callback.

    SQLAlchemy runs such callbacks all the time while a watch polls the store; Python prints "Exception
    ignored in ..." for a KeyboardInterrupt raised there, and the job would go on as if no key was pressed.
    """
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            # A moment later from another thread: sent at once it would land in this hook and be lost. A real
            # signal, so that a main thread asleep between polls wakes up.
            main = threading.main_thread().ident
            threading.Timer(0.01, signal.pthread_kill, (main, signal.SIGINT)).start()
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous
