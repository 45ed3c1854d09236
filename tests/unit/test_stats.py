"""Latency statistics: summary values, the median's confidence interval, the determinism verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from deploybench.core.errors import MeasurementError
from deploybench.core.records import LatencySummary
from deploybench.measure.stats import (
    DETERMINISTIC_MAX_CV,
    DETERMINISTIC_MAX_TAIL,
    UNBOUNDED_MAX_OVER_MEDIAN,
    UNBOUNDED_MAX_P999_TAIL,
    determinism,
    median_ci,
    summarize,
)


def test_summary_matches_numpy() -> None:
    samples = np.random.default_rng(7).lognormal(mean=7.0, sigma=0.3, size=1001)
    summary = summarize(samples.tolist(), 0.95)
    p50, p90, p95, p99, p999 = np.percentile(samples, [50, 90, 95, 99, 99.9])
    std = samples.std(ddof=1)
    assert summary.count == 1001
    assert summary.min_us == samples.min()
    assert summary.max_us == samples.max()
    assert summary.mean_us == pytest.approx(samples.mean(), rel=1e-12)
    assert summary.median_us == pytest.approx(np.median(samples), rel=1e-12)
    assert (summary.p90_us, summary.p95_us, summary.p99_us, summary.p999_us) == pytest.approx(
        (p90, p95, p99, p999), rel=1e-12
    )
    assert summary.std_us == pytest.approx(std, rel=1e-12)
    assert summary.cv == pytest.approx(std / samples.mean(), rel=1e-12)
    assert summary.jitter_p99_p50_us == pytest.approx(p99 - p50, rel=1e-12)
    assert summary.jitter_range_us == pytest.approx(samples.max() - samples.min(), rel=1e-12)
    assert (summary.median_ci_low_us, summary.median_ci_high_us) == median_ci(samples, 0.95)
    assert summary.ci_confidence == 0.95


def test_summary_of_one_to_a_hundred() -> None:
    summary = summarize([float(v) for v in range(100, 0, -1)], 0.95)
    assert (summary.min_us, summary.median_us, summary.max_us) == (1.0, 50.5, 100.0)
    assert summary.p90_us == pytest.approx(90.1)
    assert summary.jitter_range_us == 99.0
    # The textbook 95 % interval of the median for n = 100: the 40th and 61st order statistics.
    assert (summary.median_ci_low_us, summary.median_ci_high_us) == (40.0, 61.0)


def test_single_sample_has_zero_spread() -> None:
    summary = summarize([12.5], 0.95)
    assert (summary.count, summary.median_us, summary.p999_us) == (1, 12.5, 12.5)
    assert (summary.std_us, summary.cv) == (0.0, 0.0)
    assert (summary.median_ci_low_us, summary.median_ci_high_us) == (12.5, 12.5)


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        ([], "the latency series is empty"),
        ([1.0, math.nan], "1 NaN or infinite values"),
        ([1.0, -2.0, -3.0], "2 negative values"),
        ([[1.0, 2.0], [3.0, 4.0]], "one-dimensional series"),
    ],
)
def test_bad_series_are_refused(samples: list[float], message: str) -> None:
    with pytest.raises(MeasurementError, match=message) as summarize_error:
        summarize(samples, 0.95)
    assert str(summarize_error.value).startswith("summarize: ")
    with pytest.raises(MeasurementError, match=message) as ci_error:
        median_ci(samples, 0.95)
    assert str(ci_error.value).startswith("median_ci: ")


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, -0.1])
def test_confidence_outside_zero_one_is_refused(confidence: float) -> None:
    with pytest.raises(MeasurementError, match="strictly between 0 and 1"):
        median_ci([1.0, 2.0, 3.0], confidence)


@pytest.mark.parametrize(("count", "confidence"), [(1, 0.95), (2, 0.95), (5, 0.95), (7, 0.99)])
def test_too_few_samples_give_min_and_max(count: int, confidence: float) -> None:
    samples = [float(v) for v in np.random.default_rng(count).permutation(np.arange(10, 10 + count))]
    assert median_ci(samples, confidence) == (10.0, float(9 + count))


def test_the_interval_narrows_from_min_and_max_once_ranks_allow() -> None:
    samples = [float(v) for v in range(1, 10)]
    # n = 9 at 95 %: P(B <= 1) = 10/512 <= 0.025 < P(B <= 2), so the ranks are the 2nd and the 8th.
    assert median_ci(samples, 0.95) == (2.0, 8.0)
    assert median_ci(samples[:6], 0.95) == (1.0, 6.0)


def test_interval_covers_the_median_as_often_as_promised() -> None:
    rng = np.random.default_rng(11)
    count, trials = 51, 1000
    covered = 0
    for _ in range(trials):
        low, high = median_ci(rng.uniform(0.0, 1.0, count), 0.95)
        covered += low <= 0.5 <= high
    rank = 18  # largest k with P(Binomial(51, 1/2) <= k) <= 0.025
    assert binom.cdf(rank, count, 0.5) <= 0.025 < binom.cdf(rank + 1, count, 0.5)
    exact = 1 - 2 * binom.cdf(rank, count, 0.5)
    assert exact >= 0.95
    assert abs(covered / trials - exact) < 3 * math.sqrt(exact * (1 - exact) / trials)


def test_large_sample_interval_contains_the_true_median_and_is_tight() -> None:
    scale_us = 1000.0
    samples = np.random.default_rng(3).exponential(scale_us, 20_000)
    low, high = median_ci(samples, 0.95)
    assert low < scale_us * math.log(2) < high
    assert (high - low) / (scale_us * math.log(2)) < 0.05


def test_interval_shrinks_with_more_samples() -> None:
    stream = np.random.default_rng(5).lognormal(mean=6.0, sigma=0.5, size=10_000)
    widths = [high - low for low, high in (median_ci(stream[:n], 0.95) for n in (100, 1000, 10_000))]
    assert widths[0] > widths[1] > widths[2] > 0


def test_higher_confidence_widens_the_interval() -> None:
    samples = np.random.default_rng(9).normal(100.0, 10.0, 500)
    low_90, high_90 = median_ci(samples, 0.90)
    low_99, high_99 = median_ci(samples, 0.99)
    assert low_99 < low_90 and high_90 < high_99


def _summary(median: float, p99: float, p999: float, maximum: float, cv: float) -> LatencySummary:
    return LatencySummary(
        count=1000,
        min_us=median,
        mean_us=median,
        median_us=median,
        p90_us=median,
        p95_us=median,
        p99_us=p99,
        p999_us=p999,
        max_us=maximum,
        std_us=cv * median,
        cv=cv,
        jitter_p99_p50_us=p99 - median,
        jitter_range_us=maximum - median,
        median_ci_low_us=median,
        median_ci_high_us=median,
        ci_confidence=0.95,
    )


def test_tight_series_is_deterministic() -> None:
    samples = np.random.default_rng(1).uniform(99.0, 101.0, 1000)
    assert determinism(summarize(samples, 0.95)).verdict == "deterministic"


def test_a_heavy_p99_is_jittery() -> None:
    samples = [100.0] * 970 + [130.0] * 30
    assert determinism(summarize(samples, 0.95)).verdict == "jittery"


def test_a_wide_bulk_is_jittery_even_with_a_tight_p99() -> None:
    assert determinism(_summary(100.0, 105.0, 110.0, 120.0, cv=0.08)).verdict == "jittery"


def test_one_huge_stall_makes_an_otherwise_deterministic_series_unbounded() -> None:
    samples = [100.0] * 9999 + [400.0]
    summary = summarize(samples, 0.95)
    assert summary.p99_us == 100.0 and summary.cv <= DETERMINISTIC_MAX_CV
    assert determinism(summary).verdict == "unbounded"


def test_a_recurring_stall_at_p999_is_unbounded() -> None:
    samples = [100.0] * 9980 + [250.0] * 20
    summary = summarize(samples, 0.95)
    assert summary.max_us / summary.median_us <= UNBOUNDED_MAX_OVER_MEDIAN
    assert determinism(summary).verdict == "unbounded"


def test_thresholds_are_inclusive_for_deterministic_and_exclusive_for_unbounded() -> None:
    assert (DETERMINISTIC_MAX_TAIL, DETERMINISTIC_MAX_CV) == (0.10, 0.05)
    assert (UNBOUNDED_MAX_OVER_MEDIAN, UNBOUNDED_MAX_P999_TAIL) == (3.0, 1.0)
    edge = _summary(100.0, p99=110.0, p999=200.0, maximum=300.0, cv=0.05)
    assert determinism(edge).verdict == "deterministic"
    assert determinism(edge.model_copy(update={"max_us": 300.1})).verdict == "unbounded"
    assert determinism(edge.model_copy(update={"p999_us": 200.1})).verdict == "unbounded"
    assert determinism(edge.model_copy(update={"p99_us": 110.1})).verdict == "jittery"
    assert determinism(edge.model_copy(update={"cv": 0.051})).verdict == "jittery"


def test_rule_states_thresholds_and_measured_ratios() -> None:
    rule = determinism(_summary(100.0, 104.0, 120.0, 150.0, cv=0.02)).rule
    assert "max/median > 3" in rule
    assert "(p99.9 - median)/median > 1" in rule
    assert "(p99 - median)/median <= 0.1" in rule
    assert "cv <= 0.05" in rule
    assert "max/median = 1.5" in rule and "(p99 - median)/median = 0.04" in rule and "cv = 0.02" in rule


def test_all_zero_series_is_deterministic() -> None:
    assert determinism(summarize([0.0] * 50, 0.95)).verdict == "deterministic"
