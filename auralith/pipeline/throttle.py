"""Live progress at a bounded rate: what a running unit reports to the store."""

from __future__ import annotations

import time
from collections.abc import Callable

ProgressFn = Callable[[dict], None]


class Throttle:
    """Calls `fn` at most once per `interval` seconds, so live progress costs few SQL writes.

    The first call comes `interval` after creation, not at once: a partition that ends sooner reports nothing
    until its commit (which records its figures), saving a store round trip per short task (bench/suite.py).
    """

    def __init__(self, fn: ProgressFn | None, interval: float = 1.0):
        self.fn, self.interval, self.last = fn, interval, time.monotonic()

    def __call__(self, progress: dict) -> None:
        now = time.monotonic()
        if self.fn and now - self.last >= self.interval:
            self.last = now
            self.fn(progress)
