"""Sweeps: expand the parameter space into pending runs, then steer them (pause, resume, stop)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import after_commit
from promptlooper.engine.definition import ExperimentDefinition
from promptlooper.engine.estimate import SweepEstimate, count_cached, estimate_sweep, sample_configs, with_cache
from promptlooper.engine.space import config_hash
from promptlooper.engine.trial import template_limit_errors
from promptlooper.errors import AppError, BadRequest, Conflict, InvalidDefinition, ServiceUnavailable
from promptlooper.events import types as ev
from promptlooper.models import Experiment, LLMEndpoint, ResponseCache, Run, RunOrigin, RunStatus, Sweep
from promptlooper.offload import run_cpu, run_isolated
from promptlooper.schemas import (
    ExperimentOut,
    ExperimentUpdate,
    HalvingEstimate,
    RedirectIn,
    RedirectOut,
    SweepCreate,
    SweepEstimateIn,
    SweepEstimateOut,
    SweepOut,
)
from promptlooper.services import rewrite as rewrite_rounds
from promptlooper.services import strategies
from promptlooper.services import sweep_policy as policy
from promptlooper.services.auth import release_connection
from promptlooper.services.common import get_or_404
from promptlooper.services.experiments import (
    apply_update,
    check_runnable,
    definition_of,
    experiment_out,
    validate_document,
)
from promptlooper.services.halving import projected_calls, rungs
from promptlooper.services.settings import get_settings
from promptlooper.services.stopping import cancel_leftovers, cancel_running_runs, refuse_while_runs_in_flight
from promptlooper.services.strategies import Proposal, StrategySpec, build_strategy, sweep_configs

CACHE_LOOKUP_BATCH = 500  # cache keys per `IN` query when an estimate checks what is already cached
log = logging.getLogger("promptlooper.sweeps")
UP_FRONT_TYPES = ("grid", "random")  # sweeps whose every run is planned from the space at the start
ENQUEUE_RETRY_S = 600.0  # how long a committed sweep's hand-over to the queue is retried in the background


async def require_queue(ctx: AppContext) -> None:
    """Refuse to start or resume a sweep while the run queue (Redis, production mode) is unreachable.

    Checked before anything is written, so a 503 leaves the experiment exactly as it was. Redis may
    still go away between this check and the hand-over after commit: `enqueue_reliably` covers that.
    """
    coordinator = ctx.coordinator
    if coordinator is not None and not await coordinator.reachable():
        raise ServiceUnavailable(
            "The run queue (Redis) is unreachable, so nothing was started or changed; "
            "try again once Redis is back (GET /health shows its state).", code="queue_unavailable")


async def enqueue_reliably(runtime: Any, sweep_id: uuid.UUID) -> None:
    """Hand a committed sweep to the queue; if the broker refuses, keep trying in the background.

    The sweep is committed as running by now, so raising here would answer 500 for a sweep that
    exists with nothing queued (issue 11 §3). The workers also re-dispatch every pending run of a
    running sweep when Redis comes back empty, so a sweep is never left without tasks.
    """
    try:
        await runtime.queue_for().enqueue_sweep(sweep_id)
    except Exception as exc:
        log.warning("sweep %s: the queue refused it (%s); retrying in the background", sweep_id, exc)
        runtime.spawn(_enqueue_later(runtime, sweep_id), name=f"enqueue-{sweep_id}")


async def _enqueue_later(runtime: Any, sweep_id: uuid.UUID) -> None:
    deadline, delay = time.monotonic() + ENQUEUE_RETRY_S, 0.5
    while True:
        await asyncio.sleep(delay)
        try:
            await runtime.queue_for().enqueue_sweep(sweep_id)
        except Exception as exc:
            if time.monotonic() > deadline:
                log.error("sweep %s: gave up handing it to the queue (%s); the workers' watchdog "
                          "dispatches its pending runs when Redis comes back empty", sweep_id, exc)
                return
            delay = min(delay * 2, 5.0)
            continue
        log.info("sweep %s: handed to the queue after a retry", sweep_id)
        return


def _strategy_spec(defn: ExperimentDefinition, body: SweepCreate, options: dict[str, Any],
                   default_endpoint_id: str | None, cap: int) -> StrategySpec:
    if not strategies.is_known(body.type):
        known = " or ".join(f"'{t}'" for t in strategies.known_types())
        raise InvalidDefinition([{"loc": ["body", "type"], "msg": f"Input should be {known}", "type": "literal_error",
                                  "input": body.type}])
    return StrategySpec(body.type, defn, options, default_endpoint_id, cap)


def _first_proposals(spec: StrategySpec) -> list[Proposal]:
    """The strategy's first answer (grid and random: every run). CPU-bound: run it off the loop."""
    return build_strategy(spec).ask().propose


