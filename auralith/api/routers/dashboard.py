"""The dashboard: server-rendered pages (jobs, one job, workers and queues) that update themselves from the API
(the job page from its event stream), and the login that puts a token in an HttpOnly cookie."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from auralith.api.auth import COOKIE, Caller, authenticate
from auralith.api.routers.jobs import ClientDep

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
router = APIRouter(include_in_schema=False)


def _caller(request: Request) -> Caller | None:
    try:
        return authenticate(request)
    except HTTPException:
        return None


def _page(request: Request, name: str, caller: Caller, **context) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"caller": caller, **context})


def _to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/", failed: bool = False) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"next": next, "failed": failed, "caller": None})


@router.post("/login")
def login(request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
    """Check the token and keep it in an HttpOnly, SameSite=Strict cookie (posted, never in a URL or a log)."""
    if request.app.state.tokens.caller(token.strip()) is None:
        return RedirectResponse("/login?failed=1", status_code=303)
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, token.strip(), httponly=True, samesite="strict", secure=request.url.scheme == "https", max_age=86400
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/", response_class=HTMLResponse, response_model=None)
def jobs_page(request: Request, client: ClientDep) -> Response:
    caller = _caller(request)
    if caller is None:
        return _to_login(request)
    return _page(request, "jobs.html", caller, jobs=[j.to_dict() for j in client.list_jobs(50)])


@router.get("/jobs/{job_id}", response_class=HTMLResponse, response_model=None)
def job_page(request: Request, job_id: str, client: ClientDep) -> Response:
    caller = _caller(request)
    if caller is None:
        return _to_login(request)
    return _page(request, "job.html", caller, job=client.job_detail(job_id))


@router.get("/cluster", response_class=HTMLResponse, response_model=None)
def cluster_page(request: Request) -> Response:
    caller = _caller(request)
    if caller is None:
        return _to_login(request)
    return _page(request, "cluster.html", caller)
