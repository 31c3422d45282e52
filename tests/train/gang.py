"""Ranks of a gang in child processes for the distributed tests: rank 0's address goes through a file (the job's
store does that job in a real run), each rank's result comes back as JSON."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from auralith.config.training import TrainingConfig
from auralith.train.distributed import Gang


def file_gang(board: Path, rank: int, world: int, timeout: float = 60.0, decide=None) -> Gang:
    def publish(address: str) -> None:
        board.write_text(address)

    def lookup() -> str | None:
        return board.read_text() if board.exists() else None

    return Gang(
        rank=rank,
        world=world,
        publish=publish,
        lookup=lookup,
        describe_missing=lambda ranks: f"ranks {ranks} never wrote their key",
        rendezvous_timeout_s=timeout,
        collective_timeout_s=timeout,
        decide=decide or (lambda: {}),
    )


def run_rank(cfg: dict, manifest: str, root: str, board: str, rank: int, world: int, out: str) -> None:
    from auralith.storage import Files
    from auralith.train.loop import train

    result = train(
        TrainingConfig.model_validate(cfg), manifest, root, files=Files(), gang=file_gang(Path(board), rank, world)
    )
    Path(out).write_text(json.dumps({"history": result.history, "params_sha256": result.params_sha256}))


def run_gang(cfg: TrainingConfig, manifest: Path, root: Path, world: int, tmp: Path) -> list[dict]:
    """Train `cfg` with `world` ranks, one process each (spawned: a fork would share torch's threads); returns
    each rank's result."""
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp / f"rank{r}.json" for r in range(world)]
    procs = [
        ctx.Process(
            target=run_rank,
            args=(cfg.model_dump(), str(manifest), str(root), str(tmp / "board"), r, world, str(outs[r])),
        )
        for r in range(world)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return [json.loads(o.read_text()) for o in outs]
