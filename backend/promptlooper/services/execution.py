"""Executing runs and sweeps: the one code path behind the in-process queue, Celery and ad-hoc runs."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.engine.definition import ExperimentDefinition
from promptlooper.engine.runner import EndpointHandle, RunOutcome, StageOutcome, execute_run
from promptlooper.errors import AppError
from promptlooper.models import Experiment, Run, Score, StageResult, Sweep
from promptlooper.services.experiments import definition_of
from promptlooper.services.runtime import Runtime, SweepControl
from promptlooper.services.scoring import score_run_outputs, scorer_extras
from promptlooper.services.settings import get_settings
from promptlooper.services.stopping import mark_cancelled

log = logging.getLogger("promptlooper.execution")
DONE_STATUSES = ("completed", "cached", "failed")


@dataclass
class SweepProgress:
    """Counters of a sweep, seeded from the database when (re)started."""

    total: int
    completed: int = 0
    failed: int = 0
    cached: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    paid_tokens: int = 0
    tokens_in_spent: int = 0
    tokens_out_spent: int = 0
    cost_spent: float = 0.0
    llm_calls_paid: int = 0
    cache_hits: int = 0
    started_at: float = field(default_factory=time.monotonic)
    done_since_start: int = 0

    @property
    def finished(self) -> int:
        """Runs done in any final status."""
        return self.completed + self.failed + self.cached

    def eta_s(self) -> float | None:
        """Seconds left at the pace since this (re)start."""
        if self.done_since_start == 0:
            return None
        pace = (time.monotonic() - self.started_at) / self.done_since_start
        return round(pace * max(self.total - self.finished, 0), 1)

    def as_data(self) -> dict[str, Any]:
        """The `sweep.progress` payload."""
        return {
            "completed": self.finished,
            "total": self.total,
            "failed": self.failed,
            "cached": self.cached,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_estimate": round(self.cost, 6),
            "eta_s": self.eta_s(),
            # what was paid for, and what the cache saved (the totals above count every answer)
            "tokens_in_spent": self.tokens_in_spent,
            "tokens_out_spent": self.tokens_out_spent,
            "cost_spent": round(self.cost_spent, 6),
            "tokens_saved": max(self.tokens_in + self.tokens_out - self.tokens_in_spent - self.tokens_out_spent, 0),
            "cost_saved": round(max(self.cost - self.cost_spent, 0.0), 6),
            "llm_calls": self.llm_calls_paid,
            "cache_hits": self.cache_hits,
        }

    def add_run(self, run: Run) -> None:
        """Count a finished run's totals (what its answers contain and what was paid)."""
        self.tokens_in += run.tokens_in
        self.tokens_out += run.tokens_out
        self.cost += run.cost_estimate
        self.tokens_in_spent += run.tokens_in_spent or 0
        self.tokens_out_spent += run.tokens_out_spent or 0
        self.cost_spent += run.cost_spent or 0.0
        self.llm_calls_paid += run.llm_calls_paid or 0
        self.cache_hits += run.cache_hits or 0


async def resolve_handles(
    rt: Runtime, session: AsyncSession, configs: list[dict[str, Any]], default_endpoint_id: str | None
) -> dict[str | None, EndpointHandle]:
    """Adapters for every endpoint the configs name."""
    ids = {stage.get("endpoint_id") or default_endpoint_id for c in configs for stage in c.get("stages", [])}
    return {endpoint_id: await rt.endpoint_handle(session, endpoint_id) for endpoint_id in ids}


def _stage_rows(run_id: uuid.UUID, stages: list[StageOutcome]) -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.uuid4(),
            "run_id": run_id,
            "seq": index,
            "stage_index": s.stage_index,
            "stage_name": s.stage_name,
            "sample_id": s.sample_id,
            "prompt_sent": s.prompt_sent,
            "response_raw": s.response_raw,
            "model_used": s.model_used,
            "parameters": s.parameters,
            "tokens_in": s.tokens_in,
            "tokens_out": s.tokens_out,
            "latency_ms": s.latency_ms,
            "cost": s.cost,
            "cached": s.cached,
            "cache_key": s.cache_key,
            "error": s.error,
        }
        for index, s in enumerate(stages)
    ]