async def estimate(session: AsyncSession, ctx: AppContext, body: SweepEstimateIn) -> SweepEstimateOut:
    """Runs, calls, tokens and cost a sweep of this (unsaved) document would make."""
    defn = await run_cpu(_definition_of_estimate, body)  # a 10 MB document takes a while to convert
    try:
        await validate_document(session, defn, trial=False)
    except InvalidDefinition as exc:
        raise InvalidDefinition([e | {"loc": ["body", "document", *e["loc"][1:]]} for e in exc.errors]) from exc
    settings = await get_settings(session, ctx)
    endpoints = list(await session.scalars(select(LLMEndpoint)))
    pricing = {str(e.id): dict(e.pricing or {}) for e in endpoints}
    base_urls = {str(e.id): e.url for e in endpoints}
    await release_connection(session)  # an estimate writes nothing: no pooled connection while it computes
    default_endpoint = str(settings.default_endpoint_id) if settings.default_endpoint_id else None
    try:
        outcome = await run_isolated(_estimate_isolated, defn, body.type, body.max_runs, body.seed, default_endpoint,
                                     ctx.settings.max_sweep_runs, body.repeats, pricing,
                                     [entry.scorer for entry in defn.scoring_config])
    except BrokenProcessPool as exc:
        raise ServiceUnavailable("The estimate's worker process died; try again.", code="estimate_failed") from exc
    if isinstance(outcome, _EstimateRefused):
        if outcome.errors is not None:
            error = InvalidDefinition(outcome.errors)
            error.code = outcome.code
            raise error
        raise BadRequest(outcome.detail, code=outcome.code)
    result, sampled = outcome

    async def lookup(keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(keys), CACHE_LOOKUP_BATCH):
            rows = await session.execute(
                select(ResponseCache.config_hash, ResponseCache.response).where(
                    ResponseCache.config_hash.in_(keys[start:start + CACHE_LOOKUP_BATCH]))
            )
            found.update({str(k): str(v) for k, v in rows.all()})
        return found

    # Bounded (MAX_CACHE_LOOKUPS keys over at most SAMPLED_CONFIGS configs) and yielding: fine on the loop.
    checked, cached = await count_cached(sampled, defn.sample_data, body.repeats, base_urls, lookup)
    out = SweepEstimateOut(**dataclasses.asdict(with_cache(result, checked, cached)))
    if body.early_stopping is not None:
        out.early_stopping = halving_estimate(out, body.early_stopping.min_samples, body.early_stopping.eta,
                                              body.halving_batch)
    return out


def halving_estimate(out: SweepEstimateOut, min_samples: int, eta: int, batch: int | None) -> HalvingEstimate:
    """Best and worst LLM stage calls of the estimated sweep with early stopping (see `halving.projected_calls`)."""
    size = batch or out.runs or 1
    best = worst = 0
    for start in range(0, out.runs, size):
        b, w = projected_calls(min(size, out.runs - start), out.samples, min_samples, eta, out.stages)
        best, worst = best + b, worst + w
    return HalvingEstimate(rungs=rungs(out.samples, min_samples, eta), llm_calls_best=best, llm_calls_worst=worst)


def _definition_of_estimate(body: SweepEstimateIn) -> ExperimentDefinition:
    return ExperimentDefinition.model_validate(body.document.model_dump(exclude={"project_id", "variant_names"}))


@dataclasses.dataclass(frozen=True)
class _EstimateRefused:
    """Why an isolated estimate refused (AppErrors do not survive pickling with their fields)."""

    code: str
    detail: str
    errors: list[dict[str, Any]] | None


