"""Experiments: validated documents of samples, stages, scorers and a parameter space."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import after_commit
from promptlooper.engine import scorers
from promptlooper.engine.definition import (
    DefinitionError,
    ExperimentDefinition,
    parse_space_key,
    validate_definition,
)
from promptlooper.engine.space import count_grid
from promptlooper.engine.trial import template_limit_errors
from promptlooper.errors import Conflict, InvalidDefinition
from promptlooper.models import AppSetting, Experiment, LLMEndpoint, Project, Run, Sweep
from promptlooper.offload import run_cpu
from promptlooper.schemas import (
    ExperimentCreate,
    ExperimentOut,
    ExperimentSummary,
    ExperimentUpdate,
    ForkedFrom,
    Page,
)
from promptlooper.services.common import get_or_404, paginate
from promptlooper.services.secrets import mask_scoring_config, seal_scoring_config

DOCUMENT_FIELDS = ("name", "description", "sample_data", "pipeline_stages", "scoring_config", "parameter_space")


def definition_of(experiment: Experiment) -> ExperimentDefinition:
    """The stored document as the engine's model."""
    return ExperimentDefinition.model_validate({f: getattr(experiment, f) for f in DOCUMENT_FIELDS})


async def _default_endpoint(session: AsyncSession) -> str | None:
    setting = await session.get(AppSetting, "default_endpoint_id")
    value = None if setting is None else setting.value
    return str(value) if value and await _endpoint_exists(session, str(value)) else None


def _space_sets_endpoint(defn: ExperimentDefinition) -> set[int | None]:
    """Stages (None: every stage) whose endpoint the parameter space sets on every config."""
    covered: set[int | None] = set()
    for key, values in defn.parameter_space.items():
        target = parse_space_key(key, defn.pipeline_stages)
        if isinstance(target, str) or target.kind != "field" or target.name != "endpoint_id":
            continue
        if isinstance(values, list) and values and all(values):
            covered.add(target.stage)
    return covered


async def _stages_without_endpoint(session: AsyncSession, defn: ExperimentDefinition) -> list[dict[str, Any]]:
    """A stage that names no endpoint runs on the default one; without a default it could never run."""
    if await _default_endpoint(session) is not None:
        return []
    covered = _space_sets_endpoint(defn)
    if None in covered:
        return []
    return [
        {
            "loc": ["body", "pipeline_stages", index, "endpoint_id"],
            "msg": "This stage names no endpoint and no default endpoint is set: choose an endpoint "
            "(or set a default one in the admin settings).",
            "type": "missing_endpoint",
        }
        for index, stage in enumerate(defn.pipeline_stages)
        if stage.endpoint_id is None and index not in covered
    ]


async def check_runnable(session: AsyncSession, defn: ExperimentDefinition) -> None:
    """Refuse (422 on the stage) a document with a stage that has no endpoint to run on."""
    errors = await _stages_without_endpoint(session, defn)
    if errors:
        raise InvalidDefinition(errors)


async def _check_endpoints(session: AsyncSession, defn: ExperimentDefinition) -> None:
    errors: list[dict[str, Any]] = await _stages_without_endpoint(session, defn)
    for index, stage in enumerate(defn.pipeline_stages):
        if stage.endpoint_id is not None and not await _endpoint_exists(session, stage.endpoint_id):
            errors.append(
                {
                    "loc": ["body", "pipeline_stages", index, "endpoint_id"],
                    "msg": f"Endpoint {stage.endpoint_id} does not exist.",
                    "type": "unknown_endpoint",
                }
            )
    for key, values in defn.parameter_space.items():
        if not isinstance(values, list):
            continue
        if key.split(".")[-1] == "endpoint_id" or (key.startswith("stages.") and key.count(".") == 1):
            linked = key.count(".") == 1 and key.startswith("stages.")
            for value in values:
                if linked:  # a linked choice's values are partial stage objects
                    if not isinstance(value, dict) or value.get("endpoint_id") is None:
                        continue
                    value = value["endpoint_id"]
                if not await _endpoint_exists(session, str(value)):
                    errors.append(
                        {
                            "loc": ["body", "parameter_space", key],
                            "msg": f"Endpoint {value} does not exist.",
                            "type": "unknown_endpoint",
                        }
                    )
    if errors:
        raise InvalidDefinition(errors)


async def _endpoint_exists(session: AsyncSession, endpoint_id: str) -> bool:
    try:
        return await session.get(LLMEndpoint, uuid.UUID(str(endpoint_id))) is not None
    except ValueError:
        return False


