"""The timed loop: warm-up until stable, then sampling until the median is known well enough.

Both loops time any `call` (a bound `Session.run`, an end-to-end inference, a server request), so every
scenario shares them. Nothing but the call sits between the two clock reads of a sample; bookkeeping and the
stopping rule run outside the timed region.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deploybench.core.records import StoppingRule
from deploybench.measure.clock import Clock
from deploybench.measure.stats import Samples, median_ci

MIN_CHECK_INTERVAL = 10
"""Fewest samples between two checks of the stopping rule; the interval grows as n / 10 beyond 100 samples."""

STOPPED_BY_MAX_SAMPLES = "max_samples reached"
"""`SamplingOutcome.stopped_by` when the sample count ran out before the median's interval was tight."""

STOPPED_BY_MAX_DURATION = "max_duration_s reached"
"""`SamplingOutcome.stopped_by` when the time ran out before the median's interval was tight."""

_NO_DEADLINE_NS = 2**63 - 1
"""A clock reading no run reaches: warm-up is bounded by its run count, not by time."""


@dataclass(frozen=True)
class WarmupOutcome:
    """How warm-up ended: runs made, and whether it reached stability (else it hit `warmup_max`)."""

    runs: int
    stable: bool


@dataclass(frozen=True)
class SamplingOutcome:
    """The timed latencies (µs, in order), which condition ended sampling, and how long it took (s)."""

    samples_us: list[float]
    stopped_by: str
    sampling_s: float


def _percent(fraction: float) -> str:
    """A fraction as a percentage with at least one decimal: 0.01 -> '1.0', 0.0025 -> '0.25'."""
    percent = fraction * 100
    return f"{percent:.1f}" if round(percent, 1) == percent else f"{percent:g}"


def stopped_by_ci(rule: StoppingRule) -> str:
    """`SamplingOutcome.stopped_by` when the median's interval reached the rule's half-width."""
    return f"median CI within ±{_percent(rule.relative_half_width)} %"


def _time_calls(
    call: Callable[[], None], clock: Clock, durations_ns: npt.NDArray[np.int64], start: int, stop: int, deadline_ns: int
) -> tuple[int, int]:
    """Time calls into `durations_ns[start:stop]`, stopping early after the call that ends at `deadline_ns`.

    Returns the number of samples now held and the clock reading at the end of the last call (`stop` > `start`).
    """
    now = clock.now_ns
    end_ns = 0
    for index in range(start, stop):
        begin_ns = now()
        call()
        end_ns = now()
        durations_ns[index] = end_ns - begin_ns
        if end_ns >= deadline_ns:
            return index + 1, end_ns
    return stop, end_ns


def warm_up(call: Callable[[], None], rule: StoppingRule, clock: Clock) -> WarmupOutcome:
    """Run `call` until its latency settles, so that sampling measures the steady state.

    Runs go in windows of `rule.warmup_window`; warm-up is stable once a window's median differs from the
    previous window's by less than `rule.warmup_tolerance` of the previous one. It stops unstable after
    `rule.warmup_max` runs (the last window may be shorter).
    """
    window = np.empty(rule.warmup_window, dtype=np.int64)
    previous_median_ns: float | None = None
    runs = 0
    while runs < rule.warmup_max:
        size = min(rule.warmup_window, rule.warmup_max - runs)
        _time_calls(call, clock, window, 0, size, _NO_DEADLINE_NS)
        runs += size
        median_ns = float(np.median(window[:size]))
        if previous_median_ns is not None and _within(median_ns, previous_median_ns, rule.warmup_tolerance):
            return WarmupOutcome(runs=runs, stable=True)
        previous_median_ns = median_ns
    return WarmupOutcome(runs=runs, stable=False)


def _within(value: float, reference: float, tolerance: float) -> bool:
    """Whether `value` differs from `reference` by less than `tolerance` of it (equal zeros count as within)."""
    if reference > 0:
        return abs(value - reference) / reference < tolerance
    return value == reference


def ci_is_tight(samples_us: Samples, rule: StoppingRule) -> bool:
    """Whether the median's interval, on its wider side, is within `rule.relative_half_width` of the median.

    The precision half of the stopping rule, shared by every scenario's loop; the caller checks the bounds.
    """
    median_us = float(np.median(samples_us))
    low_us, high_us = median_ci(samples_us, rule.confidence)
    return max(median_us - low_us, high_us - median_us) <= rule.relative_half_width * median_us


def sample(call: Callable[[], None], rule: StoppingRule, clock: Clock) -> SamplingOutcome:
    """Time `call` repeatedly until the stopping rule holds, and return every latency.

    Each sample is two `clock.now_ns()` reads around `call` and nothing else. The rule is checked once
    `rule.min_samples` are taken, then every max(10, n / 10) samples (cheap: a few checks per decade of n):
    sampling stops when the elapsed time is at least `rule.min_duration_s` and the median's interval
    (`median_ci` at `rule.confidence`) is within ±`rule.relative_half_width` of the median on both sides. It
    stops anyway at `rule.max_samples` samples, or after the call that ends past `rule.max_duration_s`
    (checked after every call, so the limit is never overrun by more than one call). The maximums win over
    the minimums; when the interval holds, minimums met, at the check where a maximum is reached, `stopped_by`
    reports the interval.

    `sampling_s` runs from the start of sampling to the end of the last call, the short pauses for the checks
    included.
    """
    durations_ns = np.empty(rule.max_samples, dtype=np.int64)
    start_ns = clock.now_ns()
    count, end_ns = 0, start_ns
    while True:
        step = rule.min_samples - count if count < rule.min_samples else max(MIN_CHECK_INTERVAL, count // 10)
        stop = min(count + step, rule.max_samples)
        count, end_ns = _time_calls(call, clock, durations_ns, count, stop, start_ns + _ns(rule.max_duration_s))
        stopped_by = _stop_reason(durations_ns[:count], end_ns - start_ns, rule)
        if stopped_by is not None:
            samples_us = (durations_ns[:count] / 1e3).tolist()
            return SamplingOutcome(samples_us=samples_us, stopped_by=stopped_by, sampling_s=(end_ns - start_ns) / 1e9)


def _ns(seconds: float) -> int:
    """Seconds as whole nanoseconds."""
    return round(seconds * 1e9)


def _stop_reason(durations_ns: npt.NDArray[np.int64], elapsed_ns: int, rule: StoppingRule) -> str | None:
    """Why sampling stops now, in words, or None to go on (the precedence `sample` documents)."""
    count = durations_ns.size
    if count >= rule.min_samples and elapsed_ns >= _ns(rule.min_duration_s) and ci_is_tight(durations_ns / 1e3, rule):
        return stopped_by_ci(rule)
    if elapsed_ns >= _ns(rule.max_duration_s):
        return STOPPED_BY_MAX_DURATION
    if count >= rule.max_samples:
        return STOPPED_BY_MAX_SAMPLES
    return None
