"""A standalone AppContext with its runtime, for entry points that run outside the API process (stdio)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from promptlooper.config import Settings
from promptlooper.context import AppContext


async def start_runtime(ctx: AppContext, *, resume_interrupted: bool) -> None:
    """What the API lifespan does at start; `resume_interrupted=False` leaves crashed sweeps to the API server."""
    # Without resuming, crashed sweeps are left to the API server, which may be executing them right now.
    from promptlooper.main import _startup

    await _startup(ctx, resume_sweeps=resume_interrupted)


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
        from promptlooper.services.production import stop_runtime

        await stop_runtime(ctx)