def _estimate_isolated(defn: ExperimentDefinition, sweep_type: str, max_runs: int | None, seed: int | None,
                       default_endpoint: str | None, cap: int, repeats: int, pricing: dict[str, dict[str, Any]],
                       scorers: list[str]) -> tuple[SweepEstimate, list[Any]] | _EstimateRefused:
    """The CPU part of an estimate, run in the worker process: trial render, expansion, token estimate.

    Answers the estimate and the few configs the cache check renders (never the whole expansion).
    """
    try:
        limits = template_limit_errors(defn)
        if limits:
            raise InvalidDefinition([e | {"loc": ["body", "document", *e["loc"][1:]]} for e in limits])
        configs = sweep_configs(defn, sweep_type, max_runs, seed, default_endpoint, cap, ("body", "document"))
        return estimate_sweep(configs, defn.sample_data, repeats, pricing, scorers=scorers), sample_configs(configs)
    except InvalidDefinition as exc:
        return _EstimateRefused(code=exc.code, detail=exc.detail, errors=exc.errors)
    except AppError as exc:
        return _EstimateRefused(code=exc.code, detail=exc.detail, errors=None)


async def _running_sweep(session: AsyncSession, experiment_id: uuid.UUID) -> Sweep | None:
    return await session.scalar(
        select(Sweep).where(Sweep.experiment_id == experiment_id, Sweep.status.in_(("running", "paused")))
    )


async def _check_rewrite(session: AsyncSession, defn: ExperimentDefinition, body: SweepCreate,
                         default_endpoint: str | None) -> None:
    """`guided.rewrite` names a stage that exists, an endpoint that exists and a meta-prompt that compiles."""
    rewrite = body.guided.rewrite if body.guided is not None else None
    if rewrite is None:
        return
    from promptlooper.engine.definition import resolve_stage
    from promptlooper.engine.templates import TemplateError, compile_template

    loc = ["body", "guided", "rewrite"]
    problems: list[dict[str, Any]] = []
    if rewrite.stage is not None and resolve_stage(defn.pipeline_stages, rewrite.stage) is None:
        problems.append({"loc": [*loc, "stage"], "msg": f"Stage `{rewrite.stage}` does not exist.",
                         "type": "value_error"})
    endpoint_id = rewrite.endpoint_id or (uuid.UUID(default_endpoint) if default_endpoint else None)
    if endpoint_id is None or await session.get(LLMEndpoint, endpoint_id) is None:
        problems.append({"loc": [*loc, "endpoint_id"], "msg": "The optimizer's endpoint does not exist (and no "
                         "default endpoint is set).", "type": "value_error"})
    if rewrite.meta_prompt is not None:
        try:
            compile_template(rewrite.meta_prompt)
        except TemplateError as exc:
            problems.append({"loc": [*loc, "meta_prompt"], "msg": exc.message, "type": "value_error"})
    if problems:
        raise InvalidDefinition(problems)


async def start_sweep(session: AsyncSession, ctx: AppContext, experiment_id: uuid.UUID, body: SweepCreate) -> SweepOut:
    """Persist every run of the sweep as pending, then hand the sweep to the queue after commit."""
    experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
    if experiment.status == "running" or await _running_sweep(session, experiment_id) is not None:
        raise Conflict(
            "A sweep of this experiment is already running or paused; stop it first.", code="sweep_already_running"
        )
    await check_runnable(session, definition_of(experiment))  # the default endpoint may be gone since
    settings = await get_settings(session, ctx)
    default_endpoint = str(settings.default_endpoint_id) if settings.default_endpoint_id else None
    await _check_rewrite(session, definition_of(experiment), body, default_endpoint)
    await require_queue(ctx)  # before the in-flight check, which asks Redis too
    await refuse_while_runs_in_flight(session, ctx, experiment_id)
    # The strategy's first answer (grid and random: every run) is persisted as pending runs now;
    # later answers come from the sweep policy's `advance` when no run is left open.
    options = body.model_dump(mode="json", exclude_none=False)
    options["concurrency"] = body.concurrency or settings.max_concurrent_runs
    spec = _strategy_spec(definition_of(experiment), body, options, default_endpoint, ctx.settings.max_sweep_runs)
    proposals = await run_cpu(_first_proposals, spec)
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
    rows = policy.proposal_rows(experiment_id, sweep.id, proposals, body.type)
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
        await enqueue_reliably(runtime, sweep_id)

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
    await require_queue(ctx)
    sweep.status, experiment.status = "running", "running"
    sweep.resumed_at = datetime.now(UTC)  # the ETA goes by this session's pace
    await session.flush()
    runtime, sweep_id = ctx.runtime, sweep.id

    async def _enqueue() -> None:
        runtime.publish(ev.ExperimentResumed(), experiment_id=experiment_id, sweep_id=sweep_id)
        await enqueue_reliably(runtime, sweep_id)

    after_commit(session, _enqueue)
    return await experiment_out(session, experiment)


