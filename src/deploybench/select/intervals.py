"""Interval calibration: a prediction's 80 % interval is read from the out-of-sample errors of the same
model (split-conformal quantiles of log(measured / predicted)), so its width is earned, not assumed."""

from __future__ import annotations

import math
from collections.abc import Sequence

from deploybench.select.estimate import LEVEL


def log_errors(measured: Sequence[float], predicted: Sequence[float]) -> list[float]:
    """log(measured / predicted) of each pair with both positive."""
    return [math.log(m / p) for m, p in zip(measured, predicted, strict=True) if m > 0 and p > 0]


def conformal_band(errors: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """The log-error band that holds a new error with probability `level` (finite-sample conformal quantiles:
    the ceil((n+1)(1+level)/2)-th and floor((n+1)(1-level)/2)-th order statistics, clamped to the sample)."""
    if not errors:
        raise ValueError("no errors to calibrate an interval on")
    ordered = sorted(errors)
    n = len(ordered)
    tail = (1 - level) / 2
    high = min(math.ceil((n + 1) * (1 - tail)), n)
    low = max(math.floor((n + 1) * tail), 1)
    return ordered[low - 1], ordered[high - 1]


def coverage(measured: Sequence[float], lows: Sequence[float], highs: Sequence[float]) -> float:
    """Share of measured values inside their interval."""
    inside = [low <= m <= high for m, low, high in zip(measured, lows, highs, strict=True)]
    return sum(inside) / len(inside) if inside else math.nan
