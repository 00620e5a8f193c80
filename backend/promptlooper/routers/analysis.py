"""Analysis of an experiment's runs: parameter importance (Optuna) and the list of its sweeps."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from promptlooper.deps import CurrentUser, SessionDep
from promptlooper.routers.common import READ_ONE
from promptlooper.schemas import ParameterImportance, SweepSummary
from promptlooper.services import importance as service

router = APIRouter(tags=["analysis"])


@router.get("/experiments/{experiment_id}/importance", response_model=ParameterImportance, responses=READ_ONE)
async def get_importance(
    experiment_id: uuid.UUID, _: CurrentUser, session: SessionDep, sweep_id: uuid.UUID | None = None
) -> ParameterImportance:
    """How much each swept key explains `weighted_score` (Optuna's PED-ANOVA over the scored runs)."""
    return await service.parameter_importance(session, experiment_id, sweep_id)


@router.get("/experiments/{experiment_id}/sweeps", response_model=list[SweepSummary], responses=READ_ONE)
async def list_sweeps(experiment_id: uuid.UUID, _: CurrentUser, session: SessionDep) -> list[SweepSummary]:
    """The experiment's sweeps, newest first (`number` counts from the first): pass one's id as `sweep_id`
    to the runs, leaderboard, importance and export routes to see that sweep alone."""
    return await service.list_sweeps(session, experiment_id)
