"""Experiment status with progress and ETA, run comparison and models per endpoint (used by MCP; REST-ready)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.models import Run, Sweep
from promptlooper.schemas import EndpointOut, RunDetail
from promptlooper.services import endpoints as endpoint_service
from promptlooper.services import experiments as experiment_service
from promptlooper.services import results as results_service
from promptlooper.services import sweep_policy

DONE = ("completed", "cached", "failed")


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


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) and "name" in v for v in value):
        out = {}
        for item in value:
            out |= _flatten({k: v for k, v in item.items() if k != "name"}, f"{prefix}.{item['name']}")
        return out
    return {prefix: value}


def _outputs(run: RunDetail) -> dict[str, dict[str, Any]]:
    """Each sample's final stage result."""
    out: dict[str, dict[str, Any]] = {}
    for stage in run.stage_results:
        current = out.get(stage.sample_id)
        if current is None or stage.stage_index >= current["stage_index"]:
            out[stage.sample_id] = {
                "stage_index": stage.stage_index, "output": stage.response_raw, "model": stage.model_used,
                "tokens_out": stage.tokens_out, "latency_ms": stage.latency_ms, "error": stage.error,
            }
    return out


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 6)


def compare(a: RunDetail, b: RunDetail) -> dict[str, Any]:
    """Parameter diff, per-sample outputs side by side and score differences of two runs (diff = b - a)."""
    flat_a, flat_b = _flatten(a.config), _flatten(b.config)
    changed = [
        {"path": path, "a": flat_a.get(path), "b": flat_b.get(path)}
        for path in sorted(set(flat_a) | set(flat_b))
        if flat_a.get(path) != flat_b.get(path)
    ]
    out_a, out_b = _outputs(a), _outputs(b)
    samples = [
        {"sample_id": sid, "a": out_a.get(sid), "b": out_b.get(sid),
         "same_output": (out_a.get(sid) or {}).get("output") == (out_b.get(sid) or {}).get("output")}
        for sid in sorted(set(out_a) | set(out_b))
    ]
    scores = {
        name: {"a": a.scores.get(name), "b": b.scores.get(name), "diff": _diff(a.scores.get(name), b.scores.get(name))}
        for name in sorted(set(a.scores) | set(b.scores))
    }
    wa, wb = a.weighted_score, b.weighted_score
    better = "tie" if wa == wb else ("a" if wb is None or (wa is not None and wa > wb) else "b")
    return {
        "run_a": {"id": str(a.id), "status": a.status, "config_hash": a.config_hash},
        "run_b": {"id": str(b.id), "status": b.status, "config_hash": b.config_hash},
        "same_experiment": a.experiment_id == b.experiment_id,
        "parameters": {"changed": changed, "unchanged_count": len(set(flat_a) & set(flat_b)) - sum(
            1 for c in changed if c["path"] in flat_a and c["path"] in flat_b)},
        "samples": samples,
        "scores": scores,
        "weighted_score": {"a": wa, "b": wb, "diff": _diff(wa, wb)},
        "better": better,
        "cost": {"a": a.cost_estimate, "b": b.cost_estimate, "diff": round(b.cost_estimate - a.cost_estimate, 6)},
        "tokens": {"a": a.tokens_in + a.tokens_out, "b": b.tokens_in + b.tokens_out},
    }


async def _models_of(app: AppContext, endpoint: EndpointOut) -> dict[str, Any]:
    async with session_scope(app.sessionmaker) as session:
        tested = await endpoint_service.test_endpoint(session, app, endpoint.id)
    return {"endpoint_id": str(endpoint.id), "label": endpoint.label, "url": endpoint.url} | tested.model_dump(
        mode="json")


async def models_by_endpoint(app: AppContext) -> dict[str, Any]:
    """Every configured endpoint's /models answer (or its error), called concurrently."""
    async with session_scope(app.sessionmaker) as session:
        items: list[EndpointOut] = []
        while True:
            page = await endpoint_service.list_endpoints(session, 500, len(items))
            items.extend(page.items)
            if not page.items or len(items) >= page.total:
                break
    answers = list(await asyncio.gather(*(_models_of(app, e) for e in items)))
    models = sorted({m for answer in answers for m in (answer.get("models") or [])})
    return {"endpoints": answers, "models": models}
