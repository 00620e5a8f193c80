"""Reading results: runs (sorted by any field or score), run detail, leaderboard, human scores."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from promptlooper.auth import Principal
from promptlooper.errors import BadRequest
from promptlooper.models import Experiment, Run, RunStatus, Score, StageResult
from promptlooper.schemas import (
    Leaderboard,
    LeaderboardEntry,
    Page,
    RunDetail,
    RunOut,
    ScoreDetail,
    ScoreIn,
    StageResultOut,
)
from promptlooper.services.common import get_or_404

RUN_FIELDS = {
    "weighted_score",
    "created_at",
    "completed_at",
    "duration_ms",
    "tokens_in",
    "tokens_out",
    "cost_estimate",
    "llm_calls",
    "cache_hits",
    "status",
}
FINAL_OK = RunStatus.succeeded()


async def scores_by_run(session: AsyncSession, run_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, float]]:
    """Each run's scores keyed by name (several human ratings average into one)."""
    if not run_ids:
        return {}
    rows = (
        (
            await session.execute(
                select(Score.run_id, Score.scorer_name, func.avg(Score.value))
                .where(Score.run_id.in_(run_ids))
                .group_by(Score.run_id, Score.scorer_name)
            )
        )
        .all()
    )
    out: dict[uuid.UUID, dict[str, float]] = defaultdict(dict)
    for run_id, name, value in rows:
        out[run_id][name] = round(float(value), 6)
    return out


def _sorted(stmt: Select[Any], sort: str) -> Select[Any]:
    descending = sort.startswith("-")
    key = sort.lstrip("-+")
    if key in RUN_FIELDS:
        column: Any = getattr(Run, key)
    else:
        if not key or len(key) > 200:
            raise BadRequest(f"Cannot sort by {key!r}.", code="invalid_sort")
        score = aliased(Score)
        stmt = stmt.outerjoin(score, and_(score.run_id == Run.id, score.scorer_name == key))
        column = score.value
    ordered = column.desc().nulls_last() if descending else column.asc().nulls_last()
    return stmt.order_by(ordered, Run.created_at, Run.id)


async def list_runs(
    session: AsyncSession,
    experiment_id: uuid.UUID,
    sort: str,
    status: str | None,
    sweep_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> Page[RunOut]:
    """Runs of an experiment, sorted by a run field or any score name (`-` for descending)."""
    await get_or_404(session, Experiment, experiment_id, "Experiment")
    base = select(Run).where(Run.experiment_id == experiment_id)
    if status:
        base = base.where(Run.status == status)
    if sweep_id:
        base = base.where(Run.sweep_id == sweep_id)
    total = int(await session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    rows = list((await session.scalars(_sorted(base, sort).limit(limit).offset(offset))).all())
    scores = await scores_by_run(session, [r.id for r in rows])
    items = [RunOut.model_validate(r).model_copy(update={"scores": scores.get(r.id, {})}) for r in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


async def run_detail(session: AsyncSession, run_id: uuid.UUID) -> RunDetail:
    """A run with its stage results and score details."""
    run = await get_or_404(session, Run, run_id, "Run")
    stages = (
        await session.scalars(
            select(StageResult)
            .where(StageResult.run_id == run_id)
            .order_by(StageResult.sample_id, StageResult.stage_index, StageResult.seq)
        )
    ).all()
    score_rows = (await session.scalars(select(Score).where(Score.run_id == run_id).order_by(Score.created_at))).all()
    scores = (await scores_by_run(session, [run_id])).get(run_id, {})
    return RunDetail.model_validate(run).model_copy(
        update={
            "scores": scores,
            "stage_results": [StageResultOut.model_validate(s) for s in stages],
            "score_details": [
                ScoreDetail(
                    name=s.scorer_name, value=s.value, metadata=s.meta, comment=s.comment, created_at=s.created_at
                )
                for s in score_rows
            ],
        }
    )


async def leaderboard(session: AsyncSession, experiment_id: uuid.UUID, limit: int, sort: str) -> Leaderboard:
    """Top configurations: one entry per config (its best run), rejected runs left out."""
    await get_or_404(session, Experiment, experiment_id, "Experiment")
    base = select(Run).where(Run.experiment_id == experiment_id, Run.rejected.is_(False), Run.status.in_(FINAL_OK))
    ordered = _sorted(base, sort if sort.startswith(("-", "+")) else "-" + sort)  # best first unless "+"
    entries: list[LeaderboardEntry] = []
    seen: set[str] = set()
    offset, batch = 0, max(limit * 4, 100)
    while len(entries) < limit:
        rows = list((await session.scalars(ordered.limit(batch).offset(offset))).all())
        if not rows:
            break
        offset += batch
        scores = await scores_by_run(session, [r.id for r in rows])
        for run in rows:
            if run.config_hash in seen:
                continue
            seen.add(run.config_hash)
            entries.append(
                LeaderboardEntry(
                    rank=len(entries) + 1,
                    run_id=run.id,
                    config=run.config,
                    config_hash=run.config_hash,
                    weighted_score=run.weighted_score,
                    scores=scores.get(run.id, {}),
                    tokens_in=run.tokens_in,
                    tokens_out=run.tokens_out,
                    cost_estimate=run.cost_estimate,
                    duration_ms=run.duration_ms,
                    status=run.status,
                )
            )
            if len(entries) >= limit:
                break
    return Leaderboard(items=entries)


async def set_rejected(session: AsyncSession, run_id: uuid.UUID, rejected: bool) -> RunOut:
    """Exclude a run from the leaderboard, or take it back."""
    run = await get_or_404(session, Run, run_id, "Run")
    run.rejected = rejected
    await session.flush()
    scores = (await scores_by_run(session, [run_id])).get(run_id, {})
    return RunOut.model_validate(run).model_copy(update={"scores": scores})


async def add_human_score(session: AsyncSession, principal: Principal, run_id: uuid.UUID, body: ScoreIn) -> RunDetail:
    """Store a human rating (several average) and recompute the run's weighted score."""
    from promptlooper.services.scoring import recompute_weighted

    run = await get_or_404(session, Run, run_id, "Run")
    kind: dict[str, Any]
    if body.value is not None:
        value, kind = body.value, {"value": body.value}
    elif body.rating is not None:
        value, kind = (body.rating - 1) / 4, {"rating": body.rating}
    else:
        value, kind = (1.0 if body.thumbs == "up" else 0.0), {"thumbs": body.thumbs}
    session.add(
        Score(
            run_id=run.id,
            scorer_name="human_rating",
            value=value,
            user_id=principal.user_id,
            comment=body.comment,
            meta=kind | {"rated_by": principal.username},
        )
    )
    await session.flush()
    await recompute_weighted(session, run)
    return await run_detail(session, run_id)
