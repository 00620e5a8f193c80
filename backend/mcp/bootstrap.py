"""A standalone AppContext with its runtime, for entry points that run outside the API process (stdio)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from promptlooper.config import Settings
from promptlooper.context import AppContext
from promptlooper.db import run_migrations, session_scope
from promptlooper.queue.inprocess import InProcessQueue
from promptlooper.services.endpoints import ensure_default_endpoint
from promptlooper.services.runtime import Runtime


async def start_runtime(ctx: AppContext, *, resume_interrupted: bool) -> None:
    """What the API lifespan does at start; `resume_interrupted=False` leaves crashed sweeps to the API server."""
    if resume_interrupted:
        from promptlooper.main import _startup

        await _startup(ctx)
        return
    # The same steps as main._startup minus resuming sweeps, which the API process may be executing right now.
    if ctx.settings.auto_migrate:
        await run_migrations(ctx.engine)
    async with session_scope(ctx.sessionmaker) as session:
        await ensure_default_endpoint(session, ctx)
    runtime = Runtime.build(ctx)
    runtime.queue = InProcessQueue(ctx)
    ctx.attach_runtime(runtime)
    await runtime.start()


@asynccontextmanager
async def open_app(settings: Settings | None = None, *, resume_interrupted: bool = False) -> AsyncIterator[AppContext]:
    """An AppContext with a started runtime, closed (events and cache flushed) on exit."""
    settings = settings or Settings()
    _ = settings.secrets  # fail fast on bad or missing production secrets
    ctx = AppContext.build(settings)
    try:
        await start_runtime(ctx, resume_interrupted=resume_interrupted)
        yield ctx
    finally:
        if ctx.has_runtime:
            await ctx.runtime.aclose()
        await ctx.aclose()
