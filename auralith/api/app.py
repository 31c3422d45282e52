"""The FastAPI app of `auralith serve`: its routers, error answers, and what it holds (the Client, the tokens)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from auralith.api.auth import Caller, TokenBook, viewer
from auralith.api.routers import cluster, dashboard, jobs
from auralith.client import Client
from auralith.errors import AuralithError, ConfigError, JobNotFound, StoreNotReady
from auralith.redact import redact_text

STATIC = Path(__file__).parent / "static"


def _swagger_assets() -> Path:
    """Swagger UI's script and stylesheet as fastapi-offline ships them: /docs works with no network (FastAPI's
    own page loads them from a CDN)."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def create_app(client: Client, tokens: TokenBook, *, poll: float = 1.0) -> FastAPI:
    """The API and dashboard over `client`, for the callers in `tokens`; `poll`: seconds between the event
    stream's reads of the store."""
    app = FastAPI(
        title="Auralith",
        summary="Submit, watch, cancel and resume Auralith jobs; queues and workers.",
        version=_version(),
        # Served below behind a token like the rest: the description of the API is not for anonymous callers.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.client = client
    app.state.tokens = tokens
    app.state.poll = poll
    app.include_router(jobs.router)
    app.include_router(cluster.router)
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=_swagger_assets()), name="swagger")

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_: Annotated[Caller, Depends(viewer)]) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(_: Annotated[Caller, Depends(viewer)]) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Auralith API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon.png",
        )

    @app.exception_handler(ConfigError)
    async def _config_error(_: Request, exc: ConfigError) -> JSONResponse:
        # The same `key.path: message` lines the CLI prints.
        return JSONResponse({"detail": [redact_text(p) for p in exc.problems]}, status_code=422)

    @app.exception_handler(JobNotFound)
    async def _not_found(_: Request, exc: JobNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(StoreNotReady)
    async def _store_down(_: Request, exc: StoreNotReady) -> JSONResponse:
        return JSONResponse({"detail": redact_text(str(exc))}, status_code=503)

    @app.exception_handler(AuralithError)
    async def _refused(_: Request, exc: AuralithError) -> JSONResponse:
        # What the CLI prints as one red line: a job already final, a resume of a succeeded job.
        return JSONResponse({"detail": redact_text(str(exc))}, status_code=409)

    return app


def _version() -> str:
    from importlib.metadata import version

    return version("auralith")
