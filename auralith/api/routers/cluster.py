"""The cluster: `/api/queues`, `/api/workers`, and the probes `/healthz` (the process answers) and `/readyz`
(the broker and the store answer)."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from auralith.api.auth import Caller, viewer
from auralith.api.routers.jobs import ClientDep

router = APIRouter(tags=["cluster"])


@router.get("/api/queues")
def queues(client: ClientDep, _: Annotated[Caller, Depends(viewer)]) -> dict:
    """Messages waiting per queue, per priority band on Redis (`auralith queues`), and unacknowledged ones."""
    found = client.queue_depths()
    return found.to_dict()


@router.get("/api/workers")
def workers(client: ClientDep, _: Annotated[Caller, Depends(viewer)]) -> dict:
    """Every worker (`auralith workers`): alive or dead by heartbeat, its queues, active tasks, peak memory."""
    return {"workers": [w.to_dict() for w in client.list_workers()], "heartbeat_timeout_s": client.heartbeat_timeout}


@router.get("/healthz", tags=["probes"])
def healthz() -> dict:
    """The process answers (no token needed: the one anonymous endpoint)."""
    return {"ok": True}


@router.get("/readyz", tags=["probes"], responses={503: {"description": "the broker or the store is unreachable"}})
async def readyz(client: ClientDep, _: Annotated[Caller, Depends(viewer)]) -> JSONResponse:
    """The broker and the store answer: 200, else 503 naming which does not."""
    problems = await anyio.to_thread.run_sync(client.check_ready)
    ok = not any(problems.values())
    return JSONResponse({"ok": ok, **{k: v or "ok" for k, v in problems.items()}}, status_code=200 if ok else 503)
