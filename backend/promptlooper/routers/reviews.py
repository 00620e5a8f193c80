"""Ratings per output (run x sample) and the review queue."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from promptlooper.deps import CurrentUser, SessionDep, WriterUser
from promptlooper.routers.common import READ_ONE, WRITE_ONE
from promptlooper.schemas import OutputRatingIn, OutputRatings, ReviewQueue
from promptlooper.services import reviews as service

router = APIRouter(tags=["reviews"])
# No control characters: Postgres refuses NUL in text, and a sample id never holds one.
SampleId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]


@router.get("/runs/{run_id}/ratings", response_model=OutputRatings, responses=READ_ONE)
async def list_ratings(run_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> OutputRatings:
    """Every rating of the run's outputs (yours marked `mine`), and their mean as the run's human score."""
    return await service.list_ratings(session, user, run_id)


@router.put("/runs/{run_id}/samples/{sample_id}/rating", response_model=OutputRatings, responses=WRITE_ONE)
async def rate_output(run_id: uuid.UUID, sample_id: SampleId, body: OutputRatingIn, user: WriterUser,
                      session: SessionDep) -> OutputRatings:
    """Rate one output 1-5; rating it again replaces your earlier rating. The run's human_rating follows."""
    return await service.rate_output(session, user, run_id, sample_id, body)


@router.delete("/runs/{run_id}/samples/{sample_id}/rating", response_model=OutputRatings, responses=WRITE_ONE)
async def clear_rating(run_id: uuid.UUID, sample_id: SampleId, user: WriterUser, session: SessionDep) -> OutputRatings:
    """Take back your rating of one output."""
    return await service.clear_rating(session, user, run_id, sample_id)


@router.get("/experiments/{experiment_id}/review-queue", response_model=ReviewQueue, responses=READ_ONE)
async def review_queue(
    experiment_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    top: Annotated[int, Query(ge=1, le=100, description="How many of the best runs to review")] = 10,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ReviewQueue:
    """The outputs of the top runs you have not rated yet, best run first."""
    return await service.review_queue(session, user, experiment_id, top, limit)
