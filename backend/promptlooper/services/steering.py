"""Steering and project memory: fork an experiment from a run, approve a run into a saved
configuration, pick the configuration an export serves, and record every export served."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.auth import Principal
from promptlooper.context import AppContext
from promptlooper.db import after_commit
from promptlooper.engine.definition import ExperimentDefinition
from promptlooper.errors import BadRequest, Conflict, InvalidDefinition, NotFound
from promptlooper.events import types as ev
from promptlooper.models import Experiment, ExportRecord, Project, Run, SavedConfig
from promptlooper.schemas import (
    ApproveIn,
    ExperimentOut,
    ExportRecordOut,
    ForkCreate,
    Page,
    SavedConfigOut,
)
from promptlooper.services.common import get_or_404, paginate
from promptlooper.services.experiments import _document, experiment_out, validate_document
from promptlooper.services.results import FINAL_OK, leaderboard, scores_by_run

EXPORT_FORMATS = ("json", "env", "yaml", "report")
STAGE_KEYS = ("name", "endpoint_id", "model", "system_prompt", "prompt_template", "params")


# ---- fork -----------------------------------------------------------------------------------


async def _best_run(session: AsyncSession, experiment_id: uuid.UUID, what: str,
                    sweep_id: uuid.UUID | None = None) -> Run:
    """The leaderboard's best run whose configuration is not rejected (a cached twin of a rejected run is)."""
    board = await leaderboard(session, experiment_id, 100, "weighted_score", sweep_id, with_stats=False)
    for entry in board.items:
        if not await config_rejected(session, experiment_id, entry.config_hash):
            run = await session.get(Run, entry.run_id)
            assert run is not None
            return run
    raise NotFound(
        f"This experiment has no completed runs to {what} yet; run a sweep first.", code="no_completed_runs"
    )


async def _run_of(session: AsyncSession, experiment_id: uuid.UUID, run_id: uuid.UUID) -> Run:
    run = await get_or_404(session, Run, run_id, "Run")
    if run.experiment_id != experiment_id:
        raise NotFound(f"Run {run_id} is not a run of experiment {experiment_id}.", code="run_not_found")
    return run


