"""Scoring runs: applying an experiment's scorers to outputs and the weighted mean."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.engine.definition import ExperimentDefinition, ScorerEntry
from promptlooper.engine.scorers import weighted_score
from promptlooper.events import types as ev
from promptlooper.models import Experiment, Run, RunStatus, Score, StageResult


def weighted_mean(scores: dict[str, float], entries: list[ScorerEntry]) -> float | None:
    """The engine's weight-normalised mean, rounded for storage."""
    value = weighted_score(scores, entries)
    return None if value is None else round(value, 6)


async def recompute_weighted(session: AsyncSession, run: Run) -> None:
    """Recompute a run's weighted score from its stored scores (after a human rating, say)."""
    experiment = await session.get(Experiment, run.experiment_id)
    if experiment is None:
        return
    rows = (
        (
            await session.execute(
                select(Score.scorer_name, func.avg(Score.value))
                .where(Score.run_id == run.id)
                .group_by(Score.scorer_name)
            )
        )
        .all()
    )
    entries = [ScorerEntry.model_validate(e) for e in experiment.scoring_config]
    run.weighted_score = weighted_mean({name: float(value) for name, value in rows}, entries)
    await session.flush()


async def score_run_outputs(
    defn: ExperimentDefinition, config: dict[str, Any], outputs: dict[str, str | None], extras: dict[str, Any]
) -> tuple[dict[str, Any], float | None]:
    """Score a run's final outputs with the experiment's scorers (human ratings come later, by hand)."""
    from promptlooper.engine.scorers import score_outputs

    entries = [e for e in defn.scoring_config if e.scorer != "human_rating"]
    scores = await score_outputs(entries, defn.sample_data, outputs, config=config, extras=extras)
    return scores, weighted_mean({k: v.value for k, v in scores.items()}, entries)


def final_outputs(stages: list[StageResult], sample_ids: list[str], stage_count: int) -> dict[str, str | None]:
    """Each sample's final-stage response from stored stage results (None where the sample failed)."""
    last = {s.sample_id: s for s in stages if s.stage_index == stage_count - 1 and s.error is None}
    return {sid: (last[sid].response_raw if sid in last else None) for sid in sample_ids}


async def rescore_run(session: AsyncSession, defn: ExperimentDefinition, run: Run, extras: dict[str, Any]) -> None:
    """Score a run again from its stored responses (no chat call) and store the new scores."""
    stages = list((await session.scalars(select(StageResult).where(StageResult.run_id == run.id))).all())
    if run.sample_ids is not None:  # early stopping: scored on the samples it was evaluated on
        seen = {s.sample_id for s in stages}
        defn = defn.model_copy(update={"sample_data": [s for s in defn.sample_data if s.id in seen]})
    outputs = final_outputs(stages, [s.id for s in defn.sample_data], len(run.config.get("stages", [])))
    scores, _ = await score_run_outputs(defn, run.config, outputs, extras)
    await session.execute(delete(Score).where(Score.run_id == run.id, Score.scorer_name != "human_rating"))
    rows = [{"id": uuid.uuid4(), "run_id": run.id, "scorer_name": k, "value": v.value, "meta": v.metadata}
            for k, v in scores.items()]
    if rows:
        await session.execute(insert(Score), rows)
    await recompute_weighted(session, run)


async def rescore_experiment(ctx: AppContext, experiment_id: uuid.UUID) -> int:
    """Re-score every finished run of an experiment from stored responses, publishing progress."""
    runtime = ctx.runtime
    async with session_scope(ctx.sessionmaker) as session:
        experiment = await session.get(Experiment, experiment_id)
        if experiment is None:
            return 0
        from promptlooper.services.experiments import definition_of

        defn = definition_of(experiment)
        run_ids = list((await session.scalars(select(Run.id).where(
            Run.experiment_id == experiment_id, Run.status.in_(RunStatus.done()))
            .order_by(Run.created_at))).all())
    total = len(run_ids)
    runtime.publish(ev.RescoreProgress(done=0, total=total), experiment_id=experiment_id)
    for start in range(0, total, 50):
        async with session_scope(ctx.sessionmaker) as session:
            for run_id in run_ids[start : start + 50]:
                run = await session.get(Run, run_id)
                if run is not None:
                    await rescore_run(session, defn, run, scorer_extras(ctx))
        runtime.publish(ev.RescoreProgress(done=min(start + 50, total), total=total), experiment_id=experiment_id)
    runtime.publish(ev.RescoreCompleted(runs=total), experiment_id=experiment_id)
    return total


class AppScorerServices:
    """What scorers may use from the app: endpoint adapters and the cached chat (ScorerServices)."""

    # Only admins can create or edit experiments, so every stored scoring_config is an admin's.
    is_admin = True

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.chat = ctx.runtime.chat

    async def endpoint(self, endpoint_id: str | None) -> tuple[Any, str]:
        """(adapter, base_url) of an endpoint; None means the default endpoint."""
        from promptlooper.engine.scorers.services import UnknownEndpoint
        from promptlooper.errors import AppError
        from promptlooper.services.settings import get_settings

        async with self.ctx.sessionmaker() as session:
            if endpoint_id is None:
                default = (await get_settings(session, self.ctx)).default_endpoint_id
                endpoint_id = str(default) if default else None
            try:
                handle = await self.ctx.runtime.endpoint_handle(session, endpoint_id)
            except AppError as exc:
                raise UnknownEndpoint(exc.detail) from exc
        return handle.adapter, handle.base_url


