"""Executing sweeps on Celery workers: one task per run, coordinated through Postgres and Redis.

The same `run_once` as the in-process queue does the work and the same sweep policy
(`services/sweep_policy.py`) decides; what differs is how a run reaches an executor and how slots
are held:
- a run task runs only while its sweep's status is `running` (pause, stop and budgets read the
  database, so they hold across workers at once) and only under a Redis lease on the run;
- the sweep's concurrency is a Redis semaphore shared by every worker;
- after each run, whoever finished it hands it to the policy (progress, best, budget) and, last
  one out, lets the policy advance the sweep: more runs from its strategy (sent as tasks here) or
  completion (guarded, so exactly one worker announces each change);
- a watchdog hands the runs of a dead worker (lapsed lease) to the others. A run redone this
  way pays for no completed call twice: its calls are in the shared response cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.errors import AppError
from promptlooper.models import Run, RunStatus, Sweep
from promptlooper.queue.coordination import REDIS_ERRORS, Coordinator, RedisSemaphore
from promptlooper.services import sweep_policy as policy
from promptlooper.services.execution import resolve_handles, run_once
from promptlooper.services.runtime import Runtime
from promptlooper.services.stopping import (
    FINAL_STATUSES,
    RunCancelled,
    cancel_leftovers,
    leftover_candidates,
    mark_cancelled,
    stop_watch_of,
)
from promptlooper.services.sweep_policy import DONE_STATUSES, SweepPlan

log = logging.getLogger("promptlooper.distributed")
PLAN_TTL_S = 1.0  # a worker re-reads a sweep's document and settings at most this stale
SLOT_WAIT_S = 2.0  # how long a task waits for one of its sweep's run slots before re-enqueueing


def coordinator_of(ctx: AppContext) -> Coordinator:
    """The process's Redis coordinator (production mode only)."""
    if ctx.coordinator is None:
        raise RuntimeError("no Redis coordinator: REDIS_URL is not set")
    return ctx.coordinator


_plans: dict[uuid.UUID, SweepPlan] = {}
Enqueue = Callable[[uuid.UUID, list[uuid.UUID]], Awaitable[None]]


async def _load_plan(ctx: AppContext, session: AsyncSession, sweep: Sweep) -> SweepPlan:
    """The sweep policy's plan, cached for PLAN_TTL_S per worker."""
    cached = _plans.get(sweep.id)
    if cached is not None and time.monotonic() - cached.loaded_at < PLAN_TTL_S:
        return cached
    plan = await policy.load_plan(ctx, session, sweep)
    if plan is None:
        raise LookupError(f"experiment of sweep {sweep.id} is gone")
    _plans[sweep.id] = plan
    return plan


# --- dispatch and recovery --------------------------------------------------------------------


async def recover_orphans(ctx: AppContext, sweep_id: uuid.UUID) -> list[uuid.UUID]:
    """Runs a lost worker had picked up (its lease lapsed): back to pending; answers those to enqueue."""
    coordinator = coordinator_of(ctx)
    async with session_scope(ctx.sessionmaker) as session:
        in_flight = select(Run.id).where(Run.sweep_id == sweep_id, Run.status == RunStatus.RUNNING)
        running = set((await session.scalars(in_flight)).all())
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
            update(Run).where(Run.id.in_(orphans), Run.status == RunStatus.RUNNING)
            .values(status=RunStatus.PENDING, started_at=None)
        )
        recovered = list(
            (await session.scalars(select(Run.id).where(Run.id.in_(orphans), Run.status == RunStatus.PENDING))).all()
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
                    .where(Run.sweep_id == sweep_id, Run.status == RunStatus.PENDING)
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
            if result not in ("gone", "cancelled"):
                # Within the slot, as in-process: a spent budget pauses the sweep before the next run starts.
                await account_run(ctx, rt, plan, run_id)
        finally:
            await asyncio.shield(slots.release(slot))
    finally:
        await coordinator.release_run(run_id, sweep_id)
    if result == "gone":
        return "done-already"
    if result == "cancelled":
        return result  # its sweep was stopped: nothing to account, the stop announced the completion
    await advance_and_dispatch(ctx, rt, plan.sweep_id)
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
            update(Run).where(Run.id == run_id, Run.status.in_(RunStatus.open())).values(status=RunStatus.RUNNING)
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
        update(Run).where(Run.id == run_id).values(status=RunStatus.FAILED, error=reason,
                                                  completed_at=datetime.now(UTC))
    )


# --- after each run: progress, best, budget, next runs, completion (the sweep policy's) ------------


