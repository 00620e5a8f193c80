"""Runs: listing, detail, ad-hoc execution, human scores, rejection, cache invalidation."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from promptlooper.deps import CtxDep, CurrentUser, SessionDep, WriterUser
from promptlooper.models import Run, RunStatus
from promptlooper.routers.common import READ_ONE, WRITE_ONE, Limit, Offset, errors
from promptlooper.schemas import (
    AdHocRun,
    CacheInvalidated,
    Leaderboard,
    Page,
    PairedDifferenceOut,
    RunDetail,
    RunOut,
    RunUpdate,
    ScoreIn,
)
from promptlooper.services import results as service
from promptlooper.services import runs as run_service
from promptlooper.services.cache_store import invalidate
from promptlooper.services.common import get_or_404
from promptlooper.services.statistics import paired_runs

router = APIRouter(tags=["runs"])
Sort = Annotated[str, Query(max_length=200, description="A run field or a score name; prefix `-` for descending")]


@router.get("/experiments/{experiment_id}/runs", response_model=Page[RunOut], responses=READ_ONE | errors(400))
async def list_runs(
    experiment_id: uuid.UUID,
    _: CurrentUser,
    session: SessionDep,
    sort: Sort = "-weighted_score",
    status: RunStatus | None = None,
    sweep_id: uuid.UUID | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[RunOut]:
    """Runs with their scores, sortable by any field or score, filterable by status or sweep."""
    return await service.list_runs(session, experiment_id, sort, status, sweep_id, limit, offset)


@router.get("/experiments/{experiment_id}/leaderboard", response_model=Leaderboard, responses=READ_ONE | errors(400))
async def get_leaderboard(
    experiment_id: uuid.UUID,
    _: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 10,
    sort: Sort = "weighted_score",
    sweep_id: uuid.UUID | None = None,
    include_pruned: bool = False,
) -> Leaderboard:
    """Top configurations by weighted score (or any score) among runs scored on every sample; rejected runs are
    left out; `sweep_id`: one sweep's; `include_pruned`: add runs stopped early (marked `pruned`)."""
    return await service.leaderboard(session, experiment_id, limit, sort, sweep_id, include_pruned)


@router.get("/runs/{run_id}", response_model=RunDetail, responses=READ_ONE)
async def get_run(run_id: uuid.UUID, _: CurrentUser, session: SessionDep) -> RunDetail:
    """A run with every stage's prompt and response per sample, and score details."""
    return await service.run_detail(session, run_id)


@router.get("/runs/{run_id}/paired-difference/{other_run_id}", response_model=PairedDifferenceOut,
            responses=READ_ONE)
async def get_paired_difference(run_id: uuid.UUID, other_run_id: uuid.UUID, _: CurrentUser,
                                session: SessionDep) -> PairedDifferenceOut:
    """The other run's weighted score minus this run's, per common sample: mean, 95% interval, Wilcoxon p."""
    return await paired_runs(session, run_id, other_run_id)


@router.post("/runs", status_code=201, response_model=RunDetail, responses=WRITE_ONE | errors(400, 409))
async def create_run(body: AdHocRun, _: WriterUser, session: SessionDep, ctx: CtxDep) -> RunDetail:
    """Execute one configuration now (overrides keyed like parameter_space) and answer the finished run."""
    return await run_service.run_adhoc(session, ctx, body)


@router.post("/runs/{run_id}/score", response_model=RunDetail, responses=WRITE_ONE)
async def score_run(run_id: uuid.UUID, body: ScoreIn, user: WriterUser, session: SessionDep) -> RunDetail:
    """Rate a run: `value` 0-1, `rating` 1-5 or `thumbs` up/down, with an optional comment."""
    return await service.add_human_score(session, user, run_id, body)


@router.put("/runs/{run_id}", response_model=RunOut, responses=WRITE_ONE)
async def update_run(run_id: uuid.UUID, body: RunUpdate, _: WriterUser, session: SessionDep) -> RunOut:
    """Reject a run from the leaderboard (or take the rejection back)."""
    return await service.set_rejected(session, run_id, body.rejected)


@router.delete("/runs/{run_id}/cache", response_model=CacheInvalidated, responses=WRITE_ONE)
async def invalidate_run_cache(run_id: uuid.UUID, _: WriterUser, session: SessionDep, ctx: CtxDep) -> CacheInvalidated:
    """Forget the cached responses this run used."""
    await get_or_404(session, Run, run_id, "Run")
    return CacheInvalidated(deleted=await invalidate(session, ctx.runtime.cache_store, run_id=run_id))
