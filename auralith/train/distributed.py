"""Several ranks from one job, with no external launcher: a gang start through a c10d TCPStore whose address rank 0
publishes through the job's store (callbacks: this module knows no SQL), then DDP over hccl / nccl / gloo.

Rank 0 opens a TCPStore on a free port (or `rendezvous_port`) and publishes `host:port/token` (a fresh token per
formation, so a rank never mistakes a dead formation's store for the current one); every other rank reads that
address, connects, and sets its key. Rank 0 waits for every key up to `rendezvous_timeout_s`; then it says which
ranks are missing (the caller describes them from their rows) and fails cleanly. Once all are there it writes the
`go` key (what to resume from, chosen once for all) and the process group is built on the same store, with
`collective_timeout_s` on every collective: a rank that dies makes the others fail at their next collective
(`GangBroken`, a transient error the caller retries) instead of hanging.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from auralith.errors import AuralithError, TransientError

log = logging.getLogger(__name__)

# A client's connect attempt and a wait for `go` are cut into slices this long, so a rank notices a new address.
_SLICE_S = 2.0


class RendezvousTimeout(AuralithError):
    """Not every rank started within `training.rendezvous_timeout_s`."""


class GangBroken(TransientError):
    """A rank left the gang mid-run (died, or timed out in a collective): the live ranks form the gang again."""


@dataclass
class Gang:
    """This rank's place in a run of `world` ranks, and how it finds rank 0 (callbacks into the job's store)."""

    rank: int
    world: int
    publish: Callable[[str], None]  # rank 0: make `host:port/token` readable by the others
    lookup: Callable[[], str | None]  # the others: rank 0's current address, None before it published
    describe_missing: Callable[[list[int]], str]  # words for ranks that did not start (their rows' states)
    host: str = "127.0.0.1"  # the address the other ranks reach rank 0 at
    port: int = 0
    rendezvous_timeout_s: float = 600.0
    collective_timeout_s: float = 300.0
    # Rank 0: what every rank resumes from, decided once the gang is complete (its `go` payload).
    decide: Callable[[], dict] = field(default=lambda: {})


def form_gang(gang: Gang, backend: str) -> dict:
    """Wait for every rank, then initialise the default process group; returns rank 0's `go` payload."""
    store = _rank0_store(gang) if gang.rank == 0 else _join_rank0(gang)
    dist.init_process_group(
        backend,
        store=dist.PrefixStore("pg", store),
        rank=gang.rank,
        world_size=gang.world,
        timeout=timedelta(seconds=gang.collective_timeout_s),
    )
    return json.loads(store.get("go"))


def leave_gang() -> None:
    """Tear the process group down (a solo worker's next task forms a new one in the same process)."""
    if dist.is_initialized():
        try:
            dist.destroy_process_group()
        except Exception as exc:  # noqa: BLE001  a broken group may fail to close cleanly; it is gone either way
            log.warning("closing the process group: %s", exc)


def _rank0_store(gang: Gang) -> Any:
    timeout = timedelta(seconds=gang.rendezvous_timeout_s)
    server = dist.TCPStore("0.0.0.0", gang.port, None, True, timeout, wait_for_workers=False)
    token = uuid.uuid4().hex[:12]
    store = dist.PrefixStore(token, server)
    gang.publish(f"{gang.host}:{server.port}/{token}")
    log.info("rank 0 of %d: rendezvous at %s:%d", gang.world, gang.host, server.port)
    others = [f"rank/{r}" for r in range(1, gang.world)]
    deadline = time.monotonic() + gang.rendezvous_timeout_s
    while True:
        missing = [r for r, key in enumerate(others, start=1) if not store.check([key])]
        if not missing:
            break
        if time.monotonic() > deadline:
            raise RendezvousTimeout(
                f"rank 0: ranks {', '.join(map(str, missing))} of {gang.world} did not start within "
                f"training.rendezvous_timeout_s ({gang.rendezvous_timeout_s:g} s): {gang.describe_missing(missing)}"
            )
        time.sleep(0.1)
    store.set("go", json.dumps(gang.decide()))
    return store  # it holds the server: the process group built on it keeps it alive


