"""Sweeps: expand the parameter space into pending runs, then steer them (pause, resume, stop)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import after_commit
from promptlooper.engine.definition import ExperimentDefinition
from promptlooper.engine.estimate import estimate_sweep
from promptlooper.errors import Conflict, InvalidDefinition
from promptlooper.events import types as ev
from promptlooper.models import Experiment, LLMEndpoint, Run, RunStatus, Sweep
from promptlooper.schemas import ExperimentOut, SweepCreate, SweepEstimateIn, SweepEstimateOut, SweepOut
from promptlooper.services import strategies
from promptlooper.services import sweep_policy as policy
from promptlooper.services.common import get_or_404
from promptlooper.services.experiments import definition_of, experiment_out, validate_document
from promptlooper.services.settings import get_settings
from promptlooper.services.strategies import StrategySpec, build_strategy, sweep_configs


def _strategy_spec(defn: ExperimentDefinition, body: SweepCreate, default_endpoint_id: str | None) -> StrategySpec:
    if not strategies.is_known(body.type):
        if body.type == "guided":
            raise strategies.unsupported(body.type)
        known = " or ".join(f"'{t}'" for t in strategies.known_types())
        raise InvalidDefinition([{"loc": ["body", "type"], "msg": f"Input should be {known}", "type": "literal_error",
                                  "input": body.type}])
    return StrategySpec(body.type, defn, body.model_dump(mode="json"), default_endpoint_id)


async def estimate(session: AsyncSession, ctx: AppContext, body: SweepEstimateIn) -> SweepEstimateOut:
    """Runs, calls, tokens and cost a sweep of this (unsaved) document would make."""
    defn = ExperimentDefinition.model_validate(body.document.model_dump(exclude={"project_id"}))
    try:
        await validate_document(session, defn)
    except InvalidDefinition as exc:
        raise InvalidDefinition([e | {"loc": ["body", "document", *e["loc"][1:]]} for e in exc.errors]) from exc
    settings = await get_settings(session, ctx)
    default_endpoint = str(settings.default_endpoint_id) if settings.default_endpoint_id else None
    configs = sweep_configs(defn, body.type, body.max_runs, body.seed, default_endpoint)
    pricing = {str(e.id): dict(e.pricing or {}) for e in await session.scalars(select(LLMEndpoint))}
    result = estimate_sweep(configs, defn.sample_data, body.repeats, pricing)
    return SweepEstimateOut(**dataclasses.asdict(result))


async def _running_sweep(session: AsyncSession, experiment_id: uuid.UUID) -> Sweep | None:
    return await session.scalar(
        select(Sweep).where(Sweep.experiment_id == experiment_id, Sweep.status.in_(("running", "paused")))
    )


async def start_sweep(session: AsyncSession, ctx: AppContext, experiment_id: uuid.UUID, body: SweepCreate) -> SweepOut:
    """Persist every run of the sweep as pending, then hand the sweep to the queue after commit."""
    experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
    if experiment.status == "running" or await _running_sweep(session, experiment_id) is not None:
        raise Conflict(
            "A sweep of this experiment is already running or paused; stop it first.", code="sweep_already_running"
        )
    settings = await get_settings(session, ctx)
    default_endpoint = str(settings.default_endpoint_id) if settings.default_endpoint_id else None
    # The strategy's first answer (grid and random: every run) is persisted as pending runs now;
    # later answers come from the sweep policy's `advance` when no run is left open.
    spec = _strategy_spec(definition_of(experiment), body, default_endpoint)
    proposals = build_strategy(spec).ask().propose
    options = body.model_dump(mode="json")
    options["concurrency"] = body.concurrency or settings.max_concurrent_runs
    now = datetime.now(UTC)
    sweep = Sweep(
        experiment_id=experiment_id,
        type=body.type,
        status="running",
        options=options,
        total_runs=len(proposals),
        created_at=now,
        resumed_at=now,
    )
    session.add(sweep)
    await session.flush()
    rows = policy.proposal_rows(experiment_id, sweep.id, proposals)
    if rows:
        await session.execute(insert(Run), rows)
    experiment.status = "running"
    await session.flush()
    runtime = ctx.runtime
    sweep_id = sweep.id

    async def _enqueue() -> None:
        runtime.publish(ev.SweepStarted(type=body.type, total=len(rows), options=options),
                        experiment_id=experiment_id, sweep_id=sweep_id)
        runtime.publish(ev.ExperimentStarted(total=len(rows)), experiment_id=experiment_id, sweep_id=sweep_id)
        await runtime.queue_for().enqueue_sweep(sweep_id)

    after_commit(session, _enqueue)
    return SweepOut(
        sweep_id=sweep.id, experiment_id=experiment_id, type=body.type, status="running", total_runs=len(rows)
    )


async def pause_sweep(session: AsyncSession, ctx: AppContext, experiment_id: uuid.UUID) -> ExperimentOut:
    """Let in-flight runs finish and start no new one."""
    experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
    sweep = await _running_sweep(session, experiment_id)
    if sweep is None or sweep.status != "running":
        raise Conflict("No running sweep to pause.", code="no_running_sweep")
    sweep.status, experiment.status = "paused", "paused"
    await session.flush()
    runtime, sweep_id = ctx.runtime, sweep.id
    runtime.set_control(sweep_id, "paused")
    # Executors read the status (workers) or the control (in-process) before each run, so no new run
    # starts from the commit on; in-flight runs finish. The policy announces it, the same in both modes.
    after_commit(session, lambda: policy.announce_pause(ctx, runtime, experiment_id, sweep_id))
    return await experiment_out(session, experiment)


async def resume_sweep(session: AsyncSession, ctx: AppContext, experiment_id: uuid.UUID) -> ExperimentOut:
    """Continue with exactly the runs not yet done."""
    experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
    sweep = await _running_sweep(session, experiment_id)
    if sweep is None or sweep.status != "paused":
        raise Conflict("No paused sweep to resume.", code="no_paused_sweep")
    sweep.status, experiment.status = "running", "running"
    sweep.resumed_at = datetime.now(UTC)  # the ETA goes by this session's pace
    await session.flush()
    runtime, sweep_id = ctx.runtime, sweep.id

    async def _enqueue() -> None:
        runtime.publish(ev.ExperimentResumed(), experiment_id=experiment_id, sweep_id=sweep_id)
        await runtime.queue_for().enqueue_sweep(sweep_id)

    after_commit(session, _enqueue)
    return await experiment_out(session, experiment)


async def stop_sweep(session: AsyncSession, ctx: AppContext, experiment_id: uuid.UUID) -> ExperimentOut:
    """Stop for good: runs not started are dropped, in-flight runs finish, the experiment is completed."""
    experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
    sweep = await _running_sweep(session, experiment_id)
    if sweep is None:
        raise Conflict("No running or paused sweep to stop.", code="no_running_sweep")
    ctx.runtime.set_control(sweep.id, "stopped")
    # The sweep row first: workers claim runs under a share lock on it, so taking it before the run
    # rows keeps one lock order (no deadlock) and no run can start once the pending ones are dropped.
    await session.execute(update(Sweep).where(Sweep.id == sweep.id).values(status="stopped"))
    await session.execute(delete(Run).where(Run.sweep_id == sweep.id, Run.status == RunStatus.PENDING))
    experiment.status = "completed"
    await session.flush()
    progress = await policy.progress_from_db(session, sweep)
    best = await policy.best_score(session, experiment_id)
    ctx.runtime.publish(ev.ExperimentCompleted(best_score=best, stopped=True, **progress.as_data()),
                        experiment_id=experiment_id, sweep_id=sweep.id)
    return await experiment_out(session, experiment)


async def resume_interrupted(ctx: AppContext) -> list[uuid.UUID]:
    """On start: sweeps left running by a crash go on with the runs not done."""
    from promptlooper.db import session_scope

    async with session_scope(ctx.sessionmaker) as session:
        ids = list((await session.scalars(select(Sweep.id).where(Sweep.status == "running"))).all())
        if ids and ctx.runtime.queue_for().name == "in-process":  # this process restarts them: a new session
            await session.execute(update(Sweep).where(Sweep.id.in_(ids)).values(resumed_at=datetime.now(UTC)))
    for sweep_id in ids:
        await ctx.runtime.queue_for().enqueue_sweep(sweep_id)
    return ids
