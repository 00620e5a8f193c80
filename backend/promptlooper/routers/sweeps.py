"""Sweeps and steering of an experiment; its cache and events."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from promptlooper.deps import CtxDep, CurrentUser, SessionDep, WriterUser
from promptlooper.models import Experiment
from promptlooper.routers.common import READ_ONE, WRITE_ONE, errors
from promptlooper.schemas import (
    CacheInvalidated,
    EventsPage,
    ExperimentOut,
    RedirectIn,
    RedirectOut,
    SweepCreate,
    SweepEstimateIn,
    SweepEstimateOut,
    SweepOut,
)
from promptlooper.services import events as event_service
from promptlooper.services import sweeps as service
from promptlooper.services.cache_store import invalidate
from promptlooper.services.common import get_or_404

router = APIRouter(prefix="/experiments", tags=["sweeps"])
STEER = WRITE_ONE | errors(409)


@router.post("/estimate", response_model=SweepEstimateOut, responses=READ_ONE | errors(400, 422))
async def estimate_sweep(body: SweepEstimateIn, _: CurrentUser, session: SessionDep, ctx: CtxDep) -> SweepEstimateOut:
    """Runs, LLM calls, estimated tokens and cost a sweep of this document would make; nothing is saved."""
    return await service.estimate(session, ctx, body)


@router.post("/{experiment_id}/sweep", status_code=202, response_model=SweepOut, responses=STEER | errors(400, 503))
async def start_sweep(
    experiment_id: uuid.UUID, body: SweepCreate, _: WriterUser, session: SessionDep, ctx: CtxDep
) -> SweepOut:
    """Start a grid or random sweep; answers at once with the sweep id and the number of runs."""
    return await service.start_sweep(session, ctx, experiment_id, body)


@router.post("/{experiment_id}/pause", response_model=ExperimentOut, responses=STEER)
async def pause_sweep(experiment_id: uuid.UUID, _: WriterUser, session: SessionDep, ctx: CtxDep) -> ExperimentOut:
    """Pause: in-flight runs finish, no new run starts."""
    return await service.pause_sweep(session, ctx, experiment_id)


@router.post("/{experiment_id}/resume", response_model=ExperimentOut, responses=STEER | errors(503))
async def resume_sweep(experiment_id: uuid.UUID, _: WriterUser, session: SessionDep, ctx: CtxDep) -> ExperimentOut:
    """Resume with exactly the runs not yet done."""
    return await service.resume_sweep(session, ctx, experiment_id)


@router.post("/{experiment_id}/stop", response_model=ExperimentOut, responses=STEER)
async def stop_sweep(experiment_id: uuid.UUID, _: WriterUser, session: SessionDep, ctx: CtxDep) -> ExperimentOut:
    """Stop the sweep: runs not started are dropped, runs in flight are cancelled; the experiment is completed."""
    return await service.stop_sweep(session, ctx, experiment_id)


@router.post("/{experiment_id}/redirect", response_model=RedirectOut, responses=STEER | errors(400))
async def redirect_sweep(
    experiment_id: uuid.UUID, body: RedirectIn, _: WriterUser, session: SessionDep, ctx: CtxDep
) -> RedirectOut:
    """Change the parameter space of the running or paused sweep: pending runs the new space no longer
    contains are dropped, its new configurations added (never one already evaluated); done runs stay."""
    return await service.redirect_sweep(session, ctx, experiment_id, body)


@router.delete("/{experiment_id}/cache", response_model=CacheInvalidated, responses=WRITE_ONE)
async def invalidate_experiment_cache(
    experiment_id: uuid.UUID, _: WriterUser, session: SessionDep, ctx: CtxDep
) -> CacheInvalidated:
    """Forget the cached responses of every run of the experiment (the next sweep calls again)."""
    await get_or_404(session, Experiment, experiment_id, "Experiment")
    return CacheInvalidated(deleted=await invalidate(session, ctx.runtime.cache_store, experiment_id=experiment_id))


@router.get("/{experiment_id}/events", response_model=EventsPage, responses=READ_ONE)
async def list_events(
    experiment_id: uuid.UUID,
    _: CurrentUser,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="Return events with seq greater than this")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    types: Annotated[list[str] | None, Query(alias="type", description="Only these event types")] = None,
) -> JSONResponse:
    """The live events of an experiment after a sequence number (polling fallback for WebSockets)."""
    return JSONResponse(await event_service.events_page(session, experiment_id, after=after, limit=limit, types=types))
