"""Statistics of one latency series: percentiles, spread, the median's confidence interval, determinism."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy.special import bdtr, bdtrik

from deploybench.core.errors import MeasurementError
from deploybench.core.records import Determinism, LatencySummary

Samples = Sequence[float] | npt.NDArray[Any]
"""Latencies, microseconds: a list or a one-dimensional NumPy array."""

PERCENTILE_METHOD: Final = "linear"
"""NumPy's default percentile method (Hyndman and Fan type 7): interpolates between the two nearest ranks."""

DETERMINISTIC_MAX_TAIL = 0.10
"""Deterministic needs (p99 - median) / median at most this: 99 runs in 100 end within 10 % of the typical
run, a margin a real-time budget commonly carries without a dedicated worst-case analysis."""

DETERMINISTIC_MAX_CV = 0.05
"""Deterministic also needs a coefficient of variation at most this: the bulk of the runs, not only the tail,
stays within a few percent, so the median is a fair single figure for the deployment."""

UNBOUNDED_MAX_OVER_MEDIAN = 3.0
"""Unbounded when max / median exceeds this: one run took over three typical runs, more than the 2x safety
margin a deadline is usually given, so no deadline set from the median would have held."""

UNBOUNDED_MAX_P999_TAIL = 1.0
"""Unbounded also when (p99.9 - median) / median exceeds this: one run in a thousand takes more than twice the
typical run, a recurring stall (page faults, frequency changes, preemption), not a one-off outlier."""

DETERMINISM_RULE = (
    f"unbounded when max/median > {UNBOUNDED_MAX_OVER_MEDIAN:g} "
    f"or (p99.9 - median)/median > {UNBOUNDED_MAX_P999_TAIL:g}; "
    f"otherwise deterministic when (p99 - median)/median <= {DETERMINISTIC_MAX_TAIL:g} "
    f"and cv <= {DETERMINISTIC_MAX_CV:g}; otherwise jittery"
)
"""The determinism rule in words; `determinism` applies it in this order."""


def _as_samples(samples_us: Samples, where: str) -> npt.NDArray[np.float64]:
    """The samples as a float array, refused when empty, not one-dimensional, not finite or negative."""
    array = np.asarray(samples_us, dtype=np.float64)
    if array.ndim != 1:
        raise MeasurementError(
            f"{where}: expected a one-dimensional series of latencies, got an array of shape {array.shape}",
            hint="pass one latency per sample",
        )
    if array.size == 0:
        raise MeasurementError(
            f"{where}: the latency series is empty", hint="take at least one timed sample before summarising"
        )
    if not np.isfinite(array).all():
        raise MeasurementError(
            f"{where}: the latency series holds {int((~np.isfinite(array)).sum())} NaN or infinite values",
            hint="check the clock and the sampling loop that produced them",
        )
    if (array < 0).any():
        raise MeasurementError(
            f"{where}: the latency series holds {int((array < 0).sum())} negative values",
            hint="latencies come from a monotonic clock and cannot be negative; check the clock",
        )
    return array


def _lower_rank(count: int, confidence: float) -> int:
    """0-based rank k of the interval [x_(k), x_(n-1-k)]; -1 when even [min, max] is short of `confidence`.

    The number of samples below the true median is Binomial(n, 1/2), so [x_(k), x_(n-1-k)] covers the median
    with probability 1 - 2 F(k), F its distribution function; k is the largest rank with F(k) <= (1 - c) / 2.
    """
    tail = (1.0 - confidence) / 2.0
    rank = max(int(np.floor(bdtrik(tail, count, 0.5))), -1)
    while rank >= 0 and bdtr(rank, count, 0.5) > tail:
        rank -= 1
    while rank + 1 < count and bdtr(rank + 1, count, 0.5) <= tail:
        rank += 1
    return rank