async def persist_outcome(
    session: AsyncSession, run: Run, outcome: RunOutcome, scores: dict[str, Any], weighted: float | None
) -> None:
    """Store a run's stage results, scores and totals in the caller's transaction."""
    await session.execute(delete(StageResult).where(StageResult.run_id == run.id))
    await session.execute(delete(Score).where(Score.run_id == run.id, Score.scorer_name != "human_rating"))
    rows = _stage_rows(run.id, outcome.stage_results)
    if rows:
        await session.execute(insert(StageResult), rows)
    score_rows = [
        {"id": uuid.uuid4(), "run_id": run.id, "scorer_name": name, "value": s.value, "meta": s.metadata}
        for name, s in scores.items()
    ]
    if score_rows:
        await session.execute(insert(Score), score_rows)
    run.status = outcome.status
    run.completed_at = datetime.now(UTC)
    run.duration_ms = outcome.duration_ms
    run.tokens_in, run.tokens_out, run.cost_estimate = outcome.tokens_in, outcome.tokens_out, outcome.cost
    run.llm_calls, run.cache_hits = outcome.llm_calls, outcome.cache_hits
    run.tokens_in_spent, run.tokens_out_spent = outcome.spent_tokens_in, outcome.spent_tokens_out
    run.cost_spent = outcome.spent_cost
    run.llm_calls_paid = sum(1 for s in outcome.stage_results if s.called and not s.cached)
    run.weighted_score = weighted
    run.error = outcome.error


async def run_once(
    ctx: AppContext,
    rt: Runtime,
    run_id: uuid.UUID,
    defn: ExperimentDefinition,
    handles: dict[str | None, EndpointHandle],
    limiter: asyncio.Semaphore,
    default_endpoint_id: str | None,
) -> tuple[Run, RunOutcome] | None:
    """Execute one persisted run end to end: call, score, persist, publish."""
    async with session_scope(ctx.sessionmaker) as session:
        run = await session.get(Run, run_id)
        if run is None or run.status in DONE_STATUSES or run.status == "cancelled":
            return None
        run.status, run.started_at = "running", datetime.now(UTC)
        config, repeat_index, experiment_id, sweep_id = run.config, run.repeat_index, run.experiment_id, run.sweep_id
    rt.publish(
        "run.started", experiment_id=experiment_id, sweep_id=sweep_id, run_id=run_id, config_hash=run.config_hash
    )

    async def on_stage(stage: StageOutcome) -> None:
        rt.publish(
            "stage.completed",
            experiment_id=experiment_id,
            sweep_id=sweep_id,
            run_id=run_id,
            stage_index=stage.stage_index,
            stage_name=stage.stage_name,
            sample_id=stage.sample_id,
            cached=stage.cached,
            tokens_in=stage.tokens_in,
            tokens_out=stage.tokens_out,
            latency_ms=stage.latency_ms,
            error=stage.error,
        )

    def lookup(endpoint_id: str | None) -> EndpointHandle:
        return handles[endpoint_id or default_endpoint_id]

    outcome = await execute_run(
        config,
        defn.sample_data,
        endpoints=lookup,
        chat=rt.chat,
        limiter=limiter,
        repeat_index=repeat_index,
        on_stage=on_stage,
    )
    scores, weighted = await score_run_outputs(defn, config, outcome.outputs, extras=scorer_extras(ctx))
    async with session_scope(ctx.sessionmaker) as session:
        # Locked, and never over `cancelled`: a stop that cancelled this run in flight wins (issue 11 §4).
        run = await session.get(Run, run_id, with_for_update=True, populate_existing=True)
        if run is None or run.status == "cancelled":
            return None
        await persist_outcome(session, run, outcome, scores, weighted)
    event = {"completed": "run.completed", "cached": "run.cached", "failed": "run.failed"}[outcome.status]
    rt.publish(
        event,
        experiment_id=experiment_id,
        sweep_id=sweep_id,
        run_id=run_id,
        status=outcome.status,
        weighted_score=weighted,
        scores={k: v.value for k, v in scores.items()},
        error=outcome.error,
        tokens_in=outcome.tokens_in,
        tokens_out=outcome.tokens_out,
        cost_estimate=outcome.cost,
        llm_calls=outcome.llm_calls,
        cache_hits=outcome.cache_hits,
        tokens_in_spent=run.tokens_in_spent,
        tokens_out_spent=run.tokens_out_spent,
        cost_spent=run.cost_spent,
        llm_calls_paid=run.llm_calls_paid,
        duration_ms=outcome.duration_ms,
        config=config,
        config_hash=run.config_hash,
    )
    return run, outcome


