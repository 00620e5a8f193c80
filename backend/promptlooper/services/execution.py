"""Executing runs and sweeps: the one code path behind the in-process queue, Celery and ad-hoc runs."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.engine.definition import ExperimentDefinition, SampleDef
from promptlooper.engine.runner import EndpointHandle, RunOutcome, StageOutcome, execute_run
from promptlooper.errors import AppError
from promptlooper.events import types as ev
from promptlooper.models import Run, RunStatus, Score, StageResult, Sweep
from promptlooper.services import sweep_policy as policy
from promptlooper.services.runtime import Runtime, SweepControl
from promptlooper.services.scoring import final_outputs, score_run_outputs, scorer_extras
from promptlooper.services.stopping import mark_cancelled

log = logging.getLogger("promptlooper.execution")



async def resolve_handles(
    rt: Runtime, session: AsyncSession, configs: list[dict[str, Any]], default_endpoint_id: str | None
) -> dict[str | None, EndpointHandle]:
    """Adapters for every endpoint the configs name."""
    ids = {stage.get("endpoint_id") or default_endpoint_id for c in configs for stage in c.get("stages", [])}
    return {endpoint_id: await rt.endpoint_handle(session, endpoint_id) for endpoint_id in ids}


def _stage_rows(run_id: uuid.UUID, stages: list[StageOutcome], first_seq: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.uuid4(),
            "run_id": run_id,
            "seq": first_seq + index,
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
    session: AsyncSession, run: Run, outcome: RunOutcome, scores: dict[str, Any], weighted: float | None,
    prior: PriorPart | None = None,
) -> None:
    """Store a run's stage results, scores and totals in the caller's transaction.

    With `prior` (a run continued by early stopping), the earlier samples' stage results stay and
    the totals add up; the scores (over every sample evaluated) replace the earlier ones.
    """
    if prior is None:
        await session.execute(delete(StageResult).where(StageResult.run_id == run.id))
    await session.execute(delete(Score).where(Score.run_id == run.id, Score.scorer_name != "human_rating"))
    rows = _stage_rows(run.id, outcome.stage_results, first_seq=prior.stage_count if prior else 0)
    if rows:
        await session.execute(insert(StageResult), rows)
    score_rows = [
        {"id": uuid.uuid4(), "run_id": run.id, "scorer_name": name, "value": s.value, "meta": s.metadata}
        for name, s in scores.items()
    ]
    if score_rows:
        await session.execute(insert(Score), score_rows)
    paid_calls = sum(1 for s in outcome.stage_results if s.called and not s.cached)
    if prior is None:
        run.status = outcome.status
        run.duration_ms = outcome.duration_ms
        run.tokens_in, run.tokens_out, run.cost_estimate = outcome.tokens_in, outcome.tokens_out, outcome.cost
        run.llm_calls, run.cache_hits = outcome.llm_calls, outcome.cache_hits
        run.tokens_in_spent, run.tokens_out_spent = outcome.spent_tokens_in, outcome.spent_tokens_out
        run.cost_spent = outcome.spent_cost
        run.llm_calls_paid = paid_calls
    else:
        all_cached = outcome.status == "cached" and run.cache_hits == run.llm_calls
        run.status = outcome.status if outcome.status == "failed" else ("cached" if all_cached else "completed")
        run.duration_ms = (run.duration_ms or 0) + outcome.duration_ms
        run.tokens_in += outcome.tokens_in
        run.tokens_out += outcome.tokens_out
        run.cost_estimate += outcome.cost
        run.llm_calls += outcome.llm_calls
        run.cache_hits += outcome.cache_hits
        run.tokens_in_spent += outcome.spent_tokens_in
        run.tokens_out_spent += outcome.spent_tokens_out
        run.cost_spent += outcome.spent_cost
        run.llm_calls_paid += paid_calls
    run.completed_at = datetime.now(UTC)
    run.samples_evaluated = len(outcome.outputs) + (len(prior.outputs) if prior else 0)
    run.weighted_score = weighted
    run.error = outcome.error


@dataclass
class PriorPart:
    """What a continued run (early stopping) already evaluated: its samples' outputs and stage rows."""

    outputs: dict[str, str | None]
    stage_count: int


async def prior_part(session: AsyncSession, run: Run) -> PriorPart | None:
    """The samples a run was already evaluated on (None for a run executing for the first time)."""
    if run.samples_evaluated is None:
        return None
    stages = list((await session.scalars(select(StageResult).where(StageResult.run_id == run.id))).all())
    sample_ids = list(dict.fromkeys(s.sample_id for s in stages))
    return PriorPart(outputs=final_outputs(stages, sample_ids, len(run.config.get("stages", []))),
                     stage_count=len(stages))


