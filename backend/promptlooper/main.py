"""create_app(): lifespan (database, migrations, shared services), routers and error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

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
from promptlooper.heap import freeze_startup_heap
from promptlooper.logsafety import install_log_redaction
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
    proposals,
    reviews,
    runs,
    scorers,
    steering,
    sweep_search,
    sweeps,
    webhooks,
    ws,
)
from promptlooper.routers.common import errors
from promptlooper.schemas import HealthOut, LoginIn
from promptlooper.services import admin as admin_service
from promptlooper.services.endpoints import ensure_default_endpoint
from promptlooper.services.production import start_api_runtime, stop_runtime
from promptlooper.services.sweeps import resume_interrupted

log = logging.getLogger("promptlooper")


class BodySizeLimit:
    """Answer 413 for request bodies over the limit, whether or not they declare a length.

    A body without Content-Length (chunked) is read here first, up to the limit, and replayed to
    the app: raising from inside the app's `receive` would reach FastAPI's body parser, which turns
    any exception into a 400.
    """

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
        if length is None:
            await self._buffered(scope, receive, send)
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

    async def _buffered(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: wait for the disconnect like the server would
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = error_body(f"Request body is larger than {self.max_bytes} bytes.", "payload_too_large")
        await JSONResponse(body, status_code=413)(scope, receive, send)


class _TooLarge(Exception):
    pass


class RejectUnstorableText:
    """Answer 422 for a NUL or invalid UTF-8 in the query string or the path, for every route at once.

    PostgreSQL refuses NUL in text, so such a value (`?sort=%00`) would otherwise reach the database
    as a 500; nothing legitimate needs one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            problem = _unstorable(scope)
            if problem is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                detail = [{"loc": problem, "msg": "NUL characters and invalid UTF-8 are not allowed.",
                           "type": "invalid_characters"}]
                await JSONResponse(error_body(detail, "validation_error"), status_code=422)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _unstorable(scope: Scope) -> list[str] | None:
    path = scope.get("path", "")
    if "\x00" in path or any(0xD800 <= ord(c) <= 0xDFFF for c in path):
        return ["path"]
    raw = scope.get("query_string", b"")
    if not raw:
        return None
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1"):
        for part in (name, value):
            try:
                text = part.encode("latin-1").decode("utf-8")
            except UnicodeError:
                return ["query", _printable(name)]
            if "\x00" in text:
                return ["query", _printable(name)]
    return None


def _printable(name: str) -> str:
    return name.encode("latin-1").decode("utf-8", "replace").replace("\x00", "\\0")[:100]


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
    install_log_redaction()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_log_redaction()  # again: uvicorn configures its loggers after create_app
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
            freeze_startup_heap()
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
                   steering, analysis, reviews, sweep_search, proposals):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(ws.router)

    @app.get("/health", response_model=HealthOut, tags=["health"], responses=errors(503))
    async def health() -> Any:
        """Database, queue and Redis state; 503 naming the failing part."""
        out, healthy = await admin_service.health(app.state.ctx)
        return out if healthy else JSONResponse(out.model_dump() | {"code": "unhealthy"}, status_code=503)

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RejectUnstorableText)
    if settings.cors_origins:
        # "*" means any site may call the API: then never with credentials (cookies, HTTP auth), or any
        # page a user visits could act as that user. Bearer headers still work, they are not credentials here.
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_credentials="*" not in settings.cors_origins,
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
