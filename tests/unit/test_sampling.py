"""The timed loops, on a fake clock: warm-up stability and every way sampling stops."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pytest

from deploybench.core.records import StoppingRule
from deploybench.measure import sampling
from deploybench.measure.clock import MonotonicClock
from deploybench.measure.sampling import (
    STOPPED_BY_MAX_DURATION,
    STOPPED_BY_MAX_SAMPLES,
    ci_is_tight,
    sample,
    stopped_by_ci,
    warm_up,
)
from deploybench.measure.stats import median_ci

MS = 1_000_000
"""One millisecond, in nanoseconds."""


class FakeClock:
    """Time that moves only while the measured call runs, by the next scripted duration (ns)."""

    def __init__(self, durations_ns: Iterable[int]) -> None:
        self._durations: Iterator[int] = iter(durations_ns)
        self.time_ns = 5_000_000_000
        self.calls = 0

    def now_ns(self) -> int:
        return self.time_ns

    def call(self) -> None:
        self.time_ns += next(self._durations)
        self.calls += 1


def steady(duration_ns: int) -> Iterator[int]:
    return itertools.repeat(duration_ns)


def bimodal(low_ns: int, high_ns: int) -> Iterator[int]:
    """Alternating latencies: the median's interval spans both modes and never tightens."""
    return itertools.cycle((low_ns, high_ns))


def rule(**changes: Any) -> StoppingRule:
    return StoppingRule(**{"min_samples": 100, "min_duration_s": 0.0, "max_duration_s": 3600.0, **changes})


def test_warm_up_stabilises_after_a_slow_start() -> None:
    clock = FakeClock(itertools.chain([3 * MS] * 15, steady(MS)))
    outcome = warm_up(clock.call, rule(warmup_window=10, warmup_tolerance=0.05), clock)
    # Window medians: 3 ms, 2 ms (mixed), 1 ms, 1 ms: stable after the fourth window.
    assert (outcome.runs, outcome.stable) == (40, True)
    assert clock.calls == 40


def test_warm_up_needs_two_windows_even_when_steady() -> None:
    clock = FakeClock(steady(MS))
    assert warm_up(clock.call, rule(warmup_window=7), clock) == sampling.WarmupOutcome(runs=14, stable=True)


def test_warm_up_tolerance_is_strict() -> None:
    clock = FakeClock(itertools.chain([1000] * 10, steady(1050)))
    outcome = warm_up(clock.call, rule(warmup_window=10, warmup_tolerance=0.05), clock)
    assert (outcome.runs, outcome.stable) == (30, True)


def test_warm_up_stops_at_its_maximum_on_a_never_stable_series() -> None:
    clock = FakeClock(round(MS * 1.02**run) for run in itertools.count())
    outcome = warm_up(clock.call, rule(warmup_window=10, warmup_tolerance=0.05, warmup_max=95), clock)
    assert (outcome.runs, outcome.stable) == (95, False)
    assert clock.calls == 95


def test_sampling_stops_when_the_median_interval_is_tight() -> None:
    clock = FakeClock(steady(1500))
    outcome = sample(clock.call, rule(), clock)
    assert outcome.stopped_by == "median CI within ±1.0 %"
    assert outcome.samples_us == [1.5] * 100
    assert outcome.sampling_s == pytest.approx(100 * 1500 / 1e9)
    assert clock.calls == 100


def test_samples_are_the_call_durations_in_order() -> None:
    script = [1000 + 7 * (run % 13) for run in range(100)]
    clock = FakeClock(itertools.chain(script, steady(1000)))
    outcome = sample(clock.call, rule(), clock)
    assert outcome.samples_us[:100] == [duration / 1e3 for duration in script]


