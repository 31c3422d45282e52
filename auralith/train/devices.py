"""Which accelerator trains, and the few calls that differ between them (the one module that knows).

`auto` tries HPU (`habana_frameworks.torch` importable and a card present), then CUDA, then CPU.
Gaudi runs in lazy mode: ops are queued into a graph that `htcore.mark_step()` compiles and launches,
so the loop calls `mark_step()` after `backward()` and after `optimizer.step()`; on other devices it is
a no-op. Nothing here runs at import time: a Celery worker's parent process must not open a card.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from auralith.errors import AuralithError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DISTRIBUTED_BACKENDS = {"hpu": "hccl", "cuda": "nccl", "cpu": "gloo"}


class DeviceUnavailable(AuralithError):
    """The config asks for a device this machine does not have."""


def _no_op() -> None:
    pass


@dataclass
class Device:
    """A chosen device: where tensors go, how to autocast, and the lazy-mode step marker."""

    kind: str  # "hpu" | "cuda" | "cpu"
    torch_device: torch.device  # this module imports torch only when a device is chosen
    mark_step: Callable[[], None] = field(default=_no_op)
    description: str = ""

    @property
    def distributed_backend(self) -> str:
        """The collective backend for more than one card: `hccl` on Gaudi."""
        return DISTRIBUTED_BACKENDS[self.kind]

    def autocast(self, precision: str) -> AbstractContextManager:
        """bf16 autocast for this device type (`device_type="hpu"` on Gaudi); fp32 runs as is."""
        if precision != "bf16":
            return nullcontext()
        import torch

        return torch.autocast(device_type=self.kind, dtype=torch.bfloat16)

    def memory_bytes(self) -> int | None:
        """Device memory in use by tensors now (HPU and CUDA: their torch modules' allocator stats), or None on
        CPU, where the process's memory is the host's to report."""
        import torch

        if self.kind == "cuda":
            return int(torch.cuda.memory_allocated())
        if self.kind == "hpu":
            import habana_frameworks.torch.hpu as hthpu

            stats = getattr(hthpu, "memory_allocated", None)
            return int(stats()) if stats else None
        return None

    def rng_state(self):
        """The device's RNG state as a uint8 tensor, or None when it has none of its own (CPU)."""
        import torch

        if self.kind == "cuda":
            return torch.cuda.get_rng_state()
        if self.kind == "hpu":
            import habana_frameworks.torch.hpu.random as htrandom

            return htrandom.get_rng_state()
        return None

    def set_rng_state(self, state) -> None:
        import torch

        if state is None:
            return
        if self.kind == "cuda":
            torch.cuda.set_rng_state(state)
        elif self.kind == "hpu":
            import habana_frameworks.torch.hpu.random as htrandom

            htrandom.set_rng_state(state)


def _hpu() -> Device | None:
    # Lazy mode must be chosen before the first import of habana_frameworks.torch: it is read once.
    os.environ.setdefault("PT_HPU_LAZY_MODE", "1")
    try:
        import habana_frameworks.torch.core as htcore
        import habana_frameworks.torch.hpu as hthpu
    except ImportError:
        return None
    if not hthpu.is_available():
        return None
    import torch

    name = hthpu.get_device_name() if hasattr(hthpu, "get_device_name") else "Gaudi"
    lazy = os.environ.get("PT_HPU_LAZY_MODE") == "1"
    # In eager mode (PT_HPU_LAZY_MODE=0) there is no graph to flush: mark_step would only cost time.
    return Device(
        "hpu",
        torch.device("hpu"),
        htcore.mark_step if lazy else _no_op,
        f"hpu ({name}, lazy mode {'on' if lazy else 'off'})",
    )


def _cuda() -> Device | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return Device("cuda", torch.device("cuda"), description=f"cuda ({torch.cuda.get_device_name(0)})")


def _cpu() -> Device:
    import torch

    n = torch.get_num_threads()
    return Device("cpu", torch.device("cpu"), description=f"cpu ({n} thread{'s' if n != 1 else ''})")


def select_device(wanted: str = "auto") -> Device:
    """The device to train on; `auto` prefers HPU, then CUDA, then CPU. Logs the choice."""
    if wanted not in ("auto", "hpu", "cuda", "cpu"):
        raise DeviceUnavailable(f"training.device: unknown device {wanted!r}")
    found: Device | None = None
    if wanted in ("auto", "hpu"):
        found = _hpu()
        if found is None and wanted == "hpu":
            raise DeviceUnavailable(
                "training.device: hpu requested but habana_frameworks.torch is not installed "
                "or no Gaudi card is visible (see docs/training.md#hpu)"
            )
    if found is None and wanted in ("auto", "cuda"):
        found = _cuda()
        if found is None and wanted == "cuda":
            raise DeviceUnavailable("training.device: cuda requested but torch sees no CUDA device")
    found = found or _cpu()
    log.info("training on %s", found.description)
    return found
