"""Executing sweeps on Celery workers: one task per run, coordinated through Postgres and Redis.

The same `run_once` as the in-process queue does the work; what differs is who decides:
- a run task runs only while its sweep's status is `running` (pause, stop and budgets read the
  database, so they hold across workers at once) and only under a Redis lease on the run;
- the sweep's concurrency is a Redis semaphore shared by every worker;
- after each run, whoever finished it updates progress, the best score, the budget and, last
  one out, completes the sweep (guarded UPDATEs, so exactly one worker announces each change);
- a watchdog hands the runs of a dead worker (lapsed lease) to the others. A run redone this
  way pays for no completed call twice: its calls are in the shared response cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.engine.definition import ExperimentDefinition
from promptlooper.errors import AppError
from promptlooper.models import Experiment, Run, Sweep
from promptlooper.queue.coordination import REDIS_ERRORS, Coordinator, RedisSemaphore
from promptlooper.services.execution import (
    SweepProgress,
    best_score,
    progress_from_db,
    resolve_handles,
    run_once,
)
from promptlooper.services.experiments import definition_of
from promptlooper.services.runtime import Runtime
from promptlooper.services.settings import get_settings
from promptlooper.services.stopping import (
    FINAL_STATUSES,
    RunCancelled,
    cancel_leftovers,
    leftover_candidates,
    mark_cancelled,
    stop_watch_of,
)

log = logging.getLogger("promptlooper.distributed")
PLAN_TTL_S = 1.0  # a worker re-reads a sweep's document and settings at most this stale
SLOT_WAIT_S = 2.0  # how long a task waits for one of its sweep's run slots before re-enqueueing


def coordinator_of(ctx: AppContext) -> Coordinator:
    """The process's Redis coordinator (production mode only)."""
    coordinator = ctx.extras.get("coordinator")
    if coordinator is None:
        raise RuntimeError("no Redis coordinator: REDIS_URL is not set")
    return coordinator  # type: ignore[no-any-return]


@dataclass
class SweepPlan:
    """What every run of a sweep needs, cached briefly per worker."""

    sweep_id: uuid.UUID
    experiment_id: uuid.UUID
    defn: ExperimentDefinition
    concurrency: int
    budget_tokens: int
    budget_cost: float
    default_endpoint_id: str | None
    loaded_at: float


_plans: dict[uuid.UUID, SweepPlan] = {}


async def _load_plan(ctx: AppContext, session: AsyncSession, sweep: Sweep) -> SweepPlan:
    cached = _plans.get(sweep.id)
    if cached is not None and time.monotonic() - cached.loaded_at < PLAN_TTL_S:
        return cached
    experiment = await session.get(Experiment, sweep.experiment_id)
    if experiment is None:
        raise LookupError(f"experiment of sweep {sweep.id} is gone")
    settings = await get_settings(session, ctx)
    budget = sweep.options.get("budget") or {}
    token_caps = [int(v) for v in (budget.get("max_tokens") or 0, settings.max_tokens_per_sweep) if v]
    plan = SweepPlan(
        sweep_id=sweep.id,
        experiment_id=experiment.id,
        defn=definition_of(experiment),
        concurrency=int(sweep.options.get("concurrency") or settings.max_concurrent_runs),
        budget_tokens=min(token_caps) if token_caps else 0,
        budget_cost=float(budget.get("max_cost_usd") or 0.0),
        default_endpoint_id=str(settings.default_endpoint_id) if settings.default_endpoint_id else None,
        loaded_at=time.monotonic(),
    )
    _plans[sweep.id] = plan
    return plan


# --- dispatch and recovery --------------------------------------------------------------------


async def recover_orphans(ctx: AppContext, sweep_id: uuid.UUID) -> list[uuid.UUID]:
    """Runs a lost worker had picked up (its lease lapsed): back to pending; answers those to enqueue."""
    coordinator = coordinator_of(ctx)
    async with session_scope(ctx.sessionmaker) as session:
        running = set(
            (await session.scalars(select(Run.id).where(Run.sweep_id == sweep_id, Run.status == "running"))).all()
        )
    candidates = running | await coordinator.picked_runs(sweep_id)
    if not candidates:
        return []
    if not await coordinator.leases_trustworthy():
        return []  # Redis just came back empty: live holders re-take their leases first (issue 11 §3)
    orphans = candidates - await coordinator.leased_runs(candidates)
    if not orphans:
        return []
    async with session_scope(ctx.sessionmaker) as session:
        await session.execute(
            update(Run).where(Run.id.in_(orphans), Run.status == "running").values(status="pending", started_at=None)
        )
        recovered = list(
            (await session.scalars(select(Run.id).where(Run.id.in_(orphans), Run.status == "pending"))).all()
        )
    await coordinator.forget_picked(sweep_id, orphans)
    if recovered:
        log.warning("sweep %s: %d run(s) of a lost worker handed back to the queue", sweep_id, len(recovered))
    return recovered