async def progress_from_db(session: AsyncSession, sweep: Sweep) -> SweepProgress:
    rows = (
        (
            await session.execute(
                select(
                    Run.status,
                    func.count(),
                    func.coalesce(func.sum(Run.tokens_in), 0),
                    func.coalesce(func.sum(Run.tokens_out), 0),
                    func.coalesce(func.sum(Run.cost_estimate), 0.0),
                    func.coalesce(func.sum(Run.tokens_in_spent), 0),
                    func.coalesce(func.sum(Run.tokens_out_spent), 0),
                    func.coalesce(func.sum(Run.cost_spent), 0.0),
                    func.coalesce(func.sum(Run.llm_calls_paid), 0),
                    func.coalesce(func.sum(Run.cache_hits), 0),
                )
                .where(Run.sweep_id == sweep.id)
                .group_by(Run.status)
            )
        )
        .all()
    )
    progress = SweepProgress(total=sum(int(r[1]) for r in rows))
    for status, count, t_in, t_out, cost, s_in, s_out, s_cost, paid_calls, hits in rows:
        if status in DONE_STATUSES:
            setattr(progress, status, getattr(progress, status) + int(count))
            progress.tokens_in += int(t_in)
            progress.tokens_out += int(t_out)
            progress.cost += float(cost)
            progress.tokens_in_spent += int(s_in)
            progress.tokens_out_spent += int(s_out)
            progress.cost_spent += float(s_cost)
            progress.llm_calls_paid += int(paid_calls)
            progress.cache_hits += int(hits)
    paid = await session.scalar(
        select(func.coalesce(func.sum(StageResult.tokens_in + StageResult.tokens_out), 0))
        .join(Run, Run.id == StageResult.run_id)
        .where(Run.sweep_id == sweep.id, StageResult.cached.is_(False))
    )
    progress.paid_tokens = int(paid or 0)
    return progress


@dataclass
class _SweepPlan:
    experiment_id: uuid.UUID
    defn: ExperimentDefinition
    pending: list[uuid.UUID]
    configs: list[dict[str, Any]]
    concurrency: int
    budget_tokens: int
    budget_cost: float
    default_endpoint_id: str | None
    progress: SweepProgress


async def _plan(ctx: AppContext, sweep_id: uuid.UUID) -> _SweepPlan | None:
    async with session_scope(ctx.sessionmaker) as session:
        sweep = await session.get(Sweep, sweep_id)
        if sweep is None or sweep.status != "running":
            return None
        experiment = await session.get(Experiment, sweep.experiment_id)
        if experiment is None:
            return None
        settings = await get_settings(session, ctx)
        rows = (
            (
                await session.execute(
                    select(Run.id, Run.config)
                    .where(Run.sweep_id == sweep_id, Run.status.in_(("pending", "running")))
                    .order_by(Run.created_at, Run.id)
                )
            )
            .all()
        )
        budget = sweep.options.get("budget") or {}
        token_caps = [int(v) for v in (budget.get("max_tokens") or 0, settings.max_tokens_per_sweep) if v]
        return _SweepPlan(
            experiment_id=experiment.id,
            defn=definition_of(experiment),
            pending=[r[0] for r in rows],
            configs=[r[1] for r in rows],
            concurrency=int(sweep.options.get("concurrency") or settings.max_concurrent_runs),
            budget_tokens=min(token_caps) if token_caps else 0,
            budget_cost=float(budget.get("max_cost_usd") or 0.0),
            default_endpoint_id=str(settings.default_endpoint_id) if settings.default_endpoint_id else None,
            progress=await progress_from_db(session, sweep),
        )


