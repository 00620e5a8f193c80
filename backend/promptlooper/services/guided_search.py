"""Agent-driven search: read a sweep, ask its sampler what it would try next, add configurations.

REST (`routers/sweep_search.py`) and MCP (`mcp/tools_search.py`) call these. Suggestions are the
guided strategy's own `suggest`, built from the sweep's runs like `sweep_policy.advance` builds it,
so they are what the sweep would run next; nothing is written. Added configurations are inserted
as `pending` runs of the running guided sweep under the sweep row's lock (the same lock `advance`
takes), count against `max_runs`, and are handed to the queue after commit: in-process a pass of
the sweep's loop picks them up, in production one `runs.execute` task per run is sent.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import after_commit
from promptlooper.engine.space import SpaceError, apply_overrides, config_hash
from promptlooper.errors import Conflict, InvalidDefinition, NotFound
from promptlooper.models import Experiment, PromptProposal, Run, RunOrigin, Sweep
from promptlooper.offload import run_cpu
from promptlooper.schemas import (
    SuggestedConfig,
    SuggestionsOut,
    SweepConfigsAdd,
    SweepConfigsAdded,
    SweepDetail,
)
from promptlooper.services import sweep_policy as policy
from promptlooper.services.common import get_or_404
from promptlooper.services.experiments import definition_of
from promptlooper.services.guided import DEFAULT_MAX_RUNS, GuidedStrategy
from promptlooper.services.strategies import Proposal

MAX_SUGGESTIONS = 50


async def get_sweep(session: AsyncSession, sweep_id: uuid.UUID) -> SweepDetail:
    """The sweep with its progress counts and best score."""
    sweep = await get_or_404(session, Sweep, sweep_id, "Sweep")
    counts = dict((await session.execute(
        select(Run.status, func.count()).where(Run.sweep_id == sweep_id).group_by(Run.status))).all())
    totals = (await session.execute(
        select(func.coalesce(func.sum(Run.tokens_in), 0), func.coalesce(func.sum(Run.tokens_out), 0),
               func.coalesce(func.sum(Run.cost_estimate), 0.0))
        .where(Run.sweep_id == sweep_id, Run.status.in_(("completed", "cached", "failed", "pruned")))
    )).one()
    best = await session.scalar(select(func.max(Run.weighted_score)).where(
        Run.sweep_id == sweep_id, Run.status.in_(("completed", "cached")), Run.rejected.is_(False),
        Run.sample_ids.is_(None)))  # scored on every sample (early stopping)
    waiting = await session.scalar(select(func.count()).select_from(PromptProposal).where(
        PromptProposal.sweep_id == sweep_id, PromptProposal.status == "pending"))
    max_runs = sweep.options.get("max_runs")
    if max_runs is None and sweep.type == "guided":
        max_runs = DEFAULT_MAX_RUNS
    return SweepDetail(
        sweep_id=sweep.id, experiment_id=sweep.experiment_id, type=sweep.type, status=sweep.status,
        total_runs=sweep.total_runs, max_runs=max_runs,
        completed=int(counts.get("completed", 0)), failed=int(counts.get("failed", 0)),
        cached=int(counts.get("cached", 0)), cancelled=int(counts.get("cancelled", 0)),
        pending=int(counts.get("pending", 0)), running=int(counts.get("running", 0)),
        pruned=int(counts.get("pruned", 0)),
        tokens_in=int(totals[0]), tokens_out=int(totals[1]), cost_estimate=float(totals[2]),
        best_score=float(best) if best is not None else None, pending_proposals=int(waiting or 0),
        options=dict(sweep.options),
        created_at=sweep.created_at, completed_at=sweep.completed_at,
    )


async def _guided_strategy(ctx: AppContext, session: AsyncSession, sweep: Sweep) -> GuidedStrategy:
    if sweep.type != "guided":
        raise Conflict(f"Sweep {sweep.id} is a {sweep.type} sweep; only a guided sweep has a sampler to ask "
                       "or takes configurations.", code="not_a_guided_sweep")
    plan = await policy.load_plan(ctx, session, sweep)
    if plan is None:
        raise Conflict("The sweep's experiment is gone.", code="not_a_guided_sweep")
    strategy = GuidedStrategy(plan.spec())
    from promptlooper.services.halving import HalvingStrategy

    halving = bool(sweep.options.get("early_stopping"))
    for trial in await policy.trials_of(session, sweep.id):
        strategy.tell(HalvingStrategy.as_inner_sees_it(trial) if halving else trial)
    return strategy


async def suggest(session: AsyncSession, ctx: AppContext, sweep_id: uuid.UUID, n: int) -> SuggestionsOut:
    """Up to n configurations the guided sweep's sampler would try next (never any it already holds)."""
    sweep = await get_or_404(session, Sweep, sweep_id, "Sweep")
    strategy = await _guided_strategy(ctx, session, sweep)
    suggested = await run_cpu(strategy.suggest, n)  # an Optuna study rebuilt from every run: off the loop
    return SuggestionsOut(items=[SuggestedConfig(overrides=o) for o in suggested])