def median_ci(samples_us: Samples, confidence: float) -> tuple[float, float]:
    """Distribution-free confidence interval of the median, µs, from two order statistics.

    Needs no assumption on the latency distribution (latencies are skewed and often multimodal): the bounds are
    the sample values whose ranks a Binomial(n, 1/2) law puts around the median (see `_lower_rank`). The
    interval covers the true median with probability at least `confidence`.

    With too few samples for that (fewer than 6 at 95 %, fewer than 8 at 99 %), it returns the sample minimum
    and maximum, whose coverage is then below `confidence` (1 - 2^(1-n)); take more samples to reach it.
    """
    if not 0.0 < confidence < 1.0:
        raise MeasurementError(
            f"median_ci: confidence must lie strictly between 0 and 1, got {confidence}", hint="e.g. 0.95"
        )
    array = _as_samples(samples_us, "median_ci")
    count = array.size
    rank = _lower_rank(count, confidence)
    if rank < 0:
        return float(array.min()), float(array.max())
    upper = count - 1 - rank
    ordered = np.partition(array, (rank, upper))
    return float(ordered[rank]), float(ordered[upper])


def summarize(samples_us: Samples, confidence: float) -> LatencySummary:
    """Statistics of one latency series, µs, as the result record stores them.

    Percentiles (and the median) use NumPy's `linear` method (`PERCENTILE_METHOD`). The standard deviation is
    the sample one (ddof=1), 0 for a single sample; cv is std / mean (0 when every latency is 0). The median's
    interval is `median_ci` at `confidence`.
    """
    array = _as_samples(samples_us, "summarize")
    p50, p90, p95, p99, p999 = (
        float(value) for value in np.percentile(array, [50, 90, 95, 99, 99.9], method=PERCENTILE_METHOD)
    )
    low, high = median_ci(array, confidence)
    mean = float(array.mean())
    std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    minimum, maximum = float(array.min()), float(array.max())
    return LatencySummary(
        count=int(array.size),
        min_us=minimum,
        mean_us=mean,
        median_us=p50,
        p90_us=p90,
        p95_us=p95,
        p99_us=p99,
        p999_us=p999,
        max_us=maximum,
        std_us=std,
        cv=std / mean if mean > 0 else 0.0,
        jitter_p99_p50_us=p99 - p50,
        jitter_range_us=maximum - minimum,
        median_ci_low_us=low,
        median_ci_high_us=high,
        ci_confidence=confidence,
    )


def _relative(excess_us: float, median_us: float) -> float:
    """`excess_us` relative to the median; 0 over a zero median when there is no excess, else infinite."""
    if median_us > 0:
        return excess_us / median_us
    return 0.0 if excess_us <= 0 else math.inf


def determinism(summary: LatencySummary) -> Determinism:
    """Timing determinism verdict of a series: deterministic, jittery or unbounded (`DETERMINISM_RULE`).

    Unbounded is checked first: a rare huge stall makes a tight bulk irrelevant to anyone with a deadline.
    The rule in the record carries the thresholds and the measured ratios that decided.
    """
    tail = _relative(summary.p99_us - summary.median_us, summary.median_us)
    tail_999 = _relative(summary.p999_us - summary.median_us, summary.median_us)
    max_over_median = 1.0 + _relative(summary.max_us - summary.median_us, summary.median_us)
    if max_over_median > UNBOUNDED_MAX_OVER_MEDIAN or tail_999 > UNBOUNDED_MAX_P999_TAIL:
        verdict = "unbounded"
    elif tail <= DETERMINISTIC_MAX_TAIL and summary.cv <= DETERMINISTIC_MAX_CV:
        verdict = "deterministic"
    else:
        verdict = "jittery"
    measured = (
        f"measured: max/median = {max_over_median:.3g}, (p99.9 - median)/median = {tail_999:.3g}, "
        f"(p99 - median)/median = {tail:.3g}, cv = {summary.cv:.3g}"
    )
    return Determinism(verdict=verdict, rule=f"{DETERMINISM_RULE} ({measured})")