def test_noisy_series_runs_until_the_interval_is_within_the_target() -> None:
    durations = np.random.default_rng(4).lognormal(np.log(2 * MS), 0.2, 100_000).round().astype(int)
    clock = FakeClock(int(d) for d in durations)
    outcome = sample(clock.call, rule(relative_half_width=0.01), clock)
    assert outcome.stopped_by == stopped_by_ci(rule())
    count = len(outcome.samples_us)
    assert 100 < count < 100_000
    median = float(np.median(outcome.samples_us))
    low, high = median_ci(outcome.samples_us, 0.95)
    assert max(median - low, high - median) <= 0.01 * median
    checks = [100]
    while checks[-1] < count:
        checks.append(checks[-1] + max(10, checks[-1] // 10))
    assert checks[-1] == count
    earlier = outcome.samples_us[: checks[-2]]
    median = float(np.median(earlier))
    low, high = median_ci(earlier, 0.95)
    assert max(median - low, high - median) > 0.01 * median


def test_min_samples_is_honoured() -> None:
    clock = FakeClock(steady(MS))
    outcome = sample(clock.call, rule(min_samples=250), clock)
    assert len(outcome.samples_us) == 250
    assert outcome.stopped_by == stopped_by_ci(rule())


def test_min_duration_is_honoured() -> None:
    clock = FakeClock(steady(MS))
    outcome = sample(clock.call, rule(min_duration_s=0.5), clock)
    assert outcome.stopped_by == stopped_by_ci(rule())
    assert outcome.sampling_s >= 0.5
    # Checked every n / 10 samples: stops at the first check past 0.5 s (500 samples), within one interval.
    assert 500 <= len(outcome.samples_us) <= 550


def test_sampling_stops_at_max_samples() -> None:
    clock = FakeClock(bimodal(MS, 2 * MS))
    outcome = sample(clock.call, rule(max_samples=500), clock)
    assert outcome.stopped_by == STOPPED_BY_MAX_SAMPLES == "max_samples reached"
    assert len(outcome.samples_us) == 500
    assert clock.calls == 500


def test_sampling_stops_after_the_call_that_passes_max_duration() -> None:
    clock = FakeClock(bimodal(MS, 2 * MS))
    outcome = sample(clock.call, rule(max_duration_s=0.3), clock)
    assert outcome.stopped_by == STOPPED_BY_MAX_DURATION == "max_duration_s reached"
    assert outcome.sampling_s >= 0.3
    assert outcome.sampling_s - outcome.samples_us[-1] / 1e6 < 0.3
    assert outcome.sampling_s == pytest.approx(sum(outcome.samples_us) / 1e6)


def test_max_duration_wins_over_min_samples() -> None:
    clock = FakeClock(steady(MS))
    outcome = sample(clock.call, rule(min_samples=1000, max_duration_s=0.05), clock)
    assert (len(outcome.samples_us), outcome.stopped_by) == (50, STOPPED_BY_MAX_DURATION)


def test_max_samples_wins_over_min_duration() -> None:
    clock = FakeClock(steady(MS))
    outcome = sample(clock.call, rule(min_duration_s=10.0, max_samples=200), clock)
    assert (len(outcome.samples_us), outcome.stopped_by) == (200, STOPPED_BY_MAX_SAMPLES)


def test_a_tight_interval_is_reported_when_met_with_a_maximum() -> None:
    clock = FakeClock(steady(MS))
    outcome = sample(clock.call, rule(min_samples=100, max_samples=100), clock)
    assert outcome.stopped_by == stopped_by_ci(rule())


def test_the_rule_is_checked_every_tenth_of_the_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    checked_at: list[int] = []

    def counting_median_ci(samples_us: Any, confidence: float) -> tuple[float, float]:
        checked_at.append(len(samples_us))
        return median_ci(samples_us, confidence)

    monkeypatch.setattr(sampling, "median_ci", counting_median_ci)
    clock = FakeClock(bimodal(MS, 2 * MS))
    sample(clock.call, rule(max_samples=10_000), clock)
    assert checked_at[:4] == [100, 110, 121, 133]
    assert all(later - earlier == max(10, earlier // 10) for earlier, later in itertools.pairwise(checked_at[:-1]))
    assert checked_at[-1] == 10_000
    assert len(checked_at) < 60


def test_ci_is_tight_compares_the_wider_side_with_the_target() -> None:
    # n = 100 at 95 %: the interval is the 40th and 61st values, 100 and 101.5, around a median of 100.
    below, above = [99.0] * 39 + [100.0] * 11, [100.0] * 10 + [101.5] + [102.0] * 39
    assert ci_is_tight(below + above, rule(relative_half_width=0.015))
    assert not ci_is_tight(below + above, rule(relative_half_width=0.01))
    assert ci_is_tight(below + above, rule(relative_half_width=0.01, confidence=0.5))


@pytest.mark.parametrize(("half_width", "words"), [(0.01, "±1.0 %"), (0.005, "±0.5 %"), (0.0025, "±0.25 %")])
def test_stopped_by_states_the_target_in_percent(half_width: float, words: str) -> None:
    assert stopped_by_ci(rule(relative_half_width=half_width)) == f"median CI within {words}"


def test_monotonic_clock_never_goes_backwards() -> None:
    clock = MonotonicClock()
    readings = [clock.now_ns() for _ in range(1000)]
    assert all(isinstance(reading, int) for reading in readings)
    assert readings == sorted(readings)