def _resolve(experiment: Experiment, body: SweepConfigsAdd, default_endpoint: str | None) -> list[dict[str, Any]]:
    defn = definition_of(experiment)
    configs: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(body.configs):
        loc = ["body", "configs", index, "overrides"]
        lists = [k for k, v in item.overrides.items() if isinstance(v, list)]
        if lists:
            errors.append({"loc": [*loc, lists[0]], "msg": f"`{lists[0]}` needs a single value, not a list",
                           "type": "invalid_overrides"})
            continue
        try:
            configs.append(apply_overrides(defn, item.overrides, default_endpoint))
        except SpaceError as exc:
            errors.append({"loc": loc, "msg": str(exc), "type": "invalid_overrides"})
    if errors:
        raise InvalidDefinition(errors)
    return configs


async def add_configs(session: AsyncSession, ctx: AppContext, sweep_id: uuid.UUID,
                      body: SweepConfigsAdd) -> SweepConfigsAdded:
    """Persist the configurations as pending runs of the running guided sweep, then dispatch them."""
    # Locked like `advance` locks it (and read fresh under the lock), so a wave and an agent never interleave.
    sweep = await session.scalar(select(Sweep).where(Sweep.id == sweep_id).with_for_update())
    if sweep is None:
        raise NotFound(f"Sweep {sweep_id} does not exist.", code="sweep_not_found")
    if sweep.type != "guided":
        await _guided_strategy(ctx, session, sweep)  # raises not_a_guided_sweep
    if sweep.status != "running":
        raise Conflict(f"The sweep is {sweep.status}; configurations are added to a running sweep.",
                       code="sweep_not_running")
    plan = await policy.load_plan(ctx, session, sweep)
    experiment = await get_or_404(session, Experiment, sweep.experiment_id, "Experiment")
    assert plan is not None
    configs = _resolve(experiment, body, plan.default_endpoint_id)
    held = set((await session.scalars(select(Run.config_hash).where(Run.sweep_id == sweep_id))).all())
    new: dict[str, dict[str, Any]] = {}
    for config in configs:
        digest = config_hash(config)
        if digest not in held:
            new.setdefault(digest, config)
    max_runs = int(sweep.options.get("max_runs") or DEFAULT_MAX_RUNS)
    if len(held) + len(new) > max_runs:
        raise Conflict(f"The sweep holds {len(held)} of its max_runs {max_runs} configurations; "
                       f"{len(new)} more do not fit.", code="max_runs_reached")
    if not new:
        return SweepConfigsAdded(added=0, run_ids=[])
    repeats = int(sweep.options.get("repeats") or 1)
    samples = None
    if sweep.options.get("early_stopping"):  # an added configuration climbs the rungs like the sampler's
        from promptlooper.services.halving import first_rung

        samples = first_rung(plan.spec())
    proposals = [Proposal(config=c, repeat_index=r, samples=samples) for c in new.values() for r in range(repeats)]
    rows = policy.proposal_rows(sweep.experiment_id, sweep_id, proposals, RunOrigin.AGENT)
    await session.execute(insert(Run), rows)
    sweep.total_runs += len(rows)
    await session.flush()
    run_ids = [row["id"] for row in rows]
    runtime = ctx.runtime

    async def _dispatch() -> None:
        queue = runtime.queue_for()
        enqueue_runs = getattr(queue, "enqueue_runs", None)
        if enqueue_runs is not None:
            await enqueue_runs(sweep_id, run_ids)
        else:  # in-process: a pass of the sweep's loop (after the current one) runs every open run
            await queue.enqueue_sweep(sweep_id)

    after_commit(session, _dispatch)
    return SweepConfigsAdded(added=len(new), run_ids=run_ids)
