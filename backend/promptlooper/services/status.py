"""An experiment's status: progress of its latest sweep, the best run, the ETA and the suggested next call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.models import Run, RunStatus, Sweep
from promptlooper.services import experiments as experiment_service
from promptlooper.services import results as results_service
from promptlooper.services import sweep_policy

DONE = RunStatus.done()


def _next_step(status: str, best: dict[str, Any] | None) -> str:
    if status == "running":
        return "Poll get_experiment_status again in a few seconds, or pause_sweep / stop_sweep to steer."
    if status == "paused":
        return "Call resume_sweep to continue with the runs not done, or stop_sweep to finish."
    if best is not None:
        return "Call get_leaderboard for the ranking, then export_best_config (format env|json|yaml|report)."
    return "Call run_sweep (or run_single) to produce runs."


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _latest_sweep(session: AsyncSession, experiment_id: uuid.UUID) -> Sweep | None:
    stmt = select(Sweep).where(Sweep.experiment_id == experiment_id).order_by(Sweep.created_at.desc()).limit(1)
    return await session.scalar(stmt)


async def _counts(session: AsyncSession, experiment_id: uuid.UUID, sweep: Sweep | None) -> dict[str, Any]:
    stmt = select(
        Run.status,
        func.count(),
        func.coalesce(func.sum(Run.tokens_in), 0),
        func.coalesce(func.sum(Run.tokens_out), 0),
        func.coalesce(func.sum(Run.cost_estimate), 0.0),
    ).group_by(Run.status)
    stmt = stmt.where(Run.sweep_id == sweep.id) if sweep is not None else stmt.where(Run.experiment_id == experiment_id)
    by_status: dict[str, int] = {}
    tokens_in = tokens_out = 0
    cost = 0.0
    for status, count, t_in, t_out, spent in (await session.execute(stmt)).all():
        by_status[str(status)] = int(count)
        tokens_in, tokens_out, cost = tokens_in + int(t_in), tokens_out + int(t_out), cost + float(spent)
    finished = sum(by_status.get(s, 0) for s in DONE)
    total = sum(by_status.values())
    return {
        "completed": finished,
        "total": total,
        "succeeded": by_status.get("completed", 0),
        "failed": by_status.get("failed", 0),
        "cached": by_status.get("cached", 0),
        "running": by_status.get("running", 0),
        "pending": by_status.get("pending", 0),
        "pruned": by_status.get("pruned", 0),
        "percent": round(100.0 * finished / total, 1) if total else 0.0,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "cost_estimate": round(cost, 6),
    }


async def _eta(session: AsyncSession, sweep: Sweep | None, status: str) -> float | None:
    """The sweep policy's ETA (this session's pace) while the experiment runs."""
    if sweep is None or status != "running":
        return None
    progress = await sweep_policy.progress_from_db(session, sweep)
    return progress.eta_s()


async def experiment_status(session: AsyncSession, experiment_id: uuid.UUID) -> dict[str, Any]:
    """Status, progress of the latest sweep, best run so far, ETA and the suggested next call."""
    experiment = await experiment_service.get_experiment(session, experiment_id)
    sweep = await _latest_sweep(session, experiment_id)
    progress = await _counts(session, experiment_id, sweep)
    board = await results_service.leaderboard(session, experiment_id, 1, "weighted_score")
    best = board.items[0].model_dump(mode="json") if board.items else None
    return {
        "experiment_id": str(experiment.id),
        "name": experiment.name,
        "status": experiment.status,
        "sweep": None if sweep is None else {
            "sweep_id": str(sweep.id), "type": sweep.type, "status": sweep.status, "total_runs": sweep.total_runs,
            "started_at": _iso(sweep.created_at), "completed_at": _iso(sweep.completed_at),
        },
        "progress": progress,
        "best": best,
        "eta_s": await _eta(session, sweep, experiment.status),
        "next": _next_step(experiment.status, best),
    }
