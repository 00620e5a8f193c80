"""Uncertainty on scores: per-sample weighted scores from stored Score rows, intervals and paired tests.

Per-sample values live in each computed score's `metadata.per_sample` (written by the scorers'
aggregation); a human rating is a run-level value. A run's per-sample weighted score combines them
(`engine.stats.sample_weighted_scores`); a configuration's is the mean over its runs (repeats).
The statistics themselves are CPU work and run on `offload.run_cpu`, bounded to the page shown.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.engine import stats
from promptlooper.engine.definition import ScorerEntry
from promptlooper.models import Experiment, Run, RunStatus, Score
from promptlooper.offload import run_cpu
from promptlooper.schemas import PairedDifferenceOut

STATS_ENTRIES = 100  # leaderboard entries past this carry no interval or test (bounds a 500-entry page)
SampleScores = dict[str, float]


async def sample_scores(session: AsyncSession, experiment: Experiment,
                        run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SampleScores]:
    """Each run's weighted score per sample (runs without per-sample values are left out)."""
    if not run_ids:
        return {}
    entries = [ScorerEntry.model_validate(e) for e in experiment.scoring_config]
    rows = (await session.execute(
        select(Score.run_id, Score.scorer_name, Score.value, Score.meta["per_sample"])
        .where(Score.run_id.in_(list(run_ids)))
    )).all()
    return await run_cpu(_weighted_per_sample, [tuple(r) for r in rows], entries)


def _weighted_per_sample(rows: list[tuple[Any, ...]], entries: list[ScorerEntry]) -> dict[uuid.UUID, SampleScores]:
    by_run: dict[uuid.UUID, dict[str, list[tuple[float, Any]]]] = {}
    for run_id, name, value, per_sample in rows:
        by_run.setdefault(run_id, {}).setdefault(str(name), []).append((float(value), per_sample))
    out: dict[uuid.UUID, SampleScores] = {}
    for run_id, named in by_run.items():
        values: dict[str, stats.ScorerValues] = {}
        for name, found in named.items():
            mean = sum(v for v, _ in found) / len(found)  # several people's human ratings average, as elsewhere
            per_sample = found[0][1] if len(found) == 1 and isinstance(found[0][1], dict) else None
            values[name] = stats.ScorerValues(mean, _numbers(per_sample))
        weighted = stats.sample_weighted_scores(values, entries)
        if weighted:
            out[run_id] = weighted
    return out


def _numbers(per_sample: dict[str, Any] | None) -> dict[str, float] | None:
    if per_sample is None:
        return None
    return {str(k): float(v) for k, v in per_sample.items() if isinstance(v, int | float) and not isinstance(v, bool)}


@dataclass(frozen=True)
class Interval:
    """A configuration's (or run's) mean over samples with its 95% bootstrap interval."""

    samples: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class VsLeader:
    """Interval, the paired test against the leader and the Holm-corrected verdict."""

    interval: Interval
    p_value: float | None
    p_adjusted: float | None
    tied_with_best: bool | None


def interval_of(values: SampleScores) -> Interval:
    """Mean and 95% interval over samples."""
    low, high = stats.mean_ci(list(values.values()))
    mean = sum(values.values()) / len(values) if values else None
    return Interval(len(values), None if mean is None else round(mean, 6), _r(low), _r(high))


def against_leader(rows: list[SampleScores], leader: int | None) -> list[VsLeader]:
    """Intervals of every row and a paired Wilcoxon test of each against row `leader`, Holm-corrected.

    The leader itself has no p-value and counts as tied with the best; a row without two samples in
    common with the leader has neither (null). Tied: the adjusted p-value is not under 0.05.
    """
    intervals = [interval_of(r) for r in rows]
    raw, adjusted = _tests(rows[leader] if leader is not None else None, rows, leader)
    out = []
    for i, interval in enumerate(intervals):
        if i == leader:
            out.append(VsLeader(interval, None, None, True))
            continue
        p, q = raw[i], adjusted[i]
        out.append(VsLeader(interval, _r(p), _r(q), None if q is None else q >= stats.ALPHA))
    return out


def _tests(best: SampleScores | None, rows: list[SampleScores],
           skip: int | None = None) -> tuple[list[float | None], list[float | None]]:
    """Raw and Holm-adjusted paired p-values of each row against `best` (row `skip` is not tested)."""
    raw: list[float | None] = [None] * len(rows)
    if best is not None:
        for i, row in enumerate(rows):
            if i != skip:
                common = sorted(set(best) & set(row))
                raw[i] = stats.paired_p_value([best[s] for s in common], [row[s] for s in common])
    return raw, stats.holm(raw)


async def config_sample_scores(session: AsyncSession, experiment: Experiment, hashes: Sequence[str],
                               sweep_id: uuid.UUID | None = None) -> dict[str, SampleScores]:
    """Per configuration: each sample's weighted score, the mean over its finished, unrejected runs."""
    if not hashes:
        return {}
    query = select(Run.id, Run.config_hash).where(
        Run.experiment_id == experiment.id, Run.config_hash.in_(list(hashes)),
        Run.status.in_(RunStatus.succeeded()), Run.rejected.is_(False))
    if sweep_id is not None:
        query = query.where(Run.sweep_id == sweep_id)
    runs = (await session.execute(query)).all()
    per_run = await sample_scores(session, experiment, [r for r, _ in runs])
    grouped: dict[str, list[SampleScores]] = {}
    for run_id, config_hash in runs:
        if run_id in per_run:
            grouped.setdefault(str(config_hash), []).append(per_run[run_id])
    return {h: stats.mean_over_repeats(v) for h, v in grouped.items()}


