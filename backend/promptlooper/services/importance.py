"""Parameter importance over an experiment's scored runs, by Optuna's PED-ANOVA evaluator.

Each completed (or cached) run that is not rejected and has a `weighted_score` becomes a finished
Optuna trial (`optuna.trial.create_trial`) whose params are the values the run's resolved config
took for every swept key; the distributions come from the parameter space (a range is a float or int
distribution, a list of numbers a float distribution over its span, anything else a categorical one
over the values' labels). No statistics are written here: `optuna.importance` does them.
"""

from __future__ import annotations

import asyncio
import uuid
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.engine.definition import RangeSpec, SpaceKey, parse_space_key
from promptlooper.engine.space import canonical_json
from promptlooper.models import Experiment, Run, Sweep
from promptlooper.schemas import ImportanceItem, ParameterImportance, SweepSummary
from promptlooper.services.common import get_or_404
from promptlooper.services.experiments import definition_of

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

MIN_RUNS = 4  # below this the evaluator has nothing to tell apart
MAX_RUNS = 20_000
EVALUATOR = "ped_anova"


def _stage_value(stage: Mapping[str, Any], target: SpaceKey) -> Any:
    if target.kind == "field":
        return stage.get(target.name)
    params = stage.get("params") or {}
    return params.get(target.name) if isinstance(params, Mapping) else None


def _matches(stage: Mapping[str, Any], choice: Mapping[str, Any]) -> bool:
    for field, want in choice.items():
        if field == "params" and isinstance(want, Mapping):
            params = stage.get("params") or {}
            if any(canonical_json(params.get(k)) != canonical_json(v) for k, v in want.items()):
                return False
        elif canonical_json(stage.get(str(field))) != canonical_json(want):
            return False
    return True


def config_value(config: Mapping[str, Any], target: SpaceKey, choices: list[Any] | None) -> Any:
    """The value a swept key took in a resolved config; for a linked choice, the index of the choice."""
    if target.kind == "var":
        return (config.get("vars") or {}).get(target.name)
    stages = config.get("stages") or []
    if not stages:
        return None
    index = target.stage if target.stage is not None else 0
    if index >= len(stages):
        return None
    stage = stages[index]
    if target.kind == "linked":
        for i, choice in enumerate(choices or []):
            if isinstance(choice, Mapping) and _matches(stage, choice):
                return i
        return None
    return _stage_value(stage, target)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def choice_label(value: Any, index: int) -> str:
    """A short, stable label for a categorical value: short text as is, long text "v1", "v2", ..."""
    if isinstance(value, Mapping):
        name = value.get("name")
        return str(name) if isinstance(name, str) and name else f"v{index + 1}"
    if isinstance(value, str):
        return value if len(value) <= 40 else f"v{index + 1}"
    return canonical_json(value)