async def stop_sweep(session: AsyncSession, ctx: AppContext, experiment_id: uuid.UUID) -> ExperimentOut:
    """Stop for good: runs not started are dropped, in-flight runs are cancelled, the experiment is completed.

    In-flight runs end as `cancelled` in this transaction, so the experiment is `completed` with no
    run `running`; their calls are cancelled here (in-process) or by their worker within
    STOP_POLL_S, which also never persists an outcome over `cancelled` (issue 11 §4).
    """
    experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
    sweep = await _running_sweep(session, experiment_id)
    if sweep is None:
        raise Conflict("No running or paused sweep to stop.", code="no_running_sweep")
    ctx.runtime.set_control(sweep.id, "stopped")
    # The sweep row first: workers claim runs under a share lock on it, so taking it before the run
    # rows keeps one lock order (no deadlock) and no run can start once the pending ones are dropped.
    await session.execute(update(Sweep).where(Sweep.id == sweep.id).values(status="stopped"))
    # A pending run continued by early stopping keeps what it evaluated: cancelled, not dropped.
    await session.execute(update(Run).where(Run.sweep_id == sweep.id, Run.status == RunStatus.PENDING,
                                            Run.samples_evaluated.is_not(None))
                          .values(status=RunStatus.CANCELLED, completed_at=datetime.now(UTC)))
    await session.execute(delete(Run).where(Run.sweep_id == sweep.id, Run.status == RunStatus.PENDING))
    cancelled = await cancel_running_runs(session, sweep.id)
    experiment.status = "completed"
    await session.flush()
    progress = await policy.progress_from_db(session, sweep)
    best = await policy.best_score(session, experiment_id)
    completed = ev.ExperimentCompleted(best_score=best, stopped=True, cancelled=cancelled, **progress.as_data())
    ctx.runtime.publish(completed, experiment_id=experiment_id, sweep_id=sweep.id)
    return await experiment_out(session, experiment)


def _redirect_configs(spec: StrategySpec) -> list[Proposal]:
    """Every run the sweep's type plans for the (new) space: configs x repeats. CPU-bound: run it off the loop."""
    configs = sweep_configs(spec.defn, spec.sweep_type, spec.max_runs, spec.seed, spec.default_endpoint_id,
                            spec.cap, ("body",))
    return [Proposal(config=c, repeat_index=r) for c in configs for r in range(spec.repeats)]


