"""Ratings per output (run x sample): one editable rating per person, the run's human score as their
mean, and the review queue of unrated outputs of the top configurations."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.auth import Principal
from promptlooper.errors import NotFound
from promptlooper.models import Experiment, OutputRating, Run, Score, StageResult
from promptlooper.schemas import OutputRatingIn, OutputRatingOut, OutputRatings, ReviewItem, ReviewQueue
from promptlooper.services.common import get_or_404

SOURCE = "outputs"  # Score.meta["source"] of the human_rating row kept in step with the output ratings


def _out(row: OutputRating, principal: Principal) -> OutputRatingOut:
    return OutputRatingOut(run_id=row.run_id, sample_id=row.sample_id, rating=row.rating, rater=row.rater,
                           comment=row.comment, updated_at=row.updated_at, mine=row.rater == principal.username)


async def _sample_ids(session: AsyncSession, run_id: uuid.UUID) -> set[str]:
    rows = await session.execute(select(StageResult.sample_id).where(StageResult.run_id == run_id).distinct())
    return {r for (r,) in rows.all()}


async def _sync_human_score(session: AsyncSession, run: Run) -> None:
    """One `human_rating` score per run, the mean of its output ratings on 0-1 (none: removed)."""
    from promptlooper.services.scoring import recompute_weighted

    ratings = [r for (r,) in (
        await session.execute(select(OutputRating.rating).where(OutputRating.run_id == run.id))
    ).all()]
    old = (await session.execute(
        select(Score).where(Score.run_id == run.id, Score.scorer_name == "human_rating")
    )).scalars()
    stale = [s.id for s in old if (s.meta or {}).get("source") == SOURCE]
    if stale:
        await session.execute(delete(Score).where(Score.id.in_(stale)))
    if ratings:
        mean = sum(ratings) / len(ratings)
        session.add(Score(run_id=run.id, scorer_name="human_rating", value=round((mean - 1) / 4, 6),
                          meta={"source": SOURCE, "ratings": len(ratings), "mean_rating": round(mean, 4)}))
    await session.flush()
    await recompute_weighted(session, run)


async def list_ratings(session: AsyncSession, principal: Principal, run_id: uuid.UUID) -> OutputRatings:
    """Every output rating of a run, and their mean as the run's human score."""
    await get_or_404(session, Run, run_id, "Run")
    rows = (await session.execute(
        select(OutputRating).where(OutputRating.run_id == run_id).order_by(OutputRating.sample_id, OutputRating.rater)
    )).scalars().all()
    human = round((sum(r.rating for r in rows) / len(rows) - 1) / 4, 6) if rows else None
    return OutputRatings(items=[_out(r, principal) for r in rows], human_score=human, count=len(rows))


async def rate_output(session: AsyncSession, principal: Principal, run_id: uuid.UUID, sample_id: str,
                      body: OutputRatingIn) -> OutputRatings:
    """Rate one output of a run (replacing this person's earlier rating of it)."""
    run = await get_or_404(session, Run, run_id, "Run")
    if sample_id not in await _sample_ids(session, run_id):
        raise NotFound(f"Run {run_id} has no output for sample `{sample_id}`")
    row = (await session.execute(select(OutputRating).where(
        OutputRating.run_id == run_id, OutputRating.sample_id == sample_id, OutputRating.rater == principal.username
    ))).scalar_one_or_none()
    if row is None:
        session.add(OutputRating(run_id=run_id, sample_id=sample_id, rater=principal.username,
                                 user_id=principal.user_id, rating=body.rating, comment=body.comment))
    else:
        row.rating = body.rating
        row.comment = body.comment
    await session.flush()
    await _sync_human_score(session, run)
    return await list_ratings(session, principal, run_id)


async def clear_rating(session: AsyncSession, principal: Principal, run_id: uuid.UUID, sample_id: str) -> OutputRatings:
    """Take back this person's rating of one output."""
    run = await get_or_404(session, Run, run_id, "Run")
    await session.execute(delete(OutputRating).where(
        OutputRating.run_id == run_id, OutputRating.sample_id == sample_id, OutputRating.rater == principal.username
    ))
    await session.flush()
    await _sync_human_score(session, run)
    return await list_ratings(session, principal, run_id)


async def review_queue(session: AsyncSession, principal: Principal, experiment_id: uuid.UUID,
                       top: int, limit: int) -> ReviewQueue:
    """Outputs of the `top` best runs (not rejected) that this person has not rated, best run first."""
    experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
    runs = (await session.execute(
        select(Run.id, Run.weighted_score)
        .where(Run.experiment_id == experiment_id, Run.status.in_(("completed", "cached", "failed")),
               Run.rejected.is_(False))
        .order_by(Run.weighted_score.desc().nulls_last(), Run.created_at)
        .limit(top)
    )).all()
    run_ids = [r for r, _ in runs]
    if not run_ids:
        return ReviewQueue(items=[], total_unrated=0, runs=0)
    rated = {(r, s) for r, s in (await session.execute(
        select(OutputRating.run_id, OutputRating.sample_id)
        .where(OutputRating.run_id.in_(run_ids), OutputRating.rater == principal.username)
    )).all()}
    # The final stage's answer per (run, sample): the output a person judges.
    finals: dict[tuple[uuid.UUID, str], tuple[int, str | None, str | None]] = {}
    for run_id, sample_id, stage_index, response, error in (await session.execute(
        select(StageResult.run_id, StageResult.sample_id, StageResult.stage_index, StageResult.response_raw,
               StageResult.error).where(StageResult.run_id.in_(run_ids))
    )).all():
        key = (run_id, sample_id)
        if key not in finals or stage_index >= finals[key][0]:
            finals[key] = (stage_index, response, error)
    inputs: dict[str, str] = {str(s.get("id")): str(s.get("input", "")) for s in experiment.sample_data
                              if isinstance(s, dict)}
    order = {sid: i for i, sid in enumerate(inputs)}
    items: list[ReviewItem] = []
    for rank, (run_id, score) in enumerate(runs, start=1):
        samples = sorted((s for (r, s) in finals if r == run_id), key=lambda s: (order.get(s, len(order)), s))
        for sample_id in samples:
            if (run_id, sample_id) in rated:
                continue
            _, response, error = finals[(run_id, sample_id)]
            items.append(ReviewItem(run_id=run_id, sample_id=sample_id, rank=rank, weighted_score=score,
                                    input=inputs.get(sample_id, ""), output=response, error=error))
    return ReviewQueue(items=items[:limit], total_unrated=len(items), runs=len(run_ids))