def _dimension(key: str, spec: list[Any] | RangeSpec) -> tuple[BaseDistribution, dict[str, str]] | None:
    """The Optuna distribution of a key (None when it cannot vary) and, for categoricals, value -> label."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(spec, RangeSpec):
        if spec.max <= spec.min:
            return None
        if spec.type == "int":
            return IntDistribution(int(spec.min), int(spec.max), log=spec.log), {}
        return FloatDistribution(spec.min, spec.max, log=spec.log), {}
    if len(spec) < 2:
        return None
    if all(_is_number(v) for v in spec):
        low, high = float(min(spec)), float(max(spec))
        return (FloatDistribution(low, high), {}) if high > low else None
    labels: dict[str, str] = {}
    for i, value in enumerate(spec):
        labels.setdefault(canonical_json(value), choice_label(value, i))
    distinct = list(dict.fromkeys(labels.values()))
    if len(distinct) < 2:
        return None
    return CategoricalDistribution(distinct), labels


def _fits(dist: BaseDistribution, value: Any) -> bool:
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (TypeError, ValueError):
        return False


def _evaluate(params: list[dict[str, Any]], values: list[float],
              distributions: dict[str, BaseDistribution]) -> dict[str, float]:
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize")
    study.add_trials([
        optuna.trial.create_trial(params=p, distributions=distributions, value=v)
        for p, v in zip(params, values, strict=True)
    ])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning: the evaluator's API may still change
        result = optuna.importance.get_param_importances(
            study, evaluator=PedAnovaImportanceEvaluator(), params=list(distributions), normalize=True
        )
    return {k: float(v) for k, v in result.items()}


async def parameter_importance(session: AsyncSession, experiment_id: uuid.UUID,
                               sweep_id: uuid.UUID | None = None) -> ParameterImportance:
    """How much each swept key explains `weighted_score` over the experiment's (or one sweep's) scored runs."""
    experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
    defn = definition_of(experiment)
    dims: dict[str, tuple[SpaceKey, list[Any] | None, BaseDistribution, dict[str, str]]] = {}
    for key, spec in defn.parameter_space.items():
        target = parse_space_key(key, defn.pipeline_stages)
        if isinstance(target, str):
            continue
        # A linked choice is categorical over its choices (each labelled by its "name" or v1, v2, ...).
        found = _dimension(key, spec)
        if found is not None:
            raw = defn.parameter_space[key]
            dims[key] = (target, raw if isinstance(raw, list) else None, *found)

    stmt = (
        select(Run.config, Run.weighted_score)
        .where(Run.experiment_id == experiment_id, Run.status.in_(("completed", "cached")),
               Run.rejected.is_(False), Run.weighted_score.is_not(None),
               Run.sample_ids.is_(None))  # scored on every sample (early stopping's partial runs do not compare)
        .limit(MAX_RUNS)
    )
    if sweep_id is not None:
        stmt = stmt.where(Run.sweep_id == sweep_id)
    rows = (await session.execute(stmt)).all()

    params: list[dict[str, Any]] = []
    values: list[float] = []
    for config, score in rows:
        trial: dict[str, Any] = {}
        for key, (target, choices, dist, labels) in dims.items():
            value = config_value(config or {}, target, choices)
            if target.kind == "linked":
                value = choice_label(choices[value], value) if choices and isinstance(value, int) else None
            elif labels:
                value = labels.get(canonical_json(value))
            if value is None or not _fits(dist, value):
                break
            trial[key] = value
        else:
            params.append(trial)
            values.append(float(score))

    base = {"metric": "weighted_score", "evaluator": EVALUATOR, "runs_used": len(params)}
    if not dims:
        return ParameterImportance(**base, items=[], reason="No swept parameter takes more than one value.")
    if len(params) < MIN_RUNS:
        return ParameterImportance(
            **base, items=[], reason=f"Needs at least {MIN_RUNS} scored runs; this has {len(params)}."
        )
    if len(set(values)) < 2:
        return ParameterImportance(
            **base, items=[], reason="Every run scored the same: no parameter explains a difference."
        )
    distributions = {key: dims[key][2] for key in dims}
    scores = await asyncio.to_thread(_evaluate, params, values, distributions)
    items = [ImportanceItem(key=k, importance=round(v, 6)) for k, v in sorted(scores.items(), key=lambda kv: -kv[1])]
    return ParameterImportance(**base, items=items, reason=None)


async def list_sweeps(session: AsyncSession, experiment_id: uuid.UUID) -> list[SweepSummary]:
    """The experiment's sweeps, newest first, numbered from the first (1)."""
    await get_or_404(session, Experiment, experiment_id, "Experiment")
    rows = (await session.scalars(
        select(Sweep).where(Sweep.experiment_id == experiment_id).order_by(Sweep.created_at, Sweep.id)
    )).all()
    out = [SweepSummary(id=s.id, number=i, type=s.type, status=s.status, total_runs=s.total_runs,
                        created_at=s.created_at, completed_at=s.completed_at) for i, s in enumerate(rows, start=1)]
    return out[::-1]
