"""Keep the host memory a training step frees for the next step, instead of handing it back to the OS.

glibc's malloc gives big blocks their own `mmap` and hands them back on `free`, and returns the top of the
heap once enough of it is free. A training step on CPU allocates and frees the same activations every
step, so by default each step faults them all in again: on the small GPT of bench/train.py that was
500k-1M page faults and 10-25% of the wall time, varying from run to run with heap layout (the noise that
made a plain loop 3-10% "faster" than the same loop inside Auralith). Setting both thresholds fixes the
layout: blocks up to 32 MiB come from the heap and freed memory stays there (85k faults, and both loops
run at the same speed). PyTorch's CPU tuning guide suggests jemalloc/tcmalloc via LD_PRELOAD for the same
reason; this needs nothing installed. The cost: a training process keeps its peak heap until it exits.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger(__name__)

# mallopt(3) parameters. 32 MiB is the largest mmap threshold glibc accepts on 64-bit machines; setting
# either threshold also turns off glibc's own adjustment of both.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 1024 * 1024 * 1024
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


def retain_freed_memory() -> bool:
    """Tune glibc malloc as above; True when done. Does nothing (False) off glibc, or when the user set
    malloc's own environment variables or GLIBC_TUNABLES, or preloads another allocator."""
    if not sys.platform.startswith("linux"):
        return False
    if (
        any(k in os.environ for k in _USER_SETTINGS)
        or "malloc" in os.environ.get("GLIBC_TUNABLES", "")
        or "alloc" in os.environ.get("LD_PRELOAD", "")
    ):
        log.debug("malloc settings left as the environment chose them")
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library already linked into Python
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    log.debug("malloc tuned to keep freed memory: %s", done)
    return done
