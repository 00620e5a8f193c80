"""Statistics on scores: per-sample weighted scores, bootstrap intervals, paired tests, Holm, weighted kappa.

Intervals and tests come from scipy (`scipy.stats.bootstrap`, `scipy.stats.wilcoxon`); only Holm's
step-down correction and the quadratic-weighted kappa are written here, because scipy has neither
(`false_discovery_control` is Benjamini-Hochberg, and statsmodels/sklearn are not dependencies).
Everything is synchronous CPU work: services call it through `offload.run_cpu`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from .definition import ScorerEntry
from .scorers.aggregate import weighted_score

SEED = 16  # every bootstrap is seeded: the same scores give the same interval anywhere
RESAMPLES = 999  # modest on purpose: a leaderboard page bootstraps every configuration it shows
CONFIDENCE = 0.95
ALPHA = 0.05


@dataclass(frozen=True)
class ScorerValues:
    """One scorer's result on a run: the run value and, when the scorer stores them, per-sample values."""

    value: float
    per_sample: Mapping[str, float] | None = None


def sample_weighted_scores(scores: Mapping[str, ScorerValues], entries: list[ScorerEntry]) -> dict[str, float]:
    """Each sample's weighted score of a run, from its scorers' per-sample values.

    A scorer without a value for a sample (it applies to some samples only, or it is a run-level
    score such as a human rating) counts with its run value there, so the mean over samples equals
    the run's `weighted_score` (the weighted mean is linear).
    """
    samples = sorted({sid for s in scores.values() for sid in (s.per_sample or {})})
    out: dict[str, float] = {}
    for sid in samples:
        values = {name: float((s.per_sample or {}).get(sid, s.value)) for name, s in scores.items()}
        value = weighted_score(values, entries)
        if value is not None:
            out[sid] = value
    return out


def mean_over_repeats(runs: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Per sample, the mean over a configuration's runs (repeats) that scored it."""
    acc: dict[str, list[float]] = {}
    for run in runs:
        for sid, value in run.items():
            acc.setdefault(sid, []).append(value)
    return {sid: float(np.mean(values)) for sid, values in sorted(acc.items())}


def mean_ci(values: Sequence[float], seed: int = SEED) -> tuple[float | None, float | None]:
    """95% percentile-bootstrap interval of the mean over samples; (None, None) below 2 samples."""
    data = np.asarray(values, dtype=np.float64)
    if data.size < 2:
        return None, None
    if np.all(data == data[0]):
        return float(data[0]), float(data[0])  # no spread: the interval is the value
    result = sps.bootstrap((data,), np.mean, n_resamples=RESAMPLES, confidence_level=CONFIDENCE,
                           method="percentile", vectorized=True, rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return _finite(low), _finite(high)


def paired_p_value(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided Wilcoxon signed-rank p-value of paired values; 1.0 when they never differ; None below 2 pairs."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size < 2 or x.size != y.size:
        return None
    if np.all(x == y):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # few non-zero differences: scipy warns, answers anyway
        p = float(sps.wilcoxon(x, y).pvalue)
    return p if math.isfinite(p) else None


@dataclass(frozen=True)
class PairedDifference:
    """b - a over the samples both were scored on: mean, its 95% interval, the Wilcoxon p-value."""

    samples: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None


def paired_difference(a: Mapping[str, float], b: Mapping[str, float], seed: int = SEED) -> PairedDifference:
    """The paired difference b - a over their common samples."""
    common = sorted(set(a) & set(b))
    diffs = [b[s] - a[s] for s in common]
    low, high = mean_ci(diffs, seed)
    return PairedDifference(samples=len(common), mean=float(np.mean(diffs)) if diffs else None, ci_low=low,
                            ci_high=high, p_value=paired_p_value([a[s] for s in common], [b[s] for s in common]))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (family-wise error); None stays None and is not counted.

    Sorted ascending, the i-th of m (from 0) becomes max over j <= i of min(1, (m - j) * p_j).
    """
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        out[index] = running
    return out


def quadratic_weighted_kappa(a: Sequence[int], b: Sequence[int], categories: int) -> float | None:
    """Cohen's kappa with quadratic weights of two raters' categories 0..categories-1.

    kappa = 1 - sum(w * observed) / sum(w * expected), w[i, j] = (i - j)^2 / (k - 1)^2, observed the
    confusion matrix of proportions, expected the outer product of its margins. None without pairs
    or when the expected disagreement is 0 (both raters used one and the same category).
    """
    if len(a) == 0 or len(a) != len(b) or categories < 2:
        return None
    observed = np.zeros((categories, categories), dtype=np.float64)
    np.add.at(observed, (np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)), 1.0)
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    idx = np.arange(categories, dtype=np.float64)
    weights = (idx[:, None] - idx[None, :]) ** 2 / (categories - 1) ** 2
    denominator = float((weights * expected).sum())
    if denominator == 0.0:
        return None
    return 1.0 - float((weights * observed).sum()) / denominator


def to_category(value: float, categories: int = 5) -> int:
    """A score in [0, 1] as one of `categories` ordered levels (5: the 1-5 rating scale, 0-based)."""
    return int(min(categories - 1, max(0, math.floor(value * (categories - 1) + 0.5))))


def _finite(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None
