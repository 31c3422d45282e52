"""The embedded worker process: `python -m auralith.worker.embedded_process BROKER STORE N LOGLEVEL`.

`auralith run` starts it (auralith.worker.embedded) in a session of its own, so the terminal's Ctrl-C reaches
only `auralith run`, which cancels the job and then stops this worker. It is a plain Celery worker with the
prefork pool on the embedded SQLite broker: N child processes, one partition each, every core busy (threads in
one process shared one core's worth of Python). It stops itself when `auralith run` is gone, so a killed run
leaves no worker behind.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import warnings

# kombu's SQLite transport polls its message table (its default of 1 s per poll dominates small jobs): each
# message waits half an interval on average. bench/embedded_poll.py on a 20 MB job: 0.1 s 5.82 s, 0.05 s 5.29 s,
# 0.02 s 5.06 s; an idle worker's polls 3.1%, 5.8% and 12.8% of a core, taken from what its children run.
POLL_INTERVAL_S = 0.05
POLL_ENV = "AURALITH_EMBEDDED_POLL_S"


def _stop_when_orphaned(parent: int) -> None:
    """Warm-stop this worker once the process that started it has gone (its children are re-parented)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="auralith-parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    broker, store, concurrency, loglevel = argv
    from celery.exceptions import SecurityWarning
    from kombu.transport import sqlalchemy as kombu_sqla

    from auralith.worker.app import app, configure
    from auralith.worker.settings import QUEUES
    from auralith.worker.worker_count import WORKER_PROCESSES_KEY

    # The run's own user owns this worker: Celery's advice against running workers as root is not for it.
    warnings.filterwarnings("ignore", category=SecurityWarning)
    configure(broker, store)
    app.conf[WORKER_PROCESSES_KEY] = int(concurrency)  # planning cuts a job for this many processes
    kombu_sqla.Transport.polling_interval = float(os.environ.get(POLL_ENV, POLL_INTERVAL_S))
    _stop_when_orphaned(os.getppid())
    worker = app.Worker(
        pool="prefork",
        concurrency=int(concurrency),
        queues=list(QUEUES),
        loglevel=loglevel,
        hostname=f"embedded-{os.getpid()}@{socket.gethostname()}",
        # No remote control on an SQLite broker: nothing to gossip or synchronise with.
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        quiet=True,
        # Each child takes a message when it is free, not one queued behind a long partition in its pipe.
        optimization="fair",
    )
    worker.start()
    return int(worker.exitcode or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
