"""The analytic roofline: per operator class, time = max(operations / peak, bytes / bandwidth) / efficiency,
from the model's anatomy, the target's catalog figures and the framework's efficiency on that class."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from deploybench.analyze.records import Anatomy, OperatorClass
from deploybench.catalog.schemas import Target
from deploybench.select.estimate import Basis, Estimate, unknown
from deploybench.select.hardware import BYTES_PER_ELEMENT, Hardware, Missing, hardware_for
from deploybench.select.performance import Knowledge, Query

NAME = "roofline"


@dataclass(frozen=True)
class ClassBound:
    """The roofline bound of one operator class on one piece of hardware, seconds, and what limits it."""

    op_class: OperatorClass
    seconds: float
    limit: str


def class_bounds(anatomy: Anatomy, hardware: Hardware) -> list[ClassBound]:
    """Each operator class's time at full peak and bandwidth: the fastest the hardware could run it."""
    scale = BYTES_PER_ELEMENT[hardware.precision] / BYTES_PER_ELEMENT["fp32"]
    bounds = []
    for totals in anatomy.classes:
        compute = totals.flops / hardware.peak_ops_per_s
        memory = totals.bytes_moved * scale / hardware.bandwidth_bytes_per_s
        bounds.append(ClassBound(totals.op_class, max(compute, memory), "compute" if compute >= memory else "memory"))
    return bounds


def roofline_seconds(bounds: list[ClassBound], efficiency: dict[OperatorClass, float]) -> float:
    """Time of one inference: the sum of each class's bound divided by its efficiency."""
    return sum(bound.seconds / efficiency[bound.op_class] for bound in bounds)


class Roofline:
    """The analytic roofline performance model."""

    name = NAME

    def __init__(self, knowledge: Knowledge) -> None:
        self.efficiencies = knowledge.efficiencies

    def predict(self, anatomy: Anatomy, query: Query, target: Target) -> Estimate:
        """Latency of one inference in ms with its 80 % interval; a bound when the framework's efficiency on the
        unit is unknown; unknown, naming the figure, when the target lacks one."""
        hardware = hardware_for(target, query.units, query.precision, query.threads)
        if isinstance(hardware, Missing):
            return unknown("ms", NAME, str(hardware))
        bounds = class_bounds(anatomy, hardware)
        inputs = {**hardware.describe(), "model": anatomy.path, "framework": query.framework}
        bound_s = sum(bound.seconds for bound in bounds)
        if not self.efficiencies.covers(query.framework, hardware.unit):
            inputs["efficiency"] = f"none known for {query.framework} on {hardware.unit.value}: the roofline bound"
            return Estimate(
                value=bound_s * 1e3,
                low=bound_s * 1e3,
                high=None,
                unit="ms",
                basis=Basis.BOUND,
                model=NAME,
                inputs=inputs,
            )
        efficiency, (low, high), sources = self._efficiencies(query.framework, hardware, bounds)
        seconds = roofline_seconds(bounds, efficiency)
        inputs["efficiency"] = "; ".join(sorted(sources))
        return Estimate(
            value=seconds * 1e3,
            low=seconds * 1e3 * math.exp(low),
            high=seconds * 1e3 * math.exp(high),
            unit="ms",
            basis=Basis.PREDICTED,
            model=NAME,
            inputs=inputs,
        )

    def _efficiencies(
        self, framework: str, hardware: Hardware, bounds: list[ClassBound]
    ) -> tuple[dict[OperatorClass, float], tuple[float, float], set[str]]:
        """Efficiency per class (a class without a figure takes the median of the others), the time-weighted
        log band, and the sources used."""
        found = {b.op_class: self.efficiencies.find(framework, hardware.unit, b.op_class) for b in bounds}
        known = [figure for figure in found.values() if figure is not None]
        pooled = statistics.median(figure.efficiency for figure in known) if known else 1.0
        efficiency = {cls: figure.efficiency if figure else pooled for cls, figure in found.items()}
        times = {b.op_class: b.seconds / efficiency[b.op_class] for b in bounds}
        total = sum(times.values()) or 1.0
        low = min((figure.band[0] for figure in known), default=0.0)
        high = max((figure.band[1] for figure in known), default=0.0)
        bands = {cls: figure.band if figure else (low, high) for cls, figure in found.items()}
        band = (
            sum(times[cls] * bands[cls][0] for cls in bands) / total,
            sum(times[cls] * bands[cls][1] for cls in bands) / total,
        )
        return efficiency, band, {figure.source for figure in known}
