"""Stability warnings: conditions of the machine or of a latency series that make a measurement doubtful.

Each warning says what was seen and what to do about it. Warnings never stop a measurement; they travel
with its result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from deploybench.core.errors import MeasurementError
from deploybench.core.records import LatencySummary

SYSFS_CPU = Path("/sys/devices/system/cpu")
"""Where Linux exposes the cpufreq governors."""

BUSY_PERCENT_LIMIT = 25.0
"""System-wide CPU use, percent, above which other work is said to disturb the measurement."""

MIN_SAMPLE_RESOLUTIONS = 1000
"""A median latency under this many timer resolutions is too short to time precisely."""

CV_LIMIT = 0.05
"""A coefficient of variation above this is a large variation."""


@dataclass(frozen=True)
class EnvironmentSnapshot:
    """What the environment checks look at, read once (or made up by a test).

    `governors` is None when cpufreq is not exposed; `load_average_1min` and `cpu_busy_percent` are
    None when the platform cannot give them.
    """

    governors: tuple[str, ...] | None
    logical_cpus: int
    load_average_1min: float | None
    cpu_busy_percent: float | None
    busy_interval_s: float
    cpu_root: Path = SYSFS_CPU


def read_environment(cpu_root: Path = SYSFS_CPU, busy_interval_s: float = 0.2) -> EnvironmentSnapshot:
    """Read the governors under cpu_root, the load average and the system-wide CPU use.

    The CPU use is sampled over busy_interval_s while this process waits, so it counts other work only;
    0 reads the use since psutil's previous call without waiting.
    """
    try:
        load: float | None = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = None
    return EnvironmentSnapshot(
        governors=_governors(cpu_root),
        logical_cpus=os.cpu_count() or 1,
        load_average_1min=load,
        cpu_busy_percent=float(psutil.cpu_percent(interval=busy_interval_s)),
        busy_interval_s=busy_interval_s,
        cpu_root=cpu_root,
    )


def environment_warnings(snapshot: EnvironmentSnapshot | None = None) -> list[str]:
    """Warnings about the machine before measuring: frequency scaling and other busy processes.

    Reads the environment when no snapshot is given. A process that is not pinned to cores is fine and
    gives no warning. The 1-minute load average lags and counts deploybench's own earlier runs, so it
    only warns when more tasks are runnable than there are logical CPUs; the CPU use sampled while
    waiting warns above `BUSY_PERCENT_LIMIT`.
    """
    env = snapshot if snapshot is not None else read_environment()
    warnings = []
    if env.governors is None:
        warnings.append(
            f"CPU frequency scaling could not be checked (no cpufreq governor under {env.cpu_root}): "
            "make sure frequency scaling is off or fixed (BIOS, hypervisor) before comparing small differences"
        )
    else:
        others = sorted(set(env.governors) - {"performance"})
        if others:
            warnings.append(
                f"CPU frequency governor is {', '.join(others)}, not performance: latencies will follow the "
                "clock; set it with `sudo cpupower frequency-set -g performance` (or write performance to "
                f"{env.cpu_root}/cpu*/cpufreq/scaling_governor)"
            )
    busy = []
    if env.cpu_busy_percent is not None and env.cpu_busy_percent > BUSY_PERCENT_LIMIT:
        busy.append(f"{env.cpu_busy_percent:.0f} % CPU in use over {env.busy_interval_s:g} s")
    if env.load_average_1min is not None and env.load_average_1min > env.logical_cpus:
        busy.append(f"load average {env.load_average_1min:.2f} on {env.logical_cpus} logical CPUs")
    if busy:
        warnings.append(
            f"other work is busy on this machine ({'; '.join(busy)}): stop other processes before measuring, "
            "or latencies will include their interference"
        )
    return warnings


def series_warnings(summary: LatencySummary, timer_resolution_ns: float) -> list[str]:
    """Warnings about one latency series: samples too short for the timer, and large variation."""
    if timer_resolution_ns <= 0:
        raise MeasurementError(
            f"timer resolution must be positive, got {timer_resolution_ns} ns",
            hint="pass the clock's resolution, e.g. time.get_clock_info('perf_counter').resolution * 1e9",
        )
    warnings = []
    shortest_us = MIN_SAMPLE_RESOLUTIONS * timer_resolution_ns / 1000
    if summary.median_us < shortest_us:
        warnings.append(
            f"median latency {summary.median_us:.3g} µs is under {MIN_SAMPLE_RESOLUTIONS} x the timer resolution "
            f"({timer_resolution_ns:g} ns): samples are too short to time precisely; time larger batches "
            f"(offline scenario) so that one sample lasts at least {shortest_us:.3g} µs"
        )
    if summary.cv > CV_LIMIT:
        warnings.append(
            f"latencies vary widely (coefficient of variation {summary.cv:.3f} > {CV_LIMIT}): pin threads to "
            "cores, stop other work and raise the sample count (`min_samples`)"
        )
    return warnings


def _governors(cpu_root: Path) -> tuple[str, ...] | None:
    found = []
    for path in sorted(cpu_root.glob("cpu[0-9]*/cpufreq/scaling_governor")):
        try:
            found.append(path.read_text(encoding="utf-8").strip())
        except OSError:
            continue
    return tuple(found) if found else None