def samples_to_run(defn: ExperimentDefinition, sample_ids: list[Any] | None,
                   prior: PriorPart | None) -> list[SampleDef]:
    """The samples a run executes now: its set (every sample by default) minus those already evaluated."""
    wanted = set(sample_ids) if sample_ids is not None else None
    seen = prior.outputs if prior is not None else {}
    return [s for s in defn.sample_data if (wanted is None or s.id in wanted) and s.id not in seen]


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
    try:
        async with session_scope(ctx.sessionmaker) as session:
            run = await session.get(Run, run_id)
            if run is None or run.status in policy.DONE_STATUSES or run.status == RunStatus.CANCELLED:
                return None
            run.status, run.started_at = RunStatus.RUNNING, datetime.now(UTC)
            config, repeat_index = run.config, run.repeat_index
            experiment_id, sweep_id = run.experiment_id, run.sweep_id
            prior = await prior_part(session, run)
            samples = samples_to_run(defn, run.sample_ids, prior)
            partial = run.sample_ids is not None
    except StaleDataError:
        return None  # deleted between the read and the write: a redirect dropped this pending run
    rt.publish(ev.RunStarted(config_hash=run.config_hash, origin=run.origin), experiment_id=experiment_id,
               sweep_id=sweep_id, run_id=run_id)

    async def on_stage(stage: StageOutcome) -> None:
        rt.publish(
            ev.StageCompleted(
                stage_index=stage.stage_index,
                stage_name=stage.stage_name,
                sample_id=stage.sample_id,
                cached=stage.cached,
                tokens_in=stage.tokens_in,
                tokens_out=stage.tokens_out,
                latency_ms=stage.latency_ms,
                error=stage.error,
            ),
            experiment_id=experiment_id,
            sweep_id=sweep_id,
            run_id=run_id,
        )

    def lookup(endpoint_id: str | None) -> EndpointHandle:
        return handles[endpoint_id or default_endpoint_id]

    outcome = await execute_run(
        config,
        samples,
        endpoints=lookup,
        chat=rt.chat,
        limiter=limiter,
        repeat_index=repeat_index,
        on_stage=on_stage,
    )
    outputs = {**(prior.outputs if prior else {}), **outcome.outputs}
    scored = defn
    if prior is not None or partial:  # scores cover exactly the samples evaluated so far
        scored = defn.model_copy(update={"sample_data": [s for s in defn.sample_data if s.id in outputs]})
    scores, weighted = await score_run_outputs(scored, config, outputs, extras=scorer_extras(ctx))
    async with session_scope(ctx.sessionmaker) as session:
        # Locked, and never over `cancelled`: a stop that cancelled this run in flight wins (issue 11 §4).
        run = await session.get(Run, run_id, with_for_update=True, populate_existing=True)
        if run is None or run.status == "cancelled":
            return None
        await persist_outcome(session, run, outcome, scores, weighted, prior)
    event = {"completed": ev.RunCompleted, "cached": ev.RunCached, "failed": ev.RunFailed}[run.status]
    rt.publish(
        event(
            status=run.status,
            weighted_score=weighted,
            scores={k: v.value for k, v in scores.items()},
            error=outcome.error,
            tokens_in=run.tokens_in,
            tokens_out=run.tokens_out,
            cost_estimate=run.cost_estimate,
            llm_calls=run.llm_calls,
            cache_hits=run.cache_hits,
            duration_ms=run.duration_ms,
            samples_evaluated=run.samples_evaluated,
            partial=run.sample_ids is not None,
            config=config,
            tokens_in_spent=run.tokens_in_spent,
            tokens_out_spent=run.tokens_out_spent,
            cost_spent=run.cost_spent,
            llm_calls_paid=run.llm_calls_paid,
            config_hash=run.config_hash,
            origin=run.origin,
        ),
        experiment_id=experiment_id,
        sweep_id=sweep_id,
        run_id=run_id,
    )
    return run, outcome


async def _open_runs(ctx: AppContext, sweep_id: uuid.UUID) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    """Runs of the sweep not done, oldest first (in-process, `running` ones are a crashed pass's)."""
    async with session_scope(ctx.sessionmaker) as session:
        rows = (
            await session.execute(
                select(Run.id, Run.config)
                .where(Run.sweep_id == sweep_id, Run.status.in_(policy.OPEN_STATUSES))
                .order_by(Run.created_at, Run.id)
            )
        ).all()
    return [(r[0], r[1]) for r in rows]