async def validate_document(session: AsyncSession, defn: ExperimentDefinition, trial: bool = True) -> None:
    """Every rule of the experiment document; raises a 422 listing all problems.

    `trial`: also trial-render the templates (off the loop) so one that crosses a template limit is
    refused now; a caller that releases its connection first passes False and calls `check_template_limits`.
    """
    try:
        validate_definition(defn, scorers.known_scorer_ids(), scorers.validate_scorer_config)
    except DefinitionError as exc:
        raise InvalidDefinition([_body_loc(e) for e in exc.errors]) from exc
    if trial:
        await check_template_limits(defn)
    await _check_endpoints(session, defn)


async def check_template_limits(defn: ExperimentDefinition) -> None:
    """A 422 for every stage template that a template limit stops (a bounded trial render on the CPU pool)."""
    limits = await run_cpu(template_limit_errors, defn)
    if limits:
        raise InvalidDefinition(limits)


def _body_loc(error: dict[str, Any]) -> dict[str, Any]:
    loc = list(error.get("loc", []))
    return error | {"loc": loc if loc[:1] == ["body"] else ["body", *loc]}


def _document(defn: ExperimentDefinition) -> dict[str, Any]:
    return defn.model_dump(mode="json", include=set(DOCUMENT_FIELDS))


def check_variant_names(names: dict[str, list[str]], defn: ExperimentDefinition) -> dict[str, list[str]]:
    """Names only for list-valued keys of the parameter space, at most one per value; blanks trimmed off."""
    problems: list[dict[str, Any]] = []
    out: dict[str, list[str]] = {}
    for key, labels in names.items():
        values = defn.parameter_space.get(key)
        if not isinstance(values, list):
            problems.append({"loc": ["body", "variant_names", key], "type": "value_error",
                             "msg": f"`{key}` is not a list of values in parameter_space: it has no variants"})
            continue
        if len(labels) > len(values):
            problems.append({"loc": ["body", "variant_names", key], "type": "value_error",
                             "msg": f"{len(labels)} names for {len(values)} values"})
            continue
        cleaned = [label.strip() for label in labels]
        taken = [label for label in cleaned if label]
        if len(set(taken)) != len(taken):
            problems.append({"loc": ["body", "variant_names", key], "type": "value_error",
                             "msg": "two variants have the same name"})
            continue
        if taken:
            out[key] = cleaned
    if problems:
        raise InvalidDefinition(problems)
    return out


async def create_experiment(session: AsyncSession, body: ExperimentCreate, ctx: AppContext) -> ExperimentOut:
    """Validate and store a new experiment (secret scorer headers encrypted)."""
    await get_or_404(session, Project, body.project_id, "Project")
    defn = ExperimentDefinition.model_validate(body.model_dump(exclude={"project_id", "variant_names"}))
    await validate_document(session, defn)
    names = check_variant_names(body.variant_names, defn)
    document = _document(defn)
    document["scoring_config"] = seal_scoring_config(ctx, document["scoring_config"])
    experiment = Experiment(project_id=body.project_id, variant_names=names, **document)
    session.add(experiment)
    await session.flush()
    return await experiment_out(session, experiment)


async def update_experiment(
    session: AsyncSession, experiment_id: uuid.UUID, body: ExperimentUpdate, ctx: AppContext
) -> ExperimentOut:
    """Merge a partial update into the document, validate the whole and store it.

    Secret scorer header values sent back masked ("***"), or not sent, keep their stored values.
    A changed `parameter_space` during a sweep (running or paused) is a 409 `sweep_running`: the
    sweep's runs were planned from the old one; `POST /experiments/{id}/redirect` changes both.
    """
    experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
    return await apply_update(session, experiment, body, ctx)


