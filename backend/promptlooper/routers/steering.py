"""Steering and project memory: fork, approve, saved configurations, export history."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from promptlooper.deps import CtxDep, CurrentUser, SessionDep, WriterUser
from promptlooper.routers.common import READ_ONE, WRITE_ONE, Limit, Offset, errors
from promptlooper.schemas import ApproveIn, ExperimentOut, ExportRecordOut, ForkCreate, Page, SavedConfigOut
from promptlooper.services import steering as service

router = APIRouter(tags=["steering"])


@router.post("/experiments/{experiment_id}/fork", status_code=201, response_model=ExperimentOut,
             responses=WRITE_ONE)
async def fork_experiment(
    experiment_id: uuid.UUID, body: ForkCreate, _: WriterUser, session: SessionDep
) -> ExperimentOut:
    """A new draft experiment starting from a run's resolved configuration (default: the best run)."""
    return await service.fork_experiment(session, experiment_id, body)


@router.post("/runs/{run_id}/approve", status_code=201, response_model=SavedConfigOut,
             responses=WRITE_ONE | errors(409))
async def approve_run(
    run_id: uuid.UUID, body: ApproveIn, user: WriterUser, session: SessionDep, ctx: CtxDep
) -> SavedConfigOut:
    """Save a finished run's configuration to its project; exports of the experiment then serve it."""
    return await service.approve_run(session, ctx, user, run_id, body)


@router.get("/projects/{project_id}/configs", response_model=Page[SavedConfigOut], responses=READ_ONE)
async def list_saved_configs(
    project_id: uuid.UUID,
    _: CurrentUser,
    session: SessionDep,
    experiment_id: uuid.UUID | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[SavedConfigOut]:
    """The project's saved (approved) configurations, latest first; optionally of one experiment."""
    return await service.list_saved_configs(session, project_id, experiment_id, limit, offset)


@router.get("/configs/{saved_config_id}", response_model=SavedConfigOut, responses=READ_ONE)
async def get_saved_config(saved_config_id: uuid.UUID, _: CurrentUser, session: SessionDep) -> SavedConfigOut:
    """One saved configuration."""
    return await service.get_saved_config(session, saved_config_id)


@router.get("/projects/{project_id}/exports", response_model=Page[ExportRecordOut], responses=READ_ONE)
async def list_exports(
    project_id: uuid.UUID, _: CurrentUser, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> Page[ExportRecordOut]:
    """Every export served for the project's experiments, newest first."""
    return await service.list_exports(session, project_id, limit, offset)
