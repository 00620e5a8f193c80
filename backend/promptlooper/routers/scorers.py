"""Scorers: the catalogue, re-scoring and judge agreement."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from promptlooper.deps import CtxDep, CurrentUser, SessionDep, WriterUser
from promptlooper.engine import scorers
from promptlooper.routers.common import READ_ONE, WRITE_ONE, Limit, Offset, errors
from promptlooper.schemas import Page
from promptlooper.services.scoring import judge_agreement, start_rescore

router = APIRouter(tags=["scorers"])


class ScorerInfo(BaseModel):
    """A scorer the experiment document may name."""

    id: str
    description: str
    admin_only: bool
    manual: bool
    config_schema: dict[str, Any]


class RescoreOut(BaseModel):
    """A started re-scoring."""

    experiment_id: uuid.UUID
    runs: int
    status: str = "rescoring"


class JudgeAgreement(BaseModel):
    """Agreement of each llm_judge scorer with human ratings."""

    experiment_id: str
    human_rated_runs: int
    judges: list[dict[str, Any]]


@router.get("/scorers", response_model=Page[ScorerInfo], responses=errors(401, 422))
async def list_scorers(_: CurrentUser, limit: Limit = 100, offset: Offset = 0) -> Page[ScorerInfo]:
    """Every scorer (built-in and plugins) with the JSON schema of its config."""
    catalogue = [
        ScorerInfo(id=s.id, description=s.description, admin_only=bool(getattr(s, "admin_only", False)),
                   manual=bool(getattr(s, "manual", False)), config_schema=scorers.config_schema(s.id))
        for s in scorers.list_scorers()
    ]
    return Page(items=catalogue[offset : offset + limit], total=len(catalogue), limit=limit, offset=offset)


@router.post("/experiments/{experiment_id}/rescore", status_code=202, response_model=RescoreOut, responses=WRITE_ONE)
async def rescore(experiment_id: uuid.UUID, _: WriterUser, session: SessionDep, ctx: CtxDep) -> RescoreOut:
    """Re-score every finished run from its stored responses (no chat call); progress arrives as events."""
    return RescoreOut(experiment_id=experiment_id, runs=await start_rescore(session, ctx, experiment_id))


@router.get("/experiments/{experiment_id}/judge-agreement", response_model=JudgeAgreement, responses=READ_ONE)
async def get_judge_agreement(experiment_id: uuid.UUID, _: CurrentUser, session: SessionDep) -> JudgeAgreement:
    """Spearman correlation and mean absolute difference of each LLM judge against human ratings."""
    return JudgeAgreement.model_validate(await judge_agreement(session, experiment_id))
