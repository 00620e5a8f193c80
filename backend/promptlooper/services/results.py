"""Reading results: runs (sorted by any field or score), run detail, leaderboard, human scores."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import Select, and_, delete, func, select, update
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


def rejected_configs(experiment_id: uuid.UUID) -> Select[Any]:
    """The config hashes of an experiment somebody rejected (any run of it)."""
    return select(Run.config_hash).where(Run.experiment_id == experiment_id, Run.rejected.is_(True)).distinct()


async def _config_totals(
    session: AsyncSession, experiment_id: uuid.UUID, hashes: list[str]
) -> dict[str, tuple[int, int, int, float, float, int, int]]:
    """Per config: finished runs, tokens and cost paid, cost saved, paid calls and cache hits."""
    if not hashes:
        return {}
    rows = (
        await session.execute(
            select(
                Run.config_hash,
                func.count(),
                func.coalesce(func.sum(Run.tokens_in_spent), 0),
                func.coalesce(func.sum(Run.tokens_out_spent), 0),
                func.coalesce(func.sum(Run.cost_spent), 0.0),
                func.coalesce(func.sum(Run.cost_estimate - Run.cost_spent), 0.0),
                func.coalesce(func.sum(Run.llm_calls_paid), 0),
                func.coalesce(func.sum(Run.cache_hits), 0),
            )
            .where(Run.experiment_id == experiment_id, Run.config_hash.in_(hashes), Run.status.in_(FINAL_OK))
            .group_by(Run.config_hash)
        )
    ).all()
    return {
        str(h): (int(n), int(t_in), int(t_out), float(spent), max(float(saved), 0.0), int(calls), int(hits))
        for h, n, t_in, t_out, spent, saved, calls, hits in rows
    }


async def leaderboard(session: AsyncSession, experiment_id: uuid.UUID, limit: int, sort: str,
                      sweep_id: uuid.UUID | None = None) -> Leaderboard:
    """Top configurations: one entry per `config_hash` across the experiment (or one sweep), shown by its best run.

    A rejected configuration (any of its runs rejected) is left out entirely; `runs` counts the
    configuration's finished runs, and the spent/saved figures add up all of them.
    """
    await get_or_404(session, Experiment, experiment_id, "Experiment")
    base = select(Run).where(
        Run.experiment_id == experiment_id,
        Run.rejected.is_(False),
        Run.status.in_(FINAL_OK),
        Run.config_hash.not_in(rejected_configs(experiment_id)),
    )
    if sweep_id is not None:
        base = base.where(Run.sweep_id == sweep_id)
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
                    origin=run.origin,
                )
            )
            if len(entries) >= limit:
                break
    totals = await _config_totals(session, experiment_id, [e.config_hash for e in entries])
    for entry in entries:
        n, t_in, t_out, spent, saved, calls, hits = totals.get(entry.config_hash, (1, 0, 0, 0.0, 0.0, 0, 0))
        entry.runs, entry.tokens_in_spent, entry.tokens_out_spent = n, t_in, t_out
        entry.cost_spent, entry.cost_saved = round(spent, 6), round(saved, 6)
        entry.llm_calls_paid, entry.cache_hits = calls, hits
    return Leaderboard(items=entries)


async def set_rejected(session: AsyncSession, run_id: uuid.UUID, rejected: bool) -> RunOut:
    """Exclude a configuration from the leaderboard and exports, or take it back.

    Every run of the experiment with the run's `config_hash` is flagged (or cleared): a cached twin
    from another sweep is the same configuration.
    """
    run = await get_or_404(session, Run, run_id, "Run")
    await session.execute(
        update(Run)
        .where(Run.experiment_id == run.experiment_id, Run.config_hash == run.config_hash)
        .values(rejected=rejected)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(run)
    scores = (await scores_by_run(session, [run_id])).get(run_id, {})
    return RunOut.model_validate(run).model_copy(update={"scores": scores})


async def add_human_score(session: AsyncSession, principal: Principal, run_id: uuid.UUID, body: ScoreIn) -> RunDetail:
    """Store the caller's human rating of a run (it replaces their earlier one; several users' ratings
    average) and recompute the run's weighted score."""
    from promptlooper.services.scoring import recompute_weighted

    run = await get_or_404(session, Run, run_id, "Run")
    kind: dict[str, Any]
    if body.value is not None:
        value, kind = body.value, {"value": body.value}
    elif body.rating is not None:
        value, kind = (body.rating - 1) / 4, {"rating": body.rating}
    else:
        value, kind = (1.0 if body.thumbs == "up" else 0.0), {"thumbs": body.thumbs}
    mine = Score.user_id == principal.user_id if principal.user_id is not None else Score.user_id.is_(None)
    await session.execute(
        delete(Score)
        .where(Score.run_id == run.id, Score.scorer_name == "human_rating", mine)
        .execution_options(synchronize_session=False)
    )
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