async def configs_against_leader(session: AsyncSession, experiment: Experiment, hashes: list[str],
                                 weighted: list[float | None], sweep_id: uuid.UUID | None = None) -> list[VsLeader]:
    """`against_leader` for leaderboard entries (the leader: the highest weighted score shown)."""
    shown = hashes[:STATS_ENTRIES]
    by_hash = await config_sample_scores(session, experiment, shown, sweep_id)
    rows = [by_hash.get(h, {}) for h in shown]
    scored = [(w, -i) for i, w in enumerate(weighted[: len(shown)]) if w is not None and rows[i]]
    leader = -max(scored)[1] if scored else None
    return await run_cpu(against_leader, rows, leader)


def runs_against_leader(leader: SampleScores | None, rows: list[SampleScores],
                        of_leader: list[bool]) -> list[VsLeader]:
    """Runs' intervals and tests against the leading configuration (its own runs: tied, no p-value)."""
    intervals = [interval_of(r) for r in rows]
    others = [i for i, mine in enumerate(of_leader) if not mine]
    raw, adjusted = _tests(leader or None, [rows[i] for i in others])
    tested = {i: (raw[k], adjusted[k]) for k, i in enumerate(others)}
    out = []
    for i, interval in enumerate(intervals):
        if of_leader[i]:
            out.append(VsLeader(interval, None, None, True))
            continue
        p, q = tested.get(i, (None, None))
        out.append(VsLeader(interval, _r(p), _r(q), None if q is None else q >= stats.ALPHA))
    return out


async def with_run_stats(session: AsyncSession, experiment: Experiment, runs: list[Any]) -> list[Any]:
    """RunOut models with `ci_low`/`ci_high`, `p_value` and `tied_with_best` against the leading configuration."""
    from promptlooper.services.results import FINAL_OK, rejected_configs

    if not runs:
        return runs
    per_run = await sample_scores(session, experiment, [r.id for r in runs])
    # The leaderboard's rank 1 (its query, one row): the best unrejected finished run's configuration.
    leader_hash = await session.scalar(
        select(Run.config_hash).where(
            Run.experiment_id == experiment.id, Run.rejected.is_(False), Run.status.in_(FINAL_OK),
            Run.config_hash.not_in(rejected_configs(experiment.id)))
        .order_by(Run.weighted_score.desc().nulls_last(), Run.created_at, Run.id).limit(1))
    leader = (await config_sample_scores(session, experiment, [leader_hash])).get(leader_hash) if leader_hash else None
    verdicts = await run_cpu(runs_against_leader, leader, [per_run.get(r.id, {}) for r in runs],
                             [r.config_hash == leader_hash for r in runs])
    return [run.model_copy(update={"ci_low": v.interval.ci_low, "ci_high": v.interval.ci_high,
                                   "p_value": v.p_value, "tied_with_best": v.tied_with_best})
            for run, v in zip(runs, verdicts, strict=True)]


@dataclass(frozen=True)
class Significance:
    """Whether one configuration is significantly better than another (a single paired test)."""

    other_config_hash: str
    other_run_id: uuid.UUID
    samples: int
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None

    @property
    def better(self) -> bool:
        """Significantly better: p under 0.05 and a positive mean difference."""
        return self.p_value is not None and self.p_value < stats.ALPHA and (self.diff or 0.0) > 0

    def as_dict(self) -> dict[str, Any]:
        """For the JSON export and the report."""
        return {"runner_up_config_hash": self.other_config_hash, "runner_up_run_id": str(self.other_run_id),
                "samples": self.samples, "diff": self.diff, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "p_value": self.p_value, "significantly_better": self.better, "test": "wilcoxon signed-rank"}


async def versus_runner_up(session: AsyncSession, experiment: Experiment, config_hash: str,
                           sweep_id: uuid.UUID | None = None) -> Significance | None:
    """The exported configuration against the best other configuration of the leaderboard (None: no other)."""
    from promptlooper.services.results import leaderboard

    board = await leaderboard(session, experiment.id, 2, "weighted_score", sweep_id, with_stats=False,
                              exclude_hash=config_hash)
    if not board.items:
        return None
    other = board.items[0]
    by_hash = await config_sample_scores(session, experiment, [config_hash, other.config_hash], sweep_id)
    mine, theirs = by_hash.get(config_hash, {}), by_hash.get(other.config_hash, {})
    diff = await run_cpu(stats.paired_difference, theirs, mine)
    return Significance(other.config_hash, other.run_id, diff.samples, _r(diff.mean), _r(diff.ci_low),
                        _r(diff.ci_high), _r(diff.p_value))


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


async def paired_runs(session: AsyncSession, run_a: uuid.UUID, run_b: uuid.UUID) -> PairedDifferenceOut:
    """Run b minus run a over their common samples: mean, 95% interval and Wilcoxon p-value."""
    from promptlooper.services.common import get_or_404

    a = await get_or_404(session, Run, run_a, "Run")
    b = await get_or_404(session, Run, run_b, "Run")
    per_run: dict[uuid.UUID, SampleScores] = {}
    for experiment_id in {a.experiment_id, b.experiment_id}:
        experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
        ids = [r.id for r in (a, b) if r.experiment_id == experiment_id]
        per_run |= await sample_scores(session, experiment, ids)
    diff = await run_cpu(stats.paired_difference, per_run.get(a.id, {}), per_run.get(b.id, {}))
    return PairedDifferenceOut(run_a=a.id, run_b=b.id, samples=diff.samples, diff=_r(diff.mean),
                               ci_low=_r(diff.ci_low), ci_high=_r(diff.ci_high), p_value=_r(diff.p_value),
                               significant=diff.p_value is not None and diff.p_value < stats.ALPHA)
