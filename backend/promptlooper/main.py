"""create_app(): lifespan (database, migrations, shared services), routers and error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from promptlooper import __version__
from promptlooper.config import Settings
from promptlooper.context import AppContext
from promptlooper.dashboard import mount_dashboard
from promptlooper.db import run_migrations, session_scope
from promptlooper.errors import error_body, install_error_handlers
from promptlooper.mcp.http import MCPHttpHandle, start_mcp_http
from promptlooper.routers import (
    admin,
    analysis,
    auth,
    endpoints,
    events,
    experiments,
    exports,
    projects,
    reviews,
    runs,
    scorers,
    sweeps,
    webhooks,
)
from promptlooper.routers.common import errors
from promptlooper.schemas import HealthOut, LoginIn
from promptlooper.services import admin as admin_service
from promptlooper.services.endpoints import ensure_default_endpoint
from promptlooper.services.production import start_api_runtime, stop_runtime
from promptlooper.services.sweeps import resume_interrupted
from promptlooper.websocket.manager import router as ws_router

log = logging.getLogger("promptlooper")


class BodySizeLimit:
    """Answer 413 for request bodies over the limit, whether or not they declare a length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._reject(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = error_body(f"Request body is larger than {self.max_bytes} bytes.", "payload_too_large")
        await JSONResponse(body, status_code=413)(scope, receive, send)


class _TooLarge(Exception):
    pass


def _operation_id(route: APIRoute) -> str:
    return route.name


async def _startup(ctx: AppContext, *, resume_sweeps: bool = True) -> None:
    """Migrate, create the default endpoint, start the runtime and (by default) resume interrupted sweeps."""
    if ctx.settings.auto_migrate:
        await run_migrations(ctx.engine)
    async with session_scope(ctx.sessionmaker) as session:
        await ensure_default_endpoint(session, ctx)
    await start_api_runtime(ctx)
    if not resume_sweeps:
        return
    resumed = await resume_interrupted(ctx)
    if resumed:
        log.info("resuming %d interrupted sweep(s)", len(resumed))


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI application for these settings (default: from the environment)."""
    settings = settings or Settings()
    _ = settings.secrets  # fail fast on bad or missing production secrets

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = AppContext.build(settings)
        app.state.ctx = ctx
        mcp_http: MCPHttpHandle | None = None
        try:
            await _startup(ctx)
            if settings.mcp_enabled:
                try:  # the MCP server shares this process's AppContext, on its own port
                    mcp_http = await start_mcp_http(ctx, allowed_hosts=settings.mcp_allowed_hosts or None,
                                                    allowed_origins=settings.mcp_allowed_origins or None)
                    log.info("MCP server on %s", mcp_http.url)
                except OSError as exc:
                    log.error("MCP server not started on port %s: %s", settings.mcp_port, exc)
            yield
        finally:
            if mcp_http is not None:
                await mcp_http.stop()
            await stop_runtime(ctx)

    app = FastAPI(
        title="PromptLooper", version=__version__, lifespan=lifespan,
        description="Tune LLM pipelines: prompt x model x parameter sweeps, cached, scored and live.",
        generate_unique_id_function=_operation_id,
    )
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1")
    for module in (auth, admin, projects, experiments, sweeps, events, runs, exports, scorers, endpoints, webhooks,
                   analysis, reviews):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(ws_router)

    @app.get("/health", response_model=HealthOut, tags=["health"], responses=errors(503))
    async def health() -> Any:
        """Database, queue and Redis state; 503 naming the failing part."""
        out, healthy = await admin_service.health(app.state.ctx)
        return out if healthy else JSONResponse(out.model_dump() | {"code": "unhealthy"}, status_code=503)

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                           allow_methods=["*"], allow_headers=["*"])
    _install_openapi(app)
    mount_dashboard(app, settings.dashboard_dir)  # last: it answers every path nothing else claims
    return app


def _install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {}).setdefault("schemas", {})["LoginIn"] = LoginIn.model_json_schema()
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
