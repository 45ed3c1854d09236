"""The points of a search and their Pareto front: the deployments no other deployment beats on every criterion
at once (faster, smaller, lighter in memory, and at least as faithful), after the user's constraints have set
some aside."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from deploybench.core.records import ResultRecord, SettingValue


@dataclass(frozen=True)
class Variant:
    """One model to measure on one framework: the FP32 model (no method) or an optimized one."""

    framework: str
    method: str | None = None
    options: dict[str, SettingValue] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """`framework fp32`, or `framework method (option=value, ...)`."""
        options = ", ".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        name = self.method or "fp32"
        return f"{self.framework} {name}" + (f" ({options})" if options else "")


@dataclass(frozen=True)
class Point:
    """One deployment's figures: lower is better for the first three, higher for fidelity."""

    label: str
    latency_us: float
    memory_bytes: float
    size_bytes: float
    fidelity: float

    def dominates(self, other: Point) -> bool:
        """At least as good on every criterion and strictly better on one."""
        mine = (self.latency_us, self.memory_bytes, self.size_bytes, -self.fidelity)
        theirs = (other.latency_us, other.memory_bytes, other.size_bytes, -other.fidelity)
        return all(a <= b for a, b in zip(mine, theirs, strict=True)) and mine != theirs


def pareto_front(points: Sequence[Point]) -> list[Point]:
    """The points no other point dominates, in the order given."""
    return [p for p in points if not any(q.dominates(p) for q in points if q is not p)]


@dataclass(frozen=True)
class Outcome:
    """One measured point of the search, and whether it meets the user's constraints (else why not)."""

    variant: Variant
    record: ResultRecord
    batch: int
    point: Point | None
    refused: str | None