def _merge_stages(stages: list[dict[str, Any]], changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each change is merged into the stage of its name (its `params` over the stage's); a new name is appended."""
    out = [dict(s) for s in stages]
    for change in changes:
        target = next((s for s in out if s.get("name") == change.get("name")), None)
        if target is None:
            out.append(dict(change))
            continue
        for key, value in change.items():
            if key == "params" and isinstance(value, dict):
                target["params"] = {**(target.get("params") or {}), **value}
            else:
                target[key] = value
    return out


def _invalid(exc: ValidationError) -> InvalidDefinition:
    return InvalidDefinition(
        [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    )


async def fork_experiment(session: AsyncSession, experiment_id: uuid.UUID, body: ForkCreate) -> ExperimentOut:
    """A new draft experiment in the same project whose stages are the run's resolved stages.

    The run's template variables are pinned as one-value `vars.<name>` dimensions (a given
    parameter space keeps them unless it sweeps them itself). Because the cache keys the full
    request, every call the changes leave as it was is a cache hit when the fork runs.
    """
    source = await get_or_404(session, Experiment, experiment_id, "Experiment")
    if body.run_id is not None:
        run = await _run_of(session, experiment_id, body.run_id)
    else:
        run = await _best_run(session, experiment_id, "fork")
    stages = [{k: v for k, v in stage.items() if k in STAGE_KEYS} for stage in run.config.get("stages", [])]
    pinned = {f"vars.{name}": [value] for name, value in (run.config.get("vars") or {}).items()}
    space = pinned if body.parameter_space is None else pinned | body.parameter_space
    doc: dict[str, Any] = {
        "name": body.name,
        "description": source.description,
        "sample_data": source.sample_data,
        "pipeline_stages": stages,
        "scoring_config": source.scoring_config,
        "parameter_space": space,
    }
    changes = body.changes.model_dump(exclude_unset=True) if body.changes else {}
    for key, value in changes.items():
        if value is None:
            continue
        if key == "pipeline_stages":
            doc["pipeline_stages"] = _merge_stages(doc["pipeline_stages"], value)
        elif key == "parameter_space":
            doc["parameter_space"] = pinned | value
        elif key != "name":
            doc[key] = value
    try:
        defn = ExperimentDefinition.model_validate(doc)
    except ValidationError as exc:
        raise _invalid(exc) from exc
    await validate_document(session, defn)
    fork = Experiment(
        project_id=source.project_id,
        forked_from_experiment_id=source.id,
        forked_from_run_id=run.id,
        **_document(defn),
    )
    session.add(fork)
    await session.flush()
    return await experiment_out(session, fork)


# ---- approve and reject ---------------------------------------------------------------------


async def config_rejected(session: AsyncSession, experiment_id: uuid.UUID | None, config_hash: str) -> bool:
    """Whether a configuration is rejected in an experiment (any of its runs with that hash is)."""
    if experiment_id is None:
        return False
    return bool(
        await session.scalar(
            select(
                exists().where(
                    Run.experiment_id == experiment_id, Run.config_hash == config_hash, Run.rejected.is_(True)
                )
            )
        )
    )


async def approve_run(
    session: AsyncSession, ctx: AppContext | None, principal: Principal, run_id: uuid.UUID, body: ApproveIn
) -> SavedConfigOut:
    """Save a finished run's configuration to its project; a `config.approved` event follows the commit."""
    run = await get_or_404(session, Run, run_id, "Run")
    if run.status not in FINAL_OK:
        raise Conflict(f"Only a finished run can be approved; this one is {run.status}.", code="run_not_finished")
    if await config_rejected(session, run.experiment_id, run.config_hash):
        raise Conflict(
            "This configuration is rejected; restore it (PUT /runs/{id} {\"rejected\": false}) before approving it.",
            code="config_rejected",
        )
    experiment = await get_or_404(session, Experiment, run.experiment_id, "Experiment")
    saved = SavedConfig(
        project_id=experiment.project_id,
        experiment_id=experiment.id,
        run_id=run.id,
        name=body.name or experiment.name,
        note=body.note,
        config=run.config,
        config_hash=run.config_hash,
        score=run.weighted_score,
        scores=(await scores_by_run(session, [run.id])).get(run.id, {}),
        approved_by=principal.username,
    )
    session.add(saved)
    await session.flush()
    out = SavedConfigOut.model_validate(saved)
    if ctx is not None:
        runtime = ctx.runtime

        async def _publish() -> None:
            runtime.publish(
                ev.ConfigApproved(
                    saved_config_id=str(out.id),
                    project_id=str(out.project_id),
                    name=out.name,
                    note=out.note,
                    config_hash=out.config_hash,
                    score=out.score,
                    approved_by=out.approved_by,
                ),
                experiment_id=experiment.id,
                run_id=run_id,
            )

        after_commit(session, _publish)
    return out


# ---- project memory -------------------------------------------------------------------------


async def list_saved_configs(
    session: AsyncSession, project_id: uuid.UUID, experiment_id: uuid.UUID | None, limit: int, offset: int
) -> Page[SavedConfigOut]:
    """A project's saved configurations, latest approval first (optionally of one experiment)."""
    await get_or_404(session, Project, project_id, "Project")
    stmt = select(SavedConfig).where(SavedConfig.project_id == project_id)
    if experiment_id is not None:
        stmt = stmt.where(SavedConfig.experiment_id == experiment_id)
    rows, total = await paginate(session, stmt.order_by(SavedConfig.approved_at.desc(), SavedConfig.id), limit, offset)
    return Page(items=[SavedConfigOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)


async def get_saved_config(session: AsyncSession, saved_config_id: uuid.UUID) -> SavedConfigOut:
    """One saved configuration."""
    return SavedConfigOut.model_validate(
        await get_or_404(session, SavedConfig, saved_config_id, "Saved configuration")
    )


async def list_exports(session: AsyncSession, project_id: uuid.UUID, limit: int, offset: int) -> Page[ExportRecordOut]:
    """A project's export history, newest first."""
    await get_or_404(session, Project, project_id, "Project")
    stmt = select(ExportRecord).where(ExportRecord.project_id == project_id)
    rows, total = await paginate(session, stmt.order_by(ExportRecord.created_at.desc(), ExportRecord.id), limit, offset)
    return Page(items=[ExportRecordOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)


# ---- which configuration an export serves ---------------------------------------------------


@dataclass
class ExportTarget:
    """The configuration an export serves and where it came from."""

    experiment: Experiment
    config: dict[str, Any]
    config_hash: str
    score: float | None
    scores: dict[str, float] = field(default_factory=dict)
    run_id: uuid.UUID | None = None
    saved_config_id: uuid.UUID | None = None


async def _refuse_rejected(session: AsyncSession, experiment_id: uuid.UUID | None, config_hash: str) -> None:
    if await config_rejected(session, experiment_id, config_hash):
        raise Conflict(
            "This configuration is rejected, so it is not exported; restore it first.", code="config_rejected"
        )


def _saved_target(experiment: Experiment, saved: SavedConfig) -> ExportTarget:
    return ExportTarget(
        experiment=experiment,
        config=saved.config,
        config_hash=saved.config_hash,
        score=saved.score,
        scores=dict(saved.scores or {}),
        run_id=saved.run_id,
        saved_config_id=saved.id,
    )


async def export_target(
    session: AsyncSession,
    experiment_id: uuid.UUID,
    run_id: uuid.UUID | None = None,
    saved_config_id: uuid.UUID | None = None,
    sweep_id: uuid.UUID | None = None,
) -> ExportTarget:
    """What an export of the experiment serves: the run or saved configuration asked for, else the
    latest approval of the experiment that is not rejected, else the best run of the leaderboard.
    With `sweep_id` (the dashboard's sweep selector) and nothing asked for: that sweep's best run.
    A rejected configuration is never served."""
    experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
    if run_id is not None and saved_config_id is not None:
        raise BadRequest("Give run_id or saved_config_id, not both.", code="ambiguous_export")
    if saved_config_id is not None:
        saved = await get_or_404(session, SavedConfig, saved_config_id, "Saved configuration")
        if saved.project_id != experiment.project_id:
            raise NotFound(
                f"Saved configuration {saved_config_id} belongs to another project.",
                code="saved_configuration_not_found",
            )
        await _refuse_rejected(session, saved.experiment_id, saved.config_hash)
        return _saved_target(experiment, saved)
    if run_id is not None:
        run = await _run_of(session, experiment_id, run_id)
        if run.status not in FINAL_OK:
            raise Conflict(f"Only a finished run can be exported; this one is {run.status}.", code="run_not_finished")
        await _refuse_rejected(session, experiment_id, run.config_hash)
    elif sweep_id is not None:
        run = await _best_run(session, experiment_id, "export", sweep_id)
    else:
        approvals = await session.scalars(
            select(SavedConfig)
            .where(SavedConfig.experiment_id == experiment_id)
            .order_by(SavedConfig.approved_at.desc(), SavedConfig.id)
        )
        for saved in approvals:
            if not await config_rejected(session, experiment_id, saved.config_hash):
                return _saved_target(experiment, saved)
        run = await _best_run(session, experiment_id, "export")
    return ExportTarget(
        experiment=experiment,
        config=run.config,
        config_hash=run.config_hash,
        score=run.weighted_score,
        scores=(await scores_by_run(session, [run.id])).get(run.id, {}),
        run_id=run.id,
    )


def record_export(session: AsyncSession, target: ExportTarget, format: str, principal: Principal | None) -> None:
    """One export-history row for an export served (flushed with the unit of work)."""
    session.add(
        ExportRecord(
            project_id=target.experiment.project_id,
            experiment_id=target.experiment.id,
            run_id=target.run_id,
            saved_config_id=target.saved_config_id,
            format=format,
            config_hash=target.config_hash,
            user=principal.username if principal else None,
        )
    )
