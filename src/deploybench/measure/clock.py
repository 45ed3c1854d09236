"""The clock the timed loops read: injected, so tests can script time instead of waiting for it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """A monotonic clock in integer nanoseconds."""

    def now_ns(self) -> int:
        """The current time, nanoseconds, from an arbitrary but fixed origin; never goes backwards."""
        ...


class MonotonicClock:
    """The real clock: `time.perf_counter_ns`, the highest-resolution monotonic clock Python offers."""

    def __init__(self) -> None:
        # The builtin itself, not a method wrapping it: one Python frame less inside every timed region.
        self.now_ns: Callable[[], int] = time.perf_counter_ns