def _join_rank0(gang: Gang) -> Any:
    deadline = time.monotonic() + gang.rendezvous_timeout_s
    address = None
    store = None
    while time.monotonic() < deadline:
        current = gang.lookup()
        if current and current != address:
            address, store = current, None
            host_port, token = current.rsplit("/", 1)
            host, port = host_port.rsplit(":", 1)
            try:
                # A plain connect first: a dead formation's port refuses at once, where TCPStore retries and logs
                # a C++ stack trace per try.
                socket.create_connection((host, int(port)), timeout=_SLICE_S).close()
                client = dist.TCPStore(host, int(port), None, False, timedelta(seconds=_SLICE_S))
            except (RuntimeError, OSError) as exc:  # a dead formation's address: read it again
                log.info("rank %d: rank 0 at %s not reachable (%s)", gang.rank, host_port, exc)
                time.sleep(0.2)
                continue
            store = dist.PrefixStore(token, client)
            store.set(f"rank/{gang.rank}", socket.gethostname())
        if store is not None:
            try:
                store.wait(["go"], timedelta(seconds=_SLICE_S))
                return store
            except (RuntimeError, OSError):
                address = address if gang.lookup() == address else None  # rank 0 moved: join it anew
        else:
            time.sleep(0.2)
    raise RendezvousTimeout(
        f"rank {gang.rank}: rank 0 did not start the run within training.rendezvous_timeout_s "
        f"({gang.rendezvous_timeout_s:g} s): {gang.describe_missing([0])}"
    )


def reachable_address(peer_host: str | None) -> str:
    """This machine's address as a peer at `peer_host` (the store's host: every rank reaches it) sees it: the
    source address of the route there. Loopback when the store is local."""
    if not peer_host or peer_host in ("localhost", "127.0.0.1", "::1"):
        return "127.0.0.1"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((peer_host, 9))  # UDP: nothing is sent, the kernel only picks the route
            return s.getsockname()[0]
    except OSError:
        return socket.gethostbyname(socket.gethostname())


def agree(flag: bool, device: torch.device) -> bool:
    """True on every rank when it is True on any rank (a stop, a refused checkpoint): decided together."""
    if not dist.is_initialized():
        return flag
    t = torch.tensor([int(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_over_ranks(value: torch.Tensor) -> torch.Tensor:
    """The mean of a scalar over every rank (a logged loss: the global batch's)."""
    if not dist.is_initialized():
        return value
    total = value.detach().clone()
    dist.all_reduce(total)
    return total / dist.get_world_size()


def gather_rng(own: list[torch.Tensor | None], device: torch.device) -> list[list[torch.Tensor | None]]:
    """Every rank's RNG states (`own`: this rank's CPU and device states), by rank, for rank 0's checkpoint."""
    if not dist.is_initialized():
        return [own]
    out: list[list[torch.Tensor | None]] = [[] for _ in range(dist.get_world_size())]
    for state in own:
        if state is None:
            for r in out:
                r.append(None)
            continue
        local = state.to(device)
        parts = [torch.empty_like(local) for _ in out]
        dist.all_gather(parts, local)
        for r, part in zip(out, parts, strict=True):
            r.append(part.cpu())
    return out


def is_collective_failure(exc: BaseException) -> bool:
    """Whether `exc` is a collective that failed because a peer went away or timed out."""
    dist_error = getattr(dist, "DistError", ())
    text = str(exc).lower()
    return isinstance(exc, dist_error) or (
        isinstance(exc, RuntimeError)
        and any(w in text for w in ("gloo", "nccl", "hccl", "connection", "timed out", "timeout", "peer"))
    )
