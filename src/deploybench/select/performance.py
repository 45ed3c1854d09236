"""The one protocol every performance model follows, the question it answers, and what the fits learned."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from deploybench.catalog.schemas.target import UnitKind

if TYPE_CHECKING:
    from deploybench.analyze.records import Anatomy
    from deploybench.catalog.schemas import Target
    from deploybench.select.calibrated import CalibratedFit
    from deploybench.select.efficiency import EfficiencyTable
    from deploybench.select.estimate import Estimate
    from deploybench.select.observations import Observation


@dataclass(frozen=True)
class Query:
    """What is asked of a performance model besides the model and the target: the framework (the backend name
    fits are keyed by, else the catalog name), the units it runs on, the precision and the threads."""

    framework: str
    units: tuple[UnitKind, ...] = ()
    precision: str = "fp32"
    threads: int | None = None


class PerformanceModel(Protocol):
    """Predicts the latency of one inference (batch 1) of a model with a framework on a target."""

    name: str

    def predict(self, anatomy: Anatomy, query: Query, target: Target) -> Estimate:
        """Latency in ms with an 80 % interval, or unknown with the missing figure named."""
        ...


@dataclass(frozen=True)
class Knowledge:
    """Everything the performance models are built from: efficiencies, calibrated fits, measurements (stored
    and published), and the targets they were made on."""

    efficiencies: EfficiencyTable
    calibrated: Mapping[str, CalibratedFit] = field(default_factory=dict)
    observations: Sequence[Observation] = ()
    targets: Mapping[str, Target] = field(default_factory=dict)
