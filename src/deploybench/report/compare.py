"""A vs B: is B faster or slower than A, by how much, and is the difference real?"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deploybench.core.errors import ConfigurationError
from deploybench.core.records import Measurement, ResultRecord, Status

BOOTSTRAP_MAX_SAMPLES = 5000
"""Samples per side fed to the bootstrap (a seeded random subset beyond that), to keep it quick."""
BOOTSTRAP_RESAMPLES = 2000
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Comparison:
    """B's median latency over A's, its confidence interval, and a two-sided Mann-Whitney U test."""

    batch_size: int
    median_a_us: float
    median_b_us: float
    ratio: float
    ratio_ci_low: float
    ratio_ci_high: float
    confidence: float
    p_value: float

    @property
    def verdict(self) -> str:
        """In words: faster, slower, or no significant difference, at the 5 % level."""
        if self.p_value >= SIGNIFICANCE or self.ratio_ci_low <= 1 <= self.ratio_ci_high:
            return "no significant difference"
        return "B is slower" if self.ratio > 1 else "B is faster"


def compare(a: ResultRecord, b: ResultRecord, confidence: float = 0.95, seed: int = 0) -> list[Comparison]:
    """One comparison per batch size measured in both results."""
    for label, record in (("A", a), ("B", b)):
        if record.status is not Status.OK:
            raise ConfigurationError(f"result {label} failed; only successful results can be compared")
    pairs = [(ma, mb) for ma in a.measurements for mb in b.measurements if ma.batch_size == mb.batch_size]
    if not pairs:
        raise ConfigurationError("the two results share no batch size", hint="compare results of the same scenario")
    return [_compare(ma, mb, confidence, np.random.default_rng(seed)) for ma, mb in pairs]


def _compare(a: Measurement, b: Measurement, confidence: float, rng: np.random.Generator) -> Comparison:
    from scipy import stats

    xa, xb = np.asarray(a.samples_us), np.asarray(b.samples_us)
    test = stats.mannwhitneyu(xa, xb, alternative="two-sided")
    ya, yb = _subset(xa, rng), _subset(xb, rng)
    interval = stats.bootstrap(
        (ya, yb),
        lambda p, q, axis: np.median(q, axis=axis) / np.median(p, axis=axis),
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        random_state=rng,
    ).confidence_interval
    median_a, median_b = float(np.median(xa)), float(np.median(xb))
    return Comparison(
        batch_size=a.batch_size,
        median_a_us=median_a,
        median_b_us=median_b,
        ratio=median_b / median_a,
        ratio_ci_low=float(interval.low),
        ratio_ci_high=float(interval.high),
        confidence=confidence,
        p_value=float(test.pvalue),
    )


def _subset(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(samples) <= BOOTSTRAP_MAX_SAMPLES:
        return samples
    return rng.choice(samples, size=BOOTSTRAP_MAX_SAMPLES, replace=False)


def comparison_rows(comparisons: list[Comparison]) -> list[dict[str, str]]:
    """The comparisons as table rows: medians, ratio with its interval, p-value and verdict."""
    return [
        {
            "batch": str(c.batch_size),
            "A median_us": f"{c.median_a_us:.1f}",
            "B median_us": f"{c.median_b_us:.1f}",
            "B/A": f"{c.ratio:.4f}",
            f"{c.confidence:.0%} CI": f"{c.ratio_ci_low:.4f}-{c.ratio_ci_high:.4f}",
            "p (Mann-Whitney)": f"{c.p_value:.3g}" if c.p_value > 0 else "< 1e-300",
            "verdict": c.verdict,
        }
        for c in comparisons
    ]
