"""Roofline efficiencies: the share of a unit's peak (and bandwidth) a framework reaches on one operator class,
each with its source. Shipped as data (`data/efficiency.yaml`) and refitted from measurements by
`deploybench predict fit`; a fitted figure takes precedence over a shipped one for the same key."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from deploybench.analyze.records import OperatorClass
from deploybench.catalog.schemas.target import UnitKind
from deploybench.core.data_files import read_data_file

BUILTIN = "efficiency.yaml"


class Efficiency(BaseModel):
    """One efficiency figure and where it comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    framework: str = Field(min_length=1, description="Backend name (e.g. `onnxruntime`).")
    unit: UnitKind = Field(description="Kind of unit it was reached on.")
    op_class: OperatorClass = Field(description="Operator class.")
    efficiency: float = Field(gt=0, description="Share of the roofline bound reached (bound time / real time).")
    band: tuple[float, float] = Field(
        default=(0.0, 0.0), description="80 % band of log(measured / predicted) of the fit it belongs to."
    )
    source: str = Field(min_length=1, description="Where the figure comes from: a fit (what on) or a document.")


class EfficiencyFile(BaseModel):
    """The shipped efficiency table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    efficiencies: tuple[Efficiency, ...] = Field(default=(), description="Every figure, each with its source.")


class EfficiencyTable:
    """Efficiencies found by (framework, unit kind, operator class)."""

    def __init__(self, figures: Iterable[Efficiency]) -> None:
        self._figures = {(f.framework, f.unit, f.op_class): f for f in figures}

    def find(self, framework: str, unit: UnitKind, op_class: OperatorClass) -> Efficiency | None:
        """The figure for that framework, unit and class; None when there is none."""
        return self._figures.get((framework, unit, op_class))

    def covers(self, framework: str, unit: UnitKind) -> bool:
        """Whether any figure is known for that framework on that kind of unit."""
        return any(key[:2] == (framework, unit) for key in self._figures)

    def merged(self, newer: Iterable[Efficiency]) -> EfficiencyTable:
        """This table with the newer figures replacing the ones of the same key."""
        return EfficiencyTable([*self._figures.values(), *newer])

    def figures(self) -> tuple[Efficiency, ...]:
        """Every figure."""
        return tuple(self._figures.values())


def load_efficiencies(path: Path | None = None) -> EfficiencyTable:
    """The shipped table (or the one in path); a malformed file is a one-line error naming the field."""
    return EfficiencyTable(read_data_file(EfficiencyFile, path, __package__, BUILTIN).efficiencies)