async def redirect_sweep(session: AsyncSession, ctx: AppContext, experiment_id: uuid.UUID,
                         body: RedirectIn) -> RedirectOut:
    """Change the parameter space of a running or paused sweep, in one transaction under its row lock.

    Runs done stay; pending runs the new space no longer plans are dropped; the new space's runs
    that are neither in the sweep nor already evaluated in the experiment (a done run with the same
    `config_hash` and repeat) are added as pending; pending runs that remain are kept as they are.
    The space is validated as a PUT of it would be and becomes the experiment's. After commit:
    `sweep.redirected`, and a running sweep's executor is handed the new runs (a paused one keeps
    them pending until it resumes).

    A service rather than the strategy seam's `Decision.drop`: `advance` acts only on a running
    sweep and its strategy is rebuilt from the stored document, while a redirect must also work
    paused and change that document in the same transaction; for up-front sweeps (grid, random)
    the answer is a set difference against the new expansion, made here once for both modes.
    """
    experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
    sweep = await session.scalar(
        select(Sweep)
        .where(Sweep.experiment_id == experiment_id, Sweep.status.in_(("running", "paused")))
        .with_for_update()  # the sweep row first, as stop does: workers claim runs under a share lock on it
    )
    if sweep is None:
        raise Conflict("No running or paused sweep to redirect; start a sweep (or update the experiment).",
                       code="no_running_sweep")
    if sweep.type not in UP_FRONT_TYPES:
        raise BadRequest(f"A {sweep.type} sweep cannot be redirected yet; grid and random sweeps can.",
                         code="unsupported_sweep_type")
    if sweep.options.get("early_stopping"):
        raise BadRequest("A sweep with early stopping cannot be redirected yet; stop it and start another.",
                         code="unsupported_sweep_type")
    await apply_update(session, experiment, ExperimentUpdate(parameter_space=body.parameter_space), ctx,
                       redirect=True)
    settings = await get_settings(session, ctx)
    default_endpoint = str(settings.default_endpoint_id) if settings.default_endpoint_id else None
    spec = StrategySpec(sweep.type, definition_of(experiment), dict(sweep.options), default_endpoint,
                        ctx.settings.max_sweep_runs)
    planned = await run_cpu(_redirect_configs, spec)
    wanted = {(config_hash(p.config), p.repeat_index) for p in planned}
    runs = (await session.execute(
        select(Run.id, Run.config_hash, Run.repeat_index, Run.status, Run.sweep_id).where(
            Run.experiment_id == experiment_id,
            or_(Run.sweep_id == sweep.id, Run.status.in_(policy.DONE_STATUSES)))
    )).all()
    drop = [r.id for r in runs if r.sweep_id == sweep.id and r.status == RunStatus.PENDING
            and (r.config_hash, r.repeat_index) not in wanted]
    dropped = 0
    if drop:
        result = await session.execute(
            delete(Run).where(Run.sweep_id == sweep.id, Run.id.in_(drop), Run.status == RunStatus.PENDING)
        )
        dropped = int(result.rowcount or 0)  # type: ignore[attr-defined]
    dropping = set(drop)
    have = {(r.config_hash, r.repeat_index) for r in runs if r.id not in dropping}
    added: list[Proposal] = []
    seen: set[tuple[str, int]] = set()
    for p in planned:
        key = (config_hash(p.config), p.repeat_index)
        if key not in have and key not in seen:
            seen.add(key)
            added.append(p)
    rows = policy.proposal_rows(experiment_id, sweep.id, added, RunOrigin.REDIRECT)
    if rows:
        await session.execute(insert(Run), rows)
    sweep.total_runs = int(await session.scalar(
        select(func.count()).select_from(Run).where(Run.sweep_id == sweep.id)) or 0)
    await session.flush()
    out = RedirectOut(sweep_id=sweep.id, dropped=dropped, added=len(rows), total_runs=sweep.total_runs)
    runtime, sweep_id, running = ctx.runtime, sweep.id, sweep.status == "running"
    new_runs = [row["id"] for row in rows]

    async def _hand_over() -> None:
        control = runtime.controls.get(sweep_id)
        if control is not None:  # in-process: the executor's progress events carry the new total
            control.total_runs = out.total_runs
        runtime.publish(ev.SweepRedirected(dropped=out.dropped, added=out.added, total_runs=out.total_runs),
                        experiment_id=experiment_id, sweep_id=sweep_id)
        if not running:
            return  # paused: the new runs stay pending; a resume hands every pending run over
        enqueue_runs = getattr(runtime.queue_for(), "enqueue_runs", None)
        if enqueue_runs is None:
            # In-process: a pass after the current one (which may have just seen nothing open) runs them.
            await enqueue_reliably(runtime, sweep_id)
            return
        if new_runs:
            await enqueue_runs(sweep_id, new_runs)
        # The redirect may have left nothing open (every pending run dropped): the policy completes it.
        more = await policy.advance(ctx, runtime, sweep_id)
        if more:
            await enqueue_runs(sweep_id, more)

    after_commit(session, _hand_over)
    return out


async def resume_interrupted(ctx: AppContext) -> list[uuid.UUID]:
    """On start: sweeps left running by a crash go on with the runs not done."""
    from promptlooper.db import session_scope

    if ctx.runtime.queue_for().name == "in-process":
        # Nothing of this process survived the restart: a run still `running` in a stopped or
        # completed sweep is a leftover (in production the workers' watchdog checks leases first).
        await cancel_leftovers(ctx)
        async with session_scope(ctx.sessionmaker) as session:  # an optimizer round in flight died with us
            await rewrite_rounds.forget_lost_rounds(session, None, 0.0)
    async with session_scope(ctx.sessionmaker) as session:
        ids = list((await session.scalars(select(Sweep.id).where(Sweep.status == "running"))).all())
        if ids and ctx.runtime.queue_for().name == "in-process":  # this process restarts them: a new session
            await session.execute(update(Sweep).where(Sweep.id.in_(ids)).values(resumed_at=datetime.now(UTC)))
    for sweep_id in ids:
        await enqueue_reliably(ctx.runtime, sweep_id)  # Redis down at boot must not keep the API down
    return ids
