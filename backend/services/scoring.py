"""Scoring runs: applying an experiment's scorers to outputs and the weighted mean."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.engine.definition import ExperimentDefinition, ScorerEntry
from promptlooper.models import Experiment, Run, Score


def weighted_mean(scores: dict[str, float], entries: list[ScorerEntry]) -> float | None:
    """Weight-normalised mean of the configured scorers that have a value; None when nothing counts."""
    total = sum(e.weight for e in entries if e.key in scores)
    if total <= 0:
        return None
    return round(sum(e.weight * scores[e.key] for e in entries if e.key in scores) / total, 6)


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
