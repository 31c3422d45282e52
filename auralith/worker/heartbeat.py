"""Each worker's heartbeat in the store: a thread of the worker's main process writes, every
`auralith_heartbeat_interval` seconds, that it is alive and which task ids it holds (received and not finished:
reserved, running, or waiting for a retry's countdown). The supervisor takes a worker silent for
`auralith_heartbeat_timeout` seconds for dead and sends its work again (auralith.worker.supervisor).

A thread, not the worker's event loop: a `--pool=solo` worker (the `hpu` one) runs its task in that loop, and a
database that hangs must not stall the loop either. A worker that stops cleanly removes its row at once.
"""

from __future__ import annotations

import logging
import os
import threading

from celery import bootsteps

from auralith.errors import one_line
from auralith.store import Store

log = logging.getLogger(__name__)


def held_task_ids(consumer) -> list[str]:
    """Ids of the tasks this worker holds: received (reserved or running), or waiting in its timer for a
    countdown (a retry, a throttled unit), which Celery keeps out of its reserved set until due."""
    from celery.worker import state
    from celery.worker.request import Request

    ids = set(state.requests)
    timer = getattr(consumer, "timer", None)
    try:
        for waiting in list(timer.schedule.queue) if timer is not None else ():
            args = getattr(waiting.entry, "args", None) or ()
            if args and isinstance(args[0], Request):
                ids.add(args[0].id)
    except (AttributeError, RuntimeError):  # the timer changed under us: the next beat lists them
        pass
    return sorted(ids)


def pool_kind(consumer) -> str:
    """prefork, threads, solo, ... from the pool's module (celery.concurrency.<kind>)."""
    pool = getattr(consumer, "pool", None)
    return type(pool).__module__.rsplit(".", 1)[-1][:16] if pool is not None else "unknown"


class Heartbeat(bootsteps.StartStopStep):
    """Consumer bootstep: starts the heartbeat thread with the consumer, stops it (and removes the row) with it."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c, **kwargs):
        super().__init__(c, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The store this worker started with: an app reconfigured later in the same process (an embedded worker
        # started beside an in-process one) must not get this worker's beats, nor lose its rows.
        self._store_url: str | None = None

    def start(self, c) -> None:
        if self._thread is not None and self._thread.is_alive():
            return  # the consumer restarts its steps after a broker reconnect: one thread is enough
        self._stop.clear()
        self._store_url = c.app.conf.auralith_store_url
        self._thread = threading.Thread(
            target=self._run, args=(c, self._store_url), name="auralith-heartbeat", daemon=True
        )
        self._thread.start()

    def stop(self, c) -> None:
        pass  # a broker reconnect stops and starts the consumer's steps: the worker is still alive

    def shutdown(self, c) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            Store.for_url(self._store_url or c.app.conf.auralith_store_url).forget_worker(c.hostname, os.getpid())
        except Exception as exc:  # noqa: BLE001  the row goes stale and the supervisor reads it as dead
            log.warning("heartbeat: could not remove %s's row (%s)", c.hostname, one_line(exc))

    def _run(self, c, store_url: str) -> None:
        interval = float(c.app.conf.auralith_heartbeat_interval)
        failing = False
        while not self._stop.is_set():
            try:
                queues = sorted(getattr(c.app.amqp.queues, "consume_from", None) or c.app.amqp.queues)
                Store.for_url(store_url).beat(c.hostname, os.getpid(), queues, held_task_ids(c), pool_kind(c))
                if failing:
                    log.warning("heartbeat: written again for %s", c.hostname)
                failing = False
            except Exception as exc:  # noqa: BLE001  an outage: one line, not a traceback every 10 s
                if not failing:
                    log.warning("heartbeat: cannot reach the store (%s); retrying", one_line(exc))
                failing = True
            self._stop.wait(interval)
