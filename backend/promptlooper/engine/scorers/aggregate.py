"""Applying an experiment's scorers to a run's outputs: per-sample values, run means, weighted score."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from ..definition import SampleDef, ScorerEntry
from ..templates import merge_vars
from .base import ScoreContext, Scorer, ScoreResult, is_manual
from .registry import ScorerRegistry, format_validation_error

log = logging.getLogger("promptlooper.scorers")

ContextFactory = Callable[[SampleDef], ScoreContext]


@dataclass
class ScoreOutcome:
    """A run's score for one scorer: the mean over samples, per-sample values and details in metadata."""

    value: float
    metadata: dict[str, Any] = field(default_factory=dict)


def default_context_factory(config: Mapping[str, Any] | None, extras: Mapping[str, Any] | None) -> ContextFactory:
    """Contexts carrying the run config, the merged vars and the app's extras."""
    run_config = dict(config or {})

    def build(sample: SampleDef) -> ScoreContext:
        return ScoreContext(sample=sample, reference=sample.reference, run_config=run_config,
                            vars=merge_vars(run_config.get("vars") or {}, sample.vars), extras=dict(extras or {}))

    return build


async def _score_one(scorer: Scorer, parsed: BaseModel, sample: SampleDef, output: str | None,
                     context: ScoreContext) -> ScoreResult:
    if output is None:
        return ScoreResult(0.0, {"reason": "the sample has no output (it failed)"})
    try:
        return await scorer.score(sample.input, output, context, parsed)
    except Exception as exc:  # a scorer's failure scores 0 and says why; it never fails the run
        log.warning("scorer %s failed on sample %s: %s", scorer.id, sample.id, exc)
        return ScoreResult(0.0, {"reason": f"scorer failed: {type(exc).__name__}: {exc}"})


def _zero_for_all(samples: list[SampleDef], reason: str) -> ScoreOutcome:
    return ScoreOutcome(0.0, {"per_sample": {s.id: 0.0 for s in samples}, "details": {}, "error": reason})


def _manual(entry: ScorerEntry, registry: ScorerRegistry) -> bool:
    try:
        return is_manual(registry.get(entry.scorer))
    except KeyError:
        return False


def _prepare(entry: ScorerEntry, registry: ScorerRegistry) -> tuple[Scorer, BaseModel] | str:
    try:
        scorer = registry.get(entry.scorer)
    except KeyError:
        return f"unknown scorer `{entry.scorer}`"
    try:
        return scorer, scorer.config_model.model_validate(entry.config)
    except ValidationError as exc:
        return "invalid config: " + "; ".join(format_validation_error(exc))


async def score_outputs(scoring_config: list[ScorerEntry], samples: list[SampleDef], outputs: Mapping[str, str | None],
                        context_factory: ContextFactory | None = None, *, config: Mapping[str, Any] | None = None,
                        extras: Mapping[str, Any] | None = None,
                        registry: ScorerRegistry | None = None) -> dict[str, ScoreOutcome]:
    """Score every sample's final output with every computed scorer, concurrently; keyed by the entry's name.

    An entry with `samples` scores only those samples; its run score is the mean over them.

    Entries of manual scorers (`human_rating`) are left out of the answer: people enter those values.
    """
    from . import REGISTRY

    registry = registry or REGISTRY
    scoring_config = [entry for entry in scoring_config if not _manual(entry, registry)]
    factory = context_factory or default_context_factory(config, extras)
    contexts = {s.id: factory(s) for s in samples}
    results: dict[str, ScoreOutcome] = {}
    jobs: list[tuple[str, SampleDef, Any]] = []
    for entry in scoring_config:
        prepared = _prepare(entry, registry)
        if isinstance(prepared, str):
            results[entry.key] = _zero_for_all(
                [s for s in samples if entry.samples is None or s.id in entry.samples], prepared)
            continue
        scorer, parsed = prepared
        wanted = None if entry.samples is None else set(entry.samples)
        for sample in samples:
            if wanted is not None and sample.id not in wanted:
                continue  # the entry applies to some samples only (an imported per-test assertion)
            coro = _score_one(scorer, parsed, sample, outputs.get(sample.id), contexts[sample.id])
            jobs.append((entry.key, sample, coro))
    values = await asyncio.gather(*(job[2] for job in jobs))
    grouped: dict[str, dict[str, ScoreResult]] = {}
    for (key, sample, _), result in zip(jobs, values, strict=True):
        grouped.setdefault(key, {})[sample.id] = result
    for key, per_sample in grouped.items():
        mean = sum(r.value for r in per_sample.values()) / len(per_sample)
        results[key] = ScoreOutcome(mean, {"per_sample": {sid: r.value for sid, r in per_sample.items()},
                                           "details": {sid: r.metadata for sid, r in per_sample.items()}})
    for entry in scoring_config:
        results.setdefault(entry.key, ScoreOutcome(0.0, {"per_sample": {}, "details": {}, "reason": "no samples"}))
    return {entry.key: results[entry.key] for entry in scoring_config}


def weighted_score(scores: Mapping[str, float | ScoreOutcome], scoring_config: list[ScorerEntry]) -> float | None:
    """sum(weight * value) / sum(weight) over the configured scorers that have a value; None when nothing counts."""
    total = 0.0
    acc = 0.0
    for entry in scoring_config:
        if entry.key not in scores:
            continue
        score = scores[entry.key]
        value = score.value if isinstance(score, ScoreOutcome) else float(score)
        total += entry.weight
        acc += entry.weight * value
    if total <= 0:
        return None
    return acc / total
