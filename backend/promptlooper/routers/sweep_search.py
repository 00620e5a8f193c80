"""Agent-driven search over a sweep: read it, ask its sampler, add configurations (logic: services/guided_search)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from promptlooper.deps import CtxDep, CurrentUser, SessionDep, WriterUser
from promptlooper.routers.common import READ_ONE, WRITE_ONE, errors
from promptlooper.schemas import SuggestionsOut, SweepConfigsAdd, SweepConfigsAdded, SweepDetail
from promptlooper.services import guided_search as service

router = APIRouter(prefix="/sweeps", tags=["sweeps"])


@router.get("/{sweep_id}", response_model=SweepDetail, responses=READ_ONE)
async def get_sweep(sweep_id: uuid.UUID, _: CurrentUser, session: SessionDep) -> SweepDetail:
    """The sweep with its progress counts (completed, failed, cached, pending, running) and best score."""
    return await service.get_sweep(session, sweep_id)


@router.get("/{sweep_id}/suggestions", response_model=SuggestionsOut, responses=READ_ONE | errors(400, 409))
async def suggest_configs(
    sweep_id: uuid.UUID, _: CurrentUser, session: SessionDep, ctx: CtxDep,
    n: Annotated[int, Query(ge=1, le=service.MAX_SUGGESTIONS, description="how many suggestions")] = 4,
) -> SuggestionsOut:
    """What a guided sweep's sampler would try next, as parameter_space overrides; nothing starts."""
    return await service.suggest(session, ctx, sweep_id, n)


@router.post("/{sweep_id}/runs", status_code=201, response_model=SweepConfigsAdded, responses=WRITE_ONE | errors(409))
async def add_sweep_configs(sweep_id: uuid.UUID, body: SweepConfigsAdd, _: WriterUser, session: SessionDep,
                            ctx: CtxDep) -> SweepConfigsAdded:
    """Add configurations to a running guided sweep; they count against max_runs and run like its own."""
    return await service.add_configs(session, ctx, sweep_id, body)
