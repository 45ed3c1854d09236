"""The server scenario: requests arrive at random (Poisson) times at a target rate and are served by a
pool of concurrent workers; a latency runs from the request's scheduled arrival to its completion, so
the time spent queueing under load counts, as in MLPerf's server scenario.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from deploybench.core.records import StoppingRule
from deploybench.measure.clock import Clock, MonotonicClock
from deploybench.measure.sampling import (
    STOPPED_BY_MAX_DURATION,
    STOPPED_BY_MAX_SAMPLES,
    SamplingOutcome,
    ci_is_tight,
    stopped_by_ci,
)


def serve(
    infer: Callable[[], object],
    qps: float,
    concurrency: int,
    rule: StoppingRule,
    clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
    seed: int = 0,
) -> SamplingOutcome:
    """Issue requests at a Poisson rate of qps until the stopping rule holds for the completed ones."""
    clock = clock or MonotonicClock()
    arrivals = random.Random(seed)
    latencies: list[float] = []
    lock = threading.Lock()

    def handle(scheduled_ns: int) -> None:
        infer()
        latency_us = (clock.now_ns() - scheduled_ns) / 1000
        with lock:
            latencies.append(latency_us)

    start_ns = clock.now_ns()
    next_ns = start_ns
    issued = 0
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="deploybench-server") as pool:
        while True:
            elapsed_s = (clock.now_ns() - start_ns) / 1e9
            reason = _bound_reached(issued, elapsed_s, rule)
            if not reason and issued % max(10, issued // 10) == 0:
                with lock:
                    done = list(latencies)
                reason = _precise_enough(done, elapsed_s, rule)
            if reason:
                break
            next_ns += int(arrivals.expovariate(qps) * 1e9)
            wait_ns = next_ns - clock.now_ns()
            if wait_ns > 0:
                sleep(wait_ns / 1e9)
            pool.submit(handle, next_ns)
            issued += 1
    return SamplingOutcome(samples_us=latencies, stopped_by=reason, sampling_s=(clock.now_ns() - start_ns) / 1e9)


def _bound_reached(issued: int, elapsed_s: float, rule: StoppingRule) -> str:
    if issued >= rule.max_samples:
        return STOPPED_BY_MAX_SAMPLES
    if elapsed_s >= rule.max_duration_s:
        return STOPPED_BY_MAX_DURATION
    return ""


def _precise_enough(done: list[float], elapsed_s: float, rule: StoppingRule) -> str:
    if len(done) < rule.min_samples or elapsed_s < rule.min_duration_s:
        return ""
    return stopped_by_ci(rule) if ci_is_tight(done, rule) else ""
