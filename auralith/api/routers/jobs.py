"""`/api/jobs`: submit (YAML or JSON), list, read, cancel, resume, the live event stream, the report."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sse_starlette.sse import EventSourceResponse

from auralith.api.auth import Caller, operator, viewer
from auralith.client import Client, JobInfo
from auralith.config import JobConfig, format_validation_error, parse_config
from auralith.config.load import parse_config_text
from auralith.errors import ConfigError
from auralith.observe.webhook_hosts import check_webhook
from auralith.sources.roots import check_job_paths, check_source_patterns, server_roots

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

Priority = Literal["low", "normal", "high", "critical"]
JobState = Literal["pending", "running", "succeeded", "failed", "cancelled"]


class SubmitRequest(BaseModel):
    """A job: its config as a mapping or as YAML text, and optionally a priority over the config's."""

    config: dict[str, Any] | str = Field(description="The job config (docs/config.md): a mapping, or YAML text.")
    priority: Priority | None = None


class Submitted(BaseModel):
    id: str
    name: str
    priority: str


class JobRow(BaseModel):
    id: str
    name: str
    state: str
    priority: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: str | None
    output: str | None


class JobPage(BaseModel):
    jobs: list[JobRow]
    limit: int
    offset: int


def client_of(request: Request) -> Client:
    return request.app.state.client


ClientDep = Annotated[Client, Depends(client_of)]


def _row(j: JobInfo) -> JobRow:
    d = j.to_dict()
    return JobRow(**{k: d[k] for k in JobRow.model_fields})


def accept_config(data: dict | str) -> JobConfig:
    """The submitted config, validated and checked against this server's rules before a job is recorded: paths
    inside its allowed roots (never the config's own folder: relative paths resolve against the server's
    working directory), webhooks to allowed hosts. ConfigError (422) otherwise."""
    base = os.getcwd()
    if isinstance(data, str):
        cfg = parse_config_text(data, "request", base_dir=base)
    else:
        cfg = parse_config({k: v for k, v in data.items() if k != "base_dir"}, "request", base_dir=base)
    env = {**os.environ, "AURALITH_ALLOWED_ROOTS": os.pathsep.join(server_roots())}
    problems: list[str] = []
    for check in (check_job_paths, check_source_patterns):
        try:
            check(cfg, env)
        except ConfigError as exc:
            problems += exc.problems
    if cfg.events.webhook:
        try:
            check_webhook(cfg.events.webhook.url)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems, "request")
    return cfg


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Submitted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": SubmitRequest.model_json_schema()},
                "application/yaml": {"schema": {"type": "string", "description": "The job config as YAML."}},
            },
        }
    },
)
async def submit_job(
    request: Request,
    client: ClientDep,
    caller: Annotated[Caller, Depends(operator)],
    priority: Annotated[Priority | None, Query(description="Overrides the body's and the config's.")] = None,
) -> Submitted:
    """Submit a job: JSON `{"config": {...} | "YAML", "priority": ...}`, or the YAML itself with
    `Content-Type: application/yaml`. A config error answers 422 with one `key.path: message` line each, as
    does a path outside the server's allowed roots or a webhook to a host it does not allow."""
    raw = await request.body()
    data: dict | str
    if "json" in request.headers.get("content-type", ""):
        try:
            body = SubmitRequest.model_validate_json(raw)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc), "request") from None
        data, priority = body.config, priority or body.priority
    else:
        data = raw.decode("utf-8", errors="replace")
    cfg = await anyio.to_thread.run_sync(accept_config, data)
    wait = request.app.state.tokens.take_submit(caller)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"token {caller.name!r} has submitted its {request.app.state.tokens.submit_limits[caller.name]} jobs "
            "of this hour",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    job_id = await anyio.to_thread.run_sync(lambda: client.submit(cfg, priority=priority))
    return Submitted(id=job_id, name=cfg.name, priority=priority or cfg.priority)


