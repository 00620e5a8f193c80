"""Scorers: the catalogue, re-scoring and judge agreement."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

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


class JudgeStat(BaseModel):
    """One llm_judge scorer against human ratings."""

    name: str
    runs: int = Field(description="runs with both a judge score and a human rating")
    spearman: float | None = Field(description="rank correlation of the run means")
    mean_abs_diff: float | None = Field(description="mean absolute difference of the run means")
    pairs: int = Field(description="paired ratings: rated outputs (vs the judge on that sample) and runs rated whole")
    kappa: float | None = Field(description="Cohen's quadratic-weighted kappa of the pairs on the 1-5 scale")
    bias: float | None = Field(description="mean judge score minus mean human score over the pairs (0-1 scale)")
    warning: bool = Field(description="the judge disagrees with people: kappa under 0.4 with at least 10 pairs")


class JudgeAgreement(BaseModel):
    """Agreement of each llm_judge scorer with human ratings."""

    experiment_id: str
    human_rated_runs: int
    judges: list[JudgeStat]


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
    """Each LLM judge against human ratings: Spearman, weighted kappa, bias and a disagreement warning."""
    return JudgeAgreement.model_validate(await judge_agreement(session, experiment_id))