async def start_rescore(session: AsyncSession, ctx: AppContext, experiment_id: uuid.UUID) -> int:
    """Schedule re-scoring after commit; answers how many finished runs it will re-score."""
    from promptlooper.services.common import get_or_404
    from promptlooper.services.experiments import schedule_rescore

    await get_or_404(session, Experiment, experiment_id, "Experiment")
    count = await session.scalar(select(func.count()).select_from(Run).where(
        Run.experiment_id == experiment_id, Run.status.in_(RunStatus.done())))
    schedule_rescore(session, ctx, experiment_id)
    return int(count or 0)


def scorer_extras(ctx: AppContext) -> dict[str, Any]:
    """What scorers receive in `ScoreContext.extras`."""
    from promptlooper.engine.scorers.services import SERVICES_KEY
    from promptlooper.services.secrets import reveal_extras

    return {SERVICES_KEY: AppScorerServices(ctx)} | reveal_extras(ctx)


def _ranks(values: list[float]) -> np.ndarray[Any, np.dtype[np.float64]]:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1, dtype=np.float64)
    array = np.asarray(values, dtype=np.float64)
    for value in np.unique(array):  # ties share their average rank
        tied = array == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation; None with fewer than 2 pairs or a constant side."""
    if len(a) < 2:
        return None
    ra, rb = _ranks(a), _ranks(b)
    if float(np.std(ra)) == 0.0 or float(np.std(rb)) == 0.0:
        return None
    return round(float(np.corrcoef(ra, rb)[0, 1]), 4)


async def judge_agreement(session: AsyncSession, experiment_id: uuid.UUID) -> dict[str, Any]:
    """How well each llm_judge scorer agrees with human ratings on the runs that have both.

    `runs`, `spearman` and `mean_abs_diff` compare run means. The calibration figures (`pairs`,
    `kappa`, `bias`, `warning`) use every paired rating: each rated output (the mean of its 1-5
    ratings against the judge's score of that sample) and each run rated as a whole
    (`POST /runs/{id}/score`) against the judge's run score; both sides binned onto the 1-5 scale.
    """
    from promptlooper.models import OutputRating
    from promptlooper.services.reviews import SOURCE

    experiment = await session.get(Experiment, experiment_id)
    if experiment is None:
        from promptlooper.errors import NotFound

        raise NotFound(f"Experiment {experiment_id} does not exist.", code="experiment_not_found")
    judges = [ScorerEntry.model_validate(e).key for e in experiment.scoring_config if e.get("scorer") == "llm_judge"]
    rows = (await session.execute(
        select(Score.run_id, Score.scorer_name, func.avg(Score.value)).join(Run, Run.id == Score.run_id)
        .where(Run.experiment_id == experiment_id, Score.scorer_name.in_([*judges, "human_rating"]))
        .group_by(Score.run_id, Score.scorer_name)
    )).all()
    by_run: dict[uuid.UUID, dict[str, float]] = {}
    for run_id, name, value in rows:
        by_run.setdefault(run_id, {})[name] = float(value)
    rated = {k: v for k, v in by_run.items() if "human_rating" in v}
    outputs = (await session.execute(
        select(OutputRating.run_id, OutputRating.sample_id, func.avg(OutputRating.rating))
        .join(Run, Run.id == OutputRating.run_id).where(Run.experiment_id == experiment_id)
        .group_by(OutputRating.run_id, OutputRating.sample_id)
    )).all()
    whole = (await session.execute(
        select(Score.run_id, Score.value, Score.meta["source"]).join(Run, Run.id == Score.run_id)
        .where(Run.experiment_id == experiment_id, Score.scorer_name == "human_rating")
    )).all()
    whole_runs: dict[uuid.UUID, list[float]] = {}
    for run_id, value, source in whole:
        if source != SOURCE:
            whole_runs.setdefault(run_id, []).append(float(value))
    per_sample = dict(((r, n), p) for r, n, p in (await session.execute(
        select(Score.run_id, Score.scorer_name, Score.meta["per_sample"])
        .where(Score.run_id.in_({r for r, _, _ in outputs}), Score.scorer_name.in_(judges))
    )).all()) if outputs and judges else {}
    out = []
    for judge in judges:
        pairs = [(v[judge], v["human_rating"]) for v in rated.values() if judge in v]
        judged, human = [p[0] for p in pairs], [p[1] for p in pairs]
        paired = [(float(per_sample[(r, judge)][sid]), (float(mean) - 1) / 4) for r, sid, mean in outputs
                  if isinstance(per_sample.get((r, judge)), dict) and sid in per_sample[(r, judge)]]
        paired += [(by_run[r][judge], sum(v) / len(v)) for r, v in whole_runs.items() if judge in by_run.get(r, {})]
        out.append({"name": judge, "runs": len(pairs), "spearman": spearman(judged, human),
                    "mean_abs_diff": round(float(np.mean(np.abs(np.subtract(judged, human)))), 4) if pairs else None}
                   | calibration(paired))
    return {"experiment_id": str(experiment_id), "human_rated_runs": len(rated), "judges": out}


KAPPA_WARNING = 0.4  # below this (with enough pairs) a judge disagrees with people
KAPPA_MIN_PAIRS = 10


def calibration(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    """Quadratic-weighted kappa on the 1-5 scale, bias (mean judge - mean human) and the warning flag."""
    from promptlooper.engine.stats import quadratic_weighted_kappa, to_category

    kappa = quadratic_weighted_kappa([to_category(j) for j, _ in pairs], [to_category(h) for _, h in pairs], 5)
    bias = float(np.mean([j - h for j, h in pairs])) if pairs else None
    warning = kappa is not None and len(pairs) >= KAPPA_MIN_PAIRS and kappa < KAPPA_WARNING
    return {"pairs": len(pairs), "kappa": None if kappa is None else round(kappa, 4),
            "bias": None if bias is None else round(bias, 4), "warning": warning}
