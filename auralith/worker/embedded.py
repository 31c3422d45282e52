"""Run a whole job on this machine with no servers: a SQLite broker and store, and a worker process with one
prefork child per core (auralith.worker.embedded_process)."""

from __future__ import annotations

import _thread
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from auralith.store import migrate
from auralith.worker.app import app, configure
from auralith.worker.supervisor import SupervisorThread

log = logging.getLogger(__name__)

_running: list[subprocess.Popen] = []  # the worker process this process started and has not stopped yet

# How long a stopping worker may take to finish the partitions it runs before it is killed.
SHUTDOWN_TIMEOUT_S = 60.0


def embedded_urls(state_dir: Path) -> tuple[str, str]:
    """(broker, store) URLs under `state_dir`. The broker gets its own file so queue polling and the
    store's writes do not contend for one SQLite lock."""
    state_dir = state_dir.resolve()
    return f"sqla+sqlite:///{state_dir / 'broker.db'}", f"sqlite:///{state_dir / 'auralith.db'}"


def default_workers() -> int:
    """The cores this process may run on: the embedded worker's default number of processes."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextmanager
def embedded_worker(
    state_dir: Path,
    concurrency: int | None = None,
    broker: str | None = None,
    store: str | None = None,
    loglevel: str = "WARNING",
) -> Iterator[tuple[str, str]]:
    """Start a worker process with `concurrency` prefork children (default: one per core) consuming every
    queue, and the supervisor in a thread of this process; yields the (broker, store) URLs.

    Chords complete by counting in the SQLite store (auralith.worker.chords), as on a cluster. Leaving the
    block stops the worker (it finishes the partitions it runs); RuntimeError if it does not stop in time.
    If the worker process dies meanwhile, this process gets a KeyboardInterrupt (the job is cancelled, and a
    resume finishes it).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    default_broker, default_store = embedded_urls(state_dir)
    broker, store = broker or default_broker, store or default_store
    configure(broker, store)  # this process sends (Client, supervisor) to the same broker and store
    migrate.upgrade(store)  # before the worker starts: it writes its heartbeat to the store at once
    logging.getLogger("celery").setLevel(loglevel)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "auralith.worker.embedded_process",
            broker,
            store,
            str(concurrency or default_workers()),
            loglevel,
        ],
        # A session of its own: the terminal's Ctrl-C reaches only this process, which cancels the job first.
        start_new_session=True,
        # Its stdout would mix Celery's "Warm shutdown" into `auralith run --json`; its logs go to stderr.
        stdout=subprocess.DEVNULL,
    )
    _running.append(proc)
    stopping = threading.Event()
    threading.Thread(
        target=_interrupt_if_it_dies, args=(proc, stopping), name="auralith-worker-watch", daemon=True
    ).start()
    # The supervisor in-process, as `celery beat` runs it on a cluster: chord bodies and messages this
    # at-most-once broker loses are sent again.
    supervisor = SupervisorThread(app)
    supervisor.start()
    try:
        yield broker, store
    finally:
        stopping.set()
        supervisor.stop()
        try:
            _stop(proc)
        finally:
            _running.remove(proc)


def embedded_worker_pid() -> int:
    """The process id of the embedded worker running now (its prefork children are its children): what a bench
    measures the CPU time and memory of."""
    return _running[-1].pid


def _interrupt_if_it_dies(proc: subprocess.Popen, stopping: threading.Event) -> None:
    code = proc.wait()
    if not stopping.is_set():
        print(f"the embedded worker process exited (code {code}): stopping", file=sys.stderr, flush=True)
        _thread.interrupt_main()


def _stop(proc: subprocess.Popen) -> None:
    """Warm shutdown (the running partitions finish, queued messages go back to the broker), then a kill."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise RuntimeError(
            f"the embedded worker did not stop within {SHUTDOWN_TIMEOUT_S:.0f} s: a partition was still running; "
            "it was killed, and a resume runs that partition again"
        ) from None