@router.get("", response_model=JobPage)
def list_jobs(
    client: ClientDep,
    _: Annotated[Caller, Depends(viewer)],
    state: JobState | None = None,
    name: Annotated[str | None, Query(description="Jobs whose name contains this.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JobPage:
    """Jobs, newest first."""
    found = client.list_jobs(limit, state, offset=offset, name=name)
    return JobPage(jobs=[_row(j) for j in found], limit=limit, offset=offset)


@router.get("/{job_id}")
def get_job(job_id: str, client: ClientDep, _: Annotated[Caller, Depends(viewer)]) -> dict:
    """A job (its id may be a unique prefix): state, stages with progress and ETA, figures (documents, tokens,
    removals by reason, input issues, PII), training, heals, units stuck on silent workers, config (masked)."""
    from auralith.observe.heals import summarize_heals

    detail = client.job_detail(job_id)
    detail["heals"] = summarize_heals(client.heals(detail["id"])).to_dict()
    detail["stuck"] = client.stuck_partitions(detail["id"]) if detail["state"] == "running" else []
    return detail


@router.post("/{job_id}/cancel")
def cancel_job(
    job_id: str,
    client: ClientDep,
    _: Annotated[Caller, Depends(operator)],
    terminate: bool = False,
) -> dict:
    """Revoke the job's queued tasks and mark it cancelled; committed outputs stay. 409 if it already ended."""
    full = client.get_job(job_id, with_stats=False).id
    revoked = client.cancel(full, terminate=terminate)
    return {"id": full, "state": "cancelled", "revoked": revoked}


@router.post("/{job_id}/resume")
def resume_job(job_id: str, client: ClientDep, _: Annotated[Caller, Depends(operator)]) -> dict:
    """Send again everything of the job that is not committed. 409 for a job that succeeded."""
    full = client.resume(job_id)
    return {"id": full, "state": "running"}


@router.get("/{job_id}/events", response_class=EventSourceResponse)
async def job_events(
    job_id: str,
    request: Request,
    client: ClientDep,
    _: Annotated[Caller, Depends(viewer)],
    history: Annotated[int, Query(ge=0, le=5000)] = 200,
) -> EventSourceResponse:
    """Server-Sent Events until the job ends: `event` (a log line), `snapshot` (the job as `GET /api/jobs/{id}`
    minus config, whenever it changed), `metrics` (new training steps), then `end`."""
    full = (await anyio.to_thread.run_sync(lambda: client.get_job(job_id, with_stats=False))).id
    poll: float = request.app.state.poll

    async def stream() -> AsyncIterator[dict]:
        updates = client.follow(full, poll, pauses=True)  # paced here: a closed page stops the polling
        while True:
            item = await anyio.to_thread.run_sync(_next_of, updates)
            if item is None:
                return
            if item.kind == "pause":
                if await request.is_disconnected():
                    return
                await anyio.sleep(poll)
                continue
            message = {"event": item.kind, "data": json.dumps(item.data)}
            if item.kind == "event":
                message["id"] = str(item.data["id"])
            yield message

    return EventSourceResponse(stream(), ping=15)


def _next_of(updates):
    """The next update, a pause marker where the generator would sleep, None at its end."""
    try:
        return next(updates)
    except StopIteration:
        return None


@router.get("/{job_id}/report", response_model=None)
def job_report(
    job_id: str,
    client: ClientDep,
    _: Annotated[Caller, Depends(viewer)],
    format: Literal["json", "html"] = "json",
) -> JSONResponse | HTMLResponse:
    """The dataset report (`auralith report`): the merged profile as JSON, or the report page with its plots
    inlined (`?format=html`)."""
    profile = client.profile(job_id)
    if format == "json":
        return JSONResponse(profile)
    from auralith.report.html import render_html
    from auralith.report.plots import draw_all

    with tempfile.TemporaryDirectory(prefix="auralith-report-") as tmp:
        plots = draw_all(profile, Path(tmp))
        inline = {
            t: "data:image/png;base64," + base64.b64encode((Path(tmp) / n).read_bytes()).decode()
            for t, n in plots.items()
        }
    return HTMLResponse(render_html({**profile, "plots": plots}, inline))


@router.get("/{job_id}/clusters")
def job_clusters(
    job_id: str, client: ClientDep, _: Annotated[Caller, Depends(viewer)], top: Annotated[int, Query(ge=0, le=100)] = 10
) -> dict:
    """Near-duplicate clusters (`auralith dedup-report`): sizes, and the biggest with example ids. 409 when the
    job ran without near dedup or has not finished it."""
    from auralith.report.clusters import dedup_report

    info = client.get_job(job_id, with_stats=False)
    return dedup_report(info.id, info.config, client.partitions(info.id), top)
