"""Ad-hoc runs: one configuration executed now, through the same path as sweep runs."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.engine.space import SpaceError, apply_overrides, config_hash
from promptlooper.errors import BadRequest
from promptlooper.models import Experiment, Run, RunOrigin, RunStatus
from promptlooper.schemas import AdHocRun, RunDetail
from promptlooper.services.common import get_or_404
from promptlooper.services.execution import resolve_handles, run_once
from promptlooper.services.experiments import definition_of
from promptlooper.services.results import run_detail
from promptlooper.services.settings import get_settings


async def run_adhoc(session: AsyncSession, ctx: AppContext, body: AdHocRun) -> RunDetail:
    """Resolve the overrides into a config, execute it on every sample and answer the finished run."""
    experiment = await get_or_404(session, Experiment, body.experiment_id, "Experiment")
    settings = await get_settings(session, ctx)
    default_endpoint = str(settings.default_endpoint_id) if settings.default_endpoint_id else None
    defn = definition_of(experiment)
    try:
        config = apply_overrides(defn, body.overrides, default_endpoint)
    except SpaceError as exc:
        raise BadRequest(str(exc), code="invalid_overrides") from exc
    runtime = ctx.runtime
    handles = await resolve_handles(runtime, session, [config], default_endpoint)
    run = Run(
        experiment_id=experiment.id,
        config_hash=config_hash(config),
        config=config,
        repeat_index=body.repeat_index,
        status=RunStatus.PENDING,
        origin=RunOrigin.USER,
    )
    session.add(run)
    await session.flush()
    run_id = run.id
    # The run executes in its own units of work, so its pending row must be committed first.
    await session.commit()
    limiter = asyncio.Semaphore(settings.max_concurrent_runs)
    await run_once(ctx, runtime, run_id, defn, handles, limiter, default_endpoint)
    session.expire_all()
    return await run_detail(session, run_id)
