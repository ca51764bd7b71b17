"""The dashboard's FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import kalbot.web.pages as pages
from kalbot.config import Settings
from kalbot.domain.clock import SystemClock
from kalbot.ports import Clock
from kalbot.web.api import router as api_router
from kalbot.web.db import DatabaseUnavailable, create_read_engine
from kalbot.web.health import ExchangeProbe, ProbeStats, check_health
from kalbot.web.metrics import Metrics
from kalbot.web.models import Health
from kalbot.web.reader import DashboardConfig, Reader
from kalbot.web.security import GuardMiddleware, check_bind

STATIC_DIR = Path(__file__).parent / "static"


def create_app(
    reader: Reader,
    *,
    token: str | None = None,
    probe: ExchangeProbe | None = None,
    host: str = "127.0.0.1",
    dispose_engine: bool = False,
) -> FastAPI:
    """The dashboard over ``reader``.

    ``host`` is where it will listen: anything beyond loopback requires ``token`` (raises
    :class:`kalbot.web.security.TokenRequired`). With a token, every request must carry it
    (``Authorization: Bearer``, ``X-Kalbot-Token``, or ``?token=`` once in a browser).
    """
    check_bind(host, token)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if dispose_engine:
            await reader.engine.dispose()

    app = FastAPI(
        title="kalbot dashboard API",
        version="1",
        description="Read-only view of the bot's database: positions, analyses, performance, "
        "AI costs, refusals, markets, backtests. Money and prices are decimal strings.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load their assets from a CDN: not here
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.reader = reader
    app.state.probe = probe
    app.state.probe_stats = ProbeStats()
    app.state.metrics = Metrics()
    app.add_middleware(GuardMiddleware, token=token)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api_router)
    app.include_router(pages.router)

    @app.exception_handler(DatabaseUnavailable)
    async def _db_down(request: Request, exc: DatabaseUnavailable) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=503)
        return pages.render_error(request, 503, "The database is not answering", str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
            "accept", ""
        ):
            return await http_exception_handler(request, exc)
        return pages.render_error(request, exc.status_code, "Not here", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
            "accept", ""
        ):
            return await request_validation_exception_handler(request, exc)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return pages.render_error(request, 422, "That filter is not valid", problems)

    @app.get("/health", response_model=Health, tags=["operations"], summary="Health check")
    async def health(request: Request) -> JSONResponse:
        """200 when healthy, 503 otherwise; each check says why."""
        result = await check_health(reader, app.state.probe, app.state.probe_stats)
        return JSONResponse(
            result.model_dump(mode="json"), status_code=200 if result.healthy else 503
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        body = await app.state.metrics.render(reader, app.state.probe_stats)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    probe: ExchangeProbe | None = None,
    host: str | None = None,
) -> FastAPI:
    """The dashboard for ``settings``' database, with its own read-only engine."""
    token = settings.web.token.get_secret_value() if settings.web.token else None
    host = host or settings.web.host
    check_bind(host, token)  # before any engine exists
    engine = create_read_engine(settings.database.effective_url())
    reader = Reader(engine, DashboardConfig.from_settings(settings), clock or SystemClock())
    return create_app(reader, token=token, probe=probe, host=host, dispose_engine=True)