async def runs_to_dispatch(ctx: AppContext, sweep_id: uuid.UUID) -> list[uuid.UUID]:
    """Every run of a running sweep that needs a task: pending ones and those of lost workers."""
    async with session_scope(ctx.sessionmaker) as session:
        sweep = await session.get(Sweep, sweep_id)
        if sweep is None or sweep.status != "running":
            return []
    orphans = await recover_orphans(ctx, sweep_id)
    async with session_scope(ctx.sessionmaker) as session:
        pending = list(
            (
                await session.scalars(
                    select(Run.id)
                    .where(Run.sweep_id == sweep_id, Run.status == "pending")
                    .order_by(Run.created_at, Run.id)
                )
            ).all()
        )
    return pending + [o for o in orphans if o not in set(pending)]


async def running_sweeps(ctx: AppContext) -> list[uuid.UUID]:
    """Sweeps whose status is running."""
    async with session_scope(ctx.sessionmaker) as session:
        return list((await session.scalars(select(Sweep.id).where(Sweep.status == "running"))).all())


# --- one run ----------------------------------------------------------------------------------


async def _sweep_running(ctx: AppContext, sweep_id: uuid.UUID) -> bool:
    async with session_scope(ctx.sessionmaker) as session:
        return await session.scalar(select(Sweep.status).where(Sweep.id == sweep_id)) == "running"


async def _take_run_slot(ctx: AppContext, slots: RedisSemaphore, sweep_id: uuid.UUID) -> str | None:
    """One of the sweep's run slots (runs in flight <= its concurrency, across workers).

    Answers None when the sweep stops running while we wait, or after SLOT_WAIT_S, so a task
    never pins a worker thread for long (the caller re-enqueues the run).
    """
    deadline = time.monotonic() + SLOT_WAIT_S
    next_check = time.monotonic() + 0.25
    while True:
        token = await slots.try_acquire()
        if token is not None:
            return token
        now = time.monotonic()
        if now >= deadline:
            return None
        if now >= next_check:
            if not await _sweep_running(ctx, sweep_id):
                return None
            next_check = now + 0.25
        await asyncio.sleep(0.01)


async def execute_queued_run(ctx: AppContext, rt: Runtime, run_id: uuid.UUID, sweep_id: uuid.UUID) -> str:
    """The body of the `runs.execute` task; answers what happened, in a word, for the log.

    The lease comes first, before any other work, so that from the moment a worker holds the task
    a crash leaves a trace (a picked run without a lease) that the watchdog acts on.
    `requeue` means the sweep had no free run slot for a while: the caller enqueues the run again.
    """
    coordinator = coordinator_of(ctx)
    if not await coordinator.lease_run(run_id, sweep_id):
        return "held-elsewhere"  # a duplicate task: the holder finishes it, or the watchdog re-enqueues it
    try:
        async with session_scope(ctx.sessionmaker) as session:
            run = await session.get(Run, run_id)
            if run is None or run.status in FINAL_STATUSES:
                return "done-already"
            sweep = await session.get(Sweep, sweep_id)
            if sweep is None or sweep.status != "running":
                return "sweep-not-running"  # pause/stop: the run stays pending; resume dispatches it again
            plan = await _load_plan(ctx, session, sweep)
            config = run.config
        slots = coordinator.semaphore(f"sweep-runs:{sweep_id}", plan.concurrency)
        slot = await _take_run_slot(ctx, slots, sweep_id)
        if slot is None:
            return "requeue" if await _sweep_running(ctx, sweep_id) else "sweep-not-running"
        try:
            result = await _claim_and_run(ctx, rt, plan, run_id, config)
        finally:
            await asyncio.shield(slots.release(slot))
    finally:
        await coordinator.release_run(run_id, sweep_id)
    if result == "gone":
        return "done-already"
    if result == "cancelled":
        return result  # its sweep was stopped: nothing to account, the stop announced the completion
    await after_run(ctx, rt, plan, run_id)
    return result


