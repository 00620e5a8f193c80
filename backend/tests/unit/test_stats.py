"""engine.stats: intervals and tests as scipy computes them, Holm, weighted kappa by hand, per-sample scores."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from promptlooper.engine import stats
from promptlooper.engine.definition import ScorerEntry
from promptlooper.engine.scorers import weighted_score
from promptlooper.services.statistics import against_leader

FIXED = [0.62, 0.71, 0.55, 0.9, 0.48, 0.77, 0.66, 0.81, 0.59, 0.73, 0.69, 0.84]


def test_mean_ci_is_scipys_seeded_percentile_bootstrap() -> None:
    expected = sps.bootstrap((np.asarray(FIXED),), np.mean, n_resamples=999, confidence_level=0.95,
                             method="percentile", vectorized=True, rng=np.random.default_rng(16))
    low, high = stats.mean_ci(FIXED)
    assert (low, high) == pytest.approx(tuple(expected.confidence_interval), abs=1e-12)
    assert low is not None and high is not None and low < float(np.mean(FIXED)) < high
    assert stats.mean_ci(FIXED) == (low, high), "seeded: the same data gives the same interval"
    assert stats.mean_ci([0.5]) == (None, None), "one sample has no interval"
    assert stats.mean_ci([0.4, 0.4, 0.4]) == (0.4, 0.4), "no spread, no width"


def test_paired_p_value_is_scipys_wilcoxon() -> None:
    other = [v - d for v, d in zip(FIXED, [0.1, 0.05, 0.12, -0.02, 0.08, 0.11, 0.03, 0.09, 0.07, 0.1, 0.06, 0.04],
                                   strict=True)]
    assert stats.paired_p_value(FIXED, other) == pytest.approx(sps.wilcoxon(FIXED, other).pvalue, abs=1e-12)
    assert stats.paired_p_value(FIXED, FIXED) == 1.0, "identical scores: no difference at all"
    assert stats.paired_p_value([0.3], [0.9]) is None, "one pair is no test"


def test_paired_difference_is_b_minus_a_over_common_samples() -> None:
    a = {f"s{i}": v for i, v in enumerate(FIXED)}
    b = {f"s{i}": v + 0.05 * (i % 3) for i, v in enumerate(FIXED)} | {"extra": 1.0}
    diff = stats.paired_difference(a, b)
    common = sorted(a)
    diffs = np.asarray([b[s] - a[s] for s in common])
    expected = sps.bootstrap((diffs,), np.mean, n_resamples=999, method="percentile", vectorized=True,
                             rng=np.random.default_rng(16)).confidence_interval
    assert diff.samples == 12 and diff.mean == pytest.approx(float(diffs.mean()))
    assert (diff.ci_low, diff.ci_high) == pytest.approx(tuple(expected), abs=1e-12)
    assert diff.p_value == pytest.approx(sps.wilcoxon([a[s] for s in common], [b[s] for s in common]).pvalue)


def test_holm_step_down_by_hand() -> None:
    # sorted: 0.01 x3 = 0.03; 0.03 x2 = 0.06; 0.04 x1 = 0.04 -> raised to the running max 0.06
    assert stats.holm([0.04, 0.01, None, 0.03]) == pytest.approx([0.06, 0.03, None, 0.06])
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0]
    assert stats.holm([]) == []


def test_quadratic_weighted_kappa_by_hand() -> None:
    # a = [0, 1, 2, 2], b = [0, 2, 2, 1], 3 categories, w = (i - j)^2 / 4.
    # observed: cells (1,2) and (2,1) disagree by one: 2 x 1/4 x 1/4 = 0.125.
    # margins a = b = [1/4, 1/4, 1/2]; expected weighted: 2 x (1/4 x 1/16) + 2 x (1 x 1/8) + 2 x (1/4 x 1/8) = 11/32.
    # kappa = 1 - 0.125 / (11/32) = 7/11.
    assert stats.quadratic_weighted_kappa([0, 1, 2, 2], [0, 2, 2, 1], 3) == pytest.approx(7 / 11)
    assert stats.quadratic_weighted_kappa([0, 1, 2, 3, 4], [0, 1, 2, 3, 4], 5) == pytest.approx(1.0)
    assert stats.quadratic_weighted_kappa([0, 4, 0, 4], [4, 0, 4, 0], 5) == pytest.approx(-1.0)
    assert stats.quadratic_weighted_kappa([2, 2], [2, 2], 5) is None, "one category on both sides: undefined"
    assert stats.quadratic_weighted_kappa([], [], 5) is None
    assert [stats.to_category(v) for v in (0.0, 0.12, 0.13, 0.5, 0.87, 1.0)] == [0, 0, 1, 2, 3, 4]


def test_sample_weighted_scores_average_to_the_weighted_score() -> None:
    entries = [ScorerEntry(scorer="keyword", weight=2.0), ScorerEntry(scorer="length", weight=1.0, samples=["s1"]),
               ScorerEntry(scorer="human_rating", weight=1.0)]
    keyword = {"s0": 1.0, "s1": 0.0, "s2": 0.5}
    values = {"keyword": stats.ScorerValues(0.5, keyword), "length": stats.ScorerValues(0.25, {"s1": 0.25}),
              "human_rating": stats.ScorerValues(0.75)}
    per_sample = stats.sample_weighted_scores(values, entries)
    assert set(per_sample) == {"s0", "s1", "s2"}
    assert per_sample["s1"] == pytest.approx((2 * 0.0 + 0.25 + 0.75) / 4)
    run = weighted_score({"keyword": 0.5, "length": 0.25, "human_rating": 0.75}, entries)
    assert float(np.mean(list(per_sample.values()))) == pytest.approx(run)
    assert stats.mean_over_repeats([{"s0": 1.0, "s1": 0.0}, {"s0": 0.5}]) == {"s0": 0.75, "s1": 0.0}


def test_tied_marks_noise_and_not_a_clearly_worse_configuration() -> None:
    leader = {f"s{i:02d}": 1.0 for i in range(12)}
    noise = leader | {"s05": 0.0}  # differs on one sample of twelve
    worse = {s: 0.0 for s in leader}  # loses on every sample
    out = against_leader([leader, noise, worse], 0)
    assert out[0].tied_with_best is True and out[0].p_value is None
    assert out[1].tied_with_best is True and out[2].tied_with_best is False
    raw = [sps.wilcoxon(list(leader.values()), list(r.values())).pvalue for r in (noise, worse)]
    assert out[1].p_value == pytest.approx(raw[0], abs=1e-6) and out[2].p_value == pytest.approx(raw[1], abs=1e-6)
    assert out[2].p_adjusted == pytest.approx(min(1.0, 2 * raw[1]), abs=1e-6), "Holm: the smallest of two x 2"
    assert against_leader([leader, {}], 0)[1].tied_with_best is None, "nothing in common: untestable"
