"""What a performance model answers: a figure with its interval, the model that gave it and what it was fed;
or `unknown`, with the missing figure named (never invented)."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

LEVEL = 0.8
"""Stated coverage of every interval: the measured value should fall inside about 80 % of the time."""


class Basis(str, Enum):
    """How far a figure can be trusted."""

    MEASURED = "measured"
    PREDICTED = "predicted"
    BOUND = "bound"
    UNKNOWN = "unknown"


class Estimate(BaseModel):
    """One predicted figure: point value, interval at `level`, the model that gave it and its inputs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: float | None = Field(description="Point estimate; None when unknown.")
    low: float | None = Field(default=None, description="Lower end of the interval.")
    high: float | None = Field(default=None, description="Upper end of the interval; None when unbounded.")
    level: float = Field(default=LEVEL, description="Stated coverage of the interval.")
    unit: str = Field(description="Unit of the figure, e.g. ms, MB, mJ.")
    basis: Basis = Field(description="measured, predicted, bound (the best the target could do) or unknown.")
    model: str = Field(description="Performance model that gave it.")
    inputs: dict[str, str] = Field(default_factory=dict, description="What the model was fed, in words.")
    reason: str | None = Field(default=None, description="Why it is unknown, naming the missing figure.")

    @property
    def known(self) -> bool:
        """Whether there is a figure at all."""
        return self.value is not None

    def text(self) -> str:
        """The figure as people read it: `12.3 [10.1, 14.8] ms`, `>= 4.1 ms` for a bound, `unknown`."""
        if self.value is None:
            return "unknown"
        if self.basis is Basis.BOUND:
            return f">= {self.value:.3g} {self.unit}"
        if self.low is None or self.high is None or self.basis is Basis.MEASURED:
            return f"{self.value:.3g} {self.unit}"
        return f"{self.value:.3g} [{self.low:.3g}, {self.high:.3g}] {self.unit}"

    def scaled(self, factor: float, unit: str) -> Estimate:
        """The same estimate multiplied by a known factor (a unit change, a power figure)."""
        return self.model_copy(
            update={
                "value": None if self.value is None else self.value * factor,
                "low": None if self.low is None else self.low * factor,
                "high": None if self.high is None else self.high * factor,
                "unit": unit,
            }
        )


def unknown(unit: str, model: str, reason: str) -> Estimate:
    """An estimate that cannot be made, and why."""
    return Estimate(value=None, unit=unit, basis=Basis.UNKNOWN, model=model, reason=reason)