async def _claim_and_run(ctx: AppContext, rt: Runtime, plan: SweepPlan, run_id: uuid.UUID,
                         config: dict[str, Any]) -> str:
    async with session_scope(ctx.sessionmaker) as session:
        # Claim under a share lock on the sweep row: a pause or stop (which updates that row) waits for
        # this commit, so once it answers, every run it let start is visibly running.
        sweep_running = await session.scalar(
            select(Sweep.id).where(Sweep.id == plan.sweep_id, Sweep.status == "running").with_for_update(read=True)
        )
        if sweep_running is None:
            return "gone"
        claimed = await session.execute(
            update(Run).where(Run.id == run_id, Run.status.in_(("pending", "running"))).values(status="running")
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return "gone"
    async with session_scope(ctx.sessionmaker) as session:
        try:
            handles = await resolve_handles(rt, session, [config], plan.default_endpoint_id)
        except AppError as exc:
            await _fail_run(session, run_id, exc.detail)
            return "failed"
    limiter = coordinator_of(ctx).semaphore(f"sweep:{plan.sweep_id}", plan.concurrency)
    work = run_once(ctx, rt, run_id, plan.defn, handles, limiter, plan.default_endpoint_id)  # type: ignore[arg-type]
    try:
        # A stop of the sweep cancels the run's calls within STOP_POLL_S (issue 11 §4).
        result = await stop_watch_of(ctx).run(plan.sweep_id, work)
    except RunCancelled:
        await mark_cancelled(ctx, run_id)
        return "cancelled"
    return "gone" if result is None else result[1].status


async def _fail_run(session: AsyncSession, run_id: uuid.UUID, reason: str) -> None:
    await session.execute(
        update(Run).where(Run.id == run_id).values(status="failed", error=reason, completed_at=datetime.now(UTC))
    )


# --- after each run: progress, best, budget, completion -----------------------------------------


async def after_run(ctx: AppContext, rt: Runtime, plan: SweepPlan, run_id: uuid.UUID) -> None:
    """Publish progress and a new best; pause on an exhausted budget; complete the sweep when none is left."""
    async with session_scope(ctx.sessionmaker) as session:
        sweep = await session.get(Sweep, plan.sweep_id)
        run = await session.get(Run, run_id)
        if sweep is None or run is None:
            return
        progress = await progress_from_db(session, sweep)
        created = sweep.created_at if sweep.created_at.tzinfo else sweep.created_at.replace(tzinfo=UTC)
        others_best = await session.scalar(
            select(func.max(Run.weighted_score)).where(
                Run.experiment_id == plan.experiment_id, Run.rejected.is_(False), Run.id != run_id
            )
        )
    data = _progress_data(progress, created)
    rt.publish("sweep.progress", experiment_id=plan.experiment_id, sweep_id=plan.sweep_id, **data)
    if run.weighted_score is not None and (others_best is None or run.weighted_score > others_best):
        rt.publish("new_best_found", experiment_id=plan.experiment_id, sweep_id=plan.sweep_id, run_id=run.id,
                   weighted_score=run.weighted_score, previous_best=others_best, config=run.config)
    if _over_budget(plan, progress):
        await _pause_for_budget(ctx, rt, plan, progress, data)
    await complete_if_done(ctx, rt, plan.sweep_id, data)


def _progress_data(progress: SweepProgress, started: datetime) -> dict[str, Any]:
    data = progress.as_data()
    finished = progress.finished
    elapsed = (datetime.now(UTC) - started).total_seconds()
    data["eta_s"] = round(elapsed / finished * max(progress.total - finished, 0), 1) if finished else None
    return data


def _over_budget(plan: SweepPlan, progress: SweepProgress) -> bool:
    return bool(
        (plan.budget_tokens and progress.paid_tokens >= plan.budget_tokens)
        or (plan.budget_cost and progress.cost_spent >= plan.budget_cost)
    )


async def _pause_for_budget(ctx: AppContext, rt: Runtime, plan: SweepPlan, progress: SweepProgress,
                            data: dict[str, Any]) -> None:
    async with session_scope(ctx.sessionmaker) as session:
        paused = await session.execute(
            update(Sweep).where(Sweep.id == plan.sweep_id, Sweep.status == "running").values(status="paused")
        )
        if not paused.rowcount:  # type: ignore[attr-defined]
            return  # another worker got there first, or the user paused or stopped it
        await session.execute(update(Experiment).where(Experiment.id == plan.experiment_id).values(status="paused"))
    rt.publish("budget.exhausted", experiment_id=plan.experiment_id, sweep_id=plan.sweep_id,
               token_count=progress.paid_tokens, cost=round(progress.cost_spent, 6),
               max_tokens=plan.budget_tokens or None, max_cost_usd=plan.budget_cost or None)
    rt.publish("experiment.paused", experiment_id=plan.experiment_id, sweep_id=plan.sweep_id, reason="budget", **data)


async def complete_if_done(ctx: AppContext, rt: Runtime, sweep_id: uuid.UUID,
                           data: dict[str, Any] | None = None) -> bool:
    """Mark a running sweep with no run left as completed; exactly one caller wins and announces it."""
    async with session_scope(ctx.sessionmaker) as session:
        left = await session.scalar(
            select(func.count())
            .select_from(Run)
            .where(Run.sweep_id == sweep_id, Run.status.in_(("pending", "running")))
        )
        if left:
            return False
        sweep = await session.get(Sweep, sweep_id)
        if sweep is None or sweep.status != "running":
            return False
        progress = await progress_from_db(session, sweep)
        done = await session.execute(
            update(Sweep)
            .where(Sweep.id == sweep_id, Sweep.status == "running")
            .values(status="completed", completed_at=datetime.now(UTC), tokens_in=progress.tokens_in,
                    tokens_out=progress.tokens_out, cost_estimate=progress.cost)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            return False
        await session.execute(update(Experiment).where(Experiment.id == sweep.experiment_id).values(status="completed"))
        best = await best_score(session, sweep.experiment_id)
        experiment_id = sweep.experiment_id
    _plans.pop(sweep_id, None)
    payload = data or progress.as_data()
    rt.publish("experiment.completed", experiment_id=experiment_id, sweep_id=sweep_id, best_score=best,
               **{k: v for k, v in payload.items() if k != "eta_s"}, eta_s=0)
    return True


# --- the watchdog -------------------------------------------------------------------------------


async def watchdog_pass(ctx: AppContext, rt: Runtime) -> dict[uuid.UUID, list[uuid.UUID]]:
    """One pass over running sweeps: recover lost workers' runs, complete sweeps with nothing left.

    Answers the recovered run ids per sweep (the caller enqueues them).
    """
    recovered: dict[uuid.UUID, list[uuid.UUID]] = {}
    await cancel_lost_leftovers(ctx)
    for sweep_id in await running_sweeps(ctx):
        orphans = await recover_orphans(ctx, sweep_id)
        if orphans:
            recovered[sweep_id] = orphans
        await complete_if_done(ctx, rt, sweep_id)
    return recovered


async def cancel_lost_leftovers(ctx: AppContext) -> int:
    """Runs still `running` in a stopped or completed sweep whose lease lapsed: `cancelled` (issue 11 §4)."""
    coordinator = coordinator_of(ctx)
    candidates = await leftover_candidates(ctx)
    if not candidates or not await coordinator.leases_trustworthy():
        return 0
    return await cancel_leftovers(ctx, still_held=await coordinator.leased_runs(candidates))


async def pending_of_running_sweeps(ctx: AppContext) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Every pending run of every running sweep, per sweep."""
    async with session_scope(ctx.sessionmaker) as session:
        rows = (
            await session.execute(
                select(Run.sweep_id, Run.id)
                .join(Sweep, Sweep.id == Run.sweep_id)
                .where(Sweep.status == "running", Run.status == "pending")
                .order_by(Run.created_at, Run.id)
            )
        ).all()
    pending: dict[uuid.UUID, list[uuid.UUID]] = {}
    for sweep_id, run_id in rows:
        if sweep_id is not None:
            pending.setdefault(sweep_id, []).append(run_id)
    return pending


async def _redispatch_if_redis_reset(ctx: AppContext) -> tuple[bool, dict[uuid.UUID, list[uuid.UUID]]]:
    """(reset, runs): when Redis came back empty (no store mark), its queue is gone with every run
    task in it, so every pending run of a running sweep needs a task again (issue 11 §3). Duplicates
    are harmless: a run task finds its run leased or done and does nothing."""
    if await coordinator_of(ctx).store_age_ms() >= 0:
        return False, {}
    return True, await pending_of_running_sweeps(ctx)


async def watchdog_forever(ctx: AppContext, rt: Runtime, enqueue: Any, interval_s: float = 1.0) -> None:
    """Run watchdog passes (one process at a time, via a Redis lock) and enqueue what they recover."""
    coordinator = coordinator_of(ctx)
    while True:
        try:
            if await coordinator.try_lock("watchdog", interval_s * 0.9):
                reset, work = await _redispatch_if_redis_reset(ctx)
                for sweep_id, run_ids in (await watchdog_pass(ctx, rt)).items():
                    known = set(work.get(sweep_id, []))
                    work[sweep_id] = work.get(sweep_id, []) + [r for r in run_ids if r not in known]
                for sweep_id, run_ids in work.items():
                    await enqueue(sweep_id, run_ids)
                if reset:  # marked only once every task is sent again: a failure above retries next pass
                    await coordinator.store_age_ms(mark=True)
                    if work:
                        log.warning("Redis came back empty: %d pending run(s) of %d sweep(s) dispatched again",
                                    sum(len(v) for v in work.values()), len(work))
        except asyncio.CancelledError:
            raise
        except REDIS_ERRORS as exc:  # an outage: the pass after Redis is back does the work
            log.warning("watchdog pass skipped, Redis is unreachable: %s", exc)
        except Exception:
            log.exception("watchdog pass failed")
        await asyncio.sleep(interval_s)

