"""Experiments: the document CRUD."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Response

from promptlooper.deps import CtxDep, CurrentUser, SessionDep, WriterUser
from promptlooper.routers.common import READ, READ_ONE, WRITE_ONE, Limit, Offset, errors
from promptlooper.schemas import ExperimentCreate, ExperimentOut, ExperimentSummary, ExperimentUpdate, Page
from promptlooper.services import experiments as service

router = APIRouter(prefix="/experiments", tags=["experiments"])

Status = Literal["draft", "running", "paused", "completed"]


@router.get("", response_model=Page[ExperimentSummary], responses=READ)
async def list_experiments(
    _: CurrentUser,
    session: SessionDep,
    project_id: uuid.UUID | None = None,
    status: Status | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ExperimentSummary]:
    """Experiments, newest first; filter by project or status."""
    return await service.list_experiments(session, project_id, status, limit, offset)


@router.post("", status_code=201, response_model=ExperimentOut, responses=WRITE_ONE)
async def create_experiment(body: ExperimentCreate, _: WriterUser, session: SessionDep, ctx: CtxDep) -> ExperimentOut:
    """Create an experiment from the document of CONTRACT.md; every template name is checked now."""
    return await service.create_experiment(session, body, ctx)


@router.get("/{experiment_id}", response_model=ExperimentOut, responses=READ_ONE)
async def get_experiment(experiment_id: uuid.UUID, _: CurrentUser, session: SessionDep) -> ExperimentOut:
    """An experiment's document, status, run count and best score."""
    return await service.get_experiment(session, experiment_id)


@router.put("/{experiment_id}", response_model=ExperimentOut, responses=WRITE_ONE | errors(409))
async def update_experiment(
    experiment_id: uuid.UUID, body: ExperimentUpdate, _: WriterUser, session: SessionDep, ctx: CtxDep
) -> ExperimentOut:
    """Change any part of the document; a new scoring_config re-scores every run in the background.

    A changed parameter_space while a sweep is running or paused is a 409 `sweep_running`: use redirect.
    """
    return await service.update_experiment(session, experiment_id, body, ctx)


@router.delete("/{experiment_id}", status_code=204, response_class=Response, responses=WRITE_ONE | errors(409))
async def delete_experiment(experiment_id: uuid.UUID, _: WriterUser, session: SessionDep) -> Response:
    """Delete an experiment and its runs (not while it runs)."""
    await service.delete_experiment(session, experiment_id)
    return Response(status_code=204)