def _over_budget(plan: _SweepPlan) -> bool:
    progress = plan.progress
    return bool(
        (plan.budget_tokens and progress.paid_tokens >= plan.budget_tokens)
        or (plan.budget_cost and progress.cost_spent >= plan.budget_cost)
    )


async def best_score(session: AsyncSession, experiment_id: uuid.UUID) -> float | None:
    return await session.scalar(
        select(func.max(Run.weighted_score)).where(Run.experiment_id == experiment_id, Run.rejected.is_(False))
    )


async def execute_sweep(ctx: AppContext, rt: Runtime, sweep_id: uuid.UUID) -> None:
    """Run every pending run of a sweep within its concurrency, honouring pause, stop and budgets."""
    plan = await _plan(ctx, sweep_id)
    if plan is None:
        return
    control = rt.controls.setdefault(sweep_id, SweepControl())
    control.state = "running"
    try:
        async with session_scope(ctx.sessionmaker) as session:
            handles = await resolve_handles(rt, session, plan.configs, plan.default_endpoint_id)
            best = await best_score(session, plan.experiment_id)
    except AppError as exc:
        await _fail_pending(ctx, rt, sweep_id, plan, exc.detail)
        return
    limiter = asyncio.Semaphore(plan.concurrency)
    queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
    for run_id in plan.pending:
        queue.put_nowait(run_id)
    state = {"best": best}

    async def worker() -> None:
        while control.state == "running" and not queue.empty():
            run_id = queue.get_nowait()
            if not await _run_cancellable(control, _run_and_account(ctx, rt, sweep_id, run_id, plan, handles,
                                                                    limiter, state)):
                await mark_cancelled(ctx, run_id)  # stopped in flight (stop_sweep marked it too)
                continue
            if control.state == "running" and _over_budget(plan):
                await _budget_exhausted(ctx, rt, sweep_id, plan)
                control.state = "paused"

    workers = max(1, min(plan.concurrency, len(plan.pending)))
    await asyncio.gather(*(worker() for _ in range(workers)))
    await _finish(ctx, rt, sweep_id, plan, control)


async def _run_cancellable(control: SweepControl, work: Any) -> bool:
    """Run one run as its own task, which a stop cancels (`Runtime.set_control`); False when it did.

    Cancelling this sweep's task (shutdown) cancels the run too, and that propagates: the run stays
    `running` and the next start resumes it.
    """
    task = asyncio.ensure_future(work)
    control.inflight.add(task)
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if task.cancelled() and (current is None or not current.cancelling()):
            return False
        raise
    finally:
        control.inflight.discard(task)
    return True


