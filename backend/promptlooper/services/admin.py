"""System-wide statistics and health."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper import __version__
from promptlooper.context import AppContext
from promptlooper.db import ping
from promptlooper.models import Experiment, Project, ResponseCache, Run, StageResult, User
from promptlooper.schemas import HealthOut, StatsOut


async def _count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def stats(session: AsyncSession) -> StatsOut:
    """Totals, runs by status and cache statistics (hits, hit rate, tokens and cost saved)."""
    by_status = dict((await session.execute(select(Run.status, func.count()).group_by(Run.status))).all())
    calls, hits, tokens_saved, cost_saved = (
        await session.execute(
            select(
                func.count(StageResult.id),
                func.coalesce(func.sum(case((StageResult.cached, 1), else_=0)), 0),
                func.coalesce(func.sum(StageResult.tokens_in + StageResult.tokens_out).filter(StageResult.cached), 0),
                func.coalesce(func.sum(StageResult.cost).filter(StageResult.cached), 0.0),
            )
        )
    ).one()
    paid_calls, tokens_spent, cost_spent = (
        await session.execute(
            select(
                func.coalesce(func.sum(Run.llm_calls_paid), 0),
                func.coalesce(func.sum(Run.tokens_in_spent + Run.tokens_out_spent), 0),
                func.coalesce(func.sum(Run.cost_spent), 0.0),
            )
        )
    ).one()
    return StatsOut(
        users=await _count(session, User),
        projects=await _count(session, Project),
        experiments=await _count(session, Experiment),
        runs=sum(by_status.values()),
        runs_by_status={str(k): int(v) for k, v in by_status.items()},
        llm_calls=int(paid_calls),
        cache={
            "entries": await _count(session, ResponseCache),
            "hits": int(hits),
            "misses": int(calls) - int(hits),
            "hit_rate": round(int(hits) / int(calls), 4) if calls else 0.0,
            "tokens_saved": int(tokens_saved),
            "cost_saved": float(cost_saved),
        },
        tokens_spent=int(tokens_spent),
        cost_spent=round(float(cost_spent), 6),
        tokens_saved=int(tokens_saved),
        cost_saved=round(float(cost_saved), 6),
    )


async def health(ctx: AppContext) -> tuple[HealthOut, bool]:
    """Health of the database, queue and Redis; the flag is False when a part is down."""
    database = "ok"
    try:
        await ping(ctx.engine)
    except Exception as exc:
        database = f"error: {type(exc).__name__}"
    redis_state, queue_state = "disabled", "in-process"
    checker = ctx.health_checks
    if checker is not None:
        redis_state, queue_state = await checker()
    healthy = all(part in ("ok", "disabled", "in-process") for part in (database, redis_state, queue_state))
    out = HealthOut(
        status="ok" if healthy else "degraded",
        database=database,
        queue=queue_state,
        redis=redis_state,
        version=__version__,
    )
    return out, healthy