async def account_run(ctx: AppContext, rt: Runtime, plan: SweepPlan, run_id: uuid.UUID) -> None:
    """Account a finished run with the sweep policy: progress, a new best, a spent budget."""
    async with session_scope(ctx.sessionmaker) as session:
        sweep = await session.get(Sweep, plan.sweep_id)
        run = await session.get(Run, run_id)
        if sweep is None or run is None:
            return
        progress = await policy.progress_from_db(session, sweep)
        best_before = await policy.best_score(session, plan.experiment_id, excluding=run_id)
    policy.publish_progress(rt, plan, progress)
    policy.publish_new_best(rt, plan, run, best_before)
    if policy.over_budget(plan, progress):
        await policy.pause_for_budget(ctx, rt, plan, progress)


async def advance_and_dispatch(ctx: AppContext, rt: Runtime, sweep_id: uuid.UUID) -> bool:
    """The policy's `advance`, then one task per run the strategy added; answers whether it added any."""
    new_runs = await policy.advance(ctx, rt, sweep_id)
    if not new_runs:
        if await _sweep_status(ctx, sweep_id) != "running":
            _plans.pop(sweep_id, None)
        return False
    enqueue = getattr(rt.queue_for(), "enqueue_runs", None)
    if enqueue is not None:
        await enqueue(sweep_id, new_runs)
    return True


async def _sweep_status(ctx: AppContext, sweep_id: uuid.UUID) -> str | None:
    async with session_scope(ctx.sessionmaker) as session:
        return await session.scalar(select(Sweep.status).where(Sweep.id == sweep_id))


# --- the watchdog -------------------------------------------------------------------------------


STALL_S = 10.0  # pending runs with nothing in flight for this long get their tasks sent again


@dataclass
class _Stall:
    """What the watchdog last saw of a sweep whose pending runs seem to have no task."""

    finished: int
    since: float


_stalls: dict[uuid.UUID, _Stall] = {}


async def _stalled_pending(ctx: AppContext, sweep_id: uuid.UUID, stall_s: float) -> list[uuid.UUID]:
    """Pending runs of a sweep where nothing ran or finished for `stall_s` (their tasks were lost).

    This happens when a worker dies between committing the runs its strategy proposed and sending
    their tasks. A task sent twice is harmless: the copy finds the run leased or done.
    """
    coordinator = coordinator_of(ctx)
    async with session_scope(ctx.sessionmaker) as session:
        counts = dict(
            (
                await session.execute(
                    select(Run.status, func.count()).where(Run.sweep_id == sweep_id).group_by(Run.status)
                )
            ).all()
        )
    pending, running = int(counts.get("pending", 0)), int(counts.get("running", 0))
    finished = sum(int(counts.get(s, 0)) for s in DONE_STATUSES)
    if not pending or running or await coordinator.picked_runs(sweep_id):
        _stalls.pop(sweep_id, None)
        return []
    seen = _stalls.get(sweep_id)
    now = time.monotonic()
    if seen is None or seen.finished != finished:
        _stalls[sweep_id] = _Stall(finished, now)
        return []
    if now - seen.since < stall_s:
        return []
    _stalls.pop(sweep_id, None)
    async with session_scope(ctx.sessionmaker) as session:
        ids = list((await session.scalars(
            select(Run.id).where(Run.sweep_id == sweep_id, Run.status == RunStatus.PENDING)
            .order_by(Run.created_at, Run.id))).all())
    log.warning("sweep %s: %d pending run(s) without a task sent again", sweep_id, len(ids))
    return ids


async def watchdog_pass(ctx: AppContext, rt: Runtime) -> dict[uuid.UUID, list[uuid.UUID]]:
    """One pass over running sweeps: recover lost workers' runs, advance sweeps with nothing open.

    Advancing here covers a worker that died after finishing a sweep's last run but before asking
    its strategy for more (or completing it). Answers the run ids per sweep the caller enqueues.
    """
    recovered: dict[uuid.UUID, list[uuid.UUID]] = {}
    await cancel_lost_leftovers(ctx)
    stall_s = max(STALL_S, 2 * ctx.settings.run_lease_s)
    for sweep_id in await running_sweeps(ctx):
        orphans = await recover_orphans(ctx, sweep_id)
        orphans += [r for r in await _stalled_pending(ctx, sweep_id, stall_s) if r not in set(orphans)]
        if orphans:
            recovered[sweep_id] = orphans
        await advance_and_dispatch(ctx, rt, sweep_id)
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


async def watchdog_forever(ctx: AppContext, rt: Runtime, enqueue: Enqueue, interval_s: float = 1.0) -> None:
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