async def _run_and_account(
    ctx: AppContext,
    rt: Runtime,
    sweep_id: uuid.UUID,
    run_id: uuid.UUID,
    plan: _SweepPlan,
    handles: dict[str | None, EndpointHandle],
    limiter: asyncio.Semaphore,
    state: dict[str, float | None],
) -> None:
    paid = 0
    try:
        result = await run_once(ctx, rt, run_id, plan.defn, handles, limiter, plan.default_endpoint_id)
        if result is None:
            return
        run, outcome = result
        paid = sum(s.tokens_in + s.tokens_out for s in outcome.stage_results if not s.cached)
    except Exception as exc:  # an engine bug must not stop the sweep: record it on the run
        log.exception("run %s crashed", run_id)
        failed = await _mark_failed(ctx, run_id, f"Internal error while executing the run: {exc}")
        if failed is None:
            return
        run = failed
    progress = plan.progress
    progress.done_since_start += 1
    if run.status == "failed":
        progress.failed += 1
    elif run.status == "cached":
        progress.cached += 1
    else:
        progress.completed += 1
    progress.add_run(run)
    progress.paid_tokens += paid
    rt.publish("sweep.progress", experiment_id=plan.experiment_id, sweep_id=sweep_id, **progress.as_data())
    best = state["best"]
    if run.weighted_score is not None and (best is None or run.weighted_score > best):
        state["best"] = run.weighted_score
        rt.publish(
            "new_best_found",
            experiment_id=plan.experiment_id,
            sweep_id=sweep_id,
            run_id=run.id,
            weighted_score=run.weighted_score,
            previous_best=best,
            config=run.config,
        )


async def _mark_failed(ctx: AppContext, run_id: uuid.UUID, reason: str) -> Run | None:
    async with session_scope(ctx.sessionmaker) as session:
        run = await session.get(Run, run_id)
        if run is not None:
            run.status, run.error, run.completed_at = "failed", reason, datetime.now(UTC)
        return run


async def _fail_pending(ctx: AppContext, rt: Runtime, sweep_id: uuid.UUID, plan: _SweepPlan, reason: str) -> None:
    async with session_scope(ctx.sessionmaker) as session:
        await session.execute(
            update(Run)
            .where(Run.sweep_id == sweep_id, Run.status.in_(("pending", "running")))
            .values(status="failed", error=reason, completed_at=datetime.now(UTC))
        )
    plan.progress.failed += len(plan.pending)
    rt.publish("run.failed", experiment_id=plan.experiment_id, sweep_id=sweep_id, error=reason, runs=len(plan.pending))
    await _finish(ctx, rt, sweep_id, plan, SweepControl(state="running"))


async def _budget_exhausted(ctx: AppContext, rt: Runtime, sweep_id: uuid.UUID, plan: _SweepPlan) -> None:
    async with session_scope(ctx.sessionmaker) as session:
        await session.execute(update(Sweep).where(Sweep.id == sweep_id).values(status="paused"))
        await session.execute(update(Experiment).where(Experiment.id == plan.experiment_id).values(status="paused"))
    rt.publish(
        "budget.exhausted",
        experiment_id=plan.experiment_id,
        sweep_id=sweep_id,
        token_count=plan.progress.paid_tokens,
        cost=round(plan.progress.cost_spent, 6),
        max_tokens=plan.budget_tokens or None,
        max_cost_usd=plan.budget_cost or None,
    )


async def _finish(ctx: AppContext, rt: Runtime, sweep_id: uuid.UUID, plan: _SweepPlan, control: SweepControl) -> None:
    async with session_scope(ctx.sessionmaker) as session:
        sweep = await session.get(Sweep, sweep_id)
        experiment = await session.get(Experiment, plan.experiment_id)
        if sweep is None or experiment is None:
            return
        sweep.tokens_in, sweep.tokens_out = plan.progress.tokens_in, plan.progress.tokens_out
        sweep.cost_estimate = plan.progress.cost
        left = await session.scalar(
            select(func.count())
            .select_from(Run)
            .where(Run.sweep_id == sweep_id, Run.status.in_(("pending", "running")))
        )
        if control.state == "running" and not left:
            sweep.status, sweep.completed_at = "completed", datetime.now(UTC)
            experiment.status = "completed"
            best = await best_score(session, experiment.id)
            rt.publish(
                "experiment.completed",
                experiment_id=experiment.id,
                sweep_id=sweep_id,
                best_score=best,
                **plan.progress.as_data(),
            )
        elif control.state == "paused":
            rt.publish(
                "experiment.paused",
                experiment_id=experiment.id,
                sweep_id=sweep_id,
                reason="budget" if _over_budget(plan) else "requested",
                **plan.progress.as_data(),
            )
    rt.controls.pop(sweep_id, None)