async def execute_sweep(ctx: AppContext, rt: Runtime, sweep_id: uuid.UUID) -> None:
    """Run a sweep in this process: its open runs within its concurrency, then what its strategy adds.

    Pause and stop (`Runtime.controls`) take effect before the next run; budgets, progress, the next
    runs and completion are the sweep policy's (`services/sweep_policy.py`), as on Celery workers.
    """
    async with session_scope(ctx.sessionmaker) as session:
        sweep = await session.get(Sweep, sweep_id)
        if sweep is None or sweep.status != "running":
            return
        plan = await policy.load_plan(ctx, session, sweep)
        if plan is None:
            return
        progress = await policy.progress_from_db(session, sweep)
        best = await policy.best_score(session, plan.experiment_id)
    control = rt.controls.setdefault(sweep_id, SweepControl())
    control.state = "running"
    limiter = asyncio.Semaphore(plan.concurrency)
    state = _SweepState(plan=plan, progress=progress, best=best, limiter=limiter)
    try:
        rewriting = bool((plan.options.get("guided") or {}).get("rewrite"))
        while control.state == "running":
            runs = await _open_runs(ctx, sweep_id)
            if rewriting:  # approvals add runs and the optimizer's calls count as spent: both land in the DB.
                # Reloaded after reading the open runs, so the total counts every run this wave may finish
                # (an approval landing in between made `completed` overtake a `total` read before it).
                state.progress = await _reload_progress(ctx, sweep_id, state.progress)
            if not runs:
                if not await policy.advance(ctx, rt, sweep_id):
                    break  # completed (or no longer running)
                if plan.options.get("early_stopping"):  # runs were pruned or reopened: recount
                    await _recount(ctx, state)
                continue
            await _execute_wave(ctx, rt, control, state, runs)
    finally:
        rt.controls.pop(sweep_id, None)


async def _reload_progress(ctx: AppContext, sweep_id: uuid.UUID,
                           fallback: policy.SweepProgress) -> policy.SweepProgress:
    """The sweep's counters from the database (a rewriting sweep's optimizer calls land there, not here)."""
    async with session_scope(ctx.sessionmaker) as session:
        sweep = await session.get(Sweep, sweep_id)
        return fallback if sweep is None else await policy.progress_from_db(session, sweep)


@dataclass
class _SweepState:
    plan: policy.SweepPlan
    progress: policy.SweepProgress
    best: float | None
    limiter: asyncio.Semaphore


async def _execute_wave(ctx: AppContext, rt: Runtime, control: SweepControl, state: _SweepState,
                        runs: list[tuple[uuid.UUID, dict[str, Any]]]) -> None:
    plan = state.plan
    try:
        async with session_scope(ctx.sessionmaker) as session:
            handles = await resolve_handles(rt, session, [c for _, c in runs], plan.default_endpoint_id)
    except AppError as exc:
        await _fail_open(ctx, rt, state, [r for r, _ in runs], exc.detail)
        return
    queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
    for run_id, _ in runs:
        queue.put_nowait(run_id)

    async def worker() -> None:
        while control.state == "running" and not queue.empty():
            run_id = queue.get_nowait()
            if not await _run_cancellable(control, _run_and_account(ctx, rt, run_id, state, handles)):
                await mark_cancelled(ctx, run_id)  # stopped in flight (stop_sweep marked it too)
                continue
            if control.state == "running" and policy.over_budget(plan, state.progress):
                await policy.pause_for_budget(ctx, rt, plan, state.progress)
                control.state = "paused"

    workers = max(1, min(plan.concurrency, len(runs)))
    await asyncio.gather(*(worker() for _ in range(workers)))


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


async def _run_and_account(ctx: AppContext, rt: Runtime, run_id: uuid.UUID, state: _SweepState,
                           handles: dict[str | None, EndpointHandle]) -> None:
    plan = state.plan
    paid = 0
    try:
        result = await run_once(ctx, rt, run_id, plan.defn, handles, state.limiter, plan.default_endpoint_id)
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
    control = rt.controls.get(plan.sweep_id)
    if control is not None and control.total_runs is not None:  # redirected mid-wave
        state.progress.total = control.total_runs
    state.progress.count(run, paid)
    policy.publish_progress(rt, plan, state.progress)
    if policy.publish_new_best(rt, plan, run, state.best):
        state.best = run.weighted_score


async def _recount(ctx: AppContext, state: _SweepState) -> None:
    async with session_scope(ctx.sessionmaker) as session:
        sweep = await session.get(Sweep, state.plan.sweep_id)
        if sweep is not None:
            state.progress = await policy.progress_from_db(session, sweep)


async def _mark_failed(ctx: AppContext, run_id: uuid.UUID, reason: str) -> Run | None:
    async with session_scope(ctx.sessionmaker) as session:
        run = await session.get(Run, run_id)
        if run is not None:
            run.status, run.error, run.completed_at = RunStatus.FAILED, reason, datetime.now(UTC)
        return run


async def _fail_open(ctx: AppContext, rt: Runtime, state: _SweepState, run_ids: list[uuid.UUID], reason: str) -> None:
    """The runs cannot start (e.g. their endpoint is gone): fail them all at once."""
    plan = state.plan
    async with session_scope(ctx.sessionmaker) as session:
        await session.execute(
            update(Run)
            .where(Run.id.in_(run_ids), Run.status.in_(policy.OPEN_STATUSES))
            .values(status=RunStatus.FAILED, error=reason, completed_at=datetime.now(UTC))
        )
        sweep = await session.get(Sweep, plan.sweep_id)
        if sweep is not None:
            state.progress = await policy.progress_from_db(session, sweep)
    rt.publish(ev.RunFailed(error=reason, runs=len(run_ids)), experiment_id=plan.experiment_id, sweep_id=plan.sweep_id)