async def apply_update(
    session: AsyncSession, experiment: Experiment, body: ExperimentUpdate, ctx: AppContext, *, redirect: bool = False
) -> ExperimentOut:
    """Merge, validate and store a partial update; `redirect`: the sweep redirect is changing the space."""
    merged = {f: getattr(experiment, f) for f in DOCUMENT_FIELDS} | {
        k: v for k, v in body.model_dump(exclude_unset=True, exclude={"variant_names"}).items()
        if not (k == "name" and v is None)
    }
    try:
        defn = ExperimentDefinition.model_validate(merged)
    except ValidationError as exc:
        raise InvalidDefinition(
            [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        ) from exc
    await validate_document(session, defn)
    if (not redirect and "parameter_space" in body.model_fields_set
            and _document(defn)["parameter_space"] != experiment.parameter_space):
        await _refuse_during_sweep(session, experiment.id)
    names = body.variant_names if body.variant_names is not None else dict(experiment.variant_names or {})
    # Names of keys that left the parameter space (or lost values) are dropped, not refused, on a
    # partial update that did not send them; names sent with the update are checked strictly.
    if body.variant_names is None:
        names = {k: v[: len(vals)] for k, v in names.items()
                 if isinstance(vals := defn.parameter_space.get(k), list)}
    experiment.variant_names = check_variant_names(names, defn)
    document = _document(defn)
    document["scoring_config"] = seal_scoring_config(ctx, document["scoring_config"], experiment.scoring_config)
    scoring_changed = document["scoring_config"] != experiment.scoring_config
    for key, value in document.items():
        setattr(experiment, key, value)
    experiment.updated_at = datetime.now(UTC)
    await session.flush()
    if scoring_changed:
        schedule_rescore(session, ctx, experiment.id)
    return await experiment_out(session, experiment)


async def _refuse_during_sweep(session: AsyncSession, experiment_id: uuid.UUID) -> None:
    active = await session.scalar(
        select(Sweep.id).where(Sweep.experiment_id == experiment_id, Sweep.status.in_(("running", "paused")))
    )
    if active is not None:
        raise Conflict(
            "A sweep of this experiment is running or paused, so an update does not change its parameter space; "
            "redirect the sweep instead: POST /experiments/{id}/redirect {\"parameter_space\": {...}}.",
            code="sweep_running",
        )


def schedule_rescore(session: AsyncSession, ctx: AppContext, experiment_id: uuid.UUID) -> None:
    """Re-score the experiment's runs in the background once this unit of work commits."""
    from promptlooper.services.scoring import rescore_experiment

    async def _start() -> None:
        ctx.runtime.spawn(rescore_experiment(ctx, experiment_id), name=f"rescore-{experiment_id}")

    after_commit(session, _start)


async def _run_stats(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, float | None]]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Run.experiment_id, func.count(), func.max(Run.weighted_score))
        .where(Run.experiment_id.in_(ids))
        .group_by(Run.experiment_id)
    )
    return {exp_id: (int(count), best) for exp_id, count, best in rows.all()}


async def experiment_summaries(session: AsyncSession, experiments: list[Experiment]) -> list[ExperimentSummary]:
    """Summaries with run counts and best scores, in one query."""
    stats = await _run_stats(session, [e.id for e in experiments])
    return [
        ExperimentSummary.model_validate(e).model_copy(
            update={"run_count": stats.get(e.id, (0, None))[0], "best_score": stats.get(e.id, (0, None))[1]}
        )
        for e in experiments
    ]


async def experiment_out(session: AsyncSession, experiment: Experiment) -> ExperimentOut:
    """The full experiment with run count, best score and grid size."""
    count, best = (await _run_stats(session, [experiment.id])).get(experiment.id, (0, None))
    try:
        grid = count_grid(definition_of(experiment))
    except Exception:
        grid = None
    forked = (
        ForkedFrom(experiment_id=experiment.forked_from_experiment_id, run_id=experiment.forked_from_run_id)
        if experiment.forked_from_experiment_id is not None
        else None
    )
    return ExperimentOut.model_validate(experiment).model_copy(
        update={"run_count": count, "best_score": best, "grid_size": grid, "forked_from": forked,
                "scoring_config": mask_scoring_config(experiment.scoring_config)}
    )


async def list_experiments(
    session: AsyncSession, project_id: uuid.UUID | None, status: str | None, limit: int, offset: int
) -> Page[ExperimentSummary]:
    """Experiments, newest first, optionally of one project or status."""
    stmt = select(Experiment).order_by(Experiment.created_at.desc())
    if project_id is not None:
        stmt = stmt.where(Experiment.project_id == project_id)
    if status is not None:
        stmt = stmt.where(Experiment.status == status)
    rows, total = await paginate(session, stmt, limit, offset)
    return Page(items=await experiment_summaries(session, rows), total=total, limit=limit, offset=offset)


async def get_experiment(session: AsyncSession, experiment_id: uuid.UUID) -> ExperimentOut:
    """One experiment."""
    return await experiment_out(session, await get_or_404(session, Experiment, experiment_id, "Experiment"))


async def delete_experiment(session: AsyncSession, experiment_id: uuid.UUID) -> None:
    """Delete an experiment and its runs; refused while it is running."""
    experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
    if experiment.status == "running":
        raise Conflict("Stop the experiment's sweep before deleting it.", code="experiment_running")
    await session.delete(experiment)
    await session.flush()
